"""Speed of one IndRNN layer (forward + backward) against baselines run in the same process.

    python bench/bench_recurrence.py            # both shapes, CPU
    python bench/bench_recurrence.py --quick    # smaller repeat counts

Shapes and targets (issue: the indrnn library):
  (B=32, T=1000, D=N=512): IndRNN >= 5x faster than nn.LSTM, <= 1.5x the W·x product alone.
  (B=8, T=5000, D=N=128):  IndRNN >= 10x faster than a naive per-step PyTorch loop (W x_t and
                           the recurrence per step, as with a cell); the same loop with W x
                           hoisted out is reported beside it.
Every figure is a ratio of medians measured here, so it does not depend on the machine's speed.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from indrnn import IndRNN
from indrnn.kernels.reference import recurrence_loop


def median_seconds(step: Callable[[], None], repeats: int) -> float:
    step()  # warm-up: kernel compilation, allocator
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def fwd_bwd(forward: Callable[[], torch.Tensor], params: list[torch.Tensor]) -> Callable[[], None]:
    def step() -> None:
        for p in params:
            p.grad = None
        forward().sum().backward()

    return step


def shape_one(batch: int, steps: int, size: int, repeats: int) -> dict[str, float]:
    x = torch.randn(steps, batch, size, requires_grad=True)
    rnn = IndRNN(size, size, recurrent_max=1.0)
    lstm = torch.nn.LSTM(size, size)
    weight = rnn.weight_ih_l0
    bias = rnn.bias_ih_l0
    return {
        "indrnn": median_seconds(fwd_bwd(lambda: rnn(x)[0], [x, *rnn.parameters()]), repeats),
        "nn.LSTM": median_seconds(fwd_bwd(lambda: lstm(x)[0], [x, *lstm.parameters()]), repeats),
        "W x alone": median_seconds(fwd_bwd(lambda: F.linear(x, weight, bias), [x, weight, bias]),
                                    repeats),
    }


def shape_two(batch: int, steps: int, size: int, repeats: int) -> dict[str, float]:
    x = torch.randn(steps, batch, size, requires_grad=True)
    rnn = IndRNN(size, size, recurrent_max=1.0)

    def naive() -> torch.Tensor:
        # What one writes with a cell: W x_t and the recurrence, step by step, under autograd.
        h = x.new_zeros(batch, size)
        steps = []
        for x_t in x:
            h = torch.relu(F.linear(x_t, rnn.weight_ih_l0, rnn.bias_ih_l0) + rnn.weight_hh_l0 * h)
            steps.append(h)
        return torch.stack(steps)

    def hoisted() -> torch.Tensor:
        a = F.linear(x, rnn.weight_ih_l0, rnn.bias_ih_l0)
        return recurrence_loop(a, rnn.weight_hh_l0, a.new_zeros(batch, size))

    params = [x, *rnn.parameters()]
    few = max(1, repeats // 2)
    return {
        "indrnn": median_seconds(fwd_bwd(lambda: rnn(x)[0], params), repeats),
        "naive loop": median_seconds(fwd_bwd(naive, params), few),
        "loop, W x hoisted": median_seconds(fwd_bwd(hoisted, params), few),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_flush_denormal(True)
    repeats = 3 if args.quick else 7
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")

    first = shape_one(32, 1000, 512, repeats)
    print("\n(B=32, T=1000, D=N=512), forward + backward, median seconds")
    for name, seconds in first.items():
        print(f"  {name:<10} {seconds:8.4f}")
    lstm_ratio = first["nn.LSTM"] / first["indrnn"]
    floor_ratio = first["indrnn"] / first["W x alone"]
    print(f"  nn.LSTM / IndRNN = {lstm_ratio:.2f}x (target >= 5)   "
          f"IndRNN / (W x alone) = {floor_ratio:.2f}x (target <= 1.5)")

    second = shape_two(8, 5000, 128, repeats)
    print("\n(B=8, T=5000, D=N=128), forward + backward, median seconds")
    for name, seconds in second.items():
        print(f"  {name:<18} {seconds:8.4f}")
    loop_ratio = second["naive loop"] / second["indrnn"]
    hoisted_ratio = second["loop, W x hoisted"] / second["indrnn"]
    print(f"  naive loop / IndRNN = {loop_ratio:.1f}x (target >= 10); "
          f"loop with W x hoisted / IndRNN = {hoisted_ratio:.1f}x")


if __name__ == "__main__":
    main()
