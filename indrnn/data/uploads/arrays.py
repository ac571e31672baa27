"""NPY and NPZ uploads, read without ``np.load`` and never unpickled: each NPY header's dtype,
shape and size are checked before at most the bytes it announces are read (NPZ members' sizes
first from the zip directory)."""

from __future__ import annotations

import io
import lzma
import math
import struct
import tokenize
import zipfile
import zlib
from typing import IO

import numpy as np
import torch

from indrnn import limits
from indrnn.data.base import TaskInfo
from indrnn.data.uploads.common import (
    NPY_MAGIC,
    ParsedInput,
    UploadError,
    check_size,
    expects,
    is_pixels,
    require_numbers,
)
from indrnn.data.uploads.values import Where, finish

_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError,
               NotImplementedError, RuntimeError, ValueError, struct.error)


_END, _END64, _LOCATOR64 = b"PK\x05\x06", b"PK\x06\x06", b"PK\x06\x07"


def _zip_directory_size(data: bytes) -> int | None:
    """The central directory's size in bytes, from the zip's end record (found as
    :mod:`zipfile` finds it, zip64 included); ``None`` if there is no end record."""
    at = len(data) - 22
    if not (at >= 0 and data[at:at + 4] == _END and data[-2:] == b"\0\0"):
        at = data.rfind(_END, max(0, len(data) - 22 - (1 << 16)))
    if at < 0 or at + 22 > len(data):
        return None
    size = struct.unpack_from("<I", data, at + 12)[0]
    locator = at - 20  # a zip64 end record, if any, stands before its 20-byte locator
    if locator >= 56 and data[locator:locator + 4] == _LOCATOR64 \
            and data[locator - 56:locator - 52] == _END64:
        size = struct.unpack_from("<Q", data, locator - 56 + 40)[0]
    return size


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
    _check_shape(shape, what)
    if dtype.hasobject:
        raise UploadError(f"{what}: the NPY holds object dtype (Python objects, stored as "
                          "pickle) — refused; save plain numbers, e.g. float32")
    if dtype.names is not None or dtype.subdtype is not None or dtype.kind not in "biuf" \
            or dtype.itemsize > 8:
        raise UploadError(f"{what}: dtype {dtype} is not plain numbers; save float32")
    count = math.prod(shape)
    if count > limits.MAX_VALUES:
        raise UploadError(f"{what}: shape {_shown(shape)} holds {_shown(f'{count:,}')} numbers; "
                          f"the limit is {limits.MAX_VALUES:,} per file")
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


def _shown(value: object, width: int = 60) -> str:
    """``value`` as text, cut to ``width`` characters (a header may hold 4,000-digit numbers)."""
    text = str(value)
    return text if len(text) <= width else f"{text[:width]}… ({len(text):,} characters)"


def _check_shape(shape: tuple, what: str) -> None:
    """Refuse header shapes NumPy's reader lets through: booleans, negative sizes, more than 3
    dimensions, and any dimension above ``MAX_VALUES`` (even beside a 0, which makes the
    product small but breaks ``reshape``)."""
    if len(shape) > 3:
        raise UploadError(f"{what}: shape {_shown(shape)} has {len(shape)} dimensions; at most 3 "
                          "are read: (T,), (T, C) or (N, T, C)")
    for size in shape:
        if type(size) is not int or not 0 <= size <= limits.MAX_VALUES:
            raise UploadError(f"{what}: the header's shape {_shown(shape)} holds "
                              f"{_shown(repr(size), 30)}; each size must be a whole number from 0 "
                              f"to {limits.MAX_VALUES:,}")


