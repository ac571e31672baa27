"""Linear probes with a chance baseline: how much of a quantity a set of neurons holds, fitted on
one part of the data and scored on another.

A probe's R² alone says little: neurons that ramp with time explain any slowly varying track.
:func:`probe` therefore also scores the same probe against the track shifted in time (a circular
shift keeps the track's own smoothness and distribution and breaks only its alignment with the
states), the R² to beat.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Probe:
    """A ridge probe's R² on held-out rows, and the same probe's R² on a misaligned track.

    Attributes
    ----------
    r2 : float
        On the evaluation rows (1: the states give the track exactly; ≤ 0: no better than its mean).
    chance : float
        The same fit and score with the track shifted against the states.
    rows_fit, rows_scored : int
    """

    r2: float
    chance: float
    rows_fit: int
    rows_scored: int

    @property
    def above_chance(self) -> float:
        return self.r2 - self.chance


def _fit(x: np.ndarray, y: np.ndarray, ridge: float) -> tuple[np.ndarray, np.ndarray, float]:
    mean, scale = x.mean(0), x.std(0) + 1e-8
    z = (x - mean) / scale
    gram = z.T @ z + ridge * len(z) * np.eye(z.shape[1])
    weights = np.linalg.solve(gram, z.T @ (y - y.mean()))
    return mean, weights / scale, float(y.mean())


def _r2(x: np.ndarray, y: np.ndarray, fit: tuple[np.ndarray, np.ndarray, float]) -> float:
    mean, weights, intercept = fit
    predicted = (x - mean) @ weights + intercept
    total = float(((y - y.mean()) ** 2).sum())
    return 1.0 - float(((y - predicted) ** 2).sum()) / total if total > 0 else 0.0


def _finite(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = np.isfinite(y) & np.isfinite(x).all(1)
    return x[keep].astype(np.float64), y[keep].astype(np.float64)


def probe(fit_states: np.ndarray, fit_track: np.ndarray, score_states: np.ndarray,
          score_track: np.ndarray, *, ridge: float = 1e-3) -> Probe:
    """Fit ``track ≈ states · w + c`` (ridge, standardised states) on the fit rows, score R² on
    the scored rows, and the same with both tracks circularly shifted by half their length.

    Parameters
    ----------
    fit_states, score_states : numpy.ndarray
        ``(M, K)`` the states of the probed neurons, one row per step (or sequence).
    fit_track, score_track : numpy.ndarray
        ``(M,)`` the quantity; rows where it is not finite are left out.
    ridge : float
        Penalty relative to the number of rows.
    """
    x, y = _finite(np.asarray(fit_states).reshape(len(fit_track), -1), np.asarray(fit_track))
    xs, ys = _finite(np.asarray(score_states).reshape(len(score_track), -1),
                     np.asarray(score_track))
    if len(y) < 3 or len(ys) < 3:
        return Probe(float("nan"), float("nan"), len(y), len(ys))
    r2 = _r2(xs, ys, _fit(x, y, ridge))
    chance = _r2(xs, np.roll(ys, len(ys) // 2), _fit(x, np.roll(y, len(y) // 2), ridge))
    return Probe(r2, chance, len(y), len(ys))
