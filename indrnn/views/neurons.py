"""The Neurons page's views: a layer's neurons over time, sortable, and one neuron up close."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch
from torch import Tensor, nn

from indrnn.analysis import half_life, time_constant, top_activations
from indrnn.analysis.causal import GroupEffect
from indrnn.analysis.influence import readout_norms
from indrnn.analysis.locate import indrnn_layers
from indrnn.explain import EDIT_NAMES, Finding, effect_words
from indrnn.figures.neurons import neuron_scatter, neuron_trace, sortable_heatmap, weight_bars
from indrnn.figures.overlays import firing_windows, firings_table, pixel_overlay, text_html
from indrnn.objectives import Objective
from indrnn.run import Run
from indrnn.sequences import valid_steps

#: Menu label -> :func:`neuron_table` column, for the heatmap's sort menu.
SORTS = {"u": "u", "memory τ": "tau", "mean activation": "mean",
         "fraction active": "fraction_active", "weight into the readout": "readout"}


def neuron_table(model: nn.Module, run: Run, layer: str) -> dict[str, Tensor]:
    """Per-neuron facts of one recorded layer: what the neuron view sorts and plots by.

    Returns ``u``, ``tau`` and ``half_life`` (IndRNN layers; NaN for LSTM ones), ``mean`` and
    ``fraction_active`` over every valid step of every recorded sequence, and ``readout``
    (``‖head.weight[:, n]‖`` for the layer feeding the readout, else NaN).
    """
    hidden = run.layers[layer].hidden
    valid = valid_steps(run.lengths, hidden.shape[0]).unsqueeze(-1)
    count = valid.sum().clamp(min=1)
    mean = (hidden * valid).sum((0, 1)) / count
    active = ((hidden != 0) & valid).sum((0, 1)) / count
    neurons = hidden.shape[-1]
    refs = indrnn_layers(model)
    nan = torch.full((neurons,), float("nan"))
    u = refs[layer].u.detach().cpu().float() if layer in refs else nan
    readout = readout_norms(model, run, layer)
    readout = nan if readout is None else readout
    return {"u": u, "tau": time_constant(u) if layer in refs else nan,
            "half_life": half_life(u) if layer in refs else nan, "mean": mean,
            "fraction_active": active, "readout": readout}


def sort_orders(table: dict[str, Tensor], impact: list[int] | None = None) -> dict[str, list[int]]:
    """Neurons largest first by each :data:`SORTS` column (columns all NaN left out: u of an
    LSTM layer, the readout weight of a layer below the last), and by ablation ``impact``."""
    orders = {label: [int(n) for n in np.argsort(
        -np.nan_to_num(table[key].numpy(), nan=-np.inf), kind="stable")]
        for label, key in SORTS.items() if not table[key].isnan().all()}
    if impact is not None:
        orders["ablation impact"] = [int(n) for n in impact]
    return orders


#: A span of steps ``[start, end)`` of one sequence; ``None`` is the whole sequence.
Window = tuple[int, int] | None


def _span(window: Window) -> slice:
    return slice(None) if window is None else slice(*window)


def layer_heatmap(run: Run, layer: str, sequence: int, orders: dict[str, list[int]],
                  window: Window = None) -> go.Figure:
    """Neuron × time map of one sequence (of its ``window``), with the sort menu (re-sorts in
    the browser)."""
    return sortable_heatmap(run.states(layer, sequence)[_span(window)].numpy(), orders,
                            title=layer, start=0 if window is None else window[0])


def is_indrnn(run: Run, layer: str) -> bool:
    return run.layers[layer].kind == "indrnn"


#: Labels of the u axis choice: u itself, or its distance from 1 on a log axis.
U_AXES = ("u", "1 − |u| (log)")


def near_one(u: Tensor) -> bool:
    """Whether most of ``u`` sits within 0.01 of ±1, where a linear u axis squashes them."""
    finite = u[torch.isfinite(u)].abs()
    return bool(finite.numel()) and float((1 - finite).abs().median()) < 0.01


def picker_scatter(run: Run, layer: str, table: dict[str, Tensor],
                   u_axis: str = U_AXES[0]) -> go.Figure:
    """One point per neuron to click: u (or ``|1 − |u||`` on a log axis) against τ (IndRNN),
    activity otherwise."""
    if is_indrnn(run, layer) and u_axis == U_AXES[1]:
        u = table["u"]
        hover = [f"u {float(v):.6g}" + (" (|u| > 1: grows)" if abs(float(v)) > 1 else "")
                 for v in u]
        return neuron_scatter({layer: (1 - u.abs()).abs().numpy()}, {layer: table["tau"].numpy()},
                              x_title="|1 − |u||", y_title="τ (steps)", title="Click a neuron",
                              log_x=True, log_y=True, hover={layer: hover})
    if is_indrnn(run, layer):
        return neuron_scatter({layer: table["u"].numpy()}, {layer: table["tau"].numpy()},
                              x_title="u", y_title="τ (steps)", title="Click a neuron",
                              log_y=True)
    return neuron_scatter({layer: table["fraction_active"].numpy()},
                          {layer: table["mean"].numpy()}, x_title="fraction active",
                          y_title="mean activation", title="Click a neuron")


def neuron_numbers(run: Run, layer: str, table: dict[str, Tensor],
                   neuron: int) -> list[tuple[str, str]]:
    """(label, value) pairs shown above a neuron's trace: u and its memory for IndRNN neurons."""
    shown = [("mean activation", "mean"), ("fraction active", "fraction_active")]
    if is_indrnn(run, layer):
        shown = [("u", "u"), ("τ (steps)", "tau"), ("half-life (steps)", "half_life"), *shown]
    return [(label, f"{float(table[key][neuron]):.4g}") for label, key in shown]


