"""The IndRNN recurrence compiled for the CPU with numba.

The ``(T, B, N)`` tensors are seen as ``(T, C)`` with ``C = B·N`` independent columns. Columns are
split into one contiguous chunk per thread; inside a chunk the loop runs over time and then over
the chunk's columns, so each step streams through memory once, in runs long enough for the
hardware prefetcher, and vectorises. (Chunks of 256 columns, one task each, ran the kernel at
2.6-4.5x its memory-bandwidth floor where one chunk per thread runs at 1.8-3.0x, and a single
128-neuron sequence on one thread: ``bench/bench_kernel.py``.)

The kernel runs on as many threads as torch (``torch.set_num_threads``, ``OMP_NUM_THREADS``):
numba's OpenMP workers otherwise start one per core and, sharing torch's OpenMP runtime, leave
torch's own thread count raised to theirs after the first call.

Subnormal results are flushed to zero inside the kernel: a decaying ReLU state otherwise spends
thousands of steps in the subnormal range, where every multiply is many times slower, and
``torch.set_flush_denormal`` does not reach numba's worker threads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numba
import numpy as np
import torch
from torch import Tensor

# Chunk widths are a multiple of this many columns (64 bytes of float32: one cache line).
_COLUMN_ALIGN = 16


@contextlib.contextmanager
def _on_torch_threads() -> Iterator[None]:
    """Run numba's parallel loops on torch's thread count, and leave torch's count as it was
    (starting numba's workers sets the shared OpenMP runtime's count to one per core)."""
    wanted = torch.get_num_threads()
    workers = min(wanted, numba.config.NUMBA_NUM_THREADS)  # numba cannot exceed its pool
    if numba.get_num_threads() != workers:
        numba.set_num_threads(workers)
    try:
        yield
    finally:
        if torch.get_num_threads() != wanted:
            torch.set_num_threads(wanted)


def _chunk_width(columns: int) -> int:
    """Columns per chunk: one chunk per thread, each starting on a cache line."""
    per_thread = -(-columns // numba.get_num_threads())
    return max(_COLUMN_ALIGN, -(-per_thread // _COLUMN_ALIGN) * _COLUMN_ALIGN)


# Rows are sliced per chunk and `tiny` has the arrays' dtype, so the inner loops carry no index
# arithmetic or mixed-precision compares and LLVM vectorises them. The nonlinearity is chosen
# once per row, outside the inner loops.


@numba.njit(parallel=True, cache=True, nogil=True)
def _forward_kernel(a, u, h0, h, tiny, is_relu, width):
    steps, columns = a.shape
    for chunk in numba.prange((columns + width - 1) // width):
        lo = chunk * width
        hi = min(lo + width, columns)
        u_chunk = u[lo:hi]
        prev = h0[lo:hi]
        for t in range(steps):
            a_row = a[t, lo:hi]
            row = h[t, lo:hi]
            if is_relu:
                for j in range(hi - lo):
                    x = a_row[j] + u_chunk[j] * prev[j]
                    # `x < tiny` is False for NaN, so NaN propagates as in torch.relu.
                    row[j] = 0.0 if x < tiny else x
            else:
                for j in range(hi - lo):
                    y = np.tanh(a_row[j] + u_chunk[j] * prev[j])
                    row[j] = 0.0 if abs(y) < tiny else y
            prev = row

@numba.njit(parallel=True, cache=True, nogil=True)
def _backward_kernel(grad_h, h, u, h0, grad_a, grad_u_columns, carry, tiny, is_relu, width):
    steps, columns = grad_h.shape
    for chunk in numba.prange((columns + width - 1) // width):
        lo = chunk * width
        hi = min(lo + width, columns)
        u_chunk = u[lo:hi]
        carry_chunk = carry[lo:hi]
        grad_u_chunk = grad_u_columns[lo:hi]
        carry_chunk[:] = 0.0
        grad_u_chunk[:] = 0.0
        for t in range(steps - 1, -1, -1):
            grad_row = grad_h[t, lo:hi]
            out_row = h[t, lo:hi]
            prev_row = h[t - 1, lo:hi] if t > 0 else h0[lo:hi]
            grad_a_row = grad_a[t, lo:hi]
            if is_relu:
                for j in range(hi - lo):
                    g = grad_row[j] + carry_chunk[j]
                    grad_a_row[j] = g if out_row[j] > 0 else 0.0
            else:
                for j in range(hi - lo):
                    out = out_row[j]
                    grad_a_row[j] = (grad_row[j] + carry_chunk[j]) * (1.0 - out * out)
            for j in range(hi - lo):
                d = grad_a_row[j]
                grad_u_chunk[j] += d * prev_row[j]
                c = d * u_chunk[j]
                carry_chunk[j] = 0.0 if abs(c) < tiny else c


SUPPORTED_DTYPES = (torch.float32, torch.float64)


def _columns(x: Tensor) -> np.ndarray:
    """A zero-copy ``(T, C)`` NumPy view of a contiguous ``(T, B, N)`` tensor."""
    return x.detach().reshape(x.shape[0], -1).numpy()


def _strided_columns(x: Tensor) -> np.ndarray:
    """A ``(T, C)`` view of ``x`` without copying where strides allow it.

    The gradient of a ``.sum()`` or ``.mean()`` loss arrives as one value expanded with zero
    strides; reading it in place saves writing (and faulting in) a full ``(T, B, N)`` copy.
    """
    x = x.detach()
    try:
        return x.view(x.shape[0], -1).numpy()
    except RuntimeError:  # strides that no (T, C) view can express
        return x.contiguous().view(x.shape[0], -1).numpy()


def _tiny(dtype: torch.dtype) -> np.floating:
    """The smallest normal number, as a scalar of the arrays' own dtype."""
    return np.dtype(str(dtype).removeprefix("torch.")).type(torch.finfo(dtype).tiny)


@torch.no_grad()
def forward(a: Tensor, u: Tensor, h0: Tensor, nonlinearity: str) -> Tensor:
    """Kernel interface (see :mod:`indrnn.kernels`)."""
    a = a.contiguous()
    batch = a.shape[1]
    u_columns = u.detach().repeat(batch).contiguous().numpy()
    h = torch.empty_like(a)
    with _on_torch_threads():
        _forward_kernel(
            _columns(a), u_columns, h0.detach().contiguous().reshape(-1).numpy(), _columns(h),
            _tiny(a.dtype), nonlinearity == "relu", _chunk_width(u_columns.shape[0]),
        )
    return h


@torch.no_grad()
def backward(
    grad_h: Tensor, h: Tensor, u: Tensor, h0: Tensor, nonlinearity: str
) -> tuple[Tensor, Tensor, Tensor]:
    """Kernel interface (see :mod:`indrnn.kernels`)."""
    h = h.contiguous()
    batch, hidden = h0.shape
    grad_a = torch.empty(h.shape, dtype=h.dtype)
    grad_u_columns = torch.empty(batch * hidden, dtype=h.dtype)
    grad_h0 = torch.empty(batch * hidden, dtype=h.dtype)
    with _on_torch_threads():
        _backward_kernel(
            _strided_columns(grad_h), _columns(h), u.detach().repeat(batch).contiguous().numpy(),
            h0.detach().contiguous().reshape(-1).numpy(), _columns(grad_a),
            grad_u_columns.numpy(), grad_h0.numpy(), _tiny(h.dtype), nonlinearity == "relu",
            _chunk_width(batch * hidden),
        )
    return grad_a, grad_u_columns.view(batch, hidden).sum(0), grad_h0.view(batch, hidden)
