"""Gate saturation on constructed gates; downsampling keeps spikes; layer activity."""

import numpy as np
import pytest
import torch

import indrnn
from indrnn.analysis.downsample import activity_summaries, downsample, layer_activity
from indrnn.analysis.saturation import gate_saturation
from indrnn.record import LayerRecord


def test_gate_saturation_fractions_on_constructed_gates():
    gate = torch.full((10, 2, 2), 0.5)
    gate[:3, :, 0], gate[8:, :, 0] = 0.05, 0.95  # unit 0: 30 % closed, 20 % open
    gate[:, :, 1] = 0.1  # exactly at the threshold: not saturated
    gate[5:, 1, 1] = 0.0  # padding of sequence 1 (length 5): left out
    gates = {"input_gate": gate, "forget_gate": 1 - gate, "output_gate": gate}
    result = gate_saturation(gates, lengths=torch.tensor([10, 5]))
    assert result["input_gate"].left.tolist() == pytest.approx([0.4, 0.0])
    assert result["input_gate"].right.tolist() == pytest.approx([2 / 15, 0.0])
    assert result["forget_gate"].right.tolist() == pytest.approx([0.4, 0.0])
    unpadded = gate_saturation(gates)["input_gate"]
    assert unpadded.left.tolist() == pytest.approx([0.3, 0.25])
    assert unpadded.right.tolist() == pytest.approx([0.2, 0.0])


def test_gate_saturation_of_a_recorded_lstm():
    lstm = indrnn.LSTM(2, 3)
    rec = indrnn.record(lstm, torch.randn(6, 2, 2) * 10)["l0"]
    result = gate_saturation(rec)
    expected = (rec["forget_gate"] > 0.9).double().mean((0, 1))
    torch.testing.assert_close(result["forget_gate"].right, expected)
    assert set(result) == {"input_gate", "forget_gate", "output_gate"}


def test_downsampling_keeps_a_single_spike():
    matrix = np.zeros((3, 1000))
    matrix[1, 777] = 5.0
    matrix[2, 3] = -7.0
    small = downsample(torch.tensor(matrix), 64)
    assert small.maximum.shape == (3, 64) and small.starts[0] == 0 and small.ends[-1] == 1000
    assert (small.starts[1:] == small.ends[:-1]).all()
    assert set(np.diff(np.r_[small.starts, 1000]).tolist()) <= {15, 16}
    bucket = np.flatnonzero((small.starts <= 777) & (small.ends > 777))[0]
    assert small.maximum[1, bucket] == 5.0 and small.maximum[1].sum() == 5.0
    assert small.minimum[2, 0] == -7.0 and small.peak[2, 0] == -7.0 and small.peak[1, bucket] == 5
    whole = downsample(matrix, 5000)
    assert np.array_equal(whole.maximum, matrix) and np.array_equal(whole.minimum, matrix)


def test_layer_activity():
    hidden = torch.zeros(4, 2, 3)
    hidden[:, :, 0] = 1.0
    hidden[0, 0, 1] = 2.0
    hidden[3, 1, 2] = 5.0  # past sequence 1's length 3: ignored
    layer = LayerRecord("l0", "indrnn", hidden)
    summary = layer_activity(layer, lengths=torch.tensor([4, 3]))
    assert summary.fraction_active.tolist() == pytest.approx([1.0, 1 / 7, 0.0])
    assert summary.dead.tolist() == [False, False, True]
    assert summary.fraction_dead == pytest.approx(1 / 3)
    assert summary.mean.tolist() == pytest.approx([1.0, 2 / 7, 0.0])
    rnn = indrnn.IndRNN(2, 3, num_layers=2)
    summaries = activity_summaries(indrnn.record(rnn, torch.rand(5, 1, 2)))
    assert list(summaries) == ["l0", "l1"]
