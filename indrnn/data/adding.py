"""The adding problem (Le, Jaitly & Hinton 2015, "A Simple Way to Initialize Recurrent Networks
of Rectified Linear Units", section 4.1), as used by the IndRNN paper (Li et al. 2018, §4.1).

Each sequence has T steps and 2 channels:

* channel 0: values drawn independently from U(0, 1) (``torch.rand``, i.e. in [0, 1));
* channel 1: markers, 0 everywhere except exactly two 1s: the first at a position drawn uniformly
  from the first half, ``[0, T // 2)``, the second uniformly from the second half,
  ``[T // 2, T)`` (for odd T the second half has the extra step). This is the paper's rule:
  "The first 1 entry is located uniformly at random in the first half of the sequence, whilst the
  second 1 entry is located uniformly at random in the second half."

The target is the sum of the two marked values, one number read from the last step. Predicting 1
whatever the input gives a mean squared error of 1/6 ≈ 0.167 (the variance of the sum of two
independent U(0, 1) variables), the baseline to beat.

Layout: batch-first, inputs float32 ``(B, T, 2)``, targets float32 ``(B, 1)``.

Randomness: :func:`adding_batch` draws from the ``torch.Generator`` it is given, so a generator
seeded the same way always gives the same batches. :func:`training_generator` seeds one per user
seed; the validation and test sets come from separate streams of the fixed seed
:data:`HELD_OUT_SEED` (see :func:`indrnn.data.base.seeded_generator`), so no training seed ever
replays them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from indrnn.data.base import SequenceSplit, TaskInfo, seeded_generator
from indrnn.data.tracks import adding_tracks, input_tracks, past_the_end, time_track

TRAIN_STREAM, VALID_STREAM, TEST_STREAM = 0, 1, 2
HELD_OUT_SEED = 0  #: seed of the fixed validation and test sets (streams 1 and 2)
BASELINE_MSE = 1.0 / 6.0  #: MSE of always predicting 1
PROVENANCE = (
    "Adding problem generated in code (indrnn.data.adding), the setup of Le, Jaitly & Hinton "
    "(2015, §4.1) as used by the IndRNN paper (Li et al., CVPR 2018): values U(0,1), one marker "
    "uniform in [0, T//2), one in [T//2, T), target = sum of the two marked values. Fixed "
    f"validation/test sets from seed {HELD_OUT_SEED}, streams {VALID_STREAM}/{TEST_STREAM}."
)


def adding_batch(batch_size: int, seq_len: int, generator: torch.Generator | None = None,
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch of the adding problem.

    Parameters
    ----------
    batch_size : int
        Sequences in the batch (B >= 1).
    seq_len : int
        Steps per sequence (T >= 2).
    generator : torch.Generator, optional
        CPU generator the values and marker positions are drawn from; the global one if None.

    Returns
    -------
    inputs : torch.Tensor
        float32 ``(B, T, 2)``: channel 0 the values, channel 1 the two markers.
    targets : torch.Tensor
        float32 ``(B, 1)``: the sum of the two marked values.
    """
    if batch_size < 1 or seq_len < 2:
        raise ValueError(f"need batch_size >= 1 and seq_len >= 2, got {batch_size}, {seq_len}")
    half = seq_len // 2
    values = torch.rand(batch_size, seq_len, generator=generator)
    first = torch.randint(0, half, (batch_size,), generator=generator)
    second = torch.randint(half, seq_len, (batch_size,), generator=generator)
    markers = torch.zeros(batch_size, seq_len)
    rows = torch.arange(batch_size)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    targets = (values[rows, first] + values[rows, second]).unsqueeze(1)
    return torch.stack([values, markers], dim=2), targets


def training_generator(seed: int) -> torch.Generator:
    """The training stream for ``seed`` (never the validation or test stream).

    Parameters
    ----------
    seed : int
        Non-negative seed.

    Returns
    -------
    torch.Generator
        Pass it to :func:`adding_batch` for each batch.
    """
    return seeded_generator(seed, TRAIN_STREAM)


