"""indrnn.analysis.influence: silent neurons, and influence through the readout or the next
layer."""

from types import SimpleNamespace

import torch

import indrnn
from indrnn.analysis import neuron_influence, readout_layer
from indrnn.objectives import Regression
from indrnn.run import run_model
from indrnn.sequence_model import SequenceModel

REGRESSION = Regression(SimpleNamespace(info=SimpleNamespace(class_names=None, seq_len=None,
                                                             output_range=None)))


def _model(hidden=6, layers=2):
    config = indrnn.IndRNN(2, hidden, num_layers=layers).config()
    torch.manual_seed(0)
    model = SequenceModel({"architecture": "IndRNN", "config": config}, 1).eval()
    with torch.no_grad():
        for name, parameter in model.body.named_parameters():
            if name.startswith("weight_ih"):
                parameter.abs_()  # every neuron active on positive input...
        model.body.weight_ih_l0[1].fill_(-1.0)  # ...but neuron 1 of layer 0: never above 0
        model.body.bias_ih_l0[1] = -1.0
        model.head.weight.fill_(0.1)
        model.head.weight[0, 4] = 5.0  # neuron 4 of the last layer dominates the readout
        model.head.weight[0, 3] = 50.0  # neuron 3 would, but it is silenced below
        model.body.weight_ih_l1[3].fill_(-1.0)
        model.body.bias_ih_l1[3] = -1.0
    return model


def test_the_readout_layer_opens_on_its_strongest_neuron_that_is_not_silent():
    model = _model()
    run = run_model(model, torch.rand(3, 9, 2) + 0.1, objective=REGRESSION)
    assert readout_layer(run) == "body.l1"
    found = neuron_influence(model, run, "body.l1")
    assert found.basis == "the readout"
    assert found.silent.tolist() == [False, False, False, True, False, False]
    assert found.strongest == 4  # 3 has the largest weight, but is 0 at every step
    assert found.influence[3] == 0
    assert "neuron 4 of body.l1" in found.reason(4) and "1 of the layer's 6" in found.reason(4)


def test_a_lower_layer_is_weighed_by_the_next_layers_input_weights():
    model = _model()
    with torch.no_grad():
        model.body.weight_ih_l1[:, 5] *= 100.0  # layer 1 reads neuron 5 of layer 0 strongly
    run = run_model(model, torch.rand(2, 7, 2) + 0.1, objective=REGRESSION)
    found = neuron_influence(model, run, "body.l0")
    assert found.basis == "body.l1's input weights"
    assert found.silent.tolist() == [False, True, False, False, False, False]
    assert found.strongest == 5
    expected = run.layers["body.l0"].hidden.abs().mean((0, 1)) * \
        model.body.weight_ih_l1.detach().norm(dim=0)
    torch.testing.assert_close(found.influence, expected)


def test_padded_steps_do_not_count_and_an_all_silent_layer_opens_on_neuron_0():
    model = _model()
    x = torch.rand(2, 8, 2) + 0.1
    run = run_model(model, x, torch.tensor([8, 3]), objective=REGRESSION)
    hidden = run.layers["body.l1"].hidden
    valid = torch.zeros_like(hidden)
    valid[:8, 0], valid[:3, 1] = 1, 1
    expected = (hidden.abs() * valid).sum((0, 1)) / 11 * model.head.weight.detach().norm(dim=0)
    torch.testing.assert_close(neuron_influence(model, run, "body.l1").influence, expected)
    with torch.no_grad():
        model.body.weight_ih_l1.fill_(-1.0)
        model.body.bias_ih_l1.fill_(-1.0)
    silent = neuron_influence(model, run_model(model, x, objective=REGRESSION), "body.l1")
    assert bool(silent.silent.all()) and silent.strongest == 0
