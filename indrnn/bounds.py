"""The paper's constraint on the recurrent weights u, and its initialisation.

Li et al. (2018) keep every recurrent weight inside ``|u| ≤ γ^{1/T}`` so that a gradient grows at
most by γ over T steps, and, where a neuron must keep its memory (the last layer of a network that
classifies from its last step), ``|u| ≥ ε^{1/T}``. The bound is applied as a clamp after each
optimizer step, not as gradient clipping.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

#: A bound on ``|u|``: one value for every layer, one per layer (``None``: unbounded), or none.
Bound = float | Sequence[float | None] | None


def recurrent_bound(factor: float, seq_len: int) -> float:
    """``factor ** (1 / seq_len)``: the bound on ``|u|`` that limits growth over ``seq_len`` steps.

    Examples
    --------
    Adding problem with T = 1000, ``|u| < 2^{1/T}`` (the paper):

    >>> round(recurrent_bound(2.0, 1000), 6)
    1.000693
    """
    if factor <= 0 or seq_len < 1:
        raise ValueError(f"need factor > 0 and seq_len >= 1, got {factor} and {seq_len}")
    return float(factor ** (1.0 / seq_len))


def per_layer(value: Bound, num_layers: int, name: str) -> list:
    """Expand a scalar (or ``None``) to one value per layer; check a given sequence's length."""
    if value is None or isinstance(value, (int, float)):
        return [value] * num_layers
    values = list(value)
    if len(values) != num_layers:
        raise ValueError(f"{name} needs {num_layers} values (one per layer), got {len(values)}")
    return values


def check_bounds(recurrent_min: float | None, recurrent_max: float | None) -> None:
    """Raise ``ValueError`` unless ``0 <= recurrent_min <= recurrent_max`` (where given)."""
    if recurrent_max is not None and recurrent_max <= 0:
        raise ValueError(f"recurrent_max must be > 0, got {recurrent_max}")
    if recurrent_min is not None:
        if recurrent_min < 0:
            raise ValueError(f"recurrent_min must be >= 0, got {recurrent_min}")
        if recurrent_max is not None and recurrent_min > recurrent_max:
            raise ValueError(
                f"recurrent_min ({recurrent_min}) must not exceed recurrent_max ({recurrent_max})"
            )


@torch.no_grad()
def init_recurrent_weight_(
    u: Tensor, recurrent_min: float | None = None, recurrent_max: float | None = None
) -> Tensor:
    """Fill ``u`` from ``U(recurrent_min or 0, recurrent_max or 1)``, the paper's initialisation."""
    low = 0.0 if recurrent_min is None else recurrent_min
    high = 1.0 if recurrent_max is None else recurrent_max
    return u.uniform_(low, high)


@torch.no_grad()
def clamp_recurrent_weight_(
    u: Tensor, recurrent_min: float | None = None, recurrent_max: float | None = None
) -> Tensor:
    """Clamp the magnitude of every ``u`` into ``[recurrent_min, recurrent_max]``, keeping signs.

    A zero ``u`` counts as positive when a minimum lifts it.
    """
    if recurrent_min is None and recurrent_max is None:
        return u
    sign = torch.where(u < 0, -1.0, 1.0).to(u.dtype)
    return u.copy_(sign * u.abs().clamp(min=recurrent_min, max=recurrent_max))


def clamp_recurrent_weights_(module: nn.Module) -> None:
    """Apply the u bounds of every IndRNN layer inside ``module``.

    Call it after each ``optimizer.step()`` (or use :func:`clamp_after_each_step`), as the paper
    does. Modules without bounds are left alone.
    """
    for sub in module.modules():
        clamp = getattr(sub, "clamp_recurrent_", None)
        if callable(clamp):
            clamp()


def clamp_after_each_step(optimizer: torch.optim.Optimizer, module: nn.Module) -> Callable:
    """Register :func:`clamp_recurrent_weights_` to run after every ``optimizer.step()``.

    Returns the hook handle; ``handle.remove()`` stops it.
    """
    return optimizer.register_step_post_hook(lambda *_: clamp_recurrent_weights_(module))
