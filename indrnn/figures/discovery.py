"""The discovery view: which neurons follow which annotation track, and one neuron against one
track over time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from indrnn.arrays import to_numpy
from indrnn.figures.common import (
    MAX_POINTS,
    OKABE_ITO,
    ArrayLike,
    compact,
    envelope,
    styled,
)

NEGATIVE, POSITIVE = "#2166ac", "#b2182b"  # the ends of RdBu


def track_bars(correlations: Mapping[str, Any], *, tracks: Sequence[str] | None = None,
               k: int = 10, title: str = "Neurons that follow each track",
               chance: Mapping[str, float] | None = None) -> go.Figure:
    """Top neurons per track by Pearson's r, one panel per track.

    Parameters
    ----------
    correlations : mapping of track name to TrackCorrelation or (neurons, r)
        From :func:`indrnn.analysis.correlate_tracks` (strongest first).
    tracks : sequence of str, optional
        Tracks to show, in order (all by default).
    k : int
        Neurons per track at most.
    title : str
    chance : mapping of track name to float, optional
        The ``|r|`` a misaligned track reaches: drawn as a dashed band at ±chance per panel.

    Returns
    -------
    plotly.graph_objects.Figure
        One ``Bar`` per track (red positive, blue negative r); ``customdata`` = neuron index.
    """
    names = list(correlations) if tracks is None else list(tracks)
    fig = make_subplots(len(names), 1, subplot_titles=names,
                        vertical_spacing=min(0.1, 0.6 / max(len(names), 1)))
    for row, name in enumerate(names, 1):
        value = correlations[name]
        neurons, r = (value.neurons, value.top_r) if hasattr(value, "top_r") else value
        neurons, r = to_numpy(neurons, int)[:k], to_numpy(r, np.float64)[:k]
        fig.add_trace(go.Bar(
            x=[f"n{n}" for n in neurons], y=compact(r), customdata=neurons, showlegend=False,
            marker={"color": np.where(r < 0, NEGATIVE, POSITIVE).tolist()},
            hovertemplate="neuron %{customdata}: r = %{y:.3f}<extra>" + name + "</extra>"),
            row, 1)
        level = (chance or {}).get(name)
        if level is not None and np.isfinite(level):
            band = {"line": {"dash": "dash", "color": "#777777", "width": 1}, "row": row,
                    "col": 1}
            fig.add_hline(y=level, annotation_text=f"chance ±{level:.2f}",
                          annotation_position="top right", **band)
            fig.add_hline(y=-level, **band)
        fig.update_yaxes(range=[-1, 1], title_text="r", row=row, col=1)
        fig.update_xaxes(type="category", row=row, col=1)
    styled(fig, title, None, None, height=max(280, 190 * len(names)))
    fig.update_xaxes(title_text="neuron", row=len(names), col=1)
    return fig


def track_trace(values: ArrayLike, track: ArrayLike, *, neuron: int | None = None,
                track_name: str = "track", r: float | None = None,
                max_points: int = MAX_POINTS, start: int = 0,
                title: str | None = None) -> go.Figure:
    """One neuron's state and one annotation track over the same steps, two y axes.

    Parameters
    ----------
    values : array-like
        ``(T,)`` the neuron's state.
    track : array-like
        ``(T,)`` the track (NaN where undefined: gaps).
    neuron : int, optional
        For the legend and title.
    track_name : str
    r : float, optional
        Their correlation, for the title.
    max_points : int
        Points per line at most.
    start : int
        Step number of the first value.
    title : str, optional

    Returns
    -------
    plotly.graph_objects.Figure
        Two ``Scatter`` lines, the track on the right-hand axis.
    """
    v, t = to_numpy(values, np.float64).reshape(-1), to_numpy(track, np.float64).reshape(-1)
    if v.shape != t.shape:
        raise ValueError(f"the neuron has {v.size} steps, the track {t.size}")
    label = "neuron" if neuron is None else f"neuron {neuron}"
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    x, y = envelope(v, max_points, start)
    fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=label,
                             line={"color": OKABE_ITO[0], "width": 1.5}), secondary_y=False)
    x, y = envelope(t, max_points, start)
    fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=track_name,
                             line={"color": OKABE_ITO[1], "width": 1.5, "dash": "dot"}),
                  secondary_y=True)
    default = f"{label} against {track_name}" + ("" if r is None else f" (r = {r:.3f})")
    styled(fig, title or default, "step", None)
    fig.update_yaxes(title_text="activation", secondary_y=False)
    # Round ticks of its own (a "sync"ed axis puts the track on the activation's tick positions).
    fig.update_yaxes(title_text=track_name, secondary_y=True, showgrid=False, tickmode="auto")
    return fig