def trace_figure(run: Run, layer: str, sequence: int, neuron: int,
                 window: Window = None) -> go.Figure:
    """The neuron's state (and pre-activation) over the sequence (over its ``window``)."""
    span = _span(window)
    states = run.states(layer, sequence)[span]
    pre = run.layers[layer].tensors.get("preactivation")
    return neuron_trace(states[:, neuron].numpy(),
                        None if pre is None else run.states(layer, sequence, "preactivation")[
                            span, neuron].numpy(),
                        title=f"Neuron {neuron} over time", start=span.start or 0)


def drive_figure(model: nn.Module, run: Run, objective: Objective, layer: str,
                 neuron: int) -> go.Figure | None:
    """The neuron's input weights, named by channel (first layer) or by neuron below; ``None``
    where the layer reads its input without a weight matrix."""
    ref = indrnn_layers(model).get(layer)
    if ref is None or ref.weight_ih is None:
        return None
    weights = ref.weight_ih[neuron].detach().cpu().numpy()
    first = layer == next(iter(run.layers))
    channels = list(objective.info.channel_names or [])
    names = (channels if first and len(channels) == len(weights)
             else [f"unit {k}" for k in range(len(weights))])
    return weight_bars(weights, names=names, title=f"What drives neuron {neuron}",
                       x_title="input" if first else "neuron below")


def readout_figure(model: nn.Module, objective: Objective, table: dict[str, Tensor],
                   neuron: int) -> go.Figure | None:
    """The neuron's weights into the readout, by output; ``None`` for a layer below the last."""
    head = getattr(model, "head", None)
    if head is None or np.isnan(float(table["readout"][neuron])):
        return None
    return weight_bars(head.weight[:, neuron].detach().cpu().numpy(),
                       names=list(objective.output_labels(head.out_features)),
                       title=f"Neuron {neuron} into the readout", x_title="output")


@dataclass(frozen=True)
class InputOverlay:
    """The input coloured by one neuron: HTML of the text, or a figure over the image."""

    html: str | None = None
    figure: go.Figure | None = None


def input_overlay(run: Run, objective: Objective, layer: str, sequence: int,
                  neuron: int, window: Window = None) -> InputOverlay | None:
    """The text coloured by the neuron (the text of the ``window``), or the image beside the
    neuron at each pixel (blank outside the ``window``); ``None`` for inputs that are
    neither."""
    values = run.states(layer, sequence)[:, neuron].numpy()
    texts = objective.texts(run.inputs[sequence: sequence + 1], run.lengths[sequence:
                                                                            sequence + 1])
    span = _span(window)
    if texts is not None:
        return InputOverlay(html=text_html(texts[0][span], values[span]))
    shape = objective.info.image_shape
    if shape is not None and len(values) == shape[0] * shape[1]:
        if window is not None:
            values = np.where((np.arange(len(values)) >= window[0]) &
                              (np.arange(len(values)) < window[1]), values, np.nan)
        return InputOverlay(figure=pixel_overlay(
            run.inputs[sequence, :, 0].numpy(), values, shape=shape,
            permutation=objective.task.extras.get("permutation")))
    return None


@dataclass(frozen=True)
class Firings:
    """Where a neuron fires most across held-out data: table rows, a caption, small multiples."""

    rows: list[dict[str, object]]
    caption: str | None
    figure: go.Figure


def top_firings(held_out: Run, objective: Objective, layer: str, neuron: int,
                k: int = 12) -> Firings | None:
    """The neuron's ``k`` highest steps across the held-out run; ``None`` if it lacks the layer."""
    if layer not in held_out.layers:
        return None
    hidden = held_out.layers[layer].hidden
    context = 10
    # Windows apart (one burst fills one row, not twelve), and only where the neuron is on.
    found = [f for f in top_activations(hidden, neuron, k=k, context=context,
                                        separation=2 * context, lengths=held_out.lengths)
             if f.value > 0]
    texts = objective.texts(held_out.inputs, held_out.lengths)
    caption = None
    if held_out.source_indices is not None:
        caption = (f"sequence: its index in the test split ({len(held_out.lengths)} held-out "
                   "sequences spread over it).")
    if not found:
        caption = (f"Neuron {neuron} is 0 at every step of the {len(held_out.lengths)} "
                   "held-out sequences: it never fires there.")
    traces = [hidden[: int(n), b, neuron].numpy() for b, n in enumerate(held_out.lengths)]
    return Firings(firings_table(found, texts, held_out.source_indices), caption,
                   firing_windows(traces, found, text=texts))


def findings_naming(findings: Sequence[Finding], layer: str, neuron: int) -> list[Finding]:
    """The findings (:mod:`indrnn.explain`) that name ``neuron`` of ``layer``."""
    return [f for f in findings if f.layer == layer and neuron in f.neurons]


def effect_lines(effects: Sequence[GroupEffect]) -> list[str]:
    """One line per edit of :func:`indrnn.explain.measured_effects`: "Silenced (h = 0): takes
    the test MSE from 0.005 to 0.31 (62×)"."""
    return [f"{EDIT_NAMES[e.mode]}: takes {effect_words(e)}." for e in effects]
