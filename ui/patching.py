"""The Patching page's pickers: the source input, the neurons and the patched steps, each kept
for the session and in the link."""

from __future__ import annotations

from typing import Any

import streamlit as st
from torch import Tensor

from indrnn.data import has_task_data
from indrnn.views import patching as view
from ui.sidebar import Context
from ui.state import (
    cached,
    parse_number,
    parse_span,
    remembered,
    remembered_set,
    remembered_value,
    reset_when_changed,
    show_span,
)
from ui.widgets import influence, model_findings, silent_marked


def _whole(text: str, low: int, high: int) -> int | None:
    number = parse_number(text)
    return int(number) if number is not None and number.is_integer() and \
        low <= number <= high else None


def source_input(context: Context, sequence: int) -> tuple[Tensor, str] | None:
    """The input whose states the neurons take, ``(1, T, ...)`` as long as the sequence, and
    what it is in words; ``None`` (with a line saying why) when there is none to take."""
    run, objective = context.run, context.objective
    steps = int(run.lengths[sequence])
    kinds = [kind for kind in view.SOURCES if (kind != "edit" or view.editable(run)) and (
        kind != "held_out" or has_task_data(context.task))]
    if not kinds:
        st.info("No input to take the states from: this model has no held-out data, and "
                "this sequence has no value to change.")
        return None
    reset_when_changed("patch_source", context.name, context.input_key, sequence,
                       query="patch_source",
                       together=(("patch_step", "patch_step"), ("patch_channel", "patch_channel"),
                                 ("patch_value", "patch_value"),
                                 ("patch_held_out", "patch_with")))
    kind = remembered(st.radio, "Take the states from", kinds, "patch_source", "patch_source",
                      default=view.default_source(run, sequence, objective),
                      format_func=view.SOURCES.__getitem__, horizontal=True)
    if kind == "edit":
        edit = view.default_edit(run, sequence, objective)
        names = list(objective.info.channel_names or [])
        channels = run.inputs.shape[-1]
        left, middle, right = st.columns(3)
        step = remembered_value(left.number_input, "At step", "patch_step", "patch_step",
                                edit.step, lambda t: _whole(t, 0, steps - 1),
                                min_value=0, max_value=steps - 1, step=1)
        channel = remembered(middle.selectbox, "Of input", list(range(channels)),
                             "patch_channel", "patch_channel", default=edit.channel,
                             format_func=lambda c: names[c] if len(names) == channels else
                             f"channel {c}")
        value = remembered_value(right.number_input, "Set the value to", "patch_value",
                                 "patch_value", edit.value, parse_number, format="%.4f")
        old = float(run.inputs[sequence, int(step), int(channel)])
        return (view.edited_input(run, sequence, view.ValueEdit(int(step), int(channel), value)),
                f"this sequence with step {int(step)} set from {old:.4g} to {value:.4g}")
    held = cached("patch_sources", (context.name, steps),
                  lambda: view.held_out_sources(objective, steps), most=4)
    if not held.labels:
        st.info(f"No held-out sequence has {steps:,} steps or more to take states from; "
                "change a value of this sequence instead.")
        return None
    index = remembered(st.selectbox, "Held-out sequence", list(range(len(held.labels))),
                       "patch_held_out", "patch_with", format_func=held.labels.__getitem__)
    cut = f" (its first {steps:,} steps)" if held.cut else ""
    return held.inputs[index: index + 1], f"{held.labels[index]}{cut}"


def patched_neurons(context: Context, layer: str, where: Any = st) -> list[int]:
    """The neurons patched: until the user picks, those of the model's finding on this layer
    (else the layer's most influential neuron on this input)."""
    size = context.run.layers[layer].hidden.shape[-1]
    reset_when_changed("patch_neurons", context.name, layer, query="patch")
    found = view.finding_neurons(model_findings(context) or [], layer)
    default = found if found is not None else [influence(context, layer).strongest]
    return remembered_set(where.multiselect, f"Neurons of {layer} to patch", list(range(size)),
                          "patch_neurons", "patch", default=default,
                          format_func=silent_marked(context, layer))


def patched_steps(context: Context, sequence: int) -> tuple[int, int] | None:
    """The steps patched, ``[start, stop)``; ``None`` for every step (the default)."""
    steps = int(context.run.lengths[sequence])
    if steps < 2:
        return None
    reset_when_changed("patch_window", context.input_key, sequence, query="patch_window")
    start, stop = remembered_value(
        st.slider, "Patched steps", "patch_window", "patch_window", (0, steps),
        lambda text: parse_span(text, steps), show=show_span, min_value=0, max_value=steps,
        help="The neurons take the source's states on these steps and run on from there by "
             "their own recurrence on this sequence.")
    if stop <= start:
        stop = min(steps, start + 1)
        start = stop - 1
    return (int(start), int(stop)) if (start, stop) != (0, steps) else None
