"""The pattern-search view (LSTMVis): a selected set of neurons over time with every match
shaded, and the matches across the data as small multiples."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from indrnn.analysis.patterns import PatternMatch
from indrnn.arrays import to_numpy
from indrnn.data.text import visible
from indrnn.figures.common import (
    MAX_POINTS,
    OKABE_ITO,
    ArrayLike,
    compact,
    envelope,
    styled,
)

MATCH_FILL = "rgba(230,159,0,0.25)"  # Okabe–Ito orange, see-through


def _states(states: ArrayLike | Sequence[ArrayLike]) -> list[np.ndarray]:
    """One ``(T_i, N)`` array per sequence from ``(T, B, N)``, ``(T, N)`` or a list."""
    if isinstance(states, Sequence):
        return [to_numpy(s, np.float64) for s in states]
    array = to_numpy(states, np.float64)
    return [array] if array.ndim == 2 else [array[:, b] for b in range(array.shape[1])]


def pattern_trace(states: ArrayLike, neurons: Sequence[int], matches: Sequence[PatternMatch], *,
                  threshold: float, sequence: int = 0, max_lines: int = 8,
                  max_points: int = MAX_POINTS, max_spans: int = 200,
                  title: str = "Pattern over time") -> go.Figure:
    """The pattern's neurons over one sequence, the threshold, and its matches shaded.

    Parameters
    ----------
    states : array-like
        ``(T, N)`` the layer's states on sequence ``sequence``.
    neurons : sequence of int
        The pattern.
    matches : sequence of PatternMatch
        From :func:`indrnn.analysis.find_pattern`; those of other sequences are skipped.
    threshold : float
    sequence : int
        Which sequence ``states`` is.
    max_lines : int
        Neurons drawn one by one at most; the weakest of all (what a match needs above the
        threshold) is always drawn.
    max_points : int
        Points per line at most.
    max_spans : int
        Matches shaded at most (the first ones given: the best).
    title : str

    Returns
    -------
    plotly.graph_objects.Figure
        ``Scatter`` lines (one per neuron and "weakest of pattern"), a threshold line, and one
        rectangle shape per shaded match.
    """
    values = to_numpy(states, np.float64)
    if values.ndim != 2:
        raise ValueError(f"states must be (T, N) for one sequence, got shape {values.shape}")
    picked = [int(n) for n in neurons]
    fig = go.Figure()
    for number, neuron in enumerate(picked[:max_lines]):
        x, y = envelope(values[:, neuron], max_points)
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=f"neuron {neuron}", opacity=0.7,
                                 line={"width": 1, "color": OKABE_ITO[number % 8]}))
    x, y = envelope(values[:, picked].min(1), max_points)
    fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name="weakest of pattern",
                             line={"width": 2.5, "color": "#000000"}))
    fig.add_hline(y=threshold, line={"dash": "dash", "color": OKABE_ITO[5], "width": 1},
                  annotation_text=f"threshold {threshold:.3g}")
    here = [m for m in matches if m.sequence == sequence][:max_spans]
    shapes = [{"type": "rect", "xref": "x", "yref": "paper", "x0": m.start - 0.5,
               "x1": m.end - 0.5, "y0": 0, "y1": 1, "fillcolor": MATCH_FILL, "line_width": 0,
               "layer": "below"} for m in here]
    fig.update_layout(shapes=[*fig.layout.shapes, *shapes])
    shown = len(here)
    total = sum(m.sequence == sequence for m in matches)
    note = f" ({total} matches" + (f", {shown} shaded)" if shown < total else ")")
    return styled(fig, title + note, "step", "activation")


def pattern_windows(states: ArrayLike | Sequence[ArrayLike], neurons: Sequence[int],
                    matches: Sequence[PatternMatch], *, threshold: float, context: int = 5,
                    columns: int = 3, limit: int = 12, text: str | Sequence[str] | None = None,
                    title: str = "Matches across the data") -> go.Figure:
    """Small multiples: each match with ``context`` steps around it, best first.

    Parameters
    ----------
    states : array-like or sequence of array-like
        ``(T, B, N)``, ``(T, N)`` (one sequence) or one ``(T_i, N)`` per sequence.
    neurons : sequence of int
        The pattern.
    matches : sequence of PatternMatch
        From :func:`indrnn.analysis.find_pattern`.
    threshold : float
    context : int
        Steps shown on each side of a match.
    columns, limit : int
        Panels per row; panels at most.
    text : str or sequence of str, optional
        Characters per sequence, shown as x tick labels (when a window has ≤ 40 steps).
    title : str

    Returns
    -------
    plotly.graph_objects.Figure
        Per match a ``Scatter`` line of the pattern's weakest neuron, the match shaded and the
        threshold dotted.
    """
    seqs = _states(states)
    shown = list(matches)[:limit]
    rows = max(1, -(-len(shown) // columns))
    fig = make_subplots(rows, columns, vertical_spacing=min(0.12, 0.5 / rows),
                        subplot_titles=[f"seq {m.sequence}, steps {m.start}–{m.end - 1}"
                                        for m in shown])
    picked = [int(n) for n in neurons]
    shapes = []
    for index, m in enumerate(shown):
        row, col = index // columns + 1, index % columns + 1
        seq = seqs[m.sequence]
        lo, hi = max(0, m.start - context), min(len(seq), m.end + context)
        steps = np.arange(lo, hi)
        fig.add_trace(go.Scatter(x=steps, y=compact(seq[lo:hi][:, picked].min(1)),
                                 mode="lines", showlegend=False, line={"color": "#000000"},
                                 hovertemplate="step %{x}: %{y:.3g}<extra></extra>"), row, col)
        axis = "" if index == 0 else str(index + 1)
        shapes.append({"type": "rect", "xref": f"x{axis}", "yref": f"y{axis} domain",
                       "x0": m.start - 0.5, "x1": m.end - 0.5, "y0": 0, "y1": 1,
                       "fillcolor": MATCH_FILL, "line_width": 0, "layer": "below"})
        shapes.append({"type": "line", "xref": f"x{axis} domain", "yref": f"y{axis}",
                       "x0": 0, "x1": 1, "y0": threshold, "y1": threshold,
                       "line": {"dash": "dot", "color": OKABE_ITO[5], "width": 1}})
        if text is not None and hi - lo <= 40:
            source = text if isinstance(text, str) else text[m.sequence]
            labels = [visible(c, spaces=True) for c in source[lo:hi]]
            fig.update_xaxes(tickvals=steps.tolist(), ticktext=labels, row=row, col=col)
    fig.update_layout(shapes=shapes)
    styled(fig, title, None, None, height=max(260, 200 * rows))
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text="weakest", col=1)
    return fig
