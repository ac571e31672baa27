"""Pickers the pages share (layer, sequence, neuron), remembered across pages and in the URL."""

from __future__ import annotations

from typing import Any

import streamlit as st

from indrnn import catalog
from indrnn.analysis import rank_neurons
from indrnn.analysis.ablation import NeuronImpact
from indrnn.inspection import Inspection, inspect_dataset
from ui import resources
from ui.sidebar import Context, keep_newest


def _remembered_choice(label: str, options: list[Any], key: str, query: str,
                       where: Any = st, **kwargs: Any) -> Any:
    wanted = st.session_state.get(f"kept_{key}", st.query_params.get(query))
    if key in st.session_state:
        if st.session_state[key] in options:
            st.session_state[key] = st.session_state[key]  # survives a page switch
        else:
            del st.session_state[key]
    if key not in st.session_state and wanted in [str(o) for o in options]:
        st.session_state[key] = options[[str(o) for o in options].index(wanted)]
    value = where.selectbox(label, options, key=key, **kwargs)
    st.session_state[f"kept_{key}"] = str(value)
    st.query_params[query] = str(value)
    return value


def layer_picker(context: Context, kinds: tuple[str, ...] = ("indrnn", "lstm"),
                 where: Any = st) -> str | None:
    """A recorded layer of the model, of the given kinds."""
    layers = [n for n, r in context.inspection.layers.items() if r.kind in kinds]
    if not layers:
        st.info(f"This model has no {' or '.join(kinds)} layer for this view.")
        return None
    return _remembered_choice("Layer", layers, "layer_choice", "layer", where)


def sequence_picker(context: Context, where: Any = st) -> int:
    """Which of the input's sequences to show (only asked when there are several)."""
    count = len(context.inspection.lengths)
    if count == 1:
        return 0
    return _remembered_choice("Sequence", list(range(count)), "sequence_choice", "sequence",
                              where)


def neuron_picker(neurons: int, where: Any = st) -> int:
    """A neuron index; the neuron view's scatter selection writes the same key."""
    return _remembered_choice("Neuron", list(range(neurons)), "neuron_choice", "neuron", where)


def dataset_run(context: Context) -> Inspection:
    """The model's run over held-out test data: shared by all sessions for a listed model
    (:func:`ui.resources.dataset_states`, read-only), else (an uploaded checkpoint) once per
    session, one model at a time."""
    if context.name in catalog.models():
        return resources.dataset_states(context.name)
    runs: dict[str, Inspection] = st.session_state.setdefault("dataset_runs", {})
    if context.name not in runs:
        with st.spinner("Running the model over held-out test data…"):
            runs.clear()  # one model's data run at a time per session
            runs[context.name] = inspect_dataset(context.checkpoint.model, context.task)
    return runs[context.name]


def step_text(context: Context, sequence: int) -> str | None:
    """The characters of a language model's input sequence, one per step; else ``None``."""
    if context.info.output_kind != "per_step_lm":
        return None
    from indrnn.data.text import decode

    steps = int(context.inspection.lengths[sequence])
    return decode(context.inspection.inputs[sequence, :steps])


def waiting_for_input() -> None:
    """What a page shows until a model and an input are chosen: the one idea behind the app."""
    from indrnn.figures.memory import decay_curves

    st.info("Choose a model and an input in the sidebar.")
    st.plotly_chart(decay_curves(), width="stretch", theme=None)


KEPT_RANKINGS = 16  #: neuron rankings by ablation impact kept per session


def impact_ranking(context: Context, sequence: int, layer: str, mode: str = "silence", *,
                   compute: bool = False) -> NeuronImpact | None:
    """The layer's neurons ranked by ablation impact on this sequence, if ranked in this session.

    ``compute`` ranks them now (one model run per neuron) unless done already. The Ablation and
    Neurons pages share the rankings.
    """
    rankings: dict[tuple, NeuronImpact] = st.session_state.setdefault("ablation_rankings", {})
    key = (context.name, context.input_key, sequence, layer, mode)
    if compute and key not in rankings:
        steps = int(context.inspection.lengths[sequence])
        inputs = context.inspection.inputs[sequence: sequence + 1, :steps]
        size = context.inspection.layers[layer].hidden.shape[-1]
        with st.spinner(f"Ablating the {size} neurons of {layer} one by one…"):
            rankings[key] = rank_neurons(context.checkpoint.model, inputs, layer, mode=mode)
        keep_newest(rankings, KEPT_RANKINGS)
    return rankings.get(key)
