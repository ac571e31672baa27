"""indrnn.run: warnings when a number is not to be trusted (too long an input, outputs outside
the training targets' range), and predictions that say so."""

import torch

from indrnn import catalog
from indrnn.data import load_task
from indrnn.objectives import objective_for
from indrnn.record import LayerRecord
from indrnn.run import length_warning, run_model, value_warnings


def _layers(values):
    return {"body.l0": LayerRecord("body.l0", "indrnn", torch.tensor(values).reshape(-1, 1, 1))}


def test_an_input_longer_than_training_is_named_with_both_lengths():
    said = length_warning(torch.tensor([20_000, 300]), 5_000)
    assert said and "20,000 steps" in said and "sequences of 5,000" in said
    assert length_warning(torch.tensor([5_000]), 5_000) is None
    assert length_warning(torch.tensor([9]), None) is None


def test_outputs_outside_the_training_targets_range_are_flagged_with_the_farthest():
    layers = _layers([0.5, 0.2])
    inside = value_warnings(torch.tensor([[0.0], [2.0]]), layers, 1000, (0.0, 2.0))
    assert inside == []
    said = value_warnings(torch.tensor([[-463.0], [2.5], [1.0]]), layers, 1000, (0.0, 2.0))
    assert len(said) == 1 and "2 output values outside [0, 2]" in said[0]
    assert "-463" in said[0]
    assert value_warnings(torch.tensor([[-463.0]]), layers, 1000) == []  # no range, no flag


def test_the_t1000_adding_model_on_a_5000_step_input_warns_and_says_so_in_its_prediction():
    torch.set_flush_denormal(True)
    model = catalog.load_model("adding1000_indrnn").model
    task = load_task("adding", seq_len=5000)
    assert task.info.output_range == (0.0, 2.0)
    objective_1000 = objective_for(load_task("adding", seq_len=1000))
    run = run_model(model, task.test.inputs[:1], objective=objective_1000)
    assert any("5,000 steps" in w and "1,000" in w for w in run.warnings), run.warnings
    value = run.predictions[0].values[0]
    outside = not 0.0 <= value <= 2.0
    assert ("outside [0, 2]" in run.predictions[0].text) == outside
    assert any("outside [0, 2]" in w for w in run.warnings) == outside
    plain = run_model(model, objective_1000.task.test.inputs[:1], objective=objective_1000)
    assert not plain.warnings and "outside" not in plain.predictions[0].text
