"""Under ``CI=true`` a test may skip only for hardware CI lacks (a CUDA GPU): a skip for missing
data, a missing browser or a missing package fails, since ``.ci/run`` must install them all."""

from __future__ import annotations

import os

import pytest

# indrnn before anything loads torch, so the tests run with the settings users get (indrnn.runtime)
import indrnn  # noqa: F401

#: Skip reasons that stay skips under CI: hardware no CI machine here has.
HARDWARE_SKIPS = ("needs a CUDA GPU",)


def _under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    whole = isinstance(longrepr, tuple) and len(longrepr) == 3
    reason = str(longrepr[2]) if whole else str(longrepr)
    return reason.removeprefix("Skipped: ")


def _fail_skips_under_ci(report: pytest.TestReport | pytest.CollectReport) -> None:
    if not (report.skipped and _under_ci()) or hasattr(report, "wasxfail"):
        return
    reason = _reason(report)
    if not any(allowed in reason for allowed in HARDWARE_SKIPS):
        report.outcome = "failed"
        report.longrepr = (f"skipped under CI=true ({reason}): CI must install what this test "
                           "needs (see .ci/run); only a missing GPU may skip there")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    report = yield
    _fail_skips_under_ci(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> pytest.CollectReport:
    report = yield
    _fail_skips_under_ci(report)
    return report
