"""The model catalogue: cards listed, partners paired, names confined to the folder."""

import shutil

import pytest
import torch

import indrnn
from indrnn import catalog
from indrnn.sequence_model import SequenceModel, lstm_spec


def _save(folder, name, body, task_kwargs=None):
    model = SequenceModel(body, num_outputs=1)
    indrnn.save(model, folder / name, {"task": "adding", "task_kwargs": task_kwargs or {},
                                       "parameters": sum(p.numel() for p in model.parameters()),
                                       "metrics": {"test": {"mse": 0.5}}})


@pytest.fixture
def folder(tmp_path):
    indrnn_body = {"architecture": "IndRNN", "config": indrnn.IndRNN(2, 4).config()}
    _save(tmp_path, "adding10_indrnn", indrnn_body, {"seq_len": 10})
    _save(tmp_path, "adding10_lstm", lstm_spec(2, 4), {"seq_len": 10})
    _save(tmp_path, "adding20_indrnn", indrnn_body, {"seq_len": 20})
    (tmp_path / "notes.json").write_text('{"not": "a card"}')
    return tmp_path


def test_lists_cards_and_pairs_models_of_the_same_task(folder):
    listed = catalog.models(folder)
    assert list(listed) == ["adding10_indrnn", "adding10_lstm", "adding20_indrnn"]
    assert listed["adding10_lstm"].is_lstm and listed["adding10_lstm"].body == "LSTM"
    assert catalog.partner("adding10_indrnn", folder).name == "adding10_lstm"
    assert catalog.partner("adding10_lstm", folder).name == "adding10_indrnn"
    # no LSTM at T = 20: the one of the same task at another length, its settings told apart
    other = catalog.partner("adding20_indrnn", folder)
    assert other.name == "adding10_lstm" and other.task_kwargs == {"seq_len": 10}
    assert catalog.partner("adding10_lstm", folder).name == "adding10_indrnn"  # same T first


def test_deep_models_pair_by_depth_then_with_the_shallow_model(tmp_path):
    res = {"architecture": "ResIndRNN", "config": {"input_size": 2, "hidden_size": 4,
                                                   "num_blocks": 1}}
    _save(tmp_path, "adding10_indrnn", {"architecture": "IndRNN",
                                        "config": indrnn.IndRNN(2, 4).config()}, {"seq_len": 10})
    _save(tmp_path, "adding10_lstm", lstm_spec(2, 4), {"seq_len": 10})
    _save(tmp_path, "adding10_res3", res, {"seq_len": 10})
    assert catalog.partner("adding10_res3", tmp_path).name == "adding10_indrnn"  # no deep LSTM
    _save(tmp_path, "adding10_lstm3", lstm_spec(2, 4, num_layers=3), {"seq_len": 10})
    assert catalog.partner("adding10_res3", tmp_path).name == "adding10_lstm3"
    assert catalog.partner("adding10_lstm3", tmp_path).name == "adding10_res3"
    assert catalog.partner("adding10_lstm", tmp_path).name == "adding10_indrnn"
    assert catalog.partner("adding10_indrnn", tmp_path).name == "adding10_lstm"


@pytest.mark.parametrize("name", ["../adding10_indrnn", "/etc/passwd", "notes", "adding10",
                                  "adding10_indrnn.json", ""])
def test_names_outside_the_listing_are_refused(folder, name):
    with pytest.raises(KeyError, match="choose one of: adding10_indrnn"):
        catalog.load_model(name, folder)


def test_loads_a_listed_model(folder):
    checkpoint = catalog.load_model("adding10_indrnn", folder)
    assert checkpoint.model(torch.zeros(1, 10, 2))[0].shape == (1, 1)


def test_shipped_models_are_listed_with_partners():
    listed = catalog.models()
    assert "basicmotions_indrnn" in listed and "japanesevowels_lstm" in listed
    assert catalog.partner("basicmotions_indrnn").name == "basicmotions_lstm"
    for entry in listed.values():
        assert entry.metrics and entry.parameters > 0


def test_a_symlink_named_like_a_model_is_not_followed_out(folder, tmp_path_factory):
    outside = tmp_path_factory.mktemp("outside")
    shutil.copy(folder / "adding10_indrnn.json", outside / "evil.json")
    (folder / "evil.json").symlink_to(outside / "evil.json")
    with pytest.raises(KeyError):
        catalog.load_model("evil", folder)


def _save_scored(folder, name, body, metrics, data):
    model = SequenceModel(body, num_outputs=1)
    indrnn.save(model, folder / name, {"task": "mnist5k", "task_kwargs": {}, "data": data,
                                       "parameters": 1, "metrics": {"test": metrics}})


