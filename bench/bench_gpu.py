"""Speed of the Triton IndRNN kernel on a GPU against cuDNN's nn.LSTM, in the same process.

    python bench/bench_gpu.py                 # T = 256, 512, 1024
    python bench/bench_gpu.py --steps 5000    # other lengths

Shape: the adding problem of the IndRNN paper (input size 2, hidden 128, batch 50). One IndRNN
layer is the projection ``W x + b`` of all steps (one matmul) followed by the recurrence
(:func:`indrnn.recurrence.indrnn_recurrence`, ``backend="gpu"``); it is timed forward + backward
against ``torch.nn.LSTM`` (cuDNN) of the same sizes, and against ``W x`` alone (the floor).
Times are medians of CUDA-event timings; the ratios do not depend on the GPU's speed. Without
a CUDA GPU (or without triton) the script says so and exits with status 0.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable

import torch
import torch.nn.functional as F

INPUT_SIZE, HIDDEN, BATCH = 2, 128, 50


def median_ms(step: Callable[[], None], repeats: int) -> float:
    """Median wall time of ``step`` on the GPU, in milliseconds, after warm-up."""
    for _ in range(3):  # Triton compilation, cuDNN plans, the allocator
        step()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        step()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def fwd_bwd(forward: Callable[[], torch.Tensor], params: list[torch.Tensor]) -> Callable[[], None]:
    def step() -> None:
        for p in params:
            p.grad = None
        forward().sum().backward()

    return step


def bench(steps: int, repeats: int) -> dict[str, float]:
    from indrnn.recurrence import indrnn_recurrence

    device = torch.device("cuda")
    x = torch.randn(steps, BATCH, INPUT_SIZE, device=device, requires_grad=True)
    weight = torch.nn.Parameter(torch.randn(HIDDEN, INPUT_SIZE, device=device) * 0.5)
    bias = torch.nn.Parameter(torch.zeros(HIDDEN, device=device))
    u = torch.nn.Parameter(torch.rand(HIDDEN, device=device))
    h0 = torch.zeros(BATCH, HIDDEN, device=device)
    lstm = torch.nn.LSTM(INPUT_SIZE, HIDDEN, device=device)

    def indrnn() -> torch.Tensor:
        return indrnn_recurrence(F.linear(x, weight, bias), u, h0, "relu", backend="gpu")

    return {
        "IndRNN (Triton)": median_ms(fwd_bwd(indrnn, [x, weight, bias, u]), repeats),
        "nn.LSTM (cuDNN)": median_ms(fwd_bwd(lambda: lstm(x)[0], [x, *lstm.parameters()]),
                                     repeats),
        "W x alone": median_ms(fwd_bwd(lambda: F.linear(x, weight, bias), [x, weight, bias]),
                               repeats),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("bench_gpu: no CUDA GPU available, nothing to measure.")
        return 0
    try:
        import triton  # noqa: F401
    except ImportError:
        print("bench_gpu: triton is not installed (pip install 'indrnn[gpu]'), nothing to measure.")
        return 0
    torch.manual_seed(0)
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, "
          f"batch {BATCH}, input {INPUT_SIZE}, hidden {HIDDEN}; forward + backward, median ms")
    print(f"{'T':>6} {'IndRNN':>9} {'LSTM':>9} {'W x':>9} {'LSTM/IndRNN':>12} {'IndRNN/Wx':>10}")
    for steps in args.steps:
        t = bench(steps, args.repeats)
        indrnn, lstm, floor = t["IndRNN (Triton)"], t["nn.LSTM (cuDNN)"], t["W x alone"]
        print(f"{steps:>6} {indrnn:>9.3f} {lstm:>9.3f} {floor:>9.3f} "
              f"{lstm / indrnn:>11.2f}x {indrnn / floor:>9.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
