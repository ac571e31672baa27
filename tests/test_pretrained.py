"""Every shipped model loads safely and reproduces its card's metric on the card's test slice."""

from pathlib import Path

import pytest

import indrnn
from indrnn.analysis.ablation import layer_size
from indrnn.analysis.locate import indrnn_layers
from indrnn.evaluate import disagreements, evaluate_checkpoint
from indrnn.explain import card_findings

MODELS = Path(__file__).resolve().parents[1] / "models"
CARDS = sorted(MODELS.glob("*.json"))
REQUIRED = ("task", "data", "recipe", "parameters", "training", "metrics", "paper")


@pytest.mark.parametrize("card_path", CARDS, ids=[p.stem for p in CARDS])
def test_shipped_model_agrees_with_its_card(card_path):
    checkpoint = indrnn.load(card_path)
    card = checkpoint.card
    assert all(key in card for key in REQUIRED), sorted(set(REQUIRED) - set(card))
    assert card["parameters"] == sum(p.numel() for p in checkpoint.model.parameters())
    for key in ("command", "seed", "steps", "wall_time_s", "hardware"):
        assert key in card["training"], key
    measured, recorded = evaluate_checkpoint(str(card_path), quick=True)
    assert not disagreements(measured, recorded), (measured, recorded)


def test_models_folder_stays_small():
    total = sum(p.stat().st_size for p in MODELS.iterdir() if p.is_file())
    assert total < 50 * 2**20, f"models/ holds {total / 2**20:.1f} MiB"


@pytest.mark.parametrize("card_path", CARDS, ids=[p.stem for p in CARDS])
def test_every_card_stores_findings_that_name_its_own_neurons(card_path):
    """The Overview shows a shipped model's findings at once because its card stores them
    (an LSTM twin's name its units)."""
    checkpoint = indrnn.load(card_path)
    found = card_findings(checkpoint.card)
    assert found is not None, "no findings: python -m indrnn.explain models/NAME --write"
    assert "indrnn.explain" in checkpoint.card["findings_command"]
    if indrnn_layers(checkpoint.model):
        assert found, "an IndRNN model with nothing to say"
    for finding in found:
        size = layer_size(checkpoint.model, finding.layer)
        assert finding.neurons and all(0 <= n < size for n in finding.neurons)
        assert finding.claim.endswith(".") and finding.metric == found[0].metric
        assert finding.metric in ("mse", "accuracy", "bits_per_char")
