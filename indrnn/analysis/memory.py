"""How long each neuron remembers: read off u for IndRNN, off the forget gates for LSTM.

An active ReLU IndRNN neuron carries ``h_{t-1}`` into ``h_t`` times ``u``, so a trace decays as
``u^k``: time constant ``τ = -1/ln|u|`` steps (decay to ``1/e``), half-life ``ln 0.5 / ln|u|``.
``|u| ≥ 1`` never decays (``inf``), ``u = 0`` forgets at once (``0``). An LSTM unit's cell keeps
``c_{t-1}`` times ``f_t``; with the mean forget gate ``f̄`` the same formulas give its effective
memory, and the product of the gates over a span is its memory over that span.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from indrnn.analysis._common import is_reverse, lag_products
from indrnn.analysis.locate import indrnn_layers
from indrnn.record import LayerRecord, Recording
from indrnn.sequences import valid_steps


def time_constant(u: Tensor) -> Tensor:
    """``τ = -1 / ln|u|`` per neuron: steps for a trace to decay to ``1/e``.

    Parameters
    ----------
    u : Tensor
        Recurrent weights (or mean forget gates), any shape.

    Returns
    -------
    Tensor
        Same shape; ``inf`` where ``|u| ≥ 1``, ``0`` where ``u = 0``.

    Examples
    --------
    >>> time_constant(torch.tensor([0.0, math.exp(-0.5), 1.0]))
    tensor([0., 2., inf])
    """
    magnitude = u.detach().abs()
    tau = -1.0 / torch.log(magnitude)
    tau = torch.where(magnitude >= 1, math.inf, tau)
    return torch.where(magnitude == 0, 0.0, tau)


def half_life(u: Tensor) -> Tensor:
    """``ln 0.5 / ln|u|`` per neuron: steps for a trace to halve (``inf`` for ``|u| ≥ 1``, 0 for 0).

    Examples
    --------
    >>> half_life(torch.tensor([0.5, 0.0, 1.5]))
    tensor([1., 0., inf])
    """
    return time_constant(u) * math.log(2.0)


@dataclass(frozen=True)
class PaperBounds:
    """The paper's range for ``|u|`` at sequence length ``seq_len``.

    Attributes
    ----------
    seq_len : int
        T.
    gamma, epsilon : float
        Largest growth and smallest decay of a gradient allowed over T steps.
    upper, lower : float
        ``γ^{1/T}`` (against explosion) and ``ε^{1/T}`` (where a neuron must keep memory).
    """

    seq_len: int
    gamma: float
    epsilon: float
    upper: float
    lower: float


def paper_bounds(seq_len: int, gamma: float = 5.0, epsilon: float = 0.2) -> PaperBounds:
    """``γ^{1/T}`` and ``ε^{1/T}``; the defaults are the official code's ``MAG = 5`` and ``1/MAG``.

    Examples
    --------
    >>> round(paper_bounds(1000, gamma=2.0).upper, 6)
    1.000693
    """
    if seq_len < 1 or gamma <= 0 or epsilon <= 0:
        raise ValueError(f"need seq_len >= 1, gamma > 0 and epsilon > 0, got {seq_len}, {gamma}, "
                         f"{epsilon}")
    return PaperBounds(seq_len, gamma, epsilon, gamma ** (1 / seq_len), epsilon ** (1 / seq_len))


DEFAULT_GAMMA = 5.0  #: the official code's ``MAG``, for models whose bound is not of that form


def paper_gamma(model: nn.Module, seq_len: int) -> float:
    """The γ of a model trained with the paper's bound ``|u| ≤ γ^{1/T}``, read off its largest
    upper bound: ``γ = bound^T`` (2 for the adding models, 5 for the pixel and sensor ones).

    A model without an upper bound above 1 (none, or a plain cap such as 0.99) was not bounded
    that way: :data:`DEFAULT_GAMMA`.
    """
    highs = []
    for ref in indrnn_layers(model).values():
        high = ref.recurrent_max
        if high is not None and high > 1:
            highs.append(float(high))
    if not highs or seq_len < 1:
        return DEFAULT_GAMMA
    return float(f"{max(highs) ** seq_len:.3g}")


@dataclass
class NeuronFlags:
    """Boolean ``(N,)`` flags per neuron; see :func:`neuron_flags`."""

    dead: Tensor
    sign_flipping: Tensor
    no_memory: Tensor
    exploding: Tensor
    saturating: Tensor
    at_lower_bound: Tensor

    def as_dict(self) -> dict[str, Tensor]:
        """The flags by name."""
        return dict(vars(self))


def neuron_flags(u: Tensor, *, hidden: Tensor | None = None, weight_ih: Tensor | None = None,
                 recurrent_min: float | None = None, recurrent_max: float | None = None,
                 zero_tol: float = 1e-3, bound_tol: float = 1e-3) -> NeuronFlags:
    """Flag neurons whose u (or activity) makes them special.

    Parameters
    ----------
    u : Tensor
        ``(N,)`` recurrent weights.
    hidden : Tensor, optional
        ``(T, B, N)`` states on some recording: a neuron that is never non-zero there is dead.
    weight_ih : Tensor, optional
        ``(N, D)`` input weights: a neuron with all of them and its u zero is dead whatever the
        data (its state is a constant).
    recurrent_min, recurrent_max : float, optional
        The layer's bounds on ``|u|``.
    zero_tol, bound_tol : float
        ``|u| ≤ zero_tol`` counts as no memory; ``|u|`` within ``bound_tol`` of a bound,
        relative to the width of the allowed range (``recurrent_max - recurrent_min``, or the
        bound itself when the other one is not set), counts as at that bound: at T = 1000 the
        paper's range is 1.4e-3 wide, narrower than a tolerance relative to |u| would be.

    Returns
    -------
    NeuronFlags
        ``dead``; ``sign_flipping`` (``u < 0``: the trace flips sign each step and ReLU cuts
        it); ``no_memory`` (``|u| ≈ 0``); ``exploding`` (``|u| > 1``: grows while active);
        ``saturating`` (``|u|`` pressed against ``recurrent_max``: the clamp holds it, it wants
        more memory); ``at_lower_bound`` (against ``recurrent_min``).
    """
    u = u.detach().cpu()
    magnitude = u.abs()
    dead = torch.zeros_like(u, dtype=torch.bool)
    if hidden is not None:
        dead |= ~(hidden.detach().cpu() != 0).flatten(0, -2).any(0)
    if weight_ih is not None:
        dead |= (weight_ih.detach().cpu() == 0).all(1) & (u == 0)
    none = torch.zeros_like(dead)
    width = (recurrent_max - recurrent_min if recurrent_max is not None and recurrent_min
             else None)
    saturating = none if recurrent_max is None else (
        magnitude >= recurrent_max - bound_tol * (width or recurrent_max))
    at_lower = none if not recurrent_min else (
        magnitude <= recurrent_min + bound_tol * (width or recurrent_min))
    return NeuronFlags(dead=dead, sign_flipping=u < 0, no_memory=magnitude <= zero_tol,
                       exploding=magnitude > 1, saturating=saturating, at_lower_bound=at_lower)


@dataclass
class IndRNNLayerMemory:
    """One IndRNN layer's recurrent weights and what they mean.

    Attributes
    ----------
    name : str
        As :func:`indrnn.record` names the layer.
    u, tau, half_life : Tensor
        ``(N,)``, on the CPU.
    recurrent_min, recurrent_max : float or None
        The bounds the module clamps ``|u|`` into.
    nonlinearity : str
    bounds : PaperBounds or None
        The paper's range for the ``seq_len`` asked for.
    flags : NeuronFlags
        From u, the input weights and, if given, a recording (see :func:`neuron_flags`).
    """

    name: str
    u: Tensor
    tau: Tensor
    half_life: Tensor
    recurrent_min: float | None
    recurrent_max: float | None
    nonlinearity: str
    bounds: PaperBounds | None
    flags: NeuronFlags


def indrnn_memory(model: nn.Module, seq_len: int | None = None, gamma: float = 5.0,
                  epsilon: float = 0.2,
                  recording: Recording | None = None) -> dict[str, IndRNNLayerMemory]:
    """u, τ, half-life, bounds and flags of every IndRNN layer in ``model``.

    Parameters
    ----------
    model : nn.Module
        Any model of this library.
    seq_len : int, optional
        T for the paper's bounds (:func:`paper_bounds`); none if omitted.
    gamma, epsilon : float
        As :func:`paper_bounds`.
    recording : Recording, optional
        A run of ``model``: neurons never active in it are flagged dead.

    Returns
    -------
    dict of str to IndRNNLayerMemory
        Keyed by recorded layer name (``"body.l0"``, ``"body.layers.3.recurrence"``).
    """
    bounds = None if seq_len is None else paper_bounds(seq_len, gamma, epsilon)
    result = {}
    for name, ref in indrnn_layers(model).items():
        u = ref.u.detach().cpu().clone()
        layer = None if recording is None else recording.layers.get(name)
        flags = neuron_flags(u, hidden=None if layer is None else layer.hidden,
                             weight_ih=ref.weight_ih, recurrent_min=ref.recurrent_min,
                             recurrent_max=ref.recurrent_max)
        result[name] = IndRNNLayerMemory(name, u, time_constant(u), half_life(u),
                                         ref.recurrent_min, ref.recurrent_max, ref.nonlinearity,
                                         bounds, flags)
    return result


def indrnn_decay(u: Tensor, max_lag: int) -> Tensor:
    """The theoretical memory ``u^k`` of active neurons, ``(N, max_lag + 1)`` for ``k = 0..``."""
    lags = torch.arange(max_lag + 1, dtype=u.dtype, device=u.device)
    return u.detach().unsqueeze(1) ** lags


@dataclass
class LSTMLayerMemory:
    """An LSTM layer's effective memory per unit from a recording.

    Attributes
    ----------
    name : str
    mean_forget : Tensor
        ``(N,)`` the forget gate ``f̄`` averaged over all steps and sequences.
    tau, half_life : Tensor
        ``(N,)``: :func:`time_constant` and :func:`half_life` of ``f̄``.
    """

    name: str
    mean_forget: Tensor
    tau: Tensor
    half_life: Tensor


def lstm_memory(record: LayerRecord, lengths: Tensor | None = None) -> LSTMLayerMemory:
    """Effective memory of each LSTM unit, ``τ = -1/ln f̄``, from its recorded forget gates.

    Parameters
    ----------
    record : LayerRecord
        An LSTM layer of a recording.
    lengths : Tensor, optional
        ``(B,)`` valid steps per sequence (padded steps are left out of the mean).
    """
    forget = record.tensors["forget_gate"]
    if lengths is None:
        mean = forget.mean((0, 1))
    else:
        valid = valid_steps(lengths.cpu(), forget.shape[0])
        mean = forget[valid].mean(0)
    return LSTMLayerMemory(record.name, mean, time_constant(mean), half_life(mean))


def forget_memory(record: LayerRecord, end: int = -1, max_lag: int | None = None) -> Tensor:
    """An LSTM unit's memory over lags: ``Π_{j=end-k+1..end} f_j``, ``(B, N, L)``.

    This is ``∂c_end / ∂c_{end-k}`` along the cell path (gates held fixed), the counterpart of
    IndRNN's ``u^k``. ``end`` counts in input time; lags run back from it (forward in time for a
    ``_reverse`` direction).
    """
    return lag_products(record.tensors["forget_gate"], end, max_lag, is_reverse(record.name))
