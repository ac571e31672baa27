"""The app's speed and page weight through the real server, in Debian's Chromium.

    python bench/bench_app.py [--model adding1000_indrnn] [--repeats 3]

Measures, on a 5,000-step adding-problem input (examples/adding_T5000_test0000.csv):
  * upload → first chart: from handing the file to the uploader until a Plotly chart is drawn;
  * a widget change that needs no new model run (the Neurons page's sort order) → chart redrawn;
  * bytes the server sends over its websocket for each page (figure data included).
Targets (issue: the app): < 2 s, < 0.3 s, < ~5 MB per page. Timings are medians.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "adding_T5000_test0000.csv"
PAGES = ["", "Neurons", "Memory", "IndRNN_vs_LSTM", "Ablation", "Patterns", "Discovery",
         "Export"]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def start_server() -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port",
         str(port), "--server.address", "127.0.0.1", "--server.headless", "true",
         "--browser.gatherUsageStats", "false"], cwd=ROOT, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return process, url
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError("streamlit did not start")


def settled(page) -> None:
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=120_000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="adding1000_indrnn")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--upload-page", default="Neurons", help="page the upload is made on")
    args = parser.parse_args()
    process, url = start_server()
    received = {"bytes": 0}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                        args=ARGS)
            uploads, changes = [], []
            for _ in range(args.repeats):
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(f"{url}/{args.upload_page}?model={args.model}&source=Upload+a+file")
                page.wait_for_selector('[data-testid="stFileUploaderDropzoneInput"]',
                                       state="attached")
                settled(page)
                start = time.perf_counter()
                page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
                    str(EXAMPLE))
                # the input's own chart (pages show an explanatory chart while they wait)
                page.wait_for_selector(".js-plotly-plot text:has-text('neurons (sorted by')",
                                       timeout=120_000)
                uploads.append(time.perf_counter() - start)
                settled(page)
                for choice in ("mean activation", "u"):
                    page.locator('[data-testid="stSelectbox"]').filter(
                        has_text="Sort neurons by").click()
                    option = page.get_by_role("option", name=choice, exact=True)
                    start = time.perf_counter()
                    option.click()
                    # the heatmap's title names the order: redrawn when it shows the new one
                    page.wait_for_selector(f".js-plotly-plot text:has-text('sorted by {choice}')",
                                           timeout=30_000)
                    changes.append(time.perf_counter() - start)
                    settled(page)
                page.close()
            print(f"upload of {EXAMPLE.name} → first chart: median "
                  f"{statistics.median(uploads):.2f} s over {len(uploads)} (target < 2 s)")
            print(f"widget change, no model run → redrawn: median "
                  f"{statistics.median(changes):.2f} s over {len(changes)} (target < 0.3 s)")
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
                while time.monotonic() - quiet_since < 2.0:  # until 2 s without a frame
                    page.wait_for_timeout(200)
                    if received["bytes"] != last:
                        quiet_since, last = time.monotonic(), received["bytes"]
                print(f"page {name or 'Overview':<16} {received['bytes'] / 1e6:7.3f} MB sent "
                      "(target < ~5 MB)")
            browser.close()
    finally:
        process.terminate()
        process.wait(timeout=20)


if __name__ == "__main__":
    main()
