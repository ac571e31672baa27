"""Train a pretrained model from its recipe: ``python -m indrnn.train RECIPE [options]``.

Examples
--------
    python -m indrnn.train adding-indrnn --seq-len 1000            # writes models/adding1000_indrnn
    python -m indrnn.train adding-lstm --seq-len 1000 --steps 200  # a shorter run
    torchrun --standalone --nproc-per-node 2 -m indrnn.train adding-indrnn --seq-len 100

Runs are seeded and resumable: every ``eval_every`` steps the model, the optimiser and the
schedule go to ``runs/NAME/`` (safetensors + JSON), and a rerun of the same command continues from
there (``--restart`` starts over). Under ``torchrun`` the batch of each step is split across the
processes and gradients are averaged by DistributedDataParallel (gloo on CPU, nccl on GPU).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm import tqdm

from indrnn.bounds import clamp_recurrent_weights_
from indrnn.checkpoint import load, save
from indrnn.data import load_task
from indrnn.devices import device_name, pick_device
from indrnn.lstm import chrono_init_
from indrnn.objectives import Objective, objective_for
from indrnn.recipes import PRETRAINED, RECIPES, Recipe, get_recipe
from indrnn.sequence_model import SequenceModel


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="indrnn train", description=__doc__.split(
        "\n")[0])
    parser.add_argument("recipe", choices=sorted(RECIPES) + list(PRETRAINED),
                        help="a recipe, or the name of a shipped model (its recipe and settings)")
    parser.add_argument("--seq-len", type=int, help="sequence length (adding problem)")
    parser.add_argument("--steps", type=int, help="optimiser steps (default: the recipe's)")
    parser.add_argument("--batch-size", type=int, help="default: the recipe's")
    parser.add_argument("--lr", type=float, help="default: the recipe's")
    parser.add_argument("--eval-every", type=int, help="default: the recipe's")
    parser.add_argument("--warmup", type=int, help="steps of linear learning-rate warm-up "
                        "(default: the recipe's; use it with --init-from)")
    parser.add_argument("--lr-drops", type=int, nargs="+", metavar="STEP",
                        help="multiply the learning rate by the recipe's lr_decay at these steps "
                        "(default: the recipe's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto (GPU when present), cpu, cuda")
    parser.add_argument("--out", help="checkpoint path without suffix (default: models/NAME)")
    parser.add_argument("--runs", default="runs", help="folder for resumable training state")
    parser.add_argument("--restart", action="store_true", help="ignore saved training state")
    parser.add_argument("--init-from", help="start from the weights of this checkpoint (same "
                        "architecture), e.g. a model trained on shorter sequences (default: "
                        "the recipe's)")
    parser.add_argument("--refit-readout", type=int, metavar="BATCHES",
                        help="regression: after training, refit the linear readout of the "
                        "written weights by least squares on this many training batches "
                        "(default: the recipe's)")
    parser.add_argument("--readout-lr-scale", type=float, metavar="SCALE",
                        help="the readout learns at the learning rate times this (default: the "
                        "recipe's, 1)")
    parser.add_argument("--eval-limit", type=int, help="score only this many held-out samples")
    parser.add_argument("--keep-last", action="store_true", help="write the last weights; by "
                        "default the weights of the best validation score are written")
    parser.add_argument("--rank-weights", help="folder: every process writes its final weights "
                        "there (to check data-parallel runs agree)")
    return parser.parse_args(argv)


def model_name(recipe: Recipe) -> str:
    """``adding1000_indrnn`` for recipe ``adding-indrnn`` at T = 1000."""
    task, _, kind = recipe.name.partition("-")
    return f"{task}{recipe.task_kwargs.get('seq_len', '')}_{kind}"


def parameter_groups(model: nn.Module, weight_decay: float, readout_lr_scale: float = 1.0,
                     ) -> list[dict[str, Any]]:
    """Optimiser groups: weight decay on input/readout matrices only (not on u, biases, norms or
    embeddings), and the readout's (``head.*``) own learning-rate scale.

    Each group's ``lr_scale`` multiplies the recipe's learning rate (warm-up and drops keep it).
    """
    groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    for name, p in model.named_parameters():
        matrix = p.dim() >= 2 and "embedding" not in name
        # at scale 1 the groups stay the two of before, so older saved states still resume
        readout = name.startswith("head.") and readout_lr_scale != 1.0
        groups.setdefault((matrix, readout), []).append(p)
    return [{"params": params, "weight_decay": weight_decay if matrix else 0.0,
             "lr_scale": readout_lr_scale if readout else 1.0}
            for (matrix, readout), params in sorted(groups.items(), key=lambda kv: kv[0],
                                                    reverse=True)]


def optimizer_for(model: nn.Module, recipe: Recipe) -> torch.optim.Adam:
    """The recipe's Adam over ``model``'s parameter groups, each at its scaled learning rate
    (what a saved state resumes into)."""
    groups = parameter_groups(model, recipe.weight_decay, recipe.readout_lr_scale)
    for group in groups:
        group["lr"] = recipe.lr * group["lr_scale"]
    return torch.optim.Adam(groups, lr=recipe.lr)


def save_state(folder: Path, model: nn.Module, optimizer: torch.optim.Optimizer,
               meta: dict[str, Any]) -> None:
    """Model and optimiser tensors in safetensors, the rest in JSON; no pickle."""
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v for k, v in _weights(model).items()}
    state = optimizer.state_dict()
    for index, values in state["state"].items():
        for key, value in values.items():
            tensors[f"optim.{index}.{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
    groups = [{k: v for k, v in g.items()} for g in state["param_groups"]]
    save_file(tensors, folder / "state.tmp")
    (folder / "state.json.tmp").write_text(json.dumps({**meta, "param_groups": groups}))
    os.replace(folder / "state.tmp", folder / "state.safetensors")
    os.replace(folder / "state.json.tmp", folder / "state.json")


def _weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}


def load_state(folder: Path, model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Restore what :func:`save_state` wrote; returns the JSON metadata."""
    meta = json.loads((folder / "state.json").read_text())
    tensors = load_file(folder / "state.safetensors")
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta.pop("param_groups")})
    return meta


