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
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import lzma
import math
import struct
import tokenize
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import PurePath
from typing import IO, Any

import numpy as np
import torch

from indrnn import limits
from indrnn.data.base import TaskInfo
from indrnn.data.sensors import normalize
from indrnn.data.text import VOCAB

PNG_MAGIC, NPY_MAGIC = b"\x89PNG\r\n\x1a\n", b"\x93NUMPY"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
INDEX_COLUMNS = frozenset({"", "index", "step", "t", "time"})
_EXTENSIONS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".dat": "csv", "": "csv",
               ".npy": "npy", ".npz": "npz", ".png": "png"}
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError,
               NotImplementedError, RuntimeError, ValueError, struct.error)
Where = Callable[[int, int, int], str]


class UploadError(ValueError):
    """An upload that cannot be used; the message says what is wrong and what is expected."""


@dataclass(frozen=True)
class ParsedInput:
    """A checked upload, batch-first.

    Attributes
    ----------
    inputs : torch.Tensor
        float32 ``(N, T, C)`` raw values (pixels already pixel / 255), or int64 ``(N, T)``
        symbol ids for the character model; steps past a sequence's length are 0.
    lengths : torch.Tensor
        int64 ``(N,)`` real steps per sequence.
    targets : torch.Tensor or None
        From an NPZ's ``targets`` (int64 ``(N,)`` classes or float32 ``(N, 1)``), or for the
        adding problem the sum of the two marked values; None when unknown.
    kind : str
        ``"csv"``, ``"npy"``, ``"npz"``, ``"png"``, ``"text"`` or ``"typed"``.
    layout : str
        How the file was read, e.g. ``"CSV (T, C), header row"``.
    channel_names : tuple of str
        The model's channel names, in the order of ``inputs``' last dimension.
    summary : str
        E.g. ``"3 sequences, 29 steps, 12 channels"``.
    notes : tuple of str
        Warnings and what was converted, for the user.
    prepared : bool
        Whether :func:`prepare_for_model` has been applied.
    """

    inputs: torch.Tensor
    lengths: torch.Tensor
    targets: torch.Tensor | None
    kind: str
    layout: str
    channel_names: tuple[str, ...]
    summary: str
    notes: tuple[str, ...] = ()
    prepared: bool = False


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _is_pixels(info: TaskInfo) -> bool:
    return info.channel_names == ("pixel",)


def _expects(info: TaskInfo) -> str:
    if _is_pixels(info):
        side = limits.IMAGE_SIDE
        return f"1 channel 'pixel' ({side * side} steps: a {side}x{side} image, row by row)"
    return f"{info.input_size}: {', '.join(info.channel_names)}"


def _check_size(data: bytes) -> None:
    if len(data) == 0:
        raise UploadError("empty file: it holds no bytes")
    if len(data) > limits.MAX_UPLOAD_BYTES:
        raise UploadError(f"the file has {len(data):,} bytes; uploads are limited to "
                          f"{limits.MAX_UPLOAD_BYTES:,} ({limits.MAX_UPLOAD_BYTES >> 20} MiB)")


def _require_numbers(info: TaskInfo, what: str) -> None:
    if info.output_kind == "per_step_lm":
        raise UploadError(f"the {info.name} model reads UTF-8 text, not {what}")


def _decode(data: bytes) -> tuple[str, list[str]]:
    notes = []
    try:
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            text = data.decode("utf-16")
            notes.append("UTF-16 text (byte-order mark) decoded")
        else:
            text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise UploadError(f"the bytes are not UTF-8 text (byte 0x{data[error.start]:02x} at offset "
                          f"{error.start:,} is invalid); save the file as UTF-8") from None
    if "\x00" in text:
        raise UploadError("the file holds NUL characters: it is binary, not UTF-8 text")
    return text, notes


