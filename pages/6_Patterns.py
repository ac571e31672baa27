"""Pattern search (LSTMVis): neurons that are on together, and every stretch of held-out data
where they are on again."""

import streamlit as st

from indrnn.views import patterns as view
from ui.charts import chart
from ui.state import (
    parse_number,
    parse_span,
    remembered,
    remembered_set,
    remembered_value,
    reset_when_changed,
    show_span,
)
from ui.widgets import held_out_run, layer_picker, open_page, sequence_picker, silent_marked

context = open_page("Pattern search")
st.caption("A pattern is a set of neurons that are all above a threshold together. Pick the "
           "neurons, or select a window of the input and take the neurons that are on "
           "throughout it; every stretch of the held-out data where all of them are on again is "
           "listed, best first (score: the weakest neuron's mean margin over the threshold).")
top = st.columns(3)
layer = layer_picker(context, where=top[0])
if layer is None:
    st.stop()
sequence = sequence_picker(context, where=top[1])
mode = remembered(top[2].radio, "Neurons", ["pick neurons", "select from a window"],
                  "pattern_mode", "pattern_mode", horizontal=True)
run, objective = context.run, context.objective
steps, size = run.states(layer, sequence).shape
defaults = view.pattern_defaults(run, layer, sequence)
# The defaults follow the view: a new model, input, layer or sequence opens on its own.
reset_when_changed("pattern_neurons", context.name, context.input_key, layer, sequence,
                   query="pattern", together=(("pattern_threshold", "threshold"),
                                              ("pattern_window", "pattern_window")))

settings = st.columns(3)
threshold = float(remembered_value(
    settings[0].number_input, "Threshold (on: above it)", "pattern_threshold", "threshold",
    float(defaults.threshold), parse_number, show=lambda v: f"{v:.6g}", format="%.4g"))
min_length = int(settings[1].number_input("Minimum length (steps)", min_value=1, step=1,
                                          value=min(2, steps), key="pattern_min_length"))
limit = int(settings[2].number_input("Matches kept at most", min_value=1, max_value=1000,
                                     step=10, value=200, key="pattern_limit"))
if mode == "pick neurons":
    neurons = remembered_set(st.multiselect, "Neurons of the pattern", list(range(size)),
                             "pattern_neurons", "pattern", default=defaults.neurons,
                             format_func=silent_marked(context, layer))
else:
    cols = st.columns([3, 1])
    window = remembered_value(
        cols[0].slider, "Window on the current input (steps [start, end))", "pattern_window",
        "pattern_window", tuple(defaults.window), lambda text: parse_span(text, steps),
        show=show_span, min_value=0, max_value=steps)
    off = int(cols[1].number_input("Off for this many steps around it", min_value=0, value=0,
                                   step=1, key="pattern_off_outside"))
    neurons, said = view.window_neurons(run, layer, sequence, window, threshold, off)
    st.write(said)
if not neurons:
    st.info("No neuron selected: pick some, or lower the threshold or shorten the window.")
    st.stop()

here = view.current_matches(run, objective, layer, sequence, neurons, threshold, min_length)
chart(here.figure)
if here.caption:
    st.caption(here.caption)

st.subheader("Matches across the held-out data")
found = view.held_out_matches(held_out_run(context), objective, layer, neurons, threshold,
                              min_length, limit)
if found is None:
    st.info("The held-out run has no such layer.")
    st.stop()
st.write(found.summary)
if found.figure is None:
    st.info("The pattern does not occur in the held-out data at this threshold and length.")
else:
    chart(found.figure)
    st.dataframe(found.rows, hide_index=True)
    st.download_button("Matches as CSV", found.csv, file_name="pattern_matches.csv",
                       mime="text/csv", key="pattern_csv")
