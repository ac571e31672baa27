"""Where the server's time goes between an upload and the Neurons page's first chart.

    python bench/bench_upload.py [--model adding5000_indrnn] [--steps 5000 20000 100000]

Runs the library calls the app makes for an uploaded CSV, in one process, each timed (median of
``--repeats``): parse (``parse_upload`` + ``prepare_for_model``), the recorded run
(``run_model``), the neuron table, the heatmap figure, and its serialisation (Plotly's JSON, as
Streamlit sends it). Beside them, the model's own compute: a plain forward without recording.
``bench/bench_app.py`` measures the whole upload -> chart in Chromium; what it adds to these is
transfer and drawing in the browser.

Targets (issue: performance): at T=5000, upload -> first chart within 1 s of the model's own
compute; cost linear in T up to 100,000 steps.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable

import indrnn  # noqa: F401  (before torch: its runtime settings)

# isort: split
import numpy as np
import torch

from indrnn import catalog
from indrnn.data import task_for
from indrnn.data.uploads.dispatch import parse_upload
from indrnn.data.uploads.prepare import prepare_for_model
from indrnn.objectives import card_objective
from indrnn.run import run_model
from indrnn.views import neurons as view


def adding_csv(steps: int, seed: int = 0) -> bytes:
    """An adding-problem input of ``steps`` rows: a value and a marker column, two markers."""
    rng = np.random.default_rng(seed)
    values = rng.random(steps)
    markers = np.zeros(steps, dtype=int)
    markers[rng.choice(steps, 2, replace=False)] = 1
    text = io.StringIO()
    text.write("value,marker\n")
    for value, marker in zip(values, markers):
        text.write(f"{value:.7f},{marker}\n")
    return text.getvalue().encode()


def median_ms(step: Callable[[], object], repeats: int) -> tuple[float, object]:
    result = step()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = step()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3, result


def measure(model_name: str, steps: int, repeats: int) -> dict[str, float]:
    checkpoint = catalog.load_model(model_name)
    model = checkpoint.model.eval()
    task = task_for(checkpoint.card, model)
    objective = card_objective(task, checkpoint.card)
    data = adding_csv(steps)
    out: dict[str, float] = {}
    out["parse"], parsed = median_ms(
        lambda: prepare_for_model(parse_upload("input.csv", data, task.info), task), repeats)
    with torch.no_grad():
        out["model's own forward"], _ = median_ms(lambda: model(parsed.inputs), repeats)
    out["recorded run"], run = median_ms(
        lambda: run_model(model, parsed.inputs, parsed.lengths, objective), repeats)
    layer = list(run.recording.layers)[-1]
    out["neuron table"], table = median_ms(lambda: view.neuron_table(model, run, layer), repeats)
    orders = view.sort_orders(table)
    out["heatmap figure"], figure = median_ms(
        lambda: view.layer_heatmap(run, layer, 0, orders), repeats)
    out["serialisation"], payload = median_ms(figure.to_json, repeats)
    out["payload MB"] = len(payload) / 1e6
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="adding5000_indrnn")
    parser.add_argument("--steps", type=int, nargs="+", default=[5000, 20000, 100000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    results = {steps: measure(args.model, steps, args.repeats) for steps in args.steps}
    names = [k for k in next(iter(results.values())) if k != "payload MB"]
    print(f"{args.model}, one sequence, median of {args.repeats}, milliseconds")
    print("| step | " + " | ".join(f"T={s:,}" for s in results) + " |")
    print("|---" * (1 + len(results)) + "|")
    for name in names:
        print(f"| {name} | " + " | ".join(f"{r[name]:.1f}" for r in results.values()) + " |")
    beyond = {s: sum(r[n] for n in names if n != "model's own forward")
              - r["model's own forward"] for s, r in results.items()}
    print("| all but the model's own forward, beyond it | "
          + " | ".join(f"**{v:.1f}**" for v in beyond.values()) + " |")
    print("| payload MB | " + " | ".join(f"{r['payload MB']:.2f}" for r in results.values())
          + " |")
    first, last = min(results), max(results)
    for name in names:
        growth = results[last][name] / results[first][name]
        print(f"{name}: x{growth:.1f} from T={first:,} to T={last:,} (x{last / first:.0f} steps)")


if __name__ == "__main__":
    main()