def _finish(x: np.ndarray, info: TaskInfo, kind: str, layout: str, notes: list[str],
            where: Where, lengths: np.ndarray | None = None,
            targets: torch.Tensor | None = None) -> ParsedInput:
    """Check float64 ``(N, T, C)`` values against the model and the limits; build the result."""
    n, t, c = x.shape
    if n == 0:
        raise UploadError("the file holds no sequences (0 in the first dimension)")
    if n > limits.MAX_SEQUENCES:
        raise UploadError(f"{n:,} sequences exceed the limit of {limits.MAX_SEQUENCES} per file")
    if c != info.input_size:
        hint = " (transposed? put one time step per row)" if t == info.input_size else ""
        over = f" (the limit is {limits.MAX_CHANNELS})" if c > limits.MAX_CHANNELS else ""
        raise UploadError(f"the {kind.upper()} has {_plural(c, 'channel')}{over}; the "
                          f"{info.name} model expects {_expects(info)}{hint}")
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
    x32 = _pixel_values(x, info, notes) if _is_pixels(info) else x.astype(np.float32)
    if lengths is None:
        lengths = np.full(n, t, np.int64)
    elif (x32[np.arange(t)[None, :] >= lengths[:, None]] != 0).any():
        notes.append("non-zero values past a sequence's length were set to 0 (ignored)")
        x32[np.arange(t)[None, :] >= lengths[:, None]] = 0
    if info.name == "adding":
        targets = _adding_targets(x32, lengths, targets, notes)
    if info.seq_len and not _is_pixels(info):
        if info.variable_length and lengths.max() > info.seq_len:
            notes.append(f"longer than the model's longest training sequence ({info.seq_len})")
        elif not info.variable_length and (lengths != info.seq_len).any():
            notes.append(f"the model was trained on {info.seq_len:,}-step sequences")
    low, high = int(lengths.min()), int(lengths.max())
    steps = f"{high:,} steps" if low == high else f"{low:,}-{high:,} steps"
    summary = f"{_plural(n, 'sequence')}, {steps}, {_plural(c, 'channel')}"
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


# --- CSV ---------------------------------------------------------------------------------------

def _number(field: str, decimal_comma: bool) -> float:
    text = field.strip()
    try:
        return float(text)
    except ValueError:
        if decimal_comma and text.count(",") == 1 and "." not in text:
            return float(text.replace(",", "."))
        raise


def _no_numbers(row: list[str], decimal_comma: bool) -> bool:
    """Whether no field of ``row`` is a number (then it is a header row)."""
    for field in row:
        try:
            _number(field, decimal_comma)
            return False
        except ValueError:
            pass
    return True


def _delimiter(text: str) -> str | None:
    lines = [ln for ln in itertools.islice(io.StringIO(text), 200)
             if ln.strip() and not ln.lstrip().startswith("#")][:20]
    for delimiter in ("\t", ";", ","):  # ';' or tab beside ',' means decimal commas
        counts = {ln.count(delimiter) for ln in lines}
        if len(counts) == 1 and counts != {0}:
            return delimiter
    present = [d for d in ("\t", ";", ",") if lines and d in lines[0]]
    return present[0] if present else None


def parse_csv(data: bytes, info: TaskInfo) -> ParsedInput:
    """Parse a CSV upload: one sequence, a row per step, a column per channel.

    Parameters
    ----------
    data : bytes
        The file's content.
    info : TaskInfo
        The model's task.

    Returns
    -------
    ParsedInput
        ``inputs`` ``(1, T, C)``.

    Raises
    ------
    UploadError
        Not UTF-8, no rows, wrong column count, ragged rows, a cell that is not a number,
        non-finite or huge values, too many steps (module docstring).
    """
    _check_size(data)
    _require_numbers(info, "a CSV file")
    text, notes = _decode(data)
    return _parse_table(text, info, notes)


