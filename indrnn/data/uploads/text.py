"""Text uploads for the character model: UTF-8 (or UTF-16 with a byte-order mark), line ends
made LF, characters outside :data:`indrnn.data.VOCAB` read as the unknown symbol."""

from __future__ import annotations

import torch

from indrnn import limits
from indrnn.data.base import TaskInfo
from indrnn.data.text import VOCAB
from indrnn.data.uploads.common import (
    ParsedInput,
    UploadError,
    check_size,
    decode,
    plural,
    reads_text,
)


def text_input(text: str, info: TaskInfo, notes: list[str], kind: str) -> ParsedInput:
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
        notes.append(f"{plural(count, 'character')} outside the model's {VOCAB.size}-symbol "
                     f"vocabulary (e.g. {shown}) read as the unknown symbol")
    summary = f"1 text, {plural(len(text), 'character')}, {plural(text.count(chr(10)), 'line')}"
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
    check_size(data)
    if not reads_text(info):
        raise UploadError(f"the {info.name} model reads numbers (CSV, NPY, NPZ), not text")
    text, notes = decode(data)
    return text_input(text, info, notes, "text")
