"""The Streamlit side of the app: choosing a model and an input, caching, shared page parts.

Everything that computes lives in :mod:`indrnn`; this package only gathers input and keeps
per-session state.
"""
