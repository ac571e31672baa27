"""The last step of every numeric parser: check float64 ``(N, T, C)`` values against the model
and :mod:`indrnn.limits` (shape, finiteness, magnitude, pixels, adding-problem markers) and build
the :class:`ParsedInput`."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from indrnn import limits
from indrnn.data.base import TaskInfo
from indrnn.data.uploads.common import (
    TRANSPOSED_HINT,
    ParsedInput,
    UploadError,
    expects,
    is_pixels,
    plural,
)

Where = Callable[[int, int, int], str]
"""Names a value's position for messages, from (sequence, step, channel) indices."""


def finish(x: np.ndarray, info: TaskInfo, kind: str, layout: str, notes: list[str],
           where: Where, lengths: np.ndarray | None = None,
           targets: torch.Tensor | None = None) -> ParsedInput:
    """Check float64 ``(N, T, C)`` values against the model and the limits; build the result."""
    n, t, c = x.shape
    if n == 0:
        raise UploadError("the file holds no sequences (0 in the first dimension)")
    if n > limits.MAX_SEQUENCES:
        raise UploadError(f"{n:,} sequences exceed the limit of {limits.MAX_SEQUENCES} per file")
    if c != info.input_size:
        hint = TRANSPOSED_HINT if t == info.input_size else ""
        over = f" (the limit is {limits.MAX_CHANNELS})" if c > limits.MAX_CHANNELS else ""
        raise UploadError(f"the {kind.upper()} has {plural(c, 'channel')}{over}; the "
                          f"{info.name} model expects {expects(info)}{hint}")
    if t == 0:
        raise UploadError("sequence of 0 steps: the file holds no time steps; at least 1 needed")
    limit = limits.max_steps(info.name)
    if t > limit:
        raise UploadError(f"{t:,} steps exceed the limit of {limit:,} for this model")
    if x.size > limits.MAX_VALUES:
        raise UploadError(f"{x.size:,} numbers exceed the limit of {limits.MAX_VALUES:,} per file")
    bad = ~np.isfinite(x)
    if bad.any():
        i, s, ch = (int(v) for v in np.argwhere(bad)[0])
        name = "NaN" if np.isnan(x[i, s, ch]) else ("Inf" if x[i, s, ch] > 0 else "-Inf")
        raise UploadError(f"{name} at {where(i, s, ch)}: values must be finite")
    magnitude = np.abs(x)
    if (magnitude > limits.MAX_ABS_VALUE).any():
        i, s, ch = (int(v) for v in np.argwhere(magnitude > limits.MAX_ABS_VALUE)[0])
        raise UploadError(f"value {x[i, s, ch]:g} at {where(i, s, ch)}: magnitudes above "
                          f"{limits.MAX_ABS_VALUE:g} are refused (the models read values of "
                          "order 1 to 100; check the units)")
    if magnitude.max() > limits.LARGE_VALUE:
        notes.append(f"values up to {magnitude.max():g} in magnitude (above "
                     f"{limits.LARGE_VALUE:g}): far from what the model saw in training; units?")
    x32 = _pixel_values(x, info, notes) if is_pixels(info) else x.astype(np.float32)
    if lengths is None:
        lengths = np.full(n, t, np.int64)
    else:
        padding = np.arange(t)[None, :] >= lengths[:, None]
        if (x32[padding] != 0).any():
            notes.append("non-zero values past a sequence's length were set to 0 (ignored)")
            x32[padding] = 0
    if info.name == "adding":
        targets = _adding_targets(x32, lengths, targets, notes)
    if info.seq_len and not is_pixels(info):
        if info.variable_length and lengths.max() > info.seq_len:
            notes.append(f"longer than the model's longest training sequence ({info.seq_len})")
        elif not info.variable_length and (lengths != info.seq_len).any():
            notes.append(f"the model was trained on {info.seq_len:,}-step sequences")
    low, high = int(lengths.min()), int(lengths.max())
    steps = f"{high:,} steps" if low == high else f"{low:,}-{high:,} steps"
    summary = f"{plural(n, 'sequence')}, {steps}, {plural(c, 'channel')}"
    return ParsedInput(torch.from_numpy(x32), torch.from_numpy(lengths.astype(np.int64)), targets,
                       kind, layout, info.channel_names, summary, tuple(notes))


def _pixel_values(x: np.ndarray, info: TaskInfo, notes: list[str]) -> np.ndarray:
    pixels = limits.IMAGE_SIDE * limits.IMAGE_SIDE
    if x.shape[1] != pixels:
        raise UploadError(f"{x.shape[1]:,} steps; the {info.name} model reads {pixels} steps "
                          f"(a {limits.IMAGE_SIDE}x{limits.IMAGE_SIDE} image row by row, 1 channel,"
                          " pixel / 255)")
    low, high = float(x.min()), float(x.max())
    if low >= 0 and high <= 1:
        return x.astype(np.float32)
    if low >= 0 and high <= 255 and (x == np.round(x)).all():
        notes.append("whole numbers 0..255 read as pixels and divided by 255")
        return x.astype(np.float32) / np.float32(255.0)
    raise UploadError(f"pixel values must lie in [0, 1] (pixel / 255) or be whole numbers 0..255; "
                      f"found {low:g} to {high:g}")


def _adding_targets(x32: np.ndarray, lengths: np.ndarray, targets: torch.Tensor | None,
                    notes: list[str]) -> torch.Tensor | None:
    markers = x32[:, :, 1]
    if not np.isin(markers, (0.0, 1.0)).all():
        notes.append("the marker channel holds values other than 0 and 1 (trained on 0/1 only)")
        return targets
    counts = (markers == 1).sum(1)
    if (counts != 2).any():
        notes.append(f"{int((counts != 2).sum())} of {len(counts)} sequences do not have exactly "
                     "two markers (the model was trained with two, one in each half)")
    elif targets is None:
        sums = np.where(markers == 1, x32[:, :, 0], np.float32(0)).sum(1, dtype=np.float32)
        notes.append("targets: the sum of the two marked values")
        return torch.from_numpy(sums.reshape(-1, 1))
    return targets
