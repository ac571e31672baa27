"""Find a pattern of activity across the data, as LSTMVis does, and where a neuron fires most.

A pattern is a set of neurons that are all above a threshold together. Select it by hand or
from a window of one sequence (:func:`neurons_on_in_window`), then :func:`find_pattern` lists
every stretch of every sequence where all of them are on, best first. :func:`top_activations`
lists the steps where one neuron is highest, each with a window of context.

States come as a recorded ``(T, B, N)`` tensor (with ``lengths`` for padded sequences) or as a
list of ``(T_i, N)`` arrays, one per sequence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from torch import Tensor

from indrnn.arrays import to_numpy

States = Tensor | np.ndarray | Sequence[Tensor | np.ndarray]


def split_sequences(states: States,
                    lengths: Sequence[int] | Tensor | None = None) -> list[np.ndarray]:
    """One ``(T_i, N)`` array per sequence, from padded ``(T, B, N)`` states (cut at ``lengths``)
    or a list of arrays."""
    if isinstance(states, Tensor | np.ndarray):
        array = to_numpy(states)
        if array.ndim != 3:
            raise ValueError(f"states must be (T, B, N), got shape {array.shape}")
        steps = [array.shape[0]] * array.shape[1] if lengths is None else to_numpy(lengths)
        return [array[: int(steps[b]), b] for b in range(array.shape[1])]
    return [to_numpy(s) for s in states]


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, end)`` of every run of ``True`` in a 1-D boolean array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


@dataclass(frozen=True)
class PatternMatch:
    """A stretch where every selected neuron is above the threshold.

    Attributes
    ----------
    sequence : int
    start, end : int
        Steps ``[start, end)``.
    score : float
        Mean over the stretch of the weakest selected neuron's margin over the threshold.
    """

    sequence: int
    start: int
    end: int
    score: float

    @property
    def length(self) -> int:
        """Steps in the stretch."""
        return self.end - self.start


def find_pattern(states: States, neurons: Sequence[int], threshold: float, *,
                 min_length: int = 1, max_length: int | None = None,
                 lengths: Sequence[int] | Tensor | None = None,
                 limit: int | None = None) -> list[PatternMatch]:
    """Every maximal stretch where all ``neurons`` are above ``threshold``, best first.

    Parameters
    ----------
    states : Tensor, array or list of arrays
        ``(T, B, N)`` or one ``(T_i, N)`` per sequence.
    neurons : sequence of int
        The pattern's neurons.
    threshold : float
        A neuron is on where its state is ``> threshold``.
    min_length, max_length : int
        Keep stretches of this many steps (``max_length`` unbounded by default).
    lengths : sequence of int, optional
        Valid steps of each sequence of a padded ``(T, B, N)``.
    limit : int, optional
        Return at most this many.

    Returns
    -------
    list of PatternMatch
        Ranked by score, then length, then position.
    """
    if not len(neurons):
        raise ValueError("select at least one neuron")
    picked = list(neurons)
    matches = []
    for index, seq in enumerate(split_sequences(states, lengths)):
        weakest = seq[:, picked].min(1) - threshold
        for start, end in _runs(weakest > 0):
            if end - start >= min_length and (max_length is None or end - start <= max_length):
                score = float(weakest[start:end].mean())
                matches.append(PatternMatch(index, start, end, score))
    matches.sort(key=lambda m: (-m.score, -m.length, m.sequence, m.start))
    return matches[:limit]


def neurons_on_in_window(states: States, sequence: int, start: int, end: int, threshold: float,
                         *, off_outside: int = 0,
                         lengths: Sequence[int] | Tensor | None = None) -> np.ndarray:
    """Neurons above ``threshold`` at every step of ``[start, end)`` of one sequence.

    LSTMVis's selection: with ``off_outside = k`` a neuron must also be at or below the
    threshold for the ``k`` steps before ``start`` and after ``end`` (where the sequence has
    them), so the pattern is the window itself, not part of a longer stretch.

    Returns
    -------
    numpy.ndarray
        The selected neuron indices, ascending.
    """
    seq = split_sequences(states, lengths)[sequence]
    if not 0 <= start < end <= len(seq):
        raise ValueError(f"window [{start}, {end}) must lie in the sequence's {len(seq)} steps")
    keep = (seq[start:end] > threshold).all(0)
    if off_outside:
        around = np.concatenate([seq[max(0, start - off_outside) : start],
                                 seq[end : end + off_outside]])
        keep &= (around <= threshold).all(0)
    return np.flatnonzero(keep)


@dataclass(frozen=True)
class Firing:
    """One of the steps where a neuron is highest.

    Attributes
    ----------
    sequence, step : int
    value : float
        The neuron's state there.
    start, end : int
        The context window ``[start, end)`` around ``step``, clipped to the sequence.
    """

    sequence: int
    step: int
    value: float
    start: int
    end: int


def top_activations(states: States, neuron: int, k: int = 10, *, context: int = 10,
                    separation: int = 0,
                    lengths: Sequence[int] | Tensor | None = None) -> list[Firing]:
    """The ``k`` steps, across all sequences, where ``neuron`` is highest.

    Parameters
    ----------
    states : Tensor, array or list of arrays
        ``(T, B, N)`` or one ``(T_i, N)`` per sequence.
    neuron : int
    k : int
        How many.
    context : int
        Steps of context on each side of each firing.
    separation : int
        Skip a step within this many steps of an already chosen one in the same sequence
        (0: every step may be chosen), so one long burst does not fill the list.
    lengths : sequence of int, optional
        Valid steps of each sequence of a padded ``(T, B, N)``.

    Returns
    -------
    list of Firing
        Highest first.
    """
    seqs = split_sequences(states, lengths)
    values = np.concatenate([s[:, neuron] for s in seqs])
    owner = np.concatenate([np.full(len(s), i) for i, s in enumerate(seqs)])
    step = np.concatenate([np.arange(len(s)) for s in seqs])
    chosen: list[Firing] = []
    for flat in np.argsort(-values, kind="stable"):
        if len(chosen) == k:
            break
        seq, t = int(owner[flat]), int(step[flat])
        if separation and any(f.sequence == seq and abs(f.step - t) <= separation
                              for f in chosen):
            continue
        chosen.append(Firing(seq, t, float(values[flat]), max(0, t - context),
                             min(len(seqs[seq]), t + context + 1)))
    return chosen
