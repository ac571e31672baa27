"""The overview: how busy each layer is, and what the model (or both models) predicted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from indrnn.arrays import to_numpy
from indrnn.figures.common import (
    OKABE_ITO,
    ArrayLike,
    by_name,
    compact,
    envelope,
    series_colours,
    styled,
)

ACTIVITY_PANELS = (("mean_activation", "mean activation"),
                   ("layer_fraction_active", "fraction active"),
                   ("fraction_dead", "fraction dead"))


def layer_activity_bars(summaries: Mapping[str, Any], *,
                        title: str = "Layer activity") -> go.Figure:
    """Mean activation, fraction of active states and fraction of dead neurons per layer.

    Parameters
    ----------
    summaries : mapping of layer name to LayerActivity
        From :func:`indrnn.analysis.activity_summaries`.
    title : str

    Returns
    -------
    plotly.graph_objects.Figure
        Three panels of ``Bar`` traces, x the layers.
    """
    fig = make_subplots(1, len(ACTIVITY_PANELS), horizontal_spacing=0.08,
                        subplot_titles=[label for _, label in ACTIVITY_PANELS])
    names = list(summaries)
    for col, (field, label) in enumerate(ACTIVITY_PANELS, 1):
        values = [float(getattr(summaries[name], field)) for name in names]
        fig.add_trace(go.Bar(x=names, y=compact(values), name=label, showlegend=False,
                             marker={"color": OKABE_ITO[col - 1]},
                             hovertemplate="%{x}: %{y:.4g}<extra>" + label + "</extra>"),
                      1, col)
        fig.update_xaxes(type="category", title_text="layer", row=1, col=col)
        if field != "mean_activation":
            fig.update_yaxes(range=[0, 1], row=1, col=col)
    styled(fig, title, None, None)
    fig.update_yaxes(title_text="mean state", row=1, col=1)
    fig.update_yaxes(title_text="fraction", row=1, col=2)
    return fig


def _softmax(values: np.ndarray) -> np.ndarray:
    """Probabilities from logits."""
    shifted = np.exp(values - values.max())
    return shifted / shifted.sum()


def prediction_bars(outputs: ArrayLike | Mapping[str, ArrayLike], *,
                    class_names: Sequence[str] | None = None, target: int | None = None,
                    top_k: int | None = None, softmax: bool = False,
                    title: str = "Prediction") -> go.Figure:
    """Class probabilities of one input, one group of bars per class, one colour per model.

    Parameters
    ----------
    outputs : array-like or mapping of model name to array-like
        ``(C,)`` probabilities (or logits with ``softmax=True``); a mapping puts models side by
        side (``{"IndRNN": p, "LSTM": q}``).
    class_names : sequence of str, optional
        ``C`` labels (characters for a language model); the index by default.
    target : int, optional
        The true class: its label is marked ``✓``.
    top_k : int, optional
        Only the ``k`` classes with the highest probability in any model.
    softmax : bool
        Turn logits into probabilities first.
    title : str

    Returns
    -------
    plotly.graph_objects.Figure
        One ``Bar`` per model, x the classes.
    """
    models = {n: to_numpy(v, np.float64).reshape(-1)
              for n, v in by_name(outputs, "prediction").items()}
    if softmax:
        models = {n: _softmax(v) for n, v in models.items()}
    size = next(iter(models.values())).size
    labels = [str(i) for i in range(size)] if class_names is None else list(class_names)
    if len(labels) != size or any(v.size != size for v in models.values()):
        raise ValueError(f"every output needs {len(labels)} classes")
    best = np.max(np.stack(list(models.values())), 0)
    keep = np.arange(size) if top_k is None else np.sort(np.argsort(-best, kind="stable")[:top_k])
    if top_k is not None and target is not None and target not in keep:
        keep = np.sort(np.append(keep, target))
    shown = [repr(str(labels[i]))[1:-1] + (" ✓" if i == target else "") for i in keep]
    colours = series_colours(list(models))
    fig = go.Figure()
    for name, probs in models.items():
        fig.add_trace(go.Bar(x=shown, y=compact(probs[keep]), name=name,
                             marker={"color": colours[name]}, customdata=keep,
                             hovertemplate="class %{x}: %{y:.3f}<extra>" + name + "</extra>"))
    fig.update_layout(barmode="group", showlegend=len(models) > 1)
    fig.update_xaxes(type="category")
    fig.update_yaxes(range=[0, 1])
    return styled(fig, title, "class", "probability")


def regression_bars(predictions: float | ArrayLike | Mapping[str, float | ArrayLike], *,
                    target: float | ArrayLike | None = None,
                    output_names: Sequence[str] | None = None,
                    title: str = "Prediction") -> go.Figure:
    """Predicted value(s) of one input against the target, one colour per model.

    Parameters
    ----------
    predictions : float, array-like or mapping of model name to either
        One value per output (the adding problem has one).
    target : float or array-like, optional
        The true value(s), drawn as grey bars.
    output_names : sequence of str, optional
        Labels of the outputs (``"output 0"``… by default).
    title : str

    Returns
    -------
    plotly.graph_objects.Figure
        One ``Bar`` per model (and one for the target), x the outputs.
    """
    models = {n: to_numpy(v, np.float64).reshape(-1)
              for n, v in by_name(predictions, "prediction").items()}
    size = next(iter(models.values())).size
    names = [f"output {i}" for i in range(size)] if output_names is None else list(output_names)
    colours = series_colours(list(models))
    fig = go.Figure()
    for name, values in models.items():
        fig.add_trace(go.Bar(x=names, y=compact(values), name=name,
                             texttemplate="%{y:.4g}", marker={"color": colours[name]}))
    if target is not None:
        fig.add_trace(go.Bar(x=names, y=compact(to_numpy(target, np.float64).reshape(-1)),
                             name="target", texttemplate="%{y:.4g}", marker={"color": "#999999"}))
    fig.update_layout(barmode="group")
    fig.update_xaxes(type="category")
    return styled(fig, title, "output", "value")


def input_series(values: ArrayLike, *, names: Sequence[str] | None = None,
                 events: Sequence[tuple[int, str]] = (), title: str = "The input") -> go.Figure:
    """The input itself: one line per channel over time, the task's events marked.

    Parameters
    ----------
    values : array-like
        ``(T, C)`` one sequence's valid steps.
    names : sequence of str, optional
        One name per channel (the model's channel names); ``channel k`` otherwise.
    events : sequence of (int, str)
        Steps to mark with a dotted line and a label (the adding problem's markers).
    title : str

    Returns
    -------
    plotly.graph_objects.Figure
        One ``Scatter`` per channel (long inputs as a min/max envelope), a ``Scatter`` of the
        events' labels, and a vertical line per event.
    """
    v = to_numpy(values, np.float64)
    v = v.reshape(len(v), -1)
    names = list(names) if names is not None and len(names) == v.shape[1] else [
        f"channel {c}" for c in range(v.shape[1])]
    colours = series_colours(names)
    fig = go.Figure()
    for c, name in enumerate(names):
        x, y = envelope(v[:, c])
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=name,
                                 line={"width": 1.2, "color": colours[name]},
                                 hovertemplate=f"{name}<br>step %{{x}}: %{{y:.4g}}<extra></extra>"))
    if events:
        top = float(np.nanmax(v)) if v.size and np.isfinite(v).any() else 1.0
        for step, _ in events:
            fig.add_vline(x=step, line={"color": "#D55E00", "dash": "dot", "width": 1.5})
        fig.add_trace(go.Scatter(
            x=[s for s, _ in events], y=[top] * len(events), mode="markers+text",
            text=[label for _, label in events], textposition="top center", name="events",
            marker={"symbol": "triangle-down", "size": 10, "color": "#D55E00"},
            hovertemplate="step %{x}: %{text}<extra></extra>"))
    return styled(fig, title, "step", "value")
