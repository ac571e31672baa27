"""The ablation view: the output with and without the ablated neurons, and neurons ranked by
what ablating each alone does."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from indrnn.arrays import to_numpy
from indrnn.figures.common import (
    MAX_POINTS,
    OKABE_ITO,
    ArrayLike,
    compact,
    envelope,
    styled,
)


def ablation_bars(original: ArrayLike, ablated: ArrayLike, *,
                  names: Sequence[str] | None = None, top_k: int | None = None,
                  y_title: str = "output", title: str = "Output, original vs ablated"
                  ) -> go.Figure:
    """The model's final output(s) before and after an ablation, side by side.

    Parameters
    ----------
    original, ablated : array-like
        ``(K,)`` outputs of one input (probabilities, logits or values), e.g. rows of
        :class:`indrnn.analysis.ablation.AblationComparison`.
    names : sequence of str, optional
        Output labels (the index by default).
    top_k : int, optional
        Only the ``k`` outputs that changed most.
    y_title, title : str

    Returns
    -------
    plotly.graph_objects.Figure
        Two ``Bar`` traces, "original" and "ablated"; ``customdata`` = output index.
    """
    before = to_numpy(original, np.float64).reshape(-1)
    after = to_numpy(ablated, np.float64).reshape(-1)
    if before.shape != after.shape:
        raise ValueError(f"original has {before.size} outputs, ablated {after.size}")
    labels = [str(i) for i in range(before.size)] if names is None else list(names)
    keep = np.arange(before.size)
    if top_k is not None:
        keep = np.sort(np.argsort(-np.abs(after - before), kind="stable")[:top_k])
    fig = go.Figure()
    for number, (name, values) in enumerate((("original", before), ("ablated", after))):
        fig.add_trace(go.Bar(x=[labels[i] for i in keep], y=compact(values[keep]), name=name,
                             customdata=keep, marker={"color": OKABE_ITO[number * 5]},
                             hovertemplate="%{x}: %{y:.4g}<extra>" + name + "</extra>"))
    fig.update_layout(barmode="group")
    fig.update_xaxes(type="category")
    return styled(fig, title, "output", y_title)


def ablation_over_time(original: ArrayLike, ablated: ArrayLike, *, difference: bool = True,
                       max_points: int = MAX_POINTS, start: int = 0, y_title: str = "output",
                       title: str = "Output over time, original vs ablated",
                       names: tuple[str, str] = ("original", "ablated")) -> go.Figure:
    """A per-step output (``readout="every"``: e.g. the probability of the true next character,
    or the loss per step) before and after an ablation.

    Parameters
    ----------
    original, ablated : array-like
        ``(T,)`` each.
    difference : bool
        Also draw ``ablated - original``.
    max_points : int
        Points per line at most.
    start : int
        Step number of the first value.
    y_title, title : str
    names : (str, str)
        The two lines' names.

    Returns
    -------
    plotly.graph_objects.Figure
        ``Scatter`` lines named ``names`` (and "difference").
    """
    before = to_numpy(original, np.float64).reshape(-1)
    after = to_numpy(ablated, np.float64).reshape(-1)
    if before.shape != after.shape:
        raise ValueError(f"original has {before.size} steps, ablated {after.size}")
    series = {names[0]: before, names[1]: after}
    if difference:
        series["difference"] = after - before
    styles = {names[0]: {"color": OKABE_ITO[0]}, names[1]: {"color": OKABE_ITO[5]},
              "difference": {"color": "#777777", "dash": "dot"}}
    fig = go.Figure()
    for name, values in series.items():
        x, y = envelope(values, max_points, start)
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=name,
                                 line={"width": 1.5, **styles[name]}))
    return styled(fig, title, "step", y_title)


def impact_bars(impact: Any, *, top_k: int = 30, y_title: str | None = None,
                title: str | None = None) -> go.Figure:
    """Neurons ranked by the impact of ablating each alone.

    Parameters
    ----------
    impact : NeuronImpact or (neurons, impact)
        From :func:`indrnn.analysis.rank_neurons` (already ranked), or two ``(M,)`` arrays.
    top_k : int
        Bars at most (the largest impacts).
    y_title, title : str, optional
        Defaults name the layer, mode and measure when ``impact`` is a ``NeuronImpact``.

    Returns
    -------
    plotly.graph_objects.Figure
        One ``Bar``, x the neurons in ranked order; ``customdata`` = neuron index.
    """
    if hasattr(impact, "neurons"):
        neurons, values = impact.neurons, impact.impact
        layer, mode = impact.layer, impact.mode
    else:
        (neurons, values), layer, mode = impact, None, None
    neurons, values = to_numpy(neurons, int).reshape(-1), to_numpy(values, np.float64).reshape(-1)
    order = np.argsort(-np.nan_to_num(values, nan=-np.inf), kind="stable")[:top_k]
    fig = go.Figure(go.Bar(
        x=[f"n{n}" for n in neurons[order]], y=compact(values[order]),
        customdata=neurons[order], marker={"color": OKABE_ITO[0]},
        hovertemplate="neuron %{customdata}: %{y:.4g}<extra></extra>"))
    fig.update_xaxes(type="category")
    default = "Ablation impact" + (f", {layer} ({mode})" if layer else "")
    return styled(fig, title or default, "neuron (ranked)", y_title or "impact")
