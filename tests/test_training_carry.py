"""Runs carried between machines (training/NAME/, see training/README.md) resume under their
recipe: the state loads into the recipe's model and optimiser, and has steps left to run."""

import json
from pathlib import Path

import pytest
import torch

from indrnn.recipes import get_recipe
from indrnn.sequence_model import SequenceModel
from indrnn.train import load_state, optimizer_for

CARRIED = sorted(p.parent for p in (Path(__file__).parents[1] / "training").glob("*/state.json"))


@pytest.mark.parametrize("run", CARRIED, ids=[p.name for p in CARRIED])
def test_a_carried_run_resumes_under_its_recipe(run):
    recipe = get_recipe(run.name)
    model = SequenceModel(**recipe.model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = optimizer_for(model, recipe)
    meta = load_state(run, model, optimizer)
    assert 0 < meta["step"] < recipe.steps, "a finished run belongs in models/, not here"
    assert meta["step"] % recipe.eval_every == 0
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert len(optimizer.state) == len(list(model.parameters()))  # Adam's moments came back
    assert (run / "best.safetensors").exists() == (meta.get("best_step") is not None)


def test_the_carried_runs_table_names_every_carried_run():
    table = (Path(__file__).parents[1] / "training" / "README.md").read_text()
    for run in CARRIED:
        step = json.loads((run / "state.json").read_text())["step"]
        assert f"| `{run.name}` | {step:,} |" in table, run.name
