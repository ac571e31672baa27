"""One neuron laid over the input: text coloured by it (Karpathy et al. 2015, LSTMVis), its
activation over a pixel image, and the places across the data where it fires most."""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale, unlabel_rgb
from plotly.subplots import make_subplots

from indrnn.analysis.patterns import Firing
from indrnn.arrays import to_numpy
from indrnn.data.text import visible
from indrnn.figures.common import (
    DIVERGING,
    OKABE_ITO,
    SEQUENTIAL,
    ArrayLike,
    compact,
    finite_range,
    styled,
)


def _palette(colorscale: str, levels: int) -> tuple[list[str], list[str]]:
    """``levels`` background colours as hex, and a readable text colour for each."""
    backgrounds, texts = [], []
    for colour in sample_colorscale(colorscale, list(np.linspace(0, 1, levels))):
        r, g, b = (round(float(c)) for c in unlabel_rgb(colour))
        backgrounds.append(f"#{r:02x}{g:02x}{b:02x}")
        texts.append("#000000" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "#ffffff")
    return backgrounds, texts


def text_html(text: str, values: ArrayLike, *, signed: bool | None = None,
              low: float | None = None, high: float | None = None, levels: int = 64,
              tooltips: bool = True, legend: bool = True, font_size: int = 14) -> str:
    """The text with each character's background coloured by a neuron's value at that step.

    Parameters
    ----------
    text : str
        The characters the model read, one per step.
    values : array-like
        ``(len(text),)`` the neuron's state at each step; NaN leaves a character uncoloured.
    signed : bool, optional
        Diverging blue–white–red around 0 (tanh neurons, gradients) or viridis from ``low`` to
        ``high``; read off the values when ``None``.
    low, high : float, optional
        Colour range (the values' range, symmetric when signed, by default).
    levels : int
        Colours on the scale.
    tooltips : bool
        Each character's value as its hover title.
    legend : bool
        A colour bar with the range above the text.
    font_size : int
        In pixels.

    Returns
    -------
    str
        HTML (for ``st.html``): one ``<span>`` per character, every character escaped with
        :func:`html.escape`; whitespace and line breaks kept (``white-space: pre-wrap``).
    """
    v = to_numpy(values, np.float64).reshape(-1)
    if v.size != len(text):
        raise ValueError(f"{v.size} values for {len(text)} characters")
    auto_low, auto_high, signed = finite_range(v, signed)
    low = auto_low if low is None else low
    high = auto_high if high is None else high
    backgrounds, colours = _palette(DIVERGING if signed else SEQUENTIAL, levels)
    with np.errstate(invalid="ignore"):
        level = np.clip((v - low) / ((high - low) or 1.0), 0, 1) * (levels - 1)
    spans = []
    for ch, value, index in zip(text, v.tolist(), level.tolist()):
        tip = f' title="{value:.3g}"' if tooltips else ""
        if np.isnan(value):
            style = ""
        else:
            k = round(index)
            style = f' style="background:{backgrounds[k]};color:{colours[k]}"'
        spans.append(f"<span{style}{tip}>{html.escape(ch)}</span>")
    head = ""
    if legend:
        gradient = ",".join(backgrounds[:: max(1, levels // 8)] + backgrounds[-1:])
        head = (f'<div style="display:flex;gap:6px;align-items:center;font-size:12px">'
                f"{low:.3g}<div style=\"width:160px;height:10px;"
                f'background:linear-gradient(to right,{gradient})"></div>{high:.3g}</div>')
    body = (f'<div style="font-family:monospace;font-size:{int(font_size)}px;line-height:1.5;'
            f'white-space:pre-wrap;word-break:break-all">{"".join(spans)}</div>')
    return head + body


def _image(values: ArrayLike, shape: tuple[int, int],
           permutation: ArrayLike | None) -> np.ndarray:
    """Step-ordered values back on the image grid (NaN where no step reached yet); step ``t``
    is pixel ``permutation[t]`` (pixel ``t`` without one)."""
    flat = np.full(shape[0] * shape[1], np.nan)
    order = (np.arange(flat.size) if permutation is None
             else to_numpy(permutation, int).reshape(-1))
    v = to_numpy(values, np.float64).reshape(-1)[: flat.size]
    flat[order[: v.size]] = v
    return flat.reshape(shape)


def pixel_overlay(pixels: ArrayLike, activation: ArrayLike, *, shape: tuple[int, int] = (28, 28),
                  permutation: ArrayLike | None = None, signed: bool | None = None,
                  title: str = "Neuron over the image") -> go.Figure:
    """A pixel-by-pixel model's input image beside one neuron's activation at each pixel.

    Parameters
    ----------
    pixels : array-like
        ``(T,)`` (or ``(T, 1)``) the input in step order.
    activation : array-like
        ``(T,)`` the neuron's state at each step (may be shorter than the image).
    shape : (int, int)
        Image height and width, ``H·W = T``.
    permutation : array-like, optional
        Pixel index of each step (permuted MNIST); step ``t`` is pixel ``t`` by default.
    signed : bool, optional
        Diverging colours for signed activations; read off the data when ``None``.
    title : str

    Returns
    -------
    plotly.graph_objects.Figure
        Two ``Heatmap`` panels (image, activation) and a third with the activation over the
        image; rows top to bottom, square pixels.
    """
    image, act = _image(pixels, shape, permutation), _image(activation, shape, permutation)
    low, high, signed = finite_range(act, signed)
    scale = DIVERGING if signed else SEQUENTIAL
    fig = make_subplots(1, 3, subplot_titles=("input", "activation", "activation over input"),
                        horizontal_spacing=0.06)
    grey = {"colorscale": "Greys", "showscale": False,
            "hovertemplate": "row %{y}, col %{x}<br>pixel %{z:.3g}<extra></extra>"}
    heat = {"zmin": low, "zmax": high, "colorscale": scale, "colorbar": {"title": "activation"},
            "hovertemplate": "row %{y}, col %{x}<br>activation %{z:.4g}<extra></extra>"}
    fig.add_trace(go.Heatmap(z=compact(image), **grey), 1, 1)
    fig.add_trace(go.Heatmap(z=compact(act), **heat), 1, 2)
    fig.add_trace(go.Heatmap(z=compact(image), **grey), 1, 3)
    fig.add_trace(go.Heatmap(z=compact(act), opacity=0.55, showscale=False,
                             **{k: v for k, v in heat.items() if k != "colorbar"}), 1, 3)
    for col in (1, 2, 3):
        fig.update_yaxes(autorange="reversed", scaleanchor=f"x{'' if col == 1 else col}",
                         showgrid=False, row=1, col=col)
        fig.update_xaxes(showgrid=False, row=1, col=col)
    styled(fig, title, None, None, height=340)
    fig.update_xaxes(title_text="column (pixels)")
    fig.update_yaxes(title_text="row (pixels)", row=1, col=1)
    return fig


def _window_text(text: str | Sequence[str] | None, firing: Firing) -> str:
    """A firing's context: its characters with the firing one in brackets, or its steps."""
    if text is None:
        return f"steps {firing.start}–{firing.end - 1}"
    source = text if isinstance(text, str) else text[firing.sequence]
    return (visible(source[firing.start : firing.step]) + "["
            + visible(source[firing.step], spaces=True) + "]"
            + visible(source[firing.step + 1 : firing.end]))


def firings_table(firings: Sequence[Firing], text: str | Sequence[str] | None = None,
                  sequence_ids: Sequence[int] | None = None) -> list[dict[str, object]]:
    """The top firings of a neuron (:func:`indrnn.analysis.top_activations`) as table rows.

    Parameters
    ----------
    firings : sequence of Firing
    text : str or sequence of str, optional
        The characters of the sequence (or of each sequence): the context column shows the
        window with the firing character in brackets, whitespace shown (⏎, ⇥, ␣).
    sequence_ids : sequence of int, optional
        What to call each sequence (e.g. :attr:`indrnn.run.Run.source_indices`, its index in the
        test split); its position in the batch by default.

    Returns
    -------
    list of dict
        ``rank``, ``sequence``, ``step``, ``value`` (4 significant digits) and ``context``.
    """
    return [{"rank": rank,
             "sequence": f.sequence if sequence_ids is None else int(sequence_ids[f.sequence]),
             "step": f.step, "value": float(f"{f.value:.4g}"), "context": _window_text(text, f)}
            for rank, f in enumerate(firings, 1)]


def firing_windows(traces: ArrayLike | Sequence[ArrayLike], firings: Sequence[Firing], *,
                   text: str | Sequence[str] | None = None, columns: int = 3, limit: int = 12,
                   title: str = "Where the neuron fires most") -> go.Figure:
    """Small multiples: the neuron's value around each top firing.

    Parameters
    ----------
    traces : array-like or sequence of array-like
        The neuron's state per sequence: ``(T, B)`` or one ``(T_i,)`` per sequence.
    firings : sequence of Firing
        From :func:`indrnn.analysis.top_activations` (windows ``[start, end)``).
    text : str or sequence of str, optional
        Characters, shown as the x tick labels of each window.
    columns, limit : int
        Panels per row; panels at most.
    title : str

    Returns
    -------
    plotly.graph_objects.Figure
        One ``Scatter`` (lines and markers) per firing, the firing step marked.
    """
    if isinstance(traces, Sequence):
        series = [to_numpy(t, np.float64).reshape(-1) for t in traces]
    else:
        matrix = to_numpy(traces, np.float64)
        series = [matrix[:, b] for b in range(matrix.shape[1])] if matrix.ndim == 2 else [matrix]
    shown = list(firings)[:limit]
    rows = max(1, -(-len(shown) // columns))
    fig = make_subplots(rows, columns, vertical_spacing=min(0.12, 0.5 / rows),
                        subplot_titles=[f"seq {f.sequence}, step {f.step}" for f in shown])
    for index, f in enumerate(shown):
        row, col = index // columns + 1, index % columns + 1
        steps = np.arange(f.start, f.end)
        colours = np.where(steps == f.step, OKABE_ITO[5], OKABE_ITO[0]).tolist()
        fig.add_trace(go.Scatter(x=steps, y=compact(series[f.sequence][f.start : f.end]),
                                 mode="lines+markers", showlegend=False,
                                 line={"color": OKABE_ITO[0]}, marker={"color": colours}),
                      row, col)
        if text is not None:
            source = text if isinstance(text, str) else text[f.sequence]
            labels = [visible(c, spaces=True) for c in source[f.start : f.end]]
            fig.update_xaxes(tickvals=steps.tolist(), ticktext=labels, row=row, col=col)
    styled(fig, title, None, None, height=max(260, 200 * rows))
    fig.update_xaxes(title_text="step")
    fig.update_yaxes(title_text="value", col=1)
    return fig


def pixel_image(pixels: ArrayLike, *, shape: tuple[int, int] = (28, 28),
                permutation: ArrayLike | None = None, title: str = "The input") -> go.Figure:
    """A pixel-by-pixel model's input back on its image grid (permuted orders undone).

    Parameters
    ----------
    pixels : array-like
        ``(T,)`` (or ``(T, 1)``) the input in step order.
    shape : (int, int)
        Image height and width.
    permutation : array-like, optional
        Pixel index of each step (permuted MNIST).
    title : str

    Returns
    -------
    plotly.graph_objects.Figure
        One grey ``Heatmap``, rows top to bottom, square pixels.
    """
    fig = go.Figure(go.Heatmap(z=compact(_image(pixels, shape, permutation)), colorscale="Greys",
                               reversescale=True, showscale=False,
                               hovertemplate="row %{y}, col %{x}<br>pixel %{z:.3g}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", scaleanchor="x", showgrid=False, constrain="domain")
    fig.update_xaxes(showgrid=False, constrain="domain")
    return styled(fig, title, "column (pixels)", "row (pixels)", height=340)
