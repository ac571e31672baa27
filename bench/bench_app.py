"""The app's speed and page weight through the real server, in Debian's Chromium.

    python bench/bench_app.py [--model adding5000_indrnn] [--repeats 3]

Measures, on a 5,000-step adding-problem input (examples/adding_T5000_test0000.csv):
  * upload → first chart: from handing the file to the uploader until a Plotly chart is drawn;
  * a widget change that needs no new model run (the Neurons page's sort order, a menu in the
    heatmap that re-sorts it in the browser) → chart redrawn;
  * bytes the server sends over its websocket for each page (figure data included).
Targets (issue: the app): < 2 s, < 0.3 s, < ~5 MB per page. Timings are medians. The upload
and re-sort are measured with the app's own chart element and, round-robin beside it, with
Streamlit's ``st.plotly_chart`` (a second server with static serving off, where the app falls
back to it); Plotly's draws per chart are counted for both.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from pathlib import Path

from playwright.sync_api import sync_playwright
from server import CHROMIUM, CHROMIUM_ARGS, start_server  # bench/server.py

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "adding_T5000_test0000.csv"
PAGES = ["", "Neurons", "Memory", "IndRNN_vs_LSTM", "Ablation", "Patterns", "Discovery",
         "Export"]


RUNNING = "() => !!document.querySelector('[data-testid=\"stStatusWidget\"]')"
# In the page's own clock (performance.now()), so Playwright's polling (every 100-500 ms once a
# wait grows long) does not blur the times: every Plotly draw (plotly_afterplot) with its chart
# and title, each figure-sized websocket message's arrival, and the last file chosen or click.
RECORD = """
window.__draws = []; window.__frames = []; window.__events = {};
const counted = new WeakSet();
function count(chart) {
  if (counted.has(chart)) return;
  if (typeof chart.on !== 'function') { setTimeout(() => count(chart), 0); return; }
  counted.add(chart);
  const id = (window.__charts = (window.__charts || 0) + 1);
  chart.on('plotly_afterplot', () => window.__draws.push(
    {id, t: performance.now(), title: String((chart.layout.title || {}).text || '')}));
}
new MutationObserver(() => document.querySelectorAll('.js-plotly-plot').forEach(count))
  .observe(document, {subtree: true, childList: true, attributes: true,
                      attributeFilter: ['class']});
