"""The settings ``import indrnn`` gives the process (indrnn.runtime), seen from fresh processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from indrnn import runtime
from indrnn.cli import app_command

REPORT = ("import json, os; {first}; from indrnn import runtime; "
          "print(json.dumps([os.environ.get('OMP_WAIT_POLICY'), runtime.applied()]))")
PROBE_REUSE = """
import json, resource
{first}
import torch
def faults_filling_a_fresh_tensor(elements):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    torch.empty(elements).fill_(1.0)  # freed at once
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
faults_filling_a_fresh_tensor(50_000_000)
# A smaller second tensor: an aligned request for the same size needs a few bytes more than the
# freed block, so whether it fits depended on where the heap's small blocks landed.
print(json.dumps(faults_filling_a_fresh_tensor(45_000_000)))
"""


def _fresh(code: str, **env: str):
    clean = {k: v for k, v in os.environ.items()
             if k not in runtime.ENVIRONMENT and k != runtime.OPT_OUT_ENV}
    out = subprocess.run([sys.executable, "-c", code], env=clean | env,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_import_asks_openmp_to_wait_passively_and_glibc_to_keep_freed_memory():
    policy, applied = _fresh(REPORT.format(first="pass"))
    assert policy == "PASSIVE"
    assert applied == {"OMP_WAIT_POLICY": "PASSIVE", "freed_memory_kept": True}


def test_a_users_own_policy_is_kept():
    policy, applied = _fresh(REPORT.format(first="pass"), OMP_WAIT_POLICY="ACTIVE")
    assert policy == applied["OMP_WAIT_POLICY"] == "ACTIVE"


def test_torch_imported_first_keeps_its_policy_and_still_gets_the_memory_setting():
    policy, applied = _fresh(REPORT.format(first="import torch"))
    assert policy is None
    assert applied == {"OMP_WAIT_POLICY": None, "freed_memory_kept": True}


def test_opt_out_sets_nothing():
    policy, applied = _fresh(REPORT.format(first="pass"), **{runtime.OPT_OUT_ENV: "0"})
    assert policy is None
    assert applied == {"OMP_WAIT_POLICY": None, "freed_memory_kept": False}


def test_a_second_large_tensor_reuses_the_first_ones_pages_only_with_the_setting():
    pages = 180e6 / 4096
    assert _fresh(PROBE_REUSE.format(first="import indrnn")) < 0.01 * pages
    assert _fresh(PROBE_REUSE.format(first="pass")) > 0.5 * pages


def test_the_app_server_is_started_with_the_policy(monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    assert app_command([], 8501, "localhost")[1]["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert app_command([], 8501, "localhost")[1]["OMP_WAIT_POLICY"] == "ACTIVE"


def test_the_kernel_keeps_the_thread_count_the_process_was_given():
    """OMP_NUM_THREADS=1 holds after the CPU kernel's first call: numba's workers start one per
    core and, sharing torch's OpenMP runtime, used to leave torch on that many threads."""
    probe = ("import json, torch, indrnn, numba; layer = indrnn.IndRNN(4, 8); "
             "layer(torch.randn(5, 2, 4))[0].sum().backward(); "
             "print(json.dumps([torch.get_num_threads(), numba.get_num_threads()]))")
    assert _fresh(probe, OMP_NUM_THREADS="1") == [1, 1]
