"""Ablation: silencing a neuron nobody reads changes nothing; u = 0 leaves a memoryless neuron."""

import pytest
import torch

import indrnn
from indrnn.analysis.ablation import (
    Ablation,
    ablated_copy,
    ablation_metrics,
    ablations_applied,
    compare_outputs,
    rank_neurons,
)
from indrnn.data import load_adding
from indrnn.objectives import Batch, objective_for
from indrnn.sequence_model import SequenceModel


def _model(architecture="IndRNN", hidden=4, layers=1):
    cls = getattr(indrnn, architecture)
    config = cls(2, hidden, num_layers=layers).config()
    torch.manual_seed(0)
    model = SequenceModel({"architecture": architecture, "config": config}, 1).eval()
    with torch.no_grad():
        model.head.weight[0, 2] = 0.0  # neuron 2 of the last layer is read by nobody
        for name, parameter in model.body.named_parameters():
            if name.startswith("weight_ih"):
                parameter.abs_()  # every neuron active on positive input
    return model


def _input(batch=3, steps=12):
    torch.manual_seed(1)
    return torch.rand(batch, steps, 2)


def _snapshot(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_silencing_a_neuron_with_zero_output_weight_changes_nothing():
    model, x = _model(), _input()
    before = _snapshot(model)
    same = compare_outputs(model, x, [Ablation("body.l0", (2,))])
    assert torch.equal(same.ablated, same.original)
    changed = compare_outputs(model, x, [Ablation("body.l0", (0, 1, 3))])
    assert changed.difference.abs().max() > 1e-4  # neurons that are read do matter
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key])  # the shared model is untouched
    silenced = indrnn.record(ablated_copy(model, [Ablation("body.l0", (2,))]), x)["body.l0"]
    assert silenced.hidden[..., 2].abs().max() == 0
    assert (indrnn.record(model, x)["body.l0"].hidden[..., 2] > 0).any()


def test_removing_memory_leaves_the_memoryless_response():
    model, x = _model(), _input()
    ablated = ablated_copy(model, [Ablation("body.l0", (1,), mode="memory")])
    original = indrnn.record(model, x)["body.l0"]
    rec = indrnn.record(ablated, x)["body.l0"]
    torch.testing.assert_close(rec.hidden[..., 1], torch.relu(original["input_projection"][..., 1]))
    torch.testing.assert_close(rec.hidden[..., [0, 2, 3]], original.hidden[..., [0, 2, 3]])
    assert not torch.allclose(rec.hidden[..., 1], original.hidden[..., 1])


def test_deep_network_neurons_are_silenced_through_their_recurrence():
    torch.manual_seed(0)
    config = indrnn.PlainIndRNN(2, 4, num_layers=2, batch_norm="after").config()
    model = SequenceModel({"architecture": "PlainIndRNN", "config": config}, 1).eval()
    with torch.no_grad():
        model.body.layers[1].weight.weight[:, 3] = 0.0  # layer 1 ignores layer 0's neuron 3
    x = _input()
    ablation = [Ablation("body.layers.0.recurrence", (3,))]
    rec = indrnn.record(ablated_copy(model, ablation), x)["body.layers.0.recurrence"]
    assert rec.hidden[..., 3].abs().max() == 0 and rec.hidden[..., :3].abs().max() > 0
    assert torch.equal(compare_outputs(model, x, ablation).difference, torch.zeros(3, 1))
    other = [Ablation("body.layers.0.recurrence", (0, 1, 2))]
    assert compare_outputs(model, x, other).difference.abs().max() > 1e-4


def _run_ablated(model, ablations, x):
    with ablations_applied(model, ablations):
        return model(x)


def test_context_manager_restores_parameters_and_hooks():
    torch.manual_seed(0)
    config = indrnn.PlainIndRNN(2, 4, num_layers=1).config()
    model = SequenceModel({"architecture": "PlainIndRNN", "config": config}, 1).eval()
    x, before = _input(), _snapshot(model)
    out = model(x)[0]
    with ablations_applied(model, [Ablation("body.layers.0.recurrence", (0, 1, 2, 3))]):
        assert torch.equal(model(x)[0], model.head.bias.expand(3, 1))  # every neuron silent
    assert torch.equal(model(x)[0], out)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    ablations = [Ablation("body.layers.0.recurrence", (0,)), Ablation("nope", (0,))]
    with pytest.raises(KeyError, match="no IndRNN layer 'nope'"):
        _run_ablated(model, ablations, x)
    assert torch.equal(model(x)[0], out)  # undone after a half-applied failure too


def test_ranking_puts_the_unread_neuron_last():
    model, x = _model(hidden=5), _input()
    ranking = rank_neurons(model, x, "body.l0")
    assert ranking.neurons[-1] == 2 and ranking.impact[-1] == 0
    assert (ranking.impact[:-1] > 0).all() and (ranking.impact.diff() <= 0).all()