def _parse_table(text: str, info: TaskInfo, notes: list[str]) -> ParsedInput:
    delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter or ",")
    grid = False
    rows: list[list[float]] = []
    line_of: list[int] = []
    header: list[str] | None = None
    columns: list[int] = []
    limit = limits.max_steps(info.name)
    decimal_comma = delimiter in (";", "\t")
    try:
        for row in reader:
            if not any(f.strip() for f in row) or row[0].lstrip().startswith("#"):
                continue
            if not columns:
                width = len(row)
                header = [f.strip() for f in row] if _no_numbers(row, decimal_comma) else None
                columns, grid = _columns(row, header, info, notes, reader)
                if header is not None:
                    continue
            if len(row) != width:
                raise UploadError(f"line {reader.line_num} has {len(row)} fields, the first row "
                                  f"has {width}: every row needs the same columns (ragged rows)")
            if len(rows) == (limits.IMAGE_SIDE if grid else limit):
                rest = itertools.islice(reader, 10 * limit)  # counting costs time: stop somewhere
                total = len(rows) + 1 + sum(1 for r in rest if any(f.strip() for f in r))
                many = f"more than {total:,}" if next(reader, None) is not None else f"{total:,}"
                if grid:
                    raise UploadError(f"the CSV grid has {many} rows; the {info.name} model "
                                      f"reads {limits.IMAGE_SIDE}x{limits.IMAGE_SIDE} images")
                raise UploadError(f"{many} steps exceed the limit of {limit:,} for this model")
            values = []
            for j in columns:
                try:
                    values.append(_number(row[j], decimal_comma))
                except ValueError:
                    name = header[j] if header else str(j + 1)
                    raise UploadError(f"line {reader.line_num}, column '{name}': "
                                      f"'{row[j].strip()[:30]}' is not a number") from None
            rows.append(values)
            line_of.append(reader.line_num)
    except csv.Error as error:
        raise UploadError(f"malformed CSV at line {reader.line_num}: {error}") from None
    if not columns:
        raise UploadError("empty file: no rows of numbers")
    if header is not None and not rows:
        raise UploadError("sequence of 0 steps: the CSV has a header but no rows of numbers")
    names = header or [str(j + 1) for j in range(width)]
    x = np.array(rows, dtype=np.float64)
    layout = (f"CSV (T, C), {'header row' if header else 'no header'}, "
              + (f"delimiter {delimiter!r}" if delimiter else "one column"))
    if grid:
        if x.shape != (limits.IMAGE_SIDE, limits.IMAGE_SIDE):
            raise UploadError(f"the CSV grid is {x.shape[0]}x{x.shape[1]}; the {info.name} model "
                              f"reads {limits.IMAGE_SIDE}x{limits.IMAGE_SIDE} images")
        notes.append("a 28x28 grid read row by row as 784 pixel steps")
        side = limits.IMAGE_SIDE
        return _finish(x.reshape(1, -1, 1), info, "csv", "CSV 28x28 grid", notes,
                       lambda i, s, c: f"line {line_of[s // side]}, column {s % side + 1}")
    return _finish(x[None], info, "csv", layout, notes,
                   lambda i, s, c: f"line {line_of[s]}, column '{names[columns[c]]}'")


def _columns(row: list[str], header: list[str] | None, info: TaskInfo, notes: list[str],
             reader: Any) -> tuple[list[int], bool]:
    """Which columns to read, in the model's channel order, and whether it is a pixel grid."""
    expected, width = info.input_size, len(row)
    if _is_pixels(info) and width == limits.IMAGE_SIDE:
        return list(range(width)), True
    first = 0
    if header is not None and width == expected + 1 and header[0].lower() in INDEX_COLUMNS:
        notes.append(f"first column '{header[0]}' read as a row index and dropped")
        first = 1
    if width - first != expected:
        rows = sum(1 for _ in itertools.islice(reader, limits.MAX_CHANNELS + 2))
        hint = (" (transposed? put one time step per row)"
                if rows + (header is None) == expected and width > expected + 1 else
                " (separated by spaces? use commas, semicolons or tabs)"
                if width == 1 and len(row[0].split()) == expected else
                " (a delimiter at the end of each row?)" if not row[-1].strip() else "")
        raise UploadError(f"the CSV has {_plural(width, 'column')}; the {info.name} model expects "
                          f"{_expects(info)}{hint}")
    wanted = [c.lower() for c in info.channel_names]
    if header is None:
        notes.append(f"no header row: columns read in order as {', '.join(info.channel_names)}")
        return list(range(first, width)), False
    given = [h.lower() for h in header[first:]]
    if given == wanted:
        return list(range(first, width)), False
    if sorted(given) == sorted(wanted):
        notes.append("header names match the model's channels; columns reordered to its order")
        return [first + given.index(c) for c in wanted], False
    notes.append(f"header names ({', '.join(header[first:])}) differ from the model's channels "
                 f"({', '.join(info.channel_names)}); columns read in order")
    return list(range(first, width)), False


