"""The memory view: u against the paper's bounds, τ (or half-life), flags, and measured impulse
responses against the theoretical ``u^k``. Gradients through time are in
:mod:`indrnn.figures.gradients`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from indrnn.analysis.memory import PaperBounds
from indrnn.arrays import to_numpy
from indrnn.figures.common import (
    MAX_POINTS,
    OKABE_ITO,
    ArrayLike,
    by_name,
    compact,
    envelope,
    log_ticks,
    series_colours,
    styled,
)


def _field(value: Any, name: str) -> np.ndarray:
    """``value.name`` if it has it (an analysis dataclass), else ``value`` itself."""
    return to_numpy(getattr(value, name, value), np.float64).reshape(-1)


def u_strip(u: ArrayLike | Mapping[str, Any], *, bounds: PaperBounds | None = None,
            title: str = "Recurrent weights u", distance: bool = False) -> go.Figure:
    """u of every neuron, one strip (with box) per layer, against the paper's bounds.

    Parameters
    ----------
    u : array-like or mapping of layer name to array-like or IndRNNLayerMemory
        ``(N,)`` per layer (e.g. :func:`indrnn.analysis.indrnn_memory`'s result).
    bounds : PaperBounds, optional
        Lines at ``γ^{1/T}`` and ``ε^{1/T}``; taken from the memory objects when they hold them.
    title : str
    distance : bool
        Plot ``|1 − |u||`` on a log axis instead of u: where u crowd near 1 (long memories),
        this spreads them by orders of magnitude (the hover says which have ``|u| > 1``).

    Returns
    -------
    plotly.graph_objects.Figure
        A ``Box`` per layer with every point shown (``customdata`` = neuron index), and
        horizontal lines at 0, 1 and the bounds.
    """
    layers = by_name(u, "u")
    colours = series_colours(list(layers))
    fig = go.Figure()
    for name, value in layers.items():
        bounds = bounds or getattr(value, "bounds", None)
        values = _field(value, "u")
        shown = np.maximum(np.abs(1 - np.abs(values)), 1e-9) if distance else values
        fig.add_trace(go.Box(
            y=compact(shown), name=name, boxpoints="all", jitter=0.5, pointpos=0,
            customdata=np.arange(values.size),
            text=[f"{v:.6g}" + (" (|u| > 1: grows)" if distance and abs(v) > 1 else "")
                  for v in values.tolist()],
            marker={"size": 5, "opacity": 0.7},
            line={"color": colours[name]}, fillcolor="rgba(0,0,0,0)",
            hovertemplate=name + " neuron %{customdata}<br>u %{text}<extra></extra>"))
    if distance:
        lines = []
        if bounds is not None:
            lines = [(abs(1 - bounds.upper), f"γ^(1/T) = {bounds.upper:.4g}", "top right"),
                     (abs(1 - bounds.lower), f"ε^(1/T) = {bounds.lower:.4g}", "bottom right")]
        for y, label, where in lines:
            fig.add_hline(y=y, line={"dash": "dash", "width": 1, "color": "#555555"})
            # Plotly places an annotation's y on a log axis as log10(y): say so, or the
            # label lands near 1 while its line is at y.
            fig.add_annotation(x=1, xref="paper", xanchor="right", y=math.log10(y), yref="y",
                               yanchor="bottom" if where.startswith("top") else "top",
                               text=label, showarrow=False)
        fig.update_yaxes(type="log")
        note = f" (T = {bounds.seq_len})" if bounds is not None else ""
        return styled(fig, f"Distance of u from 1{note}", "layer", "|1 − |u||")
    lines = [(0.0, "0", "bottom left"), (1.0, "1", "top left")]
    if bounds is not None:
        lines += [(bounds.upper, f"γ^(1/T) = {bounds.upper:.4g}", "top right"),
                  (bounds.lower, f"ε^(1/T) = {bounds.lower:.4g}", "bottom right")]
    for y, label, where in lines:
        fig.add_hline(y=y, line={"dash": "dot" if label in ("0", "1") else "dash", "width": 1,
                                 "color": "#555555"},
                      annotation_text=label, annotation_position=where)
    note = f" (T = {bounds.seq_len})" if bounds is not None else ""
    return styled(fig, title + note, "layer", "u")


#: From this many layers on, τ histograms are small multiples instead of overlaid.
SMALL_MULTIPLES_FROM = 4


def tau_histogram(taus: ArrayLike | Mapping[str, Any], *, which: str = "tau", bins: int = 40,
                  title: str = "Memory per neuron") -> go.Figure:
    """Distribution of τ (or half-life) on a log axis, one overlaid histogram per layer/model.

    Parameters
    ----------
    taus : array-like or mapping of name to array-like or a memory dataclass
        ``(N,)`` per entry; ``IndRNNLayerMemory`` and ``LSTMLayerMemory`` are read for
        ``which``. Give IndRNN and LSTM entries to compare them.
    which : {"tau", "half_life"}
        The field read from memory dataclasses (and the axis title).
    bins : int
        Bins over the common log range.
    title : str

    Returns
    -------
    plotly.graph_objects.Figure
        A ``Histogram`` of ``log10`` values per entry, x ticks in steps; neurons that never
        decay (``inf``) or have no memory (0) are counted in the legend.
    """
    entries = {name: _field(value, which) for name, value in by_name(taus, which).items()}
    shown = {name: v[np.isfinite(v) & (v > 0)] for name, v in entries.items()}
    logs = np.concatenate([np.log10(v) for v in shown.values()] + [np.zeros(0)])
    low, high = (float(logs.min()), float(logs.max())) if logs.size else (0.0, 1.0)
    size = max((high - low) / bins, 1e-3)
    # Up to three overlaid histograms read; more become one row each, on a shared x axis.
    rows = len(entries) if len(entries) > SMALL_MULTIPLES_FROM - 1 else 1
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.02)
    colours = series_colours(list(entries))
    for row, (name, values) in enumerate(entries.items(), start=1):
        never, none = int(np.isposinf(values).sum()), int((values == 0).sum())
        extra = ", ".join(part for part in (f"{never} never decay" if never else "",
                                            f"{none} no memory" if none else "") if part)
        fig.add_trace(go.Histogram(
            x=compact(np.log10(shown[name])), name=f"{name} ({extra})" if extra else name,
            xbins={"start": low - size / 2, "end": high + size, "size": size},
            opacity=0.6 if rows == 1 else 0.9, marker={"color": colours[name]},
            hovertemplate="log10 steps %{x}: %{y} neurons<extra>" + name + "</extra>"),
            row=row if rows > 1 else 1, col=1)
    tickvals, ticktext = log_ticks(low, high)
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(tickvals=tickvals, ticktext=ticktext)
    label = "τ" if which == "tau" else "half-life"
    if rows > 1:
        fig.update_layout(height=max(400, 90 * rows + 120))
        fig.update_yaxes(title_text=None, nticks=3)
        fig.update_xaxes(title_text=f"{label} (steps, log scale)", row=rows, col=1)
        return styled(fig, title, None, None)
    return styled(fig, title, f"{label} (steps, log scale)", "neurons")


def flag_counts(flags: Mapping[str, Any], *, title: str = "Flagged neurons") -> go.Figure:
    """How many neurons of each layer carry each flag.

    Parameters
    ----------
    flags : mapping of layer name to NeuronFlags, IndRNNLayerMemory or dict of bool arrays
    title : str

    Returns
    -------
    plotly.graph_objects.Figure
        Grouped ``Bar`` traces, one per layer, x the flags.
    """
    fig = go.Figure()
    colours = series_colours(list(flags))
    for name, value in flags.items():
        value = getattr(value, "flags", value)
        table = value.as_dict() if hasattr(value, "as_dict") else dict(value)
        counts = [int(to_numpy(v, bool).sum()) for v in table.values()]
        fig.add_trace(go.Bar(x=[k.replace("_", " ") for k in table], y=counts, name=name,
                             marker={"color": colours[name]},
                             hovertemplate=name + ": %{y} neurons %{x}<extra></extra>"))
    fig.update_layout(barmode="group")
    return styled(fig, title, "flag", "neurons")


def impulse_figure(response: Any, *, log_y: bool = False, max_points: int = MAX_POINTS,
                   title: str | None = None) -> go.Figure:
    """A measured impulse (or step) response against the theoretical ``Δh·u^k``.

    Parameters
    ----------
    response : ImpulseResponse
        From :func:`indrnn.analysis.impulse_response`.
    log_y : bool
        Plot magnitudes on a log axis (a pure decay is a straight line).
    max_points : int
        Points per line at most.
    title : str, optional

    Returns
    -------
    plotly.graph_objects.Figure
        ``Scatter`` lines "measured" and (for IndRNN neurons) "theory"; lags where the neuron
        left its linear (active) regime are shaded.
    """
    lines = {"measured": to_numpy(response.response, np.float64)}
    if not np.isnan(to_numpy(response.theoretical, np.float64)).all():
        lines["theory u^k" if response.kind == "impulse" else "theory Σu^j"] = to_numpy(
            response.theoretical, np.float64)
    fig = go.Figure()
    for number, (name, values) in enumerate(lines.items()):
        x, y = envelope(np.abs(values) if log_y else values, max_points)
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=name,
                                 line={"color": OKABE_ITO[number * 5],
                                       "dash": "dash" if number else "solid"}))
    linear = to_numpy(response.linear, bool)
    if response.u is not None and linear.size and not linear.all():
        first = int(np.argmin(linear))
        fig.add_vrect(x0=first, x1=len(linear) - 1, fillcolor="#999999", opacity=0.15,
                      line_width=0, annotation_text="not linear", annotation_position="top left")
    if log_y:
        fig.update_yaxes(type="log")
    u = "" if response.u is None else f", u = {response.u:.4g}"
    title = title or f"{response.kind.capitalize()} response, {response.layer} neuron " \
                     f"{response.neuron} at step {response.t0}{u}"
    return styled(fig, title, "lag (steps after the kick)", "|Δh|" if log_y else "Δh")


def decay_curves(us: tuple[float, ...] = (0.5, 0.9, 0.99, 0.999, 1.0), steps: int = 1000,
                 title: str = "How one weight u sets a neuron's memory") -> go.Figure:
    """``u^k`` against the lag ``k`` for a few ``u``: what is left of a kick after ``k`` steps.

    Parameters
    ----------
    us : tuple of float
        Recurrent weights to draw, each labelled with its half-life.
    steps : int
        Lags shown.
    title : str

    Returns
    -------
    plotly.graph_objects.Figure
        One line per ``u`` on a log y axis.
    """
    lags = np.arange(steps)
    fig = go.Figure()
    for u in us:
        half = np.inf if abs(u) >= 1 else np.log(0.5) / np.log(abs(u))
        name = f"u = {u:g} (half-life {'∞' if np.isinf(half) else f'{half:.3g}'} steps)"
        values = np.maximum(np.abs(u) ** lags, 1e-12).astype(np.float32)
        fig.add_trace(go.Scatter(x=lags, y=values, mode="lines", name=name))
    fig.update_yaxes(type="log")
    return styled(fig, title, "lag k (steps)", "u^k")
