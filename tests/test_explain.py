"""indrnn.explain: findings discovered on the validation split, reported on the test split, each
with the metric as trained and with its neurons silenced, rechecked here independently."""

import copy
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from indrnn import explain as E
from indrnn.analysis.causal import group_effect, metric_with, smallest_group
from indrnn.analysis.probes import probe
from indrnn.checkpoint import load
from indrnn.data import load_task
from indrnn.objectives import card_objective


@pytest.fixture(scope="module")
def adding():
    torch.set_flush_denormal(True)
    checkpoint = load("models/adding1000_indrnn")
    card = checkpoint.card
    return checkpoint, card_objective(load_task(card["task"], **card["task_kwargs"]), card)


@pytest.fixture(scope="module")
def adding_findings(adding):
    return E.explain(adding[0], data=adding[1])


def test_a_probe_finds_a_linear_quantity_and_its_chance_level_stays_near_zero():
    generator = np.random.default_rng(0)
    states = generator.normal(size=(400, 3))
    track = states @ np.array([1.0, -2.0, 0.5]) + 0.01 * generator.normal(size=400)
    held = probe(states[:200], track[:200], states[200:], track[200:])
    assert held.r2 > 0.99 and abs(held.chance) < 0.1
    noise = probe(states[:200], generator.normal(size=200), states[200:],
                  generator.normal(size=200))
    assert noise.r2 < 0.1 and noise.above_chance < 0.1


def test_silencing_no_neuron_is_the_model_as_trained(adding):
    checkpoint, objective = adding
    intact = metric_with(checkpoint.model, objective, "body.l1", (), split="test", limit=50)
    assert intact == pytest.approx(objective.evaluate(checkpoint.model, "test", 50)["mse"])


def test_the_smallest_group_does_most_of_the_damage_of_its_pool(adding):
    checkpoint, objective = adding
    found = smallest_group(checkpoint.model, objective, "body.l1", limit=50)
    assert 1 <= len(found.neurons) <= 8 and found.damage > 0
    rescored = group_effect(checkpoint.model, objective, "body.l1", found.neurons, limit=50)
    assert rescored.edited == pytest.approx(found.edited)  # the group scores what it says


def test_the_adding_models_top_finding_holds_when_recomputed_by_zeroing_readout_columns(
        adding, adding_findings):
    checkpoint, objective = adding
    top = adding_findings[0]
    assert top.layer == "body.l1" and top.metric == "mse" and top.silenced > 10 * top.intact
    # Independently: the readout reads body.l1's last state; zero those neurons' columns of it.
    model = copy.deepcopy(checkpoint.model)
    with torch.no_grad():
        model.head.weight[:, list(top.neurons)] = 0
    test = objective.task.test  # the findings' test sequences: spread over the split
    index = torch.linspace(0, len(test) - 1, E.Budget().sequences(objective, "verify"))
    inputs, targets = test.inputs[index.round().long()], test.targets[index.round().long()]
    silenced = F.mse_loss(model(inputs)[0], targets).item()
    intact = F.mse_loss(checkpoint.model(inputs)[0], targets).item()
    assert intact == pytest.approx(top.intact, rel=1e-4)
    assert silenced / intact == pytest.approx(top.silenced / top.intact, rel=1e-3)


def test_the_adding_model_says_which_neurons_hold_the_first_marker_and_for_how_long(
        adding_findings):
    markers = [f for f in adding_findings if f.kind == "marker"]
    first = next(f for f in markers if "first marked value" in f.claim)
    assert first.evidence["probe_r2"] > first.evidence["probe_r2_chance"] + 0.3
    assert first.evidence["steps_held_mean"] > 500  # the first marker is in the first half
    assert first.silenced > first.intact
    assert f"{first.evidence['probe_r2']:.2f}" in first.claim


def test_findings_survive_a_round_trip_through_json(adding_findings):
    for finding in adding_findings:
        again = E.Finding.from_dict(json.loads(json.dumps(finding.as_dict())))
        assert again.neurons == finding.neurons and again.claim == finding.claim
        assert again.silenced == pytest.approx(finding.silenced, rel=1e-4)


def test_the_command_line_prints_the_findings(capsys):
    torch.set_flush_denormal(True)
    assert E.main(["models/adding100_indrnn", "--top", "2"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed and printed[0].startswith("1. ") and "test MSE" in printed[0]


def test_the_character_model_has_a_code_finding_above_its_misaligned_baseline():
    """Issue 12: the code model follows strings, brackets or indentation, and says so with a
    held-out probe R² well above the same probe fitted on misaligned states."""
    findings = E.explain("models/chars_indrnn")
    code = [f for f in findings if f.kind == "code" and any(
        f"(`{track}`)" in f.claim for track in ("in_string", "bracket_depth", "indentation"))]
    assert code, [f.claim for f in findings]
    best = max(code, key=lambda f: f.evidence["probe_r2"] - f.evidence["probe_r2_chance"])
    assert best.evidence["probe_r2"] > best.evidence["probe_r2_chance"] + 0.2
    assert best.silenced > best.intact  # bits per character: silencing them hurts


def test_measured_effects_reproduce_a_findings_silenced_metric_and_remove_memory(
        adding, adding_findings):
    model, objective = adding
    top = next(f for f in adding_findings if f.kind == "effect")
    silenced, memoryless = E.measured_effects(model.model, objective, top.layer, top.neurons)
    assert (silenced.mode, memoryless.mode) == ("silence", "memory")
    assert silenced.intact == pytest.approx(top.intact, rel=1e-4)
    assert silenced.edited == pytest.approx(top.silenced, rel=1e-4)
    # u = 0 is another edit than h = 0: the neurons still read their input at every step
    assert memoryless.edited != pytest.approx(silenced.edited, rel=1e-3)
    words = E.effect_words(silenced)
    assert words.startswith("the test MSE from ") and "×" in words
