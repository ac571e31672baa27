"""Memory from u (τ, half-life, flags, bounds) and from LSTM forget gates; layer lookup."""

import math

import pytest
import torch

import indrnn
from indrnn.analysis.locate import find_indrnn_layer, indrnn_layers
from indrnn.analysis.memory import (
    forget_memory,
    half_life,
    indrnn_decay,
    indrnn_memory,
    lstm_memory,
    neuron_flags,
    paper_bounds,
    time_constant,
)
from indrnn.record import LayerRecord
from indrnn.sequence_model import SequenceModel


def test_time_constant_and_half_life_of_given_u():
    u = torch.tensor([0.0, 0.5, -0.5, math.exp(-0.1), 1.0, -1.2], dtype=torch.float64)
    inf = math.inf
    torch.testing.assert_close(time_constant(u), torch.tensor(
        [0.0, 1 / math.log(2), 1 / math.log(2), 10.0, inf, inf], dtype=torch.float64))
    torch.testing.assert_close(half_life(u), torch.tensor(
        [0.0, 1.0, 1.0, 10 * math.log(2), inf, inf], dtype=torch.float64))
    # a trace really halves over one half-life: |u|^half_life = 0.5
    assert 0.9 ** half_life(torch.tensor(0.9, dtype=torch.float64)).item() == pytest.approx(0.5)


def test_paper_bounds():
    bounds = paper_bounds(1000, gamma=2.0, epsilon=0.5)
    assert bounds.upper == pytest.approx(1.000693, abs=1e-6)
    assert bounds.lower == pytest.approx(0.999307, abs=1e-6)
    assert paper_bounds(100).upper == pytest.approx(5 ** 0.01)
    with pytest.raises(ValueError):
        paper_bounds(0)


def test_flags_from_u_activity_and_bounds():
    u = torch.tensor([0.0, -0.3, 1.05, 0.99, 0.5, 0.0])
    hidden = torch.zeros(5, 2, 6)
    hidden[3, 1, [0, 1, 2, 3]] = 1.0  # neurons 4 and 5 never fire
    weight = torch.ones(6, 2)
    weight[5] = 0.0  # neuron 5: no input weight and no u
    flags = neuron_flags(u, hidden=hidden, weight_ih=weight, recurrent_max=0.99,
                         recurrent_min=0.5)
    assert flags.dead.tolist() == [False, False, False, False, True, True]
    assert flags.sign_flipping.tolist() == [False, True, False, False, False, False]
    assert flags.no_memory.tolist() == [True, False, False, False, False, True]
    assert flags.exploding.tolist() == [False, False, True, False, False, False]
    assert flags.saturating.tolist() == [False, False, True, True, False, False]
    assert flags.at_lower_bound.tolist() == [True, True, False, False, True, True]
    assert not neuron_flags(u, weight_ih=weight).dead[0]  # u = 0 but it does read its input


@pytest.mark.parametrize("architecture, config", [
    ("IndRNN", {"input_size": 2, "hidden_size": 3, "num_layers": 2, "bidirectional": True}),
    ("PlainIndRNN", {"input_size": 2, "hidden_size": 3, "num_layers": 2}),
    ("ResIndRNN", {"input_size": 2, "hidden_size": 3, "num_blocks": 1}),
    ("DenseIndRNN", {"input_size": 2, "growth_rate": 2, "blocks": [1, 1], "bottleneck": 1}),
])
def test_layers_are_found_under_their_recorded_names(architecture, config):
    model = SequenceModel({"architecture": architecture, "config": config}, 1).eval()
    recorded = indrnn.record(model, torch.rand(2, 5, 2)).layers
    found = indrnn_layers(model)
    assert set(found) == set(recorded)
    for name, ref in found.items():
        assert torch.equal(ref.u.detach(), recorded[name]["recurrent_weight"])
    with pytest.raises(KeyError, match="known"):
        find_indrnn_layer(model, "body.nope")


