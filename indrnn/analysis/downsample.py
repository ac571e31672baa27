"""Shrink a neuron × time matrix for display without losing its spikes, and summarise layers.

A plot a few hundred pixels wide cannot show 5,000 steps; averaging buckets of steps would wash a
one-step spike out. :func:`downsample` keeps, per bucket, the maximum, the minimum and the value
of largest magnitude, with the buckets' boundaries so a figure can label its axis in steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from torch import Tensor

from indrnn.arrays import to_numpy
from indrnn.record import LayerRecord, Recording
from indrnn.sequences import valid_steps


@dataclass
class Downsampled:
    """A ``(N, T)`` matrix reduced to ``M`` buckets of consecutive steps.

    Attributes
    ----------
    maximum, minimum : numpy.ndarray
        ``(N, M)`` per bucket.
    peak : numpy.ndarray
        ``(N, M)`` the value of largest magnitude (sign kept): for signed data (gradients).
    starts, ends : numpy.ndarray
        ``(M,)`` each bucket covers steps ``[starts[m], ends[m])``.
    """

    maximum: np.ndarray
    minimum: np.ndarray
    peak: np.ndarray
    starts: np.ndarray
    ends: np.ndarray


def downsample(matrix: Tensor | np.ndarray, max_columns: int) -> Downsampled:
    """Min/max-preserving downsampling of a neuron × time matrix along time.

    Parameters
    ----------
    matrix : Tensor or array
        ``(N, T)`` (neurons × steps). For a recorded ``(T, B, N)`` pass ``hidden[:, b].T``.
    max_columns : int
        At most this many buckets; buckets are as equal as possible (sizes differ by at most
        one). With ``T <= max_columns`` every step is its own bucket.

    Returns
    -------
    Downsampled
    """
    values = to_numpy(matrix)
    if values.ndim != 2 or values.shape[1] == 0:
        raise ValueError(f"matrix must be (N, T) with T >= 1, got shape {values.shape}")
    if max_columns < 1:
        raise ValueError(f"max_columns must be >= 1, got {max_columns}")
    steps = values.shape[1]
    buckets = min(steps, max_columns)
    edges = np.linspace(0, steps, buckets + 1).round().astype(np.int64)
    starts, ends = edges[:-1], edges[1:]
    maximum = np.maximum.reduceat(values, starts, axis=1)
    minimum = np.minimum.reduceat(values, starts, axis=1)
    peak = np.where(np.abs(minimum) > np.abs(maximum), minimum, maximum)
    return Downsampled(maximum, minimum, peak, starts, ends)


@dataclass
class LayerActivity:
    """How busy a layer's neurons are on a recording.

    Attributes
    ----------
    name : str
    mean : Tensor
        ``(N,)`` mean state per neuron over all steps and sequences.
    fraction_active : Tensor
        ``(N,)`` share of steps where the neuron is non-zero (ReLU: firing).
    dead : Tensor
        ``(N,)`` bool, never non-zero.
    mean_activation, layer_fraction_active, fraction_dead : float
        The same for the whole layer.
    """

    name: str
    mean: Tensor
    fraction_active: Tensor
    dead: Tensor
    mean_activation: float
    layer_fraction_active: float
    fraction_dead: float


def layer_activity(layer: LayerRecord, lengths: Tensor | None = None) -> LayerActivity:
    """Activity summary of one recorded layer (padded steps left out given ``lengths``)."""
    hidden = layer.hidden
    if lengths is None:
        states = hidden.reshape(-1, hidden.shape[-1])
    else:
        valid = valid_steps(lengths.cpu(), hidden.shape[0])
        states = hidden[valid]
    active = (states != 0).double()
    fraction = active.mean(0)
    dead = fraction == 0
    return LayerActivity(layer.name, states.double().mean(0), fraction, dead,
                         float(states.double().mean()), float(active.mean()),
                         float(dead.double().mean()))


def activity_summaries(recording: Recording,
                       lengths: Tensor | None = None) -> dict[str, LayerActivity]:
    """:func:`layer_activity` of every layer of a recording, in running order."""
    return {name: layer_activity(layer, lengths) for name, layer in recording.layers.items()}
