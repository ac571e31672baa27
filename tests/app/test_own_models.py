"""The app on a researcher's own models: checkpoints in a folder of their own (``indrnn app
--models DIR``), saved without one of our tasks, open on every page that needs no task data, and
the views that need it say so in one line."""

from __future__ import annotations

import json

import pytest
from apptest import APP, charts
from own_models import CHANNELS, CLASSES, TYPED_ROWS, write_own_models
from streamlit.testing.v1 import AppTest

from indrnn import catalog

PAGES = ["pages/0_Overview.py", "pages/1_Neurons.py", "pages/2_Memory.py",
         "pages/3_IndRNN_vs_LSTM.py", "pages/4_Ablation.py", "pages/5_Patching.py",
         "pages/6_Patterns.py", "pages/7_Discovery.py", "pages/8_Export.py"]


@pytest.fixture(scope="module")
def own_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("own") / "my models"
    write_own_models(folder)
    return folder


@pytest.fixture
def listed(own_folder, monkeypatch):
    monkeypatch.setenv(catalog.EXTRA_MODELS_ENV, str(own_folder))
    return own_folder


def _typed(model: str, page: str = "pages/0_Overview.py") -> AppTest:
    """``page`` on ``model``, with rows typed into the sidebar (no example ships for it)."""
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["model"] = model
    at.query_params["source"] = "Type or paste"
    at.run()
    at.switch_page(page).run()
    rows = TYPED_ROWS if model == "own_classifier" else "\n".join(
        "0.5,0.1,0.9" for _ in range(30))
    at.text_area(key="typed_input").set_value(rows).run()
    assert not at.exception, at.exception
    assert not any("Choose a model and an input" in i.value for i in at.info)
    return at


def test_the_folder_is_listed_beside_the_pretrained_models_with_what_is_not(listed):
    models = catalog.models()
    assert {"own_classifier", "bare_indrnn", "adding1000_indrnn"} <= set(models)
    own = models["own_classifier"]
    assert own.task is None and own.body == "PlainIndRNN" and own.path.parent == listed
    assert catalog.partner("own_classifier") is None  # nothing was trained beside it
    problems = "\n".join(catalog.problems())
    assert "broken.json: not valid JSON" in problems
    assert "lonely.json: no lonely.safetensors beside it" in problems
    assert "own_classifier" not in problems


def test_a_missing_folder_is_named_and_the_others_still_list(listed, monkeypatch, tmp_path):
    monkeypatch.setenv(catalog.EXTRA_MODELS_ENV, f"{tmp_path / 'nowhere'}:{listed}")
    assert "own_classifier" in catalog.models()
    assert f"{tmp_path / 'nowhere'}: no such folder" in catalog.problems()


def test_the_sidebar_names_files_it_could_not_list(listed):
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["model"] = "own_classifier"
    at.run()
    assert not at.exception
    shown = " ".join(c.value for c in at.sidebar.caption)
    assert "broken.json: not valid JSON" in shown
    # no example ships for a model without a task: it opens on the uploader for the user's input
    assert at.sidebar.radio(key="input_source").value == "Upload a file"
    assert at.sidebar.get("file_uploader")


@pytest.mark.parametrize("page", PAGES)
def test_an_own_classifier_without_a_task_opens_on_every_page(listed, page):
    at = _typed("own_classifier", page)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    text = " ".join(m.value for m in [*at.markdown, *at.caption, *at.info])
    if page == "pages/0_Overview.py":
        assert "none named in the card" in text and "my BasicMotions classifier" in text
        assert "No findings: they are measured on held-out data" in text
        bars = next(json.dumps(s) for s in charts(at) if "Prediction" in json.dumps(s))
        assert all(name in bars for name in CLASSES)  # the card's class names
    if page == "pages/4_Ablation.py":
        assert "The task's metric needs held-out data" in text
    if page in ("pages/6_Patterns.py", "pages/7_Discovery.py"):
        assert "this uses your input instead" in text
    if page == "pages/7_Discovery.py":
        assert f"input {CHANNELS[0]}" in " ".join(at.multiselect(key="discovery_tracks").value)


@pytest.mark.parametrize("page", ["pages/0_Overview.py", "pages/1_Neurons.py",
                                  "pages/2_Memory.py", "pages/4_Ablation.py"])
def test_a_bare_indrnn_saved_alone_opens_with_its_last_states_as_outputs(listed, page):
    at = _typed("bare_indrnn", page)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    if page == "pages/0_Overview.py":
        text = " ".join(m.value for m in at.markdown)
        assert "its 8 outputs are read as regression" in text


