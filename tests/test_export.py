"""indrnn.export: NPZ recordings, CSV tables and the query strings that share a view."""

import csv
import io
import math
from urllib.parse import parse_qs

import numpy as np
import pytest
import torch

from indrnn import catalog
from indrnn.analysis import (
    indrnn_memory,
    lstm_memory,
)
from indrnn.analysis.patterns import PatternMatch
from indrnn.data import load_task
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
from indrnn.run import Run, run_model
from indrnn.views.neurons import neuron_table


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
    assert columns["text"] == ["⏎zw", "a"]
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
