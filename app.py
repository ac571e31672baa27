"""IndRNN Inspector: the app's front door (``streamlit run app.py``)."""

import streamlit as st

import indrnn

st.set_page_config(page_title="IndRNN Inspector", layout="wide")
st.title("IndRNN Inspector")
st.write(
    "Look inside Independently Recurrent Neural Networks: every neuron has one recurrent "
    "weight u, so its memory and role can be read off directly."
)
st.info(
    "The interactive views arrive with the app issue. The library is usable now: "
    f"`indrnn` exports {', '.join(indrnn.__all__)}."
)
