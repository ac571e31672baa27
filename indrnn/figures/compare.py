"""IndRNN vs LSTM: the LSTM's gates over time, their saturation (Karpathy et al. 2015, fig. 4)
and its effective memory beside IndRNN's τ. Predictions side by side are
:func:`indrnn.figures.overview.prediction_bars` with one entry per model."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from indrnn.arrays import to_numpy
from indrnn.figures.common import (
    MAX_COLUMNS,
    MAX_POINTS,
    MAX_ROWS,
    OKABE_ITO,
    SEQUENTIAL,
    ArrayLike,
    by_name,
    compact,
    envelope,
    reduce_matrix,
    styled,
)
from indrnn.figures.memory import tau_histogram

GATE_NAMES = {"input_gate": "input i", "forget_gate": "forget f", "output_gate": "output o",
              "cell_candidate": "candidate g", "cell": "cell c"}
GATE_COLOURS = {"input_gate": OKABE_ITO[2], "forget_gate": OKABE_ITO[5],
                "output_gate": OKABE_ITO[3], "cell_candidate": OKABE_ITO[4],
                "cell": OKABE_ITO[7]}


def gate_traces(gates: Mapping[str, ArrayLike], *, unit: int | None = None,
                max_points: int = MAX_POINTS, start: int = 0) -> go.Figure:
    """One LSTM unit's gates over time (i, f, o; any other recorded series too).

    Parameters
    ----------
    gates : mapping of gate name to array-like
        ``(T,)`` each, e.g. ``{g: record[g][:, b, unit] for g in GATES}``.
    unit : int, optional
        For the title.
    max_points : int
        Points per line at most.
    start : int
        Step number of the first value.

    Returns
    -------
    plotly.graph_objects.Figure
        One ``Scatter`` line per gate.
    """
    fig = go.Figure()
    for name, values in gates.items():
        x, y = envelope(values, max_points, start)
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=GATE_NAMES.get(name, name),
                                 line={"width": 1.5, "color": GATE_COLOURS.get(name)}))
    title = "LSTM gates" + ("" if unit is None else f", unit {unit}")
    return styled(fig, title, "step", "gate value")


#: Gates spanning less than this (0.5th to 99.5th percentile) get colours over their own range.
NARROW_GATES = 0.5


def gate_span(gates: Iterable[ArrayLike]) -> tuple[float, float]:
    """The 0.5th and 99.5th percentiles of every finite gate value: where the gates really are."""
    values = np.concatenate([to_numpy(g, np.float64).reshape(-1) for g in gates] or [
        np.zeros(1)])
    values = values[np.isfinite(values)]
    if not values.size:
        return 0.0, 1.0
    low, high = np.percentile(values, [0.5, 99.5])
    return float(low), float(max(high, low + 1e-6))


def gate_heatmaps(gates: Mapping[str, ArrayLike], *, how: str | Mapping[str, str] | None = None,
                  max_columns: int = MAX_COLUMNS // 2, max_rows: int = MAX_ROWS,
                  start: int = 0, title: str = "LSTM gates") -> go.Figure:
    """Unit × time heatmaps of each gate, stacked with a shared step axis and colour scale.

    Parameters
    ----------
    gates : mapping of gate name to array-like
        ``(T, N)`` each (one sequence: ``record[g][:, b]``).
    how : str or mapping of gate name to str, optional
        ``"max"`` or ``"min"`` per bucket of steps. By default the forget gate shows its
        minimum (a one-step reset stays visible) and the others their maximum (a one-step
        opening stays visible).
    max_columns, max_rows : int
        Buckets of steps and groups of units at most, per panel.
    start : int
        Step number of the first row.
    title : str

    Returns
    -------
    plotly.graph_objects.Figure
        One ``Heatmap`` per gate, colours 0–1, or stretched over the gates' own range when they
        span less than :data:`NARROW_GATES` (said in the colour bar).
    """
    fig = make_subplots(len(gates), 1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=[GATE_NAMES.get(n, n) for n in gates])
    for row, (name, values) in enumerate(gates.items(), 1):
        pick = how.get(name, "max") if isinstance(how, Mapping) else how
        pick = pick or ("min" if name == "forget_gate" else "max")
        grid = reduce_matrix(to_numpy(values, np.float64).T, max_columns, max_rows, pick)
        fig.add_trace(go.Heatmap(
            z=grid.z, x=grid.x + start, y=grid.rows, coloraxis="coloraxis", name=name,
            hovertemplate=f"step %{{x}}<br>unit %{{y}}<br>{pick} %{{z:.3g}}<extra>{name}"
                          "</extra>"), row, 1)
        fig.update_yaxes(title_text="unit", row=row, col=1)
    low, high = gate_span(gates.values())
    stretched = high - low < NARROW_GATES
    if not stretched:
        low, high = 0.0, 1.0
    fig.update_layout(coloraxis={"colorscale": SEQUENTIAL, "cmin": low, "cmax": high,
                                 "colorbar": {"title": "gate" + (
                                     f"<br><sub>only {low:.2f}–{high:.2f}</sub>"
                                     if stretched else "")}})
    styled(fig, title, None, None, height=220 * len(gates) + 80)
    fig.update_xaxes(title_text="step", row=len(gates), col=1)
    return fig


def saturation_scatter(saturation: Mapping[str, Any], *,
                       title: str = "Gate saturation (Karpathy et al. 2015)") -> go.Figure:
    """Fraction of steps each unit's gates are closed (< 0.1) against open (> 0.9).

    Parameters
    ----------
    saturation : mapping of gate name to GateSaturation or (left, right)
        From :func:`indrnn.analysis.gate_saturation`.
    title : str

    Returns
    -------
    plotly.graph_objects.Figure
        One ``Scatter`` (markers) per gate, ``customdata`` = unit index; the line
        ``left + right = 1`` bounds the possible points.
    """
    fig = go.Figure()
    for name, value in saturation.items():
        left, right = (value.left, value.right) if hasattr(value, "left") else value
        left = to_numpy(left, np.float64).reshape(-1)
        right = to_numpy(right, np.float64).reshape(-1)
        label = GATE_NAMES.get(name, name)
        fig.add_trace(go.Scatter(
            x=compact(left), y=compact(right), mode="markers", name=label,
            customdata=np.arange(left.size),
            marker={"size": 7, "opacity": 0.75, "color": GATE_COLOURS.get(name)},
            hovertemplate=label + " unit %{customdata}<br>closed %{x:.1%}<br>open %{y:.1%}"
                                  "<extra></extra>"))
    fig.add_trace(go.Scatter(x=[0, 1], y=[1, 0], mode="lines", showlegend=False,
                             hoverinfo="skip", line={"color": "#999999", "dash": "dot"}))
    # Square, and 0-1 on both axes: the plot narrows to keep the aspect, the ranges stay put.
    fig.update_xaxes(range=[-0.02, 1.02], constrain="domain")
    fig.update_yaxes(range=[-0.02, 1.02], scaleanchor="x", constrain="domain")
    # Streamlit lets a click select a point only outside the select and lasso drag modes.
    fig.update_layout(dragmode="zoom", clickmode="event+select")
    return styled(fig, title, "fraction of steps closed (< 0.1)",
                  "fraction of steps open (> 0.9)")


def memory_comparison(indrnn: ArrayLike | Mapping[str, Any], lstm: ArrayLike | Mapping[str, Any],
                      *, which: str = "tau", bins: int = 40,
                      title: str = "Memory: IndRNN τ from u, LSTM τ from mean forget gate"
                      ) -> go.Figure:
    """IndRNN's τ beside the LSTM's effective τ (``-1/ln f̄``), overlaid on a log axis.

    Parameters
    ----------
    indrnn, lstm : array-like or mapping of layer name to array-like or memory dataclass
        ``(N,)`` τ per layer, or ``indrnn_memory(...)`` / ``{name: lstm_memory(record)}``.
    which : {"tau", "half_life"}
    bins : int
    title : str

    Returns
    -------
    plotly.graph_objects.Figure
        :func:`indrnn.figures.memory.tau_histogram` of the entries, named ``IndRNN …`` and
        ``LSTM …``.
    """
    entries = {f"IndRNN {k}".strip(): v for k, v in by_name(indrnn).items()}
    entries.update({f"LSTM {k}".strip(): v for k, v in by_name(lstm).items()})
    return tau_histogram(entries, which=which, bins=bins, title=title)
