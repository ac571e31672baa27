"""Multivariate sensor sequences (a small stand-in for skeleton-based action recognition).

* **BasicMotions**: a smart watch's 3-D accelerometer and 3-D gyroscope, 10 Hz for 10 s
  (100 steps x 6 channels); 4 activities (Standing, Running, Walking, Badminton); 40 train / 40
  test, 10 per class in each.
* **JapaneseVowels**: 9 male speakers saying the vowels /ae/; 12 LPC cepstrum coefficients per
  frame, 7..29 frames (variable length); the class is the speaker; 270 train / 370 test.

Both come from the UEA & UCR time-series classification archive, as the ``.ts`` files shipped in
the PyPI package ``aeon`` (1.6.0), converted once by ``scripts/convert_sensors.py`` into the
committed ``data/basicmotions.npz`` and ``data/japanesevowels.npz`` (provenance, package version
and the source files' sha256 stored inside). The archive's official train/test splits are used,
in file order.

Layout: batch-first, inputs float32 ``(N, T_max, C)`` zero-padded past each sample's length
(``T_max`` = 100 and 29, the same for train and test), ``lengths`` int64 ``(N,)``, targets int64
``(N,)``; read the class from step ``lengths - 1`` (or pack the sequences).

Normalisation (default on): per channel, ``(x - mean) / std`` with the mean and the (population)
standard deviation over every real step of every **training** sample (never validation or test
samples; padding excluded); the same statistics are applied to every split, and padding stays 0.
The statistics are returned in ``extras["mean"]`` and ``extras["std"]`` for reuse at inference.
"""

from __future__ import annotations

import json

import numpy as np
import torch

from indrnn.data.base import (
    DataError,
    SequenceSplit,
    TaskData,
    TaskInfo,
    carve_validation,
    data_file,
)
from indrnn.sequences import valid_steps

FILES = {"basicmotions": "basicmotions.npz", "japanesevowels": "japanesevowels.npz"}
EXPECTED = {  # name -> (train, test, channels, classes, min length, max length)
    "basicmotions": (40, 40, 6, 4, 100, 100),
    "japanesevowels": (270, 370, 12, 9, 7, 29),
}


def step_mask(lengths: torch.Tensor, seq_len: int) -> torch.Tensor:
    """bool ``(N, T)``: True at the real steps ``t < lengths[n]``."""
    return valid_steps(lengths, seq_len).T


