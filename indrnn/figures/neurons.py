"""The neurons view: neuron × time heatmaps, a scatter of neurons, one neuron's traces and weights.

States come time-major as recordings hold them: one sequence of a layer is
``recording[layer].hidden[:, b]``, ``(T, N)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from indrnn.arrays import to_numpy
from indrnn.figures.common import (
    DIVERGING,
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
    robust_range,
    styled,
)


def activation_heatmap(states: ArrayLike, *, title: str = "Activations",
                       order: Sequence[int] | None = None, signed: bool | None = None,
                       max_columns: int = MAX_COLUMNS, max_rows: int = MAX_ROWS,
                       colour_title: str = "activation", start: int = 0) -> go.Figure:
    """Neuron × time heatmap of one layer on one sequence, spikes kept.

    Parameters
    ----------
    states : array-like
        ``(T, N)`` the layer's states over time (e.g. ``hidden[:, b]``).
    title : str
    order : sequence of int, optional
        Neurons to show, in this order (e.g. sorted by τ); all, by index, by default.
    signed : bool, optional
        Diverging colours on a range symmetric around 0, and the value of largest magnitude per
        bucket; read off the data when ``None``. Unsigned data show each bucket's maximum.
    max_columns, max_rows : int
        Buckets of steps and groups of neurons at most (groups keep their extreme too).
    colour_title : str
        Colour bar title.
    start : int
        Step number of the first row of ``states``.

    Returns
    -------
    plotly.graph_objects.Figure
        One ``Heatmap``; x in steps (each bucket's first step), y the neurons.
    """
    values = to_numpy(states, np.float64)
    if values.ndim != 2:
        raise ValueError(f"states must be (T, N), got shape {values.shape}")
    neurons = np.arange(values.shape[1]) if order is None else np.asarray(order, dtype=int)
    low, high, signed, clipped = robust_range(values[:, neurons], signed)
    grid = reduce_matrix(values[:, neurons].T, max_columns, max_rows,
                         "peak" if signed else "max")
    if order is None:
        y: ArrayLike = neurons[grid.rows]
    else:
        y = [str(n) for n in neurons[grid.rows]]
    heat = go.Heatmap(
        z=grid.z, x=grid.x + start, y=y, zmin=low, zmax=high,
        colorscale=DIVERGING if signed else SEQUENTIAL,
        colorbar={"title": colour_title + (f"<br><sub>{clipped}</sub>" if clipped else "")},
        hovertemplate="step %{x}<br>neuron %{y}<br>%{z:.4g}<extra></extra>")
    fig = go.Figure(heat)
    if order is not None:
        fig.update_yaxes(type="category")
    note = f" ({'peak' if signed else 'max'} per {grid.bucket} steps)" if grid.bucket > 1 else ""
    y_title = "neuron" if grid.group == 1 else f"neuron (groups of {grid.group})"
    return styled(fig, title + note, "step", y_title)


def sortable_heatmap(states: ArrayLike, orders: Mapping[str, Sequence[int]], *,
                     title: str = "Activations", max_columns: int = MAX_COLUMNS,
                     max_rows: int = MAX_ROWS, start: int = 0) -> go.Figure:
    """Neuron × time heatmap with a menu in the figure that re-sorts the neurons in the browser.

    Re-sorting sends nothing to the server and no data moves: each choice only sets the y axis's
    category order (and the title). A layer with more neurons than ``max_rows`` is drawn in
    groups of neurons, and a group depends on the order; then each order carries its own cells,
    with the columns shared out among the orders so the figure weighs what one heatmap does.

    Parameters
    ----------
    states : array-like
        ``(T, N)`` the layer's states over time.
    orders : mapping of str to sequence of int
        Menu label → neurons in that order, top row first (e.g. largest u first); the first
        order is the one shown at first.
    title : str
        The layer's name; the figure's title reads ``"{title}: neurons (sorted by {label}) ×
        steps"`` for the order shown.
    max_columns, max_rows, start
        As :func:`activation_heatmap`.

    Returns
    -------
    plotly.graph_objects.Figure
        One ``Heatmap`` with a categorical y axis and a dropdown ``updatemenu``.
    """
    if not orders:
        raise ValueError("orders must name at least one order of the neurons")
    labels = list(orders)
    # the y axis counts upwards: the first neuron of an order goes last to be drawn on top
    orders = {label: [int(n) for n in reversed(list(order))] for label, order in orders.items()}

    def heading(label: str) -> str:
        return f"{title}: neurons (sorted by {label}) × steps"

    neurons = to_numpy(states, np.float64).shape[-1]
    if neurons <= max_rows:
        fig = activation_heatmap(states, order=orders[labels[0]], title=heading(labels[0]),
                                 max_columns=max_columns, max_rows=max_rows, start=start)
        note = fig.layout.title.text[len(heading(labels[0])):]  # e.g. " (max per 5 steps)"
        categories = {label: [str(n) for n in orders[label]] for label in labels}
        fig.update_yaxes(categoryorder="array", categoryarray=categories[labels[0]],
                         autotypenumbers="strict")
        _add_row_handles(fig, orders[labels[0]], start)
        # each choice sets the rows' order and moves the handles (trace 1) along with them
        buttons = [{"label": label, "method": "update",
                    "args": [{"y": [_row_positions(orders[label])]},
                             {"yaxis.categoryarray": categories[label],
                              "title.text": heading(label) + note}, [1]]} for label in labels]
    else:
        per_order = max(1, max_columns // len(labels))
        figures = [activation_heatmap(states, order=orders[label], title=heading(label),
                                      max_columns=per_order, max_rows=max_rows, start=start)
                   for label in labels]
        fig = figures[0]
        buttons = [{"label": label, "method": "update",
                    "args": [{"z": [f.data[0].z], "y": [list(f.data[0].y)]},
                             {"title.text": f.layout.title.text}]}
                   for label, f in zip(labels, figures)]
    fig.update_layout(
        updatemenus=[{"type": "dropdown", "buttons": buttons, "active": 0, "showactive": True,
                      "x": 1.0, "xanchor": "right", "y": 1.02, "yanchor": "bottom",
                      "bgcolor": "white", "bordercolor": "#888888"}],
        annotations=[{"text": "Sort neurons by", "showarrow": False, "xref": "paper",
                      "yref": "paper", "x": 1.0, "y": 1.02, "xanchor": "right",
                      "yanchor": "bottom", "xshift": -190, "yshift": 4}],
        # the title on its own line above the menu: a long layer name would run under it
        title={"y": 1.0, "yref": "container", "yanchor": "top", "pad": {"t": 12}},
        margin={"t": 110})
    return fig


#: Height of a neuron's row in the sortable heatmap, where the figure's height allows.
ROW_PIXELS = 8


def _row_positions(order: list[int]) -> list[int]:
    """Where each neuron's row sits (0 at the bottom) when the rows go in ``order``: a handle's
    height, by neuron."""
    where = {n: k for k, n in enumerate(order)}
    return [where[n] for n in sorted(order)]


def _add_row_handles(fig: go.Figure, order: list[int], start: int) -> None:
    """A column of markers left of the map, one per neuron row, to click (heatmap cells fire no
    selection in Plotly): ``customdata`` is the neuron. They sit on a numeric twin of the
    category axis, at each row's position, which the sort menu updates."""
    steps = np.asarray(fig.data[0].x, dtype=np.float64)
    span = float(steps[-1] - steps[0]) if steps.size > 1 else 1.0
    left = float(steps[0]) - max(1.0, 0.02 * span)
    neurons = sorted(order)
    fig.add_trace(go.Scatter(
        x=np.full(len(neurons), left), y=_row_positions(order), customdata=np.asarray(neurons),
        yaxis="y2", mode="markers", name="open a neuron", showlegend=False,
        marker={"symbol": "triangle-right", "size": 8, "color": "#555555"},
        hovertemplate="neuron %{customdata}: click to open it<extra></extra>"))
    rows = [-0.5, len(neurons) - 0.5]
    fig.update_xaxes(range=[left - max(0.5, 0.01 * span), float(steps[-1]) + 0.5])
    # rows tall enough to aim at: 8 px each, within a height a page can hold
    # the rows zoom with neither axis (a zoom of one would leave the handles behind): time does
    fig.update_layout(yaxis={"range": rows, "fixedrange": True}, dragmode="zoom",
                      clickmode="event+select",
                      yaxis2={"overlaying": "y", "range": rows, "visible": False,
                              "fixedrange": True},
                      height=int(np.clip(200 + ROW_PIXELS * len(neurons), 450, 1200)))


def _edges(values: list[np.ndarray], log: bool) -> tuple[float, float]:
    """Where to draw values a plot cannot place: just outside the range of all usable ones."""
    pooled = np.concatenate([v.reshape(-1) for v in values])
    seen = pooled[np.isfinite(pooled) & ((pooled > 0) | (not log))]
    if not seen.size:
        return (0.1, 10.0) if log else (-1.0, 1.0)
    if log:
        return float(seen.min()) / 2, float(seen.max()) * 2
    span = float(np.ptp(seen)) or 1.0
    return float(seen.min()) - 0.1 * span, float(seen.max()) + 0.1 * span


def _capped(values: np.ndarray, log: bool,
            edges: tuple[float, float]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Values a plot can place (±inf, and ``≤ 0`` on a log axis, moved to ``edges``), which
    ones were moved, and a hover note for each."""
    moved = ~np.isnan(values) & ~(np.isfinite(values) & ((values > 0) | (not log)))
    placed = np.where(moved, np.where(values > 0, edges[1], edges[0]), values)
    notes = [f"true value {v:g}" if m else "" for v, m in zip(values.tolist(), moved)]
    return placed, moved, notes


def neuron_scatter(x: ArrayLike | Mapping[str, ArrayLike],
                   y: ArrayLike | Mapping[str, ArrayLike], *, x_title: str = "u",
                   y_title: str = "τ (steps)", title: str = "Neurons", log_x: bool = False,
                   log_y: bool = False,
                   hover: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
                   highlight: tuple[str, int] | int | None = None) -> go.Figure:
    """One point per neuron (x = u, y = memory, activity, impact…), selectable in Streamlit.

    Parameters
    ----------
    x, y : array-like or mapping of layer name to array-like
        ``(N,)`` per layer; a mapping gives one trace (colour) per layer, same keys in both.
    x_title, y_title, title : str
    log_x, log_y : bool
        Log axes. Infinite values (τ of ``|u| ≥ 1``) and, on a log axis, values ``≤ 0`` are
        drawn at the edge as triangles, their true value in the hover.
    hover : sequence of str or mapping of layer name to sequence of str, optional
        Extra hover line per neuron (e.g. its flags); a sequence is the first layer's.
    highlight : int or (layer, int), optional
        A neuron to ring (the first layer's when given as an int).

    Returns
    -------
    plotly.graph_objects.Figure
        ``Scatter`` traces in markers mode; ``customdata`` holds each point's neuron index and
        the trace ``name`` its layer.
    """
    xs, ys = by_name(x, "neurons"), by_name(y, "neurons")
    if set(xs) != set(ys):
        raise ValueError(f"x and y name different layers: {sorted(xs)} vs {sorted(ys)}")
    extras = by_name(hover, next(iter(xs))) if hover is not None else {}
    xs = {layer: to_numpy(v, np.float64).reshape(-1) for layer, v in xs.items()}
    ys = {layer: to_numpy(ys[layer], np.float64).reshape(-1) for layer in xs}
    x_edges, y_edges = _edges(list(xs.values()), log_x), _edges(list(ys.values()), log_y)
    fig = go.Figure()
    for number, layer in enumerate(xs):
        if xs[layer].shape != ys[layer].shape:
            raise ValueError(f"{layer}: x has {xs[layer].size} values, y {ys[layer].size}")
        xv, x_moved, x_notes = _capped(xs[layer], log_x, x_edges)
        yv, y_moved, y_notes = _capped(ys[layer], log_y, y_edges)
        extra = list(extras.get(layer, [""] * xv.size))
        text = [" ".join(filter(None, parts)) for parts in zip(x_notes, y_notes, extra)]
        moved = x_moved | y_moved
        fig.add_trace(go.Scatter(
            x=compact(xv), y=compact(yv), mode="markers", name=layer,
            customdata=np.arange(xv.size), text=text if any(text) else None,
            marker={"size": 7, "opacity": 0.8, "color": OKABE_ITO[number % len(OKABE_ITO)],
                    "symbol": np.where(moved, "triangle-up", "circle").tolist()
                    if moved.any() else "circle"},
            hovertemplate=(f"{layer} neuron %{{customdata}}<br>{x_title} %{{x:.4g}}<br>"
                           f"{y_title} %{{y:.4g}}" + ("<br>%{text}" if any(text) else "")
                           + "<extra></extra>")))
    if highlight is not None:
        layer, neuron = (next(iter(xs)), highlight) if isinstance(highlight, int) else highlight
        trace = next(t for t in fig.data if t.name == layer)
        fig.add_trace(go.Scatter(
            x=[trace.x[neuron]], y=[trace.y[neuron]], customdata=[neuron], mode="markers",
            name=f"{layer} neuron {neuron}", hoverinfo="skip",
            marker={"size": 16, "color": "rgba(0,0,0,0)", "line": {"width": 2,
                                                                    "color": "black"}}))
    # Streamlit lets a click select a point only outside the select and lasso drag modes.
    fig.update_layout(dragmode="zoom", clickmode="event+select")
    if log_x:
        fig.update_xaxes(type="log")
    if log_y:
        fig.update_yaxes(type="log")
    return styled(fig, title, x_title, y_title)


def neuron_trace(activation: ArrayLike, preactivation: ArrayLike | None = None, *,
                 title: str = "Neuron over time", max_points: int = MAX_POINTS,
                 start: int = 0) -> go.Figure:
    """One neuron's state (and pre-activation) over time.

    Parameters
    ----------
    activation : array-like
        ``(T,)`` ``h_t``.
    preactivation : array-like, optional
        ``(T,)`` ``W x_t + b + u h_{t-1}`` (IndRNN) or any second series.
    title : str
    max_points : int
        Points per line at most (min/max per bucket beyond).
    start : int
        Step number of the first value.

    Returns
    -------
    plotly.graph_objects.Figure
        One or two ``Scatter`` lines over steps.
    """
    fig = go.Figure()
    series = {"activation": activation, "pre-activation": preactivation}
    for number, (name, values) in enumerate(series.items()):
        if values is None:
            continue
        x, y = envelope(values, max_points, start)
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=name,
                                 line={"width": 1.5, "color": OKABE_ITO[number * 5],
                                       "dash": "dot" if number else "solid"}))
    fig.add_hline(y=0, line={"color": "#888888", "width": 1})
    return styled(fig, title, "step", "value")


def weight_bars(weights: ArrayLike, *, names: Sequence[str] | None = None, top_k: int = 20,
                title: str = "Input weights", x_title: str = "input",
                y_title: str = "weight") -> go.Figure:
    """The ``top_k`` largest weights by magnitude, coloured by sign.

    For a neuron's input weights (``weight_ih[n]``: channels, or neurons of the layer below)
    and its weights into the readout (``head.weight[:, n]``: one per output).

    Parameters
    ----------
    weights : array-like
        ``(K,)``.
    names : sequence of str, optional
        A label per weight (``"x0"``, ``"l0 n12"``, class names); the index by default.
    top_k : int
        Bars at most, largest ``|w|`` first.
    title, x_title, y_title : str

    Returns
    -------
    plotly.graph_objects.Figure
        One ``Bar``; ``customdata`` holds each bar's index into ``weights``.
    """
    w = to_numpy(weights, np.float64).reshape(-1)
    labels = [str(i) for i in range(w.size)] if names is None else list(names)
    if len(labels) != w.size:
        raise ValueError(f"{len(labels)} names for {w.size} weights")
    keep = np.argsort(-np.nan_to_num(np.abs(w)), kind="stable")[:top_k]
    colours = np.where(w[keep] < 0, "#2166ac", "#b2182b").tolist()
    fig = go.Figure(go.Bar(
        x=[labels[i] for i in keep], y=compact(w[keep]), customdata=keep,
        marker={"color": colours}, hovertemplate="%{x}: %{y:.4g}<extra></extra>"))
    fig.update_xaxes(type="category")
    shown = f" (top {len(keep)} of {w.size} by |w|)" if len(keep) < w.size else ""
    return styled(fig, title + shown, x_title, y_title)
