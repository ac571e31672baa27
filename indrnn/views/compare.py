"""The IndRNN vs LSTM page's views: the LSTM's gates over time and their saturation, and the
memory of both models side by side."""

from __future__ import annotations

import json
from dataclasses import dataclass

import plotly.graph_objects as go
from torch import Tensor

from indrnn import catalog
from indrnn.analysis import gate_saturation, indrnn_memory, lstm_memory
from indrnn.explain import Finding
from indrnn.figures.compare import (
    NARROW_GATES,
    gate_heatmaps,
    gate_span,
    gate_traces,
    memory_comparison,
    saturation_scatter,
)
from indrnn.record import LayerRecord
from indrnn.run import Run
from indrnn.views.memory import ModelRun

LSTM_GATES = ("input_gate", "forget_gate", "output_gate")


def gate_series(layer: LayerRecord, sequence: int, steps: int, unit: int | None = None,
                gates: tuple[str, ...] = LSTM_GATES) -> dict[str, Tensor]:
    """One sequence's LSTM gates over its ``steps`` valid steps: ``(T, N)`` each, or ``(T,)`` of
    one ``unit``, keyed by gate name (for :func:`indrnn.figures.gate_traces` and
    :func:`indrnn.figures.gate_heatmaps`)."""
    if layer.kind != "lstm":
        raise ValueError(f"{layer.name} is an {layer.kind} layer; gates are an LSTM's")
    series = {gate: layer.tensors[gate][:steps, sequence] for gate in gates}
    return series if unit is None else {gate: values[:, unit] for gate, values in series.items()}


def first_of_kind(runs: list[ModelRun], kind: str) -> ModelRun | None:
    """The first of ``runs`` with a layer of ``kind`` (``"indrnn"`` or ``"lstm"``)."""
    return next((entry for entry in runs if entry.run.layers_of_kind(kind)), None)


def pairing_notes(runs: list[ModelRun], settings: dict) -> list[str]:
    """A line for each listed model beside ``runs[0]`` trained with other task settings
    (``task_kwargs``) than ``settings``, ``runs[0]``'s."""
    name, notes = runs[0].name, []
    for entry in runs[1:]:
        theirs = catalog.entry(entry.name).task_kwargs
        if theirs != settings:
            notes.append(f"No model was trained beside {name} with its settings "
                         f"({json.dumps(settings)}): {entry.name} was trained on the same task "
                         f"with {json.dumps(theirs)}, and runs on this input too.")
    return notes


def missing_family(runs: list[ModelRun], uploaded: bool) -> str | None:
    """Why there is nothing (or only one family) to compare, in one line; ``None`` if both
    families are here."""
    name = runs[0].name
    if len(runs) == 1:
        why = "an uploaded checkpoint" if uploaded else "none listed"
        return (f"No model was trained beside **{name}** on the same task ({why}), so there is "
                "nothing to compare it with on this input. Shown: what this model has of its own.")
    if first_of_kind(runs, "lstm") is None:
        return "None of the models trained on this task is an LSTM: only IndRNNs are compared."
    if first_of_kind(runs, "indrnn") is None:
        return "None of the models trained on this task is an IndRNN: the LSTM is shown alone."
    return None


def saturation_figure(run: Run, layer: str) -> go.Figure:
    """Each unit's gates: fraction of steps closed (< 0.1) against open (> 0.9)."""
    return saturation_scatter(gate_saturation(run.layers[layer], lengths=run.lengths),
                              title=f"Gate saturation of {layer} (Karpathy et al. 2015)")


@dataclass(frozen=True)
class GateFigures:
    """One unit's gates over time, and every unit's gates as heatmaps."""

    unit: go.Figure
    all_units: go.Figure
    note: str = ""


def gate_figures(run: Run, layer: str, sequence: int, unit: int) -> GateFigures:
    record, steps = run.layers[layer], int(run.lengths[sequence])
    every = gate_series(record, sequence, steps)
    low, high = gate_span(every.values())
    note = (f"On this input the gates of {layer} stay within {low:.2f}–{high:.2f}: they barely "
            "move, so this LSTM hardly opens or closes them here (the colours are stretched "
            "over that range)." if high - low < NARROW_GATES else "")
    return GateFigures(gate_traces(gate_series(record, sequence, steps, unit), unit=unit),
                       gate_heatmaps(every, title=f"{layer}: gates of every unit × steps"), note)


def memory_figure(indrnn: ModelRun | None, lstm: ModelRun | None) -> go.Figure | None:
    """τ of every IndRNN neuron (from u) beside τ of every LSTM unit (its mean forget gate)."""
    indrnn_taus = {} if indrnn is None else indrnn_memory(indrnn.model,
                                                          recording=indrnn.run.recording)
    lstm_taus = {} if lstm is None else {
        layer: lstm_memory(lstm.run.layers[layer], lstm.run.lengths)
        for layer in lstm.run.layers_of_kind("lstm")}
    if not (indrnn_taus or lstm_taus):
        return None
    title = ("Memory: IndRNN τ from u, LSTM τ from mean forget gate" if indrnn_taus and lstm_taus
             else "Memory: IndRNN τ from u" if indrnn_taus else
             "Memory: LSTM τ from mean forget gate")
    return memory_comparison(indrnn_taus, lstm_taus, title=title)


def findings_side_by_side(found: dict[str, list[Finding] | None], most: int = 3,
                          ) -> dict[str, list[str]]:
    """Each model's first ``most`` claims for the comparison, those naming what the units hold
    (the adding problem's marked values) first, so that the two models' answers to "where is
    the first marker kept, and for how long?" sit side by side. A model without findings says
    why in its one line."""
    shown = {}
    for name, findings in found.items():
        if findings is None:
            shown[name] = ["Its findings are not made yet (the Overview makes them)."]
        elif not findings:
            shown[name] = ["No finding: silencing no group of its units changes the held-out "
                           "metric enough to name it."]
        else:
            ordered = sorted(findings, key=lambda f: f.kind != "marker")  # stable: by effect
            shown[name] = [f.claim for f in ordered[:most]]
    return shown
