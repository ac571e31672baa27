"""What every page shares: its opening (sidebar, title), the pickers (layer, sequence, neuron)
remembered across pages and in the URL, the runs beside the model's own, and the rankings the
pages share."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

from indrnn import catalog
from indrnn.analysis import NeuronInfluence, neuron_influence, rank_neurons, readout_layer
from indrnn.analysis.ablation import NeuronImpact
from indrnn.data import has_task_data
from indrnn.explain import Finding, card_findings, explain_model, measured_effects
from indrnn.run import Run, run_held_out
from indrnn.views.memory import ModelRun
from indrnn.views.neurons import effect_lines, findings_naming
from indrnn.views.predictions import prediction_figure, predictions_side_by_side
from ui import resources
from ui.charts import chart
from ui.sidebar import Context, model_run, sidebar
from ui.state import (
    cached,
    cached_value,
    parse_span,
    remembered,
    remembered_value,
    reset_when_changed,
    show_span,
)


def open_page(title: str, menu_title: str | None = None) -> Context:
    """Set the page up (browser title, sidebar, heading) and return the context; until a model
    and an input are chosen, say so and stop the page there."""
    st.set_page_config(page_title=f"{menu_title or title} · IndRNN Inspector", layout="wide")
    # The calling page's file: one frame up (inspect.stack() would read every frame's source).
    _note_page(Path(sys._getframe(1).f_code.co_filename))
    context = sidebar()
    st.title(title)
    if context is None:
        waiting_for_input()
        st.stop()
    return context


def _note_page(script: Path) -> None:
    """Keep the URL path of the page being drawn (``pages/1_Neurons.py`` is ``Neurons``; the
    first page is the home page, ``""``), for the Export page's link to the page before it."""
    number, _, name = script.stem.partition("_")
    if name != "Export" and number.isdigit():
        st.session_state["linked_page"] = "" if number == "0" else name


def waiting_for_input() -> None:
    """What a page shows until a model and an input are chosen: the one idea behind the app."""
    from indrnn.figures.memory import decay_curves

    st.info("Choose a model and an input in the sidebar.")
    chart(decay_curves())


def layer_picker(context: Context, kinds: tuple[str, ...] = ("indrnn", "lstm"),
                 where: Any = st) -> str | None:
    """A recorded layer of the model, of the given kinds; until one is chosen, the layer the
    readout reads (where each neuron's effect on the output is most direct)."""
    layers = [n for n, r in context.run.layers.items() if r.kind in kinds]
    if not layers:
        st.info(f"This model has no {' or '.join(kinds)} layer for this view.")
        return None
    return remembered(where.selectbox, "Layer", layers, "layer_choice", "layer",
                      default=readout_layer(context.run, kinds))


def sequence_picker(context: Context, where: Any = st) -> int:
    """Which of the input's sequences to show (only asked when there are several)."""
    count = len(context.run.lengths)
    if count == 1:
        return 0
    return remembered(where.selectbox, "Sequence", list(range(count)), "sequence_choice",
                      "sequence")


#: Inputs longer than this get a time window that every view of the page follows.
WINDOWED_FROM = 600


def time_window(context: Context, sequence: int, where: Any = st) -> tuple[int, int] | None:
    """The span of steps ``[start, end)`` the page's views show, for a sequence longer than
    :data:`WINDOWED_FROM` steps (shorter ones are shown whole: ``None``). It opens on the whole
    sequence, and on a new input or sequence again; kept in the URL as ``?window=start-end``."""
    steps = int(context.run.lengths[sequence])
    if steps <= WINDOWED_FROM:
        return None
    reset_when_changed("time_window", context.input_key, sequence, query="window")
    start, end = remembered_value(
        where.slider, "Time window (steps)", "time_window", "window", (0, steps),
        lambda text: parse_span(text, steps), show=show_span, min_value=0, max_value=steps,
        help="Every view below shows these steps: drag the ends to zoom in on a stretch of a "
             "long input.")
    if end <= start:  # a range slider can close to one point
        end = min(steps, start + 1)
        start = end - 1
    return (int(start), int(end)) if (start, end) != (0, steps) else None


def influence(context: Context, layer: str) -> NeuronInfluence:
    """Each neuron's influence on what reads it, and which are silent, on this input."""
    return cached("influence", (context.name, context.input_key, layer),
                  lambda: neuron_influence(context.model, context.run, layer), most=8)


def silent_marked(context: Context, layer: str) -> Callable[[int], str]:
    """A neuron's label in a picker: its number, with "(silent here)" for one whose state is 0 at
    every step of this input."""
    silent = influence(context, layer).silent.tolist()
    return lambda n: f"{n} (silent here)" if silent[n] else str(n)


