"""Overview, the home page: the model, its card, its prediction for the input, and each layer's
activity."""

import streamlit as st

from indrnn.analysis import activity_summaries
from indrnn.figures.overview import layer_activity_bars, prediction_bars, regression_bars
from indrnn.limits import describe as describe_limits
from ui.sidebar import sidebar
from ui.widgets import waiting_for_input

context = sidebar()
st.title("IndRNN Inspector")
st.write(
    "Every IndRNN neuron has one recurrent weight *u*: its memory, its role and its effect on "
    "the output can be read off directly. Pick a model and an input in the sidebar."
)
if context is None:
    waiting_for_input()
    with st.expander("Limits on inputs"):
        st.table({"what": [w for w, _ in describe_limits()],
                  "limit": [v for _, v in describe_limits()]})
    st.stop()

card = context.card
left, right = st.columns(2)
with left:
    st.subheader(context.name)
    st.write(f"**Task**: {context.info.name} — {context.info.output_kind.replace('_', ' ')}")
    metrics = ", ".join(f"{k} {v:.4g}" for k, v in card.get("metrics", {}).get("test", {}).items())
    st.write(f"**Test metrics**: {metrics or 'not recorded'}")
    if card.get("paper"):
        st.caption(f"Paper: {card['paper']}")
    st.write(f"**Parameters**: {sum(p.numel() for p in context.checkpoint.model.parameters()):,}")
with right:
    st.subheader("Prediction")
    inspection = context.inspection
    for index, prediction in enumerate(inspection.predictions[:8]):
        target = context.parsed.targets
        known = "" if target is None else f" — target {target[index].tolist()}"
        st.write(f"Sequence {index} ({int(inspection.lengths[index])} steps): "
                 f"**{prediction.text}**{known}")

    first = inspection.predictions[0] if inspection.predictions else None
    if first is not None and context.info.output_kind == "regression":
        target = None if context.parsed.targets is None else context.parsed.targets[0]
        st.plotly_chart(regression_bars(first.values[0], target=target), width="stretch",
                        theme=None)
    elif first is not None:
        target = context.parsed.targets
        label = (None if target is None or context.info.output_kind == "per_step_lm"
                 else int(target[0]))
        st.plotly_chart(prediction_bars(list(first.values), class_names=list(first.labels),
                                        target=label, top_k=10),
                        width="stretch", theme=None)

st.subheader("Layers")
summaries = activity_summaries(context.inspection, context.inspection.lengths)
st.plotly_chart(layer_activity_bars(summaries), width="stretch", theme=None)
st.dataframe(
    [{"layer": name, "kind": record.kind, "neurons": record.hidden.shape[-1],
      "mean activation": round(summaries[name].mean_activation, 4),
      "fraction active": round(summaries[name].layer_fraction_active, 3),
      "dead neurons": int(summaries[name].dead.sum())}
     for name, record in context.inspection.layers.items()],
    hide_index=True,
)
with st.expander("Architecture"):
    st.code(str(context.checkpoint.model), language="text")