def test_an_uploaded_checkpoint_without_a_task_opens_on_the_typed_input(own_folder):
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["source"] = "Type or paste"
    at.run()
    at.selectbox(key="model_choice").set_value("Upload a checkpoint…").run()
    at.file_uploader(key="checkpoint_upload").set_value(
        [(f"mine{suffix}", (own_folder / f"own_classifier{suffix}").read_bytes(),
          "application/octet-stream") for suffix in (".json", ".safetensors")]).run()
    at.text_area(key="typed_input").set_value(TYPED_ROWS).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert "none named in the card" in " ".join(m.value for m in at.markdown)


def test_an_upload_whose_card_names_classes_of_the_wrong_count_is_refused(own_folder,
                                                                          tmp_path):
    document = (own_folder / "own_classifier.json").read_text().replace(
        '"badminton"', '"badminton", "swimming"')
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    at.selectbox(key="model_choice").set_value("Upload a checkpoint…").run()
    at.file_uploader(key="checkpoint_upload").set_value(
        [("mine.json", document.encode(), "application/json"),
         ("mine.safetensors", (own_folder / "own_classifier.safetensors").read_bytes(),
          "application/octet-stream")]).run()
    assert not at.exception
    errors = " ".join(e.value for e in at.sidebar.error)
    assert "mine: card['class_names'] names 5, but the model has 4" in errors


OWN_CLASS = '''
from indrnn.sequence_model import SequenceModel


class Scaled(SequenceModel):
    """A user's own model class: a SequenceModel whose outputs are scaled."""

    def __init__(self, body, num_outputs, readout="last", vocab_size=None, embedding_dim=None,
                 scale=2.0):
        super().__init__(body, num_outputs, readout, vocab_size, embedding_dim)
        self.scale = scale

    def config(self):
        return {**super().config(), "scale": self.scale}

    def forward(self, x, lengths=None, state=None):
        output, state = super().forward(x, lengths, state)
        return output * self.scale, state
'''
EVIL_CLASS = "import pathlib\npathlib.Path(__file__).with_name('imported').touch()\n"


def test_a_registered_own_class_opens_and_an_unregistered_one_is_refused_unimported(
        tmp_path, monkeypatch):
    import indrnn
    from indrnn import registry

    code = tmp_path / "code"
    code.mkdir()
    (code / "my_scaled_model.py").write_text(OWN_CLASS)
    (code / "evil_model.py").write_text(EVIL_CLASS)
    monkeypatch.syspath_prepend(str(code))
    monkeypatch.setenv(registry.ARCHITECTURES_ENV, "Scaled=my_scaled_model:Scaled")
    registry.register_from_environment()
    from my_scaled_model import Scaled

    folder = tmp_path / "models"
    folder.mkdir()
    body = {"architecture": "IndRNN", "config": indrnn.IndRNN(3, 4).config()}
    indrnn.save(Scaled(body, 2, scale=3.0), folder / "scaled", {"output_names": ["a", "b"]})
    evil = (folder / "scaled.json").read_text().replace('"Scaled"', '"Evil"')
    (folder / "evil.json").write_text(evil)
    (folder / "evil.safetensors").write_bytes((folder / "scaled.safetensors").read_bytes())
    monkeypatch.setenv(catalog.EXTRA_MODELS_ENV, str(folder))

    assert "scaled" in catalog.models() and "evil" not in catalog.models()
    assert any("evil.json: architecture 'Evil' is not registered" in p
               for p in catalog.problems())
    at = _typed("scaled")
    assert not at.error, [e.value for e in at.error]
    assert "its 2 outputs are read as regression (a, b)" in " ".join(m.value for m in at.markdown)
    assert not (code / "imported").exists()  # the unregistered class's module never ran


def test_a_listed_checkpoint_over_the_limits_is_named_and_the_app_goes_on(tmp_path,
                                                                          monkeypatch):
    import json

    import indrnn

    indrnn.save(indrnn.IndRNN(3, 8), tmp_path / "huge")
    document = json.loads((tmp_path / "huge.json").read_text())
    document["config"]["hidden_size"] = 1_000_000_000
    (tmp_path / "huge.json").write_text(json.dumps(document))
    monkeypatch.setenv(catalog.EXTRA_MODELS_ENV, str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["model"] = "huge"
    at.run()
    assert not at.exception, at.exception
    errors = " ".join(e.value for e in at.sidebar.error)
    assert "The model huge can't be used" in errors and "hidden_size" in errors
    at.selectbox(key="model_choice").set_value("adding100_indrnn").run()  # the others still load
    assert not at.exception and not at.sidebar.error