const Socket = window.WebSocket;
window.WebSocket = class extends Socket {
  constructor(...args) {
    super(...args);
    this.addEventListener('message', (event) => {
      const size = event.data.byteLength ?? event.data.size ?? event.data.length;
      if (size > 50000) window.__frames.push(performance.now());
    });
  }
};
for (const kind of ['change', 'click']) {
  document.addEventListener(kind, () => { window.__events[kind] = performance.now(); }, true);
}
"""
ALL_DRAWN = """() => {
  const charts = document.querySelectorAll('.js-plotly-plot').length;
  return charts > 0 && new Set(window.__draws.map(d => d.id)).size >= charts;
}"""
# The first draw after `since` of a chart whose title contains `text`, in page time.
FIRST_DRAW = """([since, text]) => {
  const draw = window.__draws.find(d => d.t > since && d.title.includes(text));
  return draw ? draw.t : null;
}"""


def first_draw(page, since: float, text: str, timeout: float = 120.0) -> float:
    """Page time of the first draw after ``since`` of a chart titled ``…text…``."""
    deadline = time.monotonic() + timeout
    while (drawn := page.evaluate(FIRST_DRAW, [since, text])) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no chart titled …{text}… drawn in {timeout} s")
        page.wait_for_timeout(50)
    return drawn


def settled(page) -> None:
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000)


def upload_round(browser, url: str, args: argparse.Namespace, result: dict) -> None:
    """One upload on ``args.upload_page`` and two in-figure re-sorts, appended to ``result``."""
    frames: list[float] = []
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.add_init_script(RECORD)
    page.goto(f"{url}/{args.upload_page}?model={args.model}&source=Upload+a+file")
    page.wait_for_selector('[data-testid="stFileUploaderDropzoneInput"]', state="attached")
    settled(page)
    # A page at rest, as a user who then picks a file finds it: its charts drawn (and so
    # Plotly.js loaded, which the app's element fetches on a page's first chart).
    page.wait_for_function(ALL_DRAWN, timeout=120_000, polling=100)
    result["opened"].append(page.evaluate("window.__draws[0].t") / 1000)  # since navigation
    drawn_before = page.evaluate("window.__draws.length")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(EXAMPLE))
    start = page.evaluate("window.__events.change")
    # the input's own chart (pages show an explanatory chart while they wait)
    drawn = first_draw(page, start, "neurons (sorted by")
    result["uploads"].append((drawn - start) / 1000)
    arrived = [f for f in page.evaluate("window.__frames") if start < f <= drawn]
    if arrived:  # the last figure-sized message before the chart was drawn: its data
        result["splits"].append(((arrived[-1] - start) / 1000, (drawn - arrived[-1]) / 1000))
    settled(page)
    page.wait_for_timeout(2000)  # charts below the first may still be drawing
    after = page.evaluate("window.__draws")[drawn_before:]
    result["draws"].append((len(after), len({d["id"] for d in after})))
    result["all_drawn"].append((after[-1]["t"] - start) / 1000)
    for choice in ("mean activation", "u"):
        # the heatmap's own menu (a Plotly dropdown) re-sorts it in the browser
        page.locator(".js-plotly-plot .updatemenu-header-group").first.click()
        option = page.locator(".js-plotly-plot .updatemenu-dropdown-button").filter(
            has_text=re.compile(f"^{re.escape(choice)}$")).first
        frames_before = len(page.evaluate("window.__frames"))
        option.click()
        start = page.evaluate("window.__events.click")
        # the heatmap's title names the order: redrawn when it shows the new one
        result["changes"].append((first_draw(page, start, f"sorted by {choice}") - start) / 1000)
        frames = page.evaluate("window.__frames")[frames_before:]
        if frames:
            result["serves"].append((frames[0] - start) / 1000)
        settled(page)
    page.close()


def report(name: str, result: dict) -> None:
    uploads, changes = result["uploads"], result["changes"]
    print(f"[{name}] page opened → its first chart drawn (Plotly.js loaded): median "
          f"{statistics.median(result['opened']):.2f} s over {len(result['opened'])}")
    print(f"  upload of {EXAMPLE.name} → first chart: median "
          f"{statistics.median(uploads):.2f} s over {len(uploads)} (target < 2 s)")
    if result["splits"]:
        sent, drawing = (statistics.median(part) for part in zip(*result["splits"]))
        print(f"  of which upload → the chart's frame received: median {sent:.2f} s "
              f"(upload, script run, transfer); frame → drawn: {drawing:.2f} s (the browser)")
    print("  Plotly draws after the upload: " + ", ".join(
        f"{n} over {charts} charts" for n, charts in result["draws"]))
    print(f"  upload → the page's last draw: median {statistics.median(result['all_drawn']):.2f} s")
    print(f"  widget change, no model run → redrawn: median "
          f"{statistics.median(changes):.2f} s over {len(changes)} (target < 0.3 s)")
    if result["serves"]:
        print(f"  of which click → figure's frame received: median "
              f"{statistics.median(result['serves']):.2f} s (the rest is the browser drawing it)")
    else:
        print("  no figure was sent by the server for these changes")


def page_weights(browser, url: str, model: str) -> None:
    """Bytes the server sends over its websocket for each page."""
    received = {"bytes": 0}
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.on("websocket", lambda ws: ws.on(
        "framereceived", lambda frame: received.__setitem__(
            "bytes", received["bytes"] + len(frame if isinstance(frame, bytes)
                                             else frame.encode()))))
    for name in PAGES:
        received["bytes"] = 0
        page.goto(f"{url}/{name}?model={model}&source=Example"
                  "&example=adding_T5000_test0000.csv")
        page.wait_for_selector('[data-testid="stApp"]')
        quiet_since, last = time.monotonic(), -1
        # until the script has finished and 2 s passed without a frame
        while time.monotonic() - quiet_since < 2.0 or page.evaluate(RUNNING):
            page.wait_for_timeout(200)
            if received["bytes"] != last:
                quiet_since, last = time.monotonic(), received["bytes"]
        print(f"page {name or 'Overview':<16} {received['bytes'] / 1e6:7.3f} MB sent "
              "(target < ~5 MB)")


#: The app's chart element (ui/charts.py) and, as the baseline, Streamlit's st.plotly_chart, to
#: which the app falls back when static serving is off.
ELEMENTS = {"app chart element": [],
            "st.plotly_chart": ["--server.enableStaticServing", "false"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="adding5000_indrnn")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--upload-page", default="Neurons", help="page the upload is made on")
    args = parser.parse_args()
    servers = {name: start_server(options) for name, options in ELEMENTS.items()}
    results = {name: {"opened": [], "uploads": [], "splits": [], "draws": [], "all_drawn": [],
                      "changes": [], "serves": []}
               for name in ELEMENTS}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=CHROMIUM_ARGS)
            for _ in range(args.repeats):  # round-robin: both see the same machine load
                for name, server in servers.items():
                    upload_round(browser, server.url, args, results[name])
            for name, result in results.items():
                report(name, result)
            page_weights(browser, servers["app chart element"].url, args.model)
            browser.close()
    finally:
        for server in servers.values():
            server.stop()


if __name__ == "__main__":
    main()