# --- NPY and NPZ -------------------------------------------------------------------------------

def _read_npy(stream: IO[bytes], what: str) -> np.ndarray:
    """Read one NPY stream: header first, then at most the bytes it announces; no pickle."""
    try:
        version = np.lib.format.read_magic(stream)
        if version not in ((1, 0), (2, 0)):
            raise UploadError(f"{what}: NPY format version {version} is not supported (1.0, 2.0)")
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, fortran, dtype = read_header(stream)
    except UploadError:
        raise
    except (*_ZIP_ERRORS, SyntaxError, TypeError, KeyError, RecursionError,
            tokenize.TokenError) as error:  # numpy tokenizes and literal_evals the header
        raise UploadError(f"{what}: not an NPY file, or its header is corrupt ({error})") from None
    if dtype.hasobject:
        raise UploadError(f"{what}: the NPY holds object dtype (Python objects, stored as "
                          "pickle) — refused; save plain numbers, e.g. float32")
    if dtype.names is not None or dtype.subdtype is not None or dtype.kind not in "biuf" \
            or dtype.itemsize > 8:
        raise UploadError(f"{what}: dtype {dtype} is not plain numbers; save float32")
    count = math.prod(shape)
    if count > limits.MAX_VALUES:
        raise UploadError(f"{what}: shape {shape} holds {count:,} numbers; the limit is "
                          f"{limits.MAX_VALUES:,} per file")
    nbytes = count * dtype.itemsize
    try:
        raw = stream.read(nbytes + 1)
    except _ZIP_ERRORS as error:
        raise UploadError(f"{what}: corrupt data ({error})") from None
    if len(raw) != nbytes:
        raise UploadError(f"{what}: corrupt NPY: shape {shape} of {dtype} needs {nbytes:,} bytes "
                          f"of data, the file has {'more' if len(raw) > nbytes else len(raw)}")
    array = np.frombuffer(raw, dtype=dtype, count=count)
    return array.reshape(shape[::-1]).T if fortran else array.reshape(shape)


def _to_ntc(array: np.ndarray, info: TaskInfo, what: str, notes: list[str]) -> np.ndarray:
    """An array of any accepted shape as float64 ``(N, T, C)``."""
    side = limits.IMAGE_SIDE
    if _is_pixels(info) and array.ndim in (2, 3) and array.shape[-2:] == (side, side):
        notes.append(f"{side}x{side} image(s) read row by row as {side * side} pixel steps")
        array = array.reshape(-1, side * side, 1)
    elif array.ndim == 1 and info.input_size == 1:
        array = array[None, :, None]
    elif array.ndim == 2:
        array = array[None]
    elif array.ndim != 3:
        raise UploadError(f"{what} has shape {array.shape}; the {info.name} model expects (T, C) "
                          f"or (N, T, C) with C = {_expects(info)}")
    return array.astype(np.float64)


def _where(n: int, names: tuple[str, ...]) -> Where:
    return lambda i, s, c: (f"sequence {i}, " if n > 1 else "") + f"step {s} channel {c} " \
        f"({names[c] if c < len(names) else '?'})"


def parse_npy(data: bytes, info: TaskInfo) -> ParsedInput:
    """Parse an NPY upload: ``(T, C)``, ``(N, T, C)`` or, for pixel models, images.

    Parameters
    ----------
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
        Not NPY, object/pickle or non-numeric dtype, oversize header shape, truncated data,
        wrong shape, bad values.
    """
    _check_size(data)
    _require_numbers(info, "an NPY file")
    if not data.startswith(NPY_MAGIC):
        raise UploadError("not an NPY file (no \\x93NUMPY signature) or corrupt")
    notes: list[str] = []
    x = _to_ntc(_read_npy(io.BytesIO(data), "the NPY file"), info, "the NPY array", notes)
    return _finish(x, info, "npy", f"NPY {x.shape[1:] if len(x) == 1 else x.shape}", notes,
                   _where(len(x), info.channel_names))