def train(args: argparse.Namespace) -> dict[str, Any]:
    """Train per ``args``; returns the card written (rank 0) or an empty dict (other ranks)."""
    torch.set_flush_denormal(True)
    recipe_kwargs = {} if args.seq_len is None else {"seq_len": args.seq_len}
    recipe = get_recipe(args.recipe, **recipe_kwargs)
    overrides = {"steps": args.steps, "batch_size": args.batch_size, "lr": args.lr,
                 "eval_every": args.eval_every, "warmup": args.warmup,
                 "lr_drops": None if args.lr_drops is None else tuple(args.lr_drops),
                 "init_from": args.init_from, "refit_readout": args.refit_readout,
                 "readout_lr_scale": args.readout_lr_scale}
    recipe = replace(recipe, **{k: v for k, v in overrides.items() if v is not None})
    steps, batch_size, eval_every = recipe.steps, recipe.batch_size, recipe.eval_every
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = pick_device(args.device)
    if world > 1:
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    torch.manual_seed(args.seed)
    task = load_task(recipe.task, **recipe.task_kwargs)
    objective = objective_for(task, recipe.window)
    model = SequenceModel(**recipe.model)
    if recipe.chrono_timescale:
        chrono_init_(model.body, recipe.chrono_timescale)
    model = model.to(device)
    args.init_card = None
    if recipe.init_from:
        source = load(recipe.init_from)
        model.load_state_dict(source.model.state_dict())
        clamp_recurrent_weights_(model)  # this recipe's bounds may be tighter
        # Provenance travels: the new card says how the starting weights were trained.
        args.init_card = {"path": recipe.init_from, "task_kwargs": source.card.get("task_kwargs"),
                          "training": source.card.get("training"),
                          "metrics": source.card.get("metrics", {}).get("test")}
    name = model_name(recipe)
    run_dir = Path(args.runs) / name
    if not recipe.readout_lr_scale > 0:
        raise SystemExit(f"--readout-lr-scale must be > 0, got {recipe.readout_lr_scale}")
    if recipe.refit_readout and objective.metric != "mse":  # say so now, not after training
        raise SystemExit(f"--refit-readout is for regression; {recipe.task} is scored by "
                         f"{objective.metric}")
    optimizer = optimizer_for(model, recipe)
    meta: dict[str, Any] = {"step": 0, "best": None, "stale": 0, "history": [], "seconds": 0.0}
    if (run_dir / "state.json").exists() and not args.restart:
        meta = load_state(run_dir, model, optimizer)
    trained = nn.parallel.DistributedDataParallel(model) if world > 1 else model
    progress = tqdm(total=steps, initial=meta["step"], desc=name, disable=rank != 0,
                    dynamic_ncols=True)
    started = time.perf_counter() - meta["seconds"]
    while meta["step"] < steps:
        model.train()
        batch = objective.train_batch(batch_size, args.seed, meta["step"])
        batch = batch.shard(rank, world).to(device)
        if meta["step"] < recipe.warmup:
            ramp = (meta["step"] + 1) / recipe.warmup
            for group in optimizer.param_groups:
                group["lr"] = recipe.lr * group.get("lr_scale", 1.0) * ramp
        if meta["step"] in recipe.lr_drops:  # before the step, so a resumed run drops it once
            for group in optimizer.param_groups:
                group["lr"] *= recipe.lr_decay
        optimizer.zero_grad(set_to_none=True)
        loss = objective.loss(trained, batch)
        loss.backward()
        nn.utils.clip_grad_value_(model.parameters(), recipe.grad_clamp)
        optimizer.step()
        clamp_recurrent_weights_(model)
        meta["step"] += 1
        progress.update(1)
        progress.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
        if meta["step"] % eval_every == 0 or meta["step"] == steps:
            _evaluate_and_schedule(objective, model, optimizer, recipe, meta, args.eval_limit)
            meta["seconds"] = time.perf_counter() - started
            progress.set_postfix(loss=f"{loss.item():.4f}",
                                 **{objective.metric: f"{meta['history'][-1][1]:.4f}"})
            if rank == 0:
                if meta.get("best_step") == meta["step"]:  # before the state that names it
                    run_dir.mkdir(parents=True, exist_ok=True)
                    save_file(_weights(model), run_dir / "best.tmp")
                    os.replace(run_dir / "best.tmp", run_dir / "best.safetensors")
                save_state(run_dir, model, optimizer, meta)
    progress.close()
    if args.rank_weights:
        folder = Path(args.rank_weights)
        folder.mkdir(parents=True, exist_ok=True)
        save_file(_weights(model), folder / f"rank{rank}.safetensors")
    card: dict[str, Any] = {}
    best = run_dir / "best.safetensors"
    if rank == 0 and not args.keep_last and meta.get("best_step") and best.exists():
        # model selection on the validation split; the card's test metric is of these weights
        model.load_state_dict(load_file(best, device=str(device)))
    if rank == 0 and recipe.refit_readout:
        meta["readout_refit"] = refit_readout_(model, objective, recipe.refit_readout, batch_size,
                                               args.seed)
    if rank == 0:
        card = _write_model(args, recipe, task, objective, model, meta, steps, batch_size,
                            device, world)
    if world > 1:
        torch.distributed.destroy_process_group()
    return card


