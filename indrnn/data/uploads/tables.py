"""CSV uploads (``.csv``, ``.tsv``, ``.txt``, ``.dat``): one sequence, a row per step, a column
per channel, or for pixel models a 28 x 28 grid; the delimiter, header row, index column and
decimal commas are detected (see :mod:`indrnn.data.uploads`)."""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np

from indrnn import limits
from indrnn.data.base import TaskInfo
from indrnn.data.uploads.common import (
    TRANSPOSED_HINT,
    ParsedInput,
    UploadError,
    check_size,
    decode,
    expects,
    is_pixels,
    plural,
    require_numbers,
)
from indrnn.data.uploads.values import finish

INDEX_COLUMNS = frozenset({"", "index", "step", "t", "time"})
SPARE_LINES = 1_000
"""Lines a CSV may hold beyond twice the model's step limit (blank, comment and header lines);
longer files are refused from a line count before any row is parsed."""
MAX_FIELDS = 4 * max(limits.MAX_CHANNELS, limits.IMAGE_SIDE)
"""First rows with more delimiters than this are refused before ``csv`` splits them (a row of
two million fields would otherwise become a list of two million strings)."""


def _lines(text: str) -> Iterator[str]:
    """The lines of ``text``, each with its ``\\n``, sliced one at a time (``io.StringIO`` would
    first copy the whole text, at up to 4 bytes a character)."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end + 1
        yield text[start:end]
        start = end


def _first_row(text: str) -> str:
    return next((ln for ln in itertools.islice(_lines(text), 200)
                 if ln.strip() and not ln.lstrip().startswith("#")), "")


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


#: The delimiters said in a note when detected (a comma goes without saying).
DELIMITER_NAMES = {";": "semicolons (;)", "\t": "tabs"}


def _delimiter(text: str) -> str | None:
    lines = [ln for ln in itertools.islice(_lines(text), 200)
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
        non-finite or huge values, too many steps (:mod:`indrnn.data.uploads`).
    """
    check_size(data)
    require_numbers(info, "a CSV file")
    text, notes = decode(data)
    return _parse_table(text, info, notes)


def _parse_table(text: str, info: TaskInfo, notes: list[str]) -> ParsedInput:
    limit = limits.max_steps(info.name)
    if "\r" in text and "\n" not in text:
        text = text.replace("\r", "\n")
        notes.append("line ends CR (old Mac) read as LF")
    lines = text.count("\n") + (not text.endswith("\n"))
    if lines > 2 * limit + SPARE_LINES:  # rows are parsed one by one: refuse floods up front
        raise UploadError(f"the file has {lines:,} lines; the {info.name} model reads at most "
                          f"{limit:,} steps, one per line (at most {2 * limit + SPARE_LINES:,} "
                          "lines, blank and comment lines included)")
    delimiter = _delimiter(text)
    fields = _first_row(text).count(delimiter) + 1 if delimiter else 1
    if fields > MAX_FIELDS:
        raise UploadError(f"the CSV has {plural(fields, 'column')}; the {info.name} "
                          f"model expects {expects(info)} (at most {limits.MAX_CHANNELS} channels)"
                          f"{TRANSPOSED_HINT}")
    reader = csv.reader(_lines(text), delimiter=delimiter or ",")
    grid = False
    # One flat list: a list per row would be a container each GC pass walks (2x at 100k rows).
    values: list[float] = []
    line_of: list[int] = []
    header: list[str] | None = None
    columns: list[int] = []
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
            if len(line_of) == (limits.IMAGE_SIDE if grid else limit):
                rest = itertools.islice(reader, 10 * limit)  # counting costs time: stop somewhere
                total = len(line_of) + 1 + sum(1 for r in rest if any(f.strip() for f in r))
                many = f"more than {total:,}" if next(reader, None) is not None else f"{total:,}"
                if grid:
                    raise _grid_error(f"has {many} rows", info)
                raise UploadError(f"{many} steps exceed the limit of {limit:,} for this model")
            for j in columns:
                try:
                    values.append(_number(row[j], decimal_comma))
                except ValueError:
                    name = header[j] if header else str(j + 1)
                    raise UploadError(f"line {reader.line_num}, column '{name}': "
                                      f"'{row[j].strip()[:30]}' is not a number") from None
            line_of.append(reader.line_num)
    except csv.Error as error:
        if "field limit" in str(error):
            raise UploadError(f"line {reader.line_num} holds a field of more than "
                              f"{csv.field_size_limit():,} characters: not a number (separate "
                              "the columns by commas, semicolons or tabs)") from None
        raise UploadError(f"malformed CSV at line {reader.line_num}: {error}") from None
    if not columns:
        raise UploadError("empty file: no rows of numbers")
    if header is not None and not line_of:
        raise UploadError("sequence of 0 steps: the CSV has a header but no rows of numbers")
    names = header or [str(j + 1) for j in range(width)]
    x = np.array(values, dtype=np.float64).reshape(len(line_of), len(columns))
    layout = (f"CSV (T, C), {'header row' if header else 'no header'}, "
              + (f"delimiter {delimiter!r}" if delimiter else "one column"))
    if delimiter in DELIMITER_NAMES:
        notes.append(f"columns separated by {DELIMITER_NAMES[delimiter]}"
                     + (", decimal commas read as points" if "," in text else ""))
    if grid:
        if x.shape != (limits.IMAGE_SIDE, limits.IMAGE_SIDE):
            raise _grid_error(f"is {x.shape[0]}x{x.shape[1]}", info)
        notes.append("a 28x28 grid read row by row as 784 pixel steps")
        side = limits.IMAGE_SIDE
        return finish(x.reshape(1, -1, 1), info, "csv", "CSV 28x28 grid", notes,
                      lambda i, s, c: f"line {line_of[s // side]}, column {s % side + 1}")
    return finish(x[None], info, "csv", layout, notes,
                  lambda i, s, c: f"line {line_of[s]}, column '{names[columns[c]]}'")


def _grid_error(size: str, info: TaskInfo) -> UploadError:
    side = limits.IMAGE_SIDE
    return UploadError(f"the CSV grid {size}; the {info.name} model reads {side}x{side} images")


def _columns(row: list[str], header: list[str] | None, info: TaskInfo, notes: list[str],
             reader: Any) -> tuple[list[int], bool]:
    """Which columns to read, in the model's channel order, and whether it is a pixel grid."""
    expected, width = info.input_size, len(row)
    if is_pixels(info) and width == limits.IMAGE_SIDE:
        return list(range(width)), True
    first = 0
    if header is not None and width == expected + 1 and header[0].lower() in INDEX_COLUMNS:
        notes.append(f"first column '{header[0]}' read as a row index and dropped")
        first = 1
    if width - first != expected:
        rows = sum(1 for _ in itertools.islice(reader, limits.MAX_CHANNELS + 2))
        hint = (TRANSPOSED_HINT
                if rows + (header is None) == expected and width > expected + 1 else
                " (separated by spaces? use commas, semicolons or tabs)"
                if width == 1 and len(row[0].split()) == expected else
                " (separated by '|'? use commas, semicolons or tabs)"
                if width == 1 and len(row[0].split("|")) == expected else
                " (a delimiter at the end of each row?)" if not row[-1].strip() else "")
        raise UploadError(f"the CSV has {plural(width, 'column')}; the {info.name} model expects "
                          f"{expects(info)}{hint}")
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

