"""What the hostile-file tests share: paths, example counts, the audit-event filters and a
small real checkpoint (``conftest.py`` holds the ``audit`` fixture that records the events)."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from hypothesis import HealthCheck, settings
from streamlit.testing.v1 import AppTest

from indrnn.checkpoint import save
from indrnn.layers import IndRNN

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
UPLOAD_CHOICE = "Upload a checkpoint…"

#: Examples per property test; docs/RELIABILITY.md quotes these numbers.
CASES = {"checkpoint_json": 200, "csv": 250, "npy": 250, "npz": 150, "text": 150, "png": 150,
         "typed": 150}


def case_settings(name: str) -> settings:
    return settings(max_examples=CASES[name], deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])




PAYLOAD_GLOBALS = frozenset({"pathlib", "posix", "os", "nt", "getattr", "system",
                             "Path.write_text", "write_text"})


def ran_code(events: list[tuple[str, tuple]]) -> list[tuple[str, tuple]]:
    """Events that mean a payload was unpickled (its globals looked up) or a process started.
    (Streamlit's caches and numba's kernel cache unpickle their own files: not flagged.)"""
    return [e for e in events if e[0] not in ("open", "pickle.find_class")
            or (e[0] == "pickle.find_class" and PAYLOAD_GLOBALS & set(map(str, e[1])))]


def opened(events: list[tuple[str, tuple]]) -> list[Path]:
    return [Path(os.fsdecode(e[1][0])) for e in events
            if e[0] == "open" and isinstance(e[1][0], str | bytes | os.PathLike)]



def small_checkpoint(folder: Path) -> Path:
    torch.manual_seed(0)
    return save(IndRNN(3, 5), folder / "good", {"task": "adding"})



def app_errors(at: AppTest) -> str:
    return " ".join(e.value for e in at.error)


