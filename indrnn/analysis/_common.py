"""Helpers the analyses share: reading a recording, products over lags, picking the output."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from indrnn.record import LayerRecord, Recorder
from indrnn.sequence_model import SequenceModel


def is_reverse(name: str) -> bool:
    """Whether a recorded layer name is the backward direction of a bidirectional layer."""
    return name.split("#")[0].endswith("_reverse")


def infer_nonlinearity(record: LayerRecord) -> str:
    """``"relu"`` or ``"tanh"``, read off an IndRNN record (``hidden == σ(preactivation)``)."""
    pre = record.tensors["preactivation"]
    hidden = record.hidden
    if bool((hidden < 0).any()):
        return "tanh"
    return "relu" if torch.allclose(hidden, pre.clamp_min(0), rtol=1e-4, atol=1e-6) else "tanh"


def activation_slope(hidden: Tensor, nonlinearity: str) -> Tensor:
    """``σ'(preactivation)`` read off the output, as the kernels do: ``1[h > 0]`` or ``1 - h²``."""
    if nonlinearity == "relu":
        return (hidden > 0).to(hidden.dtype)
    return 1 - hidden * hidden


def step_index(step: int, steps: int) -> int:
    """A step index in ``[0, steps)`` from a possibly negative one; ``IndexError`` if outside."""
    index = step + steps if step < 0 else step
    if not 0 <= index < steps:
        raise IndexError(f"step {step} is outside a sequence of {steps} steps")
    return index


def lag_products(factors: Tensor, end: int = -1, max_lag: int | None = None,
                 reverse: bool = False) -> Tensor:
    """Products of per-step factors back from ``end``, one per lag, ``(B, N, L)``.

    ``P[b, n, k] = Π_{j=end-k+1..end} factors[j, b, n]`` for ``k = 0..max_lag`` (``P[..., 0] =
    1``): the gain from step ``end - k`` to step ``end`` of a recurrence whose step ``j`` multiplies
    by ``factors[j]``. With ``reverse`` (a backward direction, which runs from the last step to
    the first) lags run forward in input time: ``Π_{j=end..end+k-1}``.

    Parameters
    ----------
    factors : Tensor
        ``(T, B, N)`` per-step factors (e.g. ``u·σ'(pre_t)`` or forget gates ``f_t``).
    end : int
        The step, in input time, the products end at (negative counts from the last).
    max_lag : int, optional
        Largest lag, at most the steps before ``end`` in the recurrence's direction.
    reverse : bool
        The recurrence runs backward in time.
    """
    steps = factors.shape[0]
    end = step_index(end, steps)
    if reverse:
        factors, end = factors.flip(0), steps - 1 - end
    lags = end if max_lag is None else min(max_lag, end)
    back = factors[end - lags + 1 : end + 1].flip(0)  # factors[end], factors[end-1], ...
    ones = torch.ones_like(factors[:1])
    products = torch.cat([ones, torch.cumprod(back, 0)], 0) if lags else ones
    return products.permute(1, 2, 0)


def time_axis(model: nn.Module) -> int:
    """The time axis of ``model``'s input: 1 for batch-first models (``SequenceModel``), else 0."""
    if isinstance(model, SequenceModel):
        return 1
    return 1 if getattr(model, "batch_first", False) else 0


def model_output(result: Any) -> Tensor:
    """The prediction tensor of a model call: the first element of ``(output, state)``."""
    output = result[0] if isinstance(result, tuple | list) else result
    if not isinstance(output, Tensor):
        raise TypeError(f"the model must return a tensor (or a tuple starting with one), got "
                        f"{type(output).__name__}")
    return output


def select_target(model: nn.Module, output: Tensor, output_index: int | None = None,
                  step: int = -1) -> Tensor:
    """One scalar per sequence, ``(B,)``, from a model's output: the quantity to explain.

    ``output`` is ``(B, K)`` (a readout from the last step) or a sequence of outputs (batch-first
    for :class:`~indrnn.sequence_model.SequenceModel` and ``batch_first`` bodies, time-major
    otherwise) of which ``step`` is taken. ``output_index`` picks the output; ``None`` takes
    output 0 when there is one, else each sequence's largest output (its predicted class).
    """
    if output.dim() == 3:
        axis = time_axis(model)
        output = output.select(axis, step_index(step, output.shape[axis]))
    if output.dim() != 2:
        raise ValueError(f"expected a (B, K) or sequence output, got shape {tuple(output.shape)}")
    if output_index is None:
        if output.shape[1] == 1:
            return output[:, 0]
        index = output.detach().argmax(1, keepdim=True)
        return output.gather(1, index).squeeze(1)
    return output[:, output_index]


class LiveRecorder(Recorder):
    """A :class:`~indrnn.record.Recorder` that also keeps every layer's live tensors.

    ``live[name]`` holds the undetached tensors each layer reported (``"hidden"`` among them),
    so :func:`torch.autograd.grad` can be asked for the gradient flowing into them.
    """

    def __init__(self, model: nn.Module):
        super().__init__(model)
        self.live: dict[str, dict[str, Tensor]] = {}

    def add(self, module: nn.Module, suffix: str, kind: str, hidden: Tensor,
            **tensors: Tensor) -> str:
        name = super().add(module, suffix, kind, hidden, **tensors)
        self.live[name] = {"hidden": hidden, **tensors}
        return name
