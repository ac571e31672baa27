"""Export: the current run as NPZ, per-neuron tables as CSV, figures as images, and a link that
reopens the last page looked at with every choice made."""

from functools import partial

import streamlit as st

from indrnn.export import (
    file_stem,
    memory_columns,
    neuron_table_columns,
    query_string,
    recording_contents,
    recording_npz,
    table_csv,
)
from indrnn.figures.neurons import activation_heatmap
from indrnn.views.memory import memories
from indrnn.views.neurons import neuron_table
from ui.charts import chart
from ui.state import shared_choices
from ui.widgets import layer_picker, open_page, sequence_picker

context = open_page("Export")
run, stem = context.run, file_stem(context.name)

st.subheader("The recording")
st.caption("Every recorded layer's states for the current input, as a compressed NumPy archive "
           "(numbers only: `numpy.load(path, allow_pickle=False)` reads it). Keys: `inputs` "
           "(batch-first), `lengths`, `outputs` (the readout), and per layer `LAYER/hidden` and "
           "its other tensors (IndRNN pre-activations, input projections and u; LSTM gates and "
           "cells), time-major (T, B, N); u as (N,).")
contents = recording_contents(run)
raw = sum(row["bytes"] for row in contents)
# Built when the button is clicked, not kept: a session holds its run once, not its archive too.
st.download_button(f"Recording (NPZ; {raw / 1e6:.2f} MB of arrays before compression)",
                   partial(recording_npz, run), file_name=f"{stem}_recording.npz",
                   mime="application/zip", key="export_npz_button")
with st.expander("What the archive holds"):
    st.dataframe([{"key": row["key"], "shape": str(row["shape"]), "dtype": row["dtype"],
                   "MB": round(row["bytes"] / 1e6, 3)} for row in contents], hide_index=True)

st.subheader("Per-neuron tables")
layer = layer_picker(context)
if layer is not None:
    table = neuron_table_columns(neuron_table(context.model, run, layer))
    st.caption("u, τ = −1/ln|u| and half-life (IndRNN layers; empty for LSTM units), mean "
               "activation and fraction of steps active on the current input, and the weight "
               "into the readout for the last layer.")
    st.download_button(f"Neurons of {layer} (CSV)", table_csv(table),
                       file_name=f"{stem}_{layer}_neurons.csv", mime="text/csv",
                       key="export_neurons_button")
found = memories(context.model, run, context.info.seq_len)
if found:
    st.caption("The memory analysis of every layer: u, τ, half-life and the flags of IndRNN "
               "neurons (dead on the current input, sign-flipping, no memory, exploding, "
               "saturating, at the lower bound); LSTM units' mean forget gate, τ and half-life.")
    st.download_button("Memory analysis, every layer (CSV)", table_csv(memory_columns(found)),
                       file_name=f"{stem}_memory.csv", mime="text/csv",
                       key="export_memory_button")

st.subheader("Figures")
st.write("Every figure of the app has Plotly's camera button (top right of the figure, "
         "**Download plot as a PNG**): it saves the figure as you see it, zoom included. "
         "Tables have a download button in their toolbar.")
if layer is not None:
    sequence = sequence_picker(context)
    chart(activation_heatmap(run.states(layer, sequence).numpy(),
                                       title=f"{layer}: neurons × steps (try the camera)"))

st.subheader("A link to this view")
params = {**shared_choices(), **st.query_params.to_dict()}
page = st.session_state.get("linked_page", "")
link = f"/{page}?{query_string(params)}" if params else f"/{page}"
st.write(f"Every choice that shapes a view (model, input, layer, neuron, sequence, unit, the "
         f"ablated neurons, the pattern's neurons) is kept in the address. This link reopens "
         f"the page you looked at last (**{page or 'Overview'}**) with all of them; put it after "
         "the app's address (e.g. `http://localhost:8501`). Uploaded and typed inputs stay in "
         "your session and are not part of the link.")
st.code(link, language="text")
if params:
    st.dataframe([{"parameter": key, "value": value} for key, value in params.items()],
                 hide_index=True)
