"""The IndRNN recurrence ``h_t = σ(a_t + u ⊙ h_{t-1})`` as one autograd node.

All ``T`` steps run inside one :class:`torch.autograd.Function` with a hand-written backward, so
autograd sees a single node instead of one per step. The step-wise work is done by a kernel
from :mod:`indrnn.kernels`, chosen by device and dtype (or by the ``backend`` argument).
"""

from __future__ import annotations

import importlib
from functools import cache
from types import ModuleType

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from indrnn.kernels import NONLINEARITIES

BACKENDS = ("auto", "reference", "cpu", "gpu")


@cache
def _kernel_module(name: str) -> ModuleType:
    # Imported lazily: numba and triton take a while to import and either may be missing.
    return importlib.import_module(f"indrnn.kernels.{name}")


@cache
def _importable(name: str) -> bool:
    try:
        _kernel_module(name)
    except ImportError:
        return False
    return True


def select_backend(a: Tensor, backend: str = "auto") -> str:
    """Name the kernel that runs the recurrence on ``a``.

    ``"auto"`` takes the Triton kernel for CUDA tensors and the numba kernel for float32/float64
    CPU tensors, and falls back to the PyTorch reference where neither applies.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend != "auto":
        return backend
    if a.is_cuda:
        return "gpu" if _importable("gpu") else "reference"
    if a.device.type == "cpu" and a.dtype in (torch.float32, torch.float64) and _importable("cpu"):
        return "cpu"
    return "reference"


class _Recurrence(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a: Tensor, u: Tensor, h0: Tensor, nonlinearity: str, backend: str) -> Tensor:
        kernel = _kernel_module(backend)
        h = kernel.forward(a, u, h0, nonlinearity)
        ctx.save_for_backward(h, u, h0)
        ctx.kernel = kernel
        ctx.nonlinearity = nonlinearity
        return h

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_h: Tensor):
        h, u, h0 = ctx.saved_tensors
        grad_a, grad_u, grad_h0 = ctx.kernel.backward(grad_h, h, u, h0, ctx.nonlinearity)
        return grad_a, grad_u, grad_h0, None, None


def indrnn_recurrence(
    a: Tensor,
    u: Tensor,
    h0: Tensor | None = None,
    nonlinearity: str = "relu",
    backend: str = "auto",
) -> Tensor:
    """Run ``h_t = σ(a_t + u ⊙ h_{t-1})`` over every step of ``a``.

    Parameters
    ----------
    a : Tensor
        ``(T, B, N)``: the input projection ``W x_t + b`` of every step.
    u : Tensor
        ``(N,)``: one recurrent weight per neuron.
    h0 : Tensor, optional
        ``(B, N)`` initial state; zeros when omitted.
    nonlinearity : {"relu", "tanh"}
    backend : {"auto", "reference", "cpu", "gpu"}
        Which kernel runs the steps; see :func:`select_backend`.

    Returns
    -------
    Tensor
        ``(T, B, N)``: the state after every step. Differentiable with respect to ``a``, ``u``
        and ``h0``. NaN and Inf propagate as they would through ``torch.relu``/``torch.tanh``.
    """
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}")
    if a.dim() != 3 or a.shape[0] == 0:
        raise ValueError(f"a must have shape (T, B, N) with T >= 1, got {tuple(a.shape)}")
    _, batch, hidden = a.shape
    if u.shape != (hidden,):
        raise ValueError(f"u must have shape ({hidden},), got {tuple(u.shape)}")
    if h0 is None:
        h0 = a.new_zeros(batch, hidden)
    elif h0.shape != (batch, hidden):
        raise ValueError(f"h0 must have shape ({batch}, {hidden}), got {tuple(h0.shape)}")
    for name, tensor in (("u", u), ("h0", h0)):
        if tensor.dtype != a.dtype or tensor.device != a.device:
            raise ValueError(
                f"{name} must match a's dtype and device ({a.dtype}, {a.device}), "
                f"got ({tensor.dtype}, {tensor.device})"
            )
    return _Recurrence.apply(a, u, h0, nonlinearity, select_backend(a, backend))
