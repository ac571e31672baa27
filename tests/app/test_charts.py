"""The app's chart element (``ui.charts.chart``) as Python sees it: each figure goes to the
browser once as Plotly JSON, and where Plotly.js cannot be served the app falls back to
Streamlit's own chart element. (Drawing and clicks are in test_browser_interactions.py.)"""

from __future__ import annotations

import json

import pytest
import streamlit as st
from apptest import charts
from streamlit.testing.v1 import AppTest

from ui import charts as element


def _script() -> None:
    import plotly.graph_objects as go
    import streamlit as st

    from ui.charts import chart

    figure = go.Figure(go.Scatter(x=[0, 1], y=[2, 3], customdata=[7, 8], mode="markers"))
    picked = chart(figure.update_layout(title="clickable"), key="points", clicks=True)
    st.write(f"picked {picked}")
    chart(go.Figure(go.Bar(x=["a"], y=[1])).update_layout(title="bars"), width="content")


@pytest.fixture
def static_serving():
    """Set ``server.enableStaticServing`` for one test (the element checks it once)."""
    before = st.get_option("server.enableStaticServing")

    def set_to(value: bool) -> None:
        st.config.set_option("server.enableStaticServing", value)
        element._served_plotly.cache_clear()

    yield set_to
    set_to(before)


def test_each_figure_goes_to_the_browser_once_as_plotly_json(static_serving):
    static_serving(True)
    at = AppTest.from_function(_script).run()
    assert not at.exception, at.exception
    mounted = at.get("bidi_component")
    assert [e.proto.component_name for e in mounted] == ["indrnn_chart", "indrnn_chart"]
    data = [json.loads(e.proto.json) for e in mounted]
    assert [d["clicks"] for d in data] == [True, False]
    assert [d["stretch"] for d in data] == [True, False]
    assert [f["layout"]["title"]["text"] for f in charts(at)] == ["clickable", "bars"]
    assert charts(at)[0]["data"][0]["customdata"] == [7, 8]
    assert (element.APP_DIR / "static" / "plotly.min.js").stat().st_size == \
        element.PLOTLY_JS.stat().st_size
    assert "picked None" in at.markdown[0].value


def test_without_static_serving_the_app_falls_back_to_streamlits_chart(static_serving):
    static_serving(False)
    at = AppTest.from_function(_script).run()
    assert not at.exception, at.exception
    assert not at.get("bidi_component") and len(at.get("plotly_chart")) == 2
    assert [f["layout"]["title"]["text"] for f in charts(at)] == ["clickable", "bars"]


def test_a_clickable_chart_needs_a_key_and_a_points_customdata_is_its_index():
    import plotly.graph_objects as go

    with pytest.raises(ValueError, match="needs a key"):
        element.chart(go.Figure(), clicks=True)
    assert element._index([12, "extra"]) == 12 and element._index(3.0) == 3
    assert element._index(None) is None and element._index("row") is None
