"""Predictions as the pages show them: one model's, or several models' side by side."""

from __future__ import annotations

from dataclasses import dataclass

import plotly.graph_objects as go
from torch import Tensor

from indrnn.figures.overview import prediction_bars, regression_bars
from indrnn.objectives import Objective
from indrnn.run import Run


@dataclass(frozen=True)
class PredictionsView:
    """Several models' predictions for one sequence, as the prediction figures take them.

    Attributes
    ----------
    probabilities : bool
        Class probabilities (:func:`indrnn.figures.prediction_bars`) rather than values
        (:func:`indrnn.figures.regression_bars`).
    values : dict of str to tuple of float
        Per model name: the regression outputs or the class probabilities.
    labels : tuple of str
        Output or class names (characters for a language model).
    target : int, tuple of float or None
        The true class, or the true value(s), when the input carries it.
    top_k : int or None
        Classes worth showing at most (the vocabulary of a language model is too many).
    """

    probabilities: bool
    values: dict[str, tuple[float, ...]]
    labels: tuple[str, ...]
    target: int | tuple[float, ...] | None
    top_k: int | None


def predictions_side_by_side(runs: dict[str, Run], sequence: int, objective: Objective,
                             targets: Tensor | None = None) -> PredictionsView:
    """The predictions of each model's run (same input) for ``sequence``.

    Parameters
    ----------
    runs : dict of str to Run
        By model name, each run with predictions (:func:`indrnn.run.run_model` given the
        objective).
    sequence : int
    objective : Objective
    targets : Tensor, optional
        The input's targets (``ParsedInput.targets``): ``(N,)`` classes or ``(N, K)`` values.
    """
    first = next(iter(runs.values())).predictions[sequence]
    many = objective.sample_unit == "characters" or len(first.labels) > 20
    return PredictionsView(objective.values_are_probabilities,
                           {name: run.predictions[sequence].values for name, run in runs.items()},
                           first.labels, objective.target(targets, sequence),
                           10 if many else None)


def prediction_figure(view: PredictionsView, title: str = "Prediction") -> go.Figure:
    """Bars of the view's values, the target marked."""
    if not view.probabilities:
        return regression_bars(view.values, target=view.target, output_names=view.labels,
                               title=title)
    return prediction_bars(view.values, class_names=view.labels, target=view.target,
                           top_k=view.top_k, title=title)


def prediction_lines(run: Run, objective: Objective, targets: Tensor | None,
                     most: int = 8) -> list[str]:
    """One line per sequence (the first ``most``): its length, the prediction and the target,
    rounded as the prediction is."""
    lines = []
    for index, prediction in enumerate(run.predictions[:most]):
        target = objective.target(targets, index)
        if isinstance(target, tuple):
            known = " — target " + ", ".join(f"{v:.4f}" for v in target)
        elif target is not None:
            known = f" — target {objective.output_labels(len(prediction.labels))[target]}"
        else:
            known = ""
        lines.append(f"Sequence {index} ({int(run.lengths[index])} steps): "
                     f"**{prediction.text}**{known}")
    return lines