def _to_ntc(array: np.ndarray, info: TaskInfo, what: str, notes: list[str]) -> np.ndarray:
    """An array of any accepted shape as float64 ``(N, T, C)``."""
    side = limits.IMAGE_SIDE
    if is_pixels(info) and array.ndim in (2, 3) and array.shape[-2:] == (side, side):
        notes.append(f"{side}x{side} image(s) read row by row as {side * side} pixel steps")
        array = array.reshape(-1, side * side, 1)
    elif array.ndim == 1 and info.input_size == 1:
        array = array[None, :, None]
    elif array.ndim == 2:
        array = array[None]
    elif array.ndim != 3:
        raise UploadError(f"{what} has shape {array.shape}; the {info.name} model expects (T, C) "
                          f"or (N, T, C) with C = {expects(info)}")
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
    check_size(data)
    require_numbers(info, "an NPY file")
    if not data.startswith(NPY_MAGIC):
        raise UploadError("not an NPY file (no \\x93NUMPY signature) or corrupt")
    notes: list[str] = []
    x = _to_ntc(_read_npy(io.BytesIO(data), "the NPY file"), info, "the NPY array", notes)
    return finish(x, info, "npy", f"NPY {x.shape[1:] if len(x) == 1 else x.shape}", notes,
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
    check_size(data)
    require_numbers(info, "an NPZ file")
    notes: list[str] = []
    directory = _zip_directory_size(data)
    if directory is not None and directory > limits.MAX_NPZ_DIRECTORY_BYTES:
        raise UploadError(f"the NPZ's zip directory claims {directory:,} bytes; at most "
                          f"{limits.MAX_NPZ_DIRECTORY_BYTES:,} are read (an NPZ holds at most "
                          f"{limits.MAX_NPZ_MEMBERS} arrays)")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            if len(members) > limits.MAX_NPZ_MEMBERS:
                raise UploadError(f"the NPZ holds {len(members):,} files; the limit is "
                                  f"{limits.MAX_NPZ_MEMBERS}")
            found = {m.filename.removesuffix(".npy"): m for m in members}
            names = _npz_roles(found, notes)
            arrays = {}
            for role, key in names.items():
                member = found[key]
                if member.file_size > limits.MAX_VALUES * 8 + 4096:
                    raise UploadError(f"NPZ member '{key}' claims {member.file_size:,} bytes "
                                      "uncompressed; too large (limit "
                                      f"{limits.MAX_VALUES:,} numbers)")
                with archive.open(member) as stream:
                    arrays[role] = _read_npy(stream, f"NPZ member '{key}'")
    except UploadError:
        raise
    except _ZIP_ERRORS as error:
        raise UploadError(f"not an NPZ (zip) file, or corrupt ({error})") from None
    x = _to_ntc(arrays["inputs"], info, f"'{names['inputs']}'", notes)
    lengths = arrays.get("lengths")
    if lengths is not None:
        if lengths.dtype.kind not in "iu" or lengths.shape != (len(x),):
            raise UploadError(f"'lengths' must be integers of shape ({len(x)},), one per sequence;"
                              f" found {lengths.dtype} {lengths.shape}")
        if len(x) and (lengths.min() < 1 or lengths.max() > x.shape[1]):
            raise UploadError(f"'lengths' must lie in 1..{x.shape[1]} (the steps of 'inputs');"
                              f" found {lengths.min()}..{lengths.max()}")
    targets = _npz_targets(arrays.get("targets"), len(x), info, notes, names.get("targets"))
    layout = f"NPZ '{names['inputs']}' (N, T, C)" + " + lengths" * (lengths is not None) \
        + (f" + '{names['targets']}' as targets" if targets is not None else "")
    return finish(x, info, "npz", layout, notes, _where(len(x), info.channel_names),
                  None if lengths is None else lengths.astype(np.int64), targets)


#: Array names read for each role, in order of preference (``X``/``y``: the common convention).
NPZ_NAMES = {"inputs": ("inputs", "X", "x", "data"), "lengths": ("lengths",),
             "targets": ("targets", "labels", "y", "Y")}


def _npz_roles(found: dict[str, zipfile.ZipInfo], notes: list[str]) -> dict[str, str]:
    """Which member is the inputs, lengths and targets (:data:`NPZ_NAMES`, else a lone array as
    the inputs), saying in ``notes`` what was read and what was left."""
    roles = {}
    for role, candidates in NPZ_NAMES.items():
        present = [name for name in candidates if name in found]
        if present:
            roles[role] = present[0]
            if present[0] != role:
                notes.append(f"read the array '{present[0]}' as the {role}")
            if len(present) > 1:
                notes.append(f"also named like {role}, ignored: "
                             + ", ".join(f"'{n}'" for n in present[1:]))
    if "inputs" not in roles and len(found) == 1:
        roles["inputs"] = next(iter(found))
        notes.append(f"the only array, '{roles['inputs']}', read as inputs")
    if "inputs" not in roles:
        raise UploadError(f"the NPZ has no inputs array (found: "
                          f"{', '.join(sorted(found)) or 'none'}); expected one named "
                          f"{' or '.join(NPZ_NAMES['inputs'])}, (N, T, C) [+ lengths, targets "
                          f"or {'/'.join(NPZ_NAMES['targets'][1:])}]")
    return roles


def _npz_targets(array: np.ndarray | None, n: int, info: TaskInfo, notes: list[str],
                 name: str | None = None) -> torch.Tensor | None:
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
    notes.append(f"'{name or 'targets'}' ignored: expected {wanted}, found {array.dtype} "
                 f"{array.shape}")
    return None

