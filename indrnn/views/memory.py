"""The Memory page's views: u against the paper's bounds, τ beside the LSTM's, impulse
responses, and the exact gradient through time of each model trained on the task."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch
from torch import nn

from indrnn.analysis import (
    impulse_response,
    indrnn_gradient_map,
    indrnn_memory,
    lstm_cell_gradient_map,
    lstm_memory,
    paper_gamma,
    saliency,
)
from indrnn.analysis.memory import IndRNNLayerMemory, LSTMLayerMemory
from indrnn.figures.gradients import gradient_maps, gradient_over_time
from indrnn.figures.memory import flag_counts, impulse_figure, tau_histogram, u_strip
from indrnn.run import Run
from indrnn.views.neurons import near_one


@dataclass(frozen=True)
class ModelRun:
    """A model and its run on the page's input, under the model's name."""

    name: str
    model: nn.Module
    run: Run


def memories(model: nn.Module, run: Run, trained_steps: int | None,
             ) -> dict[str, IndRNNLayerMemory | LSTMLayerMemory]:
    """Every layer's memory: IndRNN layers from u, against the paper's bounds at the trained
    length (γ read off the model's own bound, :func:`indrnn.analysis.paper_gamma`), LSTM
    layers from their forget gates on this run."""
    seq_len = trained_steps or int(run.lengths.max())
    found: dict[str, IndRNNLayerMemory | LSTMLayerMemory] = dict(indrnn_memory(
        model, seq_len=seq_len, gamma=paper_gamma(model, seq_len), recording=run.recording))
    for name in run.layers_of_kind("lstm"):
        found[name] = lstm_memory(run.layers[name], run.lengths)
    return found


def indrnn_only(found: dict) -> dict[str, IndRNNLayerMemory]:
    return {name: m for name, m in found.items() if isinstance(m, IndRNNLayerMemory)}


@dataclass(frozen=True)
class MemoryFigures:
    """u against its bounds, the flagged neurons, and τ of every layer (partner's LSTM too)."""

    u: go.Figure
    flags: go.Figure
    tau: go.Figure


def memory_figures(this: ModelRun, partner: ModelRun | None, trained_steps: int | None,
                   u_distance: bool | None = None) -> MemoryFigures | None:
    """The figures of :class:`MemoryFigures`; ``None`` for a model without IndRNN layers.

    ``u_distance`` draws u as its distance from 1 on a log axis; by default, when most u of
    some layer sit within 0.01 of 1."""
    own = indrnn_only(memories(this.model, this.run, trained_steps))
    if not own:
        return None
    taus: dict[str, IndRNNLayerMemory | LSTMLayerMemory] = dict(own)
    if partner is not None:
        for name in partner.run.layers_of_kind("lstm"):
            taus[f"LSTM {name}"] = lstm_memory(partner.run.layers[name], partner.run.lengths)
    title = "Memory per neuron: IndRNN τ from u, LSTM τ from its mean forget gate"
    if u_distance is None:
        u_distance = any(near_one(torch.as_tensor(m.u)) for m in own.values())
    return MemoryFigures(u_strip(own, distance=u_distance),
                         flag_counts({n: m.flags for n, m in own.items()}),
                         tau_histogram(taus, title=title))


def impulse(this: ModelRun, layer: str, neuron: int, sequence: int, kick_at: int,
            kind: str) -> go.Figure:
    """The neuron's measured response to a kick at ``kick_at`` against ``u^k``."""
    x = this.run.sequence_inputs(sequence)
    return impulse_figure(impulse_response(this.model, x, layer, neuron, kick_at, kind=kind))


@dataclass(frozen=True)
class GradientFigures:
    """``‖∂y/∂x_t‖`` of every model, and each last layer's neuron × lag map."""

    over_time: go.Figure
    maps: go.Figure | None


def gradient_figures(runs: list[ModelRun], sequence: int) -> GradientFigures:
    """Exact gradients through time of every model on one sequence (autograd, and the exact
    products ``Π u σ′`` of an IndRNN layer or ``Π f`` of an LSTM's cell path)."""
    norms: dict[str, np.ndarray] = {}
    maps: dict[str, np.ndarray] = {}
    for entry in runs:
        x = entry.run.sequence_inputs(sequence)
        end = x.shape[1] - 1
        norms[entry.name] = saliency(entry.model, x).input_norm[0].numpy()
        last = list(entry.run.layers)[-1]
        record = entry.run.layers[last]
        if record.kind == "indrnn":
            maps[f"{entry.name} · {last} (Π u σ′)"] = indrnn_gradient_map(record, end=end)[
                sequence].numpy()
        else:
            maps[f"{entry.name} · {last} (Π f)"] = lstm_cell_gradient_map(record, end=end)[
                sequence].numpy()
    return GradientFigures(gradient_over_time(norms), gradient_maps(maps) if maps else None)
