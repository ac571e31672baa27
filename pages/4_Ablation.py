"""Ablation: silence IndRNN neurons (h = 0) or take only their memory away (u = 0), and see what
changes: the output on this input, the task's metric on held-out data, and which neurons matter.

The shared model is never changed: every analysis here ablates a private copy."""

import numpy as np
import streamlit as st

from indrnn import catalog
from indrnn.analysis import Ablation, ablation_metrics
from indrnn.figures.ablation import ablation_bars, ablation_over_time, impact_bars
from indrnn.figures.neurons import neuron_scatter
from indrnn.figures.overview import prediction_bars, regression_bars
from indrnn.inspection import (
    layers_of_kind,
    neuron_table,
    output_change,
    predictions_side_by_side,
    top_readout_neuron,
)
from indrnn.tasks import objective_for
from ui.sidebar import keep_newest, sidebar
from ui.widgets import impact_ranking, layer_picker, sequence_picker, waiting_for_input

st.set_page_config(page_title="Ablation · IndRNN Inspector", layout="wide")
context = sidebar()
st.title("Ablation")
if context is None:
    waiting_for_input()
    st.stop()

MODES = {"silence (h = 0)": "silence", "take memory away (u = 0)": "memory"}
KEPT = 16  #: metric results kept per session
model = context.checkpoint.model
inspection = context.inspection

if not layers_of_kind(inspection, "indrnn"):
    partner = (catalog.partner(context.name) if context.name in catalog.models() else None)
    st.info("Ablation applies to IndRNN neurons: each one's state is its own, so one can be "
            "silenced or lose its memory (u = 0) alone. This model has no IndRNN layer"
            + (f"; the IndRNN trained on the same task is **{partner.name}**: choose it in the "
               "sidebar, and see both side by side on the IndRNN vs LSTM page."
               if partner is not None else "."))
    sequence = sequence_picker(context)
    view = predictions_side_by_side({context.name: inspection}, sequence, context.info,
                                    context.parsed.targets)
    st.plotly_chart(regression_bars(view.values, target=view.target, output_names=view.labels)
                    if view.regression else
                    prediction_bars(view.values, class_names=view.labels, target=view.target,
                                    top_k=view.top_k), width="stretch", theme=None)
    st.stop()

top = st.columns(3)
layer = layer_picker(context, kinds=("indrnn",), where=top[0])
sequence = sequence_picker(context, where=top[1])
mode_label = top[2].radio("Ablation", list(MODES), key="ablation_mode")
mode = MODES[mode_label]
size = inspection.layers[layer].hidden.shape[-1]

# The neurons to ablate: the chosen layer's top neuron by readout weight until the user picks.
if (st.session_state.get("ablation_neurons_of") != (context.name, layer)
        or "ablation_neurons" not in st.session_state):
    st.session_state["ablation_neurons"] = [top_readout_neuron(model, inspection, layer)]
    st.session_state["ablation_neurons_of"] = (context.name, layer)
else:
    st.session_state["ablation_neurons"] = [n for n in st.session_state["ablation_neurons"]
                                            if 0 <= n < size]
neurons = st.multiselect(f"Neurons of {layer} to ablate", list(range(size)),
                         key="ablation_neurons")
ablations = [Ablation(layer, tuple(neurons), mode)] if neurons else []
steps = int(inspection.lengths[sequence])

st.subheader("The output on this input")
if not ablations:
    st.info("Pick one or more neurons to ablate.")
else:
    change = output_change(model, inspection, sequence, ablations, context.info)
    what = f"{len(neurons)} neuron{'s' if len(neurons) > 1 else ''} of {layer}, {mode_label}"
    if change.per_step:
        st.plotly_chart(ablation_over_time(change.original, change.ablated,
                                           y_title=change.measure,
                                           title=f"Output over time, original vs ablated ({what})"),
                        width="stretch", theme=None)
    else:
        st.plotly_chart(ablation_bars(change.original, change.ablated, names=change.labels,
                                      top_k=10 if len(change.labels) > 20 else None,
                                      y_title=change.measure,
                                      title=f"Output, original vs ablated ({what})"),
                        width="stretch", theme=None)
    largest = float(change.difference.abs().max()) if change.difference.numel() else 0.0
    st.caption(f"Largest change of the {change.measure}: {largest:.4g}.")

    st.subheader("The task's metric on held-out data")
    try:
        objective = objective_for(context.task, (context.card.get("recipe") or {}).get("window", 0))
    except ValueError as error:
        objective = None
        st.info(f"No held-out metric for this model: {error}.")
    if objective is not None:
        limit = max(1, objective.slice_size // 2)
        lm = context.info.output_kind == "per_step_lm"
        cache = st.session_state.setdefault("ablation_metrics", {})
        key = (context.name, layer, tuple(sorted(neurons)), mode)
        if key not in cache:
            with st.spinner("Scoring the original and the ablated model on held-out data…"):
                cache[key] = ablation_metrics(model, objective, ablations, limit=limit)
            keep_newest(cache, KEPT)
        result = cache[key]
        st.caption(f"On the first {limit:,} {'characters' if lm else 'sequences'} of the "
                   "held-out test data: the ablated model's value and its change.")
        columns = st.columns(max(1, len(result.original)))
        for column, (name, value) in zip(columns, result.ablated.items()):
            better_up = name == objective.metric and objective.higher_is_better
            column.metric(name.replace("_", " "), f"{value:.4g}",
                          f"{result.change[name]:+.4g} (original {result.original[name]:.4g})",
                          delta_color="normal" if better_up else "inverse")

st.subheader("Which neurons matter")
st.caption(f"Ablate each neuron of {layer} alone ({mode_label}) on this sequence and rank them "
           "by the mean absolute change of the output.")
ranking = impact_ranking(context, sequence, layer, mode,
                         compute=st.button("Rank neurons by impact", key="rank_neurons"))
if ranking is not None:
    left, right = st.columns(2)
    left.plotly_chart(impact_bars(ranking, y_title="mean |output change|"),
                      width="stretch", theme=None)
    impact = np.full(size, np.nan)
    impact[ranking.neurons.numpy()] = ranking.impact.numpy()
    tau = neuron_table(model, inspection, layer)["tau"].numpy()
    right.plotly_chart(neuron_scatter(impact, tau, x_title="impact (mean |output change|)",
                                      y_title="τ (steps)", log_y=True,
                                      title="Memory against impact, neuron by neuron"),
                       width="stretch", theme=None)
    top_neurons = ", ".join(str(int(n)) for n in ranking.neurons[:5])
    st.caption(f"Most impactful: {top_neurons}. Pick them above to ablate them together.")
