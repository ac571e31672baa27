"""examples/notebook.py runs end to end as a script and prints and draws what it says.

One run in a subprocess (as a researcher would start it: ``python examples/notebook.py``), its
outputs sent to a temporary folder through ``INDRNN_NOTEBOOK_OUT``; the tests read its
printed lines and HTML files, and check the u values it prints against the model's own
``weight_hh``.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from indrnn import catalog
from indrnn.analysis import indrnn_memory
from indrnn.explain import card_findings

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "notebook.py"
MODEL = "adding1000_indrnn"
FIGURES = ("activations", "memory_u", "gradient_over_time")
#: A per-neuron line: "  body.l1 neuron 44: u = 1.000692, τ = inf steps, half-life inf steps".
NEURON_LINE = re.compile(r"^\s+(?P<layer>\S+) neuron (?P<neuron>\d+): u = (?P<u>-?[0-9.]+),")


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """The notebook's stdout and its output folder, from one run."""
    out = tmp_path_factory.mktemp("notebook")
    env = {**os.environ, "INDRNN_NOTEBOOK_OUT": str(out)}
    # cwd=out: a file written relative to the working folder would show up among the outputs.
    done = subprocess.run([sys.executable, str(NOTEBOOK)], cwd=out, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout, out


def test_it_writes_the_three_figures_and_nothing_else(ran: tuple[str, Path]) -> None:
    stdout, out = ran
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{name}.html" for name in FIGURES)
    for name in FIGURES:
        page = (out / f"{name}.html").read_text(encoding="utf-8")
        assert "Plotly.newPlot" in page, f"{name}.html holds no plotly figure"
        assert f"figure: {out / name}.html" in stdout
    assert "Distance of u from 1" not in (out / "memory_u.html").read_text(encoding="utf-8")
    assert "Recurrent weights u (T = 1000)" in (out / "memory_u.html").read_text(encoding="utf-8")


def test_it_prints_the_cards_findings_with_their_neurons_u(ran: tuple[str, Path]) -> None:
    stdout, _ = ran
    checkpoint = catalog.load_model(MODEL)
    findings = card_findings(checkpoint.card)
    assert findings, "the shipped card stores findings"
    for number, finding in enumerate(findings, 1):
        assert f"finding {number} ({finding.kind}, {finding.layer}, neurons " \
               f"{list(finding.neurons)}): {finding.claim}" in stdout
    printed = [NEURON_LINE.match(line) for line in stdout.splitlines()]
    printed = [m for m in printed if m]
    named = {(f.layer, n) for f in findings for n in f.neurons}
    assert {(m["layer"], int(m["neuron"])) for m in printed} == named
    body = checkpoint.model.body
    for match in printed:
        index = re.fullmatch(r"body\.l(\d+)", match["layer"])[1]
        u = getattr(body, f"weight_hh_l{index}").detach()[int(match["neuron"])]
        assert float(match["u"]) == pytest.approx(float(u), abs=1e-6), match.group(0)


def test_it_reports_the_run_and_memory(ran: tuple[str, Path]) -> None:
    stdout, _ = ran
    sequences = re.findall(r"^test sequence +(\d+): predicted ([0-9.]+), true sum ([0-9.]+)$",
                           stdout, re.M)
    assert len(sequences) == 8
    mse = float(re.search(r"^MSE on these 8: ([0-9.e-]+)$", stdout, re.M)[1])
    assert mse == pytest.approx(sum((float(p) - float(t)) ** 2 for _, p, t in sequences) / 8,
                                rel=1e-2, abs=1e-4)
    assert mse < 0.05, "the trained model solves the task (the baseline is 0.167)"
    u = catalog.load_model(MODEL).model.body.weight_hh_l1.detach()
    assert f"body.l1: u from {float(u.min()):.6f} to {float(u.max()):.6f}" in stdout
    assert "paper bounds at T = 1000" in stdout and "(γ = 2, ε = 0.2)" in stdout
    # The gradient reaches the output only from the marked steps (see the notebook's text).
    markers = re.search(r"^markers at steps (\[[0-9, ]+\])$", stdout, re.M)[1]
    assert f"‖∂y/∂x_t‖ > 0 at steps {markers}" in stdout


def _cells(text: str) -> list[tuple[str, str]]:
    """``(kind, source)`` per ``# %%`` cell of a percent-format script (the header dropped)."""
    cells: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith("# %%"):
            cells.append(("markdown" if "[markdown]" in line else "code", []))
        elif cells:
            cells[-1][1].append(line)
    return [(kind, "\n".join(lines).strip()) for kind, lines in cells]


def test_it_is_a_percent_format_notebook() -> None:
    text = NOTEBOOK.read_text(encoding="utf-8")
    cells = _cells(text)
    kinds = [kind for kind, _ in cells]
    assert kinds[0] == "markdown" and kinds.count("code") >= 6 and kinds.count("markdown") >= 6
    for kind, source in cells:
        assert source, "no empty cells"
        if kind == "markdown":
            assert all(line.startswith("#") for line in source.splitlines()), source[:80]
        else:
            ast.parse(source)  # each code cell stands alone, as Jupyter runs it
    if importlib.util.find_spec("jupytext") is not None:  # optional: not a requirement
        import jupytext

        notebook = jupytext.reads(text, fmt="py:percent")
        assert [c.cell_type for c in notebook.cells] == kinds


def test_the_u_it_checks_is_the_models_recurrent_weight() -> None:
    # The per-neuron u lines are checked against weight_hh: make sure that is u itself.
    model = catalog.load_model(MODEL).model
    memory = indrnn_memory(model)
    for index in (0, 1):
        assert torch.equal(memory[f"body.l{index}"].u,
                           getattr(model.body, f"weight_hh_l{index}").detach())
