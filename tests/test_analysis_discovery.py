"""Discovery: annotation tracks, and the neuron wired to a track or a label comes out on top."""

import numpy as np
import pytest
import torch

import indrnn
from indrnn.analysis.discovery import (
    correlate_tracks,
    label_selectivity,
    pearson,
    sequence_features,
)
from indrnn.data.tracks import adding_tracks, code_tracks, time_track

SOURCE = 'def f(a, b):\n    s = "x(\\"y"  # c (\n    return [a,\n  b]\n'


def test_code_tracks_on_a_known_snippet():
    tracks = code_tracks(SOURCE)
    at = {name: dict(zip(range(len(SOURCE)), values)) for name, values in tracks.items()}
    quote = SOURCE.index('"')
    string = range(quote, SOURCE.index("  #"))
    assert [at["in_string"][i] for i in string] == [1] * len(string)
    assert at["in_string"][quote - 1] == 0 and at["in_string"][SOURCE.index("  #")] == 0
    assert at["in_comment"][SOURCE.index("#")] == 1 and at["in_comment"][SOURCE.index("c (")] == 1
    assert at["bracket_depth"][SOURCE.index("a,")] == 1  # inside "(", the "(" in the string
    assert at["bracket_depth"][SOURCE.index(":")] == 0  # and the comment do not count
    assert at["bracket_depth"][SOURCE.index("  b]") + 2] == 1  # "[" spans the line break
    assert at["column"][SOURCE.index("s =")] == 4 and at["indentation"][SOURCE.index("s =")] == 4
    assert at["indentation"][SOURCE.index("  b]") + 2] == 2
    assert code_tracks("'''a\n#b'''")["in_string"].tolist() == [1] * 10
    assert code_tracks("'a\nb")["in_string"].tolist() == [1, 1, 0, 0]


def test_adding_tracks():
    x = torch.zeros(1, 8, 2)
    x[0, :, 0] = torch.arange(8) / 10
    x[0, 2, 1] = x[0, 5, 1] = 1.0
    tracks = adding_tracks(x)
    assert tracks["markers_seen"][:, 0].tolist() == [0, 0, 1, 1, 1, 2, 2, 2]
    assert tracks["marker_seen"][:, 0].tolist() == [0, 0, 1, 1, 1, 1, 1, 1]
    since = tracks["steps_since_first_marker"][:, 0]
    assert np.isnan(since[:2]).all() and since[2:].tolist() == [0, 1, 2, 3, 4, 5]
    assert tracks["steps_since_last_marker"][2:, 0].tolist() == [0, 1, 2, 0, 1, 2]
    np.testing.assert_allclose(tracks["marked_sum"][:, 0], [0, 0, .2, .2, .2, .7, .7, .7])


def test_the_neuron_wired_to_count_markers_is_found():
    torch.manual_seed(0)
    rnn = indrnn.IndRNN(2, 5)
    with torch.no_grad():
        rnn.weight_ih_l0[2] = torch.tensor([0.0, 1.0])  # reads the marker channel only
        rnn.weight_hh_l0[2] = 1.0  # and never forgets: its state counts markers
    x = indrnn.data.adding_batch(3, 30, torch.Generator().manual_seed(1))[0]
    hidden = indrnn.record(rnn, x.transpose(0, 1)).layers["l0"].hidden
    found = correlate_tracks(hidden, adding_tracks(x) | {"time": time_track(30, 3)}, k=2)
    assert found["markers_seen"].neurons[0] == 2
    assert found["markers_seen"].top_r[0] == pytest.approx(1.0)
    assert abs(found["time"].r[2]) < 0.99


def test_a_neuron_equal_to_a_text_track_tops_its_ranking():
    rng = np.random.default_rng(0)
    tracks = code_tracks(SOURCE * 3)
    states = rng.normal(size=(len(SOURCE) * 3, 1, 6))
    states[:, 0, 4] = tracks["bracket_depth"]
    result = correlate_tracks(states, tracks, k=3)
    assert result["bracket_depth"].neurons[0] == 4
    assert result["bracket_depth"].top_r[0] == pytest.approx(1.0)
    assert abs(result["column"].top_r[0]) < 0.5  # nothing else is wired
    assert pearson(np.ones((4, 2)), np.arange(4.0)).tolist() == [0.0, 0.0]  # constant: r = 0


def test_label_selectivity_finds_the_class_neuron():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(3), 20)
    features = rng.normal(size=(60, 4))
    features[:, 1] += 3.0 * (labels == 2)
    result = label_selectivity(torch.tensor(features), torch.tensor(labels))
    assert result.f_statistic.argmax() == 1 and result.eta_squared.argmax() == 1
    assert result.best_class[1] == 2 and result.point_biserial[2].argmax() == 1
    assert 0.5 < result.eta_squared[1] <= 1
    np.testing.assert_allclose(result.class_means[2, 1], features[labels == 2, 1].mean())


def test_sequence_features_use_each_sequences_own_steps():
    hidden = torch.arange(12.0).view(4, 3, 1)  # step t, sequence b: 3t + b
    lengths = torch.tensor([4, 2, 1])
    assert sequence_features(hidden, "last", lengths)[:, 0].tolist() == [9, 4, 2]
    assert sequence_features(hidden, "mean", lengths)[:, 0].tolist() == [4.5, 2.5, 2]
    assert sequence_features(hidden, "max", lengths)[:, 0].tolist() == [9, 4, 2]


def test_partial_r_removes_what_only_time_explains_and_chance_is_the_misaligned_level():
    from indrnn.analysis.discovery import correlate_tracks, partial_on_step

    rng = np.random.default_rng(0)
    steps, batch = 300, 6
    t = np.arange(steps, dtype=float)[:, None].repeat(batch, 1)
    signal = rng.normal(size=(steps, batch))
    ramp = 0.01 * t + 0.05 * rng.normal(size=(steps, batch))  # grows with time only
    follower = signal + 0.1 * rng.normal(size=(steps, batch))
    states = np.stack([ramp, follower], axis=-1)
    since = t - 20.0  # "steps since a marker": a line in the step, undefined before it
    since[:20] = np.nan
    found = correlate_tracks(states, {"since": since, "signal": signal}, k=2)
    assert abs(found["since"].r[0]) > 0.95  # the ramp looks like it follows the track...
    assert np.abs(found["since"].partial_r).max() == 0  # ...and nothing is left without time
    assert found["signal"].partial_r[1] > 0.95 and abs(found["signal"].partial_r[0]) < 0.1
    # misaligned, the follower no longer follows; the ramp still "follows" a time track
    assert found["signal"].chance < 0.1 and found["since"].chance > 0.9
    flat = states.reshape(-1, 2)
    again = partial_on_step(flat, signal.reshape(-1), t.reshape(-1))
    np.testing.assert_allclose(again, found["signal"].partial_r, atol=0.02)  # one order, same r
