"""The Streamlit side of the app: choosing a model and an input, caching, shared page parts.

Everything that computes lives in :mod:`indrnn`; this package only gathers input and keeps
per-session state.

Importing the package also imports pandas and the parts of Plotly that a figure's JSON encoding
(``ui.charts.chart``, and ``st.plotly_chart`` where it falls back) loads lazily. Every page
imports this package (through :mod:`ui.sidebar`) before it draws anything, and Python makes
other threads wait until a module's first import has finished, so no session ever sees a
half-imported pandas. Without this, on a fresh server, sessions that draw their first figure at
the same time fail with "partially initialized module 'pandas' has no attribute 'Series'":
Plotly looks pandas up in ``sys.modules`` while another session's thread is still importing it
(``_plotly_utils.optional_imports.get_module(..., should_load=False)``). Found by
``bench/load_test.py``; ``tests/app/test_isolation.py`` checks the imports.
"""

import pandas  # noqa: F401
import plotly.io
import plotly.tools  # noqa: F401
