"""Interchange interventions: chosen neurons take their states on another input
(indrnn.interventions.StatePatch, indrnn.analysis.patching)."""

import pytest
import torch

import indrnn
from indrnn import IndRNN
from indrnn.analysis import interchange
from indrnn.analysis.patching import interchange_groups, slope_through_origin
from indrnn.data import load_task
from indrnn.explain import card_findings
from indrnn.interventions import StatePatch
from indrnn.sequence_model import SequenceModel


def _model(layers: int = 2, bidirectional: bool = False) -> SequenceModel:
    config = IndRNN(3, 6, num_layers=layers, bidirectional=bidirectional).config()
    torch.manual_seed(0)
    return SequenceModel({"architecture": "IndRNN", "config": config}, 2).eval()


def test_patching_with_the_base_own_states_changes_nothing():
    model = _model()
    x = torch.randn(4, 30, 3)
    result = interchange(model, x, x, "body.l1", [0, 3])
    assert torch.equal(result.patched, result.base)


def test_patching_every_neuron_of_the_last_layer_gives_the_source_output():
    model = _model()
    base, source = torch.randn(4, 30, 3), torch.randn(4, 30, 3)
    result = interchange(model, base, source, "body.l1", range(6))
    torch.testing.assert_close(result.patched, result.source)
    assert not torch.allclose(result.base, result.source)
    torch.testing.assert_close(result.share, torch.ones_like(result.share))


def test_a_window_patches_its_steps_and_the_neuron_runs_on_by_its_own_recurrence():
    model = _model(layers=1)
    rnn = model.body
    base, source = torch.randn(2, 20, 3), torch.randn(2, 20, 3)
    on_source = indrnn.record(model, source)["body.l0"].hidden
    with StatePatch(model, "body.l0", [4], on_source[:, :, [4]], window=(5, 9)):
        patched = indrnn.record(model, base)["body.l0"].hidden
    intact = indrnn.record(model, base)["body.l0"].hidden
    # Every other neuron of the layer is as it was; neuron 4 before the window too.
    others = [n for n in range(6) if n != 4]
    assert torch.equal(patched[:, :, others], intact[:, :, others])
    assert torch.equal(patched[:5, :, 4], intact[:5, :, 4])
    assert torch.equal(patched[5:9, :, 4], on_source[5:9, :, 4])
    # After the window: h_t = relu(W x_t + b + u h_{t-1}) from the last patched state.
    a = base.transpose(0, 1) @ rnn.weight_ih_l0[4] + rnn.bias_ih_l0[4]
    h = patched[8, :, 4]
    for t in range(9, 20):
        h = torch.relu(a[t] + rnn.weight_hh_l0[4] * h)
        torch.testing.assert_close(patched[t, :, 4], h)
    assert not torch.allclose(patched[9:, :, 4], intact[9:, :, 4])


def test_groups_share_one_run_of_each_input_and_agree_with_single_calls():
    model = _model()
    base, source = torch.randn(3, 25, 3), torch.randn(3, 25, 3)
    together = interchange_groups(model, base, source, "body.l0", [[1], [1, 2, 5]])
    for result, group in zip(together, ([1], [1, 2, 5])):
        alone = interchange(model, base, source, "body.l0", group)
        assert result.neurons == tuple(group)
        torch.testing.assert_close(result.patched, alone.patched)


def test_bad_requests_name_what_is_wrong():
    model = _model()
    x = torch.randn(2, 10, 3)
    with pytest.raises(ValueError, match="same shape"):
        interchange(model, x, torch.randn(2, 11, 3), "body.l0", [0])
    with pytest.raises(ValueError, match=r"not an IndRNN layer.*body\.l1"):
        interchange(model, x, x, "body.l7", [0])
    with pytest.raises(ValueError, match=r"neurons must be in 0\.\.5"):
        interchange(model, x, x, "body.l0", [6])
    with pytest.raises(ValueError, match="at least one neuron"):
        interchange(model, x, x, "body.l0", [])
    with pytest.raises(ValueError, match="window must satisfy"):
        interchange(model, x, x, "body.l0", [0], window=(4, 40))
    with pytest.raises(ValueError, match="backward direction"):
        interchange(_model(bidirectional=True), x, x, "body.l0_reverse", [0])