def test_models_that_do_not_learn_or_trail_their_twin_carry_a_caveat(tmp_path):
    body = {"architecture": "IndRNN", "config": indrnn.IndRNN(1, 4).config()}
    classes = {"num_classes": 10, "baseline": "10% accuracy by chance"}
    _save_scored(tmp_path, "digits_indrnn", body, {"accuracy": 0.84}, classes)
    _save_scored(tmp_path, "digits_lstm", lstm_spec(1, 4), {"accuracy": 0.56}, classes)
    _save_scored(tmp_path, "digits_lstm21", lstm_spec(1, 4), {"accuracy": 0.10}, classes)
    assert catalog.learning_note("digits_indrnn", tmp_path) is None
    far = catalog.learning_note("digits_lstm", tmp_path)
    assert far.label == "far below digits_indrnn" and "0.56 against 0.84" in far.text
    chance = catalog.learning_note("digits_lstm21", tmp_path)
    assert chance.label == "at chance" and "chance 10%" in chance.text
    sums = {"num_classes": None, "baseline": "MSE 0.167 by always predicting 1"}
    _save_scored(tmp_path, "sums_lstm", lstm_spec(1, 4), {"mse": 0.174}, sums)
    _save_scored(tmp_path, "sums_indrnn", body, {"mse": 0.15}, sums)
    assert catalog.learning_note("sums_lstm", tmp_path).label == "no better than the baseline"
    assert catalog.learning_note("sums_indrnn", tmp_path).label == "no better than the baseline"



def _own(folder, name):
    indrnn.save(indrnn.IndRNN(2, 4), folder / name)


def test_a_folder_of_ten_thousand_files_is_read_only_up_to_the_cap(tmp_path, monkeypatch):
    _own(tmp_path, "aaa_model")
    for k in range(10_000):
        (tmp_path / f"note{k:05d}.txt").touch()
    listed, problems = catalog.models(tmp_path), catalog.problems(tmp_path)
    assert "aaa_model" in listed  # sorted first, so within the cap
    assert problems == [f"{tmp_path.resolve()}: more than {catalog.MAX_FOLDER_ENTRIES:,} "
                        f"entries; only the first {catalog.MAX_FOLDER_ENTRIES:,} were looked at"]


def test_links_out_of_the_folder_are_named_and_never_followed(tmp_path):
    outside, folder = tmp_path / "outside", tmp_path / "mine"
    outside.mkdir()
    folder.mkdir()
    _own(outside, "secret")
    _own(folder, "kept")
    for suffix in (".json", ".safetensors"):
        (folder / f"secret{suffix}").symlink_to(outside / f"secret{suffix}")
    assert list(catalog.models(folder)) == ["kept"]
    assert any("secret.json: a symbolic link: links are not followed" in p
               for p in catalog.problems(folder))


@pytest.mark.parametrize(("card", "why"), [
    ({"metrics": {"test": {"mse": "low"}}}, "card fields of the wrong type"),
    ({"metrics": ["mse"]}, "card fields of the wrong type"),
])
def test_a_card_with_wrong_types_is_named_and_the_others_still_list(tmp_path, card, why):
    _own(tmp_path, "good")
    indrnn.save(indrnn.IndRNN(2, 4), tmp_path / "bad", card)
    assert list(catalog.models(tmp_path)) == ["good"]
    assert any(p.startswith(f"{tmp_path.resolve() / 'bad.json'}: {why}")
               for p in catalog.problems(tmp_path))


def test_a_document_naming_an_unknown_architecture_is_named(tmp_path):
    _own(tmp_path, "good")
    document = (tmp_path / "good.json").read_text().replace('"IndRNN"', '"os:system"', 1)
    (tmp_path / "odd.json").write_text(document)
    shutil.copy(tmp_path / "good.safetensors", tmp_path / "odd.safetensors")
    assert list(catalog.models(tmp_path)) == ["good"]
    assert any("odd.json: architecture 'os:system' is not registered" in p
               for p in catalog.problems(tmp_path))


def test_a_hub_folder_is_listed_by_its_name_and_loads(tmp_path):
    from indrnn.hub import export_hub

    export_hub(catalog.models()["basicmotions_indrnn"].path, tmp_path / "shared_model")
    listed = catalog.models(tmp_path)
    assert list(listed) == ["shared_model"]
    entry = listed["shared_model"]
    assert entry.task == "basicmotions" and entry.path == tmp_path / "shared_model"
    original = catalog.load_model("basicmotions_indrnn").model
    shared = catalog.load_model("shared_model", tmp_path).model
    x = torch.randn(1, 100, 6)
    assert torch.equal(original(x)[0], shared(x)[0])