def parse_npz(data: bytes, info: TaskInfo) -> ParsedInput:
    """Parse an NPZ upload: ``inputs`` [+ ``lengths`` int ``(N,)``] [+ ``targets`` or ``labels``].

    Parameters
    ----------
    data : bytes
        The file's content.
    info : TaskInfo
        The model's task.

    Returns
    -------
    ParsedInput
        Targets that do not fit the task are dropped with a note.

    Raises
    ------
    UploadError
        Not a zip, too many or oversize members, no ``inputs``, anything :func:`parse_npy`
        refuses, or ``lengths`` that are not integers in ``1..T``.
    """
    _check_size(data)
    _require_numbers(info, "an NPZ file")
    notes: list[str] = []
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            if len(members) > limits.MAX_NPZ_MEMBERS:
                raise UploadError(f"the NPZ holds {len(members):,} files; the limit is "
                                  f"{limits.MAX_NPZ_MEMBERS}")
            found = {m.filename.removesuffix(".npy"): m for m in members}
            if "inputs" not in found and len(found) == 1:
                notes.append(f"the only array, '{next(iter(found))}', read as inputs")
                found = {"inputs": next(iter(found.values()))}
            if "inputs" not in found:
                raise UploadError(f"the NPZ has no 'inputs' array (found: "
                                  f"{', '.join(sorted(found)) or 'none'}); expected inputs "
                                  "(N, T, C) [+ lengths, targets]")
            arrays = {}
            for key in ("inputs", "lengths", "targets", "labels"):
                if key in found:
                    member = found[key]
                    if member.file_size > limits.MAX_VALUES * 8 + 4096:
                        raise UploadError(f"NPZ member '{key}' claims {member.file_size:,} bytes "
                                          "uncompressed; too large (limit "
                                          f"{limits.MAX_VALUES:,} numbers)")
                    with archive.open(member) as stream:
                        arrays[key] = _read_npy(stream, f"NPZ member '{key}'")
    except UploadError:
        raise
    except _ZIP_ERRORS as error:
        raise UploadError(f"not an NPZ (zip) file, or corrupt ({error})") from None
    x = _to_ntc(arrays["inputs"], info, "'inputs'", notes)
    lengths = arrays.get("lengths")
    if lengths is not None:
        if lengths.dtype.kind not in "iu" or lengths.shape != (len(x),):
            raise UploadError(f"'lengths' must be integers of shape ({len(x)},), one per sequence;"
                              f" found {lengths.dtype} {lengths.shape}")
        if len(x) and (lengths.min() < 1 or lengths.max() > x.shape[1]):
            raise UploadError(f"'lengths' must lie in 1..{x.shape[1]} (the steps of 'inputs');"
                              f" found {lengths.min()}..{lengths.max()}")
    targets = _npz_targets(arrays.get("targets", arrays.get("labels")), len(x), info, notes)
    layout = "NPZ inputs (N, T, C)" + " + lengths" * (lengths is not None) \
        + " + targets" * (targets is not None)
    return _finish(x, info, "npz", layout, notes, _where(len(x), info.channel_names),
                   None if lengths is None else lengths.astype(np.int64), targets)


def _npz_targets(array: np.ndarray | None, n: int, info: TaskInfo,
                 notes: list[str]) -> torch.Tensor | None:
    if array is None:
        return None
    if info.output_kind == "regression":
        if array.dtype.kind in "iuf" and array.shape in ((n,), (n, 1)) and np.isfinite(array).all():
            return torch.from_numpy(array.astype(np.float32).reshape(n, 1))
        wanted = f"finite numbers of shape ({n}, 1)"
    else:
        classes = info.num_classes or 0
        if array.dtype.kind in "iu" and array.shape == (n,) and (
                n == 0 or (array.min() >= 0 and array.max() < classes)):
            return torch.from_numpy(array.astype(np.int64))
        wanted = f"class indices 0..{classes - 1} of shape ({n},)"
    notes.append(f"'targets' ignored: expected {wanted}, found {array.dtype} {array.shape}")
    return None


