"""What each page of the app shows, as plain functions: a run (and the model, its objective) in,
figures, tables and lines of text out. A page gathers its widgets, calls one function here per
figure and draws what it returns; nothing here imports streamlit.

One module per page: :mod:`~indrnn.views.overview`, :mod:`~indrnn.views.neurons`,
:mod:`~indrnn.views.memory`, :mod:`~indrnn.views.compare` (IndRNN vs LSTM),
:mod:`~indrnn.views.ablation`, :mod:`~indrnn.views.patterns`, :mod:`~indrnn.views.discovery`;
:mod:`~indrnn.views.predictions` is shared by several.
"""