def neuron_picker(context: Context, layer: str, where: Any = st) -> int:
    """A neuron of ``layer``; until one is chosen, the most influential one on this input, with a
    line saying why. Neurons silent on this input are left out unless the user asks for them
    (or has picked one). The neuron view's scatter click writes the same key."""
    found = influence(context, layer)
    silent = found.silent.tolist()
    everything = list(range(len(silent)))
    shown = everything
    if any(silent):
        show = where.toggle(f"Show the {sum(silent)} silent neurons", key="show_silent",
                            help="Neurons whose state is 0 at every step of this input: nothing "
                                 "downstream reads them here.")
        wanted = {str(st.session_state.get("neuron_choice")),
                  str(st.session_state.get("kept_neuron_choice")),
                  str(st.query_params.get("neuron"))}
        shown = everything if show else [n for n in everything
                                         if not silent[n] or str(n) in wanted]
    neuron = remembered(where.selectbox, "Neuron", shown or everything, "neuron_choice",
                        "neuron", default=found.strongest,
                        format_func=silent_marked(context, layer))
    where.caption(found.reason(neuron) if neuron == found.strongest else
                  f"Neuron {neuron}: influence {float(found.influence[neuron]):.3g}, rank "
                  f"{int((found.influence > found.influence[neuron]).sum()) + 1} of "
                  f"{len(silent)}; the strongest on this input is {found.strongest}.")
    return neuron


NO_TASK_DATA = ("this model's card names no task this library knows, so there is no held-out "
                "data to run it on (the README's \"Your own models\" lists the card fields the app "
                "reads)")


def has_held_out_data(context: Context, what: str) -> bool:
    """Whether the model's task has held-out data; if not, one line saying that ``what`` (a
    view, e.g. "The task's metric") needs it."""
    if has_task_data(context.task):
        return True
    st.info(f"{what} needs held-out data: {NO_TASK_DATA}.")
    return False


def held_out_run(context: Context) -> Run:
    """The model's run over held-out test data: shared by all sessions for a listed model
    (:func:`ui.resources.held_out_run`, read-only), else (an uploaded checkpoint) once per
    session, one model at a time. A model without task data gets the run on the user's own
    input instead, and a line saying so."""
    if not has_task_data(context.task):
        count = len(context.run.lengths)
        st.caption(f"No held-out data ({NO_TASK_DATA}): this uses your input instead, "
                   f"{count} sequence{'s' if count > 1 else ''}.")
        return context.run
    if not context.uploaded:
        return resources.held_out_run(context.name)
    return cached("held_out_runs", context.name,
                  lambda: run_held_out(context.model, context.objective), most=1,
                  spinner="Running the model over held-out test data…")


def this_model(context: Context) -> ModelRun:
    return ModelRun(context.name, context.model, context.run)


def _on_this_input(context: Context, name: str) -> ModelRun:
    checkpoint = resources.pretrained(name)
    return ModelRun(name, checkpoint.model, model_run(name, checkpoint, context.parsed,
                                                      context.task, context.input_key))


def partner(context: Context) -> ModelRun | None:
    """The model trained beside this one (LSTM for an IndRNN), run on the same input."""
    other = None if context.uploaded else catalog.partner(context.name)
    return None if other is None else _on_this_input(context, other.name)


def comparison_runs(context: Context) -> list[ModelRun]:
    """This model and those trained beside it on the task (:func:`catalog.comparison_partners`),
    all run on the same input."""
    others = [] if context.uploaded else catalog.comparison_partners(context.name)
    return [this_model(context), *(_on_this_input(context, other.name) for other in others)]


def comparison_findings(context: Context, name: str) -> list[Finding] | None:
    """The findings of ``name``, this model or a listed one trained beside it."""
    if name == context.name:
        return model_findings(context)
    return resources.findings(name)


def model_findings(context: Context) -> list[Finding] | None:
    """The model's findings (:mod:`indrnn.explain`), with a progress bar while they are made.

    A listed model's are its card's, else made once per server (:func:`ui.resources.findings`).
    An upload's are its card's, else made once per session when the user asks (a button: they
    take up to a minute on a large model); ``None`` until then.
    """
    bar = None

    def progress(done: int, total: int, line: str) -> None:
        nonlocal bar
        bar = bar or st.progress(0.0)
        bar.progress(done / total, text=f"Finding what the neurons do: {line}…")

    if not has_task_data(context.task) and card_findings(context.card) is None:
        st.caption(f"No findings: they are measured on held-out data, and {NO_TASK_DATA}.")
        return None
    if not context.uploaded:
        found = resources.findings(context.name, progress)
    else:
        found = card_findings(context.card)
        if found is None:
            found = cached_value("findings", context.name)
        if found is None:
            if not st.button("Find what its neurons do", key="make_findings",
                             help="Silences groups of neurons and probes their states on the "
                                  "task's validation and test splits (up to a minute)"):
                st.caption("Its card stores no findings (`python -m indrnn.explain PATH "
                           "--write` stores them).")
                return None
            found = cached("findings", context.name, lambda: explain_model(
                context.model, context.objective, progress=progress), most=1)
    if bar is not None:
        bar.empty()
    return found


