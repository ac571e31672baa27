"""indrnn.export (NPZ, CSV, query strings) and the Pattern search, Discovery and Export pages."""

import csv
import io
import math
from pathlib import Path
from urllib.parse import parse_qs

import numpy as np
import pytest
import torch
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from indrnn import catalog
from indrnn.analysis import (
    find_pattern,
    indrnn_memory,
    label_selectivity,
    lstm_memory,
    neurons_on_in_window,
    sequence_features,
)
from indrnn.analysis.patterns import PatternMatch
from indrnn.checkpoint import save
from indrnn.data import load_task
from indrnn.data.text import VOCAB, decode
from indrnn.export import (
    match_columns,
    memory_columns,
    neuron_table_columns,
    query_string,
    recording_arrays,
    recording_contents,
    recording_npz,
    table_csv,
)
from indrnn.objectives import objective_for
from indrnn.record import LayerRecord, Recording
from indrnn.run import Run, run_held_out, run_model
from indrnn.sequence_model import SequenceModel
from indrnn.views.neurons import neuron_table

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TIMEOUT = 120


@pytest.fixture(scope="module")
def vowels():
    """Both JapaneseVowels models run on three held-out sequences of different lengths."""
    task = load_task("japanesevowels")
    runs = {}
    for name in ("japanesevowels_indrnn", "japanesevowels_lstm"):
        model = catalog.load_model(name).model
        runs[name] = (model, run_model(model, task.test.inputs[:3], task.test.lengths[:3],
                                       objective_for(task)))
    return runs


def _read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# --- NPZ ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["japanesevowels_indrnn", "japanesevowels_lstm"])
def test_npz_round_trip_equals_the_recording(vowels, name):
    _, run = vowels[name]
    with np.load(io.BytesIO(recording_npz(run)), allow_pickle=False) as archive:
        loaded = {key: archive[key] for key in archive.files}
    expected = {"inputs": run.inputs, "lengths": run.lengths,
                "outputs": run.output}
    for layer, record in run.layers.items():
        expected[f"{layer}/hidden"] = record.hidden
        expected.update({f"{layer}/{key}": value for key, value in record.tensors.items()})
    assert set(loaded) == set(expected)
    for key, value in expected.items():
        np.testing.assert_array_equal(loaded[key], value.numpy(), err_msg=key)
        assert loaded[key].dtype == value.numpy().dtype, key
    kind = "forget_gate" if name.endswith("lstm") else "preactivation"
    assert f"body.l1/{kind}" in loaded
    assert loaded["body.l0/hidden"].shape == tuple(run.layers["body.l0"].hidden.shape)


def test_recording_contents_describe_the_archive_without_copying(vowels):
    _, run = vowels["japanesevowels_indrnn"]
    arrays = recording_arrays(run)
    rows = recording_contents(run)
    assert [row["key"] for row in rows] == list(arrays)
    for row in rows:
        array = arrays[row["key"]]
        assert row["shape"] == array.shape and row["bytes"] == array.nbytes
        assert row["dtype"] == str(array.dtype)


def _fake(states: torch.Tensor, **tensors) -> Run:
    return Run(torch.zeros(1, 3, 1), torch.tensor([3]), Recording(
        torch.zeros(1, 1), {"l0": LayerRecord("l0", "indrnn", states, tensors)}))


def test_recording_npz_refuses_what_would_need_pickle():
    good = _fake(torch.zeros(3, 1, 2))
    assert set(recording_arrays(good)) == {"inputs", "lengths", "outputs", "l0/hidden"}
    with pytest.raises(TypeError, match="numeric"):
        recording_npz(_fake(torch.zeros(3, 1, 2), note=np.array(["text"], dtype=object)))
    with pytest.raises(TypeError, match="numeric"):
        recording_npz(_fake(torch.zeros(3, 1, 2), note=np.array(["text"])))
    with pytest.raises(ValueError, match="l0/hidden"):
        recording_npz(_fake(torch.zeros(3, 1, 2), hidden=torch.ones(3, 1, 2)))


