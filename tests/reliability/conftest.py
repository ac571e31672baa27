"""The ``audit`` fixture: every unpickling, process start and file opened while a test runs."""

from __future__ import annotations

import sys

import pytest

# --- watching what the process does: audit hooks ---------------------------------------------

_WATCHED = frozenset({"pickle.find_class", "os.system", "subprocess.Popen", "os.exec",
                      "os.posix_spawn", "os.spawn", "open"})  # (imports use marshal.loads)
_LISTENERS: list[list[tuple[str, tuple]]] = []
_HOOKED: list[bool] = []


def _hook(event: str, args: tuple) -> None:
    if _LISTENERS and event in _WATCHED:
        for events in _LISTENERS:
            events.append((event, args))


@pytest.fixture
def audit():
    """Every unpickling, process start and file opened while the test runs (all threads)."""
    if not _HOOKED:  # audit hooks cannot be removed: one, inert while no test listens
        sys.addaudithook(_hook)
        _HOOKED.append(True)
    events: list[tuple[str, tuple]] = []
    _LISTENERS.append(events)
    yield events
    _LISTENERS.remove(events)
