"""How much a second busy process slows our work, with torch's own settings and with indrnn's.

    python bench/bench_neighbour.py [--repeats 15]

For each setting a fresh process (the settings are read when torch loads) times three kinds of
work, alternately with the cores to itself and beside a busy neighbour that this script starts:
a second process running torch's large matrix products on every core, as another app session's
worker or a training job would. Reported: the slow-down each kind of work suffers from the
neighbour (median beside it / median alone), and indrnn's settings against torch's when alone.

  * small op: one 2-thread matrix product (64 x 256 by 256 x 256), as the app's many small
    steps are;
  * model run: the app's run of the MNIST IndRNN on one 784-step digit (``indrnn.run``);
  * layer forward: one IndRNN layer, (T, B, N) = (5000, 8, 128), without gradients.

Target (issue: performance): beside the neighbour, at most the fair share, 2.5x on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

SETTINGS = {"torch's own": {"INDRNN_RUNTIME_DEFAULTS": "0"}, "indrnn's": {}}
TARGET = 2.5

# Neighbours with torch's own settings: a training job's large products, another app's small ones.
NEIGHBOURS = {
    "large ops": "import torch\na = torch.randn(512, 512)\n"
                 "while True: a = torch.tanh(a @ a * 1e-3)",
    "small ops": "import torch\na, b = torch.randn(64, 256), torch.randn(256, 256)\n"
                 "while True: torch.mm(a, b)",
}

CHILD = r"""
import json, statistics, subprocess, sys, time
import indrnn, torch
from indrnn import catalog, runtime
from indrnn.run import run_model
torch.set_flush_denormal(True)
repeats = int(sys.argv[1])
x, w = torch.randn(64, 256), torch.randn(256, 256)
model = catalog.load_model("mnist5k_indrnn").model.eval()
digit = torch.rand(1, 784, 1)
layer = indrnn.IndRNN(128, 128)
sequence = torch.randn(5000, 8, 128)

def small_op():
    torch.mm(x, w)

def model_run():
    run_model(model, digit)

@torch.no_grad()
def layer_forward():
    layer(sequence)

work = {"small op": (small_op, 200), "model run": (model_run, 3),
        "layer forward": (layer_forward, 3)}
for step, inner in work.values():
    step()
neighbours = json.loads(sys.argv[2])
times = {(name, busy): [] for name in work for busy in [None, *neighbours]}
for _ in range(repeats):
    for busy in [None, *neighbours]:
        neighbour = busy and subprocess.Popen([sys.executable, "-c", neighbours[busy]])
        time.sleep(0.5 if busy else 0.2)
        for name, (step, inner) in work.items():
            start = time.perf_counter()
            for _ in range(inner):
                step()
            times[name, busy].append((time.perf_counter() - start) / inner)
        if neighbour is not None:
            neighbour.kill()
            neighbour.wait()
print(json.dumps({"applied": runtime.applied(), "threads": torch.get_num_threads(),
                  "medians": {f"{n}|{b}": statistics.median(v) for (n, b), v in times.items()}}))
"""


def measure(setting: dict[str, str], repeats: int) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("OMP_WAIT_POLICY", "INDRNN_RUNTIME_DEFAULTS")}
    out = subprocess.run([sys.executable, "-c", CHILD, str(repeats), json.dumps(NEIGHBOURS)],
                         env=env | setting, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--try", dest="tries", action="append", default=[],
                        metavar="KEY=VALUE[,KEY=VALUE]",
                        help="also measure torch's settings with these variables set")
    args = parser.parse_args()
    settings = dict(SETTINGS)
    for text in args.tries:
        settings[text] = {**SETTINGS["torch's own"],
                          **dict(pair.split("=", 1) for pair in text.split(","))}
    results = {name: measure(setting, args.repeats) for name, setting in settings.items()}
    work = ["small op", "model run", "layer forward"]
    print(f"{os.cpu_count()} cores, {args.repeats} rounds; median time alone and slow-down "
          f"beside a neighbour running {' / '.join(NEIGHBOURS)} (target <= {TARGET}x)")
    print("| work | settings | alone | " + " | ".join(f"beside {n}" for n in NEIGHBOURS) + " |")
    print("|---" * (3 + len(NEIGHBOURS)) + "|")
    for name in work:
        for setting, result in results.items():
            alone = result["medians"][f"{name}|None"]
            ratios = [result["medians"][f"{name}|{n}"] / alone for n in NEIGHBOURS]
            print(f"| {name} | {setting} | {alone * 1e3:.3f} ms | "
                  + " | ".join(f"**{r:.2f}x**" for r in ratios) + " |")
    for name, result in results.items():
        print(f"{name}: settings torch read {result['applied']}, {result['threads']} threads")


if __name__ == "__main__":
    main()
