"""How much a small model's figures move with the training seed.

``python scripts/seed_spread.py RECIPE [RECIPE ...] [--seeds 5] [--width N]`` trains each recipe
(as ``python -m indrnn.train RECIPE --seed S`` would, into a temporary folder) once per seed and
prints, per seed and as mean ± sample standard deviation, the best validation score (what model
selection sees) and the test score of the weights it selects. One seed's test figure on a
370-sequence test set moves by a point or more between seeds: this says whether a gap between
twins is larger than that. ``--width`` sets the IndRNN bodies' ``hidden_size`` (a candidate
width, not the shipped one). ``--write`` stores the figures in the shipped model's card
(``models/NAME.json``, under ``metrics.seed_spread``), where ``scripts/models_table.py`` reads
them to tell a gap between twins from seed noise. Minutes for the sensor tasks, hours for
anything larger.
"""
from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from indrnn.recipes import RECIPES, get_recipe
from indrnn.train import model_name, parse_args, train


def one_run(recipe_name: str, seed: int, width: int | None) -> tuple[str, float, float]:
    """(metric name, best validation value, test value) of one training run."""
    recipe = get_recipe(recipe_name)
    body = recipe.model["body"]
    if width is not None and body["architecture"] != "LSTM":
        body = {**body, "config": {**body["config"], "hidden_size": width}}
    recipe = replace(recipe, name=recipe.name + "-spread", model={**recipe.model, "body": body})
    RECIPES[recipe.name] = lambda: recipe
    try:
        with tempfile.TemporaryDirectory() as folder:
            args = parse_args([recipe.name, "--seed", str(seed), "--out", f"{folder}/model",
                               "--runs", f"{folder}/runs", "--restart"])
            args.command = "seed_spread"
            card = train(args)
    finally:
        del RECIPES[recipe.name]
    metric = next(iter(card["metrics"]["test"]))
    # the validation score of the weights training selected (and the card's test figure is of)
    best = dict(card["training"]["validation_history"])[card["training"]["weights_from_step"]]
    return metric, best, card["metrics"]["test"][metric]


def record_spread(card_file: Path, figures: dict[str, Any]) -> None:
    """Store ``figures`` as the card's ``metrics.seed_spread`` (the weights are untouched)."""
    document = json.loads(card_file.read_text())
    document["card"]["metrics"]["seed_spread"] = figures
    card_file.write_text(json.dumps(document, indent=1, allow_nan=False) + "\n")


def spread(values: list[float]) -> str:
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("recipes", nargs="+", help="recipe or shipped-model names")
    parser.add_argument("--seeds", type=int, default=5, help="training seeds 0 .. N-1")
    parser.add_argument("--width", type=int, help="IndRNN hidden_size (default: the recipe's)")
    parser.add_argument("--write", action="store_true",
                        help="store the figures in each shipped model's card, models/NAME.json")
    parser.add_argument("--models", default="models", help="folder of the cards for --write")
    args = parser.parse_args()
    if args.seeds < 2:
        parser.error("--seeds must be at least 2 for a spread")
    if args.write and args.width is not None:
        parser.error("--write records the shipped recipe's spread; --width changes the recipe")
    cards = {name: Path(args.models) / f"{model_name(get_recipe(name))}.json"
             for name in args.recipes}
    missing = [str(path) for path in cards.values() if args.write and not path.exists()]
    if missing:
        parser.error(f"no card to write to: {', '.join(missing)}")
    for name in args.recipes:
        runs = [one_run(name, seed, args.width) for seed in range(args.seeds)]
        metrics, valid, test = zip(*runs)
        width = "" if args.width is None else f" (IndRNN width {args.width})"
        print(f"{name}{width}: validation {', '.join(f'{v:.4f}' for v in valid)} -> "
              f"{spread(list(valid))}; test {', '.join(f'{t:.4f}' for t in test)} -> "
              f"{spread(list(test))}", flush=True)
        if args.write:
            record_spread(cards[name], {
                "metric": metrics[0], "seeds": list(range(args.seeds)), "test": list(test),
                "best_validation": list(valid),
                "command": shlex.join(["python", "scripts/seed_spread.py", *sys.argv[1:]])})


if __name__ == "__main__":
    main()
