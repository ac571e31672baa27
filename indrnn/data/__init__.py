"""Real, reproducible data for the pretrained models: one loader per task and a registry.

>>> from indrnn.data import load_task
>>> task = load_task("basicmotions")
>>> task.info.input_size, task.info.num_classes, task.train.inputs.shape
(6, 4, torch.Size([40, 100, 6]))

Registered names (:data:`TASKS`), the object each returns and its output kind:

* ``adding`` -> :class:`AddingTask`, regression; generated, seeded (T = ``seq_len``).
* ``mnist5k``, ``permuted_mnist5k`` -> :class:`TaskData`, classification_last_step;
  ``data/mnist5k.npz``.
* ``fashion_mnist``, ``permuted_fashion_mnist`` -> :class:`TaskData`,
  classification_last_step; the Debian package ``dataset-fashion-mnist``.
* ``cpython_chars`` -> :class:`TextData`, per_step_lm; ``data/cpython_stdlib.*``.
* ``basicmotions``, ``japanesevowels`` -> :class:`TaskData`, classification_last_step;
  ``data/basicmotions.npz``, ``data/japanesevowels.npz``.

Every object is a :class:`Task`: it has ``info`` (:class:`TaskInfo`: sizes, names, preprocessing,
provenance for a model card via ``info.card()``), ``test``, ``extras`` (normalisation statistics,
a pixel permutation) and ``annotation_tracks`` (what is known about each step of an input, built
in :mod:`indrnn.data.tracks`); tensors are batch-first (see :mod:`indrnn.data.base`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from indrnn.data.adding import AddingTask, adding_batch, load_adding, training_generator
from indrnn.data.base import (
    DataError,
    SequenceSplit,
    Task,
    TaskData,
    TaskInfo,
    data_dir,
    seeded_generator,
    stratified_holdout,
)
from indrnn.data.model_only import (
    NO_TASK,
    ModelOnlyTask,
    NoTaskDataError,
    has_task_data,
    model_only_info,
)
from indrnn.data.pixels import (
    IDXError,
    load_fashion_mnist,
    load_mnist5k,
    parse_idx,
    pixel_permutation,
    read_idx,
)
from indrnn.data.sensors import load_basicmotions, load_japanesevowels
from indrnn.data.text import (
    VOCAB,
    TextData,
    Vocabulary,
    bits_per_char,
    bptt_batches,
    decode,
    encode,
    load_cpython_chars,
    random_windows,
)


@dataclass(frozen=True)
class TaskSpec:
    """A registry entry.

    Attributes
    ----------
    name : str
        Registry name.
    loader : callable
        Returns the task object; keyword arguments of :func:`load_task` are passed on.
    output_kind : str
        ``"regression"``, ``"classification_last_step"`` or ``"per_step_lm"``.
    description : str
        One line for menus.
    defaults : dict
        Keyword arguments always given to ``loader`` (callers may override them).
    """

    name: str
    loader: Callable[..., Any]
    output_kind: str
    description: str
    defaults: dict[str, Any]


TASKS: dict[str, TaskSpec] = {spec.name: spec for spec in (
    TaskSpec("adding", load_adding, "regression",
             "adding problem: sum of the two marked values of a U(0,1) sequence", {}),
    TaskSpec("mnist5k", load_mnist5k, "classification_last_step",
             "5,000 MNIST digits pixel by pixel (784 x 1), 4000/1000", {}),
    TaskSpec("permuted_mnist5k", load_mnist5k, "classification_last_step",
             "5,000 MNIST digits, pixels in a fixed random order", {"permute": True}),
    TaskSpec("fashion_mnist", load_fashion_mnist, "classification_last_step",
             "Fashion-MNIST pixel by pixel (784 x 1), 55000/5000/10000", {}),
    TaskSpec("permuted_fashion_mnist", load_fashion_mnist, "classification_last_step",
             "Fashion-MNIST, pixels in a fixed random order", {"permute": True}),
    TaskSpec("cpython_chars", load_cpython_chars, "per_step_lm",
             "character-level language model on CPython 3.11.7 standard-library source", {}),
    TaskSpec("basicmotions", load_basicmotions, "classification_last_step",
             "smart-watch accelerometer + gyroscope, 6 x 100, 4 activities, 40/40", {}),
    TaskSpec("japanesevowels", load_japanesevowels, "classification_last_step",
             "speaker from 12 LPC cepstra, 7-29 steps, 9 speakers, 270/370", {}),
)}


def load_task(name: str, **kwargs: Any) -> Task:
    """Load a registered task.

    Parameters
    ----------
    name : str
        A key of :data:`TASKS`.
    **kwargs
        Passed to the task's loader (e.g. ``seq_len=500`` for ``"adding"``, ``num_valid=400``
        for ``"mnist5k"``, ``normalize=False`` for the sensor tasks).

    Returns
    -------
    AddingTask, TaskData or TextData
        The task object; its ``info`` describes it.
    """
    if name not in TASKS:
        raise KeyError(f"unknown task {name!r}; known: {', '.join(TASKS)}")
    spec = TASKS[name]
    return spec.loader(**{**spec.defaults, **kwargs})


def task_for(card: dict[str, Any], model: Any) -> Task:
    """The task a checkpoint's card names (:func:`load_task`), or, when it names none this
    library knows, a :class:`ModelOnlyTask` built from the model and the card (no data).

    Parameters
    ----------
    card : dict
        The checkpoint's card: ``task`` and ``task_kwargs``, else the optional fields of
        :data:`indrnn.data.model_only.CARD_FIELDS`.
    model : SequenceModel
        The checkpoint's model (its sizes, for a model-only task).
    """
    name = card.get("task")
    if name in TASKS:
        return load_task(name, **dict(card.get("task_kwargs") or {}))
    return ModelOnlyTask(model_only_info(model, card))


def examples_task(task: str) -> str:
    """The task whose files in ``examples/`` serve ``task``: a permuted-pixel task uses its plain
    task's images (they are in natural pixel order; an upload is reordered by the permutation)."""
    return task.removeprefix("permuted_")


__all__ = [
    "NO_TASK",
    "TASKS",
    "VOCAB",
    "AddingTask",
    "DataError",
    "IDXError",
    "ModelOnlyTask",
    "NoTaskDataError",
    "SequenceSplit",
    "Task",
    "TaskData",
    "TaskInfo",
    "TaskSpec",
    "TextData",
    "Vocabulary",
    "adding_batch",
    "bits_per_char",
    "bptt_batches",
    "data_dir",
    "decode",
    "encode",
    "examples_task",
    "has_task_data",
    "load_adding",
    "load_basicmotions",
    "load_cpython_chars",
    "load_fashion_mnist",
    "load_japanesevowels",
    "load_mnist5k",
    "load_task",
    "model_only_info",
    "parse_idx",
    "pixel_permutation",
    "random_windows",
    "read_idx",
    "seeded_generator",
    "stratified_holdout",
    "task_for",
    "training_generator",
]
