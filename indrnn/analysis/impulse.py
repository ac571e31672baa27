"""Impulse and step responses of one neuron, measured, against the theoretical ``u^k``.

Two ways to kick a neuron at step ``t0``:

* on its pre-activation (IndRNN layers): ``δ`` is added to its input projection ``W x_{t0} + b``
  and the neuron's own recurrence is run again from its recorded state, with the layer's kernel.
  A neuron depends on nothing else in its layer, so this is exactly what the layer would do;
* on an input channel (any layer, LSTM included): the whole model runs on the input with ``δ``
  added to channel ``c`` at step ``t0``, and the neuron's recorded state is compared.

The response is ``perturbed - baseline`` from ``t0`` on. For a ReLU neuron that stays active in
both runs it is ``Δh_{t0} · u^k`` after an impulse and ``Δh_{t0} · Σ_{j≤k} u^j`` under a step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from indrnn.analysis._common import infer_nonlinearity, is_reverse, step_index, time_axis
from indrnn.analysis.locate import indrnn_layers
from indrnn.devices import model_device
from indrnn.record import LayerRecord, record
from indrnn.recurrence import indrnn_recurrence

KINDS = ("impulse", "step")


@dataclass
class ImpulseResponse:
    """One neuron's response to a kick at ``t0``, over lags ``k = 0..K-1`` after it.

    Attributes
    ----------
    layer : str
    neuron, t0 : int
    kind : {"impulse", "step"}
    via : str
        ``"preactivation"`` or ``"input channel {c}"``.
    lags : Tensor
        ``(K,)`` ``0..K-1``; lag ``k`` is step ``t0 + k`` (``t0 - k`` for a ``_reverse`` layer).
    steps : Tensor
        ``(K,)`` the input-time steps of the lags.
    baseline, perturbed, response : Tensor
        ``(K,)`` the neuron's state without and with the kick, and their difference.
    theoretical : Tensor
        ``(K,)`` ``Δh_{t0}·u^k`` (impulse) or ``Δh_{t0}·Σ_{j≤k} u^j`` (step); NaN for LSTM units.
    linear : Tensor
        ``(K,)`` bool: the (ReLU IndRNN) neuron was active in both runs at every step from ``t0``
        to this lag, where ``theoretical`` is exact for a pre-activation kick.
    u : float or None
        The neuron's recurrent weight (``None`` for an LSTM unit).
    """

    layer: str
    neuron: int
    t0: int
    kind: str
    via: str
    lags: Tensor
    steps: Tensor
    baseline: Tensor
    perturbed: Tensor
    response: Tensor
    theoretical: Tensor
    linear: Tensor
    u: float | None


def _theory(first: Tensor, u: float | None, count: int, kind: str) -> Tensor:
    if u is None:
        return torch.full((count,), float("nan"), dtype=first.dtype)
    powers = torch.cat([torch.ones(1, dtype=torch.float64),
                        torch.full((count - 1,), u, dtype=torch.float64).cumprod(0)])
    gains = powers if kind == "impulse" else powers.cumsum(0)
    return (first.double() * gains).to(first.dtype)


def _window(t0: int, steps: int, count: int | None, reverse: bool) -> Tensor:
    available = t0 + 1 if reverse else steps - t0
    count = available if count is None else min(count, available)
    offsets = torch.arange(count)
    return t0 - offsets if reverse else t0 + offsets


def _preactivation_kick(rec: LayerRecord, nonlinearity: str, neuron: int, sequence: int,
                        index: Tensor, magnitude: float, kind: str) -> tuple[Tensor, Tensor]:
    """Rerun one neuron's recurrence from ``index[0]`` on its recorded projection, with and
    without δ; returns states and pre-activations, ``(K, 2)`` each (column 1 kicked)."""
    u = rec.tensors["recurrent_weight"][neuron : neuron + 1]
    a = rec.tensors["input_projection"][index, sequence, neuron].clone()
    a[0] = rec.tensors["preactivation"][index[0], sequence, neuron]  # carries u·h_{t0-1}
    kick = torch.zeros_like(a)
    kick[0 if kind == "impulse" else slice(None)] = magnitude
    runs = torch.stack([a, a + kick], 1).unsqueeze(-1)  # (K, 2 runs, 1 neuron)
    h = indrnn_recurrence(runs, u, runs.new_zeros(2, 1), nonlinearity)
    pre = runs + u * torch.cat([torch.zeros_like(h[:1]), h[:-1]])
    return h[..., 0], pre[..., 0]


def _kick_channel(x: Tensor, axis: int, channel: int, t0: int, magnitude: float, kind: str,
                  reverse: bool) -> Tensor:
    """``x`` with ``δ`` added to ``channel`` at ``t0`` (and every later step of a step kick)."""
    if not x.is_floating_point():
        raise ValueError("an input-channel kick needs real-valued input, not token ids")
    if kind == "impulse":
        span = slice(t0, t0 + 1)
    else:
        span = slice(0, t0 + 1) if reverse else slice(t0, None)
    where = [slice(None)] * x.dim()
    where[axis], where[-1] = span, channel
    kicked = x.clone()
    kicked[tuple(where)] += magnitude
    return kicked


def impulse_response(model: nn.Module, x: Tensor, layer: str, neuron: int, t0: int, *,
                     magnitude: float = 1.0, kind: str = "impulse", channel: int | None = None,
                     steps: int | None = None, sequence: int = 0) -> ImpulseResponse:
    """Measure how one neuron's state answers a kick at step ``t0``.

    Parameters
    ----------
    model : nn.Module
        A model of this library, called as ``model(x)``.
    x : Tensor
        The baseline input, in the model's layout (batch-first for a ``SequenceModel``).
    layer : str
        Recorded layer name (``"body.l0"``, ``"body.layers.2.recurrence"``).
    neuron : int
        Neuron (unit) index in the layer.
    t0 : int
        Step of the kick (negative counts from the end).
    magnitude : float
        ``δ``.
    kind : {"impulse", "step"}
        ``δ`` at ``t0`` only, or at every step from ``t0`` on.
    channel : int, optional
        Kick input channel ``channel`` of ``x`` (every sequence of the batch) instead of the
        neuron's pre-activation; needed for LSTM layers.
    steps : int, optional
        Lags to return (all to the end of the sequence by default).
    sequence : int
        Which sequence of the batch to report.

    Returns
    -------
    ImpulseResponse
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    x = x.to(model_device(model))  # records come back on the CPU
    base = record(model, x)
    if layer not in base.layers:
        raise KeyError(f"no layer {layer!r} recorded; known: {', '.join(base.layers)}")
    rec = base[layer]
    t0 = step_index(t0, rec.hidden.shape[0])
    u = None if rec.kind != "indrnn" else float(rec.tensors["recurrent_weight"][neuron])
    ref = indrnn_layers(model).get(layer)
    nonlinearity = ref.nonlinearity if ref is not None else (
        infer_nonlinearity(rec) if u is not None else None)
    reverse = is_reverse(layer)
    index = _window(t0, rec.hidden.shape[0], steps, reverse)
    pick = (index, sequence, neuron)
    if channel is None:
        if rec.kind != "indrnn":
            raise ValueError(f"{layer} is not an IndRNN layer: kick an input channel instead")
        h, pre = _preactivation_kick(rec, nonlinearity, neuron, sequence, index, magnitude, kind)
        via = "preactivation"
    else:
        axis = time_axis(model) if x.dim() == 3 else 0
        other = record(model, _kick_channel(x, axis, channel, t0, magnitude, kind, reverse))
        runs = (rec, other[layer])
        h = torch.stack([r.hidden[pick] for r in runs], 1)
        pre = None
        if u is not None:
            pre = torch.stack([r.tensors["preactivation"][pick] for r in runs], 1)
        via = f"input channel {channel}"
    response = h[:, 1] - h[:, 0]
    if pre is not None and nonlinearity == "relu":
        linear = torch.cummin((pre >= 0).all(1).int(), 0).values.bool()
    else:
        linear = torch.zeros_like(response, dtype=torch.bool)
    return ImpulseResponse(layer, neuron, t0, kind, via, torch.arange(len(index)), index,
                           h[:, 0], h[:, 1], response,
                           _theory(response[0], u, len(index), kind), linear, u)
