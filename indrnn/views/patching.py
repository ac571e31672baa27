"""The Patching page's views: run this sequence while chosen neurons take the states they have on
another input (an interchange intervention), and say how much of the other input's effect on the
output they carry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import plotly.graph_objects as go
import torch
from torch import Tensor, nn

from indrnn.analysis.patching import interchange
from indrnn.explain import Finding
from indrnn.figures.ablation import ablation_over_time
from indrnn.figures.patching import patch_bars, patch_states
from indrnn.objectives import Objective, OutputChange
from indrnn.run import Run

#: Where the source input comes from -> its label.
SOURCES = {"edit": "this sequence with one input value changed",
           "held_out": "another held-out sequence"}


@dataclass(frozen=True)
class ValueEdit:
    """The source input as this sequence with ``value`` at ``step`` of input ``channel``."""

    step: int
    channel: int
    value: float


def editable(run: Run) -> bool:
    """Whether the input is real-valued features (a value can be changed), not token ids."""
    return run.inputs.is_floating_point() and run.inputs.dim() == 3


def default_source(run: Run, sequence: int, objective: Objective) -> str:
    """The source a user most likely wants: a changed value where the task marks steps (the
    adding problem's markers), else another held-out sequence."""
    if editable(run) and objective.task.events(run.sequence_inputs(sequence)[0]):
        return "edit"
    return "held_out"


def default_edit(run: Run, sequence: int, objective: Objective) -> ValueEdit:
    """The first marked step of the task (else the step of largest input), channel 0, its value
    moved as far as it goes in the adding problem's range (``1 - value``)."""
    x = run.sequence_inputs(sequence)[0]
    events = objective.task.events(x)
    step = events[0][0] if events else int(x.abs().sum(-1).argmax())
    old = float(x[step, 0])
    return ValueEdit(step, 0, round(1.0 - old, 3))


def edited_input(run: Run, sequence: int, edit: ValueEdit) -> Tensor:
    """This sequence (its valid steps) with ``edit`` applied."""
    x = run.sequence_inputs(sequence).clone()
    steps, channels = x.shape[1], x.shape[2]
    if not (0 <= edit.step < steps and 0 <= edit.channel < channels):
        raise ValueError(f"the step must be in 0..{steps - 1} and the channel in "
                         f"0..{channels - 1}, got step {edit.step}, channel {edit.channel}")
    x[0, edit.step, edit.channel] = edit.value
    return x


@dataclass(frozen=True)
class HeldOutSource:
    """Held-out test sequences long enough to be a source, cut to the base's length."""

    inputs: Tensor  #: ``(S, T, ...)``
    labels: list[str]  #: what each one is, for a picker
    cut: bool  #: whether any was longer than the base and cut


def held_out_sources(objective: Objective, steps: int, limit: int = 64) -> HeldOutSource:
    """Up to ``limit`` test sequences (spread over the split, :meth:`Objective.held_out`; text in
    lanes long enough) with at least ``steps`` valid steps, each cut to its first ``steps``."""
    held = objective.held_out(1_000_000, text_chars=8 * (steps + 1))
    lengths = (torch.full((len(held.inputs),), held.inputs.shape[1]) if held.lengths is None
               else held.lengths)
    long_enough = torch.nonzero(lengths >= steps).flatten()
    pick = torch.linspace(0, len(long_enough) - 1, min(limit, len(long_enough))).round().long()
    keep = long_enough[pick] if len(long_enough) else long_enough
    classes = objective.held_out_labels(held.source_indices, len(held.inputs))
    names = objective.output_labels(int(classes.max()) + 1) if classes is not None else None
    labels = []
    for k in keep.tolist():
        where = (f"test sequence {int(held.source_indices[k])}"
                 if held.source_indices is not None else f"test text, lane {k}")
        if names is not None:
            where += f" ({names[int(classes[k])]})"
        labels.append(where)
    return HeldOutSource(held.inputs[keep, :steps], labels,
                         bool((lengths[keep] > steps).any()))


@dataclass(frozen=True)
class PatchView:
    """What patching did: the outputs in the task's terms and the patched neurons' states."""

    change: OutputChange  #: base (``original``) against patched (``ablated``)
    source: Tensor  #: the source input's output, in the same terms
    base_states: Tensor  #: ``(T, k)``
    source_states: Tensor
    patched_states: Tensor
    neurons: tuple[int, ...]
    window: tuple[int, int] | None


@torch.no_grad()
def patch_view(model: nn.Module, run: Run, sequence: int, layer: str, neurons: Sequence[int],
               source: Tensor, objective: Objective,
               window: tuple[int, int] | None = None) -> PatchView:
    """Run ``sequence`` with ``neurons`` of ``layer`` given their states on ``source``
    (``(1, T, ...)``, as long as the sequence) over ``window``. ``model`` is not changed."""
    x = run.sequence_inputs(sequence)
    result = interchange(model, x, source, layer, neurons, window=window)
    change = objective.output_change(result.base[0], result.patched[0], x)
    on_source = objective.output_change(result.base[0], result.source[0], x).ablated
    steps = x.shape[1]
    base_states = run.layers[layer].hidden[:steps, sequence, list(result.neurons)]
    return PatchView(change, on_source, base_states, result.source_states[:, 0],
                     result.patched_states[:, 0], result.neurons, window)


def patch_figures(view: PatchView) -> tuple[go.Figure, go.Figure]:
    """The outputs (three runs side by side, or per step for a language model) and the states."""
    change = view.change
    if change.per_step:
        outputs = ablation_over_time(change.original, change.ablated, y_title=change.measure,
                                     names=("base", "patched"),
                                     title="Output over time: base and patched")
    else:
        outputs = patch_bars(change.original, view.source, change.ablated, names=change.labels,
                             top_k=10 if len(change.labels) > 20 else None,
                             y_title=change.measure)
    states = patch_states(view.base_states, view.source_states, view.patched_states,
                          view.neurons, window=view.window)
    return outputs, states


def carried_line(view: PatchView) -> str:
    """How much of the source's effect on the output the patched neurons carry, in words."""
    change, count = view.change, len(view.neurons)
    who, carry = (("the patched neuron", "carries") if count == 1 else
                  (f"the {count} patched neurons", "carry"))
    if change.per_step:
        moved = float((change.ablated - change.original).abs().mean())
        verb = "changes" if count == 1 else "change"
        return (f"Patched, {who} {verb} the {change.measure} by {moved:.3g} per step on "
                "average (the base input's own next characters are scored).")
    gap = (view.source - change.original).double()
    k = int(gap.abs().argmax())
    if float(gap.abs()[k]) == 0.0:
        return "The two inputs give the same output: there is no difference to carry."
    base, source, patched = (float(change.original[k]), float(view.source[k]),
                             float(change.ablated[k]))
    share = (patched - base) / (source - base)
    label = change.labels[k] if change.labels else str(k)
    return (f"{change.measure.capitalize()} of {label}, where the inputs differ most: "
            f"{_readable(base)} on the base, {_readable(source)} on the source, "
            f"{_readable(patched)} patched: "
            f"{who} {carry} {share:.0%} of the difference.")


def _readable(value: float) -> str:
    """Four significant digits, with a saturated probability's 3.8e-284 said as "< 0.001"."""
    if 0.0 < abs(value) < 1e-3:
        return "< 0.001" if value > 0 else "> -0.001"
    return f"{value:.4g}"


def finding_neurons(findings: Sequence[Finding], layer: str) -> list[int] | None:
    """The neurons of the first finding on ``layer`` that names what they hold (else the first
    finding on it), for the page's default; ``None`` when none is on this layer."""
    on_layer = [f for f in findings if f.layer == layer]
    if not on_layer:
        return None
    held = [f for f in on_layer if f.kind == "marker"]
    return list((held or on_layer)[0].neurons)
