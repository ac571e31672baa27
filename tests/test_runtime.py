"""The settings ``import indrnn`` gives torch (indrnn.runtime), seen from fresh processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from indrnn import runtime
from indrnn.cli import app_command

REPORT = ("import json, os, sys; {first}; from indrnn import runtime; "
          "print(json.dumps([{{k: os.environ.get(k) for k in runtime.DEFAULTS}}, "
          "runtime.applied()]))")


def _fresh(first: str = "pass", **env: str) -> tuple[dict, dict | None]:
    clean = {k: v for k, v in os.environ.items()
             if k not in runtime.DEFAULTS and k != runtime.OPT_OUT_ENV}
    out = subprocess.run([sys.executable, "-c", REPORT.format(first=first)], env=clean | env,
                         capture_output=True, text=True, check=True).stdout
    environment, applied = json.loads(out)
    return environment, applied


def test_import_gives_passive_openmp_and_huge_pages_before_torch_loads():
    environment, applied = _fresh()
    assert environment == {"OMP_WAIT_POLICY": "PASSIVE", "THP_MEM_ALLOC_ENABLE": "1"}
    assert applied == environment


def test_a_users_own_setting_is_kept():
    environment, applied = _fresh(OMP_WAIT_POLICY="ACTIVE")
    assert environment["OMP_WAIT_POLICY"] == "ACTIVE"
    assert applied == {"OMP_WAIT_POLICY": "ACTIVE", "THP_MEM_ALLOC_ENABLE": "1"}


def test_torch_imported_first_is_left_alone_and_reported_unknown():
    environment, applied = _fresh(first="import torch")
    assert environment == {"OMP_WAIT_POLICY": None, "THP_MEM_ALLOC_ENABLE": None}
    assert applied is None


def test_opt_out_sets_nothing():
    environment, applied = _fresh(**{runtime.OPT_OUT_ENV: "0"})
    assert environment == {"OMP_WAIT_POLICY": None, "THP_MEM_ALLOC_ENABLE": None}
    assert applied == environment


def test_the_app_server_is_started_with_the_settings(monkeypatch):
    for key in runtime.DEFAULTS:
        monkeypatch.delenv(key, raising=False)
    _, env = app_command([], 8501, "localhost")
    assert {k: env[k] for k in runtime.DEFAULTS} == runtime.DEFAULTS
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert app_command([], 8501, "localhost")[1]["OMP_WAIT_POLICY"] == "ACTIVE"
