"""How long ``indrnn.explain`` takes on each shipped IndRNN model, as a ratio against one run of
the model over its 64 held-out sequences (the run every data-wide page makes), in the same process.

    python bench/bench_explain.py                       # every shipped IndRNN model
    python bench/bench_explain.py adding1000_indrnn     # some of them

Goal (issue 12): every shipped model explained in under 30 s on the project's 2-core CPU.
"""

from __future__ import annotations

import argparse
import time

import torch

from indrnn import catalog
from indrnn.data import load_task
from indrnn.explain import explain
from indrnn.objectives import card_objective
from indrnn.run import run_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="*", help="model names (default: every IndRNN model)")
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    names = args.models or [n for n, e in catalog.models().items() if not e.is_lstm]
    print("| model | explain (s) | one held-out run (s) | ratio | findings |")
    print("|---|---|---|---|---|")
    for name in names:
        checkpoint = catalog.load_model(name)
        card = checkpoint.card
        objective = card_objective(load_task(card["task"], **card.get("task_kwargs", {})), card)
        held = objective.held_out(64)
        start = time.perf_counter()
        run_model(checkpoint.model, held.inputs, held.lengths, objective)
        one = time.perf_counter() - start
        start = time.perf_counter()
        found = explain(checkpoint, data=objective)
        took = time.perf_counter() - start
        print(f"| {name} | {took:.1f} | {one:.2f} | {took / one:.0f}× | {len(found)} |",
              flush=True)


if __name__ == "__main__":
    main()
