"""LSTM gate saturation per unit, as in Karpathy, Johnson & Fei-Fei (2015), "Visualizing and
Understanding Recurrent Networks", figure 4: the fraction of steps each gate spends below 0.1
(left-saturated: closed) and above 0.9 (right-saturated: open).

A unit whose forget gate is right-saturated most of the time keeps its cell for long (an
integrator); one whose input gate is mostly left-saturated rarely writes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from indrnn.lstm import LSTMGates
from indrnn.record import LayerRecord
from indrnn.sequences import valid_steps

GATES = ("input_gate", "forget_gate", "output_gate")


@dataclass
class GateSaturation:
    """One gate's saturation per unit.

    Attributes
    ----------
    gate : str
    left, right : Tensor
        ``(N,)`` fraction of steps (over all sequences) below ``low`` and above ``high``.
    """

    gate: str
    left: Tensor
    right: Tensor


def saturation_fractions(values: Tensor, low: float = 0.1, high: float = 0.9,
                         lengths: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Fractions of steps with ``values < low`` and ``values > high``, ``(N,)`` each.

    Parameters
    ----------
    values : Tensor
        ``(T, B, N)`` gate activations.
    low, high : float
        The thresholds.
    lengths : Tensor, optional
        ``(B,)`` valid steps per sequence (padded steps are left out).
    """
    if lengths is None:
        valid = torch.ones(values.shape[:2], dtype=torch.bool)
    else:
        valid = valid_steps(lengths.cpu(), values.shape[0])
    values = values.detach().cpu()[valid]  # (M, N)
    return (values < low).double().mean(0), (values > high).double().mean(0)


def gate_saturation(gates: LayerRecord | LSTMGates | Mapping[str, Tensor], low: float = 0.1,
                    high: float = 0.9, lengths: Tensor | None = None) -> dict[str, GateSaturation]:
    """Left and right saturation of the input, forget and output gates of every unit.

    Parameters
    ----------
    gates : LayerRecord, LSTMGates or dict
        An LSTM layer of a recording, the gates of :meth:`indrnn.LSTM.forward_with_gates`, or a
        dict with ``input_gate``, ``forget_gate`` and ``output_gate``, each ``(T, B, N)``.
    low, high : float
        Karpathy et al. use 0.1 and 0.9.
    lengths : Tensor, optional
        ``(B,)`` valid steps per sequence.

    Returns
    -------
    dict of str to GateSaturation
        Keyed by gate name.
    """
    if isinstance(gates, LayerRecord):
        gates = gates.tensors
    elif isinstance(gates, LSTMGates):
        gates = gates.as_dict()
    return {gate: GateSaturation(gate, *saturation_fractions(gates[gate], low, high, lengths))
            for gate in GATES}
