"""The Ablation page's views: what silencing neurons or taking their memory does to the output
on this input, to the task's metric on held-out data, and which neurons matter most."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch
from torch import nn

from indrnn.analysis import Ablation, compare_outputs
from indrnn.analysis.ablation import AblationMetrics, NeuronImpact
from indrnn.figures.ablation import ablation_bars, ablation_over_time, impact_bars
from indrnn.figures.neurons import neuron_scatter
from indrnn.objectives import Objective, OutputChange
from indrnn.run import Run
from indrnn.views.neurons import neuron_table

#: Radio label -> :class:`~indrnn.analysis.Ablation` mode.
MODES = {"silence (h = 0)": "silence", "take memory away (u = 0)": "memory"}


@torch.no_grad()
def output_change(model: nn.Module, run: Run, sequence: int, ablations: Sequence[Ablation],
                  objective: Objective) -> OutputChange:
    """Run ``model`` and an ablated private copy on one recorded sequence (its valid steps), and
    say what changed in the task's terms (:meth:`Objective.output_change`). ``model`` is not
    changed (:func:`indrnn.analysis.compare_outputs` ablates a copy)."""
    x = run.sequence_inputs(sequence)
    result = compare_outputs(model, x, ablations)
    return objective.output_change(result.original[0], result.ablated[0], x)


def change_figure(change: OutputChange, what: str) -> go.Figure:
    """The output before and after, per step (a language model) or per output."""
    if change.per_step:
        return ablation_over_time(change.original, change.ablated, y_title=change.measure,
                                  title=f"Output over time, original vs ablated ({what})")
    return ablation_bars(change.original, change.ablated, names=change.labels,
                         top_k=10 if len(change.labels) > 20 else None, y_title=change.measure,
                         title=f"Output, original vs ablated ({what})")


def change_caption(change: OutputChange) -> str:
    largest = float(change.difference.abs().max()) if change.difference.numel() else 0.0
    return f"Largest change of the {change.measure}: {largest:.4g}."


@dataclass(frozen=True)
class MetricChange:
    """One held-out metric with the ablation: its value, the change, and which way is better."""

    name: str
    value: str
    delta: str
    higher_is_better: bool


def metric_changes(result: AblationMetrics, objective: Objective) -> list[MetricChange]:
    """The ablated model's metrics and their change from the original, for ``st.metric``."""
    return [MetricChange(name.replace("_", " "), f"{value:.4g}",
                         f"{result.change[name]:+.4g} (original {result.original[name]:.4g})",
                         name == objective.metric and objective.higher_is_better)
            for name, value in result.ablated.items()]


@dataclass(frozen=True)
class ImpactFigures:
    """The ranking as bars, and each neuron's memory against its impact."""

    bars: go.Figure
    memory: go.Figure
    caption: str


def impact_figures(model: nn.Module, run: Run, ranking: NeuronImpact) -> ImpactFigures:
    """Figures of a ranking of the neurons of one layer by ablation impact."""
    size = run.layers[ranking.layer].hidden.shape[-1]
    impact = np.full(size, np.nan)
    impact[ranking.neurons.numpy()] = ranking.impact.numpy()
    tau = neuron_table(model, run, ranking.layer)["tau"].numpy()
    top = ", ".join(str(int(n)) for n in ranking.neurons[:5])
    return ImpactFigures(
        impact_bars(ranking, y_title="mean |output change|"),
        neuron_scatter(impact, tau, x_title="impact (mean |output change|)", y_title="τ (steps)",
                       log_y=True, title="Memory against impact, neuron by neuron"),
        f"Most impactful: {top}. Pick them above to ablate them together.")