# --- text and images ---------------------------------------------------------------------------

def _text_input(text: str, info: TaskInfo, notes: list[str], kind: str) -> ParsedInput:
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        notes.append("line ends CRLF/CR converted to LF (the model was trained on LF)")
    if not text:
        raise UploadError("empty file: no characters")
    if len(text) > limits.MAX_TEXT_CHARS:
        raise UploadError(f"{len(text):,} characters exceed the limit of "
                          f"{limits.MAX_TEXT_CHARS:,} for this model")
    ids = VOCAB.encode(text)
    where = torch.nonzero(ids == VOCAB.unk_index).flatten().tolist()
    if where:
        unknown, count = sorted({text[i] for i in where}), len(where)
        shown = ", ".join(repr(ch) for ch in unknown[:5])
        notes.append(f"{_plural(count, 'character')} outside the model's {VOCAB.size}-symbol "
                     f"vocabulary (e.g. {shown}) read as the unknown symbol")
    summary = f"1 text, {_plural(len(text), 'character')}, {_plural(text.count(chr(10)), 'line')}"
    return ParsedInput(ids.unsqueeze(0), torch.tensor([len(text)]), None, kind,
                       "text (1, T) symbol ids", info.channel_names, summary, tuple(notes))


def parse_text(data: bytes, info: TaskInfo) -> ParsedInput:
    """Parse a text upload for the character model.

    Parameters
    ----------
    data : bytes
        UTF-8 text (a UTF-8 or UTF-16 byte-order mark is honoured).
    info : TaskInfo
        The model's task (``output_kind="per_step_lm"``).

    Returns
    -------
    ParsedInput
        int64 ``inputs (1, T)`` symbol ids of :data:`indrnn.data.VOCAB`.

    Raises
    ------
    UploadError
        Not UTF-8, binary, empty, or more than ``MAX_TEXT_CHARS`` characters.
    """
    _check_size(data)
    if info.output_kind != "per_step_lm":
        raise UploadError(f"the {info.name} model reads numbers (CSV, NPY, NPZ), not text")
    text, notes = _decode(data)
    return _text_input(text, info, notes, "text")


def parse_png(data: bytes, info: TaskInfo) -> ParsedInput:
    """Parse a PNG upload for a pixel model: 28 x 28, read row by row as pixel / 255.

    Parameters
    ----------
    data : bytes
        The file's content.
    info : TaskInfo
        A pixel task (one channel ``"pixel"``).

    Returns
    -------
    ParsedInput
        float32 ``inputs (1, 784, 1)`` in [0, 1], as :func:`indrnn.data.pixels.images_to_sequences`.

    Raises
    ------
    UploadError
        Not a PNG, corrupt, or not 28 x 28 (checked from the header before decoding).
    """
    _check_size(data)
    side = limits.IMAGE_SIDE
    if not _is_pixels(info):
        raise UploadError(f"PNG images are for the pixel models; the {info.name} model reads "
                          f"sequences of {_expects(info)}")
    if not data.startswith(PNG_MAGIC) or len(data) < 33 or data[12:16] != b"IHDR":
        raise UploadError("not a PNG / corrupt: no PNG signature and IHDR header")
    width, height = struct.unpack(">II", data[16:24])
    if (width, height) != (side, side):
        raise UploadError(f"PNG is {width}x{height}; the model reads {side}x{side} grayscale "
                          "images")
    from PIL import Image  # Pillow: a dependency of the app only

    notes: list[str] = []
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            if image.size != (side, side):
                raise UploadError(f"PNG is {image.size[0]}x{image.size[1]}; the model reads "
                                  f"{side}x{side} grayscale images")
            if getattr(image, "n_frames", 1) > 1:
                notes.append("animated PNG: the first frame is read")
            image.load()
            pixels = _grayscale(image, notes)
    except UploadError:
        raise
    except Exception as error:  # Pillow raises many types on corrupt data
        raise UploadError(f"not a PNG / corrupt ({type(error).__name__}: {error})") from None
    if np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]]).mean() > 0.5:
        notes.append("bright border: the digits and clothes the models saw are light on a "
                      "dark background; invert it if the prediction looks wrong")
    x = pixels.reshape(1, side * side, 1).astype(np.float64)
    return _finish(x, info, "png", f"PNG {side}x{side}, row-major, pixel / 255", notes,
                   lambda i, s, c: f"pixel ({s // side}, {s % side})")


