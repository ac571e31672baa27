"""What every page shares: its opening (sidebar, title), the pickers (layer, sequence, neuron)
remembered across pages and in the URL, the runs beside the model's own, and the rankings the
pages share."""

from __future__ import annotations

from typing import Any

import streamlit as st

from indrnn import catalog
from indrnn.analysis import rank_neurons
from indrnn.analysis.ablation import NeuronImpact
from indrnn.run import Run, run_held_out
from indrnn.views.memory import ModelRun
from ui import resources
from ui.sidebar import Context, model_run, sidebar
from ui.state import cached, cached_value, remembered


def open_page(title: str, menu_title: str | None = None) -> Context:
    """Set the page up (browser title, sidebar, heading) and return the context; until a model
    and an input are chosen, say so and stop the page there."""
    st.set_page_config(page_title=f"{menu_title or title} · IndRNN Inspector", layout="wide")
    context = sidebar()
    st.title(title)
    if context is None:
        waiting_for_input()
        st.stop()
    return context


def waiting_for_input() -> None:
    """What a page shows until a model and an input are chosen: the one idea behind the app."""
    from indrnn.figures.memory import decay_curves

    st.info("Choose a model and an input in the sidebar.")
    st.plotly_chart(decay_curves(), width="stretch", theme=None)


def layer_picker(context: Context, kinds: tuple[str, ...] = ("indrnn", "lstm"),
                 where: Any = st) -> str | None:
    """A recorded layer of the model, of the given kinds."""
    layers = [n for n, r in context.run.layers.items() if r.kind in kinds]
    if not layers:
        st.info(f"This model has no {' or '.join(kinds)} layer for this view.")
        return None
    return remembered(where.selectbox, "Layer", layers, "layer_choice", "layer")


def sequence_picker(context: Context, where: Any = st) -> int:
    """Which of the input's sequences to show (only asked when there are several)."""
    count = len(context.run.lengths)
    if count == 1:
        return 0
    return remembered(where.selectbox, "Sequence", list(range(count)), "sequence_choice",
                      "sequence")


def neuron_picker(neurons: int, where: Any = st) -> int:
    """A neuron index; the neuron view's scatter selection writes the same key."""
    return remembered(where.selectbox, "Neuron", list(range(neurons)), "neuron_choice", "neuron")


def new_click(event: Any, last_key: str) -> int | None:
    """The index (``customdata``) of a point just clicked in a chart drawn with
    ``on_select="rerun"``, or ``None``. The selection stays in the event on later reruns, so
    only a click on another point than the last one (kept under ``last_key``) counts."""
    points = (event or {}).get("selection", {}).get("points", [])
    if not points or points[0].get("customdata") is None:
        st.session_state.pop(last_key, None)
        return None
    picked = points[0]["customdata"]
    picked = int(picked[0] if isinstance(picked, list) else picked)
    if picked == st.session_state.get(last_key):
        return None
    st.session_state[last_key] = picked
    return picked


def held_out_run(context: Context) -> Run:
    """The model's run over held-out test data: shared by all sessions for a listed model
    (:func:`ui.resources.held_out_run`, read-only), else (an uploaded checkpoint) once per
    session, one model at a time."""
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


KEPT_RANKINGS = 16  #: neuron rankings by ablation impact kept per session


def impact_ranking(context: Context, sequence: int, layer: str, mode: str = "silence", *,
                   compute: bool = False) -> NeuronImpact | None:
    """The layer's neurons ranked by ablation impact on this sequence, if ranked in this session.

    ``compute`` ranks them now (one model run per neuron) unless done already. The Ablation and
    Neurons pages share the rankings.
    """
    key = (context.name, context.input_key, sequence, layer, mode)
    if not compute:
        return cached_value("ablation_rankings", key)
    size = context.run.layers[layer].hidden.shape[-1]
    return cached("ablation_rankings", key,
                  lambda: rank_neurons(context.model, context.run.sequence_inputs(sequence),
                                       layer, mode=mode),
                  most=KEPT_RANKINGS, spinner=f"Ablating the {size} neurons of {layer} one by "
                                              "one…")