def test_memory_of_every_layer_reads_u_and_the_modules_bounds():
    config = indrnn.PlainIndRNN(2, 4, num_layers=2, recurrent_max=0.9,
                                last_layer_recurrent_min=0.6).config()
    model = SequenceModel({"architecture": "PlainIndRNN", "config": config}, 1)
    with torch.no_grad():
        model.body.layers[0].weight.weight.abs_()  # every neuron fires on positive input
        model.body.layers[0].recurrence.weight_hh.copy_(torch.tensor([0.0, 0.5, 0.9, -0.2]))
        model.body.layers[0].weight.weight[0] = 0.0
    x = torch.rand(3, 6, 2)
    memory = indrnn_memory(model, seq_len=100, recording=indrnn.record(model, x))
    first, last = memory["body.layers.0.recurrence"], memory["body.layers.1.recurrence"]
    assert (first.recurrent_min, first.recurrent_max) == (None, 0.9)
    assert (last.recurrent_min, last.recurrent_max) == (0.6, 0.9)
    assert first.bounds.upper == pytest.approx(5 ** 0.01) and first.nonlinearity == "relu"
    torch.testing.assert_close(first.half_life[1], torch.tensor(1.0))
    assert first.flags.dead.tolist() == [True, False, False, False]
    assert first.flags.saturating.tolist() == [False, False, True, False]
    assert ((last.u.abs() >= 0.6) & (last.u.abs() <= 0.9)).all()
    with torch.no_grad():
        model.body.layers[0].weight.weight[1].fill_(-1.0)  # never fires on positive input
        model.body.layers[0].weight.bias.zero_()
    assert not indrnn_memory(model)["body.layers.0.recurrence"].flags.dead[1]
    again = indrnn_memory(model, recording=indrnn.record(model, x))
    assert again["body.layers.0.recurrence"].flags.dead.tolist() == [True, True, False, False]


def test_indrnn_decay_is_u_to_the_k():
    decay = indrnn_decay(torch.tensor([0.5, -1.0]), 3)
    torch.testing.assert_close(decay, torch.tensor([[1, 0.5, 0.25, 0.125], [1, -1, 1, -1.0]]))


def test_lstm_memory_from_forget_gates():
    forget = torch.full((6, 2, 3), 0.5)
    forget[:, :, 1] = math.exp(-0.25)
    forget[:, 1, 2], forget[:, 0, 2] = 0.9, 0.7  # mean 0.8
    forget[4:, 1] = 0.0  # padding, left out by lengths
    record = LayerRecord("body.l0", "lstm", torch.zeros(6, 2, 3), {"forget_gate": forget})
    memory = lstm_memory(record, lengths=torch.tensor([6, 4]))
    torch.testing.assert_close(memory.mean_forget, torch.tensor([0.5, math.exp(-0.25), 0.78]))
    torch.testing.assert_close(memory.tau[:2], torch.tensor([1 / math.log(2), 4.0]))
    lags = forget_memory(record, end=5, max_lag=2)
    torch.testing.assert_close(lags[0, 0], torch.tensor([1.0, 0.5, 0.25]))
    back = forget_memory(LayerRecord("l0_reverse", "lstm", record.hidden, record.tensors), 1)
    torch.testing.assert_close(back[1, 2], torch.tensor([1.0, 0.9, 0.81, 0.729, 0.0]))


def test_a_narrow_range_flags_only_the_neurons_against_its_bounds():
    # the adding T=1000 recipe's last layer: |u| in [0.5^(1/1000), 2^(1/1000)], 1.4e-3 wide
    low, high = 0.5 ** (1 / 1000), 2 ** (1 / 1000)
    u = torch.tensor([low, low + 2e-4, (low + high) / 2, high - 2e-4, high])
    flags = neuron_flags(u, recurrent_min=low, recurrent_max=high)
    assert flags.at_lower_bound.tolist() == [True, False, False, False, False]
    assert flags.saturating.tolist() == [False, False, False, False, True]
