"""Many users at once: concurrent browser sessions against one ``streamlit run app.py``.

    python bench/load_test.py                      # 20 concurrent sessions, every page
    python bench/load_test.py --sessions 30 --json load.json
    python bench/load_test.py --soak               # 300 short sessions in waves of 20

Everything runs on 127.0.0.1: one server (``bench/server.py``), one headless Chromium (Debian's
``/usr/bin/chromium``, driven by Playwright's async API) and one browser context per session, so
sessions share no cookies or storage, like different users.

**Load** (default): every session opens the app with its own model, uploads its own sequence (an
example of ``examples/`` with its values perturbed by the session number and a file name of its
own, written to a temporary folder), waits for the model's run, then visits every page through
the sidebar's navigation (the session and its upload are kept, as for a user clicking through),
and finally the overview again. Each visit is timed from the navigation (``goto``, the upload or
the click) until the page has *settled*: the script run is over (``stApp`` reports
``notRunning``), the page's title is the new page's and every Plotly chart is drawn.

A visit is an **error** if it times out, or the settled page shows an exception
(``stException``), the word "Traceback", an error box (``stAlertContentError``), another
session's file name, or (after the upload) not its own file name.

**Soak** (``--soak``): waves of short sessions (open, upload, Neurons, Export, then the browser
context is closed, which disconnects the session); after each wave the server's RSS and its
``/_stcore/metrics`` (uploaded-file and media bytes, sessions connected so far) are recorded, to
show whether memory stays flat over hundreds of sessions.

The server runs with Streamlit's file watcher off (``--server.fileWatcherType none``, as on a
deployed server; ``--file-watcher`` keeps it on): with it on, an edit to the working tree during
a run makes Streamlit drop the edited modules from ``sys.modules`` while other sessions' threads
are importing them, which fails those sessions.

The server's resident memory (with any child processes) is polled every 0.2 s throughout; the
report gives its peak. Prints a table; ``--json`` also writes every number. The exit status is 1
if any visit failed.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import math
import platform
import re
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page, async_playwright
from server import CHROMIUM, CHROMIUM_ARGS, ROOT, RssMonitor, Server, app_server

EXAMPLES = ROOT / "examples"
#: (model, example it reads); session ``i`` uses entry ``i % len(SEQUENCES)``.
SEQUENCES: list[tuple[str, str]] = [
    ("adding1000_indrnn", "adding_T1000_test0000.csv"),
    ("basicmotions_indrnn", "basicmotions_test0010_running.csv"),
    ("japanesevowels_indrnn", "japanesevowels_test0007_speaker-1.csv"),
    ("mnist5k_indrnn", "mnist5k_test0307_label3.csv"),
    ("chars_indrnn", "cpython_chars_test_sched.py.txt"),
    ("basicmotions_indrnn", "basicmotions_test0030_badminton.csv"),
    ("japanesevowels_indrnn", "japanesevowels_test0200_speaker-5.csv"),
]
#: (URL path, title of the page) in the order of the sidebar; "" is the overview.
PAGES: list[tuple[str, str]] = [
    ("", "IndRNN Inspector"), ("Neurons", "Neurons"), ("Memory", "Memory"),
    ("IndRNN_vs_LSTM", "IndRNN vs LSTM"), ("Ablation", "Ablation"),
    ("Patterns", "Pattern search"), ("Discovery", "Discovery"), ("Export", "Export"),
]
SOAK_PAGES = ["Neurons", "Export"]
SESSION_TAG = re.compile(r"\bs(\d{3})_")  #: how every session's file name starts

# True once the run is over, the main area's title is ``title``, ``needle`` (if any) is on the
# page and every Plotly chart has drawn its SVG; or once the run is over with an error shown.
SETTLED_JS = """([title, needle]) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-testid="stStatusWidget"]')) return false;
  // an exception or an error box fails the visit: no need to wait for the rest
  if (document.querySelector('[data-testid="stException"], [data-testid="stAlertContentError"]'))
    return true;
  const main = document.querySelector('[data-testid="stMain"]') || document.body;
  const titles = [...main.querySelectorAll('h1')].map(h => h.innerText.trim());
  if (!titles.some(t => t.startsWith(title))) return false;
  if (needle && !document.body.innerText.includes(needle)) return false;
  const charts = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')];
  return charts.every(c => c.querySelector('.main-svg'));
}"""


@dataclass
class Visit:
    """One timed page visit of one session.

    Attributes
    ----------
    session : int
    what : str
        ``"open"`` (first load), ``"upload"``, or the page's name.
    seconds : float
        From the navigation until the page settled (or failed).
    error : str or None
        Why the visit failed; ``None`` when it succeeded.
    """

    session: int
    what: str
    seconds: float
    error: str | None = None


@dataclass
class SessionPlan:
    """What one session does: its model and its own input file.

    Attributes
    ----------
    index : int
    model : str
    file : Path
        The session's own perturbed copy of an example.
    """

    index: int
    model: str
    file: Path

    @property
    def file_name(self) -> str:
        return self.file.name


@dataclass
class Report:
    """Everything measured in one run (``--json`` writes it).

    Attributes
    ----------
    mode : str
        ``"load"`` or ``"soak"``.
    sessions : int
        Sessions run.
    planned_visits : int
        Visits the sessions set out to make (a session stops at a failed open or upload).
    visits : list of Visit
    peak_rss_bytes, start_rss_bytes, end_rss_bytes : int
        Resident memory of the server process tree: the peak, once healthy, and at the end.
    waves : list of dict
        Soak only: per wave, sessions so far, RSS and the server's metrics after the wave.
    wall_seconds : float
    machine : dict
        CPUs, Python, platform and the load average when the run started.
    options : dict
        The command-line options.
    """

    mode: str
    sessions: int
    planned_visits: int = 0
    visits: list[Visit] = field(default_factory=list)
    peak_rss_bytes: int = 0
    start_rss_bytes: int = 0
    end_rss_bytes: int = 0
    waves: list[dict[str, Any]] = field(default_factory=list)
    wall_seconds: float = 0.0
    machine: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def errors(self) -> list[Visit]:
        return [v for v in self.visits if v.error is not None]


def perturbed_copy(example: str, index: int, folder: Path) -> Path:
    """A copy of ``examples/EXAMPLE`` whose content and name belong to session ``index``.

    CSV: the first column's values are scaled by ``1 - (index + 1) * 1e-4`` (which keeps values
    in [0, 1], like pixels, in range), so no two sessions upload the same numbers. Text: a
    comment naming the session is appended.

    Parameters
    ----------
    example : str
        File name in ``examples/``.
    index : int
        The session's number.
    folder : Path
        Where to write the copy.

    Returns
    -------
    Path
        ``folder / f"s{index:03d}_{example}"``.
    """
    source = (EXAMPLES / example).read_text()
    target = folder / f"s{index:03d}_{example}"
    if example.endswith(".csv"):
        rows = list(csv.reader(io.StringIO(source)))
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(rows[0])
        for row in rows[1:]:
            scaled = float(row[0]) * (1 - (index + 1) * 1e-4)
            writer.writerow([f"{scaled:.7g}", *row[1:]])
        target.write_text(out.getvalue())
    else:
        target.write_text(f"{source.rstrip()}\n# load-test session {index}\n")
    return target


async def _settle(page: Page, title: str, needle: str | None, timeout_s: float) -> None:
    await page.wait_for_function(SETTLED_JS, arg=[title, needle], timeout=timeout_s * 1000,
                                 polling=100)


async def _problems(page: Page, plan: SessionPlan, uploaded: bool) -> str | None:
    """What is wrong on the settled page (``None`` if nothing)."""
    if await page.locator('[data-testid="stException"]').count():
        text = await page.locator('[data-testid="stException"]').first.inner_text()
        return f"exception: {text[:300]}"
    body = await page.inner_text("body")
    if "Traceback" in body:
        return "traceback on the page"
    alerts = page.locator('[data-testid="stAlertContentError"]')
    if await alerts.count():
        return f"error box: {(await alerts.first.inner_text())[:300]}"
    # File names start with the session's tag (the uploader may shorten the rest with "...").
    foreign = {int(tag) for tag in SESSION_TAG.findall(body)} - {plan.index}
    if foreign:
        return f"another session's file shows (sessions {sorted(foreign)})"
    if uploaded and f"s{plan.index:03d}_" not in body:
        return f"its own file {plan.file_name} is not shown"
    return None


async def _visit(page: Page, plan: SessionPlan, what: str, title: str, action: Any,
                 needle: str | None, uploaded: bool, timeout_s: float,
                 visits: list[Visit]) -> bool:
    """Do ``action`` (a coroutine function), wait for the page to settle, check it; record."""
    start = time.perf_counter()
    try:
        await action()
        await _settle(page, title, needle, timeout_s)
        seconds = time.perf_counter() - start
        error = await _problems(page, plan, uploaded)
    except Exception as exc:  # a timeout, or the browser gave up
        seconds = time.perf_counter() - start
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    visits.append(Visit(plan.index, what, seconds, error))
    return error is None


async def run_session(browser: Browser, url: str, plan: SessionPlan, pages: list[str],
                      timeout_s: float, visits: list[Visit], delay: float = 0.0) -> None:
    """One user: open the app, upload, visit ``pages`` through the sidebar, close.

    Parameters
    ----------
    browser : Browser
    url : str
        The server's address.
    plan : SessionPlan
    pages : list of str
        URL paths of the pages to visit after the upload ("" is the overview).
    timeout_s : float
        Longest wait for one visit to settle.
    visits : list of Visit
        Where the timed visits are appended.
    delay : float
        Seconds to wait before starting (to stagger sessions a little).
    """
    await asyncio.sleep(delay)
    titles = dict(PAGES)
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(timeout_s * 1000)  # uploads and clicks wait as long as visits
    try:
        page = await context.new_page()
        opened = await _visit(
            page, plan, "open", titles[""],
            lambda: page.goto(f"{url}/?model={plan.model}&source=Upload+a+file",
                              timeout=timeout_s * 1000),
            None, False, timeout_s, visits)
        if not opened:
            return
        dropzone = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
        uploaded = await _visit(page, plan, "upload", titles[""],
                                lambda: dropzone.set_input_files(str(plan.file)),
                                "Sequence 0 (", True, timeout_s, visits)
        if not uploaded:
            return
        for path in pages:
            link = page.locator(f'[data-testid="stSidebarNav"] a[href="{url}/{path}"]')
            await _visit(page, plan, path or "Overview", titles[path], link.click, None, True,
                         timeout_s, visits)
    finally:
        await context.close()


def server_metrics(url: str) -> dict[str, float]:
    """The server's ``/_stcore/metrics``: active sessions and cached bytes by category."""
    with urllib.request.urlopen(f"{url}/_stcore/metrics", timeout=30) as reply:
        text = reply.read().decode()
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("active_sessions "):
            found["active_sessions"] = float(line.split()[1])
        match = re.match(r'cache_memory_bytes\{cache_type="([^"]*)"(?:,cache="([^"]*)")?\} (\S+)',
                         line)
        if match:
            key = f"bytes:{match.group(1)}"
            found[key] = found.get(key, 0.0) + float(match.group(3))
        match = re.match(r'session_events_total\{type="(\w+)"\} (\S+)', line)
        if match:
            found[f"sessions_{match.group(1)}"] = float(match.group(2))
    return found


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0–100) by the nearest-rank method; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _plans(count: int, first: int, folder: Path) -> list[SessionPlan]:
    plans = []
    for index in range(first, first + count):
        model, example = SEQUENCES[index % len(SEQUENCES)]
        plans.append(SessionPlan(index, model, perturbed_copy(example, index, folder)))
    return plans


