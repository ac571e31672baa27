"""The Discovery page's views: neurons that follow what is known about the input (the task's
annotation tracks), and neurons that pick out a class."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import plotly.graph_objects as go

from indrnn.analysis import correlate_tracks, label_selectivity, sequence_features, top_neurons
from indrnn.analysis.discovery import TrackCorrelation
from indrnn.figures.discovery import track_bars, track_trace
from indrnn.objectives import Objective
from indrnn.run import Run


def track_correlations(held_out: Run, objective: Objective,
                       layer: str) -> dict[str, TrackCorrelation]:
    """Every neuron of ``layer`` ranked by Pearson's r with each of the task's annotation tracks
    (:meth:`indrnn.data.Task.annotation_tracks`), over every step of the held-out run."""
    hidden = held_out.layers[layer].hidden
    tracks = objective.task.annotation_tracks(held_out.inputs, held_out.lengths)
    return correlate_tracks(hidden, tracks, k=hidden.shape[-1], lengths=held_out.lengths)


#: Radio value -> what the neurons are ranked by.
STATISTICS = {"r": "r over every step", "partial": "r with the time step removed"}


def ranked_by(correlation: TrackCorrelation, statistic: str) -> TrackCorrelation:
    """``correlation`` ranked by ``statistic`` (a key of :data:`STATISTICS`): r as measured, or
    r once the time step is regressed out of neuron and track."""
    if statistic == "r" or correlation.partial_r is None:
        return correlation
    r = correlation.partial_r
    neurons, top = top_neurons(r, len(r))
    return replace(correlation, r=r, neurons=neurons, top_r=top)


def neuron_label(correlation: TrackCorrelation, neuron: int) -> str:
    """``"12 (r = 0.912; without time 0.105)"``, for a picker."""
    label = f"{neuron} (r = {correlation.r[neuron]:.3f}"
    if correlation.partial_r is not None:
        label += f"; without time {correlation.partial_r[neuron]:.3f}"
    return label + ")"


def ranking_figure(correlations: dict[str, TrackCorrelation], tracks: list[str],
                   k: int, statistic: str = "r") -> go.Figure:
    """Top neurons per track by ``statistic``, with each track's misaligned chance level (for r
    as measured: a misaligned track says nothing of the time-free r)."""
    shown = {name: ranked_by(correlations[name], statistic) for name in tracks}
    chance = {name: c.chance for name, c in shown.items()} if statistic == "r" else None
    title = f"Neurons that follow each track ({STATISTICS[statistic]})"
    return track_bars(shown, tracks=tracks, k=k, chance=chance, title=title)


def controls_table(correlations: dict[str, TrackCorrelation],
                   tracks: list[str]) -> dict[str, list]:
    """Per track: the strongest |r|, the r a misaligned track reaches (chance), and the
    strongest |r| with the time step removed: a track whose r falls to chance without time is
    followed only because both grow with it."""
    rows: dict[str, list] = {"track": [], "strongest |r|": [], "chance |r| (misaligned)": [],
                             "strongest |r|, time step removed": []}
    for name in tracks:
        c = correlations[name]
        rows["track"].append(name)
        rows["strongest |r|"].append(round(float(np.nanmax(np.abs(c.r))), 3))
        rows["chance |r| (misaligned)"].append(round(c.chance, 3))
        partial = np.nan if c.partial_r is None else float(np.nanmax(np.abs(c.partial_r)))
        rows["strongest |r|, time step removed"].append(round(partial, 3))
    return rows


def neuron_on_track(run: Run, objective: Objective, layer: str, sequence: int, neuron: int,
                    track: str, correlation: TrackCorrelation) -> go.Figure:
    """One neuron against one track on the current input, with its r over held-out data."""
    steps = int(run.lengths[sequence])
    values = run.states(layer, sequence)[:, neuron].numpy()
    current = objective.task.annotation_tracks(run.inputs[sequence: sequence + 1, :steps])[
        track][:, 0]
    r = float(correlation.r[neuron])
    return track_trace(values, current, neuron=neuron, track_name=track, r=r,
                       title=f"Neuron {neuron} against {track} (r = {r:.3f} over held-out data)")


#: Radio value -> how each sequence gives one value per neuron.
FEATURES = {"last": "its last step", "mean": "mean over its steps", "max": "max over its steps"}


@dataclass(frozen=True)
class ClassSelectivity:
    """Neurons that pick out a class, over the held-out sequences."""

    caption: str
    missing: str | None  #: the classes not among the held-out sequences
    figure: go.Figure | None  #: top neurons per class (``None``: one class only)
    table: dict[str, list] | None


def class_selectivity(held_out: Run, objective: Objective, layer: str, how: str,
                      k: int) -> ClassSelectivity | None:
    """Point-biserial r per class and η² per neuron; ``None`` for a task without classes."""
    count = len(held_out.lengths)
    labels = objective.held_out_labels(held_out.source_indices, count)
    if labels is None:
        return None
    info = objective.info
    hidden = held_out.layers[layer].hidden
    selectivity = label_selectivity(sequence_features(hidden, how, lengths=held_out.lengths),
                                    labels, num_classes=info.num_classes)
    names = list(objective.output_labels(info.num_classes))
    present = sorted(set(labels.tolist()))
    caption = (f"Point-biserial r of each neuron's value with \"the sequence is this class\", "
               f"over {count} held-out sequences; the most positive first.")
    missing = [names[c] for c in range(len(names)) if c not in present]
    note = f"Not among these held-out sequences: {', '.join(missing)}." if missing else None
    if len(present) < 2:
        return ClassSelectivity(caption, note, None, None)
    per_class = {names[c]: top_neurons(selectivity.point_biserial[c], k, absolute=False)
                 for c in present}
    order, eta = top_neurons(selectivity.eta_squared, k, absolute=False)
    table = {"neuron": order.tolist(),
             "η² (share of variance between classes)": np.round(eta, 4).tolist(),
             "F": np.round(selectivity.f_statistic[order], 3).tolist(),
             "highest for": [names[c] for c in selectivity.best_class[order]]}
    return ClassSelectivity(caption, note, track_bars(per_class, k=k,
                                                      title="Top neurons per class"), table)
