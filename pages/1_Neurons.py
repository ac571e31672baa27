"""Neurons: every neuron of a layer over time; pick one to see its memory, inputs and role."""

import numpy as np
import streamlit as st

from indrnn.analysis import top_activations
from indrnn.analysis.locate import indrnn_layers
from indrnn.figures.neurons import neuron_scatter, neuron_trace, sortable_heatmap, weight_bars
from indrnn.figures.overlays import firing_windows, firings_table, pixel_overlay, text_html
from indrnn.inspection import neuron_table
from ui.sidebar import sidebar
from ui.widgets import (
    dataset_run,
    impact_ranking,
    layer_picker,
    neuron_picker,
    sequence_picker,
    step_text,
    waiting_for_input,
)

st.set_page_config(page_title="Neurons · IndRNN Inspector", layout="wide")
context = sidebar()
st.title("Neurons")
if context is None:
    waiting_for_input()
    st.stop()

SORTS = {"u": "u", "memory τ": "tau", "mean activation": "mean",
         "fraction active": "fraction_active", "weight into the readout": "readout"}
top = st.columns(2)
layer = layer_picker(context, where=top[0])
if layer is None:
    st.stop()
sequence = sequence_picker(context, where=top[1])
record = context.inspection.layers[layer]
table = neuron_table(context.checkpoint.model, context.inspection, layer)
states = context.inspection.states(layer, sequence).T.numpy()  # (T, N)


# Largest first; orders whose values are all NaN (u of an LSTM layer, the readout weight of a
# layer below the last) are left out.
orders = {label: list(np.argsort(-np.nan_to_num(table[key].numpy(), nan=-np.inf),
                                 kind="stable"))
          for label, key in SORTS.items() if not table[key].isnan().all()}
if record.kind == "indrnn":
    ranking = impact_ranking(context, sequence, layer, compute=st.button(
        "Also sort by ablation impact", key="neurons_rank_impact",
        help="Silence each neuron alone on this sequence (one model run per neuron) and sort by "
             "how much the output changes."))
    if ranking is not None:
        orders["ablation impact"] = [int(n) for n in ranking.neurons]
# The menu in the figure re-sorts in the browser: no rerun, no data sent again.
st.plotly_chart(sortable_heatmap(states, orders, title=layer), width="stretch", theme=None)


@st.fragment
def neuron_details() -> None:
    """Picking a neuron (click or picker) redraws this part alone."""
    is_indrnn = record.kind == "indrnn"
    y_key = "tau" if is_indrnn else "mean"
    scatter = neuron_scatter(table["u"].numpy() if is_indrnn else table["fraction_active"].numpy(),
                             table[y_key].numpy(),
                             x_title="u" if is_indrnn else "fraction active",
                             y_title="τ (steps)" if is_indrnn else "mean activation",
                             title="Click a neuron", log_y=is_indrnn)
    event = st.plotly_chart(scatter, on_select="rerun", selection_mode="points",
                            key="neuron_scatter", width="stretch", theme=None)
    points = (event or {}).get("selection", {}).get("points", [])
    if points and points[0].get("customdata") is not None:
        picked = points[0]["customdata"]
        picked = int(picked[0] if isinstance(picked, list) else picked)
        # Only a new click moves the picker: the selection stays in the event on later reruns.
        if picked != st.session_state.get("last_neuron_click"):
            st.session_state["last_neuron_click"] = picked
            st.session_state["neuron_choice"] = picked

    neuron = neuron_picker(states.shape[1])
    shown = [("mean activation", "mean"), ("fraction active", "fraction_active")]
    if is_indrnn:  # u and the memory it sets exist for IndRNN neurons only
        shown = [("u", "u"), ("τ (steps)", "tau"), ("half-life (steps)", "half_life"), *shown]
    for column, (label, name) in zip(st.columns(len(shown)), shown):
        column.metric(label, f"{float(table[name][neuron]):.4g}")

    preactivation = record.tensors.get("preactivation")
    steps = int(context.inspection.lengths[sequence])
    st.plotly_chart(neuron_trace(states[:, neuron],
                                 None if preactivation is None
                                 else preactivation[:steps, sequence, neuron].numpy(),
                                 title=f"Neuron {neuron} over time"), width="stretch", theme=None)

    left, right = st.columns(2)
    refs = indrnn_layers(context.checkpoint.model)
    if layer in refs and refs[layer].weight_ih is not None:
        weights = refs[layer].weight_ih[neuron].detach().cpu().numpy()
        first = layer == next(iter(context.inspection.layers))
        names = (list(context.info.channel_names) if first and context.info.channel_names
                 and len(context.info.channel_names) == len(weights)
                 else [f"unit {k}" for k in range(len(weights))])
        left.plotly_chart(weight_bars(weights, names=names, title=f"What drives neuron {neuron}",
                                      x_title="input" if first else "neuron below"),
                          width="stretch", theme=None)
    head = getattr(context.checkpoint.model, "head", None)
    if head is not None and not np.isnan(float(table["readout"][neuron])):
        outputs = list(context.info.class_names or []) or [f"output {k}"
                                                            for k in range(head.out_features)]
        right.plotly_chart(weight_bars(head.weight[:, neuron].detach().cpu().numpy(),
                                       names=outputs[: head.out_features],
                                       title=f"Neuron {neuron} into the readout", x_title="output"),
                           width="stretch", theme=None)

    text = step_text(context, sequence)
    if text is not None:
        st.subheader("The text, coloured by the neuron")
        st.html(text_html(text, states[:, neuron]))
    elif context.info.input_size == 1 and steps == 784:
        st.plotly_chart(pixel_overlay(context.inspection.inputs[sequence, :, 0].numpy(),
                                      states[:, neuron],
                                      permutation=context.task.extras.get("permutation")),
                        width="content", theme=None)

    st.subheader("Where it fires most across held-out data")
    data = dataset_run(context)
    if layer in data.layers:
        firings = top_activations(data.layers[layer].hidden, neuron, k=12, context=10,
                                  lengths=data.lengths)
        texts = None
        if context.info.output_kind == "per_step_lm":
            from indrnn.data.text import decode

            texts = [decode(row) for row in data.inputs]
        st.dataframe(firings_table(firings, texts, data.source_indices), hide_index=True)
        if data.source_indices is not None:
            st.caption(f"sequence: its index in the test split ({len(data.lengths)} held-out "
                       "sequences spread over it).")
        traces = [data.layers[layer].hidden[: int(n), b, neuron].numpy()
                  for b, n in enumerate(data.lengths)]
        st.plotly_chart(firing_windows(traces, firings, text=texts), width="stretch", theme=None)


neuron_details()
