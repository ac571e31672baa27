"""Interchange interventions: run input A, but give chosen neurons the states they have on input B.

If a claim says "these neurons hold the first marked value", then running a sequence while these
neurons carry the states they have on the same sequence with another first value should move the
prediction as that value would: the claim predicts the output, and the patch tests it. Neurons of
an IndRNN layer are independent, so patching some of them leaves the rest of the layer exactly as
it was (:class:`indrnn.interventions.StatePatch`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from indrnn.analysis._common import model_output
from indrnn.interventions import StatePatch
from indrnn.record import record


@dataclass
class Interchange:
    """The model's outputs on the base input, on the source input, and on the base input with
    ``neurons`` of ``layer`` given their source states over ``window`` (``None``: every step).

    Attributes
    ----------
    base, source, patched : Tensor
        The outputs as the model returns them (e.g. ``(B, K)``).
    source_states, patched_states : Tensor
        ``(T, B, len(neurons))``: the neurons' states on the source, and in the patched run.
    """

    layer: str
    neurons: tuple[int, ...]
    window: tuple[int, int] | None
    base: Tensor
    source: Tensor
    patched: Tensor
    source_states: Tensor
    patched_states: Tensor

    @property
    def moved(self) -> Tensor:
        """``patched - base``: how far the patch moved the output."""
        return self.patched - self.base

    @property
    def share(self) -> Tensor:
        """``(patched - base) / (source - base)``, per output: 1 when the patched neurons carry all
        of the difference between the inputs, 0 when none (NaN where the inputs agree)."""
        whole = self.source - self.base
        return torch.where(whole.abs() > 0, self.moved / whole, torch.full_like(whole, torch.nan))


def _call(model: nn.Module, inputs: Tensor, lengths: Tensor | None) -> Tensor:
    return model_output(model(inputs) if lengths is None else model(inputs, lengths))


@torch.no_grad()
def interchange(model: nn.Module, base: Tensor, source: Tensor, layer: str,
                neurons: Sequence[int], *, window: tuple[int, int] | None = None,
                lengths: Tensor | None = None) -> Interchange:
    """Run ``base`` with ``neurons`` of ``layer`` patched to their states on ``source``.

    Parameters
    ----------
    model : nn.Module
        Called as ``model(inputs)`` (or ``model(inputs, lengths)``); not changed.
    base, source : Tensor
        Inputs of the same shape (the model's own layout, e.g. ``(B, T, D)``).
    layer : str
        A forward IndRNN layer, named as :func:`indrnn.record` names it (``"body.l1"``).
    neurons : sequence of int
        The neurons that take the source's states.
    window : (int, int), optional
        The steps ``start <= t < stop`` patched; after it the neurons run on from their patched
        state on the base input. Every step when omitted.
    lengths : Tensor, optional
        ``(B,)`` valid steps, the same for both inputs.
    """
    return interchange_groups(model, base, source, layer, [neurons], window=window,
                              lengths=lengths)[0]


@torch.no_grad()
def interchange_groups(model: nn.Module, base: Tensor, source: Tensor, layer: str,
                       groups: Sequence[Sequence[int]], *,
                       window: tuple[int, int] | None = None,
                       lengths: Tensor | None = None) -> list[Interchange]:
    """:func:`interchange` for each group of neurons, running the base and the source once."""
    if base.shape != source.shape:
        raise ValueError(f"base and source must have the same shape, got {tuple(base.shape)} "
                         f"and {tuple(source.shape)}")
    recording = record(model, source) if lengths is None else record(model, source, lengths)
    if layer not in recording.layers or recording[layer].kind != "indrnn":
        known = [n for n, r in recording.layers.items() if r.kind == "indrnn"]
        raise ValueError(f"{layer!r} is not an IndRNN layer of this model; its layers: {known}")
    hidden = recording[layer].hidden
    size = hidden.shape[2]
    base_output = _call(model, base, lengths)
    results = []
    for group in groups:
        neurons = tuple(int(n) for n in group)
        if not neurons:
            raise ValueError("name at least one neuron to patch")
        if not all(0 <= n < size for n in neurons):
            raise ValueError(f"neurons must be in 0..{size - 1} for {layer}, got {list(neurons)}")
        states = hidden[:, :, list(neurons)]
        with StatePatch(model, layer, neurons, states, window) as patch:
            patched = record(model, base) if lengths is None else record(model, base, lengths)
        if not patch.applied:
            raise ValueError(f"{layer} did not run while patched")
        results.append(Interchange(layer, neurons, window, base_output,
                                   model_output(recording.output), model_output(patched.output),
                                   states, patched[layer].hidden[:, :, list(neurons)]))
    return results


def slope_through_origin(moved: Tensor, change: Tensor) -> float:
    """How far an output moves per unit of change in an input value, fitted over sequences:
    ``Σ moved·change / Σ change²`` (1 for an output that follows the value exactly)."""
    moved, change = moved.double().flatten(), change.double().flatten()
    return float((moved * change).sum() / (change * change).sum().clamp_min(1e-300))
