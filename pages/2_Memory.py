"""Memory: u against the paper's bounds, τ and half-life, flags, impulse responses, and the
exact gradient through time, IndRNN beside the LSTM trained on the same task."""

import streamlit as st

from indrnn.limits import MAX_GRADIENT_STEPS
from indrnn.views import memory as view
from ui.charts import chart
from ui.widgets import (
    layer_picker,
    neuron_picker,
    open_page,
    partner,
    sequence_picker,
    this_model,
)

context = open_page("Memory")
this, other = this_model(context), partner(context)
sequence = sequence_picker(context)
steps = int(context.run.lengths[sequence])
figures = view.memory_figures(this, other, context.info.seq_len)
if figures is not None:
    st.caption("u of every neuron: |u| < 1 decays, u ≤ 0 keeps nothing, |u| > 1 grows while the "
               "neuron is active. τ = −1/ln|u|, half-life = ln 0.5 / ln|u|.")
    left, right = st.columns(2)
    chart(figures.u, where=left)
    chart(figures.flags, where=right)
    chart(figures.tau)
else:
    st.info("This model has no IndRNN layer: its LSTM memory is on the IndRNN vs LSTM page.")

st.subheader("Impulse response: measured against u^k")
layer = layer_picker(context, kinds=("indrnn",)) if figures is not None else None
if layer is not None:
    cols = st.columns(3)
    with cols[0]:
        neuron = neuron_picker(context, layer)
    kick_at = cols[1].slider("Kick at step", 0, max(0, steps - 2), min(steps // 4, steps - 1),
                             key="impulse_t0")
    kind = cols[2].radio("Kick", ["impulse", "step"], horizontal=True, key="impulse_kind")
    chart(view.impulse(this, layer, neuron, sequence, kick_at, kind))

st.subheader("Gradient through time")
if steps > MAX_GRADIENT_STEPS:
    st.info(f"Exact gradients through time are computed for inputs of up to "
            f"{MAX_GRADIENT_STEPS:,} steps; this sequence has {steps:,}. The impulse response "
            "above and the memory of each neuron hold at any length.")
    st.stop()
gradients = view.gradient_figures([this] if other is None else [this, other], sequence)
st.caption("‖∂y/∂x_t‖: how much the prediction depends on each input step (exact, autograd).")
chart(gradients.over_time)
if gradients.maps is not None:
    st.caption("Neuron × lag: the exact factor by which each unit's state at the last step "
               "depends on its own state k steps earlier.")
    chart(gradients.maps)
