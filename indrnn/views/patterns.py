"""The Pattern search page's views (LSTMVis): neurons on together, on this input and across the
held-out data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from indrnn.analysis import find_pattern, neurons_on_in_window
from indrnn.data.text import visible
from indrnn.export import match_columns, table_csv
from indrnn.figures.patterns import pattern_trace, pattern_windows
from indrnn.objectives import Objective
from indrnn.run import Run


@dataclass(frozen=True)
class PatternDefaults:
    """Where a search starts: the sequence's two most active neurons, a threshold their weaker one
    passes on half of the steps, and a short window mid-sequence."""

    neurons: list[int]
    threshold: float
    window: tuple[int, int]


def pattern_defaults(run: Run, layer: str, sequence: int) -> PatternDefaults:
    states = run.states(layer, sequence).numpy()
    steps = len(states)
    neurons = sorted(np.argsort(-states.mean(0), kind="stable")[:2].tolist())
    threshold = float(f"{float(np.median(states[:, neurons].min(1))):.3g}")
    width = max(1, min(10, steps // 10))
    start = max(0, (steps - width) // 2)
    return PatternDefaults(neurons, threshold, (start, start + width))


def window_neurons(run: Run, layer: str, sequence: int, window: tuple[int, int],
                   threshold: float, off_outside: int = 0) -> tuple[list[int], str]:
    """The neurons above ``threshold`` throughout ``[start, end)`` (an empty window grows to one
    step), and a line saying which."""
    steps = int(run.lengths[sequence])
    start, end = window
    end = max(end, start + 1) if start < steps else steps
    start = min(start, end - 1)
    neurons = neurons_on_in_window(run.layers[layer].hidden, sequence, start, end, threshold,
                                   off_outside=off_outside, lengths=run.lengths).tolist()
    named = ", ".join(map(str, neurons)) if neurons else "none"
    return neurons, f"Neurons above {threshold:.4g} at every step of [{start}, {end}): {named}"


@dataclass(frozen=True)
class CurrentMatches:
    figure: go.Figure
    caption: str | None  #: the matched text (a text model)


def current_matches(run: Run, objective: Objective, layer: str, sequence: int,
                    neurons: Sequence[int], threshold: float, min_length: int) -> CurrentMatches:
    """The pattern on the current input, best stretch first."""
    here = [m for m in find_pattern(run.layers[layer].hidden, neurons, threshold,
                                    min_length=min_length, lengths=run.lengths)
            if m.sequence == sequence]
    figure = pattern_trace(run.states(layer, sequence).numpy(), neurons, here,
                           threshold=threshold, sequence=sequence,
                           title=f"{layer}: the pattern on the current input")
    texts = objective.texts(run.inputs[sequence: sequence + 1], run.lengths[sequence:
                                                                           sequence + 1])
    caption = None
    if texts is not None and here:
        caption = "Matched text on the current input (best first): " + " · ".join(
            visible(texts[0][m.start:m.end], spaces=True) for m in here[:10])
    return CurrentMatches(figure, caption)


@dataclass(frozen=True)
class HeldOutMatches:
    """Every stretch of the held-out data where the pattern is on again."""

    summary: str
    figure: go.Figure | None
    rows: dict[str, list] | None
    csv: str | None


def held_out_matches(held_out: Run, objective: Objective, layer: str, neurons: Sequence[int],
                     threshold: float, min_length: int, limit: int) -> HeldOutMatches | None:
    """The best ``limit`` matches with their context; ``None`` if the run lacks the layer."""
    if layer not in held_out.layers:
        return None
    hidden = held_out.layers[layer].hidden
    traces = [hidden[: int(n), b].numpy() for b, n in enumerate(held_out.lengths)]
    found = find_pattern(traces, neurons, threshold, min_length=min_length)
    matches = found[:limit]
    summary = (f"**{len(found)}** stretch{'es' if len(found) != 1 else ''} of ≥ {min_length} "
               f"steps in {len(traces)} held-out sequences"
               + (f" (the best {limit} listed)" if len(found) > limit else "") + ".")
    if not matches:
        return HeldOutMatches(summary, None, None, None)
    texts = objective.texts(held_out.inputs, held_out.lengths)
    rows = match_columns(matches, texts, held_out.source_indices)
    return HeldOutMatches(summary, pattern_windows(traces, neurons, matches, threshold=threshold,
                                                   text=texts,
                                                   title="The best matches, with context"),
                          rows, table_csv(rows))
