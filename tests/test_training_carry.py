"""Runs carried between machines (training/NAME/, see training/README.md) resume under their
recipe: the state loads into the recipe's model and optimiser, and has steps left to run."""

import json
import re
from pathlib import Path

import torch

from indrnn.recipes import get_recipe
from indrnn.sequence_model import SequenceModel
from indrnn.train import load_state, optimizer_for, save_state

CARRIED = sorted(p.parent for p in (Path(__file__).parents[1] / "training").glob("*/state.json"))


def _check_resumes(run: Path) -> None:
    recipe = get_recipe(run.name)
    model = SequenceModel(**recipe.model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = optimizer_for(model, recipe)
    meta = load_state(run, model, optimizer)
    assert 0 < meta["step"] < recipe.steps, f"{run.name}: a finished run belongs in models/"
    assert meta["step"] % recipe.eval_every == 0
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert len(optimizer.state) == len(list(model.parameters()))  # Adam's moments came back
    assert (run / "best.safetensors").exists() == (meta.get("best_step") is not None)


def test_a_state_saved_under_a_recipe_resumes_under_it(tmp_path):
    """What a session does before it stops (save_state under optimizer_for), checked the way a
    carried run is, so the check runs while training/ carries nothing."""
    recipe = get_recipe("adding100_indrnn")
    model = SequenceModel(**recipe.model)
    optimizer = optimizer_for(model, recipe)
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    optimizer.step()
    save_state(tmp_path / "adding100_indrnn", model, optimizer,
               {"step": recipe.eval_every, "best_step": None})
    _check_resumes(tmp_path / "adding100_indrnn")


def test_every_carried_run_resumes_under_its_recipe():
    # One test over all of them: most of the time none is carried, and an empty parameter set
    # would be a skip, which CI refuses.
    for run in CARRIED:
        _check_resumes(run)


def test_the_carried_runs_table_names_exactly_the_carried_runs():
    table = (Path(__file__).parents[1] / "training" / "README.md").read_text()
    rows = set(re.findall(r"^\| `(\w+)` \| ([\d,]+) \|", table, flags=re.M))
    carried = {(run.name, f"{json.loads((run / 'state.json').read_text())['step']:,}")
               for run in CARRIED}
    assert rows == carried
