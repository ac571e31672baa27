"""The app's pages under Streamlit's AppTest: every model, examples, uploads, bad input."""

from pathlib import Path

import pytest
from apptest import chart_titles, charts
from streamlit.testing.v1 import AppTest

from indrnn import catalog

APP = str(Path(__file__).resolve().parents[2] / "app.py")
OVERVIEW = "pages/0_Overview.py"
MODELS = sorted(catalog.models())
TIMEOUT = 120


def _app(model: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if model is not None:
        at.query_params["model"] = model
    return at.run()


def _errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


@pytest.mark.parametrize("model", MODELS)
def test_overview_runs_on_every_model_with_its_first_example(model):
    at = _app(model)
    assert not at.exception, at.exception
    assert not _errors(at)
    assert at.selectbox(key="model_choice").value == model
    texts = " ".join(m.value for m in at.markdown)
    kind = catalog.entry(model).card["data"]["output_kind"]
    said = {"regression": "predicted", "classification_last_step": "class ",
            "per_step_lm": "next character"}[kind]
    assert "Sequence 0" in texts and said in texts
    assert len(at.dataframe) == 1  # the per-layer activity table


def test_choice_survives_a_rerun_and_reaches_the_url():
    at = _app()
    at.selectbox(key="model_choice").set_value("basicmotions_indrnn").run()
    at.selectbox(key="example_choice").set_value("basicmotions_test0030_badminton.npy").run()
    assert not at.exception
    assert at.query_params["model"] == ["basicmotions_indrnn"] or \
        at.query_params["model"] == "basicmotions_indrnn"
    texts = " ".join(m.value for m in at.markdown)
    assert "basicmotions" in texts


def test_typed_csv_rows_run_and_bad_rows_get_a_clear_error():
    at = _app("basicmotions_indrnn")
    at.radio(key="input_source").set_value("Type or paste").run()
    at.text_area(key="typed_input").set_value("\n".join(["0.1,0.2,0.3,0.4,0.5,0.6"] * 20)).run()
    assert not at.exception and not _errors(at)
    assert "Sequence 0 (20 steps)" in " ".join(m.value for m in at.markdown)
    at.text_area(key="typed_input").set_value("1,2,3\n4,5,6").run()
    assert not at.exception
    errors = " ".join(_errors(at))
    assert "can't be used" in errors and "6" in errors  # names the expected channel count


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _upload(at: AppTest, name: str, data: bytes, mime: str = "text/csv") -> AppTest:
    at.radio(key="input_source").set_value("Upload a file").run()
    return at.file_uploader(key="sequence_upload").set_value((name, data, mime)).run()


def test_an_uploaded_file_runs_and_is_kept_for_the_session():
    at = _app("japanesevowels_indrnn")
    data = (EXAMPLES / "japanesevowels_test0200_speaker-5.csv").read_bytes()
    _upload(at, "mine.csv", data)
    assert not at.exception and not _errors(at)
    assert "Sequence 0 (9 steps)" in " ".join(m.value for m in at.markdown)
    at.switch_page(OVERVIEW).run()  # another page view: the upload is still there
    assert "Sequence 0 (9 steps)" in " ".join(m.value for m in at.markdown)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("random.npy", bytes(range(256)) * 40, "can't be used"),
        ("empty.csv", b"", "empty"),
        ("nan.csv", b"a,b,c,d,e,f\n" + b"1,2,3,nan,5,6\n" * 3, "finite"),
        ("words.csv", b"1,2,3,4,5,6\n1,2,x,4,5,6\n", "not a number"),
    ],
)
def test_bad_uploads_get_a_clear_error_and_no_traceback(name, data, message):
    at = _upload(_app("basicmotions_indrnn"), name, data)
    assert not at.exception
    assert message in " ".join(_errors(at)).lower()


def test_a_hostile_checkpoint_upload_is_refused(tmp_path):
    import pickle

    at = _app()
    at.selectbox(key="model_choice").set_value("Upload a checkpoint…").run()
    marker = tmp_path / "ran"
    payload = pickle.dumps(_Marker(str(marker)))
    at.file_uploader(key="checkpoint_upload").set_value(
        [("evil.json", b'{"format": "indrnn-checkpoint"}', "application/json"),
         ("evil.safetensors", payload, "application/octet-stream")]).run()
    assert not at.exception
    assert "can't be used" in " ".join(_errors(at))
    assert not marker.exists()


class _Marker:
    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


PAGES = sorted(str(p.relative_to(Path(APP).parent))
               for p in (Path(APP).parent / "pages").glob("*.py"))


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("model", MODELS)
def test_every_page_runs_on_every_model(page, model):
    at = _app(model)
    at.switch_page(page).run()
    assert not at.exception, at.exception
    assert not _errors(at), _errors(at)
    assert charts(at), "no chart drawn"


def test_neuron_view_follows_the_picked_neuron():
    at = _app("basicmotions_indrnn")
    at.switch_page("pages/1_Neurons.py").run()
    at.selectbox(key="layer_choice").set_value("body.l1").run()
    at.selectbox(key="neuron_choice").set_value(7).run()
    assert not at.exception
    u = float(at.metric[0].value)
    model = catalog.load_model("basicmotions_indrnn").model
    assert u == pytest.approx(float(model.body.weight_hh_l1[7]), rel=1e-3)
    assert at.query_params["neuron"] in ("7", ["7"])


def _heatmap_menu(at: AppTest) -> list[str]:
    for spec in charts(at):
        for menu in spec["layout"].get("updatemenus", []):
            return [button["label"] for button in menu["buttons"]]
    raise AssertionError("no chart with a sort menu")


def test_neurons_sort_by_ablation_impact_once_ranked_and_share_it_with_the_ablation_page():
    at = _app("basicmotions_indrnn")
    at.switch_page("pages/1_Neurons.py").run()
    assert "u" in _heatmap_menu(at) and "ablation impact" not in _heatmap_menu(at)
    at.button(key="neurons_rank_impact").click().run()
    assert not at.exception, at.exception
    assert _heatmap_menu(at)[-1] == "ablation impact"
    at.switch_page("pages/4_Ablation.py").run()
    titles = chart_titles(at)
    assert any("impact" in t.lower() for t in titles), titles  # ranked once, shown on both


def test_a_permuted_pixel_model_offers_the_plain_tasks_images():
    # the PNGs are in natural pixel order; an upload is reordered by the task's permutation
    at = _app("pfmnist_lstm")
    assert not at.exception, at.exception
    options = at.selectbox(key="example_choice").options
    assert any(o.startswith("fashion_mnist_test") for o in options), options
    assert not _errors(at)


def test_the_overview_shows_the_shipped_cards_figures_over_training_seeds():
    at = _app("basicmotions_indrnn")
    at.switch_page(OVERVIEW).run()
    shown = " ".join(m.value for m in at.markdown)
    assert "**Over 5 training seeds**: test accuracy 0.96 ± 0.034" in shown
