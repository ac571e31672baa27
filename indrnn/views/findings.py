"""What a model does, for the Overview: its findings (:mod:`indrnn.explain`) in plain words, the
neurons each names, and what those neurons do on the input in front of the user."""

from __future__ import annotations

from dataclasses import dataclass

from indrnn.explain import Finding
from indrnn.objectives import Objective
from indrnn.run import Run


@dataclass(frozen=True)
class FindingView:
    """One finding as the Overview shows it.

    Attributes
    ----------
    claim : str
        The finding's sentence (numbers measured on the test split).
    on_input : str or None
        What its neurons do on this input, in one line; ``None`` if the input's run lacks the
        layer.
    layer : str
    neurons : tuple of int
        The neurons to link to.
    """

    claim: str
    on_input: str | None
    layer: str
    neurons: tuple[int, ...]


def _marked(run: Run, objective: Objective, sequence: int) -> str:
    """The task's marked steps of this sequence (the adding problem's markers) in words."""
    steps = int(run.lengths[sequence])
    events = objective.task.events(run.inputs[sequence, :steps]) or []
    return "; ".join(f"{label} at step {step}" for step, label in events)


def finding_views(findings: list[Finding], run: Run, objective: Objective,
                  sequence: int = 0, most: int = 6) -> list[FindingView]:
    """The first ``most`` findings, each with its neurons' states on ``sequence`` of ``run``."""
    shown = []
    for finding in findings[:most]:
        on_input = None
        if finding.layer in run.layers:
            steps = int(run.lengths[sequence])
            states = run.states(finding.layer, sequence)[:steps, list(finding.neurons)]
            ends = ", ".join(f"{float(v):.3g}" for v in states[-1])
            active = float((states > 0).double().mean())
            on_input = (f"On this input they end at {ends} and are on at {active:.0%} of the "
                        f"{steps:,} steps" if len(finding.neurons) > 1 else
                        f"On this input it ends at {ends} and is on at {active:.0%} of the "
                        f"{steps:,} steps")
            marked = _marked(run, objective, sequence) if finding.kind == "marker" else ""
            on_input += f" ({marked})." if marked else "."
        shown.append(FindingView(finding.claim, on_input, finding.layer, finding.neurons))
    return shown
