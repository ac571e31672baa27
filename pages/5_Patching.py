"""Patching: run this sequence while chosen IndRNN neurons take the states they have on another
input (an interchange intervention), and see how much of that input's effect on the output they
carry. If neurons hold a value, giving them another input's states moves the output as that
input would. The shared model is never changed."""

import streamlit as st

from indrnn.analysis._common import is_reverse
from indrnn.views import patching as view
from ui.charts import chart
from ui.patching import patched_neurons, patched_steps, source_input
from ui.widgets import indrnn_only, layer_picker, open_page, sequence_picker

context = open_page("Patching: give neurons another input's states")
run = context.run
if not run.layers_of_kind("indrnn"):
    indrnn_only(context, "Patching gives IndRNN neurons, each with its own state, the states "
                "they have on another input.")

top = st.columns(2)
layer = layer_picker(context, kinds=("indrnn",), where=top[0])
sequence = sequence_picker(context, where=top[1])
if is_reverse(layer):
    st.info(f"{layer} runs backward in time; patching runs forward: pick its forward "
            "direction.")
    st.stop()
neurons = patched_neurons(context, layer)
source = source_input(context, sequence)
window = patched_steps(context, sequence)
if not neurons:
    st.info("Pick one or more neurons to patch.")
    st.stop()
if source is None:
    st.stop()
inputs, what = source
shown = view.patch_view(context.model, run, sequence, layer, neurons, inputs,
                        context.objective, window)
span = "every step" if window is None else f"steps {window[0]:,} to {window[1] - 1:,}"
named = (f"neuron {neurons[0]} of {layer} takes, on {span}, the states it has" if len(neurons) == 1
         else f"neurons {', '.join(map(str, neurons))} of {layer} take, on {span}, the states "
              "they have")
st.caption(f"Sequence {sequence} runs while {named} on {what}.")
outputs, states = view.patch_figures(shown)
st.subheader("The output")
chart(outputs)
st.markdown(view.carried_line(shown))
st.subheader("The patched neurons")
chart(states)