def test_metrics_and_loss_ranking_on_held_out_adding_data():
    model = _model()
    task = load_adding(seq_len=12, test_size=8, valid_size=2)
    objective = objective_for(task)
    result = ablation_metrics(model, objective, [Ablation("body.l0", (2,))], limit=8)
    assert result.change == {"mse": 0.0} and result.original == result.ablated
    hit = ablation_metrics(model, objective, [Ablation("body.l0", (0, 1, 3))], limit=8)
    assert hit.change["mse"] == pytest.approx(hit.ablated["mse"] - hit.original["mse"])
    assert hit.change["mse"] != 0
    batch = Batch(task.test.inputs, task.test.targets)
    ranking = rank_neurons(model, batch, "body.l0", objective=objective, neurons=[2, 0])
    assert set(ranking.neurons.tolist()) == {0, 2}
    assert ranking.impact[ranking.neurons.tolist().index(2)] == 0


def _one_run_per_neuron(model, x, layer, mode, neurons):
    """The ranking's definition, the slow way: ablate a copy neuron by neuron."""
    with torch.no_grad():
        base = model(x)[0]
        impact = [float((ablated_copy(model, [Ablation(layer, (n,), mode)])(x)[0] - base)
                        .abs().mean()) for n in neurons]
    return torch.tensor(impact, dtype=torch.float64)


@pytest.mark.parametrize("mode", ["silence", "memory"])
@pytest.mark.parametrize("architecture", ["IndRNN", "ResIndRNN", "DenseIndRNN"])
def test_batched_ranking_equals_one_model_run_per_neuron(architecture, mode):
    cls = getattr(indrnn, architecture)
    kwargs = {"IndRNN": {"num_layers": 2}, "ResIndRNN": {"num_blocks": 1},
              "DenseIndRNN": {"blocks": (1, 1)}}[architecture]
    body = cls(2, 6, **kwargs)
    torch.manual_seed(3)
    model = SequenceModel({"architecture": architecture, "config": body.config()}, 2).eval()
    x = torch.rand(3, 15, 2)
    from indrnn.record import record

    layers = list(record(model, x).layers)
    for layer in (layers[0], layers[-1]):
        seen: list[tuple[int, int]] = []
        ranking = rank_neurons(model, x, layer, mode=mode,
                               progress=lambda done, total, seen=seen: seen.append((done, total)))
        size = ranking.neurons.numel()
        expected = _one_run_per_neuron(model, x, layer, mode, range(size))
        got = torch.empty(size, dtype=torch.float64)
        got[ranking.neurons] = ranking.impact
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=2e-6)  # float32 rounding
        assert seen and seen[-1] == (size, size)


def test_batched_ranking_leaves_the_model_untouched_and_names_a_missing_layer():
    model, x = _model(hidden=5), _input()
    before = _snapshot(model)
    rank_neurons(model, x, "body.l0", mode="memory")
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    with pytest.raises((KeyError, ValueError), match=r"body\.l7"):
        rank_neurons(model, x, "body.l7")


def test_lstm_units_are_silenced_and_lose_their_memory_through_their_gates():
    """An LSTM unit is silenced by shutting its output gate (h = 0 exactly, in the fused
    kernel as in the recorded gate path) and loses its memory with its forget gate shut."""
    from indrnn.analysis._common import model_output

    torch.manual_seed(0)
    model = SequenceModel({"architecture": "LSTM",
                           "config": indrnn.LSTM(3, 8, num_layers=2).config()}, 2).eval()
    x = torch.randn(4, 30, 3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    base = model_output(model(x))
    with ablations_applied(model, [Ablation("body.l1", (2, 5), "silence")]):
        recorded = indrnn.record(model, x)
        assert recorded["body.l1"].hidden[..., [2, 5]].abs().max() == 0
        assert recorded["body.l1"].hidden[..., 0].abs().max() > 0
        fused = model_output(model(x))
        torch.testing.assert_close(fused, model_output(recorded.output))
        assert (fused - base).abs().max() > 0
    with ablations_applied(model, [Ablation("body.l0", (1,), "memory")]):
        gates = indrnn.record(model, x)["body.l0"].tensors
        assert gates["forget_gate"][..., 1].abs().max() == 0
        torch.testing.assert_close(gates["cell"][..., 1],
                                   gates["input_gate"][..., 1] * gates["cell_candidate"][..., 1])
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    ranked = rank_neurons(model, x, "body.l1")
    assert sorted(ranked.neurons.tolist()) == list(range(8))
    with pytest.raises(KeyError, match=r"known: body\.l0, body\.l1"):
        rank_neurons(model, x, "body.l9")
