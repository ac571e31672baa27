"""One look inside a model: run it once on an input and keep what every view needs.

The app calls :func:`inspect_input` once per (model, input) and re-slices the result for every
widget; nothing here imports streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from indrnn.devices import model_device
from indrnn.record import LayerRecord, record


@dataclass(frozen=True)
class Prediction:
    """What the model says about one sequence, in words and numbers."""

    text: str
    values: tuple[float, ...]  # class probabilities, or the regression output(s)
    labels: tuple[str, ...]  # class names, or output names


@dataclass
class Inspection:
    """A model's run on an input: outputs and every recurrent layer's states.

    Attributes
    ----------
    inputs : Tensor
        Batch-first ``(B, T, C)`` features or ``(B, T)`` token ids, as the model read them.
    lengths : Tensor
        ``(B,)`` valid steps per sequence.
    output : Tensor
        The readout: ``(B, K)`` for last-step models, ``(B, T, K)`` for language models.
    layers : dict of str to LayerRecord
        Time-major ``(T, B, N)`` states by recorded layer name, in the order they ran.
    predictions : list of Prediction
        One per sequence.
    warnings : list of str
        Numbers the run should not be trusted on, in words (:func:`value_warnings`): states or
        outputs that overflowed to Inf/NaN or grew far beyond what training produced.
    source_indices : Tensor, optional
        ``(B,)`` for a run over held-out data (:func:`inspect_dataset`): each sequence's index
        in the task's test split.
    """

    inputs: Tensor
    lengths: Tensor
    output: Tensor
    layers: dict[str, LayerRecord]
    predictions: list[Prediction] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    source_indices: Tensor | None = None

    @property
    def nbytes(self) -> int:
        """Bytes held by the run's tensors: inputs, lengths, outputs and every layer's records."""
        tensors = [self.inputs, self.lengths, self.output]
        for layer in self.layers.values():
            tensors += [layer.hidden, *layer.tensors.values()]
        return sum(t.numel() * t.element_size() for t in tensors)

    @property
    def layer_names(self) -> list[str]:
        return list(self.layers)

    def states(self, layer: str, sequence: int = 0, key: str = "hidden") -> Tensor:
        """``(N, T_valid)`` states of one sequence (neurons × its own valid steps)."""
        steps = int(self.lengths[sequence])
        return self.layers[layer][key][:steps, sequence].T


LARGE_STATE: float = 1e6
"""States or outputs of larger magnitude are flagged by :func:`value_warnings`: a trained
model's states are of order 1 to 100, so such values mean the input drove it far outside
anything it learned (e.g. IndRNN neurons with ``|u| > 1`` over many more steps than in
training grow as ``|u|^t``)."""


def value_warnings(output: Tensor, layers: dict[str, LayerRecord],
                   trained_steps: int | None = None) -> list[str]:
    """Flag a run whose numbers are not to be trusted: Inf/NaN or huge states and outputs.

    Parameters
    ----------
    output : Tensor
        The model's readout.
    layers : dict of str to LayerRecord
        Time-major ``(T, B, N)`` recorded states.
    trained_steps : int, optional
        The sequence length the model was trained on (named in the messages).

    Returns
    -------
    list of str
        One message per problem, empty if every state and output is finite and below
        :data:`LARGE_STATE` in magnitude.
    """
    warnings = []
    trained = f" (trained on {trained_steps:,} steps)" if trained_steps else ""
    for name, layer in layers.items():
        hidden = layer.hidden
        if hidden.numel() == 0:
            continue
        bad = ~torch.isfinite(hidden)
        if bad.any():
            step = int(bad.flatten(1).any(1).nonzero()[0])
            why = ("; neurons with |u| > 1 grow as |u|^t over long inputs"
                   if layer.kind == "indrnn" else "")
            warnings.append(f"{name}: states are Inf/NaN from step {step:,} of "
                            f"{hidden.shape[0]:,}{trained}{why}: the outputs are not meaningful")
            continue
        peak = float(hidden.abs().max())
        if peak > LARGE_STATE:
            warnings.append(f"{name}: states reach {peak:.3g} over {hidden.shape[0]:,} steps"
                            f"{trained}, far beyond anything seen in training: read the outputs "
                            "with care")
    if output.numel() and not torch.isfinite(output).all():
        warnings.append("the output holds Inf or NaN: the prediction is not meaningful")
    elif output.numel() and float(output.abs().max()) > LARGE_STATE:
        warnings.append(f"the output reaches {float(output.abs().max()):.3g}: far outside what "
                        "the model was trained to produce")
    return warnings


def describe(output: Tensor, info: Any) -> Prediction:
    """A prediction in words for one sequence's readout ``(K,)`` (last step for a language model
    is the next-character distribution)."""
    kind = info.output_kind
    if kind == "regression":
        values = tuple(float(v) for v in output)
        return Prediction(f"predicted {values[0]:.4f}", values, ("output",))
    probabilities = torch.softmax(output.double(), -1)
    if kind == "per_step_lm":
        from indrnn.data.text import VOCAB

        labels = tuple(VOCAB.chars)
    else:
        labels = tuple(info.class_names or (str(k) for k in range(len(probabilities))))
    best = int(probabilities.argmax())
    name = repr(labels[best]) if kind == "per_step_lm" else labels[best]
    what = "next character" if kind == "per_step_lm" else "class"
    return Prediction(f"{what} {name} ({100 * float(probabilities[best]):.1f}%)",
                      tuple(float(p) for p in probabilities), labels)


@torch.no_grad()
def inspect_input(model: nn.Module, inputs: Tensor, lengths: Tensor | None = None,
                  info: Any = None) -> Inspection:
    """Run ``model`` once on ``inputs`` and record every layer.

    Parameters
    ----------
    model : SequenceModel
        In eval mode; not modified.
    inputs : Tensor
        Batch-first ``(B, T, C)`` or token ids ``(B, T)``.
    lengths : Tensor, optional
        ``(B,)`` valid steps; all ``T`` when omitted.
    info : TaskInfo, optional
        The task's description, to put predictions into words.

    Returns
    -------
    Inspection
        With :attr:`Inspection.warnings` set when states or outputs overflowed or grew huge.
    """
    if lengths is None:
        lengths = torch.full((inputs.shape[0],), inputs.shape[1], dtype=torch.int64)
    device = model_device(model)
    last_step = getattr(model, "readout", "last") == "last"
    recording = record(model, inputs.to(device),
                       lengths.to(device) if last_step else None)
    output = recording.output[0].detach().cpu()
    inspection = Inspection(inputs, lengths, output, recording.layers)
    inspection.warnings = value_warnings(output, recording.layers,
                                         getattr(info, "seq_len", None) or None)
    if info is not None:
        for b in range(inputs.shape[0]):
            readout = output[b] if last_step else output[b, int(lengths[b]) - 1]
            inspection.predictions.append(describe(readout, info))
    return inspection


def neuron_table(model: nn.Module, inspection: Inspection, layer: str) -> dict[str, Tensor]:
    """Per-neuron facts of one recorded layer: what the neuron view sorts and plots by.

    Returns ``u``, ``tau`` and ``half_life`` (IndRNN layers; NaN for LSTM ones), ``mean`` and
    ``fraction_active`` over every valid step of every recorded sequence, and ``readout``
    (``‖head.weight[:, n]‖`` for the layer feeding the readout, else NaN).
    """
    from indrnn.analysis import half_life, time_constant
    from indrnn.analysis.locate import indrnn_layers

    hidden = inspection.layers[layer].hidden
    steps = torch.arange(hidden.shape[0]).unsqueeze(1)
    valid = (steps < inspection.lengths.unsqueeze(0)).unsqueeze(-1)
    count = valid.sum().clamp(min=1)
    mean = (hidden * valid).sum((0, 1)) / count
    active = ((hidden != 0) & valid).sum((0, 1)) / count
    neurons = hidden.shape[-1]
    refs = indrnn_layers(model)
    nan = torch.full((neurons,), float("nan"))
    u = refs[layer].u.detach().cpu().float() if layer in refs else nan
    readout = nan
    head = getattr(model, "head", None)
    if head is not None and layer == list(inspection.layers)[-1] and head.in_features == neurons:
        readout = head.weight.detach().cpu().norm(dim=0)
    return {"u": u, "tau": time_constant(u) if layer in refs else nan,
            "half_life": half_life(u) if layer in refs else nan, "mean": mean,
            "fraction_active": active, "readout": readout}


@torch.no_grad()
def inspect_dataset(model: nn.Module, task: Any, limit: int = 64, text_chars: int = 4000,
                    ) -> Inspection:
    """Run ``model`` over ``limit`` held-out test sequences spread evenly over the test split
    (language models: the first ``text_chars`` characters of the test stream in 8 lanes), for
    data-wide views such as where a neuron fires most and pattern search.

    Spread, not the first ``limit``: a split stored class by class (the MNIST digits' test set)
    would otherwise give one class only. :attr:`Inspection.source_indices` says which.
    """
    if task.info.output_kind == "per_step_lm":
        lanes = 8
        width = max(1, min(text_chars, len(task.test) - 1) // lanes)
        ids = task.test[: lanes * width].view(lanes, width)
        return inspect_input(model, ids, None, task.info)
    split = task.test
    count = min(limit, len(split))
    index = torch.linspace(0, len(split) - 1, count).round().long()
    run = inspect_input(model, split.inputs[index],
                        None if split.lengths is None else split.lengths[index], task.info)
    run.source_indices = index
    return run


# What the comparison and ablation views draw: plain data, ready for :mod:`indrnn.figures`.

LSTM_GATES = ("input_gate", "forget_gate", "output_gate")


def layers_of_kind(inspection: Inspection, kind: str) -> list[str]:
    """Recorded layer names of one kind (``"indrnn"`` or ``"lstm"``), in the order they ran."""
    return [name for name, layer in inspection.layers.items() if layer.kind == kind]


def gate_series(layer: LayerRecord, sequence: int, steps: int, unit: int | None = None,
                gates: tuple[str, ...] = LSTM_GATES) -> dict[str, Tensor]:
    """One sequence's LSTM gates over its ``steps`` valid steps: ``(T, N)`` each, or ``(T,)`` of
    one ``unit``, keyed by gate name (for :func:`indrnn.figures.gate_traces` and
    :func:`indrnn.figures.gate_heatmaps`)."""
    if layer.kind != "lstm":
        raise ValueError(f"{layer.name} is an {layer.kind} layer; gates are an LSTM's")
    series = {gate: layer.tensors[gate][:steps, sequence] for gate in gates}
    return series if unit is None else {gate: values[:, unit] for gate, values in series.items()}


@dataclass(frozen=True)
class PredictionsView:
    """Several models' predictions for one sequence, as the prediction figures take them.

    Attributes
    ----------
    regression : bool
        Values (:func:`indrnn.figures.regression_bars`) rather than class probabilities
        (:func:`indrnn.figures.prediction_bars`).
    values : dict of str to tuple of float
        Per model name: the regression outputs or the class probabilities.
    labels : tuple of str
        Output or class names (characters for a language model).
    target : int, tuple of float or None
        The true class, or the true value(s), when the input carries it.
    top_k : int or None
        Classes worth showing at most (the vocabulary of a language model is too many).
    """

    regression: bool
    values: dict[str, tuple[float, ...]]
    labels: tuple[str, ...]
    target: int | tuple[float, ...] | None
    top_k: int | None


def predictions_side_by_side(runs: dict[str, Inspection], sequence: int, info: Any,
                             targets: Tensor | None = None) -> PredictionsView:
    """The predictions of each model's run (same input) for ``sequence``.

    Parameters
    ----------
    runs : dict of str to Inspection
        By model name, each run with ``info`` so that it has predictions.
    sequence : int
    info : TaskInfo
    targets : Tensor, optional
        The input's targets (``ParsedInput.targets``): ``(N,)`` classes or ``(N, K)`` values.
    """
    first = next(iter(runs.values())).predictions[sequence]
    regression = info.output_kind == "regression"
    target: int | tuple[float, ...] | None = None
    if targets is not None and sequence < len(targets):
        row = targets[sequence]
        if regression:
            target = tuple(float(v) for v in row.reshape(-1))
        elif info.output_kind != "per_step_lm" and row.numel() == 1:
            target = int(row)
    lm = info.output_kind == "per_step_lm"
    return PredictionsView(regression, {name: run.predictions[sequence].values
                                        for name, run in runs.items()},
                           first.labels, target, 10 if lm or len(first.labels) > 20 else None)


def top_readout_neuron(model: nn.Module, inspection: Inspection, layer: str) -> int:
    """The neuron of ``layer`` with the largest weight into the readout (``‖head.weight[:, n]‖``),
    or 0 when the layer does not feed the readout."""
    readout = neuron_table(model, inspection, layer)["readout"]
    if readout.numel() == 0 or bool(torch.isnan(readout).all()):
        return 0
    return int(torch.nan_to_num(readout, nan=-float("inf")).argmax())


@dataclass
class OutputChange:
    """One sequence's output with and without an ablation, in the terms of its task.

    Attributes
    ----------
    per_step : bool
        A value per step (a language model: the probability of the true next character at each
        step), else the last step's outputs.
    original, ablated : Tensor
        ``(K,)`` class probabilities or regression values, or ``(T - 1,)`` per step.
    labels : tuple of str
        Output names (``()`` when per step).
    measure : str
        What the values are, for an axis title.
    """

    per_step: bool
    original: Tensor
    ablated: Tensor
    labels: tuple[str, ...]
    measure: str

    @property
    def difference(self) -> Tensor:
        return self.ablated - self.original


@torch.no_grad()
def output_change(model: nn.Module, inspection: Inspection, sequence: int,
                  ablations: Any, info: Any) -> OutputChange:
    """Run ``model`` and an ablated private copy on one recorded sequence (its valid steps).

    Parameters
    ----------
    model : nn.Module
        Not changed (:func:`indrnn.analysis.compare_outputs` ablates a copy).
    inspection : Inspection
        The model's run; its inputs are what the model read.
    sequence : int
    ablations : sequence of Ablation
    info : TaskInfo
    """
    from indrnn.analysis import compare_outputs

    steps = int(inspection.lengths[sequence])
    x = inspection.inputs[sequence: sequence + 1, :steps]
    result = compare_outputs(model, x, ablations)
    original, ablated = result.original[0], result.ablated[0]
    kind = info.output_kind
    if kind == "regression":
        names = tuple(f"output {k}" for k in range(original.numel()))
        return OutputChange(False, original.reshape(-1), ablated.reshape(-1),
                            names if len(names) > 1 else ("output",), "value")
    if kind == "per_step_lm" and original.dim() == 2 and steps >= 2:
        following = x[0, 1:].long().cpu().unsqueeze(1)
        probability = [torch.softmax(o[:-1].double(), -1).gather(1, following).squeeze(1)
                       for o in (original, ablated)]
        return OutputChange(True, *probability, (), "p(true next character)")
    if original.dim() == 2:  # one step of a per-step model: its only distribution
        original, ablated = original[-1], ablated[-1]
    if kind == "per_step_lm":
        from indrnn.data.text import VOCAB

        labels = VOCAB.chars
    else:
        labels = tuple(info.class_names or (str(k) for k in range(original.numel())))
    return OutputChange(False, torch.softmax(original.double(), -1),
                        torch.softmax(ablated.double(), -1), labels, "probability")
