"""IndRNN Inspector, ``streamlit run app.py``: the app's entry point and page menu.

Every page lives in ``pages/`` and shares the sidebar (:func:`ui.sidebar.sidebar`): a model and an
input, run once and kept per session. The overview (``pages/0_Overview.py``) is the home page.
"""

from pathlib import Path

import streamlit as st

import indrnn  # noqa: F401  (first: it gives torch its settings before any page loads torch)

st.set_page_config(page_title="IndRNN Inspector", page_icon="🔬", layout="wide")
# Files named N_Title.py, in N order; each page's title and URL come from its file name.
PAGE_FILES = sorted((Path(__file__).parent / "pages").glob("[0-9]_*.py"))
st.navigation([st.Page(path, default=index == 0) for index, path in enumerate(PAGE_FILES)]).run()
