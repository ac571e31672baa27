"""The Overview page's views: the model's card in a few lines, its prediction, each layer's
activity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go
from torch import Tensor, nn

from indrnn.analysis import activity_summaries
from indrnn.figures.overview import layer_activity_bars
from indrnn.objectives import Objective
from indrnn.run import Run
from indrnn.views.predictions import prediction_figure, predictions_side_by_side


def card_lines(model: nn.Module, card: dict[str, Any], objective: Objective) -> list[str]:
    """Task, test metrics and parameter count, as Markdown lines."""
    info = objective.info
    metrics = ", ".join(f"{k} {v:.4g}" for k, v in card.get("metrics", {}).get("test", {}).items())
    return [f"**Task**: {info.name} — {info.output_kind.replace('_', ' ')}",
            f"**Test metrics**: {metrics or 'not recorded'}",
            f"**Parameters**: {sum(p.numel() for p in model.parameters()):,}"]


def first_prediction(name: str, run: Run, objective: Objective,
                     targets: Tensor | None) -> go.Figure | None:
    """The first sequence's prediction as bars (the target marked); ``None`` without one."""
    if not run.predictions:
        return None
    view = predictions_side_by_side({name: run}, 0, objective, targets)
    return prediction_figure(view)


@dataclass(frozen=True)
class LayerActivity:
    figure: go.Figure
    rows: list[dict[str, Any]]


def layer_activity(run: Run) -> LayerActivity:
    """Per layer: mean activation, fraction of steps active and dead neurons on this input."""
    summaries = activity_summaries(run.recording, run.lengths)
    rows = [{"layer": name, "kind": record.kind, "neurons": record.hidden.shape[-1],
             "mean activation": round(summaries[name].mean_activation, 4),
             "fraction active": round(summaries[name].layer_fraction_active, 3),
             "dead neurons": int(summaries[name].dead.sum())}
            for name, record in run.layers.items()]
    return LayerActivity(layer_activity_bars(summaries), rows)
