"""Find neurons that track something: a class label, or an annotation track of the input.

Tracks are one number per step (``NaN`` where a track is undefined, e.g. "steps since the first
marker" before it), what is known about the input: each task annotates its own inputs
(:meth:`indrnn.data.Task.annotation_tracks`, built in :mod:`indrnn.data.tracks`).
:func:`correlate_tracks` ranks neurons by Pearson's r with each track over all steps, with r
once the time step is regressed out (:func:`partial_on_step`) and the r a misaligned track
reaches (chance);
:func:`label_selectivity` ranks them by how well they separate classes (ANOVA F, correlation
ratio, point-biserial r per class).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from indrnn.analysis.patterns import States, split_sequences
from indrnn.arrays import to_numpy
from indrnn.sequences import valid_steps

Track = Tensor | np.ndarray | Sequence[Tensor | np.ndarray]


def _track_sequences(track: Track, lengths: Sequence[int]) -> list[np.ndarray]:
    if isinstance(track, Tensor | np.ndarray):
        array = to_numpy(track).astype(np.float64)
        if array.ndim == 1:
            array = array[:, None]
        return [array[: lengths[b], b] for b in range(array.shape[1])]
    return [to_numpy(t).astype(np.float64).reshape(-1) for t in track]


def pearson(states: np.ndarray, track: np.ndarray) -> np.ndarray:
    """Pearson's r of every column of ``states`` ``(M, N)`` with ``track`` ``(M,)``.

    Rows where the track is not finite are left out; r is 0 where a neuron or the track is
    constant.
    """
    keep = np.isfinite(track)
    x, y = states[keep].astype(np.float64), track[keep]
    x, y = x - x.mean(0), y - y.mean()
    denominator = np.sqrt((x * x).sum(0) * (y * y).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (x * y[:, None]).sum(0) / denominator
    return np.where(denominator > 0, r, 0.0)


def partial_on_step(states: np.ndarray, track: np.ndarray, step: np.ndarray) -> np.ndarray:
    """Pearson's r of every column of ``states`` with ``track`` once the time step is regressed
    out of both (a straight line in ``step``, fitted on the rows where the track is defined).

    Neurons and tracks that only grow with time ("time step", "steps since the first marker")
    then no longer correlate by that alone; a track that is a line in the step itself has
    nothing left, and r 0.
    """
    keep = np.isfinite(track)
    design = np.stack([np.ones(int(keep.sum())), step[keep].astype(np.float64)], axis=1)

    def residual(values: np.ndarray) -> np.ndarray:
        fit, *_ = np.linalg.lstsq(design, values, rcond=None)
        return values - design @ fit

    x = residual(states[keep].astype(np.float64))
    y = residual(track[keep])
    if float(np.abs(y).max(initial=0.0)) <= 1e-9 * max(1.0, float(np.abs(track[keep]).max())):
        return np.zeros(states.shape[1])
    return pearson(x, y)


def _misaligned(seqs: list[np.ndarray], parts: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    """Each sequence's states beside the next sequence's track (one sequence: its own, rolled
    by half), cut to the shorter of the two: what r looks like where there is no relation."""
    if len(seqs) == 1:
        return seqs[0], np.roll(parts[0], len(parts[0]) // 2)
    pairs = [(seqs[b], parts[(b + 1) % len(seqs)]) for b in range(len(seqs))]
    states = np.concatenate([s[: min(len(s), len(p))] for s, p in pairs])
    track = np.concatenate([p[: min(len(s), len(p))] for s, p in pairs])
    return states, track


@dataclass
class TrackCorrelation:
    """Neurons against one track.

    Attributes
    ----------
    track : str
    r : numpy.ndarray
        ``(N,)`` Pearson's r of every neuron with the track, over all steps.
    neurons, top_r : numpy.ndarray
        The ``k`` neurons with the largest ``|r|`` and their r, strongest first.
    partial_r : numpy.ndarray or None
        ``(N,)`` r with the time step regressed out of states and track
        (:func:`partial_on_step`).
    chance : float
        The largest ``|r|`` of any neuron with the track misaligned (each sequence's states
        beside another sequence's track): how strong a correlation is where none exists.
    """

    track: str
    r: np.ndarray
    neurons: np.ndarray
    top_r: np.ndarray
    partial_r: np.ndarray | None = None
    chance: float = float("nan")


def top_neurons(scores: np.ndarray | Tensor, k: int = 10,
                absolute: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best neurons by score (by ``|score|`` if ``absolute``) and their scores."""
    scores = to_numpy(scores)
    key = np.nan_to_num(np.abs(scores) if absolute else scores, nan=-np.inf)
    order = np.argsort(-key, kind="stable")[:k]
    return order, scores[order]


def correlate_tracks(states: States, tracks: dict[str, Track], *, k: int = 10,
                     lengths: Sequence[int] | Tensor | None = None) -> dict[str, TrackCorrelation]:
    """Rank neurons by Pearson's r with each track, over every step of every sequence.

    Parameters
    ----------
    states : Tensor, array or list of arrays
        A layer's states, ``(T, B, N)`` or one ``(T_i, N)`` per sequence.
    tracks : dict of str to track
        Each ``(T, B)``, ``(T,)`` (one sequence) or a list of ``(T_i,)``; NaN where undefined.
    k : int
        Top neurons kept per track.
    lengths : sequence of int, optional
        Valid steps of each sequence of a padded ``(T, B, N)``.

    Returns
    -------
    dict of str to TrackCorrelation
        With r, r partialled on the time step and the misaligned chance level per track.
    """
    seqs = split_sequences(states, lengths)
    flat = np.concatenate(seqs).astype(np.float64)
    steps = np.concatenate([np.arange(len(s), dtype=np.float64) for s in seqs])
    result = {}
    for name, track in tracks.items():
        parts = _track_sequences(track, [len(s) for s in seqs])
        if [len(p) for p in parts] != [len(s) for s in seqs]:
            raise ValueError(f"track {name!r} does not match the states' sequence lengths")
        track_flat = np.concatenate(parts)
        r = pearson(flat, track_flat)
        partial = partial_on_step(flat, track_flat, steps)
        chance = float(np.abs(pearson(*_misaligned(seqs, parts))).max(initial=0.0))
        result[name] = TrackCorrelation(name, r, *top_neurons(r, k), partial, chance)
    return result


def sequence_features(hidden: Tensor, how: str = "last",
                      lengths: Tensor | None = None) -> Tensor:
    """One value per neuron and sequence, ``(B, N)``, from states ``(T, B, N)``.

    ``how``: ``"last"`` (each sequence's own last step), ``"mean"`` or ``"max"`` over its steps.
    """
    steps = hidden.shape[0]
    lengths = torch.full((hidden.shape[1],), steps) if lengths is None else lengths.cpu()
    if how == "last":
        return hidden[lengths - 1, torch.arange(hidden.shape[1])]
    valid = valid_steps(lengths, steps).unsqueeze(-1)
    if how == "mean":
        return (hidden * valid).sum(0) / lengths[:, None]
    if how == "max":
        return hidden.masked_fill(~valid, -torch.inf).amax(0)
    raise ValueError(f"how must be 'last', 'mean' or 'max', got {how!r}")


@dataclass
class LabelSelectivity:
    """How each neuron separates the classes.

    Attributes
    ----------
    class_means : numpy.ndarray
        ``(C, N)`` mean feature per class.
    f_statistic : numpy.ndarray
        ``(N,)`` one-way ANOVA F (``inf`` where classes differ and nothing varies within them).
    eta_squared : numpy.ndarray
        ``(N,)`` correlation ratio η² = between-class / total sum of squares, in ``[0, 1]``.
    point_biserial : numpy.ndarray
        ``(C, N)`` Pearson's r of each neuron with "is class c".
    best_class : numpy.ndarray
        ``(N,)`` the class each neuron is highest for.
    """

    class_means: np.ndarray
    f_statistic: np.ndarray
    eta_squared: np.ndarray
    point_biserial: np.ndarray
    best_class: np.ndarray


def label_selectivity(features: Tensor | np.ndarray, labels: Tensor | np.ndarray,
                      num_classes: int | None = None) -> LabelSelectivity:
    """ANOVA F, correlation ratio and point-biserial r of every neuron with the class labels.

    Parameters
    ----------
    features : Tensor or array
        ``(B, N)``, e.g. :func:`sequence_features` of a layer.
    labels : Tensor or array
        ``(B,)`` integer classes.
    num_classes : int, optional
        ``C`` (``max(labels) + 1`` by default); absent classes get NaN means.
    """
    x = to_numpy(features).astype(np.float64)
    y = to_numpy(labels).astype(np.int64)
    classes = int(y.max()) + 1 if num_classes is None else num_classes
    onehot = np.eye(classes)[y]  # (B, C)
    counts = onehot.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = onehot.T @ x / counts[:, None]
    grand = x.mean(0)
    present = counts > 0
    between = (counts[present, None] * (means[present] - grand) ** 2).sum(0)
    total = ((x - grand) ** 2).sum(0)
    within = total - between
    groups, n = int(present.sum()), len(y)
    with np.errstate(invalid="ignore", divide="ignore"):
        f = (between / max(groups - 1, 1)) / (np.maximum(within, 0) / max(n - groups, 1))
        eta = np.where(total > 0, between / total, 0.0)
    f = np.where(between > 0, f, 0.0)
    biserial = np.stack([pearson(x, onehot[:, c]) for c in range(classes)])
    best = np.nan_to_num(means, nan=-np.inf).argmax(0)
    return LabelSelectivity(means, f, eta, biserial, best)
