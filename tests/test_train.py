"""The training CLI end to end on tiny settings: train, resume, evaluate, data-parallel."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import indrnn
from indrnn.data import load_task
from indrnn.evaluate import disagreements, evaluate_checkpoint
from indrnn.evaluate import main as evaluate_main
from indrnn.objectives import Classification, objective_for
from indrnn.recipes import RECIPES, get_recipe
from indrnn.sequence_model import SequenceModel
from indrnn.train import main as train_main

REPO = Path(__file__).resolve().parents[1]


def _train(tmp_path: Path, steps: int, *extra: str) -> Path:
    out = tmp_path / "models" / "adding20"
    train_main(["adding-indrnn", "--seq-len", "20", "--steps", str(steps), "--eval-every", "5",
                "--batch-size", "8", "--lr", "3e-3", "--eval-limit", "50", "--out", str(out),
                "--runs", str(tmp_path / "runs"), *extra])
    return out


def test_train_save_load_evaluate(tmp_path):
    out = _train(tmp_path, 20)
    checkpoint = indrnn.load(out)
    card = checkpoint.card
    assert card["task"] == "adding" and card["task_kwargs"] == {"seq_len": 20}
    assert card["training"]["steps"] == 20 and card["training"]["seed"] == 0
    assert card["training"]["command"].startswith("python -m indrnn.train adding-indrnn")
    assert card["recipe"]["lr"] == 3e-3  # overrides are what the card records
    assert card["parameters"] == sum(p.numel() for p in checkpoint.model.parameters())
    assert len(card["training"]["validation_history"]) == 4
    measured, recorded = evaluate_checkpoint(str(out), quick=True)
    assert not disagreements(measured, recorded)
    assert evaluate_main([str(out), "--slice"]) == 0


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(tmp_path):
    straight = _train(tmp_path / "a", 20)
    _train(tmp_path / "b", 10)
    resumed = _train(tmp_path / "b", 20)
    a = load_file(f"{straight}.safetensors")
    b = load_file(f"{resumed}.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
    restarted = _train(tmp_path / "b", 20, "--restart", "--seed", "1")
    assert not torch.equal(load_file(f"{restarted}.safetensors")["head.weight"], a["head.weight"])


def test_evaluate_flags_a_card_that_lies(tmp_path, capsys):
    import json

    out = _train(tmp_path, 5)
    card_file = Path(f"{out}.json")
    document = json.loads(card_file.read_text())
    document["card"]["metrics"]["test_slice"]["mse"] *= 0.5
    card_file.write_text(json.dumps(document))
    assert evaluate_main([str(out), "--slice"]) == 1
    assert "disagrees with the card: mse" in capsys.readouterr().out


def test_classification_batches_cover_each_epoch_once_and_repeat_by_seed():
    objective = Classification(load_task("basicmotions"))
    seen = torch.cat([objective.train_batch(8, 3, step).targets for step in range(5)])
    assert len(seen) == 40
    assert sorted(seen.tolist()) == sorted(objective.task.train.targets.tolist())
    first = objective.train_batch(8, 3, 7)
    assert torch.equal(first.inputs, objective.train_batch(8, 3, 7).inputs)
    assert not torch.equal(first.inputs, objective.train_batch(8, 4, 7).inputs)


def test_two_processes_end_with_identical_weights(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    arguments = ["adding-indrnn", "--seq-len", "20", "--steps", "6", "--eval-every", "3",
                 "--batch-size", "8", "--eval-limit", "20"]
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node", "2", "-m", "indrnn.train", *arguments,
               "--out", str(tmp_path / "m"), "--runs", str(tmp_path / "runs"),
               "--rank-weights", str(tmp_path / "ranks")]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [load_file(tmp_path / "ranks" / f"rank{r}.safetensors") for r in (0, 1)]
    for key, value in ranks[0].items():
        assert torch.equal(value, ranks[1][key]), key
    assert indrnn.load(tmp_path / "m").card["training"]["processes"] == 2
    # Two half batches with averaged gradients take the steps one process takes on the whole.
    train_main([*arguments, "--out", str(tmp_path / "single"), "--runs", str(tmp_path / "r1")])
    single = load_file(tmp_path / "single.safetensors")
    for key, value in single.items():
        torch.testing.assert_close(ranks[0][key], value, rtol=1e-4, atol=1e-5, msg=key)


@pytest.mark.parametrize("argv", [["no-such-recipe"], ["adding-indrnn", "--steps", "x"]])
def test_bad_arguments_exit_with_usage(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        train_main(argv)
    assert exit_info.value.code == 2
    assert "usage: indrnn train" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_recipe_builds_trains_and_scores(name):
    recipe = get_recipe(name, **({"seq_len": 30} if name.startswith("adding") else {}))
    task = load_task(recipe.task, **recipe.task_kwargs)
    objective = objective_for(task, recipe.window)
    model = SequenceModel(**recipe.model)
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    losses = []
    for step in range(2):
        batch = objective.train_batch(4, seed=0, step=step)
        loss = objective.loss(model, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(torch.isfinite(torch.tensor(losses)))
    metrics = objective.evaluate(model.eval(), "test", limit=8 if recipe.window == 0 else 300)
    assert objective.metric in metrics and torch.isfinite(torch.tensor(metrics[objective.metric]))


def test_init_from_starts_at_another_models_weights(tmp_path):
    first = _train(tmp_path / "a", 5)
    out = tmp_path / "b" / "m"
    train_main(["adding-indrnn", "--seq-len", "30", "--steps", "1", "--lr", "1e-9",
                "--batch-size", "4", "--eval-limit", "10", "--init-from", str(first),
                "--out", str(out), "--runs", str(tmp_path / "runs_b")])
    start = load_file(f"{first}.safetensors")
    got = load_file(f"{out}.safetensors")
    torch.testing.assert_close(got["head.weight"], start["head.weight"], rtol=0, atol=1e-6)
    bound = indrnn.recurrent_bound(2.0, 30)
    assert got["body.weight_hh_l0"].abs().max() <= bound + 1e-6  # clamped to the new bound
    source = indrnn.load(out).card["training"]["initialised_from"]
    assert source["path"] == str(first) and source["training"]["steps"] == 5


class _ClassifyAll:
    metric = "accuracy"


def test_refit_readout_fits_the_head_by_least_squares(tmp_path):
    from indrnn.objectives import objective_for
    from indrnn.train import refit_readout_

    first = _train(tmp_path, 10)
    model = indrnn.load(first).model
    objective = objective_for(load_task("adding", seq_len=60), 0)
    stats = refit_readout_(model, objective, batches=3, batch_size=16, seed=0)
    assert stats["sequences"] == 48
    assert stats["mse_after"] < stats["mse_before"]
    # the fitted head is the least-squares solution: its residuals are orthogonal to the features
    features = []
    hook = model.head.register_forward_hook(lambda m, a, o: features.append(a[0]))
    batches = [objective.train_batch(16, 0, step) for step in range(3)]
    with torch.no_grad():
        residual = torch.cat([model(b.inputs)[0] - b.targets.view(-1, 1) for b in batches])
    hook.remove()
    x = torch.cat(features)
    assert residual.abs().mean() > 0
    cosine = (x.T @ residual).view(-1) / (x.norm(dim=0) * residual.norm() + 1e-12)
    assert cosine.abs().max() < 1e-2, cosine.abs().max()  # float32 weights: not exactly 0
    assert residual.mean().abs() < 0.02 * residual.std()  # the bias is fitted too
    assert float((residual ** 2).mean()) == pytest.approx(stats["mse_after"], rel=1e-4)
    # on the CLI: after training, on the written weights, recorded in the card
    out = tmp_path / "m60"
    train_main(["adding-indrnn", "--seq-len", "60", "--steps", "2", "--batch-size", "4",
                "--eval-limit", "10", "--init-from", str(first), "--refit-readout", "2",
                "--out", str(out), "--runs", str(tmp_path / "runs60")])
    refit = indrnn.load(out).card["training"]["readout_refit"]
    assert refit["sequences"] == 8 and refit["mse_after"] <= refit["mse_before"]
    assert indrnn.load(_train(tmp_path, 2)).card["training"]["readout_refit"] is None
    with pytest.raises(ValueError, match="regression"):
        refit_readout_(indrnn.load(first).model, _ClassifyAll(), 1, 4, 0)
    with pytest.raises(SystemExit, match="for regression; japanesevowels is scored by accuracy"):
        train_main(["japanesevowels-indrnn", "--steps", "1", "--refit-readout", "2",
                    "--out", str(tmp_path / "jv"), "--runs", str(tmp_path / "runs_jv")])


def test_warmup_ramps_the_learning_rate_up_from_zero(tmp_path):
    import json

    out = tmp_path / "m"
    train_main(["adding-indrnn", "--seq-len", "20", "--steps", "3", "--eval-every", "1",
                "--batch-size", "4", "--lr", "4e-3", "--warmup", "4", "--eval-limit", "10",
                "--out", str(out), "--runs", str(tmp_path / "runs")])
    (state_file,) = (tmp_path / "runs").glob("*/state.json")
    state = json.loads(state_file.read_text())
    assert [group["lr"] for group in state["param_groups"]] == pytest.approx([3e-3, 3e-3])
    assert indrnn.load(out).card["recipe"]["warmup"] == 4


def test_lr_drops_cut_the_rate_once_at_their_step_across_resumes(tmp_path):
    import json

    out, runs = tmp_path / "m", tmp_path / "runs"
    common = ["adding-indrnn", "--seq-len", "20", "--eval-every", "1", "--batch-size", "4",
              "--lr", "4e-3", "--lr-drops", "2", "--eval-limit", "10", "--out", str(out),
              "--runs", str(runs)]

    def rates(steps: str) -> list[float]:
        train_main([*common, "--steps", steps])
        (state_file,) = runs.glob("*/state.json")
        return [group["lr"] for group in json.loads(state_file.read_text())["param_groups"]]

    assert rates("2") == pytest.approx([4e-3, 4e-3])  # the drop is due before step 3
    assert rates("3") == pytest.approx([8e-4, 8e-4])  # resumed: dropped by lr_decay 0.2
    assert rates("4") == pytest.approx([8e-4, 8e-4])  # resumed past it: not dropped again
    assert indrnn.load(out).card["recipe"]["lr_drops"] == [2]


def test_the_written_weights_are_those_of_the_best_validation_score(tmp_path):
    out = _train(tmp_path, 20)
    card = indrnn.load(out).card["training"]
    history = card["validation_history"]
    best_step = min(history, key=lambda pair: pair[1])[0]
    assert card["weights_from_step"] == best_step
    (best_file,) = (tmp_path / "runs").glob("*/best.safetensors")
    written, best = load_file(f"{out}.safetensors"), load_file(best_file)
    assert all(torch.equal(written[k], best[k]) for k in best)
    last = _train(tmp_path / "last", 20, "--keep-last")
    assert indrnn.load(last).card["training"]["weights_from_step"] == 20


def test_readout_lr_scale_gives_the_head_its_own_rate_through_warmup_and_drops(tmp_path):
    import json

    from indrnn.train import parameter_groups

    model = SequenceModel(**get_recipe("adding-indrnn", seq_len=20).model)
    groups = parameter_groups(model, 1e-4, readout_lr_scale=50.0)
    head = {id(p) for p in model.head.parameters()}
    for group in groups:
        in_head = {id(p) in head for p in group["params"]}
        assert len(in_head) == 1  # no group mixes the readout with the rest
        assert group["lr_scale"] == (50.0 if in_head == {True} else 1.0)
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    # without a scale the groups are the two of before (decayed matrices, the rest)
    assert [g["weight_decay"] for g in parameter_groups(model, 1e-4)] == [1e-4, 0.0]

    out, runs = tmp_path / "m", tmp_path / "runs"
    train_main(["adding-indrnn", "--seq-len", "20", "--steps", "3", "--eval-every", "1",
                "--batch-size", "4", "--lr", "4e-3", "--warmup", "4", "--lr-drops", "2",
                "--readout-lr-scale", "10", "--eval-limit", "10", "--out", str(out),
                "--runs", str(runs)])
    (state_file,) = runs.glob("*/state.json")
    rates = sorted(g["lr"] for g in json.loads(state_file.read_text())["param_groups"])
    # step 3 of a 4-step warm-up (3/4 of 4e-3), cut once by 0.2 at step 2: 6e-4; the head 10x
    assert rates == pytest.approx([6e-4, 6e-4, 6e-3, 6e-3])
    assert indrnn.load(out).card["recipe"]["readout_lr_scale"] == 10.0
    with pytest.raises(SystemExit, match=r"--readout-lr-scale must be > 0, got 0\.0"):
        train_main(["adding-indrnn", "--seq-len", "20", "--steps", "1", "--readout-lr-scale",
                    "0", "--out", str(tmp_path / "bad"), "--runs", str(tmp_path / "bad_runs")])
