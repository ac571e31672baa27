"""Speed of one IndRNN layer (forward + backward) against baselines run in the same process.

    python bench/bench_recurrence.py            # both shapes, CPU
    python bench/bench_recurrence.py --quick    # smaller repeat counts

Shapes and targets (issue: the indrnn library):
  (B=32, T=1000, D=N=512): IndRNN >= 5x faster than nn.LSTM, <= 1.5x the W·x product alone.
  (B=8, T=5000, D=N=128):  IndRNN >= 10x faster than a naive per-step PyTorch loop (W x_t and
                           the recurrence per step, as with a cell); the same loop with W x
                           hoisted out is reported beside it.
Every figure is a ratio of medians measured here, so it does not depend on the machine's speed.
The backward starts from a dense random gradient. glibc returns large freed blocks to the OS, so
every big tensor is faulted in afresh (in huge pages, which ``import indrnn`` asks torch for);
run with MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=2147483648 to see that cost.
Target (issue: performance): IndRNN <= 1.3x the W·x product alone at both shapes.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from indrnn import LSTM, IndRNN  # first: it gives torch its runtime settings

# isort: split
import torch
import torch.nn.functional as F

from indrnn.kernels.reference import recurrence_loop


def median_seconds(steps: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    """Median time of each step, measured round-robin so that drifts in the machine's speed
    (other processes, frequency) hit every candidate alike."""
    for step in steps.values():
        step()  # warm-up: kernel compilation, allocator
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def fwd_bwd(forward: Callable[[], torch.Tensor], params: list[torch.Tensor]) -> Callable[[], None]:
    """One forward and backward with a dense upstream gradient, as a real loss gives (the
    gradient of ``.sum()`` has zero strides, which a kernel can read without materialising)."""
    upstream: list[torch.Tensor] = []

    def step() -> None:
        for p in params:
            p.grad = None
        output = forward()
        if not upstream:
            upstream.append(torch.randn(output.shape, generator=torch.Generator().manual_seed(0)))
        output.backward(upstream[0])

    return step


def shape_one(batch: int, steps: int, size: int, repeats: int) -> dict[str, float]:
    x = torch.randn(steps, batch, size, requires_grad=True)
    rnn = IndRNN(size, size, recurrent_max=1.0)
    lstm = torch.nn.LSTM(size, size)
    readable = LSTM(size, size)  # ours: must run at nn.LSTM's speed when no gates are asked for
    readable.load_state_dict(lstm.state_dict())
    weight = rnn.weight_ih_l0
    bias = rnn.bias_ih_l0
    return median_seconds({
        "indrnn": fwd_bwd(lambda: rnn(x)[0], [x, *rnn.parameters()]),
        "nn.LSTM": fwd_bwd(lambda: lstm(x)[0], [x, *lstm.parameters()]),
        "indrnn.LSTM": fwd_bwd(lambda: readable(x)[0], [x, *readable.parameters()]),
        "W x alone": fwd_bwd(lambda: F.linear(x, weight, bias), [x, weight, bias]),
    }, repeats)


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
    weight, bias = rnn.weight_ih_l0, rnn.bias_ih_l0
    return median_seconds({
        "indrnn": fwd_bwd(lambda: rnn(x)[0], params),
        "W x alone": fwd_bwd(lambda: F.linear(x, weight, bias), [x, weight, bias]),
        "naive loop": fwd_bwd(naive, params),
        "loop, W x hoisted": fwd_bwd(hoisted, params),
    }, repeats)


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
        print(f"  {name:<12} {seconds:8.4f}")
    lstm_ratio = first["nn.LSTM"] / first["indrnn"]
    floor_ratio = first["indrnn"] / first["W x alone"]
    print(f"  nn.LSTM / IndRNN = {lstm_ratio:.2f}x (target >= 5)   "
          f"IndRNN / (W x alone) = {floor_ratio:.2f}x (target <= 1.5)   "
          f"indrnn.LSTM / nn.LSTM = {first['indrnn.LSTM'] / first['nn.LSTM']:.2f}x")

    second = shape_two(8, 5000, 128, repeats)
    print("\n(B=8, T=5000, D=N=128), forward + backward, median seconds")
    for name, seconds in second.items():
        print(f"  {name:<18} {seconds:8.4f}")
    loop_ratio = second["naive loop"] / second["indrnn"]
    hoisted_ratio = second["loop, W x hoisted"] / second["indrnn"]
    print(f"  naive loop / IndRNN = {loop_ratio:.1f}x (target >= 10); "
          f"loop with W x hoisted / IndRNN = {hoisted_ratio:.1f}x; "
          f"IndRNN / (W x alone) = {second['indrnn'] / second['W x alone']:.2f}x")


if __name__ == "__main__":
    main()
