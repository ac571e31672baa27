"""The app's chart element: a Plotly figure drawn once in the browser, clicks sent back.

``st.plotly_chart`` draws every figure twice (its element draws the spec as parsed, then an
effect replaces it with a themed copy, a new object, and react-plotly draws again:
``bench/RESULTS.md``, "Upload → first chart"), and a page of seven charts spends most of the
time after an upload drawing. This element hands the figure's JSON to Plotly.js once
(``Plotly.react`` on a plain ``div``), draws nothing when a rerun sends the same figure, and
sends a click on a point with ``customdata`` back to Python as a one-shot trigger.

Plotly.js itself is the copy that ships with the installed ``plotly`` package (so the figure's
JSON and the library that reads it are always the same version), served by Streamlit's static
file serving from ``static/`` beside ``app.py`` (``server.enableStaticServing``), copied there
on first use; the browser loads it once per page and caches it.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
from pathlib import Path
from typing import Any, Literal

import plotly
import plotly.graph_objects as go
import streamlit as st

APP_DIR = Path(__file__).resolve().parents[1]
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
#: Where Streamlit serves ``static/plotly.min.js`` from, relative to any page of the app.
PLOTLY_URL = "./app/static/plotly.min.js"

_JS = """
const loaded = {};
function plotlyFrom(url) {
  // One <script> per page for all charts; Plotly.js defines window.Plotly.
  if (!loaded[url]) {
    loaded[url] = window.Plotly ? Promise.resolve(window.Plotly) : new Promise((ok, fail) => {
      const script = document.createElement("script");
      script.src = url;
      script.onload = () => ok(window.Plotly);
      script.onerror = () => { delete loaded[url]; fail(new Error("cannot load " + url)); };
      document.head.appendChild(script);
    });
  }
  return loaded[url];
}

let drawing = Promise.resolve();
function painted() {
  return new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)));
}

export default function ({ data, parentElement, setTriggerValue }) {
  let chart = parentElement.querySelector(".indrnn-chart");
  if (!chart) {
    chart = document.createElement("div");
    chart.className = "indrnn-chart";
    parentElement.appendChild(chart);
  }
  chart.indrnnTrigger = setTriggerValue;  // the newest render's, for the click handler
  if (chart.indrnnSpec === data.figure) return;  // a rerun sent the same figure: keep it
  chart.indrnnSpec = data.figure;
  // Charts are drawn one after another with a frame painted between them, so the first one on
  // the page shows as soon as it is drawn, not after every chart below it.
  drawing = drawing.then(() => plotlyFrom(data.plotly)).then((Plotly) => {
    if (chart.indrnnSpec !== data.figure) return;  // a newer figure arrived meanwhile
    const figure = JSON.parse(data.figure);
    const layout = figure.layout || {};
    if (data.stretch) { delete layout.width; layout.autosize = true; }
    const config = {responsive: true, displaylogo: false};
    return Plotly.react(chart, figure.data || [], layout, config).then(() => {
      if (data.clicks && !chart.indrnnClicks) {
        chart.indrnnClicks = true;
        chart.on("plotly_click", (event) => {
          const point = (event.points || []).find((p) => p.customdata !== undefined);
          if (point) chart.indrnnTrigger("click", point.customdata);
        });
      }
    });
  }).catch((error) => {
    chart.textContent = "The chart could not be drawn: " + error.message;
  }).then(painted);
}
"""

_CSS = ".indrnn-chart { width: 100%; }"


@functools.cache
def _served_plotly() -> bool:
    """Whether ``static/plotly.min.js`` is in place (copied from the installed package once per
    process) and Streamlit serves it."""
    if not st.get_option("server.enableStaticServing"):
        return False
    target = APP_DIR / "static" / PLOTLY_JS.name
    try:
        if not target.is_file() or target.stat().st_size != PLOTLY_JS.stat().st_size:
            target.parent.mkdir(exist_ok=True)
            partial = target.with_suffix(f".{os.getpid()}.partial")
            shutil.copyfile(PLOTLY_JS, partial)
            partial.replace(target)  # atomic: a concurrent session never sees half a file
        return True
    except OSError:  # a read-only install: fall back to Streamlit's chart element
        return False


# Registered at import; the mount re-registers it on each runtime (AppTest makes one per app).
_ELEMENT = st.components.v2.component("indrnn_chart", js=_JS, css=_CSS, isolate_styles=False)


def chart(figure: go.Figure, *, key: str | None = None, clicks: bool = False,
          width: Literal["stretch", "content"] = "stretch", where: Any = None) -> int | None:
    """Draw ``figure``; with ``clicks``, return the ``customdata`` of a point the user just
    clicked (once, on the rerun the click starts), else ``None``.

    ``where`` is a container (a column, a fragment's placeholder); by default the page.
    ``key`` keeps the element (and so the drawn chart) across reruns that change the figure;
    a clickable chart needs one.
    """
    if clicks and key is None:
        raise ValueError("a clickable chart needs a key")
    if not _served_plotly():
        return _fallback(st if where is None else where, figure, key, clicks, width)
    data = {"figure": figure.to_json(), "plotly": PLOTLY_URL, "stretch": width == "stretch",
            "clicks": clicks}
    with contextlib.nullcontext() if where is None else where:
        result = _ELEMENT(key=key, data=data,
                          on_click_change=(lambda: None) if clicks else None)
    return _index(getattr(result, "click", None)) if clicks else None


def _index(customdata: Any) -> int | None:
    """A point's ``customdata`` (a neuron or unit; the first field if it is a list) as int."""
    value = customdata[0] if isinstance(customdata, list) and customdata else customdata
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _fallback(where: Any, figure: go.Figure, key: str | None, clicks: bool,
              width: str) -> int | None:
    """``st.plotly_chart`` where our element cannot run (no static serving)."""
    if not clicks:
        where.plotly_chart(figure, width=width, theme=None, key=key)
        return None
    event = where.plotly_chart(figure, width=width, theme=None, key=key, on_select="rerun",
                               selection_mode="points")
    points = (event or {}).get("selection", {}).get("points", [])
    last = f"{key}_last_click"
    picked = _index(points[0].get("customdata")) if points else None
    if picked is None or picked == st.session_state.get(last):
        if picked is None:
            st.session_state.pop(last, None)
        return None
    st.session_state[last] = picked
    return picked
