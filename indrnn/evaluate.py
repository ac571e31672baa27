"""Recompute a pretrained model's metrics: ``python -m indrnn.evaluate models/NAME``.

Loads the checkpoint (safely: :func:`indrnn.load`), rebuilds its task from the card, scores the
held-out test data and compares with the card. ``--slice`` scores only the small slice the card
also records, for a quick check. Exits with status 1 if a metric disagrees with the card.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

import torch

from indrnn.checkpoint import load
from indrnn.data import load_task
from indrnn.objectives import card_objective

RELATIVE_TOLERANCE = 1e-3


def evaluate_checkpoint(path: str, quick: bool = False,
                        device: str = "cpu") -> tuple[dict[str, float], dict[str, float]]:
    """Score a checkpoint on its task's test data.

    Returns
    -------
    (measured, recorded)
        The metrics measured now, and the card's figures for the same data.
    """
    checkpoint = load(path, map_location=device)
    card = checkpoint.card
    task = load_task(card["task"], **card.get("task_kwargs", {}))
    objective = card_objective(task, card)
    metrics = card["metrics"]
    limit = metrics["test_slice_size"] if quick else None
    torch.set_flush_denormal(True)
    measured = objective.evaluate(checkpoint.model, "test", limit)
    return measured, metrics["test_slice" if quick else "test"]


def disagreements(measured: dict[str, float], recorded: dict[str, Any],
                  rtol: float = RELATIVE_TOLERANCE) -> list[str]:
    """Names of recorded metrics that the measurement does not reproduce within ``rtol``."""
    return [key for key, value in recorded.items()
            if key not in measured or not math.isclose(measured[key], value, rel_tol=rtol,
                                                       abs_tol=1e-6)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="indrnn evaluate", description=__doc__.split(
        "\n")[0])
    parser.add_argument("checkpoint", help="models/NAME (with or without .json)")
    parser.add_argument("--slice", action="store_true", help="only the card's small test slice")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    measured, recorded = evaluate_checkpoint(args.checkpoint, args.slice, args.device)
    for key in sorted(set(measured) | set(recorded)):
        print(f"{key:>16}  measured {measured.get(key, float('nan')):.6f}  "
              f"card {recorded.get(key, float('nan')):.6f}")
    bad = disagreements(measured, recorded)
    if bad:
        print(f"disagrees with the card: {', '.join(bad)}")
        return 1
    print("agrees with the card")
    return 0


if __name__ == "__main__":
    sys.exit(main())
