"""Overview, the home page: the model, its card, its prediction for the input, and each layer's
activity."""

import streamlit as st

from indrnn import catalog
from indrnn.analysis.locate import indrnn_layers, lstm_layers
from indrnn.limits import describe as describe_limits
from indrnn.views.findings import finding_views
from indrnn.views.overview import card_lines, first_prediction, input_view, layer_activity
from indrnn.views.predictions import prediction_lines
from ui.charts import chart
from ui.sidebar import sidebar
from ui.widgets import finding_buttons, model_findings, waiting_for_input

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

objective, targets = context.objective, context.parsed.targets
left, right = st.columns(2)
with left:
    st.subheader(context.name)
    note = None if context.uploaded else catalog.learning_note(context.name)
    if note:
        st.warning(note.text)
    for line in card_lines(context.model, context.card, objective):
        st.write(line)
    if context.card.get("paper"):
        st.caption(f"Paper: {context.card['paper']}")
with right:
    st.subheader("Prediction")
    for line in prediction_lines(context.run, objective, targets):
        st.write(line)
    figure = first_prediction(context.name, context.run, objective, targets)
    if figure is not None:
        chart(figure)

st.subheader("What this model does")
found = model_findings(context)
if found == []:  # None: an upload whose findings the user has not asked for yet
    st.info("No finding: findings are made for IndRNN and LSTM layers, and this model has none."
            if not indrnn_layers(context.model) and not lstm_layers(context.model) else
            "No finding: no group of neurons whose silencing changes the metric held on the "
            "test split.")
elif found:
    st.caption("Each finding was discovered on the validation split and measured on the test "
               "split, with the named neurons silenced (h = 0; an LSTM unit's output gate shut) "
               "to test it.")
for number, shown in enumerate(finding_views(found or [], context.run, objective), 1):
    st.markdown(f"**{number}.** {shown.claim}")
    if shown.on_input:
        st.caption(shown.on_input)
    finding_buttons(number, shown.layer, shown.neurons,
                    lstm=context.run.layers[shown.layer].kind == "lstm")

st.subheader("The input")
shown = input_view(context.run, objective)
if shown.text is not None:
    st.code(shown.text, language=None, height=240)
else:
    chart(shown.figure)
st.caption(shown.caption)

st.subheader("Layers")
activity = layer_activity(context.run)
chart(activity.figure)
st.dataframe(activity.rows, hide_index=True)
with st.expander("Architecture"):
    st.code(str(context.model), language="text")
