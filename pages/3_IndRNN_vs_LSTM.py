"""IndRNN vs LSTM: the LSTM trained on the same task, run on the same input. Its gates over time,
their saturation (Karpathy et al. 2015), its effective memory beside IndRNN's τ, and both
predictions side by side."""

import json
from dataclasses import replace

import streamlit as st

from indrnn import catalog
from indrnn.analysis import gate_saturation, indrnn_memory, lstm_memory
from indrnn.figures.compare import gate_heatmaps, gate_traces, memory_comparison, saturation_scatter
from indrnn.figures.overview import prediction_bars, regression_bars
from indrnn.inspection import gate_series, layers_of_kind, predictions_side_by_side
from ui.resources import pretrained
from ui.sidebar import partner_run, sidebar
from ui.widgets import sequence_picker, waiting_for_input

st.set_page_config(page_title="IndRNN vs LSTM · IndRNN Inspector", layout="wide")
context = sidebar()
st.title("IndRNN vs LSTM")
if context is None:
    waiting_for_input()
    st.stop()


def comparison_runs():
    """(name, model, run) of the chosen model and of those trained beside it on the same task,
    all on the same input. A deep IndRNN's partner is the plain IndRNN; its LSTM is that one's."""
    runs = [(context.name, context.checkpoint.model, context.inspection)]
    other = partner_run(context)
    if other is None:
        return runs
    runs.append((other[0], pretrained(other[0]).model, other[1]))
    if not any(layers_of_kind(run, "lstm") for _, _, run in runs):
        hop = partner_run(replace(context, name=other[0], checkpoint=pretrained(other[0]),
                                  inspection=other[1]))
        if hop is not None and hop[0] != context.name:
            runs.append((hop[0], pretrained(hop[0]).model, hop[1]))
    return runs


runs = comparison_runs()
for name, _, _ in runs[1:]:
    settings = catalog.entry(name).task_kwargs
    if settings != context.card.get("task_kwargs", {}):
        st.caption(f"No model was trained beside {context.name} with its settings "
                   f"({json.dumps(context.card.get('task_kwargs', {}))}): {name} was trained "
                   f"on the same task with {json.dumps(settings)}, and runs on this input too.")
lstm = next(((n, m, r) for n, m, r in runs if layers_of_kind(r, "lstm")), None)
ind = next(((n, m, r) for n, m, r in runs if layers_of_kind(r, "indrnn")), None)
if len(runs) == 1:
    st.info(f"No model was trained beside **{context.name}** on the same task "
            f"({'an uploaded checkpoint' if context.name.startswith('uploaded') else 'none listed'}"
            "), so there is nothing to compare it with on this input. Shown: what this model "
            "has of its own.")
elif lstm is None:
    st.info("None of the models trained on this task is an LSTM: only IndRNNs are compared.")
elif ind is None:
    st.info("None of the models trained on this task is an IndRNN: the LSTM is shown alone.")

sequence = sequence_picker(context)
steps = int(context.inspection.lengths[sequence])

st.subheader("Predictions on this input")
view = predictions_side_by_side({name: run for name, _, run in runs}, sequence, context.info,
                                context.parsed.targets)
if view.regression:
    figure = regression_bars(view.values, target=view.target, output_names=view.labels,
                             title="Prediction, model by model")
else:
    figure = prediction_bars(view.values, class_names=view.labels, target=view.target,
                             top_k=view.top_k, title="Prediction, model by model")
st.plotly_chart(figure, width="stretch", theme=None)

if lstm is not None:
    lstm_name, _, lstm_run = lstm
    st.subheader(f"LSTM gates: {lstm_name}")
    top = st.columns(2)
    names = layers_of_kind(lstm_run, "lstm")
    if st.session_state.get("compare_lstm_layer") not in names:
        st.session_state.pop("compare_lstm_layer", None)
    layer = top[0].selectbox("LSTM layer", names, key="compare_lstm_layer")
    record = lstm_run.layers[layer]
    units = record.hidden.shape[-1]

    st.caption("Each unit's gates: the fraction of steps they are closed (< 0.1) against open "
               "(> 0.9), over every sequence of this input. Click a point to follow that unit.")
    saturation = gate_saturation(record, lengths=lstm_run.lengths)
    event = st.plotly_chart(saturation_scatter(saturation, title=f"Gate saturation of {layer} "
                                                                 "(Karpathy et al. 2015)"),
                            on_select="rerun", selection_mode="points", key="saturation_scatter",
                            width="stretch", theme=None)
    points = (event or {}).get("selection", {}).get("points", [])
    if points and points[0].get("customdata") is not None:
        picked = points[0]["customdata"]
        picked = int(picked[0] if isinstance(picked, list) else picked)
        # Follow a new click only: the selection stays in the event while the unit is changed
        # with the picker.
        if 0 <= picked < units and st.session_state.get("saturation_clicked") != picked:
            st.session_state["lstm_unit"] = picked
        st.session_state["saturation_clicked"] = picked
    else:
        st.session_state.pop("saturation_clicked", None)
    if st.session_state.get("lstm_unit") not in range(units):
        st.session_state.pop("lstm_unit", None)
    unit = top[1].selectbox("Unit", list(range(units)), key="lstm_unit")

    st.plotly_chart(gate_traces(gate_series(record, sequence, steps, unit), unit=unit),
                    width="stretch", theme=None)
    st.plotly_chart(gate_heatmaps(gate_series(record, sequence, steps),
                                  title=f"{layer}: gates of every unit × steps"),
                    width="stretch", theme=None)

if ind is not None or lstm is not None:
    st.subheader("Memory")
    st.caption("IndRNN: τ = −1/ln|u| of every neuron, read off its recurrent weight. LSTM: the "
               "same formula on each unit's mean forget gate over this input, its effective "
               "memory.")
    indrnn_taus = {} if ind is None else indrnn_memory(ind[1], recording=ind[2])
    lstm_taus = {} if lstm is None else {
        layer: lstm_memory(lstm[2].layers[layer], lstm[2].lengths)
        for layer in layers_of_kind(lstm[2], "lstm")}
    if indrnn_taus or lstm_taus:
        title = ("Memory: IndRNN τ from u, LSTM τ from mean forget gate"
                 if indrnn_taus and lstm_taus else
                 "Memory: IndRNN τ from u" if indrnn_taus else
                 "Memory: LSTM τ from mean forget gate")
        st.plotly_chart(memory_comparison(indrnn_taus, lstm_taus, title=title),
                        width="stretch", theme=None)
    if lstm is None:
        st.caption("More on IndRNN memory on the Memory page.")
