"""One run of a model on an input: the recording of every layer, kept for every view.

The app calls :func:`run_model` once per (model, input), and :func:`run_held_out` once per model
for the data-wide views, and re-slices the :class:`Run` for every widget. Nothing here imports
streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from indrnn.devices import model_device
from indrnn.objectives import Objective, Prediction
from indrnn.record import LayerRecord, Recording, record


@dataclass
class Run:
    """A model's run on an input: its recording (readout and every recurrent layer's states),
    what the model read, and what that means.

    Attributes
    ----------
    inputs : Tensor
        What the model read, in its own layout: batch-first ``(B, T, C)`` features or
        ``(B, T)`` token ids for a :class:`~indrnn.sequence_model.SequenceModel`.
    lengths : Tensor
        ``(B,)`` valid steps per sequence.
    recording : Recording
        ``recording.output`` is the readout, ``(B, K)`` for last-step models and ``(B, T, K)``
        for language models; ``recording.layers`` the time-major ``(T, B, N)`` states of every
        recorded layer, in the order they ran.
    predictions : list of Prediction
        One per sequence.
    warnings : list of str
        Numbers the run should not be trusted on, in words (:func:`value_warnings`).
    source_indices : Tensor, optional
        ``(B,)`` for a run over held-out data (:func:`run_held_out`): each sequence's index in
        the task's test split.
    """

    inputs: Tensor
    lengths: Tensor
    recording: Recording
    predictions: list[Prediction] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    source_indices: Tensor | None = None

    @property
    def layers(self) -> dict[str, LayerRecord]:
        """The recorded layers by name (``recording.layers``)."""
        return self.recording.layers

    @property
    def output(self) -> Tensor:
        """The readout (``recording.output``)."""
        return self.recording.output

    @property
    def nbytes(self) -> int:
        """Bytes held by the run's tensors: inputs, lengths, outputs and every layer's records."""
        tensors = [self.inputs, self.lengths, self.output]
        for layer in self.layers.values():
            tensors += [layer.hidden, *layer.tensors.values()]
        return sum(t.numel() * t.element_size() for t in tensors)

    def states(self, layer: str, sequence: int = 0, key: str = "hidden") -> Tensor:
        """``(T_valid, N)`` states of one sequence over its own valid steps, time-major."""
        steps = int(self.lengths[sequence])
        return self.layers[layer][key][:steps, sequence]

    def layers_of_kind(self, kind: str) -> list[str]:
        """Recorded layer names of one kind (``"indrnn"`` or ``"lstm"``), in the order they ran."""
        return [name for name, layer in self.layers.items() if layer.kind == kind]

    def sequence_inputs(self, sequence: int) -> Tensor:
        """``(1, T_valid, ...)``: what the model read for one sequence, its valid steps only."""
        return self.inputs[sequence: sequence + 1, : int(self.lengths[sequence])]


LARGE_STATE: float = 1e6
"""States or outputs of larger magnitude are flagged by :func:`value_warnings`: a trained
model's states are of order 1 to 100, so such values mean the input drove it far outside
anything it learned (e.g. IndRNN neurons with ``|u| > 1`` over many more steps than in
training grow as ``|u|^t``)."""


def value_warnings(output: Tensor, layers: dict[str, LayerRecord],
                   trained_steps: int | None = None,
                   output_range: tuple[float, float] | None = None) -> list[str]:
    """Flag a run whose numbers are not to be trusted: Inf/NaN or huge states and outputs, and
    outputs outside the range of every training target.

    Parameters
    ----------
    output : Tensor
        The model's readout.
    layers : dict of str to LayerRecord
        Time-major ``(T, B, N)`` recorded states.
    trained_steps : int, optional
        The sequence length the model was trained on (named in the messages).
    output_range : tuple of float, optional
        ``(low, high)``: the range every training target lay in (``TaskInfo.output_range``).

    Returns
    -------
    list of str
        One message per problem, empty if every state and output is finite, below
        :data:`LARGE_STATE` in magnitude and, given ``output_range``, inside it.
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
    elif output.numel() and output_range is not None:
        low, high = output_range
        outside = (output < low) | (output > high)
        if outside.any():
            values = output[outside]
            worst = float(values[torch.maximum(low - values, values - high).argmax()])
            count = int(outside.sum())
            warnings.append(f"{count:,} output value{'s' if count > 1 else ''} outside "
                            f"[{low:g}, {high:g}], the range of every training target (the "
                            f"farthest: {worst:.4g}): the model is extrapolating")
    return warnings


def length_warning(lengths: Tensor, trained_steps: int | None) -> str | None:
    """A warning when an input is longer than the sequences the model was trained on."""
    if not trained_steps or not len(lengths) or int(lengths.max()) <= trained_steps:
        return None
    longest = int(lengths.max())
    return (f"This input has {longest:,} steps; the model was trained on sequences of "
            f"{trained_steps:,}. Past that length nothing in training constrains the states, "
            "so its outputs may be far off: compare with an input of the trained length.")


def reads_last_step(model: nn.Module) -> bool:
    """Whether ``model`` predicts once, from each sequence's last valid step (not every step)."""
    return getattr(model, "readout", "last") == "last"


@torch.no_grad()
def run_model(model: nn.Module, inputs: Tensor, lengths: Tensor | None = None,
              objective: Objective | None = None) -> Run:
    """Run ``model`` once on ``inputs`` and record every layer.

    Parameters
    ----------
    model : SequenceModel
        In eval mode; not modified.
    inputs : Tensor
        Batch-first ``(B, T, C)`` or token ids ``(B, T)``.
    lengths : Tensor, optional
        ``(B,)`` valid steps; all ``T`` when omitted.
    objective : Objective, optional
        The task's objective, to put predictions into words.

    Returns
    -------
    Run
        With :attr:`Run.warnings` set when states or outputs overflowed or grew huge.
    """
    if lengths is None:
        lengths = torch.full((inputs.shape[0],), inputs.shape[1], dtype=torch.int64)
    device = model_device(model)
    last_step = reads_last_step(model)
    raw = record(model, inputs.to(device), lengths.to(device) if last_step else None)
    output = raw.output[0].detach().cpu()
    run = Run(inputs, lengths, Recording(output, raw.layers))
    trained = objective.info.seq_len if objective is not None else None
    too_long = length_warning(lengths, trained) if last_step else None
    run.warnings = [*([too_long] if too_long else []), *value_warnings(
        output, raw.layers, trained or None,
        objective.info.output_range if objective is not None else None)]
    if objective is not None:
        for b in range(inputs.shape[0]):
            readout = output[b] if last_step else output[b, int(lengths[b]) - 1]
            run.predictions.append(objective.describe(readout))
    return run


@torch.no_grad()
def run_held_out(model: nn.Module, objective: Objective, limit: int = 64,
                 text_chars: int = 4000) -> Run:
    """Run ``model`` over held-out test data (:meth:`Objective.held_out`: ``limit`` sequences
    spread over the test split, or ``text_chars`` characters of text), for the data-wide views
    such as where a neuron fires most and pattern search. :attr:`Run.source_indices` says which
    test sequences they are."""
    held_out = objective.held_out(limit, text_chars)
    run = run_model(model, held_out.inputs, held_out.lengths, objective)
    run.source_indices = held_out.source_indices
    return run
