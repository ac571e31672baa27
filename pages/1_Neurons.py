"""Neurons: every neuron of a layer over time; pick one to see its memory, inputs and role."""

import streamlit as st

from indrnn.views import neurons as view
from ui.charts import chart
from ui.widgets import (
    held_out_run,
    impact_ranking,
    layer_picker,
    neuron_picker,
    open_page,
    sequence_picker,
    time_window,
    what_the_neuron_does,
)

context = open_page("Neurons")
top = st.columns(2)
layer = layer_picker(context, where=top[0])
if layer is None:
    st.stop()
sequence = sequence_picker(context, where=top[1])
window = time_window(context, sequence)
run, objective = context.run, context.objective
table = view.neuron_table(context.model, run, layer)
ranking = None
if view.is_indrnn(run, layer):
    ranking = impact_ranking(context, sequence, layer, compute=st.button(
        "Also sort by ablation impact", key="neurons_rank_impact",
        help="Silence each neuron alone on this sequence (batched runs) and sort by "
             "how much the output changes."))
orders = view.sort_orders(table, None if ranking is None else ranking.neurons.tolist())
# The menu in the figure re-sorts in the browser: no rerun, no data sent again. The markers
# left of the rows open a neuron.
clicked_row = chart(view.layer_heatmap(run, layer, sequence, orders, window), key="heatmap_rows",
                    clicks=True)
if clicked_row is not None:
    st.session_state["neuron_choice"] = clicked_row


@st.fragment
def neuron_details() -> None:
    """Picking a neuron (click or picker) redraws this part alone."""
    u_axis = view.U_AXES[0]
    if view.is_indrnn(run, layer):
        u_axis = st.radio("u axis", view.U_AXES, horizontal=True, key=f"u_axis_{layer}",
                          index=int(view.near_one(table["u"])),
                          help="Near 1, u of many neurons look alike; their distance from 1 on "
                               "a log axis tells them apart.")
    picked = chart(view.picker_scatter(run, layer, table, u_axis), key="neuron_scatter",
                   clicks=True)
    if picked is not None:
        st.session_state["neuron_choice"] = picked
    neuron = neuron_picker(context, layer)
    numbers = view.neuron_numbers(run, layer, table, neuron)
    for column, (label, value) in zip(st.columns(len(numbers)), numbers):
        column.metric(label, value)
    st.subheader(f"What neuron {neuron} does")
    what_the_neuron_does(context, layer, neuron)
    chart(view.trace_figure(run, layer, sequence, neuron, window))
    left, right = st.columns(2)
    for column, figure in ((left, view.drive_figure(context.model, run, objective, layer, neuron)),
                           (right, view.readout_figure(context.model, objective, table, neuron))):
        if figure is not None:
            chart(figure, where=column)
    overlay = view.input_overlay(run, objective, layer, sequence, neuron,
                                 window)
    if overlay is not None and overlay.html is not None:
        st.subheader("The text, coloured by the neuron")
        st.html(overlay.html)
    elif overlay is not None:
        chart(overlay.figure, width="content")
    st.subheader("Where it fires most across held-out data")
    firings = view.top_firings(held_out_run(context), objective, layer, neuron)
    if firings is not None:
        st.dataframe(firings.rows, hide_index=True)
        if firings.caption:
            st.caption(firings.caption)
        chart(firings.figure)


neuron_details()
