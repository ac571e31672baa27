"""Pattern search (LSTMVis): neurons that are on together, and every stretch of held-out data
where they are on again."""

import numpy as np
import streamlit as st

from indrnn.analysis import find_pattern, neurons_on_in_window
from indrnn.export import match_columns, table_csv
from indrnn.figures.patterns import pattern_trace, pattern_windows
from ui.sidebar import sidebar
from ui.widgets import dataset_run, layer_picker, sequence_picker, step_text, waiting_for_input

st.set_page_config(page_title="Pattern search · IndRNN Inspector", layout="wide")
context = sidebar()
st.title("Pattern search")
if context is None:
    waiting_for_input()
    st.stop()

st.caption("A pattern is a set of neurons that are all above a threshold together. Pick the "
           "neurons, or select a window of the input and take the neurons that are on "
           "throughout it; every stretch of the held-out data where all of them are on again is "
           "listed, best first (score: the weakest neuron's mean margin over the threshold).")
top = st.columns(3)
layer = layer_picker(context, where=top[0])
if layer is None:
    st.stop()
sequence = sequence_picker(context, where=top[1])
mode = top[2].radio("Neurons", ["pick neurons", "select from a window"], horizontal=True,
                    key="pattern_mode")
inspection = context.inspection
states = inspection.states(layer, sequence).T.numpy()  # (T, N) of the current sequence
steps, neurons_in_layer = states.shape

# Defaults follow the layer and input: the two most active neurons on this sequence, a
# threshold their weaker one passes on half of the steps, a short window mid-sequence.
default_neurons = sorted(np.argsort(-states.mean(0), kind="stable")[:2].tolist())
default_threshold = float(f"{float(np.median(states[:, default_neurons].min(1))):.3g}")
width = max(1, min(10, steps // 10))
default_window = (max(0, (steps - width) // 2), max(0, (steps - width) // 2) + width)
view = (context.name, context.input_key, layer, sequence)
if st.session_state.get("pattern_defaults_for") != view:
    st.session_state["pattern_defaults_for"] = view
    for key in ("pattern_neurons", "pattern_threshold", "pattern_window"):
        st.session_state.pop(key, None)

settings = st.columns(3)
threshold = float(settings[0].number_input("Threshold (on: above it)", value=default_threshold,
                                           key="pattern_threshold", format="%.4g"))
min_length = int(settings[1].number_input("Minimum length (steps)", min_value=1, step=1,
                                          value=min(2, steps),
                                          key="pattern_min_length"))
limit = int(settings[2].number_input("Matches kept at most", min_value=1, max_value=1000,
                                     step=10, value=200, key="pattern_limit"))

if mode == "pick neurons":
    neurons = st.multiselect("Neurons of the pattern", list(range(neurons_in_layer)),
                             default=default_neurons, key="pattern_neurons")
else:
    cols = st.columns([3, 1])
    start, end = cols[0].slider("Window on the current input (steps [start, end))", 0, steps,
                                value=default_window, key="pattern_window")
    end = max(end, start + 1) if start < steps else steps
    start = min(start, end - 1)
    off_outside = int(cols[1].number_input("Off for this many steps around it", min_value=0,
                                           value=0, step=1,
                                           key="pattern_off_outside"))
    neurons = neurons_on_in_window(inspection.layers[layer].hidden, sequence, start, end,
                                   threshold, off_outside=off_outside,
                                   lengths=inspection.lengths).tolist()
    st.write(f"Neurons above {threshold:.4g} at every step of [{start}, {end}): "
             + (", ".join(map(str, neurons)) if neurons else "none"))
if not neurons:
    st.info("No neuron selected: pick some, or lower the threshold or shorten the window.")
    st.stop()

here = [m for m in find_pattern(inspection.layers[layer].hidden, neurons, threshold,
                                min_length=min_length, lengths=inspection.lengths)
        if m.sequence == sequence]  # best first
st.plotly_chart(pattern_trace(states, neurons, here, threshold=threshold, sequence=sequence,
                              title=f"{layer}: the pattern on the current input"),
                width="stretch", theme=None)
text = step_text(context, sequence)
if text is not None and here:
    st.caption("Matched text on the current input (best first): "
               + " · ".join(text[m.start:m.end].replace("\n", "↵") for m in here[:10]))

st.subheader("Matches across the held-out data")
data = dataset_run(context)
if layer not in data.layers:
    st.info("The held-out run has no such layer.")
    st.stop()
hidden = data.layers[layer].hidden
traces = [hidden[: int(n), b].numpy() for b, n in enumerate(data.lengths)]
found = find_pattern(traces, neurons, threshold, min_length=min_length)
matches = found[:limit]
texts = None
if context.info.output_kind == "per_step_lm":
    from indrnn.data.text import decode

    texts = [decode(row[: int(n)]) for row, n in zip(data.inputs, data.lengths)]
st.write(f"**{len(found)}** stretch{'es' if len(found) != 1 else ''} of ≥ {min_length} "
         f"steps in {len(traces)} held-out sequences"
         + (f" (the best {limit} listed)" if len(found) > limit else "") + ".")
if matches:
    st.plotly_chart(pattern_windows(traces, neurons, matches, threshold=threshold, text=texts,
                                    title="The best matches, with context"),
                    width="stretch", theme=None)
    columns = match_columns(matches, texts, data.source_indices)
    st.dataframe(columns, hide_index=True)
    st.download_button("Matches as CSV", table_csv(columns), file_name="pattern_matches.csv",
                       mime="text/csv", key="pattern_csv")
else:
    st.info("The pattern does not occur in the held-out data at this threshold and length.")