def _grayscale(image: Any, notes: list[str]) -> np.ndarray:
    """float32 pixels in [0, 1] of a Pillow image, as ``uint8 / 255`` for 8-bit images."""
    from PIL import Image

    mode = image.mode
    if mode in ("I", "I;16", "I;16B", "I;16L"):
        notes.append("16-bit grayscale scaled to [0, 1] (value / 65535)")
        return (np.asarray(image, np.float64) / 65535.0).clip(0, 1).astype(np.float32)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        notes.append("transparent pixels composited on black")
        black = Image.new("RGBA", image.size, (0, 0, 0, 255))
        image = Image.alpha_composite(black, image.convert("RGBA"))
    if image.mode != "L":
        if mode != "1":
            notes.append(f"{mode} image converted to grayscale (Pillow's convert('L'))")
        image = image.convert("L")
    return (torch.from_numpy(np.asarray(image, np.uint8).copy()).float() / 255.0).numpy()


# --- choosing a parser, typed text, model preprocessing ----------------------------------------

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
    _check_size(data)
    extension = PurePath(name).suffix.lower()
    sniffed = ("png" if data.startswith(PNG_MAGIC) else "npy" if data.startswith(NPY_MAGIC)
               else "npz" if data.startswith(ZIP_MAGICS) else None)
    if info.output_kind == "per_step_lm":
        if sniffed or extension in (".npy", ".npz", ".png"):
            raise UploadError(f"the {info.name} model reads UTF-8 text (.txt, .py, ...); "
                              f"'{name}' is a {(sniffed or extension[1:]).upper()} file")
        return parse_text(data, info)
    fmt = sniffed or _EXTENSIONS.get(extension)
    if fmt is None:
        accepted = ".csv, .tsv, .txt, .npy, .npz" + (", .png" if _is_pixels(info) else "")
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
        _check_size(data)
    if info.output_kind == "per_step_lm":
        return _text_input(data.decode("utf-8"), info, [], "typed")
    if not text.strip():
        raise UploadError("empty text: type one row of numbers per time step")
    return replace(parse_csv(data, info), kind="typed")


def prepare_for_model(parsed: ParsedInput, task: Any) -> ParsedInput:
    """Apply the preprocessing the model was trained with to raw uploaded values.

    Sensor tasks: per-channel ``(x - mean) / std`` with ``task.extras["mean"]``, ``["std"]``
    (padding stays 0), as :func:`indrnn.data.sensors.normalize`. Permuted pixel tasks: the
    pixels reordered by ``task.extras["permutation"]`` (uploads are in natural row-major order).
    Others, and text, are returned unchanged. Load ``task`` with the model card's task keyword
    arguments (e.g. ``num_valid``), as the statistics come from the training split.

    Parameters
    ----------
    parsed : ParsedInput
        From a parser.
    task : TaskData, AddingTask or TextData
        The model's task, from :func:`indrnn.data.load_task`.

    Returns
    -------
    ParsedInput
        With ``prepared=True``; an already prepared input is returned as it is.
    """
    if parsed.prepared or parsed.inputs.dim() != 3:
        return replace(parsed, prepared=True)
    if parsed.inputs.shape[2] != task.info.input_size:
        raise UploadError(f"the input has {parsed.inputs.shape[2]} channels; the {task.info.name}"
                          f" model expects {_expects(task.info)}")
    extras, inputs, notes = getattr(task, "extras", {}), parsed.inputs, list(parsed.notes)
    if "mean" in extras and "std" in extras:
        inputs = normalize(inputs, parsed.lengths, extras["mean"], extras["std"])
        notes.append("standardised per channel with the model's training mean and std")
    if "permutation" in extras:
        inputs = inputs[:, extras["permutation"]]
        notes.append("pixels reordered by the task's fixed permutation")
    return replace(parsed, inputs=inputs, notes=tuple(notes), prepared=True)


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
]
