"""Annotation tracks: what is known about an input at every step, for finding the neurons that
follow it (:mod:`indrnn.analysis.discovery`).

A track is one number per step, ``(T, B)`` for a batch (``NaN`` where it is undefined, e.g. "steps
since the first marker" before it, or past a sequence's end). Each task annotates its own inputs
(:meth:`indrnn.data.Task.annotation_tracks`) with these builders: the step index
(:func:`time_track`), the raw channels (:func:`input_tracks`), the adding problem's markers
(:func:`adding_tracks`), and Python source (:func:`code_tracks`: column, indentation, bracket
depth, inside a string, inside a comment).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from torch import Tensor

from indrnn.sequences import valid_steps


def _array(x: Tensor | np.ndarray) -> np.ndarray:
    return (x.detach().cpu().numpy() if isinstance(x, Tensor) else np.asarray(x)).astype(
        np.float64)


def time_track(steps: int, batch: int = 1) -> np.ndarray:
    """The step index ``t``, ``(T, B)``."""
    return np.repeat(np.arange(steps, dtype=np.float64)[:, None], batch, 1)


def input_tracks(x: Tensor | np.ndarray, names: Sequence[str] | None = None,
                 time_major: bool = False) -> dict[str, np.ndarray]:
    """Every input channel as a track, ``(T, B)`` each, from ``(B, T, D)`` (or time-major)."""
    array = _array(x)
    if not time_major:
        array = array.swapaxes(0, 1)
    names = names or [f"input {c}" for c in range(array.shape[-1])]
    return {name: array[..., c] for c, name in enumerate(names)}


def adding_tracks(x: Tensor | np.ndarray) -> dict[str, np.ndarray]:
    """What an adding-problem network may count, ``(T, B)`` each, from inputs ``(B, T, 2)``.

    Tracks: ``marker_seen`` (0 before the first marker, 1 from it on), ``markers_seen`` (0, 1,
    2), ``steps_since_first_marker`` and ``steps_since_last_marker`` (NaN before the first),
    ``marked_sum`` (the running sum of the marked values: what the network must remember).
    """
    array = _array(x)
    if array.ndim == 2:
        array = array[None]
    values, markers = array[..., 0].T, array[..., 1].T  # (T, B)
    count = np.cumsum(markers > 0, 0)
    steps = time_track(*markers.shape)
    first = np.where(count > 0, np.argmax(count > 0, 0)[None, :], -1)
    last = np.maximum.accumulate(np.where(markers > 0, steps, -1), 0)
    return {
        "marker_seen": (count > 0).astype(np.float64),
        "markers_seen": count.astype(np.float64),
        "steps_since_first_marker": np.where(first >= 0, steps - first, np.nan),
        "steps_since_last_marker": np.where(last >= 0, steps - last, np.nan),
        "marked_sum": np.cumsum(values * markers, 0),
    }


def code_tracks(text: str) -> dict[str, np.ndarray]:
    """Annotation tracks of Python source, one value per character, ``(T,)`` each.

    * ``column``: the character's position in its line (0 for the first);
    * ``indentation``: leading whitespace characters of the line read so far;
    * ``bracket_depth``: open ``( [ {`` outside strings and comments, after this character
      (never below 0, so a window cut mid-expression starts at 0);
    * ``in_string``: 1 inside a string literal, its quotes included (``'``, ``"`` and
      triple-quoted; backslash escapes honoured);
    * ``in_comment``: 1 from ``#`` to the end of the line.
    """
    size = len(text)
    tracks = {name: np.zeros(size) for name in (
        "column", "indentation", "bracket_depth", "in_string", "in_comment")}
    column = indent = depth = 0
    leading, comment, escape, quote = True, False, False, ""
    i = 0
    while i < size:
        ch, width = text[i], 1
        if quote:
            if ch == "\n" and len(quote) == 1 and not escape:
                quote = ""  # an unterminated one-line string ends with its line
            elif escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif text.startswith(quote, i):
                width, quote = len(quote), ""  # the closing quote(s)
            tracks["in_string"][i : i + width] = float(ch != "\n" or bool(quote))
        elif comment:
            comment = ch != "\n"
        elif ch == "#":
            comment = True
        elif ch in "\"'":
            quote = ch * 3 if text.startswith(ch * 3, i) else ch
            width = len(quote)
            tracks["in_string"][i : i + width] = 1
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        tracks["in_comment"][i : i + width] = float(comment)
        for j in range(i, min(i + width, size)):
            leading = leading and text[j] in " \t"
            indent += leading
            tracks["column"][j], tracks["indentation"][j] = column, indent
            tracks["bracket_depth"][j] = depth
            column += 1
            if text[j] == "\n":
                column, indent, leading = 0, 0, True
        i += width
    return tracks


def text_tracks(texts: Sequence[str], steps: int) -> dict[str, np.ndarray]:
    """:func:`code_tracks` of each text, ``(steps, B)`` each, NaN past a text's end."""
    per_text = [code_tracks(text) for text in texts]
    tracks = {}
    for name in per_text[0] if per_text else ():
        track = np.full((steps, len(texts)), np.nan)
        for b, annotated in enumerate(per_text):
            track[: len(annotated[name]), b] = annotated[name][:steps]
        tracks[name] = track
    return tracks


def past_the_end(tracks: dict[str, np.ndarray], lengths: Tensor | None) -> dict[str, np.ndarray]:
    """The tracks with NaN at every step past each sequence's length."""
    if lengths is None:
        return tracks
    steps = next(iter(tracks.values())).shape[0] if tracks else 0
    outside = ~valid_steps(lengths.cpu(), steps).numpy()
    return {name: np.where(outside, np.nan, track) for name, track in tracks.items()}
