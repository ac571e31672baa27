"""What the Chromium tests share: a running app, Debian's Chromium, waiting for Streamlit, and the
mouse on a point of a Plotly chart (where a user would put it)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]
VIEWPORT = {"width": 1400, "height": 1000}


def require_chromium() -> Any:
    """Playwright's sync API; the test is skipped without Debian's chromium (a failure in CI)."""
    playwright = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium (see .ci/run)", pytrace=False)
        pytest.skip("Debian's chromium is not installed here")
    return playwright


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def app_server(command: list[str] | None = None, env: dict[str, str] | None = None,
               cwd: Path = ROOT) -> Iterator[str]:
    """``streamlit run app.py`` (or ``command`` followed by ``--port N``) on a free loopback
    port; yields its URL."""
    port = _free_port()
    if command is None:
        command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
                   "--server.port", str(port), "--server.address", "127.0.0.1",
                   "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    else:
        command = [*command, "--port", str(port)]
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                if reply.read() == b"ok":
                    break
        except OSError:
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail(f"streamlit did not start: {process.stdout.read()[-2000:]}")
    try:
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# Streamlit marks its root with the script's state ("initial", "running", "notRunning", ...):
# settled means not running, and not again within 0.7 s (a click's rerun starts a moment later).
_SETTLED = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  const state = app && app.getAttribute('data-test-script-state');
  const now = Date.now();
  if (state !== 'notRunning' || document.querySelector('[data-testid="stStatusWidget"]')) {
    window.__lastBusy = now;
    return false;
  }
  return now - (window.__lastBusy || 0) > 700;
}"""


def settle(page: Any) -> None:
    """Wait until Streamlit has finished running the script."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=60_000)
    page.evaluate("() => { window.__lastBusy = Date.now(); }")
    page.wait_for_function(_SETTLED, timeout=120_000, polling=100)


def assert_healthy(page: Any, what: str) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, f"exception on {what}"
    assert "Traceback" not in page.inner_text("body"), f"traceback on {what}"
    errors = page.locator('[data-testid="stAlertContentError"]')
    assert errors.count() == 0, f"error on {what}: {errors.all_inner_texts()}"


def query(page: Any) -> dict[str, str]:
    """The page's URL query, one value per parameter."""
    return {key: values[0] for key, values in parse_qs(urlparse(page.url).query).items()}


def wait_for_chart(page: Any, title: str, timeout: float = 60_000) -> None:
    """Wait until a chart whose title starts with ``title`` is drawn (Plotly draws after the
    script has run, later on a busy machine)."""
    page.wait_for_function(
        """(title) => Array.from(document.querySelectorAll('.js-plotly-plot')).some(
             c => c.layout && c.layout.title && String(c.layout.title.text).startsWith(title))""",
        arg=title, timeout=timeout, polling=200)


def chart_titles(page: Any) -> list[str]:
    return page.locator(".js-plotly-plot").evaluate_all(
        "charts => charts.map(c => (c.layout.title && c.layout.title.text) || '')")


# Where each point of the chart whose title starts with `title` sits on the screen, from
# Plotly's own axes (d2p: data to pixel, log axes included), and the point of one trace farthest
# from any other point of the chart (a click goes to the nearest point of any trace).
_POINTS = """([title, trace, avoid]) => {
  const chart = Array.from(document.querySelectorAll('.js-plotly-plot'))
    .find(c => c.layout.title && String(c.layout.title.text).startsWith(title));
  if (!chart) return null;
  const axis = (name, letter) => chart._fullLayout[letter + 'axis' + (name || letter).slice(1)];
  const box = chart.getBoundingClientRect();
  const all = chart._fullData.flatMap((data, t) => {
    const xa = axis(data.xaxis, 'x'), ya = axis(data.yaxis, 'y');  // a trace's own axes
    return data.customdata ? Array.from(data.customdata).map((id, i) => ({
      trace: t, id: Array.isArray(id) ? id[0] : id,
      x: box.left + xa._offset + xa.d2p(data.x[i]),
      y: box.top + ya._offset + ya.d2p(data.y[i])})) : [];
  }).filter(p => isFinite(p.x) && isFinite(p.y));
  let best = null, room = -1;
  for (const p of all.filter(p => p.trace === trace && p.id !== avoid)) {
    const nearest = Math.min(...all.filter(q => q !== p && q.id !== p.id)
      .map(q => Math.hypot(p.x - q.x, p.y - q.y)));
    if (nearest > room) { room = nearest; best = p; }
  }
  return best && {...best, room};
}"""


def click_a_point(page: Any, title: str, trace: int = 0, avoid: int | None = None) -> int:
    """Move the mouse onto the point of the chart titled ``title…`` (of trace ``trace``, not
    ``avoid``)
    with the most room around it, click it, wait for the app, and return the point's
    ``customdata`` (the neuron or unit)."""
    wait_for_chart(page, title)
    chart = page.locator(".js-plotly-plot", has_text=title).first
    chart.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    point = page.evaluate(_POINTS, [title, trace, avoid])
    assert point is not None, f"no chart titled {title!r}: {chart_titles(page)}"
    assert point["room"] > 6, f"every point of {title!r} overlaps another: {point}"
    page.mouse.move(point["x"], point["y"])
    page.wait_for_timeout(200)
    page.mouse.click(point["x"], point["y"])
    page.wait_for_timeout(500)
    settle(page)
    return int(point["id"])


def picked(page: Any, label: str) -> str:
    """The value the selectbox labelled ``label`` shows (a combobox input in Streamlit 1.67)."""
    return page.get_by_role("combobox", name=label, exact=True).first.input_value().strip()