async def _run(server: Server, args: argparse.Namespace, report: Report,
               monitor: RssMonitor) -> None:
    deadline = time.monotonic() + args.deadline
    with tempfile.TemporaryDirectory(prefix="indrnn-load-") as folder:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=CHROMIUM_ARGS)
            waves = args.waves if args.soak else 1
            pages = SOAK_PAGES if args.soak else [path for path, _ in PAGES[1:]] + [""]
            last_wave = 0.0
            for wave in range(waves):
                left = deadline - time.monotonic()
                if wave and left < 1.2 * last_wave:  # a soak stops between waves, in time
                    print(f"stopping before wave {wave + 1}: {left:.0f} s left of the "
                          f"{args.deadline:.0f} s deadline, the last wave took "
                          f"{last_wave:.0f} s", flush=True)
                    break
                started = time.monotonic()
                plans = _plans(args.sessions, wave * args.sessions, Path(folder))
                tasks = [run_session(browser, server.url, plan, pages, args.visit_timeout,
                                     report.visits, delay=args.stagger * i)
                         for i, plan in enumerate(plans)]
                try:
                    await asyncio.wait_for(asyncio.gather(*tasks), timeout=max(1.0, left))
                except asyncio.TimeoutError:
                    report.visits.append(Visit(-1, "deadline", args.deadline,
                                               f"the run passed its {args.deadline:.0f} s "
                                               "deadline"))
                report.sessions += len(plans)
                last_wave = time.monotonic() - started
                report.planned_visits += len(plans) * (2 + len(pages))
                if args.soak:
                    await asyncio.sleep(args.settle)
                    entry = {"wave": wave + 1, "sessions": report.sessions,
                             "rss_bytes": monitor.poll(), "peak_rss_bytes": monitor.peak,
                             "errors": len(report.errors),
                             **server_metrics(server.url)}
                    report.waves.append(entry)
                    print(f"wave {wave + 1:3d}: {report.sessions:4d} sessions, RSS "
                          f"{entry['rss_bytes'] / 2**20:7.1f} MiB, errors {entry['errors']}, "
                          f"uploads {entry.get('bytes:UploadedFileManager', 0) / 2**20:.2f} MiB, "
                          f"media {entry.get('bytes:st_memory_media_file_storage', 0) / 2**20:.1f}"
                          " MiB", flush=True)
            await browser.close()


