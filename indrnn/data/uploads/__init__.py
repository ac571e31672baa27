"""Parse and check what a user uploads to the app, never trusting the bytes.

:func:`parse_upload` picks a parser from the file's signature, then its extension, and the
task's kind; each parser can also be called alone. Every refusal raises :class:`UploadError`
(a ``ValueError``) saying what is wrong and what the model expects. Limits: :mod:`indrnn.limits`.

* **CSV** (``.csv``, ``.tsv``, ``.txt``): one sequence, one row per step, one column per
  channel; comma, semicolon or tab; an optional header (names equal to the task's channels, in
  any order, are matched; other names are accepted in order, with a note); a leading index
  column named ``""``, ``index``, ``step``, ``t`` or ``time`` is dropped; decimal commas are read
  when the delimiter is ``;`` or tab. Pixel models also take a 28 x 28 grid.
* **NPY**: ``(T, C)``, ``(N, T, C)``, ``(T,)`` for 1-channel models, ``(28, 28)`` or
  ``(N, 28, 28)`` images for pixel models; plain numbers only (bool, int, float).
* **NPZ**: ``inputs`` as NPY, optional ``lengths`` (int, ``(N,)``) and ``targets``.
* **Text** (character model): UTF-8 (a UTF-16 byte-order mark is honoured); CRLF becomes LF;
  characters outside the vocabulary become the unknown symbol, counted in the notes.
* **PNG** (pixel models): 28 x 28, converted to 8-bit grayscale, row-major, pixel / 255.

Values: NaN/Inf and ``|x| > MAX_ABS_VALUE`` are refused; ``|x| > LARGE_VALUE`` gets a note.
Pixel models need values in [0, 1], or whole numbers 0..255 (then divided by 255, with a note).
Positions in messages are file lines and column names for CSV, and 0-based indices for arrays.

Safety: NPY headers are parsed with ``numpy.lib.format`` and dtype, shape and size are checked
before the data are read with ``numpy.frombuffer``; nothing is ever unpickled (``np.load`` is
not used). NPZ members' claimed sizes are checked from the zip directory and at most the header's
byte count (+1) is ever decompressed. PNG width and height are read from the IHDR chunk before
Pillow decodes anything. Uploads hold raw values; :func:`prepare_for_model` applies the task's
training normalisation (sensor tasks) and pixel permutation (permuted pixel tasks).

Layout: :mod:`~indrnn.data.uploads.common` (:class:`UploadError`, :class:`ParsedInput`, first
checks), :mod:`~indrnn.data.uploads.values` (value checks shared by the numeric parsers),
:mod:`~indrnn.data.uploads.tables` (CSV), :mod:`~indrnn.data.uploads.arrays` (NPY, NPZ),
:mod:`~indrnn.data.uploads.text` (text), :mod:`~indrnn.data.uploads.images` (PNG),
:mod:`~indrnn.data.uploads.dispatch` (:func:`parse_upload`, :func:`parse_typed_text`) and
:mod:`~indrnn.data.uploads.prepare` (:func:`prepare_for_model`).
"""

from __future__ import annotations

from indrnn.data.uploads.arrays import parse_npy, parse_npz
from indrnn.data.uploads.common import ParsedInput, UploadError, reads_text
from indrnn.data.uploads.dispatch import parse_typed_text, parse_upload
from indrnn.data.uploads.images import parse_png
from indrnn.data.uploads.prepare import prepare_for_model
from indrnn.data.uploads.tables import parse_csv
from indrnn.data.uploads.text import parse_text

__all__ = [
    "ParsedInput",
    "UploadError",
    "parse_csv",
    "parse_npy",
    "parse_npz",
    "parse_png",
    "parse_text",
    "parse_typed_text",
    "parse_upload",
    "prepare_for_model",
    "reads_text",
]
