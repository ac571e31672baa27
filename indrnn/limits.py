"""Limits on what a user may upload to the app, in one place.

Every limit is a module constant with its own docstring; :func:`max_steps` gives the sequence
limit of a task and :func:`describe` the list shown in the app and the README. The parsers in
:mod:`indrnn.data.uploads` check these limits from the file's header or size before allocating
anything in proportion to what the file claims.

>>> max_steps("basicmotions"), max_steps("adding")
(5000, 100000)
"""

from __future__ import annotations

MAX_UPLOAD_BYTES: int = 20 * 1024 * 1024
"""Largest upload, in bytes (20 MiB), for every format."""

MAX_STEPS: int = 5_000
"""Longest sequence (time steps) for every model except the adding-problem models."""

MAX_STEPS_ADDING: int = 100_000
"""Longest sequence for the adding-problem models (task ``"adding"``): they are built to study
memory over very long sequences, and their inputs are 2 cheap channels."""

LONG_SEQUENCE_TASKS: frozenset[str] = frozenset({"adding"})
"""Task names (``TaskInfo.name``) that get :data:`MAX_STEPS_ADDING` instead of :data:`MAX_STEPS`."""

MAX_CHANNELS: int = 64
"""Most channels (CSV columns, last array dimension) a file may have."""

MAX_SEQUENCES: int = 256
"""Most sequences in one file (the first dimension of an NPZ's ``inputs``)."""

RUN_SEQUENCES: int = 32
"""Sequences of one file the app runs the model on (the first ones; the rest are counted in the
summary, not run): each run keeps every layer's states."""

MAX_VALUES: int = 5_000_000
"""Most numbers in one file, sequences x steps x channels (20 MB as float32, like the upload
limit); checked from the NPY header before reading. It binds for NPZ files, whose compressed
size says little."""

MAX_TEXT_CHARS: int = MAX_STEPS
"""Longest text for the character model, in characters (= :data:`MAX_STEPS`: one step per
character)."""

IMAGE_SIDE: int = 28
"""Width and height, in pixels, of the images the pixel models read (28 x 28 grayscale, like
MNIST); other sizes are refused, not resized."""

MAX_ABS_VALUE: float = 1e6
"""Values with a larger magnitude are refused: the models saw values of order 1 to 100 in
training, and float32 states of a ReLU network fed such numbers are meaningless or overflow."""

LARGE_VALUE: float = 1e4
"""Values with a larger magnitude (up to :data:`MAX_ABS_VALUE`) are accepted with a warning in
the upload's notes (wrong units?)."""

MAX_NPZ_MEMBERS: int = 16
"""Most arrays in an NPZ file."""

MAX_CHECKPOINT_UPLOAD_BYTES: int = 50 * 1024 * 1024
"""Largest checkpoint file the app accepts, in bytes (50 MiB, each of ``NAME.json`` and
``NAME.safetensors``); ``server.maxUploadSize`` in ``.streamlit/config.toml`` is the same, so the
server refuses larger uploads before the app sees them. The checkpoint's own caps (JSON size,
weights) are :mod:`indrnn.checkpoint`'s ``MAX_JSON_BYTES`` and ``MAX_PARAMETERS``."""

MAX_NPZ_DIRECTORY_BYTES: int = 64 * 1024
"""Largest zip directory an NPZ may have, read from its end record before :mod:`zipfile`
parses it: :data:`MAX_NPZ_MEMBERS` entries need a few hundred bytes, while a 20 MiB zip of
empty members would otherwise become some 200,000 Python objects."""

MAX_GRADIENT_STEPS: int = 5_000
"""Longest input for which the app's Memory page computes exact gradients through time (one
backward pass of the model and of its LSTM partner, whose recorded gates cost a Python step
each); longer inputs (adding problem only) get the rest of the page and a note."""


def max_steps(task_name: str) -> int:
    """The longest sequence a model of ``task_name`` accepts.

    Parameters
    ----------
    task_name : str
        Registry name of the task (``TaskInfo.name``), e.g. ``"adding"`` or ``"mnist5k"``.

    Returns
    -------
    int
        :data:`MAX_STEPS_ADDING` for the tasks in :data:`LONG_SEQUENCE_TASKS`, else
        :data:`MAX_STEPS`.
    """
    return MAX_STEPS_ADDING if task_name in LONG_SEQUENCE_TASKS else MAX_STEPS


def describe() -> list[tuple[str, str]]:
    """The limits as (what, value) pairs, for the app and the README.

    Returns
    -------
    list of tuple of str
        Human-readable rows, e.g. ``("file size", "20 MiB")``.
    """
    from indrnn.checkpoint import MAX_JSON_BYTES, MAX_PARAMETERS  # imports torch: only here

    return [
        ("file size", f"{MAX_UPLOAD_BYTES // 2**20} MiB"),
        ("sequence length", f"{MAX_STEPS:,} steps ({MAX_STEPS_ADDING:,} for the adding problem)"),
        ("channels", f"{MAX_CHANNELS}"),
        ("sequences per file", f"{MAX_SEQUENCES} (the first {RUN_SEQUENCES} are run)"),
        ("numbers per file", f"{MAX_VALUES:,}"),
        ("text", f"{MAX_TEXT_CHARS:,} characters"),
        ("images", f"{IMAGE_SIDE} × {IMAGE_SIDE} PNG (pixel models)"),
        ("values", f"finite, |x| ≤ {_power(MAX_ABS_VALUE)} (a warning above "
                   f"{_power(LARGE_VALUE)})"),
        ("checkpoint upload", f"{MAX_CHECKPOINT_UPLOAD_BYTES // 2**20} MiB per file, JSON at most "
                              f"{MAX_JSON_BYTES // 2**20} MiB, at most {MAX_PARAMETERS:,} weights"),
        ("gradient through time", f"inputs up to {MAX_GRADIENT_STEPS:,} steps (Memory page)"),
    ]


def markdown_table() -> str:
    """:func:`describe` as the Markdown table in the README (a test keeps the two equal).

    Returns
    -------
    str
        Header, separator and one row per limit, ``|`` inside cells escaped.
    """
    rows = ["| what | limit |", "|---|---|"]
    rows += [f"| {what} | {value.replace('|', chr(92) + '|')} |" for what, value in describe()]
    return "\n".join(rows)


def _power(value: float) -> str:
    """``1e6`` rather than ``1e+06``: a number in the README's and the app's style."""
    mantissa, exponent = f"{value:e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


__all__ = [
    "IMAGE_SIDE",
    "LARGE_VALUE",
    "LONG_SEQUENCE_TASKS",
    "MAX_ABS_VALUE",
    "MAX_CHANNELS",
    "MAX_CHECKPOINT_UPLOAD_BYTES",
    "MAX_GRADIENT_STEPS",
    "MAX_NPZ_DIRECTORY_BYTES",
    "MAX_NPZ_MEMBERS",
    "MAX_SEQUENCES",
    "MAX_STEPS",
    "MAX_STEPS_ADDING",
    "MAX_TEXT_CHARS",
    "MAX_UPLOAD_BYTES",
    "MAX_VALUES",
    "RUN_SEQUENCES",
    "describe",
    "markdown_table",
    "max_steps",
]
