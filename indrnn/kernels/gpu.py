"""The IndRNN recurrence as Triton kernels.

Design
------
The ``(T, B, N)`` tensors are seen as ``(T, C)`` with ``C = B·N`` independent columns, as in the
official CUDA IndRNN kernel (one thread per ``(batch, neuron)`` column). Each Triton program
owns a contiguous block of ``block`` columns and loops over time inside the kernel, keeping the
state of its columns in registers:

* the forward kernel reads ``a_t``, writes ``h_t = σ(a_t + u ⊙ h_{t-1})`` and moves one row on;
* the backward kernel walks the rows in reverse, carrying ``∂L/∂h_{t-1}`` (``carry``) in
  registers, writing ``grad_a_t`` and accumulating the per-column ``grad_u``, which the host then
  sums over the batch (a deterministic reduction; no atomics).

``u`` is indexed by ``column % N``. Rows are reached by adding the row length ``C`` to the block's
pointers (64-bit pointer arithmetic), so no 32-bit offset overflows for any ``T·C``.

Precision
---------
Loads are upcast to float32 (float64 for float64 inputs): half and bfloat16 states are carried
in float32 between steps and rounded only when stored, and the backward carry and ``grad_u``
accumulate in float32. ``a_t + u·h_{t-1}`` is one fused multiply-add on the GPU (requested
explicitly: Triton's default changes in 3.10), so float32 results may differ from the reference in
the last bit. The derivative of the nonlinearity is read off the stored ``h`` alone:
``1[h > 0]`` for relu and ``1 - h²`` for tanh, exactly as :mod:`indrnn.kernels.reference`.
NaN propagates as through ``torch.relu``: ``relu(NaN) = NaN``.

Triton has no portable ``tanh``; :func:`_tanh` uses the ``[7/8]`` Padé approximant (Lambert's
continued fraction, relative error below ``6e-18``) for ``|x| < 0.625`` and ``(1 - e) / (1 + e)``
with ``e = exp(-2|x|)`` above, so it is accurate to a few ulps in float32 and float64 alike,
never overflows and suffers no cancellation near zero.

Interpreter
-----------
Whether a kernel is compiled for the GPU or run by Triton's NumPy interpreter is decided when
``@triton.jit`` runs, i.e. when this module is imported: with ``TRITON_INTERPRET=1`` in the
environment at that moment (triton 3.x reads it through ``triton.knobs.runtime.interpret``), the
kernels accept CPU tensors, which is how the tests run them without a GPU. Compiled kernels
need CUDA (or ROCm) tensors.
"""

from __future__ import annotations

import contextlib

import torch
import triton
import triton.language as tl
from torch import Tensor

from indrnn.kernels import NONLINEARITIES

SUPPORTED_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)


@triton.jit
def _tanh(x):
    """``tanh`` in the dtype of ``x`` (float32 or float64): Padé near zero, exp-based beyond."""
    ax = tl.abs(x)
    # Near zero: a convergent of Lambert's continued fraction, x·P(x²)/Q(x²). All coefficients
    # are positive, so Horner's scheme has no cancellation, and they are exact in float32. `xs`
    # is clamped so that the branch not taken cannot overflow (it is computed anyway).
    xs = tl.minimum(tl.maximum(x, -0.625), 0.625)
    z = xs * xs
    p = ((36.0 * z + 6930.0) * z + 270270.0) * z + 2027025.0
    q = (((z + 630.0) * z + 51975.0) * z + 945945.0) * z + 2027025.0
    near_zero = xs * p / q
    # Beyond: e = exp(-2|x|) lies in [0, 0.29], so neither 1 - e nor 1 + e cancels, and it
    # underflows to 0 (tanh = ±1) instead of overflowing. NaN stays NaN: `ax < 0.625` is False.
    e = tl.exp(-2.0 * ax)
    far = (1.0 - e) / (1.0 + e)
    far = tl.where(x < 0, -far, far)
    return tl.where(ax < 0.625, near_zero, far)


@triton.jit
def _activate(x, is_relu: tl.constexpr):
    if is_relu:
        # `x < 0` is False for NaN, so NaN propagates as in torch.relu.
        return tl.where(x < 0, 0.0, x)
    else:
        return _tanh(x)


