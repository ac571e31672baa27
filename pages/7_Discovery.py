"""Discovery: neurons that follow something known about the input (position, strings, brackets,
markers, an input channel) or that pick out a class."""

import streamlit as st

from indrnn.views import discovery as view
from ui.charts import chart
from ui.state import cached, remembered, reset_when_changed
from ui.widgets import held_out_run, layer_picker, open_page, sequence_picker

context = open_page("Discovery")
top = st.columns(3)
layer = layer_picker(context, where=top[0])
if layer is None:
    st.stop()
sequence = sequence_picker(context, where=top[1])
k = int(top[2].slider("Neurons per track", 3, 20, 8, key="discovery_k"))
held_out, objective = held_out_run(context), context.objective
if layer not in held_out.layers:
    st.info("The held-out run has no such layer.")
    st.stop()
# One ranking per model and layer, kept for this session (the widgets below only re-slice it).
correlations = cached("discovery", (context.name, layer),
                      lambda: view.track_correlations(held_out, objective, layer), most=1,
                      spinner="Correlating every neuron with every track over the held-out "
                              "data…")
statistic = remembered(st.radio, "Rank by", list(view.STATISTICS), "discovery_statistic",
                       "rank_by", format_func=view.STATISTICS.__getitem__, horizontal=True,
                       help="Many tracks grow with time (the step, steps since a marker), and so "
                            "do ramping neurons: with the time step regressed out of both, only "
                            "what a neuron follows beyond time is left.")
st.caption(f"Pearson's r of every neuron of {layer} with each annotation track, over every step "
           f"of {len(held_out.lengths)} held-out sequences; the strongest |r| first (red "
           "positive, blue negative). Dashed: the |r| the strongest neuron reaches with the "
           "track of another sequence (chance). A track whose strongest |r| is no higher than "
           "its chance is followed only as far as it shares every sequence's time course: rank "
           "with the time step removed to see what is left.")
names = list(correlations)
shown = st.multiselect("Tracks", names, default=names[:6], key="discovery_tracks")
if shown:
    chart(view.ranking_figure(correlations, shown, k, statistic))
    st.dataframe(view.controls_table(correlations, shown), hide_index=True)
else:
    st.info("Pick at least one track to rank neurons by.")

st.subheader("One neuron against one track, on the current input")
cols = st.columns(2)
track = remembered(cols[0].selectbox, "Track", names, "discovery_track", "track")
ranked = view.ranked_by(correlations[track], statistic)
# a new track (or layer, or model) opens on its strongest neuron
reset_when_changed("discovery_neuron", context.name, layer, track, statistic,
                   query="track_neuron")
neuron = remembered(cols[1].selectbox, "Neuron (strongest first)", ranked.neurons.tolist(),
                    "discovery_neuron", "track_neuron", default=int(ranked.neurons[0]),
                    format_func=lambda n: view.neuron_label(correlations[track], n))
chart(view.neuron_on_track(context.run, objective, layer, sequence, neuron, track,
                                     correlations[track]))

how = None
if objective.held_out_labels(held_out.source_indices, len(held_out.lengths)) is not None:
    st.subheader("Neurons that pick out a class")
    how = st.radio("One value per sequence", list(view.FEATURES), horizontal=True,
                   key="discovery_feature", format_func=view.FEATURES.get)
selectivity = None if how is None else view.class_selectivity(held_out, objective, layer, how, k)
if selectivity is not None:
    st.caption(selectivity.caption)
    if selectivity.missing:
        st.caption(selectivity.missing)
    if selectivity.figure is None:
        st.info("These held-out sequences are all of one class: nothing to separate.")
    else:
        chart(selectivity.figure)
        st.dataframe(selectivity.table, hide_index=True)
