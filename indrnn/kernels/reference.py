"""The IndRNN recurrence in plain PyTorch, one step at a time.

This is the ground truth every faster kernel is tested against, and the fallback where no
compiled kernel is available. ``recurrence_loop`` is differentiable by autograd (one node per
step, slow but obviously right); ``forward``/``backward`` are the same maths written as the
kernel interface of :mod:`indrnn.kernels`.
"""

from __future__ import annotations

import torch
from torch import Tensor


def activate(x: Tensor, nonlinearity: str) -> Tensor:
    """``relu(x)`` or ``tanh(x)``: the layer's nonlinearity."""
    return torch.relu(x) if nonlinearity == "relu" else torch.tanh(x)


def _backward_through_activation(grad: Tensor, h: Tensor, nonlinearity: str) -> Tensor:
    # Read off the output, as torch's own relu/tanh backward does; where relu's output is 0 the
    # gradient is 0, even a NaN one (torch.where, not a product with the mask).
    if nonlinearity == "relu":
        return torch.where(h > 0, grad, 0.0)
    return grad * (1 - h * h)


def recurrence_loop(a: Tensor, u: Tensor, h0: Tensor, nonlinearity: str = "relu") -> Tensor:
    """Run ``h_t = σ(a_t + u ⊙ h_{t-1})`` step by step with autograd recording every step."""
    h = h0
    steps = []
    for a_t in a.unbind(0):
        h = activate(a_t + u * h, nonlinearity)
        steps.append(h)
    return torch.stack(steps, 0)


@torch.no_grad()
def forward(a: Tensor, u: Tensor, h0: Tensor, nonlinearity: str) -> Tensor:
    """Kernel interface: ``h`` of shape ``(T, B, N)``."""
    h = torch.empty_like(a)
    prev = h0
    for t in range(a.shape[0]):
        prev = activate(a[t] + u * prev, nonlinearity)
        h[t] = prev
    return h


@torch.no_grad()
def backward(
    grad_h: Tensor, h: Tensor, u: Tensor, h0: Tensor, nonlinearity: str
) -> tuple[Tensor, Tensor, Tensor]:
    """Kernel interface: gradients with respect to ``a``, ``u`` and ``h0``."""
    grad_a = torch.empty_like(grad_h)
    grad_u_columns = torch.zeros_like(h0)
    carry = torch.zeros_like(h0)
    for t in range(grad_h.shape[0] - 1, -1, -1):
        grad_pre = _backward_through_activation(grad_h[t] + carry, h[t], nonlinearity)
        grad_a[t] = grad_pre
        grad_u_columns += grad_pre * (h[t - 1] if t > 0 else h0)
        carry = grad_pre * u
    return grad_a, grad_u_columns.sum(0), carry
