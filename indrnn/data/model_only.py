"""A model without one of our tasks: what can be known from the model and its card alone.

A checkpoint saved with ``indrnn.save(model, path)`` and no ``task`` in its card (or a task this
library does not know) still opens: :func:`task_for` gives a :class:`ModelOnlyTask` whose
:class:`~indrnn.data.TaskInfo` comes from the model (input size, number of outputs) and from the
card's optional fields (:data:`CARD_FIELDS`). It has no data: every view that runs on the user's
own input works, and asking for held-out data raises :class:`NoTaskDataError`, which says why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from indrnn.data.base import OUTPUT_KINDS, Task, TaskInfo
from indrnn.data.tracks import input_tracks, past_the_end, time_track

#: The name a model-only task goes by (``TaskInfo.name``).
NO_TASK = "none"

#: Optional card fields a model-only task reads, and what each means (documented in the README).
CARD_FIELDS: dict[str, str] = {
    "output_kind": "'regression' (default) or 'classification_last_step' "
                   "(the default when class_names is given)",
    "output_names": "one name per output of a regression model",
    "class_names": "one name per class, in label order (makes it a classifier)",
    "channel_names": "one name per input channel",
    "seq_len": "the sequence length the model was trained on (longer inputs are flagged)",
    "output_range": "[low, high] of every training target (outputs outside it are flagged)",
    "description": "one line on what the model does, shown on the Overview",
}


class NoTaskDataError(LookupError):
    """Held-out data asked of a model whose card names no task this library knows."""


def _strings(card: Mapping[str, Any], key: str, count: int | None) -> tuple[str, ...] | None:
    value = card.get(key)
    if value is None:
        return None
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"card[{key!r}] must be a list of strings, got {value!r:.80}")
    if count is not None and len(value) != count:
        raise ValueError(f"card[{key!r}] names {len(value)}, but the model has {count}")
    return tuple(value)


def model_only_info(model: nn.Module, card: Mapping[str, Any]) -> TaskInfo:
    """The :class:`TaskInfo` of a model without a known task, from the model and its card.

    Parameters
    ----------
    model : SequenceModel
        Features in, ``num_outputs`` out (:func:`indrnn.sequence_model.as_sequence_model`).
    card : mapping
        The checkpoint's card; its :data:`CARD_FIELDS` are read when present.

    Returns
    -------
    TaskInfo
        Named :data:`NO_TASK`; raises ``ValueError`` naming a card field of the wrong type or
        length.
    """
    if getattr(model, "embedding", None) is not None:
        raise ValueError("this model reads token ids: it needs its task's vocabulary, so its "
                         "card['task'] must name a known text task (e.g. 'cpython_chars')")
    inputs, outputs = int(model.input_size), int(model.num_outputs)
    classes = _strings(card, "class_names", outputs)
    kind = card.get("output_kind") or ("classification_last_step" if classes else "regression")
    if kind not in OUTPUT_KINDS[:2]:
        raise ValueError(f"card['output_kind'] must be 'regression' or "
                         f"'classification_last_step' for a model without a task, got {kind!r}")
    seq_len = card.get("seq_len")
    if seq_len is not None and not (isinstance(seq_len, int) and seq_len > 0):
        raise ValueError(f"card['seq_len'] must be a positive integer, got {seq_len!r}")
    bounds = card.get("output_range")
    if bounds is not None and not (isinstance(bounds, list | tuple) and len(bounds) == 2
                                   and all(isinstance(b, int | float) for b in bounds)):
        raise ValueError(f"card['output_range'] must be [low, high], got {bounds!r:.80}")
    channels = _strings(card, "channel_names", inputs) or tuple(
        f"{c}" for c in range(inputs))
    return TaskInfo(
        name=NO_TASK, output_kind=kind, input_size=inputs, output_size=outputs,
        num_classes=outputs if kind == "classification_last_step" else None,
        seq_len=seq_len, variable_length=False, channel_names=channels,
        # a regression's output names ride in class_names: Regression.output_labels reads them
        class_names=classes or _strings(card, "output_names", outputs),
        preprocessing="none: the model reads the input as given",
        provenance="no task data: the card names no task this library knows",
        output_range=None if bounds is None else (float(bounds[0]), float(bounds[1])))


@dataclass(frozen=True)
class ModelOnlyTask:
    """A :class:`~indrnn.data.Task` with no data: sizes and names only (see the module)."""

    info: TaskInfo
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def test(self) -> Any:
        raise NoTaskDataError(
            "this model's card names no task this library knows, so there is no held-out data "
            "to run it on; views of the model on your own input still work")

    def annotation_tracks(self, inputs: torch.Tensor, lengths: torch.Tensor | None = None,
                          ) -> dict[str, np.ndarray]:
        """The step index and every input channel (by the card's channel names)."""
        names: Sequence[str] = [f"input {name}" for name in self.info.channel_names]
        tracks = {"time step": time_track(inputs.shape[1], inputs.shape[0]),
                  **input_tracks(inputs, names)}
        return past_the_end(tracks, lengths)

    def events(self, inputs: torch.Tensor) -> list[tuple[int, str]]:
        """Nothing is known about the steps of an input without a task."""
        return []


def has_task_data(task: Task) -> bool:
    """Whether ``task`` has held-out data (every task but a :class:`ModelOnlyTask`)."""
    return not isinstance(task, ModelOnlyTask)
