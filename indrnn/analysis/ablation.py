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

LSTM units (any :class:`torch.nn.LSTM`, fused kernels included) are edited through their gates:
``"silence"`` shuts the output gate (its rows' weights 0, bias −10⁴: ``o = 0``, so ``h = 0``
exactly), ``"memory"`` the forget gate (``f = 0``: the cell keeps nothing of its last value,
``c_t = i ⊙ g``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from indrnn.analysis._common import model_output
from indrnn.analysis.locate import LSTMLayerRef, find_indrnn_layer, indrnn_layers, lstm_layers
from indrnn.devices import model_device
from indrnn.interventions import NeuronEdits
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


#: The gate each edit shuts in an LSTM unit, and the bias that shuts it (sigmoid(−10⁴) = 0).
LSTM_GATE_SHUT = {"silence": "output", "memory": "forget"}
SHUT_BIAS = -1e4


def _apply_lstm(ref: LSTMLayerRef, ablation: Ablation, saved: list) -> None:
    if ref.parameter("bias_ih") is None:
        raise ValueError(f"LSTM layer {ref.name!r} has no biases: its gates cannot be shut")
    rows = ref.gate_rows(LSTM_GATE_SHUT[ablation.mode], list(ablation.neurons))
    for kind, value in (("weight_ih", 0.0), ("weight_hh", 0.0), ("bias_ih", SHUT_BIAS),
                        ("bias_hh", 0.0)):
        tensor = ref.parameter(kind)
        saved.append((tensor, tensor.detach().clone()))
        tensor[rows] = value  # in place: nn.LSTM's flat weights (cuDNN) are views of these


def layer_size(model: nn.Module, layer: str) -> int:
    """Neurons (or LSTM units) of ``layer``; ``KeyError`` naming the known layers otherwise."""
    lstms = lstm_layers(model)
    if layer in lstms:
        return lstms[layer].hidden_size
    if layer in indrnn_layers(model) or not lstms:
        return find_indrnn_layer(model, layer).hidden_size
    known = [*indrnn_layers(model), *lstms]
    raise KeyError(f"no IndRNN or LSTM layer {layer!r} in the model; known: {', '.join(known)}")


@torch.no_grad()
def _apply(model: nn.Module, ablations: Sequence[Ablation], saved: list, hooks: list) -> None:
    """Ablate in place, noting in ``saved`` and ``hooks`` what :func:`_restore` needs to undo it
    (also when it stops half-way on a bad layer name)."""
    for ablation in ablations:
        lstm = lstm_layers(model).get(ablation.layer)
        if lstm is not None:
            _apply_lstm(lstm, ablation, saved)
            continue
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


#: States (batch × steps) one batched ablation run may hold: bounds its memory.
MAX_BATCHED_ROWS = 100_000


@torch.no_grad()
def rank_neurons(model: nn.Module, inputs: Tensor | Batch, layer: str, *, mode: str = "silence",
                 neurons: Sequence[int] | None = None, objective: Objective | None = None,
                 progress: Callable[[int, int], None] | None = None) -> NeuronImpact:
    """Ablate each neuron of ``layer`` in turn on a small batch and rank them by impact.

    Neurons of an IndRNN layer are independent, so the single-neuron ablations run batched: one
    forward pass holds many copies of the input, each with another neuron edited
    (:class:`indrnn.interventions.NeuronEdits`), exactly as one run per neuron would.

    Parameters
    ----------
    model : nn.Module
        Not changed.
    inputs : Tensor or Batch
        The model's input, or a :class:`~indrnn.objectives.Batch` (needed with ``objective``).
    layer : str
        Recorded IndRNN layer name.
    mode : {"silence", "memory"}
    neurons : sequence of int, optional
        Candidates (all neurons of the layer by default).
    objective : Objective, optional
        Score by ``objective.loss(ablated) - objective.loss(original)`` on the batch instead of
        by the mean absolute change of the output (one run per neuron).
    progress : callable, optional
        ``progress(done, total)`` after each batched run (for a progress bar).
    """
    size = layer_size(model, layer)
    candidates = list(range(size)) if neurons is None else [int(n) for n in neurons]
    if objective is None and layer in lstm_layers(model):  # LSTM units are not independent
        impact = _ranked_one_by_one(model, inputs, layer, mode, candidates, progress)
    elif objective is not None:
        impact = _ranked_by_loss(model, inputs, layer, mode, candidates, objective, progress)
    else:
        impact = _ranked_by_output(model, inputs, layer, mode, candidates, progress)
    impact_t = torch.tensor(impact, dtype=torch.float64)
    order = torch.argsort(impact_t, descending=True, stable=True)
    return NeuronImpact(layer, mode, torch.tensor(candidates, dtype=torch.int64)[order],
                        impact_t[order])


def _ranked_by_output(model: nn.Module, inputs: Tensor | Batch, layer: str, mode: str,
                      candidates: list[int], progress: Callable[[int, int], None] | None,
                      ) -> list[float]:
    x = (inputs.inputs if isinstance(inputs, Batch) else inputs).to(model_device(model))
    batch, steps = x.shape[0], x.shape[1]
    base = model_output(model(x))
    chunk = max(1, min(len(candidates), MAX_BATCHED_ROWS // max(1, batch * steps)))
    tile_at_layer = True  # compute what precedes the layer once, until the model refuses
    impact: list[float] = []
    for start in range(0, len(candidates), chunk):
        part = candidates[start: start + chunk]
        which = torch.tensor(part, dtype=torch.int64).repeat_interleave(batch)
        out = None
        if tile_at_layer:
            out = _edited_output(model, x, layer, which, mode, copies=len(part))
            tile_at_layer = out is not None
        if out is None:  # residual or dense paths mix the layer with its own input: tile x
            copies = x.repeat(len(part), *([1] * (x.dim() - 1)))  # copy k: rows k·B..(k+1)·B
            out = _edited_output(model, copies, layer, which, mode, copies=1)
        change = (out.reshape(len(part), batch, *out.shape[1:]) - base.unsqueeze(0)).abs_()
        impact += change.mean(dim=tuple(range(1, change.dim()))).double().tolist()
        if progress is not None:
            progress(min(start + chunk, len(candidates)), len(candidates))
    return impact


def _ranked_one_by_one(model: nn.Module, inputs: Tensor | Batch, layer: str, mode: str,
                       candidates: list[int], progress: Callable[[int, int], None] | None,
                       ) -> list[float]:
    """Mean absolute change of the output with each unit edited alone, one run per unit."""
    private = copy.deepcopy(model)
    x = (inputs.inputs if isinstance(inputs, Batch) else inputs).to(model_device(private))
    with torch.no_grad():
        base = model_output(private(x))
        impact = []
        for done, unit in enumerate(candidates, 1):
            with ablations_applied(private, [Ablation(layer, (unit,), mode)]):
                impact.append(float((model_output(private(x)) - base).abs().mean()))
            if progress is not None:
                progress(done, len(candidates))
    return impact


def _edited_output(model: nn.Module, x: Tensor, layer: str, which: Tensor, mode: str,
                   copies: int) -> Tensor | None:
    """The model's output under the edits; ``None`` when tiling at the layer does not fit the
    model (its output is not one row per copy, or the batch sizes clash)."""
    try:
        with NeuronEdits(model, layer, which, mode, copies=copies) as edits:
            out = model_output(model(x))
    except (RuntimeError, ValueError):  # shapes that clash with a tiled batch
        if copies == 1:
            raise
        return None
    if not edits.applied:
        raise ValueError(f"layer {layer!r} did not run: no IndRNN layer of that name")
    return out if out.shape[0] == len(which) else None


def _ranked_by_loss(model: nn.Module, inputs: Tensor | Batch, layer: str, mode: str,
                    candidates: list[int], objective: Objective,
                    progress: Callable[[int, int], None] | None) -> list[float]:
    if not isinstance(inputs, Batch):
        raise ValueError("scoring by an objective needs a Batch with targets")
    private = copy.deepcopy(model)
    inputs = inputs.to(model_device(private))
    base = float(objective.loss(private, inputs))
    impact = []
    for done, neuron in enumerate(candidates, 1):
        with ablations_applied(private, [Ablation(layer, (neuron,), mode)]):
            impact.append(float(objective.loss(private, inputs)) - base)
        if progress is not None:
            progress(done, len(candidates))
    return impact