def test_the_slope_through_origin_reads_how_far_an_output_follows_a_value():
    change = torch.tensor([1.0, -2.0, 0.5])
    assert slope_through_origin(0.4 * change, change) == pytest.approx(0.4)
    assert slope_through_origin(torch.zeros(3), change) == 0.0


def test_the_adding_models_second_marker_holders_carry_the_value_they_are_said_to():
    """On the real adding T=100 model: patching the neurons its finding names from sequences
    whose second marked value differs moves the prediction by most of that difference."""
    torch.set_flush_denormal(True)
    checkpoint = indrnn.load("models/adding100_indrnn.json")
    finding = next(f for f in card_findings(checkpoint.card)
                   if f.kind == "marker" and "second" in f.claim)
    x = load_task("adding", seq_len=100).test.inputs[:64]
    rows = torch.arange(len(x))
    second = torch.stack([torch.nonzero(r[:, 1] > 0).flatten()[-1] for r in x])
    source = x.clone()
    source[rows, second, 0] = torch.rand(len(x))
    change = source[rows, second, 0] - x[rows, second, 0]
    result = interchange(checkpoint.model, x, source, finding.layer, finding.neurons)
    share = slope_through_origin(result.moved, change)
    assert share > 0.6
    assert share == pytest.approx(finding.evidence["interchange_share"], abs=0.15)
    # Patching as many other neurons of the layer moves it far less.
    others = [n for n in range(128) if n not in finding.neurons][:len(finding.neurons)]
    elsewhere = interchange(checkpoint.model, x, source, finding.layer, others)
    assert abs(slope_through_origin(elsewhere.moved, change)) < share / 3


def test_the_page_views_build_sources_and_say_what_is_carried():
    from indrnn.figures.patching import patch_bars, patch_states
    from indrnn.objectives import card_objective
    from indrnn.run import run_model
    from indrnn.views import patching as view

    torch.set_flush_denormal(True)
    checkpoint = indrnn.load("models/japanesevowels_indrnn.json")
    card = checkpoint.card
    objective = card_objective(load_task(card["task"], **card.get("task_kwargs", {})), card)
    held = objective.held_out(8)
    run = run_model(checkpoint.model, held.inputs, held.lengths, objective)
    steps = int(run.lengths[0])
    sources = view.held_out_sources(objective, steps)
    assert sources.inputs.shape[1] == steps and len(sources.labels) == len(sources.inputs)
    assert all("test sequence" in label and "(" in label for label in sources.labels)
    with pytest.raises(ValueError, match="step must be in 0"):
        view.edited_input(run, 0, view.ValueEdit(steps, 0, 1.0))
    same = view.patch_view(checkpoint.model, run, 0, "body.l1", [1, 2],
                           run.sequence_inputs(0), objective)
    assert view.carried_line(same) == ("The two inputs give the same output: there is no "
                                       "difference to carry.")
    other = view.patch_view(checkpoint.model, run, 0, "body.l1", list(range(64)),
                            sources.inputs[3:4], objective)
    assert "carry 100% of the difference" in view.carried_line(other)
    outputs, states = view.patch_figures(other)
    assert [t.name for t in outputs.data] == ["base", "source", "patched"]
    assert len(states.data) == 3 * 6  # six neurons drawn, three runs each
    with pytest.raises(ValueError, match="as many outputs"):
        patch_bars([1, 2], [1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="one shape"):
        patch_states(torch.zeros(5, 2), torch.zeros(5, 2), torch.zeros(4, 2), [0, 1])


def test_the_carried_line_says_saturated_probabilities_without_exponents():
    from indrnn.views.patching import _readable

    assert _readable(3.837e-284) == "< 0.001"
    assert _readable(-2e-9) == "> -0.001"
    assert _readable(0.0) == "0"
    assert _readable(0.64123) == "0.6412"
    assert _readable(1234.5) == "1234"
