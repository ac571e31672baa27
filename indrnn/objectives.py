"""What each kind of task means: how a model is trained and scored on it, and how its inputs and
outputs read.

Three kinds, as :attr:`indrnn.data.TaskInfo.output_kind` names them, one class each:

* :class:`Regression` (``regression``, the adding problem): MSE of the last step's output;
* :class:`Classification` (``classification_last_step``, pixels, sensors): cross-entropy and
  accuracy of the last step;
* :class:`LanguageModel` (``per_step_lm``, characters): cross-entropy of every step, reported in
  bits per character.

Everything that differs between kinds is a method here (batches, loss, metric, a prediction in
words, the true target, inputs as text, the held-out sequences the data-wide views read, how an
ablation changes the output), so no caller switches on ``output_kind``: it asks
:func:`objective_for` for the task's objective.

Every training batch is a function of ``(seed, step)`` alone, so a resumed run sees exactly the
batches an uninterrupted one would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from indrnn.data import SequenceSplit, Task, has_task_data, seeded_generator
from indrnn.data.text import bptt_batches, decode, random_windows
from indrnn.devices import model_device
from indrnn.sequence_model import detach_state

TRAIN_STREAM = 7  #: generator stream of training batches (held-out sets use others)


@dataclass
class Batch:
    """Batch-first inputs, targets and (for variable lengths) each sequence's length."""

    inputs: Tensor
    targets: Tensor
    lengths: Tensor | None = None

    def to(self, device: torch.device | str) -> Batch:
        lengths = None if self.lengths is None else self.lengths.to(device)
        return Batch(self.inputs.to(device), self.targets.to(device), lengths)

    def shard(self, rank: int, world: int) -> Batch:
        """This rank's rows, for data-parallel training."""
        lengths = None if self.lengths is None else self.lengths[rank::world]
        return Batch(self.inputs[rank::world], self.targets[rank::world], lengths)


@dataclass(frozen=True)
class Prediction:
    """What the model says about one sequence, in words and numbers."""

    text: str
    values: tuple[float, ...]  # class probabilities, or the regression output(s)
    labels: tuple[str, ...]  # class names, or output names


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


@dataclass(frozen=True)
class HeldOut:
    """The held-out sequences a data-wide view runs the model on (:meth:`Objective.held_out`).

    ``source_indices`` says which test sequences they are (``None`` for text lanes)."""

    inputs: Tensor
    lengths: Tensor | None
    source_indices: Tensor | None


class Objective:
    """One task's batches, loss, metrics and reading of outputs; see the subclasses.

    Parameters
    ----------
    task : Task
        From :func:`indrnn.data.load_task`.
    """

    kind: ClassVar[str] = ""
    metric: ClassVar[str] = ""
    higher_is_better: ClassVar[bool] = False
    slice_size: ClassVar[int] = 64  #: held-out samples scored apart, so tests recheck a card fast
    sample_unit: ClassVar[str] = "sequences"  #: what ``slice_size`` and ``limit`` count
    values_are_probabilities: ClassVar[bool] = True  #: :attr:`Prediction.values` sum to 1

    def __init__(self, task: Task):
        self.task = task

    @property
    def info(self):
        return self.task.info

    # Training and scoring.

    def train_batch(self, batch_size: int, seed: int, step: int) -> Batch:
        raise NotImplementedError

    def loss(self, model: nn.Module, batch: Batch) -> Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def evaluate(self, model: nn.Module, split: str = "test", limit: int | None = None,
                 batch_size: int = 100) -> dict[str, float]:
        raise NotImplementedError

    def better(self, new: float, best: float | None) -> bool:
        """Whether ``new`` improves on ``best`` (``None``: nothing yet)."""
        if best is None or math.isnan(best):
            return not math.isnan(new)
        return new > best if self.higher_is_better else new < best

    # Reading inputs and outputs.

    def output_labels(self, count: int) -> tuple[str, ...]:
        """Names of the model's ``count`` outputs (class names, characters, or ``output k``)."""
        names = tuple(self.info.class_names or ())
        return names[:count] if len(names) >= count else tuple(f"{k}" for k in range(count))

    def describe(self, readout: Tensor) -> Prediction:
        """A prediction in words from one sequence's readout ``(K,)``."""
        raise NotImplementedError

    def target(self, targets: Tensor | None, sequence: int) -> int | tuple[float, ...] | None:
        """The true answer for ``sequence`` from an input's targets, when it carries one."""
        return None

    def texts(self, inputs: Tensor, lengths: Tensor | None = None) -> list[str] | None:
        """Each sequence of ``inputs`` as text, for a model that reads text; else ``None``."""
        return None

    def held_out(self, limit: int = 64, text_chars: int = 4000) -> HeldOut:
        """``limit`` test sequences spread evenly over the test split.

        Spread, not the first ``limit``: a split stored class by class (the MNIST digits' test
        set) would otherwise give one class only.
        """
        split: SequenceSplit = self.task.test
        count = min(limit, len(split))
        index = torch.linspace(0, len(split) - 1, count).round().long()
        return HeldOut(split.inputs[index],
                       None if split.lengths is None else split.lengths[index], index)

    def held_out_labels(self, source_indices: Tensor | None, count: int) -> Tensor | None:
        """The class of each held-out sequence, for class selectivity; ``None`` without classes."""
        return None

    def output_change(self, original: Tensor, ablated: Tensor, inputs: Tensor) -> OutputChange:
        """One sequence's outputs (``(K,)``, or ``(T, K)`` per step) with and without an
        ablation, in the task's terms. ``inputs`` is the sequence the model read, ``(1, T, ...)``.
        """
        raise NotImplementedError

    def _probabilities(self, original: Tensor, ablated: Tensor) -> OutputChange:
        if original.dim() == 2:  # one step of a per-step model: its only distribution
            original, ablated = original[-1], ablated[-1]
        return OutputChange(False, torch.softmax(original.double(), -1),
                            torch.softmax(ablated.double(), -1),
                            self.output_labels(original.numel()), "probability")

    def _top(self, readout: Tensor, what: str, shown) -> Prediction:
        probabilities = torch.softmax(readout.double(), -1)
        labels = self.output_labels(len(probabilities))
        best = int(probabilities.argmax())
        return Prediction(f"{what} {shown(labels[best])} ({100 * float(probabilities[best]):.1f}%)",
                          tuple(float(p) for p in probabilities), labels)