# --- CSV ------------------------------------------------------------------------------------


def test_table_csv_parses_back_exactly():
    floats = np.array([0.1, 1 / 3, -2.5e-300, np.nan, np.inf, -np.inf])
    columns = {"neuron": np.arange(6), "value": floats,
               "flag": torch.tensor([True, False, True, False, False, True]),
               "note": ['plain', 'a, comma', 'a "quote"', "two\nlines", "é", None]}
    rows = _read_csv(table_csv(columns))
    assert len(rows) == 6
    assert [int(r["neuron"]) for r in rows] == list(range(6))
    back = np.array([float(r["value"]) for r in rows])
    np.testing.assert_array_equal(back, floats)  # NaN == NaN for assert_array_equal
    assert [r["flag"] for r in rows] == ["1", "0", "1", "0", "0", "1"]
    assert [r["note"] for r in rows] == ['plain', 'a, comma', 'a "quote"', "two\nlines", "é", ""]


@pytest.mark.parametrize(("columns", "error"), [
    ({"a": [1, 2], "b": [1]}, ValueError),
    ({"a": np.zeros((2, 2))}, ValueError),
    ({"a": "text"}, TypeError),
    ({}, ValueError),
])
def test_table_csv_refuses_ragged_or_odd_columns(columns, error):
    with pytest.raises(error):
        table_csv(columns)


def test_neuron_table_csv_carries_u_and_tau(vowels):
    model, run = vowels["japanesevowels_indrnn"]
    table = neuron_table(model, run, "body.l1")
    rows = _read_csv(table_csv(neuron_table_columns(table)))
    assert list(rows[0]) == ["neuron", "u", "tau", "half_life", "mean", "fraction_active",
                             "readout"]
    assert len(rows) == 64
    u = model.body.weight_hh_l1.detach().numpy()
    np.testing.assert_allclose([float(r["u"]) for r in rows], u, rtol=1e-6)
    np.testing.assert_allclose([float(r["tau"]) for r in rows], table["tau"].numpy(), rtol=1e-6)
    assert [int(r["neuron"]) for r in rows] == list(range(64))


def test_memory_csv_has_one_row_per_layer_and_neuron(vowels):
    model, run = vowels["japanesevowels_indrnn"]
    memories = indrnn_memory(model, seq_len=29, recording=run.recording)
    _, lstm_run = vowels["japanesevowels_lstm"]
    memories["lstm body.l0"] = lstm_memory(lstm_run.layers["body.l0"], lstm_run.lengths)
    rows = _read_csv(table_csv(memory_columns(memories)))
    assert len(rows) == 64 * 3
    first = [r for r in rows if r["layer"] == "body.l0"]
    np.testing.assert_allclose([float(r["u"]) for r in first],
                               model.body.weight_hh_l0.detach().numpy(), rtol=1e-6)
    dead = memories["body.l0"].flags.dead.numpy().astype(int)
    assert [int(r["dead"]) for r in first] == dead.tolist()
    lstm_rows = [r for r in rows if r["kind"] == "lstm"]
    assert len(lstm_rows) == 64 and all(math.isnan(float(r["u"])) for r in lstm_rows)
    assert all(r["dead"] == "" for r in lstm_rows)
    np.testing.assert_allclose([float(r["mean_forget"]) for r in lstm_rows],
                               memories["lstm body.l0"].mean_forget.numpy(), rtol=1e-6)


def test_match_columns_list_matches_and_their_text():
    matches = [PatternMatch(1, 2, 5, 0.5), PatternMatch(0, 0, 1, 0.25)]
    columns = match_columns(matches, ["abcdef", "xy\nzwv"])
    assert columns["rank"] == [1, 2] and columns["sequence"] == [1, 0]
    assert columns["start"] == [2, 0] and columns["end"] == [5, 1] and columns["steps"] == [3, 1]
    assert columns["text"] == ["↵zw", "a"]
    assert "text" not in match_columns(matches)


