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
    return [
        ("file size", f"{MAX_UPLOAD_BYTES // 2**20} MiB"),
        ("sequence length", f"{MAX_STEPS:,} steps ({MAX_STEPS_ADDING:,} for the adding problem)"),
        ("channels", f"{MAX_CHANNELS}"),
        ("sequences per file", f"{MAX_SEQUENCES}"),
        ("numbers per file", f"{MAX_VALUES:,}"),
        ("text", f"{MAX_TEXT_CHARS:,} characters"),
        ("images", f"{IMAGE_SIDE} x {IMAGE_SIDE} PNG (pixel models)"),
        ("values", f"finite, |x| <= {MAX_ABS_VALUE:g} (warning above {LARGE_VALUE:g})"),
    ]


__all__ = [
    "IMAGE_SIDE",
    "LARGE_VALUE",
    "LONG_SEQUENCE_TASKS",
    "MAX_ABS_VALUE",
    "MAX_CHANNELS",
    "MAX_NPZ_MEMBERS",
    "MAX_SEQUENCES",
    "MAX_STEPS",
    "MAX_STEPS_ADDING",
    "MAX_TEXT_CHARS",
    "MAX_UPLOAD_BYTES",
    "MAX_VALUES",
    "describe",
    "max_steps",
]
