"""The app's speed and page weight through the real server, in Debian's Chromium.

    python bench/bench_app.py [--model adding5000_indrnn] [--repeats 3]

Measures, on a 5,000-step adding-problem input (examples/adding_T5000_test0000.csv):
  * upload → first chart: from handing the file to the uploader until a Plotly chart is drawn;
  * a widget change that needs no new model run (the Neurons page's sort order, a menu in the
    heatmap that re-sorts it in the browser) → chart redrawn;
  * bytes the server sends over its websocket for each page (figure data included).
Targets (issue: the app): < 2 s, < 0.3 s, < ~5 MB per page. Timings are medians.
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
# Counts every Plotly draw (plotly_afterplot) per chart: how much drawing a page asks for.
COUNT_DRAWS = """
window.__draws = [];
const counted = new WeakSet();
function count(chart) {
  if (counted.has(chart)) return;
  if (typeof chart.on !== 'function') { setTimeout(() => count(chart), 0); return; }
  counted.add(chart);
  const id = (window.__charts = (window.__charts || 0) + 1);
  chart.on('plotly_afterplot', () => window.__draws.push(id));
}
new MutationObserver(() => document.querySelectorAll('.js-plotly-plot').forEach(count))
  .observe(document, {subtree: true, childList: true, attributes: true,
                      attributeFilter: ['class']});
"""


def settled(page) -> None:
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="adding5000_indrnn")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--upload-page", default="Neurons", help="page the upload is made on")
    args = parser.parse_args()
    server = start_server()
    url = server.url
    received = {"bytes": 0}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=CHROMIUM_ARGS)
            uploads, changes, frames, serves, upload_splits = [], [], [], [], []
            draws: list[tuple[int, int]] = []  # (Plotly draws, charts drawn) after each upload
            for _ in range(args.repeats):
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.add_init_script(COUNT_DRAWS)
                # when each big websocket frame (a figure) arrives: splits server from browser
                page.on("websocket", lambda ws: ws.on("framereceived", lambda frame: frames.append(
                    time.perf_counter()) if len(frame) > 50_000 else None))
                page.goto(f"{url}/{args.upload_page}?model={args.model}&source=Upload+a+file")
                page.wait_for_selector('[data-testid="stFileUploaderDropzoneInput"]',
                                       state="attached")
                settled(page)
                frames.clear()
                drawn_before = page.evaluate("window.__draws.length")
                start = time.perf_counter()
                page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
                    str(EXAMPLE))
                # the input's own chart (pages show an explanatory chart while they wait)
                page.wait_for_selector(".js-plotly-plot text:has-text('neurons (sorted by')",
                                       timeout=120_000)
                drawn = time.perf_counter()
                uploads.append(drawn - start)
                arrived = [f for f in frames if f <= drawn]
                if arrived:  # the last figure-sized frame before the chart showed: its data
                    upload_splits.append((arrived[-1] - start, drawn - arrived[-1]))
                settled(page)
                page.wait_for_timeout(2000)  # charts below the first may still be drawing
                after = page.evaluate("window.__draws")[drawn_before:]
                draws.append((len(after), len(set(after))))
                for choice in ("mean activation", "u"):
                    # the heatmap's own menu (a Plotly dropdown) re-sorts it in the browser
                    page.locator(".js-plotly-plot .updatemenu-header-group").first.click()
                    option = page.locator(".js-plotly-plot .updatemenu-dropdown-button").filter(
                        has_text=re.compile(f"^{re.escape(choice)}$")).first
                    frames.clear()
                    start = time.perf_counter()
                    option.click()
                    # the heatmap's title names the order: redrawn when it shows the new one
                    page.wait_for_selector(f".js-plotly-plot text:has-text('sorted by {choice}')",
                                           timeout=30_000)
                    changes.append(time.perf_counter() - start)
                    if frames:
                        serves.append(frames[0] - start)
                    settled(page)
                page.close()
            print(f"upload of {EXAMPLE.name} → first chart: median "
                  f"{statistics.median(uploads):.2f} s over {len(uploads)} (target < 2 s)")
            if upload_splits:
                sent, drawing = (statistics.median(part) for part in zip(*upload_splits))
                print(f"  of which upload → the chart's frame received: median {sent:.2f} s "
                      f"(upload, script run, transfer); frame → drawn: {drawing:.2f} s "
                      "(the browser)")
            if draws:
                print("  Plotly draws after the upload: " + ", ".join(
                    f"{n} over {charts} charts" for n, charts in draws))
            print(f"widget change, no model run → redrawn: median "
                  f"{statistics.median(changes):.2f} s over {len(changes)} (target < 0.3 s)")
            if serves:
                print(f"  of which click → figure's frame received: median "
                      f"{statistics.median(serves):.2f} s (the rest is the browser drawing it)")
            else:
                print("  no figure was sent by the server for these changes")
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("websocket", lambda ws: ws.on(
                "framereceived", lambda frame: received.__setitem__(
                    "bytes", received["bytes"] + len(frame if isinstance(frame, bytes)
                                                     else frame.encode()))))
            for name in PAGES:
                received["bytes"] = 0
                page.goto(f"{url}/{name}?model={args.model}&source=Example"
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
            browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
