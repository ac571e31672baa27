"""Ablation: silence IndRNN neurons (h = 0) or take only their memory away (u = 0), and see what
changes: the output on this input, the task's metric on held-out data, and which neurons matter.

The shared model is never changed: every analysis here ablates a private copy."""

import streamlit as st

from indrnn.analysis import Ablation, ablation_metrics
from indrnn.views import ablation as view
from ui.charts import chart
from ui.state import cached, remembered, remembered_set, reset_when_changed
from ui.widgets import (
    has_held_out_data,
    impact_ranking,
    indrnn_only,
    influence,
    layer_picker,
    open_page,
    sequence_picker,
    silent_marked,
)

context = open_page("Ablation")
model, run, objective = context.model, context.run, context.objective
if not run.layers_of_kind("indrnn"):
    indrnn_only(context, "Ablation applies to IndRNN neurons: each one's state is its own, so "
                "one can be silenced or lose its memory (u = 0) alone.")

top = st.columns(3)
layer = layer_picker(context, kinds=("indrnn",), where=top[0])
sequence = sequence_picker(context, where=top[1])
mode_label = remembered(top[2].radio, "Ablation", list(view.MODES), "ablation_mode",
                        "ablation_mode")
mode = view.MODES[mode_label]
size = run.layers[layer].hidden.shape[-1]
# The neurons to ablate: the layer's most influential neuron on this input until the user picks.
reset_when_changed("ablation_neurons", context.name, context.input_key, layer, query="ablate")
strongest = influence(context, layer).strongest
neurons = remembered_set(st.multiselect, f"Neurons of {layer} to ablate", list(range(size)),
                         "ablation_neurons", "ablate", default=[strongest],
                         format_func=silent_marked(context, layer))
ablations = [Ablation(layer, tuple(neurons), mode)] if neurons else []

st.subheader("The output on this input")
if not ablations:
    st.info("Pick one or more neurons to ablate.")
else:
    change = view.output_change(model, run, sequence, ablations, objective)
    what = f"{len(neurons)} neuron{'s' if len(neurons) > 1 else ''} of {layer}, {mode_label}"
    chart(view.change_figure(change, what))
    st.caption(view.change_caption(change))
    st.subheader("The task's metric on held-out data")
if ablations and has_held_out_data(context, "The task's metric"):
    limit = max(1, objective.slice_size // 2)
    result = cached("ablation_metrics", (context.name, layer, tuple(sorted(neurons)), mode),
                    lambda: ablation_metrics(model, objective, ablations, limit=limit), most=16,
                    spinner="Scoring the original and the ablated model on held-out data…")
    st.caption(f"On the first {limit:,} {objective.sample_unit} of the held-out test data: the "
               "ablated model's value and its change.")
    for column, metric in zip(st.columns(len(result.ablated)), view.metric_changes(
            result, objective)):
        column.metric(metric.name, metric.value, metric.delta,
                      delta_color="normal" if metric.higher_is_better else "inverse")

st.subheader("Which neurons matter")
st.caption(f"Ablate each neuron of {layer} alone ({mode_label}) on this sequence and rank them "
           "by the mean absolute change of the output.")
ranking = impact_ranking(context, sequence, layer, mode,
                         compute=st.button("Rank neurons by impact", key="rank_neurons"))
if ranking is not None:
    figures = view.impact_figures(model, run, ranking)
    left, right = st.columns(2)
    chart(figures.bars, where=left)
    chart(figures.memory, where=right)
    st.caption(figures.caption)
