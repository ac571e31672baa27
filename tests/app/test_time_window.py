"""Long inputs get a time window that every view of the Neurons page follows, kept in the link;
the Pattern page's threshold and window are in the link too (AppTest)."""

import base64

import numpy as np
import torch
from apptest import charts, open_page
from streamlit.testing.v1 import AppTest


def _values(encoded) -> np.ndarray:
    """A Plotly array as the browser gets it: a list, or a base64 typed array."""
    if isinstance(encoded, dict):
        return np.frombuffer(base64.b64decode(encoded["bdata"]), dtype=encoded["dtype"])
    return np.asarray(encoded, dtype=float)


def _charts(at: AppTest) -> dict[str, dict]:
    specs = charts(at)
    return {s["layout"].get("title", {}).get("text", ""): s for s in specs}


def _steps_shown(at: AppTest, title: str) -> tuple[float, float]:
    spec = next(s for t, s in _charts(at).items() if t.startswith(title))
    # the heatmap's row handles (on their own y axis) sit left of the first step on purpose
    x = np.concatenate([_values(trace["x"]) for trace in spec["data"]
                        if "x" in trace and trace.get("yaxis") != "y2"])
    return float(x.min()), float(x.max())


def _query(at: AppTest, key: str) -> str:
    value = at.query_params[key]
    return value[0] if isinstance(value, list) else value


def test_the_neurons_page_follows_a_time_window_of_a_long_input_and_keeps_it_in_the_link():
    torch.set_flush_denormal(True)
    at = open_page("pages/1_Neurons.py", "adding1000_indrnn")
    window = at.slider(key="time_window")
    assert window.value == (0, 1000)  # opens on the whole 1,000-step input
    first, last = _steps_shown(at, "Neuron ")
    assert (first, last) == (0, 999)
    window.set_value((200, 400)).run()
    assert not at.exception
    assert _query(at, "window") == "200-400"
    assert _steps_shown(at, "Neuron ") == (200, 399)  # the trace follows
    assert _steps_shown(at, "body.l1") == (200, 399)  # and the heatmap

    reopened = open_page("pages/1_Neurons.py", "adding1000_indrnn", window="200-400")
    assert reopened.slider(key="time_window").value == (200, 400)
    assert _steps_shown(reopened, "Neuron ") == (200, 399)


def test_a_window_in_the_link_that_does_not_fit_the_input_opens_the_whole_input():
    torch.set_flush_denormal(True)
    for bad in ("400-200", "0-5000", "a-b", "-"):
        at = open_page("pages/1_Neurons.py", "adding1000_indrnn", window=bad)
        assert at.slider(key="time_window").value == (0, 1000), bad


def test_a_short_input_has_no_time_window():
    at = open_page("pages/1_Neurons.py", "basicmotions_indrnn")
    assert not [s for s in at.slider if s.key == "time_window"]


def test_the_pattern_threshold_and_window_are_in_the_link_and_reopen():
    torch.set_flush_denormal(True)
    at = open_page("pages/6_Patterns.py", "adding100_indrnn")
    at.number_input(key="pattern_threshold").set_value(0.25).run()
    assert _query(at, "threshold") == "0.25"
    at.radio(key="pattern_mode").set_value("select from a window").run()
    at.slider(key="pattern_window").set_value((10, 30)).run()
    assert not at.exception
    assert _query(at, "pattern_window") == "10-30"
    assert _query(at, "pattern_mode") == "select from a window"

    reopened = open_page("pages/6_Patterns.py", "adding100_indrnn", threshold="0.25",
                         pattern_mode="select from a window", pattern_window="10-30")
    assert reopened.number_input(key="pattern_threshold").value == 0.25
    assert reopened.slider(key="pattern_window").value == (10, 30)