def normalization_stats(inputs: torch.Tensor, lengths: torch.Tensor,
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and population standard deviation over the real steps.

    Parameters
    ----------
    inputs : torch.Tensor
        ``(N, T, C)`` (the training split only).
    lengths : torch.Tensor
        ``(N,)`` real steps per sample.

    Returns
    -------
    mean, std : torch.Tensor
        float32 ``(C,)``; a channel with zero spread gets std 1.
    """
    steps = inputs[step_mask(lengths, inputs.shape[1])].double()  # (real steps, C)
    mean = steps.mean(0)
    std = steps.std(0, correction=0)
    std = torch.where(std > 0, std, torch.ones_like(std))
    return mean.float(), std.float()


def normalize(inputs: torch.Tensor, lengths: torch.Tensor, mean: torch.Tensor,
              std: torch.Tensor) -> torch.Tensor:
    """``(inputs - mean) / std`` at the real steps; padding stays 0.

    Parameters
    ----------
    inputs : torch.Tensor
        ``(N, T, C)``.
    lengths : torch.Tensor
        ``(N,)``.
    mean, std : torch.Tensor
        ``(C,)`` from :func:`normalization_stats` on the training split.

    Returns
    -------
    torch.Tensor
        float32 ``(N, T, C)``.
    """
    mask = step_mask(lengths, inputs.shape[1]).unsqueeze(2)
    return torch.where(mask, (inputs - mean) / std, torch.zeros(()))


def _load(name: str, normalize_inputs: bool, num_valid: int, valid_seed: int) -> TaskData:
    path = data_file(FILES[name])
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    n_train, n_test, channels, classes, low, high = EXPECTED[name]
    class_names = tuple(str(c) for c in arrays["class_names"])
    channel_names = tuple(str(c) for c in arrays["channel_names"])
    seq_len = max(arrays["x_train"].shape[1], arrays["x_test"].shape[1])
    splits = {}
    for split, count in (("train", n_train), ("test", n_test)):
        x, lengths, y = (arrays[f"{k}_{split}"] for k in ("x", "lengths", "y"))
        if (x.shape[0] != count or x.shape[2] != channels or x.dtype != np.float32
                or lengths.shape != (count,) or y.shape != (count,)):
            raise DataError(f"{path}: {split} arrays {x.shape} {x.dtype}, {lengths.shape}, "
                            f"{y.shape}; expected {count} samples x {channels} channels")
        if lengths.min() < low or lengths.max() > high or y.min() < 0 or y.max() >= classes:
            raise DataError(f"{path}: {split} lengths or labels out of range")
        padded = np.zeros((count, seq_len, channels), np.float32)
        padded[:, : x.shape[1]] = x
        splits[split] = SequenceSplit(torch.from_numpy(padded), torch.from_numpy(y),
                                      torch.from_numpy(lengths))
    if len(class_names) != classes or len(channel_names) != channels:
        raise DataError(f"{path}: {len(class_names)} class and {len(channel_names)} channel names")
    train, valid = carve_validation(splits["train"], num_valid, valid_seed)
    test = splits["test"]
    extras = {}
    if normalize_inputs:
        mean, std = normalization_stats(train.inputs, train.lengths)
        train, test = (s.with_inputs(normalize(s.inputs, s.lengths, mean, std))
                       for s in (train, test))
        if valid is not None:
            valid = valid.with_inputs(normalize(valid.inputs, valid.lengths, mean, std))
        extras = {"mean": mean, "std": std}
    source = json.loads(str(arrays["provenance"]))
    files = ", ".join(f"{f} (sha256 {h})" for f, h in source["files_sha256"].items())
    provenance = (
        f"{source['dataset']} from the {source['archive']}: {source['description']} "
        f"Files {files} from PyPI {source['package']} {source['package_version']}, converted by "
        f"{source['script']} into data/{FILES[name]}; official train/test split"
        + (f"; validation: {num_valid} training samples, stratified, "
           f"np.random.RandomState({valid_seed})" if num_valid else "")
        + f". Channels: {source['channels']}.")
    counts = np.bincount(train.targets.numpy(), minlength=classes)
    info = TaskInfo(
        name=name, output_kind="classification_last_step", input_size=channels,
        output_size=classes, num_classes=classes, seq_len=seq_len,
        variable_length=low != high, channel_names=channel_names, class_names=class_names,
        preprocessing=("per-channel (x - mean) / std, statistics over the real steps of the "
                       "training split only; padding 0" if normalize_inputs
                       else "none (raw values); padding 0"),
        provenance=provenance,
        splits={"train": len(train), "valid": 0 if valid is None else len(valid),
                "test": len(test)},
        baseline=(f"{100 * counts.max() / counts.sum():.1f}% accuracy predicting the most "
                  "frequent training class"))
    return TaskData(info, train, test, valid, extras)


def load_basicmotions(normalize: bool = True, num_valid: int = 0,
                      valid_seed: int = 0) -> TaskData:
    """BasicMotions: 6 channels x 100 steps, 4 classes, 40 train / 40 test.

    Parameters
    ----------
    normalize : bool
        Apply the training split's per-channel standardisation (module docstring).
    num_valid : int
        Training samples moved to a validation split (stratified, seeded); 0 for none.
    valid_seed : int
        Seed of that split (``np.random.RandomState``).

    Returns
    -------
    TaskData
        Splits with ``inputs (N, 100, 6)``, ``targets (N,)``, ``lengths (N,)`` (all 100);
        ``extras`` holds ``mean`` and ``std`` when normalised.
    """
    return _load("basicmotions", normalize, num_valid, valid_seed)


def load_japanesevowels(normalize: bool = True, num_valid: int = 0,
                        valid_seed: int = 0) -> TaskData:
    """JapaneseVowels: 12 channels, 7..29 steps, 9 speakers, 270 train / 370 test.

    Parameters
    ----------
    normalize : bool
        Apply the training split's per-channel standardisation (module docstring).
    num_valid : int
        Training samples moved to a validation split (stratified, seeded); 0 for none.
    valid_seed : int
        Seed of that split (``np.random.RandomState``).

    Returns
    -------
    TaskData
        Splits with ``inputs (N, 29, 12)`` zero-padded, ``targets (N,)``, ``lengths (N,)``;
        ``extras`` holds ``mean`` and ``std`` when normalised.
    """
    return _load("japanesevowels", normalize, num_valid, valid_seed)