# --- query strings --------------------------------------------------------------------------


def test_query_string_round_trips():
    params = {"model": "adding100_indrnn", "source": "Example",
              "example": "a b&c=d/é?.csv", "layer": "body.l0", "neuron": "7", "sequence": "0"}
    text = query_string(params)
    assert "&" in text and " " not in text and "é" not in text
    assert parse_qs(text, keep_blank_values=True) == {k: [v] for k, v in params.items()}
    assert list(parse_qs(text)) == list(params)  # order kept
    assert parse_qs(query_string({"neuron": 7, "tags": ["a", "b"], "gone": None})) == {
        "neuron": ["7"], "tags": ["a", "b"]}
    assert query_string({}) == ""


# --- pages ----------------------------------------------------------------------------------


def _page(page: str, model: str, **query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["model"] = model
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def _ok(at: AppTest) -> None:
    assert not at.exception, at.exception
    assert not [e.value for e in at.error]


def _texts(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown)


def test_pattern_search_finds_a_picked_pattern_across_held_out_data():
    name = "basicmotions_indrnn"
    at = _page("pages/5_Patterns.py", name, layer="body.l0")
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
    assert len(at.get("plotly_chart")) == 2  # the trace on the input and the matches
    assert at.download_button(key="pattern_csv")


def test_pattern_search_selects_neurons_from_a_window():
    name = "japanesevowels_lstm"
    at = _page("pages/5_Patterns.py", name, layer="body.l1")
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
    at = _page("pages/6_Discovery.py", name, layer="body.l1")
    _ok(at)
    assert len(at.get("plotly_chart")) == 3  # tracks, one neuron vs one track, classes
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
    table = at.dataframe[0].value
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
    at = _page("pages/6_Discovery.py", "mnist5k_indrnn")
    _ok(at)
    assert not any("all of one class" in i.value for i in at.info)


def test_discovery_has_the_adding_problems_tracks():
    at = _page("pages/6_Discovery.py", "adding100_indrnn")
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
    at = _page("pages/7_Export.py", name, layer="body.l1")
    _ok(at)
    labels = " ".join(b.label for b in at.download_button)
    assert "Recording (NPZ" in labels and "body.l1 (CSV)" in labels and "Memory" in labels
    assert "export_npz" not in at.session_state  # no copy of the archive kept per session
    built = deferred[at.download_button(key="export_npz_button").proto.deferred_file_id]()
    run = next(iter(at.session_state["cache_runs"].values()))
    with np.load(io.BytesIO(built), allow_pickle=False) as archive:
        np.testing.assert_array_equal(archive["body.l1/hidden"],
                                      run.layers["body.l1"].hidden.numpy())
    code = at.code[0].value
    assert code.startswith("?")
    shared = parse_qs(code[1:])
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
    at.switch_page("pages/5_Patterns.py").run()
    _ok(at)
    assert at.get("plotly_chart")
    data = next(iter(at.session_state["cache_held_out_runs"].values()))
    best = at.dataframe[0].value.iloc[0]  # the seeded model's default pattern occurs
    matched = decode(data.inputs[int(best["sequence"])])[int(best["start"]):int(best["end"])]
    assert best["text"] == matched.replace("\n", "↵")
    at.switch_page("pages/6_Discovery.py").run()
    _ok(at)
    tracks = set(next(iter(at.session_state["cache_discovery"].values())))
    assert {"column", "indentation", "bracket_depth", "in_string", "in_comment"} <= tracks
    at.selectbox(key="discovery_track").set_value("column").run()
    _ok(at)
    at.switch_page("pages/7_Export.py").run()
    _ok(at)
    assert at.get("plotly_chart")
    at.switch_page("pages/3_IndRNN_vs_LSTM.py").run()  # an upload has no partner: said so
    _ok(at)
    assert "No model was trained beside" in " ".join(i.value for i in at.info)
    assert at.get("plotly_chart")
