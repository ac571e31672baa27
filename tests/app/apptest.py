"""What the AppTest page tests share: the app's path and a page opened as a link would open it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def open_page(page: str, model: str, timeout: float = 180, **query: str) -> AppTest:
    """``page`` (``"pages/1_Neurons.py"``) of the app opened on ``model`` with the URL query
    ``query``, run without an exception."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    at.query_params["model"] = model
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def charts(at: AppTest) -> list[dict[str, Any]]:
    """The figures the page draws, in page order, as Plotly JSON: the app's chart element
    (``ui.charts.chart``) or, where it falls back, Streamlit's."""
    figures = []
    for element in at.get("bidi_component") + at.get("plotly_chart"):
        if element.type == "plotly_chart":
            figures.append(json.loads(element.proto.spec))
        elif element.proto.component_name == "indrnn_chart":
            figures.append(json.loads(json.loads(element.proto.json)["figure"]))
    return figures


def chart_titles(at: AppTest) -> list[str]:
    return [figure["layout"].get("title", {}).get("text", "") for figure in charts(at)]