@triton.jit
def _forward_kernel(
    a_ptr, u_ptr, h0_ptr, h_ptr, steps, columns, hidden,
    is_relu: tl.constexpr, acc_dtype: tl.constexpr, block: tl.constexpr,
):
    cols = tl.program_id(0) * block + tl.arange(0, block)
    mask = cols < columns
    u = tl.load(u_ptr + cols % hidden, mask=mask, other=0.0).to(acc_dtype)
    h = tl.load(h0_ptr + cols, mask=mask, other=0.0).to(acc_dtype)
    a_ptrs = a_ptr + cols
    h_ptrs = h_ptr + cols
    for _ in range(steps):
        x = tl.load(a_ptrs, mask=mask, other=0.0).to(acc_dtype) + u * h
        h = _activate(x, is_relu)
        tl.store(h_ptrs, h.to(h_ptr.dtype.element_ty), mask=mask)
        a_ptrs += columns
        h_ptrs += columns


@triton.jit
def _backward_step(g, out, prev, u, is_relu: tl.constexpr):
    """One step back: ``(grad_pre, grad_u term, carry)`` from the total gradient of ``h_t``."""
    if is_relu:
        # Multiplying (rather than selecting) keeps the reference's NaN/Inf behaviour exactly.
        d = tl.where(out > 0, g, 0.0)  # as torch.relu: no gradient (not even NaN) where h = 0
    else:
        d = g * (1.0 - out * out)
    return d, d * prev, d * u


@triton.jit
def _backward_kernel(
    grad_h_last_ptr, h_last_ptr, u_ptr, h0_ptr, grad_a_last_ptr, grad_u_ptr, grad_h0_ptr,
    steps, columns, hidden,
    is_relu: tl.constexpr, acc_dtype: tl.constexpr, block: tl.constexpr,
):
    # The *_last pointers point at row T-1; the loop walks back one row (`columns`) per step.
    cols = tl.program_id(0) * block + tl.arange(0, block)
    mask = cols < columns
    u = tl.load(u_ptr + cols % hidden, mask=mask, other=0.0).to(acc_dtype)
    grad_h_ptrs = grad_h_last_ptr + cols
    h_ptrs = h_last_ptr + cols
    grad_a_ptrs = grad_a_last_ptr + cols
    carry = tl.zeros([block], dtype=acc_dtype)
    grad_u = tl.zeros([block], dtype=acc_dtype)
    out = tl.load(h_ptrs, mask=mask, other=0.0).to(acc_dtype)
    # Steps T-1 .. 1: the previous state is the stored h_{t-1}.
    for _ in range(steps - 1):
        prev = tl.load(h_ptrs - columns, mask=mask, other=0.0).to(acc_dtype)
        g = tl.load(grad_h_ptrs, mask=mask, other=0.0).to(acc_dtype) + carry
        d, du, carry = _backward_step(g, out, prev, u, is_relu)
        grad_u += du
        tl.store(grad_a_ptrs, d.to(grad_a_last_ptr.dtype.element_ty), mask=mask)
        out = prev
        h_ptrs -= columns
        grad_h_ptrs -= columns
        grad_a_ptrs -= columns
    # Step 0: the previous state is h0.
    prev = tl.load(h0_ptr + cols, mask=mask, other=0.0).to(acc_dtype)
    g = tl.load(grad_h_ptrs, mask=mask, other=0.0).to(acc_dtype) + carry
    d, du, carry = _backward_step(g, out, prev, u, is_relu)
    grad_u += du
    tl.store(grad_a_ptrs, d.to(grad_a_last_ptr.dtype.element_ty), mask=mask)
    tl.store(grad_u_ptr + cols, grad_u.to(grad_u_ptr.dtype.element_ty), mask=mask)
    tl.store(grad_h0_ptr + cols, carry.to(grad_h0_ptr.dtype.element_ty), mask=mask)


INTERPRETED = not isinstance(_forward_kernel, triton.runtime.JITFunction)
"""True when the kernels run in Triton's interpreter (``TRITON_INTERPRET=1`` at import)."""


def _next_power_of_2(n: int) -> int:
    return 1 << max(n - 1, 0).bit_length()


