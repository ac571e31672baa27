"""The Pattern search, Discovery and Export pages under AppTest."""

import io
from pathlib import Path
from urllib.parse import parse_qs

import numpy as np
import pytest
import torch
from apptest import APP, charts, open_page
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from indrnn import catalog
from indrnn.analysis import (
    find_pattern,
    label_selectivity,
    neurons_on_in_window,
    sequence_features,
)
from indrnn.checkpoint import save
from indrnn.data import load_task
from indrnn.data.text import VOCAB, decode
from indrnn.objectives import objective_for
from indrnn.run import run_held_out
from indrnn.sequence_model import SequenceModel

TIMEOUT = 120




def _ok(at: AppTest) -> None:
    assert not at.exception, at.exception
    assert not [e.value for e in at.error]


def _texts(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown)


def test_pattern_search_finds_a_picked_pattern_across_held_out_data():
    name = "basicmotions_indrnn"
    at = open_page("pages/6_Patterns.py", name, layer="body.l0")
    at.multiselect(key="pattern_neurons").set_value([1, 22]).run()
    at.number_input(key="pattern_threshold").set_value(0.5).run()
    at.number_input(key="pattern_min_length").set_value(3).run()
    _ok(at)
    checkpoint = catalog.load_model(name)
    task = load_task(checkpoint.card["task"], **checkpoint.card.get("task_kwargs", {}))
    data = run_held_out(checkpoint.model, objective_for(task))
    expected = find_pattern(data.layers["body.l0"].hidden, [1, 22], 0.5, min_length=3,
                            lengths=data.lengths)
    assert expected, "the chosen pattern should occur in the held-out data"
    assert f"**{len(expected)}** stretch" in _texts(at)
    table = at.dataframe[0].value
    # named by their index in the test split (the run spreads over it)
    assert list(table["sequence"][:5]) == [int(data.source_indices[m.sequence])
                                           for m in expected[:5]]
    assert list(table["start"][:5]) == [m.start for m in expected[:5]]
    assert list(table["end"][:5]) == [m.end for m in expected[:5]]
    assert table["score"][0] == pytest.approx(expected[0].score)
    assert (table["steps"] >= 3).all() and len(table) == min(200, len(expected))
    assert len(charts(at)) == 2  # the trace on the input and the matches
    assert at.download_button(key="pattern_csv")


def test_pattern_search_selects_neurons_from_a_window():
    name = "japanesevowels_lstm"
    at = open_page("pages/6_Patterns.py", name, layer="body.l1")
    at.radio(key="pattern_mode").set_value("select from a window").run()
    at.slider(key="pattern_window").set_value((5, 9)).run()
    at.number_input(key="pattern_threshold").set_value(0.2).run()
    _ok(at)
    run = next(iter(at.session_state["cache_runs"].values()))
    picked = neurons_on_in_window(run.layers["body.l1"].hidden, 0, 5, 9, 0.2,
                                  lengths=run.lengths).tolist()
    assert picked, "some LSTM unit should be above 0.2 throughout steps 5–8"
    assert f"Neurons above 0.2 at every step of [5, 9): {', '.join(map(str, picked))}" in \
        _texts(at)
    at.number_input(key="pattern_threshold").set_value(1e6).run()  # nothing can be that high
    _ok(at)
    assert any("No neuron selected" in i.value for i in at.info)


def test_discovery_ranks_neurons_by_track_and_by_class():
    name = "japanesevowels_indrnn"  # variable lengths: each sequence's own last step counts
    at = open_page("pages/7_Discovery.py", name, layer="body.l1")
    _ok(at)
    assert len(charts(at)) == 3  # tracks, one neuron vs one track, classes
    checkpoint = catalog.load_model(name)
    task = load_task(checkpoint.card["task"], **checkpoint.card.get("task_kwargs", {}))
    correlations = next(iter(at.session_state["cache_discovery"].values()))
    assert {"time step", f"input {task.info.channel_names[0]}"} <= set(correlations)
    at.selectbox(key="discovery_track").set_value("time step").run()
    _ok(at)
    ranked = correlations["time step"]
    assert at.selectbox(key="discovery_neuron").value == int(np.nanargmax(np.abs(ranked.r)))
    data = run_held_out(checkpoint.model, objective_for(task))
    features = sequence_features(data.layers["body.l1"].hidden, "last", data.lengths)
    selectivity = label_selectivity(features, task.test.targets[data.source_indices], 9)
    controls = at.dataframe[0].value  # per track: r, its misaligned chance, r without time
    row = controls[controls["track"] == "time step"].iloc[0]
    assert row["strongest |r|, time step removed"] == 0  # time explains the time step wholly
    assert row["strongest |r|"] > 0.3
    table = at.dataframe[-1].value
    assert int(table["neuron"][0]) == int(np.argmax(selectivity.eta_squared))
    eta = np.sort(selectivity.eta_squared)[::-1][: len(table)]
    np.testing.assert_allclose(table.iloc[:, 1].to_numpy(float), eta, atol=1e-4)
    # the run is spread over the test split, so every speaker is among its sequences
    assert sorted(set(task.test.targets[data.source_indices].tolist())) == list(range(9))
    assert not any("Not among these held-out sequences" in c.value for c in at.caption)


