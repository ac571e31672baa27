"""Types and helpers shared by the task loaders.

Layout convention: every tensor a loader returns is **batch-first**, ``(N, T, C)`` for sequences
(N samples, T steps, C channels). The library's layers are time-major by default, so either build
them with ``batch_first=True`` or pass ``inputs.transpose(0, 1)`` (``(T, N, C)``);
:meth:`SequenceSplit.time_major` does that.

Pinned randomness (data splits, the permutation of permuted-pixel tasks) uses
``numpy.random.RandomState``, whose streams NumPy freezes (NEP 19), so the same seed picks the same
images with any NumPy version. Randomness while training (batches, windows, the adding problem's
sequences) uses seeded ``torch.Generator`` objects.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import torch

from indrnn.assets import DATA_ENV, data_dir
from indrnn.data.tracks import input_tracks, past_the_end, time_track

OutputKind = Literal["regression", "classification_last_step", "per_step_lm"]
OUTPUT_KINDS: tuple[str, ...] = ("regression", "classification_last_step", "per_step_lm")
LAYOUT = "batch-first (N, T, C)"

DATA_DIR_ENV = DATA_ENV  #: environment variable that overrides where the data files are read from


class DataError(RuntimeError):
    """A data file that is missing, malformed or does not match its manifest."""


def data_file(name: str) -> Path:
    """Path of a committed data file, or a :class:`DataError` that says where it was looked for.

    Parameters
    ----------
    name : str
        File name inside :func:`data_dir`, e.g. ``"mnist5k.npz"``.

    Returns
    -------
    Path
        The existing file.
    """
    path = data_dir() / name
    if not path.is_file():
        raise DataError(
            f"data file {path} not found; it is committed in the repository's data/ folder and "
            f"installed with the package (set ${DATA_DIR_ENV} to read it from elsewhere)")
    return path


@dataclass(frozen=True)
class TaskInfo:
    """What a model for a task needs to know, and what its model card should say.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"adding"``.
    output_kind : {"regression", "classification_last_step", "per_step_lm"}
        Regression from the last step (one value), classification from the last real step, or a
        next-symbol prediction at every step.
    input_size : int
        Features per step (for ``per_step_lm``: the vocabulary size; inputs are token ids to embed
        or one-hot encode).
    output_size : int
        Outputs of the head: 1 for regression, ``num_classes`` otherwise.
    num_classes : int or None
        Classes (vocabulary size for ``per_step_lm``); None for regression.
    seq_len : int or None
        Steps per sequence (the longest one if ``variable_length``); None where the caller chooses
        (language-model windows).
    variable_length : bool
        Whether sequences have their own lengths (``SequenceSplit.lengths``).
    channel_names : tuple of str
        One name per input channel (for ``per_step_lm``: ``("char",)``).
    class_names : tuple of str or None
        One name per class, in label order.
    preprocessing : str
        Normalisation and encoding applied to the inputs.
    provenance : str
        Where the data come from (source, package and version, files, licence), for model cards.
    splits : dict
        Split name -> number of samples (characters for ``per_step_lm``).
    baseline : str
        A trivial predictor's score, for scale.
    layout : str
        Tensor layout: always batch-first (see the module docstring).
    image_shape : tuple of int, optional
        ``(rows, columns)`` of the image a pixel-by-pixel task reads, row by row (one channel);
        ``None`` for inputs that are not images.
    output_range : tuple of float, optional
        ``(low, high)`` bounds of every target a regression model is trained on (the adding
        problem's sums lie in [0, 2]); outputs outside it are flagged. ``None`` if unbounded.
    """

    name: str
    output_kind: OutputKind
    input_size: int
    output_size: int
    num_classes: int | None
    seq_len: int | None
    variable_length: bool
    channel_names: tuple[str, ...]
    class_names: tuple[str, ...] | None
    preprocessing: str
    provenance: str
    splits: dict[str, int] = field(default_factory=dict)
    baseline: str = ""
    layout: str = LAYOUT
    image_shape: tuple[int, int] | None = None
    output_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.output_kind not in OUTPUT_KINDS:
            raise ValueError(f"output_kind must be one of {OUTPUT_KINDS}, got {self.output_kind!r}")

    def card(self) -> dict[str, Any]:
        """A JSON-safe dict for a model card (``indrnn.checkpoint.save(..., card=...)``)."""
        out = asdict(self)
        for key in ("channel_names", "class_names", "image_shape", "output_range"):
            if out[key] is not None:
                out[key] = list(out[key])
        return out


@dataclass(frozen=True)
class SequenceSplit:
    """One split of a sequence task, batch-first.

    Attributes
    ----------
    inputs : torch.Tensor
        float32 ``(N, T, C)``; steps past a sample's length are 0.
    targets : torch.Tensor
        int64 ``(N,)`` class indices, or float32 ``(N, 1)`` regression targets.
    lengths : torch.Tensor or None
        int64 ``(N,)`` real steps per sample; None when every sample has all T steps.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    lengths: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.inputs.dim() != 3:
            raise ValueError(f"inputs must be (N, T, C), got shape {tuple(self.inputs.shape)}")
        n = self.inputs.shape[0]
        if self.targets.shape[0] != n or (self.lengths is not None and self.lengths.shape != (n,)):
            raise ValueError("inputs, targets and lengths must have the same first dimension")

    def __len__(self) -> int:
        return self.inputs.shape[0]

    def subset(self, index: torch.Tensor | np.ndarray | slice) -> SequenceSplit:
        """The samples at ``index`` (a new split sharing nothing mutable with this one)."""
        if isinstance(index, np.ndarray):
            index = torch.from_numpy(index)
        lengths = None if self.lengths is None else self.lengths[index]
        return SequenceSplit(self.inputs[index], self.targets[index], lengths)

    def time_major(self) -> torch.Tensor:
        """The inputs as ``(T, N, C)``, the library's default layout (a view, no copy)."""
        return self.inputs.transpose(0, 1)

    def with_inputs(self, inputs: torch.Tensor) -> SequenceSplit:
        """The same targets and lengths with other inputs."""
        return replace(self, inputs=inputs)


class Task(Protocol):
    """What every task object (:class:`TaskData`, :class:`~indrnn.data.AddingTask`,
    :class:`~indrnn.data.TextData`) offers the rest of the library."""

    info: TaskInfo
    extras: dict[str, Any]

    @property
    def test(self) -> Any:
        """The test split: a :class:`SequenceSplit`, or a token stream for text."""

    def annotation_tracks(self, inputs: torch.Tensor, lengths: torch.Tensor | None = None,
                          ) -> dict[str, np.ndarray]:
        """What is known about each step of batch-first ``inputs``, ``(T, B)`` per track (NaN
        past a sequence's end): the step index first, then the task's own events."""

    def events(self, inputs: torch.Tensor) -> list[tuple[int, str]]:
        """Steps of one batch-first sequence ``(T, C)`` worth marking on a plot of it, with a
        label (the adding problem's markers); none for most tasks."""


@dataclass(frozen=True)
class TaskData:
    """A classification or regression task with fixed splits.

    Attributes
    ----------
    info : TaskInfo
        Sizes, names and provenance.
    train, test : SequenceSplit
        The official (or pinned) training and test splits.
    valid : SequenceSplit or None
        A validation split carved from the training data, if asked for.
    extras : dict
        Task-specific values, e.g. normalisation statistics (``"mean"``, ``"std"``) or the
        pixel ``"permutation"``.
    """

    info: TaskInfo
    train: SequenceSplit
    test: SequenceSplit
    valid: SequenceSplit | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def annotation_tracks(self, inputs: torch.Tensor, lengths: torch.Tensor | None = None,
                          ) -> dict[str, np.ndarray]:
        """The step index and every input channel, by the task's channel names."""
        names = list(self.info.channel_names or [])
        names = names if len(names) == inputs.shape[-1] else None
        tracks = {"time step": time_track(inputs.shape[1], inputs.shape[0])}
        tracks.update({f"input {name}": track
                       for name, track in input_tracks(inputs, names).items()})
        return past_the_end(tracks, lengths)

    def events(self, inputs: torch.Tensor) -> list[tuple[int, str]]:
        """No step stands out in sensor or pixel data: nothing to mark."""
        return []


def stratified_holdout(labels: np.ndarray, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into (kept, held out), holding out ``count`` samples stratified by label.

    Each class gives ``count`` times its share (rounded down, the remainder going to the largest
    classes first, ties to the lower label), chosen with ``np.random.RandomState(seed)``: one
    permutation per class, classes in increasing order.

    Parameters
    ----------
    labels : numpy.ndarray
        Integer labels ``(N,)``.
    count : int
        Samples to hold out, ``0 <= count < N``.
    seed : int
        Seed of the ``RandomState``.

    Returns
    -------
    tuple of numpy.ndarray
        Sorted int64 indices of the kept and of the held-out samples (disjoint, covering 0..N-1).
    """
    labels = np.asarray(labels)
    n = len(labels)
    if not 0 <= count < n:
        raise ValueError(f"count must be in [0, {n}), got {count}")
    classes, sizes = np.unique(labels, return_counts=True)
    quota = sizes * count // n
    order = sorted(range(len(classes)), key=lambda i: (-sizes[i], classes[i]))
    for i in order[: count - int(quota.sum())]:
        quota[i] += 1
    rng = np.random.RandomState(seed)
    held = [rng.permutation(np.flatnonzero(labels == c))[:q] for c, q in zip(classes, quota)]
    held_idx = np.sort(np.concatenate(held)).astype(np.int64) if held else np.zeros(0, np.int64)
    kept_idx = np.setdiff1d(np.arange(n), held_idx).astype(np.int64)
    return kept_idx, held_idx


def carve_validation(split: SequenceSplit, num_valid: int, seed: int,
                     ) -> tuple[SequenceSplit, SequenceSplit | None]:
    """Split ``num_valid`` samples off ``split`` (stratified when targets are class indices).

    Parameters
    ----------
    split : SequenceSplit
        The training split.
    num_valid : int
        Validation samples; 0 gives ``(split, None)``.
    seed : int
        Seed for :func:`stratified_holdout`.

    Returns
    -------
    tuple
        ``(train, valid)``.
    """
    if num_valid == 0:
        return split, None
    labels = split.targets.numpy() if split.targets.dim() == 1 else np.zeros(len(split), np.int64)
    kept, held = stratified_holdout(labels, num_valid, seed)
    return split.subset(kept), split.subset(held)


def seeded_generator(seed: int, stream: int) -> torch.Generator:
    """A CPU ``torch.Generator`` for one of several independent streams of one seed.

    The generator's seed is drawn from ``numpy.random.SeedSequence([seed, stream])``, so
    (seed, stream) pairs never share a state even when seeds are small consecutive numbers.

    Parameters
    ----------
    seed : int
        User seed (non-negative).
    stream : int
        Stream id (e.g. 0 training, 1 validation, 2 test).

    Returns
    -------
    torch.Generator
    """
    if seed < 0 or stream < 0:
        raise ValueError(f"seed and stream must be non-negative, got {seed}, {stream}")
    state = np.random.SeedSequence([seed, stream]).generate_state(2, dtype=np.uint32)
    generator = torch.Generator()
    generator.manual_seed(int(state[0]) << 32 | int(state[1]))
    return generator
