"""The IndRNN vs LSTM and Ablation views' data helpers (no Streamlit)."""

from types import SimpleNamespace

import pytest
import torch

import indrnn
from indrnn import catalog
from indrnn.analysis import Ablation
from indrnn.data import load_task
from indrnn.objectives import Classification, LanguageModel, Regression, card_objective
from indrnn.run import run_held_out, run_model
from indrnn.sequence_model import SequenceModel
from indrnn.views.ablation import output_change
from indrnn.views.compare import gate_series
from indrnn.views.overview import input_view
from indrnn.views.predictions import predictions_side_by_side


def _task(class_names=None):
    """A task with only the description the views read (no data)."""
    return SimpleNamespace(info=SimpleNamespace(class_names=class_names, seq_len=None,
                                                output_range=None))


REGRESSION = Regression(_task())
CLASSES = Classification(_task(("a", "b", "c")))
LM = LanguageModel(_task(), window=10)


def _model(architecture="IndRNN", outputs=1, hidden=6, **kwargs):
    config = getattr(indrnn, architecture)(2 if "vocab_size" not in kwargs else 4, hidden,
                                           num_layers=2).config()
    torch.manual_seed(0)
    return SequenceModel({"architecture": architecture, "config": config}, outputs,
                         **kwargs).eval()


