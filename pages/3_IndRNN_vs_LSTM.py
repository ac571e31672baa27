"""IndRNN vs LSTM: the LSTM trained on the same task, run on the same input. Its gates over time,
their saturation (Karpathy et al. 2015), its effective memory beside IndRNN's τ, and both
predictions side by side."""

import streamlit as st

from indrnn.views import compare as view
from indrnn.views.predictions import prediction_figure, predictions_side_by_side
from ui.charts import chart
from ui.state import remembered
from ui.widgets import (
    comparison_findings,
    comparison_runs,
    open_page,
    sequence_picker,
)

context = open_page("IndRNN vs LSTM")
runs = comparison_runs(context)
for note in view.pairing_notes(runs, context.card.get("task_kwargs", {})):
    st.caption(note)
missing = view.missing_family(runs, context.uploaded)
if missing:
    st.info(missing)
lstm, ind = view.first_of_kind(runs, "lstm"), view.first_of_kind(runs, "indrnn")
sequence = sequence_picker(context)

st.subheader("Predictions on this input")
side_by_side = predictions_side_by_side({e.name: e.run for e in runs}, sequence,
                                        context.objective, context.parsed.targets)
chart(prediction_figure(side_by_side, "Prediction, model by model"))

st.subheader("What each model does")
st.caption("Each model's findings (from its card, measured on the test split): where it keeps "
           "what the task needs, and for how long (IndRNN: u; LSTM: its mean forget gate).")
claims = view.findings_side_by_side({entry.name: comparison_findings(context, entry.name)
                                     for entry in runs})
for column, (name, lines) in zip(st.columns(len(claims)), claims.items()):
    column.markdown(f"**{name}**")
    for line in lines:
        column.markdown(f"- {line}")

if lstm is not None:
    st.subheader(f"LSTM gates: {lstm.name}")
    top = st.columns(2)
    layer = remembered(top[0].selectbox, "LSTM layer", lstm.run.layers_of_kind("lstm"),
                       "compare_lstm_layer", "lstm_layer")
    units = lstm.run.layers[layer].hidden.shape[-1]
    st.caption("Each unit's gates: the fraction of steps they are closed (< 0.1) against open "
               "(> 0.9), over every sequence of this input. Click a point to follow that unit.")
    picked = chart(view.saturation_figure(lstm.run, layer), key="saturation_scatter",
                   clicks=True)
    if picked is not None and 0 <= picked < units:
        st.session_state["lstm_unit"] = picked
    unit = remembered(top[1].selectbox, "Unit", list(range(units)), "lstm_unit", "unit")
    gates = view.gate_figures(lstm.run, layer, sequence, unit)
    if gates.note:
        st.info(gates.note)
    chart(gates.unit)
    chart(gates.all_units)

if ind is not None or lstm is not None:
    st.subheader("Memory")
    st.caption("IndRNN: τ = −1/ln|u| of every neuron, read off its recurrent weight. LSTM: the "
               "same formula on each unit's mean forget gate over this input, its effective "
               "memory.")
    figure = view.memory_figure(ind, lstm)
    if figure is not None:
        chart(figure)
    if lstm is None:
        st.caption("More on IndRNN memory on the Memory page.")
