"""Safe checkpoints: weights in safetensors; architecture, config and model card in JSON.

``save(model, "models/adding", card)`` writes ``models/adding.safetensors`` and
``models/adding.json`` (``path`` may also end in ``.json`` or ``.safetensors``), and
``load("models/adding")`` returns a :class:`Checkpoint`. Nothing is unpickled and only registered
classes are built, so opening a stranger's checkpoint runs none of their code. ``load`` also
takes a folder in the Hugging Face hub layout (:mod:`indrnn.hub`): the same JSON as
``config.json`` beside the weights as ``model.safetensors``. The JSON::

    {"format": "indrnn-checkpoint", "version": 1, "architecture": "IndRNN",
     "config": {"input_size": 3, "hidden_size": 8, ...}, "dtype": "float32", "card": {...},
     "tensors": {"weight_ih_l0": {"shape": [8, 3], "dtype": "float32"}, ...},
     "sha256": "<digest of the .safetensors file>"}

Before allocating anything big, :func:`load` checks the JSON (size, syntax, no NaN, no duplicate
keys, format, version), the architecture and config (:mod:`indrnn.registry`: a registered class,
only its constructor's own parameters, JSON types, capped sizes, its parameter count on the
``meta`` device), and the safetensors header (length, names, shapes, dtypes, offsets, file size)
against the JSON and the model. Then the digest, the weights, and no
NaN or Inf unless ``allow_nonfinite=True``. Any failure raises :class:`CheckpointError`, naming
the file, the field, what was expected and what was found.

:func:`save` writes temporary files, then renames the weights and, last, the JSON: an interrupted
save leaves the old checkpoint, or a pair whose digests disagree (load says so).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from indrnn import registry
from indrnn.registry import FLOAT_DTYPES, ConfigError, Table

FORMAT, VERSION = "indrnn-checkpoint", 1
HUB_CONFIG, HUB_WEIGHTS = "config.json", "model.safetensors"  #: a hub folder's checkpoint files
MAX_JSON_BYTES = 1 << 20  #: cap on the JSON file and on the safetensors header
MAX_PARAMETERS = 50_000_000  #: default cap on the number of weights (tensor elements)
FIELDS = ("format", "version", "architecture", "config", "dtype", "card", "tensors", "sha256")
_CODES = {"F16": "float16", "BF16": "bfloat16", "F32": "float32", "F64": "float64",
          "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8",
          "BOOL": "bool"}  # safetensors dtype code -> torch dtype name


class CheckpointError(ValueError):
    """A checkpoint that cannot be saved or loaded; the message names file, field and problem."""


@dataclass(frozen=True)
class Checkpoint:
    """What :func:`load` returns: the model (eval mode), its card, architecture and config."""

    model: nn.Module
    card: dict[str, Any]
    architecture: str
    config: dict[str, Any]


def save(model: nn.Module, path: str | os.PathLike, card: dict[str, Any] | None = None) -> Path:
    """Write ``model`` and its ``card`` (a JSON-safe dict: task, data, metrics...) to ``path``.

    Returns the JSON file's path. Tuples are stored as lists. Raises :class:`CheckpointError` if
    the class is not registered (:func:`indrnn.registry.register_architecture`),
    ``model.config()`` would fail :func:`load`'s checks, the card is not JSON-safe, or floating
    tensors mix dtypes.
    """
    json_path, weights_path = _paths(path)
    where = f"saving {json_path}"
    card = {} if card is None else card
    _check_json_safe(where, "card", card)
    if not isinstance(card, dict):
        _fail(where, "card", "a dict", type(card).__name__)
    with _NamedErrors(where):
        name = registry.architecture_name(model)
        config = model.config()
    _check_json_safe(where, "config", config)
    config, card = json.loads(json.dumps(config)), json.loads(json.dumps(card))
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    with _NamedErrors(where):
        table = {k: {"shape": list(v.shape), "dtype": registry.dtype_name(v)}
                 for k, v in state.items()}
    floats = sorted({e["dtype"] for e in table.values() if e["dtype"] in FLOAT_DTYPES})
    if len(floats) > 1:
        _fail(where, "dtype", "one floating dtype for all tensors", floats)
    dtype = floats[0] if floats else "float32"
    with _NamedErrors(where):
        registry.check_config(name, config)
        expected = registry.expected_tensors(name, config, dtype, MAX_PARAMETERS)
    _compare(where, "model rebuilt from config()", expected, table)
    temps = [_temp(weights_path), _temp(json_path)]
    try:
        save_file(state, temps[0], metadata={"format": "pt"})
        text = json.dumps({"format": FORMAT, "version": VERSION, "architecture": name,
                           "config": config, "dtype": dtype, "card": card, "tensors": table,
                           "sha256": _sha256(temps[0])}, indent=1, allow_nan=False)
        if len(text.encode()) > MAX_JSON_BYTES:
            _fail(where, "card", f"at most {MAX_JSON_BYTES} bytes of JSON", len(text.encode()))
        Path(temps[1]).write_text(text, encoding="utf-8")
        for temp in temps:
            with open(temp, "rb+") as handle:
                os.fsync(handle.fileno())
        os.replace(temps[0], weights_path)
        os.replace(temps[1], json_path)
    finally:
        for temp in temps:
            Path(temp).unlink(missing_ok=True)
    return json_path


def load(path: str | os.PathLike, map_location: str | torch.device = "cpu", *,
         allow_nonfinite: bool = False, max_parameters: int = MAX_PARAMETERS,
         shown_as: str | None = None) -> Checkpoint:
    """Check and read a checkpoint written by :func:`save` (the checks: see the module doc).

    Parameters
    ----------
    path : str or PathLike
        ``models/NAME``, ``models/NAME.json`` or ``models/NAME.safetensors``; or a folder in
        the Hugging Face hub layout that :func:`indrnn.hub.export_hub` writes (``config.json``,
        the same JSON, beside ``model.safetensors``; both plain files, not symbolic links),
        checked in exactly the same way.
    map_location : str or torch.device
        Device of the returned model.
    allow_nonfinite : bool
        Load weights holding NaN or Inf instead of raising.
    max_parameters : int
        Refuse models with more weights (tensor elements) than this.
    shown_as : str, optional
        What to call the checkpoint in error messages instead of its path (an upload's own
        file name, say, rather than the server's temporary folder).

    Returns
    -------
    Checkpoint
        ``model`` in eval mode, ``card``, ``architecture`` and ``config``.
    """
    json_path, weights_path, where, weights_where = _locate(path, shown_as)
    document = _parse(where, _read(json_path, MAX_JSON_BYTES, whole=True, shown_as=where))
    if sorted(document) != sorted(FIELDS):
        _fail(where, "fields", f"exactly {sorted(FIELDS)}", sorted(document))
    if document["format"] != FORMAT:
        _fail(where, "format", repr(FORMAT), repr(document["format"]))
    if type(document["version"]) is not int or document["version"] != VERSION:
        _fail(where, "version", VERSION, repr(document["version"]))
    name, config, dtype = document["architecture"], document["config"], document["dtype"]
    if not isinstance(document["card"], dict):
        _fail(where, "card", "a JSON object", type(document["card"]).__name__)
    if dtype not in FLOAT_DTYPES:
        _fail(where, "dtype", f"one of {FLOAT_DTYPES}", repr(dtype))
    with _NamedErrors(where):
        registry.check_config(name, config)
        expected = registry.expected_tensors(name, config, dtype, max_parameters)
    if not isinstance(document["tensors"], dict):
        _fail(where, "tensors", "a JSON object", type(document["tensors"]).__name__)
    _compare(where, "model built from config", expected, document["tensors"])
    tensors = _weights(weights_path, expected, document["sha256"], where, weights_where)
    bad = [k for k, t in tensors.items() if t.is_floating_point() and not t.isfinite().all()]
    if bad and not allow_nonfinite:
        _fail(weights_where, f"tensors {bad}", "finite values (or allow_nonfinite=True)",
              "NaN or Inf")
    with torch.device(map_location):
        model = registry.resolve(name)(**config).to(getattr(torch, dtype))
    model.load_state_dict(tensors, strict=True)
    return Checkpoint(model.eval(), document["card"], name, config)


class _NamedErrors:
    """Re-raise a :class:`~indrnn.registry.ConfigError` as a :class:`CheckpointError` that names
    the file."""

    def __init__(self, where: str):
        self.where = where

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, error: BaseException | None, trace: Any) -> bool:
        if isinstance(error, ConfigError):
            raise CheckpointError(f"{self.where}: {error}") from error
        return False


def _fail(where: str, field: str, expected: Any, found: Any) -> None:
    """Raise CheckpointError; ``found`` is shown as is if a string (callers repr data)."""
    found = found if isinstance(found, str) else repr(found)
    raise CheckpointError(f"{where}: {field}: expected {expected}, found {found[:300]}")


def _paths(path: str | os.PathLike) -> tuple[Path, Path]:
    base = Path(path)
    base = base.with_suffix("") if base.suffix in (".json", ".safetensors") else base
    return base.with_name(base.name + ".json"), base.with_name(base.name + ".safetensors")


def _locate(path: str | os.PathLike, shown_as: str | None) -> tuple[Path, Path, str, str]:
    """The JSON and weights files of ``path`` and the names errors give them."""
    if Path(path).is_dir():
        from indrnn.hub import hub_files  # here: indrnn.hub imports this module

        json_path, weights_path = hub_files(path, shown_as)
        return (json_path, weights_path, f"{shown_as}/{HUB_CONFIG}" if shown_as else str(json_path),
                f"{shown_as}/{HUB_WEIGHTS}" if shown_as else str(weights_path))
    json_path, weights_path = _paths(path)
    return (json_path, weights_path, shown_as or str(json_path),
            f"{shown_as}.safetensors" if shown_as else str(weights_path))


def _temp(target: Path) -> str:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(handle)
    os.chmod(name, 0o644)  # mkstemp makes 0600; a checkpoint is meant to be shared
    return name


def _sha256(path: str | Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _read(path: Path, limit: int, whole: bool, shown_as: str | None = None) -> bytes:
    """The first ``limit`` bytes of ``path``; with ``whole``, fail if there are more."""
    where = shown_as or str(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise CheckpointError(f"{where}: file: expected a readable file, found {reason}"
                              ) from exc
    if whole and len(data) > limit:
        _fail(where, "size", f"at most {limit} bytes", "a larger file")
    return data[:limit]


def _parse(where: str, data: bytes) -> dict:
    """Strict JSON: UTF-8, no NaN or Infinity, no duplicate keys, an object at the top."""
    def unique(pairs: list) -> dict:
        if len({k for k, _ in pairs}) != len(pairs):
            _fail(where, "JSON", "unique keys", [k for k, _ in pairs])
        return dict(pairs)

    def constant(token: str) -> None:
        _fail(where, "JSON", "finite numbers", token)

    try:
        value = json.loads(data.decode("utf-8"), object_pairs_hook=unique, parse_constant=constant)
    except CheckpointError:
        raise
    except (ValueError, RecursionError) as exc:
        raise CheckpointError(f"{where}: JSON: expected valid UTF-8 JSON, found {exc}") from exc
    if not isinstance(value, dict):
        _fail(where, "JSON", "an object", type(value).__name__)
    return value


def _check_json_safe(where: str, field: str, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                _fail(where, field, "string keys", key)
            _check_json_safe(where, f"{field}[{key!r}]", item)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_json_safe(where, f"{field}[{index}]", item)
    elif not (value is None or isinstance(value, bool | int | str)
              or (isinstance(value, float) and math.isfinite(value))):
        _fail(where, field, "JSON-safe values (dict, list, str, int, finite float, bool, None)",
              f"{value!r} ({type(value).__name__})")


def _weights(path: Path, expected: Table, digest: Any, source: str,
             shown_as: str) -> dict[str, torch.Tensor]:
    """Check the header (length, then names, shapes and dtypes), the digest, then read."""
    head, size = _read(path, 8, whole=False, shown_as=shown_as), path.stat().st_size
    length, room = int.from_bytes(head, "little"), min(MAX_JSON_BYTES, size - 8)
    if len(head) < 8 or length > room:
        _fail(shown_as, "header length", f"an 8-byte length <= {max(room, 0)}",
              length if len(head) == 8 else head)
    try:  # safetensors checks the header's offsets and that they cover the file exactly
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            slices = {key: handle.get_slice(key) for key in handle.keys()}  # noqa: SIM118
            _compare(shown_as, "model built from config", expected, {
                k: {"shape": s.get_shape(), "dtype": _CODES.get(s.get_dtype(), s.get_dtype())}
                for k, s in slices.items()})
            actual = _sha256(path)
            if actual != digest:
                _fail(shown_as, "sha256", f"{digest!r} as in {source}", repr(actual))
            return {key: handle.get_tensor(key) for key in slices}
    except CheckpointError:
        raise
    except Exception as exc:  # safetensors' own errors, reported as ours
        message = str(exc).replace(str(path), shown_as)
        raise CheckpointError(f"{shown_as}: header: expected a valid safetensors file, found "
                              f"{type(exc).__name__}: {message}") from exc


def _compare(where: str, what: str, expected: Table, found: dict) -> None:
    missing, extra = sorted(expected.keys() - found.keys()), sorted(found.keys() - expected.keys())
    if missing or extra:
        _fail(where, "tensors", f"the tensors of the {what}",
              f"missing {missing or 'none'}, unexpected {extra or 'none'}")
    for key, entry in expected.items():
        if found[key] != entry:
            _fail(where, f"tensors[{key!r}]", f"{entry} ({what})", found[key])
