"""The Overview page's views: the model's card in a few lines, its prediction, each layer's
activity."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go
from torch import Tensor, nn

from indrnn.analysis import activity_summaries
from indrnn.data import NO_TASK
from indrnn.figures.overlays import pixel_image
from indrnn.figures.overview import input_series, layer_activity_bars
from indrnn.objectives import Objective
from indrnn.run import Run
from indrnn.views.predictions import prediction_figure, predictions_side_by_side


def card_lines(model: nn.Module, card: dict[str, Any], objective: Objective) -> list[str]:
    """Task, test metrics and parameter count, as Markdown lines."""
    info = objective.info
    metrics = ", ".join(f"{k} {v:.4g}" for k, v in card.get("metrics", {}).get("test", {}).items())
    kind = info.output_kind.replace("_", " ")
    task = (f"**Task**: {info.name} — {kind}" if info.name != NO_TASK else
            f"**Task**: none named in the card; its {info.output_size} outputs are read as "
            f"{kind} ({', '.join(objective.output_labels(info.output_size)[:4])}"
            f"{', …' if info.output_size > 4 else ''})")
    described = [f"**About**: {card['description']}"] if isinstance(
        card.get("description"), str) else []
    return [task, *described,
            f"**Test metrics**: {metrics or 'not recorded'}", *seed_spread_lines(card),
            f"**Parameters**: {sum(p.numel() for p in model.parameters()):,}"]


def seed_spread_lines(card: dict[str, Any]) -> list[str]:
    """The test metric over training seeds (``scripts/seed_spread.py --write``), as Markdown:
    how far one model's figure is from what its recipe gives on average."""
    spread = card.get("metrics", {}).get("seed_spread")
    values = spread.get("test") if isinstance(spread, dict) else None
    if not isinstance(values, list) or len(values) < 2:
        return []
    return [f"**Over {len(values)} training seeds**: test {spread.get('metric', 'metric')} "
            f"{statistics.mean(values):.4g} ± {statistics.stdev(values):.2g}, from "
            f"{min(values):.4g} to {max(values):.4g}: this recipe retrained once per seed "
            "(`scripts/seed_spread.py`)"]


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


#: Characters of a text input shown on the Overview.
SHOWN_CHARACTERS = 3000


@dataclass(frozen=True)
class InputView:
    """The input as its task reads it: a figure (a series, an image) or text."""

    figure: go.Figure | None = None
    text: str | None = None
    caption: str = ""


def input_view(run: Run, objective: Objective, sequence: int = 0) -> InputView:
    """One sequence of the input, drawn as what it is: the text a language model reads, the
    image a pixel model reads, else each channel over time by the model's channel names, the
    task's events (the adding problem's markers) marked."""
    steps = int(run.lengths[sequence])
    inputs = run.inputs[sequence: sequence + 1]
    texts = objective.texts(inputs, run.lengths[sequence: sequence + 1])
    if texts is not None:
        text = texts[0]
        more = len(text) > SHOWN_CHARACTERS
        return InputView(text=text[:SHOWN_CHARACTERS], caption=f"{len(text):,} characters"
                         + (f", the first {SHOWN_CHARACTERS:,} shown" if more else ""))
    values = inputs[0, :steps]
    info = objective.info
    shape = info.image_shape
    if shape is not None and values.shape[-1] == 1 and steps == shape[0] * shape[1]:
        return InputView(figure=pixel_image(values[:, 0].numpy(), shape=shape, permutation=(
            objective.task.extras.get("permutation")), title=f"Sequence {sequence}: the image"),
            caption=f"{steps:,} pixels read one per step")
    events = objective.task.events(values)
    return InputView(figure=input_series(values.numpy(), names=info.channel_names,
                                         events=events, title=f"Sequence {sequence}: the input"),
                     caption=f"{steps:,} steps" + (f", {len(events)} marked" if events else ""))
