"""CSV uploads (``.csv``, ``.tsv``, ``.txt``, ``.dat``): one sequence, a row per step, a column
per channel, or for pixel models a 28 x 28 grid; the delimiter, header row, index column and
decimal commas are detected (see :mod:`indrnn.data.uploads`)."""

from __future__ import annotations

import csv
import io
import itertools
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
        non-finite or huge values, too many steps (:mod:`indrnn.data.uploads`).
    """
    check_size(data)
    require_numbers(info, "a CSV file")
    text, notes = decode(data)
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
                    raise _grid_error(f"has {many} rows", info)
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