def summary_rows(visits: list[Visit]) -> list[dict[str, Any]]:
    """Per kind of visit (and all together): count, errors and latency percentiles."""
    kinds = list(dict.fromkeys(v.what for v in visits if v.session >= 0))
    rows = []
    for what in [*kinds, "all"]:
        chosen = [v for v in visits if what in ("all", v.what)]
        times = [v.seconds for v in chosen if v.error is None]
        rows.append({"visit": what, "completed": len(times),
                     "errors": sum(v.error is not None for v in chosen),
                     "p50": percentile(times, 50), "p90": percentile(times, 90),
                     "p99": percentile(times, 99),
                     "max": max(times) if times else math.nan})
    return rows


def print_report(report: Report) -> None:
    print()
    print(f"{report.mode}: {report.sessions} sessions against one `streamlit run app.py`, "
          f"{report.wall_seconds:.0f} s wall; visits completed "
          f"{sum(v.error is None for v in report.visits)} of {report.planned_visits} planned, "
          f"errors {len(report.errors)}")
    print(f"{'visit':<16}{'completed':>10}{'errors':>8}{'p50 s':>9}{'p90 s':>9}{'p99 s':>9}"
          f"{'max s':>9}")
    for row in summary_rows(report.visits):
        print(f"{row['visit']:<16}{row['completed']:>10}{row['errors']:>8}{row['p50']:>9.2f}"
              f"{row['p90']:>9.2f}{row['p99']:>9.2f}{row['max']:>9.2f}")
    print(f"server RSS: start {report.start_rss_bytes / 2**20:.0f} MiB, peak "
          f"{report.peak_rss_bytes / 2**20:.0f} MiB, end {report.end_rss_bytes / 2**20:.0f} MiB")
    for error in report.errors[:20]:
        print(f"  error: session {error.session} {error.what}: {error.error}")