def training_batches(batch_size: int, seq_len: int, seed: int) -> Iterator[tuple[torch.Tensor,
                                                                                  torch.Tensor]]:
    """Endless training batches from :func:`training_generator` ``(seed)``.

    Parameters
    ----------
    batch_size, seq_len : int
        As for :func:`adding_batch`.
    seed : int
        Non-negative seed; the same seed gives the same sequence of batches.

    Yields
    ------
    tuple of torch.Tensor
        ``(inputs (B, T, 2), targets (B, 1))``.
    """
    generator = training_generator(seed)
    while True:
        yield adding_batch(batch_size, seq_len, generator)


def held_out_set(seq_len: int, size: int, split: str = "test") -> SequenceSplit:
    """The fixed validation or test set for length ``seq_len``.

    Parameters
    ----------
    seq_len : int
        Steps per sequence.
    size : int
        Number of sequences. Sets of different sizes are different draws (the smaller is not a
        prefix of the larger): keep ``size`` fixed to compare runs.
    split : {"test", "valid"}
        Which stream of :data:`HELD_OUT_SEED`.

    Returns
    -------
    SequenceSplit
        inputs ``(size, T, 2)``, targets ``(size, 1)``.
    """
    streams = {"test": TEST_STREAM, "valid": VALID_STREAM}
    if split not in streams:
        raise ValueError(f"split must be 'test' or 'valid', got {split!r}")
    inputs, targets = adding_batch(size, seq_len, seeded_generator(HELD_OUT_SEED, streams[split]))
    return SequenceSplit(inputs, targets)


@dataclass(frozen=True)
class AddingTask:
    """The adding problem at one length: fixed held-out sets and a seeded training stream.

    Attributes
    ----------
    info : TaskInfo
        Sizes and provenance (``output_kind="regression"``).
    seq_len : int
        T.
    valid, test : SequenceSplit
        Fixed sets from :func:`held_out_set`.
    """

    info: TaskInfo
    seq_len: int
    valid: SequenceSplit
    test: SequenceSplit
    extras: dict[str, Any] = field(default_factory=dict)

    def annotation_tracks(self, inputs: torch.Tensor, lengths: torch.Tensor | None = None,
                          ) -> dict[str, np.ndarray]:
        """The step index, what a network may count of the markers (:func:`adding_tracks`), and
        the two channels."""
        tracks = {"time step": time_track(inputs.shape[1], inputs.shape[0])}
        tracks.update(adding_tracks(inputs))
        tracks.update({f"input {name}": track for name, track in input_tracks(
            inputs, list(self.info.channel_names)).items()})
        return past_the_end(tracks, lengths)

    def events(self, inputs: torch.Tensor) -> list[tuple[int, str]]:
        """The marked steps of one sequence ``(T, 2)``, labelled with their values."""
        marked = torch.nonzero(inputs[:, 1] > 0).flatten().tolist()
        return [(t, f"marker: {float(inputs[t, 0]):.3f}") for t in marked]

    def batches(self, batch_size: int, seed: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Endless training batches (see :func:`training_batches`)."""
        return training_batches(batch_size, self.seq_len, seed)

    def batch(self, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor,
                                                                          torch.Tensor]:
        """One training batch from ``generator`` (see :func:`adding_batch`)."""
        return adding_batch(batch_size, self.seq_len, generator)


def load_adding(seq_len: int = 1000, test_size: int = 1000, valid_size: int = 1000) -> AddingTask:
    """The adding task at length ``seq_len`` with its fixed validation and test sets.

    Parameters
    ----------
    seq_len : int
        T (the IndRNN paper uses 100, 500, 1000 and 5000).
    test_size, valid_size : int
        Sizes of the fixed held-out sets.

    Returns
    -------
    AddingTask
    """
    info = TaskInfo(
        name="adding", output_kind="regression", input_size=2, output_size=1, num_classes=None,
        seq_len=seq_len, variable_length=False, channel_names=("value", "marker"),
        class_names=None,
        preprocessing="none: values U(0,1) as drawn, markers 0/1",
        provenance=PROVENANCE, splits={"valid": valid_size, "test": test_size},
        baseline=f"MSE {BASELINE_MSE:.3f} by always predicting 1", output_range=(0.0, 2.0))
    return AddingTask(info, seq_len, held_out_set(seq_len, valid_size, "valid"),
                      held_out_set(seq_len, test_size, "test"))