def _snapshot(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same(model, snapshot):
    return all(torch.equal(v, snapshot[k]) for k, v in model.state_dict().items())


# The helpers (no Streamlit).

def test_gate_series_gives_one_sequences_gates_or_one_units():
    model = _model("LSTM")
    run = run_model(model, torch.rand(2, 9, 2), torch.tensor([9, 5]))
    layer = run.layers_of_kind("lstm")[0]
    assert run.layers_of_kind("indrnn") == []
    gates = gate_series(run.layers[layer], 1, 5)
    assert list(gates) == ["input_gate", "forget_gate", "output_gate"]
    assert all(g.shape == (5, 6) for g in gates.values())
    unit = gate_series(run.layers[layer], 1, 5, unit=3)
    assert torch.equal(unit["forget_gate"], run.layers[layer]["forget_gate"][:5, 1, 3])
    indrnn_run = run_model(_model(), torch.rand(1, 4, 2))
    with pytest.raises(ValueError, match="LSTM"):
        gate_series(indrnn_run.layers["body.l0"], 0, 4)


def test_output_change_of_a_neuron_nobody_reads_is_zero_and_the_model_is_untouched():
    model = _model()
    with torch.no_grad():
        model.head.weight[0, 2] = 0.0
    before = _snapshot(model)
    run = run_model(model, torch.rand(2, 12, 2), objective=REGRESSION)
    nothing = output_change(model, run, 1, [Ablation("body.l1", (2,))], REGRESSION)
    assert not nothing.per_step and nothing.labels == ("output",)
    assert torch.equal(nothing.original, run.output[1])
    assert nothing.difference.abs().max() == 0
    something = output_change(model, run, 1, [Ablation("body.l1", (0, 1, 3, 4, 5))], REGRESSION)
    assert something.difference.abs().max() > 0
    assert _same(model, before)


def test_output_change_of_a_classifier_is_in_probabilities_of_its_own_steps():
    model = _model(outputs=3)
    x, lengths = torch.rand(2, 10, 2), torch.tensor([10, 6])
    run = run_model(model, x, lengths, CLASSES)
    change = output_change(model, run, 1, [Ablation("body.l0", (0,), "memory")], CLASSES)
    assert change.labels == ("a", "b", "c") and change.measure == "probability"
    assert torch.allclose(change.original, torch.softmax(run.output[1].double(), -1), atol=1e-6)
    assert change.ablated.sum().item() == pytest.approx(1.0)


def test_output_change_of_a_language_model_is_per_step_probability_of_the_next_symbol():
    model = _model(outputs=4, readout="every", vocab_size=4, embedding_dim=4)
    ids = torch.tensor([[0, 1, 2, 3, 2, 1, 0, 3]])
    run = run_model(model, ids)
    change = output_change(model, run, 0, [Ablation("body.l1", (0, 1))], LM)
    assert change.per_step and change.original.shape == (7,)
    expected = torch.softmax(run.output[0, :-1].double(), -1)[torch.arange(7), ids[0, 1:]]
    assert torch.allclose(change.original, expected, atol=1e-6)
    assert ((change.ablated >= 0) & (change.ablated <= 1)).all()


def test_predictions_side_by_side():
    model = _model(outputs=3)
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.weight[:, 4] = 1.0
    x = torch.rand(2, 5, 2)
    runs = {"one": run_model(model, x, objective=CLASSES),
            "two": run_model(_model(outputs=3), x, objective=CLASSES)}
    view = predictions_side_by_side(runs, 1, CLASSES, torch.tensor([2, 1]))
    assert view.probabilities and view.labels == ("a", "b", "c") and view.target == 1
    assert set(view.values) == {"one", "two"} and len(view.values["one"]) == 3
    value = predictions_side_by_side({"r": run_model(_model(), x, objective=REGRESSION)}, 0,
                                     REGRESSION, torch.tensor([[0.5], [1.5]]))
    assert not value.probabilities and value.target == (0.5,)


def _held_out(name, limit=2):
    checkpoint = catalog.load_model(name)
    task = load_task(checkpoint.card["task"], **checkpoint.card.get("task_kwargs", {}))
    objective = card_objective(task, checkpoint.card)
    return run_held_out(checkpoint.model, objective, limit=limit), objective


def test_the_overview_draws_each_input_as_what_it_is():
    torch.set_flush_denormal(True)
    run, objective = _held_out("adding100_indrnn")
    series = input_view(run, objective, 1)
    names = [trace.name for trace in series.figure.data]
    assert names[:2] == ["value", "marker"] and names[-1] == "events"
    markers = torch.nonzero(run.inputs[1, :, 1] > 0).flatten().tolist()
    assert list(series.figure.data[-1].x) == markers and len(markers) == 2
    assert f"{float(run.inputs[1, markers[0], 0]):.3f}" in series.figure.data[-1].text[0]
    assert "2 marked" in series.caption
    run, objective = _held_out("mnist5k_indrnn")
    image = input_view(run, objective)
    assert image.figure.data[0].type == "heatmap" and image.text is None
    assert len(image.figure.data[0].z) == 28 and "784 pixels" in image.caption
    run, objective = _held_out("chars_indrnn")
    text = input_view(run, objective)
    assert text.figure is None and text.text == objective.texts(run.inputs[:1])[0][:3000]
    run, objective = _held_out("basicmotions_indrnn")
    motions = input_view(run, objective)
    assert [t.name for t in motions.figure.data] == list(objective.info.channel_names)


def test_gates_that_barely_move_are_said_and_drawn_over_their_own_range():
    from indrnn.views.compare import gate_figures

    run, _ = _held_out("adding1000_lstm", limit=1)
    gates = gate_figures(run, "body.l0", 0, 0)
    axis = gates.all_units.layout.coloraxis
    assert gates.note and "barely move" in gates.note
    assert 0.0 < axis.cmin < axis.cmax < 1.0 and axis.cmax - axis.cmin < 0.5
    assert "only" in axis.colorbar.title.text
    run, _ = _held_out("japanesevowels_lstm", limit=4)
    moving = gate_figures(run, "body.l0", 0, 0)  # gates that open and close: the 0-1 scale
    assert not moving.note
    assert (moving.all_units.layout.coloraxis.cmin, moving.all_units.layout.coloraxis.cmax) == (
        0.0, 1.0)


def test_the_neuron_picker_names_the_layer_in_its_hover_and_spreads_u_near_one():
    from indrnn.views.neurons import U_AXES, near_one, neuron_table, picker_scatter

    run, _ = _held_out("adding1000_indrnn", limit=1)
    model = catalog.load_model("adding1000_indrnn").model
    table = neuron_table(model, run, "body.l1")
    assert near_one(table["u"])  # the T = 1,000 model's memory neurons sit at u ≈ 1
    linear, spread = (picker_scatter(run, "body.l1", table, axis) for axis in U_AXES)
    assert linear.data[0].name == spread.data[0].name == "body.l1"
    assert spread.data[0].hovertemplate.startswith("body.l1 neuron %{customdata}")
    assert spread.layout.xaxis.type == "log" and linear.layout.xaxis.type != "log"


def test_a_regression_target_prints_as_a_number_rounded_as_the_prediction():
    from indrnn.views.predictions import prediction_lines

    checkpoint = catalog.load_model("adding100_indrnn")
    card = checkpoint.card
    objective = card_objective(load_task(card["task"], **card["task_kwargs"]), card)
    split = objective.task.test
    run = run_model(checkpoint.model, split.inputs[:2], None, objective)
    targets = split.targets[:2]
    lines = prediction_lines(run, objective, targets)
    assert len(lines) == 2
    target = float(targets[0].reshape(-1)[0])
    assert lines[0].endswith(f" — target {target:.4f}"), lines[0]
    assert "[" not in lines[0] and "e-" not in lines[0], lines[0]


def test_findings_side_by_side_put_what_the_units_hold_first_and_say_why_when_none():
    from indrnn.explain import Finding
    from indrnn.views.compare import findings_side_by_side

    effect = Finding("body.l1", (3,), "Silencing neuron 3 of body.l1 takes ...", kind="effect")
    marker = Finding("body.l1", (4,), "Neuron 4 of body.l1 holds the first ...", kind="marker")
    code = Finding("body.l1", (5,), "Neuron 5 of body.l1 follows ...", kind="code")
    shown = findings_side_by_side({"a": [effect, code, marker], "b": [], "c": None}, most=2)
    assert shown["a"] == [marker.claim, effect.claim]
    assert shown["b"][0].startswith("No finding") and "not made yet" in shown["c"][0]


def test_the_overview_gives_the_test_metric_over_training_seeds_where_the_card_has_it():
    from indrnn.views.overview import seed_spread_lines

    card = {"metrics": {"seed_spread": {"metric": "accuracy", "test": [0.9, 1.0, 0.95],
                                        "command": "python scripts/seed_spread.py x --write"}}}
    (line,) = seed_spread_lines(card)
    assert line.startswith("**Over 3 training seeds**: test accuracy 0.95 ± 0.05, from 0.9 to 1")
    assert line.endswith("this recipe retrained once per seed (`scripts/seed_spread.py`)")
    assert seed_spread_lines({"metrics": {"seed_spread": {"test": [0.9]}}}) == []
    assert seed_spread_lines({"metrics": {"test": {"accuracy": 0.9}}}) == []