@torch.no_grad()
def refit_readout_(model: SequenceModel, objective: Objective, batches: int, batch_size: int,
                   seed: int) -> dict[str, float]:
    """Refit ``model.head`` (weight and bias) by least squares on training batches, in place.

    For regression only. Adam moves the readout's bias by about the learning rate per step, so
    an offset left after fine-tuning at a small rate (e.g. on 5x longer sequences, where the
    states' drift grows with T) can take thousands of steps to close; the least-squares readout
    closes it at once. The batches are the first ``batches`` of the run's own training stream
    (steps ``0 .. batches - 1`` of ``seed``). Returns the mean squared error on them before and
    after, and how many sequences were used.
    """
    if objective.metric != "mse" or not isinstance(model.head, nn.Linear):
        raise ValueError("--refit-readout needs a regression task and a linear readout")
    features: list[torch.Tensor] = []
    hook = model.head.register_forward_hook(lambda module, args, out: features.append(args[0]))
    device = next(model.parameters()).device
    model.eval()
    targets, before = [], []
    try:
        for step in range(batches):
            batch = objective.train_batch(batch_size, seed, step).to(device)
            before.append(model(batch.inputs, batch.lengths)[0])
            targets.append(batch.targets.reshape(len(batch.targets), -1))
    finally:
        hook.remove()
    inputs, y = torch.cat(features), torch.cat(targets)
    x = torch.cat([inputs.double().cpu(), torch.ones(len(inputs), 1, dtype=torch.float64)], 1)
    # A touch of ridge: near-collinear states otherwise get large cancelling weights, which
    # float32 then rounds into an offset.
    gram = x.T @ x
    ridge = 1e-6 * gram.diagonal()[:-1].mean().clamp_min(1e-12)
    gram[:-1, :-1] += ridge * torch.eye(len(gram) - 1, dtype=gram.dtype)
    solution = torch.linalg.solve(gram, x.T @ y.double().cpu())  # (N + 1, outputs)
    model.head.weight.copy_(solution[:-1].T.to(device))
    model.head.bias.copy_(solution[-1].to(device))
    after = model.head(inputs)
    return {"sequences": len(y),
            "mse_before": float(((torch.cat(before).reshape(y.shape) - y) ** 2).mean()),
            "mse_after": float(((after - y) ** 2).mean())}


