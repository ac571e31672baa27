"""Every shipped model loads safely and reproduces its card's metric on the card's test slice."""

from pathlib import Path

import pytest

import indrnn
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
def test_every_indrnn_card_stores_findings_that_name_its_own_neurons(card_path):
    """The Overview shows a shipped model's findings at once because its card stores them."""
    checkpoint = indrnn.load(card_path)
    layers = indrnn_layers(checkpoint.model)
    found = card_findings(checkpoint.card)
    if not layers:
        assert not found  # findings are made for IndRNN layers only
        return
    assert found, "no findings: python -m indrnn.explain models/NAME --write"
    assert "indrnn.explain" in checkpoint.card["findings_command"]
    for finding in found:
        size = layers[finding.layer].u.numel()
        assert finding.neurons and all(0 <= n < size for n in finding.neurons)
        assert finding.claim.endswith(".") and finding.metric == found[0].metric
        assert finding.metric in ("mse", "accuracy", "bits_per_char")