def test_the_held_out_run_spreads_over_a_test_split_stored_class_by_class():
    checkpoint = catalog.load_model("mnist5k_indrnn")
    task = load_task("mnist5k", **checkpoint.card["task_kwargs"])
    assert task.test.targets[:64].unique().tolist() == [0]  # stored class by class
    data = run_held_out(checkpoint.model, objective_for(task), limit=40)
    index = data.source_indices
    assert len(index) == 40 and index[0] == 0 and index[-1] == len(task.test) - 1
    torch.testing.assert_close(data.inputs, task.test.inputs[index])
    assert task.test.targets[index].unique().tolist() == list(range(10))
    at = open_page("pages/7_Discovery.py", "mnist5k_indrnn")
    _ok(at)
    assert not any("all of one class" in i.value for i in at.info)


def test_discovery_has_the_adding_problems_tracks():
    at = open_page("pages/7_Discovery.py", "adding100_indrnn")
    _ok(at)
    names = set(next(iter(at.session_state["cache_discovery"].values())))
    assert {"marker_seen", "steps_since_first_marker", "time step", "input marker"} <= names


def test_export_page_offers_the_run_tables_and_the_link(monkeypatch):
    deferred = {}  # the archive is built on click: catch the callable Streamlit is given
    register = MediaFileManager.add_deferred

    def spy(self, data, *args, **kwargs):
        deferred[file_id := register(self, data, *args, **kwargs)] = data
        return file_id

    monkeypatch.setattr(MediaFileManager, "add_deferred", spy)
    name = "japanesevowels_indrnn"
    at = open_page("pages/8_Export.py", name, layer="body.l1")
    _ok(at)
    labels = " ".join(b.label for b in at.download_button)
    assert "Recording (NPZ" in labels and "body.l1 (CSV)" in labels and "Memory" in labels
    assert "export_npz" not in at.session_state  # no copy of the archive kept per session
    built = deferred[at.download_button(key="export_npz_button").proto.deferred_file_id]()
    run = next(iter(at.session_state["cache_runs"].values()))
    with np.load(io.BytesIO(built), allow_pickle=False) as archive:
        np.testing.assert_array_equal(archive["body.l1/hidden"],
                                      run.layers["body.l1"].hidden.numpy())
    path, _, query = at.code[0].value.partition("?")
    assert path == "/"  # the page looked at before Export: the home page
    shared = parse_qs(query)
    assert shared["model"] == [name] and shared["layer"] == ["body.l1"]
    assert shared["source"] == ["Example"] and "example" in shared


def _tiny_language_model(folder: Path) -> tuple[bytes, bytes]:
    torch.manual_seed(0)
    body = {"architecture": "IndRNN", "config": {
        "input_size": 8, "hidden_size": 16, "num_layers": 2, "nonlinearity": "relu",
        "bias": True, "batch_first": False, "dropout": 0.0, "bidirectional": False,
        "recurrent_min": None, "recurrent_max": 0.99, "input_weight_std": None}}
    model = SequenceModel(body, len(VOCAB), readout="every", vocab_size=len(VOCAB),
                          embedding_dim=8).eval()
    save(model, folder / "tinylm", {"task": "cpython_chars", "task_kwargs": {}})
    return (folder / "tinylm.json").read_bytes(), (folder / "tinylm.safetensors").read_bytes()


def test_language_model_pages_show_text_tracks_and_matched_text(tmp_path):
    card, weights = _tiny_language_model(tmp_path)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.selectbox(key="model_choice").set_value("Upload a checkpoint…").run()
    at.file_uploader(key="checkpoint_upload").set_value(
        [("tinylm.json", card, "application/json"),
         ("tinylm.safetensors", weights, "application/octet-stream")]).run()
    _ok(at)
    at.switch_page("pages/6_Patterns.py").run()
    _ok(at)
    assert charts(at)
    data = next(iter(at.session_state["cache_held_out_runs"].values()))
    best = at.dataframe[0].value.iloc[0]  # the seeded model's default pattern occurs
    matched = decode(data.inputs[int(best["sequence"])])[int(best["start"]):int(best["end"])]
    assert best["text"] == matched.replace("\n", "⏎").replace(" ", "␣")
    at.switch_page("pages/7_Discovery.py").run()
    _ok(at)
    tracks = set(next(iter(at.session_state["cache_discovery"].values())))
    assert {"column", "indentation", "bracket_depth", "in_string", "in_comment"} <= tracks
    at.selectbox(key="discovery_track").set_value("column").run()
    _ok(at)
    at.switch_page("pages/8_Export.py").run()
    _ok(at)
    assert charts(at)
    at.switch_page("pages/3_IndRNN_vs_LSTM.py").run()  # an upload has no partner: said so
    _ok(at)
    assert "No model was trained beside" in " ".join(i.value for i in at.info)
    assert charts(at)


def test_discovery_ranks_by_r_with_the_time_step_removed_and_reopens_on_its_strongest():
    at = open_page("pages/7_Discovery.py", "adding1000_indrnn", layer="body.l1")
    correlations = next(iter(at.session_state["cache_discovery"].values()))
    track = "marker seen" if "marker seen" in correlations else list(correlations)[1]
    at.selectbox(key="discovery_track").set_value(track).run()
    at.radio(key="discovery_statistic").set_value("partial").run()
    _ok(at)
    partial = correlations[track].partial_r
    assert at.selectbox(key="discovery_neuron").value == int(np.nanargmax(np.abs(partial)))
    assert "without time" in at.selectbox(key="discovery_neuron").format_func(0)
    assert at.session_state["shared_choices"]["rank_by"] == "partial"
