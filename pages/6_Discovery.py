"""Discovery: neurons that follow something known about the input (position, strings, brackets,
markers, an input channel) or that pick out a class."""

import numpy as np
import streamlit as st

from indrnn.analysis import (
    adding_tracks,
    code_tracks,
    correlate_tracks,
    input_tracks,
    label_selectivity,
    sequence_features,
    time_track,
    top_neurons,
)
from indrnn.figures.discovery import track_bars, track_trace
from ui.sidebar import sidebar
from ui.widgets import dataset_run, layer_picker, sequence_picker, step_text, waiting_for_input

st.set_page_config(page_title="Discovery · IndRNN Inspector", layout="wide")
context = sidebar()
st.title("Discovery")
if context is None:
    waiting_for_input()
    st.stop()

info = context.info
is_text = info.output_kind == "per_step_lm"


def tracks_of(run, texts):
    """Annotation tracks of a run's input, ``(T, B)`` each (NaN past a sequence's end)."""
    batch, steps = run.inputs.shape[:2]  # batch-first
    tracks = {"time step": time_track(steps, batch)}
    if texts is not None:  # Python source: position in line, strings, brackets, …
        per_sequence = [code_tracks(text) for text in texts]
        for name in per_sequence[0]:
            track = np.full((steps, batch), np.nan)
            for b, annotated in enumerate(per_sequence):
                track[: len(annotated[name]), b] = annotated[name]
            tracks[name] = track
        return tracks
    if info.name == "adding":
        tracks.update(adding_tracks(run.inputs))
    names = list(info.channel_names or [])
    names = names if len(names) == run.inputs.shape[-1] else None
    tracks.update({f"input {name}": track
                   for name, track in input_tracks(run.inputs, names).items()})
    return tracks


top = st.columns(3)
layer = layer_picker(context, where=top[0])
if layer is None:
    st.stop()
sequence = sequence_picker(context, where=top[1])
k = int(top[2].slider("Neurons per track", 3, 20, 8, key="discovery_k"))

data = dataset_run(context)
if layer not in data.layers:
    st.info("The held-out run has no such layer.")
    st.stop()
hidden = data.layers[layer].hidden
if is_text:
    from indrnn.data.text import decode

    data_texts = [decode(row[: int(n)]) for row, n in zip(data.inputs, data.lengths)]
else:
    data_texts = None

# One ranking per model and layer, kept for this session (the widgets below only re-slice it).
cache_key = (context.name, layer)
cached = st.session_state.get("discovery_correlations")
if cached is None or cached[0] != cache_key:
    with st.spinner("Correlating every neuron with every track over the held-out data…"):
        correlations = correlate_tracks(hidden, tracks_of(data, data_texts), k=hidden.shape[-1],
                                        lengths=data.lengths)
    st.session_state["discovery_correlations"] = (cache_key, correlations)
correlations = st.session_state["discovery_correlations"][1]

st.caption(f"Pearson's r of every neuron of {layer} with each annotation track, over every step "
           f"of {len(data.lengths)} held-out sequences; the strongest |r| first (red positive, "
           "blue negative).")
names = list(correlations)
shown = st.multiselect("Tracks", names, default=names[:6], key="discovery_tracks")
if shown:
    st.plotly_chart(track_bars(correlations, tracks=shown, k=k), width="stretch", theme=None)
else:
    st.info("Pick at least one track to rank neurons by.")

st.subheader("One neuron against one track, on the current input")
cols = st.columns(2)
track_name = cols[0].selectbox("Track", names, key="discovery_track")
ranked = correlations[track_name]
options = ranked.neurons.tolist()  # every neuron, strongest |r| first
neuron = cols[1].selectbox("Neuron (strongest first)", options, key="discovery_neuron",
                           format_func=lambda n: f"{n} (r = {ranked.r[n]:.3f})")
steps = int(context.inspection.lengths[sequence])
texts = None
if is_text:
    texts = [step_text(context, b) for b in range(len(context.inspection.lengths))]
current = tracks_of(context.inspection, texts)[track_name][:steps, sequence]
values = context.inspection.states(layer, sequence)[neuron].numpy()
st.plotly_chart(track_trace(values, current, neuron=neuron, track_name=track_name,
                            r=float(ranked.r[neuron]),
                            title=f"Neuron {neuron} against {track_name} "
                                  f"(r = {float(ranked.r[neuron]):.3f} over held-out data)"),
                width="stretch", theme=None)

if info.output_kind == "classification_last_step":
    st.subheader("Neurons that pick out a class")
    how = st.radio("One value per sequence", ["last", "mean", "max"], horizontal=True,
                   key="discovery_feature",
                   format_func={"last": "its last step", "mean": "mean over its steps",
                                "max": "max over its steps"}.get)
    count = len(data.lengths)
    labels = (context.task.test.targets[:count] if data.source_indices is None
              else context.task.test.targets[data.source_indices])
    features = sequence_features(hidden, how, lengths=data.lengths)
    selectivity = label_selectivity(features, labels, num_classes=info.num_classes)
    class_names = list(info.class_names or [str(c) for c in range(info.num_classes)])
    present = sorted(set(labels.tolist()))
    per_class = {class_names[c]: top_neurons(selectivity.point_biserial[c], k, absolute=False)
                 for c in present}
    st.caption(f"Point-biserial r of each neuron's value with \"the sequence is this class\", "
               f"over {count} held-out sequences; the most positive first.")
    if len(present) < len(class_names):
        missing = [class_names[c] for c in range(len(class_names)) if c not in present]
        st.caption(f"Not among these held-out sequences: {', '.join(missing)}.")
    if len(present) > 1:
        st.plotly_chart(track_bars(per_class, k=k, title="Top neurons per class"),
                        width="stretch", theme=None)
        order, eta = top_neurons(selectivity.eta_squared, k, absolute=False)
        st.dataframe({"neuron": order.tolist(),
                      "η² (share of variance between classes)": np.round(eta, 4).tolist(),
                      "F": np.round(selectivity.f_statistic[order], 3).tolist(),
                      "highest for": [class_names[c] for c in selectivity.best_class[order]]},
                     hide_index=True)
    else:
        st.info("These held-out sequences are all of one class: nothing to separate.")
