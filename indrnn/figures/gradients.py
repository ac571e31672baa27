"""Gradients through time: ``‖∂y/∂x_t‖`` per step, and neuron × lag maps of IndRNN's exact
``Π u σ'`` beside the LSTM's ``Π f``, on one colour scale."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from indrnn.arrays import to_numpy
from indrnn.figures.common import (
    DIVERGING,
    MAX_COLUMNS,
    MAX_POINTS,
    MAX_ROWS,
    SEQUENTIAL,
    ArrayLike,
    by_name,
    compact,
    envelope,
    finite_range,
    log_ticks,
    reduce_matrix,
    series_colours,
    styled,
)


def gradient_over_time(norms: ArrayLike | Mapping[str, ArrayLike], *, log_y: bool = True,
                       max_points: int = MAX_POINTS,
                       title: str = "Gradient over time ‖∂y/∂x_t‖") -> go.Figure:
    """``‖∂y/∂x_t‖`` per input step, one line per model (IndRNN beside LSTM).

    Parameters
    ----------
    norms : array-like or mapping of name to array-like
        ``(T,)`` each (``Saliency.input_norm[b]``).
    log_y : bool
    max_points : int
        Points per line at most.
    title : str

    Returns
    -------
    plotly.graph_objects.Figure
        One ``Scatter`` line per entry.
    """
    fig = go.Figure()
    entries = by_name(norms, "gradient")
    colours = series_colours(list(entries))
    for name, values in entries.items():
        x, y = envelope(values, max_points)
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=name,
                                 line={"color": colours[name]}))
    if log_y:
        fig.update_yaxes(type="log")
    return styled(fig, title, "input step", "‖∂y/∂x_t‖")


def gradient_maps(maps: ArrayLike | Mapping[str, ArrayLike], *, log_colour: bool = True,
                  floor: float = 1e-12, max_columns: int = MAX_COLUMNS,
                  max_rows: int = MAX_ROWS, title: str = "Gradient through time") -> go.Figure:
    """Neuron × lag maps side by side (IndRNN ``Π u σ'`` beside LSTM ``Π f``), one colour scale.

    Parameters
    ----------
    maps : array-like or mapping of name to array-like
        ``(N, L)`` each: one sequence of :func:`indrnn.analysis.indrnn_gradient_map` or
        :func:`indrnn.analysis.lstm_cell_gradient_map` (``map[b]``).
    log_colour : bool
        Colour by ``log10 |g|`` (values below ``floor`` drawn at it); else by ``g`` itself.
    floor : float
    max_columns, max_rows : int
        Lag columns in all panels together, and neuron rows per panel, at most; each bucket
        keeps its value of largest magnitude.
    title : str

    Returns
    -------
    plotly.graph_objects.Figure
        One ``Heatmap`` per entry sharing a colour axis; x in lags (steps back), y neurons.
    """
    entries = by_name(maps, "gradient")
    for name, value in entries.items():
        if to_numpy(value, np.float64).ndim != 2:
            raise ValueError(f"{name}: a map must be (N, L); pass one sequence, map[b]")
    per_panel = max(1, max_columns // len(entries))
    grids = {}
    for name, v in entries.items():
        values = to_numpy(v, np.float64)
        grids[name] = reduce_matrix(np.abs(values) if log_colour else values, per_panel,
                                    max_rows, "max" if log_colour else "peak")
    fig = make_subplots(1, len(grids), subplot_titles=list(grids), shared_yaxes=True,
                        horizontal_spacing=0.04)
    zs = {n: np.log10(np.maximum(g.z, floor)) if log_colour else g.z for n, g in grids.items()}
    for col, (name, grid) in enumerate(grids.items(), 1):
        fig.add_trace(go.Heatmap(
            z=compact(zs[name]), x=grid.x, y=grid.rows, coloraxis="coloraxis", name=name,
            hovertemplate=("lag %{x}<br>neuron %{y}<br>" + ("log10|g| " if log_colour else "g ")
                           + "%{z:.3g}<extra>" + name + "</extra>")), 1, col)
        fig.update_xaxes(title_text="lag (steps back)", row=1, col=col)
    low, high, signed = finite_range(np.concatenate([z.reshape(-1) for z in zs.values()]),
                                     False if log_colour else None)
    axis = {"colorscale": DIVERGING if signed else SEQUENTIAL, "cmin": low, "cmax": high}
    if log_colour:
        tickvals, ticktext = log_ticks(low, high)
        axis["colorbar"] = {"title": "|∂h_end/∂h|", "tickvals": tickvals, "ticktext": ticktext}
    else:
        axis["colorbar"] = {"title": "∂h_end/∂h"}
    fig.update_layout(coloraxis=axis)
    styled(fig, title, None, None)
    fig.update_yaxes(title_text="neuron", row=1, col=1)
    return fig