def _slices(split: SequenceSplit, limit: int | None, batch_size: int):
    count = len(split) if limit is None else min(limit, len(split))
    for start in range(0, count, batch_size):
        part = slice(start, min(start + batch_size, count))
        lengths = None if split.lengths is None else split.lengths[part]
        yield Batch(split.inputs[part], split.targets[part], lengths)


class Regression(Objective):
    """The adding problem: MSE of the output at the last step."""

    kind = "regression"
    metric = "mse"
    values_are_probabilities = False

    def train_batch(self, batch_size: int, seed: int, step: int) -> Batch:
        generator = seeded_generator(seed * 1_000_003 + step, TRAIN_STREAM)
        return Batch(*self.task.batch(batch_size, generator))

    def loss(self, model: nn.Module, batch: Batch) -> Tensor:
        return F.mse_loss(model(batch.inputs, batch.lengths)[0], batch.targets)

    @torch.no_grad()
    def evaluate(self, model: nn.Module, split: str = "test", limit: int | None = None,
                 batch_size: int = 100) -> dict[str, float]:
        total, count = 0.0, 0
        for batch in _slices(getattr(self.task, split), limit, batch_size):
            batch = batch.to(model_device(model))
            total += F.mse_loss(model(batch.inputs, batch.lengths)[0], batch.targets,
                                reduction="sum").item()
            count += batch.targets.numel()
        return {"mse": total / count}

    def output_labels(self, count: int) -> tuple[str, ...]:
        names = tuple(self.info.class_names or ())  # a model-only card's output_names
        if len(names) == count:
            return names
        return ("output",) if count == 1 else tuple(f"output {k}" for k in range(count))

    def describe(self, readout: Tensor) -> Prediction:
        values = tuple(float(v) for v in readout)
        bounds = self.info.output_range
        outside = bounds is not None and not all(bounds[0] <= v <= bounds[1] for v in values)
        note = f" (outside [{bounds[0]:g}, {bounds[1]:g}], every training target's range)" \
            if outside else ""
        return Prediction(f"predicted {values[0]:.4f}{note}", values,
                          self.output_labels(len(values)))

    def target(self, targets: Tensor | None, sequence: int) -> tuple[float, ...] | None:
        if targets is None or sequence >= len(targets):
            return None
        return tuple(float(v) for v in targets[sequence].reshape(-1))

    def output_change(self, original: Tensor, ablated: Tensor, inputs: Tensor) -> OutputChange:
        original, ablated = original.reshape(-1), ablated.reshape(-1)
        return OutputChange(False, original, ablated, self.output_labels(original.numel()),
                            "value")


