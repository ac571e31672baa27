"""The CPU recurrence kernel against the machine's memory bandwidth, in one process.

    python bench/bench_kernel.py [--repeats 7]

The kernel streams through memory once per pass: the forward reads ``a`` and writes ``h``, the
backward reads the upstream gradient and ``h`` and writes ``grad_a`` (all ``(T, B, N)``). Its
floor is those bytes over the bandwidth of ``Tensor.copy_`` between two buffers of the same size
(reused, so the copy pays no page faults), measured round-robin with the kernel. The kernel's
outputs are fresh tensors each call, as in training. The upstream gradient is dense (random), as
a real loss's is.

Target (issue: performance): forward and backward each within 1.5x of the floor at
(100000, 8, 128), (5000, 32, 512) and (100000, 1, 128); (5000, 8, 128) is the layer bench's shape.
"""

from __future__ import annotations

import argparse

import indrnn  # noqa: F401  (before torch: its runtime settings)

# isort: split
import torch
from bench_recurrence import median_seconds  # bench/bench_recurrence.py

from indrnn.kernels import cpu

SHAPES = [(100_000, 8, 128), (5_000, 32, 512), (100_000, 1, 128), (5_000, 8, 128)]
TARGET = 1.5


def measure(steps: int, batch: int, hidden: int, repeats: int) -> dict[str, float]:
    a = torch.randn(steps, batch, hidden)
    u = torch.rand(hidden) * 2 - 1
    h0 = torch.zeros(batch, hidden)
    grad = torch.randn(steps, batch, hidden)
    target = torch.empty_like(a)
    h = cpu.forward(a, u, h0, "relu")
    return median_seconds({
        "copy": lambda: target.copy_(a),
        "forward": lambda: cpu.forward(a, u, h0, "relu"),
        "backward": lambda: cpu.backward(grad, h, u, h0, "relu"),
    }, repeats)

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_flush_denormal(True)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"numba {cpu.numba.get_num_threads()} threads, {args.repeats} repeats")
    print("| (T, B, N) | copy bandwidth | forward | floor | × floor | backward | floor | × floor |")
    print("|---|---|---|---|---|---|---|---|")
    for shape in SHAPES:
        t = measure(*shape, args.repeats)
        size = torch.Size(shape).numel() * 4
        bandwidth = 2 * size / t["copy"]
        floors = {"forward": 2 * size / bandwidth, "backward": 3 * size / bandwidth}
        cells = [f"{t[k] * 1e3:.1f} ms | {floors[k] * 1e3:.1f} ms | **{t[k] / floors[k]:.2f}×**"
                 for k in floors]
        print(f"| {shape} | {bandwidth / 1e9:.1f} GB/s | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
