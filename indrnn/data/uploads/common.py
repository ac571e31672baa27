"""What every upload parser shares: the error, the result, file signatures and the first checks
on bytes, text and the task."""

from __future__ import annotations

import codecs
from dataclasses import dataclass

import torch

from indrnn import limits
from indrnn.data.base import TaskInfo

PNG_MAGIC, NPY_MAGIC = b"\x89PNG\r\n\x1a\n", b"\x93NUMPY"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
TRANSPOSED_HINT = " (transposed? put one time step per row)"


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
        Whether :func:`indrnn.data.uploads.prepare_for_model` has been applied.
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


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def is_pixels(info: TaskInfo) -> bool:
    return info.image_shape is not None


def reads_text(info: TaskInfo) -> bool:
    """Whether the task's model is the character model (it reads text, not numbers)."""
    return info.output_kind == "per_step_lm"


def expects(info: TaskInfo) -> str:
    if is_pixels(info):
        side = limits.IMAGE_SIDE
        return f"1 channel 'pixel' ({side * side} steps: a {side}x{side} image, row by row)"
    return f"{info.input_size}: {', '.join(info.channel_names)}"


def check_size(data: bytes) -> None:
    if len(data) == 0:
        raise UploadError("empty file: it holds no bytes")
    if len(data) > limits.MAX_UPLOAD_BYTES:
        raise UploadError(f"the file has {len(data):,} bytes; uploads are limited to "
                          f"{limits.MAX_UPLOAD_BYTES:,} ({limits.MAX_UPLOAD_BYTES >> 20} MiB)")


def require_numbers(info: TaskInfo, what: str) -> None:
    if reads_text(info):
        raise UploadError(f"the {info.name} model reads UTF-8 text, not {what}")


def decode(data: bytes) -> tuple[str, list[str]]:
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
