"""What training and evaluation need of each kind of task: batches, the loss and the metrics.

Three kinds, as :attr:`indrnn.data.TaskInfo.output_kind` names them:

* ``regression`` (adding problem): MSE of the last step's output;
* ``classification_last_step`` (pixels, sensors): cross-entropy and accuracy of the last step;
* ``per_step_lm`` (characters): cross-entropy of every step, reported in bits per character.

Every training batch is a function of ``(seed, step)`` alone, so a resumed run sees exactly the
batches an uninterrupted one would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from indrnn.data import SequenceSplit, seeded_generator
from indrnn.data.text import bptt_batches, random_windows
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


class Objective:
    """Batches, loss and metrics of one task; see the subclasses."""

    metric: str = ""
    higher_is_better: bool = False
    slice_size: int = 64  #: held-out samples scored apart, so tests can recheck a card quickly

    def __init__(self, task: Any):
        self.task = task

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


def _slices(split: SequenceSplit, limit: int | None, batch_size: int):
    count = len(split) if limit is None else min(limit, len(split))
    for start in range(0, count, batch_size):
        part = slice(start, min(start + batch_size, count))
        lengths = None if split.lengths is None else split.lengths[part]
        yield Batch(split.inputs[part], split.targets[part], lengths)


class Regression(Objective):
    """The adding problem: MSE of the output at the last step."""

    metric = "mse"

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


class Classification(Objective):
    """Classification from the last step: cross-entropy, accuracy."""

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


class LanguageModel(Objective):
    """Next-character prediction at every step, reported in bits per character."""

    metric = "bits_per_char"
    slice_size = 4096  # characters

    def __init__(self, task: Any, window: int):
        super().__init__(task)
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


def objective_for(task: Any, window: int = 0) -> Objective:
    """The objective matching ``task.info.output_kind``."""
    kind = task.info.output_kind
    if kind == "regression":
        return Regression(task)
    if kind == "classification_last_step":
        return Classification(task)
    if kind == "per_step_lm":
        if window < 1:
            raise ValueError("a language-model recipe needs window >= 1")
        return LanguageModel(task, window)
    raise ValueError(f"unknown output kind {kind!r}")
