"""Choosing a parser: :func:`parse_upload` for files (by signature, then extension, and the
task) and :func:`parse_typed_text` for text typed into the app."""

from __future__ import annotations

from dataclasses import replace
from pathlib import PurePath

from indrnn import limits
from indrnn.data.base import TaskInfo
from indrnn.data.uploads.arrays import parse_npy, parse_npz
from indrnn.data.uploads.common import (
    NPY_MAGIC,
    PNG_MAGIC,
    ZIP_MAGICS,
    ParsedInput,
    UploadError,
    check_size,
    is_pixels,
    reads_text,
)
from indrnn.data.uploads.images import parse_png
from indrnn.data.uploads.tables import parse_csv
from indrnn.data.uploads.text import parse_text, text_input

_EXTENSIONS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".dat": "csv", "": "csv",
               ".npy": "npy", ".npz": "npz", ".png": "png"}


def parse_upload(name: str, data: bytes, info: TaskInfo) -> ParsedInput:
    """Parse an upload for a model of ``info``'s task, choosing the parser.

    The file's signature (PNG, NPY, zip) wins over its extension; otherwise ``.npy``, ``.npz``,
    ``.png`` and, for numbers, ``.csv``/``.tsv``/``.txt``/``.dat`` or none pick the parser. The
    character model reads every upload as text.

    Parameters
    ----------
    name : str
        The uploaded file's name (only its extension is used).
    data : bytes
        The file's content.
    info : TaskInfo
        The model's task.

    Returns
    -------
    ParsedInput

    Raises
    ------
    UploadError
        See the parsers; also an unsupported extension or a format the model does not read.
    """
    check_size(data)
    extension = PurePath(name).suffix.lower()
    sniffed = ("png" if data.startswith(PNG_MAGIC) else "npy" if data.startswith(NPY_MAGIC)
               else "npz" if data.startswith(ZIP_MAGICS) else None)
    if reads_text(info):
        if sniffed or extension in (".npy", ".npz", ".png"):
            raise UploadError(f"the {info.name} model reads UTF-8 text (.txt, .py, ...); "
                              f"'{name}' is a {(sniffed or extension[1:]).upper()} file")
        return parse_text(data, info)
    fmt = sniffed or _EXTENSIONS.get(extension)
    if fmt is None:
        accepted = ".csv, .tsv, .txt, .npy, .npz" + (", .png" if is_pixels(info) else "")
        raise UploadError(f"unsupported file type '{extension}'; the {info.name} model accepts "
                          f"{accepted}")
    parser = {"csv": parse_csv, "npy": parse_npy, "npz": parse_npz, "png": parse_png}[fmt]
    parsed = parser(data, info)
    if sniffed and _EXTENSIONS.get(extension, sniffed) != sniffed:
        parsed = replace(parsed, notes=(f"read as {sniffed.upper()} (its content), despite the "
                                        f"name '{name}'", *parsed.notes))
    return parsed


def parse_typed_text(text: str, info: TaskInfo) -> ParsedInput:
    """Parse text typed or pasted into the app: characters for the character model, CSV rows
    for the others.

    Parameters
    ----------
    text : str
        What the user typed.
    info : TaskInfo
        The model's task.

    Returns
    -------
    ParsedInput
        ``kind="typed"``.

    Raises
    ------
    UploadError
        As :func:`parse_text` or :func:`parse_csv`.
    """
    data = text.encode("utf-8", "replace")  # lone surrogates -> '?'
    if len(data) > limits.MAX_UPLOAD_BYTES:
        check_size(data)
    if reads_text(info):
        return text_input(data.decode("utf-8"), info, [], "typed")
    if not text.strip():
        raise UploadError("empty text: type one row of numbers per time step")
    return replace(parse_csv(data, info), kind="typed")