def _evaluate_and_schedule(objective: Objective, model: nn.Module,
                           optimizer: torch.optim.Optimizer, recipe: Recipe,
                           meta: dict[str, Any], limit: int | None) -> None:
    """Validation metric; divide the learning rate after ``patience`` evaluations without gain."""
    model.eval()
    split = "valid" if getattr(objective.task, "valid", None) is not None else "test"
    value = objective.evaluate(model, split, limit)[objective.metric]
    meta["history"].append([meta["step"], value])
    if objective.better(value, meta["best"]):
        meta["best"], meta["stale"], meta["best_step"] = value, 0, meta["step"]
        return
    meta["stale"] += 1
    if meta["stale"] >= recipe.patience:
        for group in optimizer.param_groups:
            group["lr"] *= recipe.lr_decay
        meta["stale"] = 0


def _write_model(args: argparse.Namespace, recipe: Recipe, task: Any, objective: Objective,
                 model: nn.Module, meta: dict[str, Any], steps: int, batch_size: int,
                 device: torch.device, world: int) -> dict[str, Any]:
    model.eval()
    test = objective.evaluate(model, "test", args.eval_limit)
    test_slice = objective.evaluate(model, "test", objective.slice_size)
    card = {
        "name": model_name(recipe),
        "task": recipe.task, "task_kwargs": recipe.task_kwargs, "data": task.info.card(),
        "recipe": recipe.card(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "training": {"command": args.command, "seed": args.seed, "steps": steps,
                     "initialised_from": args.init_card,
                     "batch_size": batch_size, "processes": world,
                     "weights_from_step": (meta["step"] if args.keep_last
                                           else meta.get("best_step") or meta["step"]),
                     "wall_time_s": round(meta["seconds"], 1), "hardware": device_name(device),
                     "validation_history": meta["history"],
                     "readout_refit": meta.get("readout_refit")},
        "metrics": {"test": test, "test_slice": test_slice,
                    "test_slice_size": objective.slice_size},
        "paper": recipe.paper,
    }
    out = args.out or f"models/{model_name(recipe)}"
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    save(model.cpu(), out, card)
    print(f"wrote {out}.json / .safetensors: test {test}")
    return card


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    args.command = "python -m indrnn.train " + shlex.join(argv)
    train(args)


if __name__ == "__main__":
    main()
