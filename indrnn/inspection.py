"""One look inside a model: run it once on an input and keep what every view needs.

The app calls :func:`inspect_input` once per (model, input) and re-slices the result for every
widget; nothing here imports streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

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
    """

    inputs: Tensor
    lengths: Tensor
    output: Tensor
    layers: dict[str, LayerRecord]
    predictions: list[Prediction] = field(default_factory=list)

    @property
    def layer_names(self) -> list[str]:
        return list(self.layers)

    def states(self, layer: str, sequence: int = 0, key: str = "hidden") -> Tensor:
        """``(N, T_valid)`` states of one sequence (neurons × its own valid steps)."""
        steps = int(self.lengths[sequence])
        return self.layers[layer][key][:steps, sequence].T


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

        labels = tuple(VOCAB)
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
    """
    if lengths is None:
        lengths = torch.full((inputs.shape[0],), inputs.shape[1], dtype=torch.int64)
    device = next(model.parameters()).device
    last_step = getattr(model, "readout", "last") == "last"
    recording = record(model, inputs.to(device),
                       lengths.to(device) if last_step else None)
    output = recording.output[0].detach().cpu()
    inspection = Inspection(inputs, lengths, output, recording.layers)
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
    """Run ``model`` over the first ``limit`` held-out test sequences (language models: the
    first ``text_chars`` characters of the test stream in 8 lanes), for data-wide views such
    as where a neuron fires most and pattern search."""
    if task.info.output_kind == "per_step_lm":
        lanes = 8
        width = max(1, min(text_chars, len(task.test) - 1) // lanes)
        ids = task.test[: lanes * width].view(lanes, width)
        return inspect_input(model, ids, None, task.info)
    split = task.test
    count = min(limit, len(split))
    return inspect_input(model, split.inputs[:count],
                         None if split.lengths is None else split.lengths[:count], task.info)