class Classification(Objective):
    """Classification from the last step: cross-entropy, accuracy."""

    kind = "classification_last_step"
    metric = "accuracy"
    higher_is_better = True

    def train_batch(self, batch_size: int, seed: int, step: int) -> Batch:
        train = self.task.train
        per_epoch = max(1, len(train) // batch_size)
        epoch, position = divmod(step, per_epoch)
        order = torch.randperm(len(train), generator=seeded_generator(seed * 1_000_003 + epoch,
                                                                      TRAIN_STREAM))
        index = order[position * batch_size:(position + 1) * batch_size]
        lengths = None if train.lengths is None else train.lengths[index]
        return Batch(train.inputs[index], train.targets[index], lengths)

    def loss(self, model: nn.Module, batch: Batch) -> Tensor:
        return F.cross_entropy(model(batch.inputs, batch.lengths)[0], batch.targets)

    @torch.no_grad()
    def evaluate(self, model: nn.Module, split: str = "test", limit: int | None = None,
                 batch_size: int = 100) -> dict[str, float]:
        loss, correct, count = 0.0, 0, 0
        for batch in _slices(getattr(self.task, split), limit, batch_size):
            batch = batch.to(model_device(model))
            logits = model(batch.inputs, batch.lengths)[0]
            loss += F.cross_entropy(logits, batch.targets, reduction="sum").item()
            correct += (logits.argmax(-1) == batch.targets).sum().item()
            count += batch.targets.numel()
        return {"accuracy": correct / count, "loss": loss / count}

    def describe(self, readout: Tensor) -> Prediction:
        return self._top(readout, "class", str)

    def target(self, targets: Tensor | None, sequence: int) -> int | None:
        if targets is None or sequence >= len(targets) or targets[sequence].numel() != 1:
            return None
        return int(targets[sequence])

    def held_out_labels(self, source_indices: Tensor | None, count: int) -> Tensor | None:
        if not has_task_data(self.task):  # no labelled data: nothing to compare classes on
            return None
        targets = self.task.test.targets
        return targets[:count] if source_indices is None else targets[source_indices]

    def output_change(self, original: Tensor, ablated: Tensor, inputs: Tensor) -> OutputChange:
        return self._probabilities(original, ablated)


class LanguageModel(Objective):
    """Next-character prediction at every step, reported in bits per character."""

    kind = "per_step_lm"
    metric = "bits_per_char"
    slice_size = 4096
    sample_unit = "characters"
    DEFAULT_WINDOW: ClassVar[int] = 100  #: evaluation window when no recipe gives one

    def __init__(self, task: Task, window: int):
        super().__init__(task)
        if window < 1:
            raise ValueError("a language-model recipe needs window >= 1")
        self.window = window

    def train_batch(self, batch_size: int, seed: int, step: int) -> Batch:
        generator = seeded_generator(seed * 1_000_003 + step, TRAIN_STREAM)
        windows = random_windows(self.task.train, batch_size, self.window, generator)
        return Batch(windows[:, :-1], windows[:, 1:])

    def loss(self, model: nn.Module, batch: Batch) -> Tensor:
        logits = model(batch.inputs)[0]
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch.targets.reshape(-1))

    @torch.no_grad()
    def evaluate(self, model: nn.Module, split: str = "test", limit: int | None = None,
                 batch_size: int = 8) -> dict[str, float]:
        """Consecutive windows over ``batch_size`` lanes of the split, state carried over."""
        tokens = getattr(self.task, split)
        if limit is not None:
            tokens = tokens[: limit + 1]
        window = min(self.window, max(1, len(tokens) // batch_size - 1))
        total, count, state = 0.0, 0, None
        for chunk in bptt_batches(tokens, batch_size, window):
            chunk = chunk.to(model_device(model))
            logits, state = model(chunk[:, :-1], state=state)
            state = detach_state(state)
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                     chunk[:, 1:].reshape(-1), reduction="sum").item()
            count += chunk[:, 1:].numel()
        return {"bits_per_char": total / count / math.log(2)}

    def describe(self, readout: Tensor) -> Prediction:
        return self._top(readout, "next character", repr)

    def texts(self, inputs: Tensor, lengths: Tensor | None = None) -> list[str]:
        steps = [inputs.shape[1]] * len(inputs) if lengths is None else lengths.tolist()
        return [decode(row[: int(n)]) for row, n in zip(inputs, steps)]

    def held_out(self, limit: int = 64, text_chars: int = 4000) -> HeldOut:
        """The first ``text_chars`` characters of the test stream, in 8 lanes."""
        lanes = 8
        width = max(1, min(text_chars, len(self.task.test) - 1) // lanes)
        return HeldOut(self.task.test[: lanes * width].view(lanes, width), None, None)

    def output_change(self, original: Tensor, ablated: Tensor, inputs: Tensor) -> OutputChange:
        steps = inputs.shape[1]
        if original.dim() == 2 and steps >= 2:
            following = inputs[0, 1:].long().cpu().unsqueeze(1)
            probability = [torch.softmax(o[:-1].double(), -1).gather(1, following).squeeze(1)
                           for o in (original, ablated)]
            return OutputChange(True, *probability, (), "p(true next character)")
        return self._probabilities(original, ablated)


OBJECTIVES: dict[str, type[Objective]] = {
    cls.kind: cls for cls in (Regression, Classification, LanguageModel)}


def card_objective(task: Task, card: dict) -> Objective:
    """The objective of a checkpoint's task, a language model's window from its card's recipe."""
    return objective_for(task, (card.get("recipe") or {}).get("window") or None)


def objective_for(task: Task, window: int | None = None) -> Objective:
    """The objective of ``task`` (by ``task.info.output_kind``).

    ``window`` is a language model's training and evaluation window (the recipe's); ``None``
    takes :attr:`LanguageModel.DEFAULT_WINDOW`. Other kinds ignore it.
    """
    kind = task.info.output_kind
    if kind not in OBJECTIVES:
        raise ValueError(f"unknown output kind {kind!r}; known: {', '.join(OBJECTIVES)}")
    if kind == LanguageModel.kind:
        return LanguageModel(task, LanguageModel.DEFAULT_WINDOW if window is None else window)
    return OBJECTIVES[kind](task)
