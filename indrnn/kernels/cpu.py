"""The IndRNN recurrence compiled for the CPU with numba.

The ``(T, B, N)`` tensors are seen as ``(T, C)`` with ``C = B·N`` independent columns. Columns are
split into chunks that run on separate threads; inside a chunk the loop runs over time and then
over contiguous columns, so each step streams through memory once and vectorises.

Subnormal results are flushed to zero inside the kernel: a decaying ReLU state otherwise spends
thousands of steps in the subnormal range, where every multiply is many times slower, and
``torch.set_flush_denormal`` does not reach numba's worker threads.
"""

from __future__ import annotations

import numba
import numpy as np
import torch
from torch import Tensor

_COLUMNS_PER_TASK = 256


def _make_kernels(is_relu: bool):
    # `is_relu` is a compile-time constant inside each kernel, so the unused branch is pruned.

    @numba.njit(parallel=True, cache=True, nogil=True)
    def forward_kernel(a, u, h0, h, tiny):
        steps, columns = a.shape
        for chunk in numba.prange((columns + _COLUMNS_PER_TASK - 1) // _COLUMNS_PER_TASK):
            lo = chunk * _COLUMNS_PER_TASK
            hi = min(lo + _COLUMNS_PER_TASK, columns)
            for t in range(steps):
                for j in range(lo, hi):
                    prev = h[t - 1, j] if t > 0 else h0[j]
                    x = a[t, j] + u[j] * prev
                    if is_relu:
                        # `x < tiny` is False for NaN, so NaN propagates as in torch.relu.
                        h[t, j] = 0.0 if x < tiny else x
                    else:
                        y = np.tanh(x)
                        h[t, j] = 0.0 if abs(y) < tiny else y

    @numba.njit(parallel=True, cache=True, nogil=True)
    def backward_kernel(grad_h, h, u, h0, grad_a, grad_u_columns, carry, tiny):
        steps, columns = grad_h.shape
        for chunk in numba.prange((columns + _COLUMNS_PER_TASK - 1) // _COLUMNS_PER_TASK):
            lo = chunk * _COLUMNS_PER_TASK
            hi = min(lo + _COLUMNS_PER_TASK, columns)
            for j in range(lo, hi):
                carry[j] = 0.0
                grad_u_columns[j] = 0.0
            for t in range(steps - 1, -1, -1):
                for j in range(lo, hi):
                    g = grad_h[t, j] + carry[j]
                    out = h[t, j]
                    if is_relu:
                        d = g if out > 0 else 0.0
                    else:
                        d = g * (1.0 - out * out)
                    grad_a[t, j] = d
                    prev = h[t - 1, j] if t > 0 else h0[j]
                    grad_u_columns[j] += d * prev
                    c = d * u[j]
                    carry[j] = 0.0 if abs(c) < tiny else c

    return forward_kernel, backward_kernel


_KERNELS = {"relu": _make_kernels(True), "tanh": _make_kernels(False)}

SUPPORTED_DTYPES = (torch.float32, torch.float64)


def _columns(x: Tensor) -> np.ndarray:
    """A zero-copy ``(T, C)`` NumPy view of a contiguous ``(T, B, N)`` tensor."""
    return x.detach().reshape(x.shape[0], -1).numpy()


def _tiny(dtype: torch.dtype) -> float:
    return float(torch.finfo(dtype).tiny)


@torch.no_grad()
def forward(a: Tensor, u: Tensor, h0: Tensor, nonlinearity: str) -> Tensor:
    """Kernel interface (see :mod:`indrnn.kernels`)."""
    a = a.contiguous()
    batch = a.shape[1]
    u_columns = u.detach().repeat(batch).contiguous().numpy()
    h = torch.empty_like(a)
    _KERNELS[nonlinearity][0](
        _columns(a), u_columns, h0.detach().contiguous().reshape(-1).numpy(), _columns(h),
        _tiny(a.dtype),
    )
    return h


@torch.no_grad()
def backward(
    grad_h: Tensor, h: Tensor, u: Tensor, h0: Tensor, nonlinearity: str
) -> tuple[Tensor, Tensor, Tensor]:
    """Kernel interface (see :mod:`indrnn.kernels`)."""
    grad_h = grad_h.contiguous()
    h = h.contiguous()
    batch, hidden = h0.shape
    grad_a = torch.empty_like(grad_h)
    grad_u_columns = torch.empty(batch * hidden, dtype=h.dtype)
    grad_h0 = torch.empty(batch * hidden, dtype=h.dtype)
    _KERNELS[nonlinearity][1](
        _columns(grad_h), _columns(h), u.detach().repeat(batch).contiguous().numpy(),
        h0.detach().contiguous().reshape(-1).numpy(), _columns(grad_a),
        grad_u_columns.numpy(), grad_h0.numpy(), _tiny(h.dtype),
    )
    return grad_a, grad_u_columns.view(batch, hidden).sum(0), grad_h0.view(batch, hidden)
