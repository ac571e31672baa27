"""Ranking every neuron of a layer by ablation impact: batched single-neuron ablations against one
model run per neuron (the old loop), in the same process.

    python bench/bench_ablation.py            # 256 neurons of chars_indrnn, a 3,000-step input
    python bench/bench_ablation.py --quick    # 500 steps
    python bench/bench_ablation.py --model adding1000_indrnn   # 128 neurons, T = 1,000
    python bench/bench_ablation.py --profile  # and where the batched ranking spends its time

Goal (issue 11): 256 neurons of a 3,000-step input ranked in under 3 s on the project's 2-core
CPU. The loop baseline ablates a private copy neuron by neuron (``ablations_applied``), as
``rank_neurons`` did before; both score the mean absolute change of the output, and the
script checks that they agree.
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import pstats
import time

import torch

from indrnn import catalog
from indrnn.analysis import (
    Ablation,
    ablations_applied,
    find_indrnn_layer,
    indrnn_layers,
    rank_neurons,
)
from indrnn.analysis._common import model_output
from indrnn.data import load_task


def one_run_per_neuron(model: torch.nn.Module, x: torch.Tensor, layer: str,
                       neurons: range) -> torch.Tensor:
    private = copy.deepcopy(model)
    with torch.no_grad():
        base = model_output(private(x))
        impact = []
        for neuron in neurons:
            with ablations_applied(private, [Ablation(layer, (neuron,))]):
                impact.append(float((model_output(private(x)) - base).abs().mean()))
    return torch.tensor(impact, dtype=torch.float64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a 500-step input")
    parser.add_argument("--model", default="chars_indrnn")
    parser.add_argument("--profile", action="store_true",
                        help="also print where the batched ranking spends its time (cProfile)")
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    checkpoint = catalog.load_model(args.model)
    model = checkpoint.model.eval()
    task = load_task(checkpoint.card["task"], **checkpoint.card.get("task_kwargs", {}))
    steps = 500 if args.quick else 3000
    if isinstance(task.test, torch.Tensor):  # a token stream: one held-out stretch of text
        x = task.test[:steps].unsqueeze(0)
    else:  # one held-out sequence (as long as the task's)
        x = task.test.inputs[:1, :steps]
    layer = list(indrnn_layers(model))[-1]  # the layer the readout reads
    size = find_indrnn_layer(model, layer).hidden_size
    rank_neurons(model, x[:, :50], layer)  # warm-up
    start = time.perf_counter()
    ranking = rank_neurons(model, x, layer)
    batched = time.perf_counter() - start
    start = time.perf_counter()
    loop = one_run_per_neuron(model, x, layer, range(size))
    looped = time.perf_counter() - start
    got = torch.empty(size, dtype=torch.float64)
    got[ranking.neurons] = ranking.impact
    torch.testing.assert_close(got, loop, rtol=1e-4, atol=1e-6)
    print(f"{args.model}, {layer}: {size} neurons, T={x.shape[1]}, "
          f"{torch.get_num_threads()} threads")
    print(f"batched rank_neurons: {batched:.2f} s")
    print(f"one run per neuron:   {looped:.2f} s")
    print(f"speed-up: {looped / batched:.1f}x; goal < 3 s: {'met' if batched < 3 else 'missed'}")
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(rank_neurons, model, x, layer)
        pstats.Stats(profile).sort_stats("tottime").print_stats(5)


if __name__ == "__main__":
    main()