def _machine() -> dict[str, Any]:
    import os

    load = os.getloadavg()
    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "load_average_at_start": load[0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=20,
                        help="concurrent sessions (per wave with --soak); default 20")
    parser.add_argument("--soak", action="store_true",
                        help="waves of short sessions, RSS after each wave")
    parser.add_argument("--waves", type=int, default=15, help="waves with --soak; default 15")
    parser.add_argument("--visit-timeout", type=float, default=240.0,
                        help="longest wait for one page visit, seconds")
    parser.add_argument("--deadline", type=float,
                        help="the whole run stops after this many seconds (default 900, "
                             "with --soak 5400, checked between waves)")
    parser.add_argument("--stagger", type=float, default=0.25,
                        help="seconds between session starts within a wave")
    parser.add_argument("--settle", type=float, default=3.0,
                        help="soak: seconds to wait after a wave before reading memory")
    parser.add_argument("--server-option", action="append", default=[],
                        help="extra `streamlit run` option, e.g. "
                             "--server-option=--server.disconnectedSessionTTL=10")
    parser.add_argument("--file-watcher", action="store_true",
                        help="keep Streamlit's file watcher on (off by default: as on a "
                             "deployed server, and so edits to the working tree during a run "
                             "do not reload modules under the sessions)")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    if args.deadline is None:
        args.deadline = 5400.0 if args.soak else 900.0
    report = Report("soak" if args.soak else "load", 0, machine=_machine(),
                    options={k: str(v) for k, v in vars(args).items()})
    log = Path(tempfile.gettempdir()) / "indrnn-load-test-server.log"
    started = time.perf_counter()
    options = [*([] if args.file_watcher else ["--server.fileWatcherType", "none"]),
               *args.server_option]
    with app_server(options, log=log) as server:
        monitor = RssMonitor(server.pid).start()
        report.start_rss_bytes = monitor.last
        try:
            asyncio.run(_run(server, args, report, monitor))
        finally:
            monitor.stop()
            report.end_rss_bytes = monitor.poll()
            report.peak_rss_bytes = monitor.peak
    report.wall_seconds = time.perf_counter() - started
    print_report(report)
    if args.json:
        data = asdict(report)
        data["summary"] = summary_rows(report.visits)
        args.json.write_text(json.dumps(data, indent=1, default=str))
        print(f"wrote {args.json}")
    if report.errors:
        print(f"server log (tail) in {log}:\n{server.log_tail(2000)}", file=sys.stderr)
    return 1 if report.errors or not report.visits else 0


if __name__ == "__main__":
    raise SystemExit(main())
