"""The patching view: outputs of the base input, the source input and the patched run, and the
patched neurons' states on each."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from indrnn.arrays import to_numpy
from indrnn.figures.common import MAX_POINTS, OKABE_ITO, ArrayLike, compact, envelope, styled

#: How each run is drawn: the base as it ran, the source it borrows from, the patched run.
RUNS = {"base": {"color": OKABE_ITO[0]}, "source": {"color": OKABE_ITO[1]},
        "patched": {"color": OKABE_ITO[5]}}
#: Neurons drawn at most in the state figure (the rest are named in its title).
MAX_TRACED = 6


def patch_bars(base: ArrayLike, source: ArrayLike, patched: ArrayLike, *,
               names: Sequence[str] | None = None, top_k: int | None = None,
               y_title: str = "output", title: str = "Output: base, source and patched"
               ) -> go.Figure:
    """Each output on the base input, on the source input, and on the base input patched.

    ``top_k`` keeps the outputs on which base and source differ most (a 98-way readout).
    Returns three ``Bar`` traces named ``base``, ``source`` and ``patched``.
    """
    series = {name: to_numpy(values, np.float64).reshape(-1)
              for name, values in (("base", base), ("source", source), ("patched", patched))}
    sizes = {values.size for values in series.values()}
    if len(sizes) != 1:
        raise ValueError(f"base, source and patched must have as many outputs, got {sizes}")
    count = sizes.pop()
    labels = [str(i) for i in range(count)] if names is None else list(names)
    keep = np.arange(count)
    if top_k is not None:
        gap = np.abs(series["source"] - series["base"]) + np.abs(series["patched"] -
                                                                 series["base"])
        keep = np.sort(np.argsort(-gap, kind="stable")[:top_k])
    fig = go.Figure()
    for name, values in series.items():
        fig.add_trace(go.Bar(x=[labels[i] for i in keep], y=compact(values[keep]), name=name,
                             marker=RUNS[name], customdata=keep,
                             hovertemplate="%{x}: %{y:.4g}<extra>" + name + "</extra>"))
    fig.update_layout(barmode="group")
    fig.update_xaxes(type="category")
    return styled(fig, title, "output", y_title)


def patch_states(base: ArrayLike, source: ArrayLike, patched: ArrayLike,
                 neurons: Sequence[int], *, window: tuple[int, int] | None = None,
                 max_points: int = MAX_POINTS, title: str | None = None) -> go.Figure:
    """The patched neurons' states over time on the three runs, the patched steps shaded.

    ``base``, ``source``, ``patched`` are ``(T, len(neurons))``; the first :data:`MAX_TRACED`
    neurons are drawn, each in one colour, the runs as line styles (base dotted, source dashed,
    patched solid).
    """
    runs = {name: to_numpy(values, np.float64) for name, values in
            (("base", base), ("source", source), ("patched", patched))}
    shapes = {values.shape for values in runs.values()}
    if len(shapes) != 1 or len(shapes.pop()) != 2:
        raise ValueError("base, source and patched must be (T, neurons) of one shape")
    dashes = {"base": "dot", "source": "dash", "patched": "solid"}
    fig = go.Figure()
    shown = list(neurons)[:MAX_TRACED]
    for column, neuron in enumerate(shown):
        colour = OKABE_ITO[column % len(OKABE_ITO)]
        for name, values in runs.items():
            x, y = envelope(values[:, column], max_points)
            fig.add_trace(go.Scatter(
                x=x, y=y, mode="lines", name=f"{neuron}: {name}", legendgroup=str(neuron),
                line={"color": colour, "dash": dashes[name],
                      "width": 2.2 if name == "patched" else 1.3}))
    if window is not None:
        fig.add_vrect(x0=window[0], x1=window[1] - 1, fillcolor="#999999", opacity=0.15,
                      line_width=0, annotation_text="patched", annotation_position="top left")
    more = len(neurons) - len(shown)
    title = title or ("Patched neurons' states: base (dotted), source (dashed), patched (solid)"
                      + (f"; {more} more not drawn" if more > 0 else ""))
    return styled(fig, title, "step", "state h")