def _launch_config(columns: int, device: torch.device, block_size: int | None) -> tuple[int, int]:
    """``(block, num_warps)`` for ``columns`` independent columns."""
    if block_size is None:
        if INTERPRETED:
            # The interpreter runs programs one after another, vectorised over the block.
            block_size = min(_next_power_of_2(columns), 4096)
        else:
            # The loop over time is latency bound: spread the columns over as many programs as
            # there are streaming multiprocessors (several each) before widening a program.
            sms = torch.cuda.get_device_properties(device).multi_processor_count
            block_size = min(max(_next_power_of_2(triton.cdiv(columns, 4 * sms)), 32), 256)
    if block_size < 1 or block_size & (block_size - 1):
        raise ValueError(f"block_size must be a power of two, got {block_size}")
    return block_size, max(1, min(block_size // 32, 8))


def _check(a: Tensor, nonlinearity: str) -> None:
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}")
    if a.dtype not in SUPPORTED_DTYPES:
        raise TypeError(f"the Triton kernel supports {SUPPORTED_DTYPES}, got {a.dtype}")
    if not INTERPRETED and a.device.type != "cuda":
        raise ValueError(
            f"the compiled Triton kernel needs CUDA tensors, got {a.device}; set "
            "TRITON_INTERPRET=1 before importing indrnn.kernels.gpu to run it on the CPU"
        )


def _on_device(x: Tensor) -> contextlib.AbstractContextManager:
    """Launch on ``x``'s GPU: Triton launches on the current device, not the tensors'."""
    return torch.cuda.device(x.device) if x.is_cuda else contextlib.nullcontext()


def _accumulator(dtype: torch.dtype) -> tl.dtype:
    return tl.float64 if dtype == torch.float64 else tl.float32


@torch.no_grad()
def forward(
    a: Tensor, u: Tensor, h0: Tensor, nonlinearity: str, *, block_size: int | None = None
) -> Tensor:
    """Kernel interface (see :mod:`indrnn.kernels`): ``h`` of shape ``(T, B, N)``.

    Parameters
    ----------
    a : Tensor
        ``(T, B, N)`` input projections.
    u : Tensor
        ``(N,)`` recurrent weights.
    h0 : Tensor
        ``(B, N)`` initial state.
    nonlinearity : {"relu", "tanh"}
    block_size : int, optional
        Columns per Triton program (a power of two); chosen from the device when omitted.

    Returns
    -------
    Tensor
        ``(T, B, N)`` states, in ``a``'s dtype.
    """
    _check(a, nonlinearity)
    steps, batch, hidden = a.shape
    columns = batch * hidden
    a = a.detach().contiguous()
    h = torch.empty_like(a)
    if columns == 0 or steps == 0:
        return h
    block, num_warps = _launch_config(columns, a.device, block_size)
    with _on_device(a):
        _forward_kernel[(triton.cdiv(columns, block),)](
            a, u.detach().contiguous(), h0.detach().contiguous(), h, steps, columns, hidden,
            is_relu=nonlinearity == "relu", acc_dtype=_accumulator(a.dtype), block=block,
            num_warps=num_warps, enable_fp_fusion=True,
        )
    return h


@torch.no_grad()
def backward(
    grad_h: Tensor,
    h: Tensor,
    u: Tensor,
    h0: Tensor,
    nonlinearity: str,
    *,
    block_size: int | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Kernel interface (see :mod:`indrnn.kernels`): gradients with respect to ``a``, ``u``, ``h0``.

    Parameters
    ----------
    grad_h : Tensor
        ``(T, B, N)`` gradient of the loss with respect to every ``h_t``.
    h : Tensor
        ``(T, B, N)`` states returned by :func:`forward`.
    u : Tensor
        ``(N,)`` recurrent weights.
    h0 : Tensor
        ``(B, N)`` initial state.
    nonlinearity : {"relu", "tanh"}
    block_size : int, optional
        Columns per Triton program (a power of two); chosen from the device when omitted.

    Returns
    -------
    tuple of Tensor
        ``grad_a`` ``(T, B, N)``, ``grad_u`` ``(N,)`` (summed over the batch in float32 for half
        inputs) and ``grad_h0`` ``(B, N)``, all in ``h``'s dtype.
    """
    _check(h, nonlinearity)
    steps, batch, hidden = h.shape
    columns = batch * hidden
    grad_h = grad_h.detach().to(h.dtype).contiguous()
    h = h.detach().contiguous()
    grad_a = torch.empty_like(h)
    acc_dtype = torch.float64 if h.dtype == torch.float64 else torch.float32
    grad_u_columns = torch.zeros(batch, hidden, dtype=acc_dtype, device=h.device)
    grad_h0 = torch.zeros(batch, hidden, dtype=h.dtype, device=h.device)
    if columns > 0 and steps > 0:
        block, num_warps = _launch_config(columns, h.device, block_size)
        with _on_device(h):
            _backward_kernel[(triton.cdiv(columns, block),)](
                grad_h[-1], h[-1], u.detach().contiguous(), h0.detach().contiguous(),
                grad_a[-1], grad_u_columns, grad_h0, steps, columns, hidden,
                is_relu=nonlinearity == "relu", acc_dtype=_accumulator(h.dtype), block=block,
                num_warps=num_warps, enable_fp_fusion=True,
            )
    return grad_a, grad_u_columns.sum(0).to(h.dtype), grad_h0
