"""Ablate IndRNN neurons: silence them (``h = 0`` at every step) or take only their memory (u = 0).

The model given is never changed: every function here works on a private copy
(:func:`ablated_copy`), so a model shared between app sessions stays as it was.

* ``"silence"``: the neuron's state is 0 at every step. In an :class:`~indrnn.IndRNN` its input
  weights, bias and u are zeroed (``h = σ(0) = 0``); in an
  :class:`~indrnn.layers.IndRNNRecurrence` (deep networks) its u is zeroed and its input
  projection masked by a pre-forward hook on the copy. What follows the layer (batch norm after
  it, the next Weight, the readout) sees a 0.
* ``"memory"``: u = 0, so ``h_t = σ(W x_t + b)``: the neuron still reacts to its input but
  forgets at once.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from indrnn.analysis._common import model_output
from indrnn.analysis.locate import find_indrnn_layer
from indrnn.devices import model_device
from indrnn.objectives import Batch, Objective

MODES = ("silence", "memory")


@dataclass(frozen=True)
class Ablation:
    """Neurons of one IndRNN layer to ablate.

    Attributes
    ----------
    layer : str
        Recorded layer name (``"body.l1"``, ``"body.layers.3.recurrence"``).
    neurons : tuple of int
    mode : {"silence", "memory"}
    """

    layer: str
    neurons: tuple[int, ...]
    mode: str = "silence"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        object.__setattr__(self, "neurons", tuple(int(n) for n in self.neurons))


def _mask_hook(neurons: list[int]):
    def hook(module: nn.Module, args: tuple) -> tuple:
        a, *rest = args
        return (a.index_fill(-1, torch.tensor(neurons, device=a.device), 0.0), *rest)
    return hook


@torch.no_grad()
def _apply(model: nn.Module, ablations: Sequence[Ablation], saved: list, hooks: list) -> None:
    """Ablate in place, noting in ``saved`` and ``hooks`` what :func:`_restore` needs to undo it
    (also when it stops half-way on a bad layer name)."""
    for ablation in ablations:
        ref = find_indrnn_layer(model, ablation.layer)
        neurons = list(ablation.neurons)
        tensors = [ref.u]
        if ablation.mode == "silence" and ref.index is not None:
            tensors += [ref.weight_ih, ref.bias]
        elif ablation.mode == "silence":
            hooks.append(ref.module.register_forward_pre_hook(_mask_hook(neurons)))
        for tensor in tensors:
            if tensor is not None:
                saved.append((tensor, tensor.detach().clone()))
                tensor[neurons] = 0


@torch.no_grad()
def _restore(saved: list, hooks: list) -> None:
    for hook in hooks:
        hook.remove()
    for tensor, value in reversed(saved):
        tensor.copy_(value)


@contextmanager
def ablations_applied(model: nn.Module, ablations: Sequence[Ablation]) -> Iterator[nn.Module]:
    """Apply ``ablations`` to ``model`` in place for the ``with`` block, then restore it exactly.

    Only for a model the caller owns (e.g. from :func:`ablated_copy` or ``copy.deepcopy``):
    while the block runs, anyone else using ``model`` sees the ablation. Yields ``model``.
    """
    saved: list[tuple[Tensor, Tensor]] = []
    hooks: list = []
    try:
        _apply(model, ablations, saved, hooks)
        yield model
    finally:
        _restore(saved, hooks)


def ablated_copy(model: nn.Module, ablations: Sequence[Ablation]) -> nn.Module:
    """A deep copy of ``model`` with ``ablations`` applied for good; ``model`` is not touched."""
    private = copy.deepcopy(model)
    _apply(private, ablations, [], [])
    return private


@dataclass
class AblationComparison:
    """The model's output with and without an ablation, on the same input.

    Attributes
    ----------
    original, ablated, difference : Tensor
        The model's outputs as it returns them (e.g. ``(B, K)`` from the last step, or per step),
        and ``ablated - original``.
    """

    original: Tensor
    ablated: Tensor
    difference: Tensor


@torch.no_grad()
def compare_outputs(model: nn.Module, x: Tensor,
                    ablations: Sequence[Ablation]) -> AblationComparison:
    """Run ``model`` and an ablated copy on ``x`` (on the model's device) and return both
    outputs, on the CPU."""
    x = x.to(model_device(model))
    original = model_output(model(x)).detach().cpu()
    ablated = model_output(ablated_copy(model, ablations)(x)).detach().cpu()
    return AblationComparison(original, ablated, ablated - original)


@dataclass
class AblationMetrics:
    """Held-out metrics with and without an ablation (keys as the objective's ``evaluate``)."""

    original: dict[str, float]
    ablated: dict[str, float]
    change: dict[str, float]


def ablation_metrics(model: nn.Module, objective: Objective, ablations: Sequence[Ablation], *,
                     split: str = "test", limit: int | None = None) -> AblationMetrics:
    """The objective's metrics on a slice of held-out data, original against ablated.

    Parameters
    ----------
    model : nn.Module
        A ``SequenceModel`` for ``objective``'s task.
    objective : Objective
        From :func:`indrnn.objectives.objective_for`.
    ablations : sequence of Ablation
    split : str
        ``"test"`` or ``"valid"``.
    limit : int, optional
        Samples (characters for a language model); ``objective.slice_size`` by default.
    """
    limit = objective.slice_size if limit is None else limit
    original = objective.evaluate(model, split, limit)
    ablated = objective.evaluate(ablated_copy(model, ablations), split, limit)
    return AblationMetrics(original, ablated, {k: ablated[k] - original[k] for k in original})


@dataclass
class NeuronImpact:
    """Neurons of a layer ranked by what ablating each alone does, largest impact first.

    Attributes
    ----------
    layer : str
    mode : str
    neurons : Tensor
        ``(M,)`` neuron indices, most impactful first.
    impact : Tensor
        ``(M,)`` their impacts: the loss increase with an objective, else the mean absolute
        change of the output.
    """

    layer: str
    mode: str
    neurons: Tensor
    impact: Tensor


@torch.no_grad()
def rank_neurons(model: nn.Module, inputs: Tensor | Batch, layer: str, *, mode: str = "silence",
                 neurons: Sequence[int] | None = None,
                 objective: Objective | None = None) -> NeuronImpact:
    """Ablate each neuron of ``layer`` in turn on a small batch and rank them by impact.

    Parameters
    ----------
    model : nn.Module
        Not changed (one private copy is ablated neuron by neuron).
    inputs : Tensor or Batch
        The model's input, or a :class:`~indrnn.objectives.Batch` (needed with ``objective``).
    layer : str
        Recorded IndRNN layer name.
    mode : {"silence", "memory"}
    neurons : sequence of int, optional
        Candidates (all neurons of the layer by default).
    objective : Objective, optional
        Score by ``objective.loss(ablated) - objective.loss(original)`` on the batch instead of
        by the mean absolute change of the output.
    """
    private = copy.deepcopy(model)
    size = find_indrnn_layer(private, layer).hidden_size
    candidates = list(range(size)) if neurons is None else [int(n) for n in neurons]
    device = model_device(private)
    inputs = inputs.to(device)  # a Tensor or a Batch
    x = inputs.inputs if isinstance(inputs, Batch) else inputs
    if objective is not None:
        if not isinstance(inputs, Batch):
            raise ValueError("scoring by an objective needs a Batch with targets")
        base = float(objective.loss(private, inputs))
    else:
        base_output = model_output(private(x))
    impact = []
    for neuron in candidates:
        with ablations_applied(private, [Ablation(layer, (neuron,), mode)]):
            if objective is not None:
                impact.append(float(objective.loss(private, inputs)) - base)
            else:
                impact.append(float((model_output(private(x)) - base_output).abs().mean()))
    impact_t = torch.tensor(impact, dtype=torch.float64)
    order = torch.argsort(impact_t, descending=True, stable=True)
    return NeuronImpact(layer, mode, torch.tensor(candidates)[order], impact_t[order])
