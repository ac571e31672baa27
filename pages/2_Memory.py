"""Memory: u against the paper's bounds, τ and half-life, flags, impulse responses, and the
exact gradient through time, IndRNN beside the LSTM trained on the same task."""

import streamlit as st

from indrnn.analysis import (
    impulse_response,
    indrnn_gradient_map,
    indrnn_memory,
    lstm_cell_gradient_map,
    lstm_memory,
    saliency,
)
from indrnn.figures.gradients import gradient_maps, gradient_over_time
from indrnn.figures.memory import flag_counts, impulse_figure, tau_histogram, u_strip
from indrnn.limits import MAX_GRADIENT_STEPS
from ui.resources import pretrained
from ui.sidebar import partner_run, sidebar
from ui.widgets import layer_picker, neuron_picker, sequence_picker, waiting_for_input

st.set_page_config(page_title="Memory · IndRNN Inspector", layout="wide")
context = sidebar()
st.title("Memory")
if context is None:
    waiting_for_input()
    st.stop()

model = context.checkpoint.model
inspection = context.inspection
sequence = sequence_picker(context)
steps = int(inspection.lengths[sequence])
gamma = 2.0 if context.info.name == "adding" else 5.0  # the recipes' γ (adding: the paper's 2)
memory = indrnn_memory(model, seq_len=context.info.seq_len or steps, gamma=gamma,
                       recording=inspection)
other = partner_run(context)

if memory:
    st.caption("u of every neuron: |u| < 1 decays, u ≤ 0 keeps nothing, |u| > 1 grows while the "
               "neuron is active. τ = −1/ln|u|, half-life = ln 0.5 / ln|u|.")
    left, right = st.columns(2)
    left.plotly_chart(u_strip(memory), width="stretch", theme=None)
    right.plotly_chart(flag_counts({name: m.flags for name, m in memory.items()}),
                       width="stretch", theme=None)
    taus = {name: m for name, m in memory.items()}
    if other is not None:
        for name, record in other[1].layers.items():
            if record.kind == "lstm":
                taus[f"LSTM {name}"] = lstm_memory(record, other[1].lengths)
    title = "Memory per neuron: IndRNN τ from u, LSTM τ from its mean forget gate"
    st.plotly_chart(tau_histogram(taus, title=title), width="stretch", theme=None)
else:
    st.info("This model has no IndRNN layer: its LSTM memory is on the IndRNN vs LSTM page.")

st.subheader("Impulse response: measured against u^k")
layer = layer_picker(context, kinds=("indrnn",)) if memory else None
if layer is not None:
    cols = st.columns(3)
    with cols[0]:
        neuron = neuron_picker(inspection.layers[layer].hidden.shape[-1])
    t0 = cols[1].slider("Kick at step", 0, max(0, steps - 2), min(steps // 4, steps - 1),
                        key="impulse_t0")
    kind = cols[2].radio("Kick", ["impulse", "step"], horizontal=True, key="impulse_kind")
    x = inspection.inputs[sequence: sequence + 1, :steps]
    response = impulse_response(model, x, layer, neuron, t0, kind=kind)
    st.plotly_chart(impulse_figure(response), width="stretch", theme=None)

st.subheader("Gradient through time")
if steps > MAX_GRADIENT_STEPS:
    st.info(f"Exact gradients through time are computed for inputs of up to "
            f"{MAX_GRADIENT_STEPS:,} steps; this sequence has {steps:,}. The impulse response "
            "above and the memory of each neuron hold at any length.")
    st.stop()
x = inspection.inputs[sequence: sequence + 1, :steps]
runs = [(context.name, model, inspection)]
if other is not None:
    runs.append((other[0], pretrained(other[0]).model, other[1]))
norms, maps = {}, {}
for name, run_model, run in runs:
    norms[name] = saliency(run_model, x).input_norm[0].numpy()
    last = list(run.layers)[-1]
    record = run.layers[last]
    if record.kind == "indrnn":
        maps[f"{name} · {last} (Π u σ′)"] = indrnn_gradient_map(record, end=steps - 1)[
            sequence].numpy()
    else:
        maps[f"{name} · {last} (Π f)"] = lstm_cell_gradient_map(record, end=steps - 1)[
            sequence].numpy()
st.caption("‖∂y/∂x_t‖: how much the prediction depends on each input step (exact, autograd).")
st.plotly_chart(gradient_over_time(norms), width="stretch", theme=None)
if maps:
    st.caption("Neuron × lag: the exact factor by which each unit's state at the last step "
               "depends on its own state k steps earlier.")
    st.plotly_chart(gradient_maps(maps), width="stretch", theme=None)
