"""Start ``streamlit run app.py`` on a free loopback port, and watch its memory.

Shared by the benchmark (``bench/bench_app.py``) and the load test (``bench/load_test.py``)::

    with app_server() as server:
        print(server.url, server.rss_bytes())

The server only listens on 127.0.0.1. Memory is read from ``/proc`` (Linux): the resident set
size of the server process and of every process it started.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
#: Chromium flags for a headless, offline, single-user browser.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (from ``/proc/*/stat``)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` and its descendants, in bytes (0 once it has exited)."""
    total = 0
    for each in [pid, *_children(pid)]:
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except OSError:
            continue
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        if match:
            total += int(match.group(1)) * 1024
    return total


@dataclass
class RssMonitor:
    """Poll a process tree's RSS every ``interval`` seconds in a thread; keep the peak.

    Attributes
    ----------
    pid : int
    interval : float
        Seconds between polls.
    peak : int
        Largest RSS seen so far, in bytes.
    last : int
        The latest RSS, in bytes.
    """

    pid: int
    interval: float = 0.2
    peak: int = 0
    last: int = 0
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def poll(self) -> int:
        """Read the RSS now, update ``peak`` and ``last``; return it."""
        self.last = rss_bytes(self.pid)
        self.peak = max(self.peak, self.last)
        return self.last

    def start(self) -> RssMonitor:
        def loop() -> None:
            while not self._stop.wait(self.interval):
                self.poll()

        self.poll()
        self._thread = threading.Thread(target=loop, name="rss-monitor", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


@dataclass
class Server:
    """A running ``streamlit run app.py``.

    Attributes
    ----------
    process : subprocess.Popen
    url : str
        ``http://127.0.0.1:PORT``.
    log : Path or None
        Where the server's output goes.
    """

    process: subprocess.Popen
    url: str
    log: Path | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_bytes(self) -> int:
        """The server's resident memory now (with any child processes), in bytes."""
        return rss_bytes(self.pid)

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the server's output (empty without a log file)."""
        if self.log is None or not self.log.exists():
            return ""
        return self.log.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        """Terminate this server (only this process), waiting up to 20 s, then kill it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=20)


def start_server(options: Sequence[str] = (), log: Path | None = None,
                 timeout: float = 120.0) -> Server:
    """Start ``streamlit run app.py`` on a free port of 127.0.0.1 and wait until it is healthy.

    Parameters
    ----------
    options : sequence of str
        Extra command-line options, e.g. ``["--server.disconnectedSessionTTL", "10"]``.
    log : Path, optional
        File for the server's stdout and stderr (discarded without one).
    timeout : float
        Seconds to wait for ``/_stcore/health``.

    Returns
    -------
    Server

    Raises
    ------
    RuntimeError
        If the server exits or is not healthy within ``timeout``.
    """
    port = free_port()
    output = open(log, "w") if log is not None else subprocess.DEVNULL  # noqa: SIM115
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
             "--server.port", str(port), "--server.address", "127.0.0.1",
             "--server.headless", "true", "--browser.gatherUsageStats", "false", *options],
            cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)
    finally:
        if log is not None:
            output.close()
    server = Server(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}: "
                               f"{server.log_tail()}")
        try:
            with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=2) as reply:
                if reply.read() == b"ok":
                    return server
        except OSError:
            time.sleep(0.5)
    server.stop()
    raise RuntimeError(f"streamlit did not start within {timeout:.0f} s: {server.log_tail()}")


@contextlib.contextmanager
def app_server(options: Sequence[str] = (), log: Path | None = None) -> Iterator[Server]:
    """:func:`start_server` as a context manager that stops the server on exit."""
    server = start_server(options, log)
    try:
        yield server
    finally:
        server.stop()