def what_the_neuron_does(context: Context, layer: str, neuron: int) -> None:
    """The findings that name ``neuron`` and, on a click, what silencing it or removing its memory
    does to the task's held-out metric (IndRNN layers)."""
    found = (model_findings(context) if not context.uploaded else
             card_findings(context.card) or cached_value("findings", context.name))
    naming = findings_naming(found or [], layer, neuron)
    for finding in naming:
        st.markdown(f"- {finding.claim}")
    if not naming:
        others = sorted({n for f in found or [] if f.layer == layer for n in f.neurons})
        st.caption(f"No finding names neuron {neuron}" + (
            f"; on {layer} they name {', '.join(map(str, others))}." if others else "."))
    if context.run.layers[layer].kind != "indrnn" or not has_task_data(context.task):
        return
    key = (context.name, layer, neuron)
    effects = cached_value("neuron_effects", key)
    if effects is None and st.button(
            f"Measure what neuron {neuron} does to the task", key="measure_neuron",
            help="The held-out test metric with this neuron silenced (h = 0) and with its memory "
                 "removed (u = 0), against the model as trained (a few seconds)"):
        bar = st.progress(0.0)
        effects = cached("neuron_effects", key, lambda: measured_effects(
            context.model, context.objective, layer, [neuron],
            progress=lambda done, total, line: bar.progress(done / total, text=f"{line}…")),
            most=16)
        bar.empty()
    for line in effect_lines(effects or []):
        st.markdown(f"- {line}")


def open_neuron(layer: str, neuron: int) -> None:
    """Go to the Neurons page on ``neuron`` of ``layer``: a choice made elsewhere gives way."""
    for key, value in (("layer_choice", layer), ("neuron_choice", str(neuron))):
        st.session_state.pop(key, None)
        st.session_state[f"kept_{key}"] = value
    st.switch_page("pages/1_Neurons.py")


def indrnn_only(context: Context, why: str) -> None:
    """For a model without IndRNN layers, on a page made for them: say ``why`` (the page needs
    IndRNN neurons), name the IndRNN trained on the same task, show this model's prediction, and
    stop the page."""
    other = None if context.uploaded else catalog.partner(context.name)
    st.info(why + " This model has no IndRNN layer"
            + (f"; the IndRNN trained on the same task is **{other.name}**: choose it in the "
               "sidebar, and see both side by side on the IndRNN vs LSTM page."
               if other is not None else "."))
    sequence = sequence_picker(context)
    chart(prediction_figure(predictions_side_by_side(
        {context.name: context.run}, sequence, context.objective, context.parsed.targets)))
    st.stop()


def finding_buttons(number: int, layer: str, neurons: tuple[int, ...], lstm: bool = False,
                    ) -> None:
    """Under finding ``number``: a button per neuron (``lstm``: unit) that opens it on the
    Neurons page, and for IndRNN neurons one that opens the Patching page on all of them."""
    buttons = st.columns(max(4, len(neurons) + 1))
    word = "Unit" if lstm else "Neuron"
    for column, neuron in zip(buttons, neurons):
        if column.button(f"{word} {neuron} of {layer}", key=f"finding_{number}_{neuron}",
                         help=f"Open this {word.lower()} on the Neurons page"):
            open_neuron(layer, neuron)
    if not lstm and buttons[len(neurons)].button(
            "Patch them", key=f"finding_{number}_patch",
            help="Give them another input's states on the Patching page"):
        open_patching(layer, neurons)


def open_patching(layer: str, neurons: tuple[int, ...]) -> None:
    """Go to the Patching page with ``neurons`` of ``layer`` chosen for the patch."""
    st.session_state.pop("layer_choice", None)
    st.session_state["kept_layer_choice"] = layer
    st.session_state.pop("patch_neurons", None)
    st.session_state.pop("patch_neurons__depends", None)  # a new choice, not a stale one
    st.session_state["kept_patch_neurons"] = ",".join(str(n) for n in neurons)
    st.switch_page("pages/5_Patching.py")


KEPT_RANKINGS = 16  #: neuron rankings by ablation impact kept per session


def impact_ranking(context: Context, sequence: int, layer: str, mode: str = "silence", *,
                   compute: bool = False) -> NeuronImpact | None:
    """The layer's neurons ranked by ablation impact on this sequence, if ranked in this session.

    ``compute`` ranks them now (batched single-neuron ablations, with a progress bar) unless
    done already. The Ablation and Neurons pages share the rankings.
    """
    key = (context.name, context.input_key, sequence, layer, mode)
    if not compute:
        return cached_value("ablation_rankings", key)
    size = context.run.layers[layer].hidden.shape[-1]

    def ranked() -> NeuronImpact:
        bar = st.progress(0.0, text=f"Ablating the {size} neurons of {layer}…")
        ranking = rank_neurons(context.model, context.run.sequence_inputs(sequence), layer,
                               mode=mode, progress=lambda done, total: bar.progress(
                                   done / total, text=f"Ablated {done} of {total} neurons of "
                                                      f"{layer}…"))
        bar.empty()
        return ranking

    return cached("ablation_rankings", key, ranked, most=KEPT_RANKINGS)
