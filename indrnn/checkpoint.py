"""Safe checkpoints: weights in safetensors; architecture, config and model card in JSON.

``save(model, "models/adding", card)`` writes ``models/adding.safetensors`` and
``models/adding.json`` (``path`` may also end in ``.json`` or ``.safetensors``), and
``load("models/adding")`` returns a :class:`Checkpoint`. Nothing is unpickled and only registered
classes are built, so opening a stranger's checkpoint runs none of their code. The JSON::

    {"format": "indrnn-checkpoint", "version": 1, "architecture": "IndRNN",
     "config": {"input_size": 3, "hidden_size": 8, ...}, "dtype": "float32", "card": {...},
     "tensors": {"weight_ih_l0": {"shape": [8, 3], "dtype": "float32"}, ...},
     "sha256": "<digest of the .safetensors file>"}

Before allocating anything big, :func:`load` checks the JSON (size, syntax, no NaN, no duplicate
keys, format, version, architecture), the config (only the constructor's own parameters, never
``device``, ``dtype`` or ``backend``; JSON types; capped sizes), builds the model on the ``meta``
device to cap its parameter count, and checks the safetensors header (length, names, shapes,
dtypes, offsets, file size) against the JSON and the model. Then the digest, the weights, and no
NaN or Inf unless ``allow_nonfinite=True``. Any failure raises :class:`CheckpointError`, naming
the file, the field, what was expected and what was found.

:func:`save` writes temporary files, then renames the weights and, last, the JSON: an interrupted
save leaves the old checkpoint, or a pair whose digests disagree (load says so).
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import math
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from indrnn.kernels import NONLINEARITIES

FORMAT, VERSION = "indrnn-checkpoint", 1
MAX_JSON_BYTES = 1 << 20  #: cap on the JSON file and on the safetensors header
MAX_SIZE = 1 << 16  #: cap on any integer in a config
MAX_LAYERS = 256  #: cap on ``num_layers``, ``num_blocks`` and ``sum(blocks)`` in a config
MAX_LIST = 1024  #: cap on any list in a config (per-layer bounds of a 256-block DenseIndRNN)
MAX_PARAMETERS = 50_000_000  #: default cap on the number of weights (tensor elements)
FORBIDDEN = frozenset({"device", "dtype", "backend"})  #: the loader's choice, not the file's
FIELDS = ("format", "version", "architecture", "config", "dtype", "card", "tensors", "sha256")
_CODES = {"F16": "float16", "BF16": "bfloat16", "F32": "float32", "F64": "float64",
          "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8",
          "BOOL": "bool"}  # safetensors dtype code -> torch dtype name
_FLOATS = ("float16", "bfloat16", "float32", "float64")
_LSTM_KEYS = ("input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout",
              "bidirectional", "proj_size")
# name -> ("module:Class" imported when needed, or a class; config keys if it takes **kwargs)
_REGISTRY: dict[str, tuple[str | type, tuple[str, ...] | None]] = {
    "IndRNN": ("indrnn.layers:IndRNN", None),
    "LSTM": ("indrnn.lstm:LSTM", _LSTM_KEYS),
    "PlainIndRNN": ("indrnn.networks:PlainIndRNN", None),
    "ResIndRNN": ("indrnn.networks:ResIndRNN", None),
    "DenseIndRNN": ("indrnn.networks:DenseIndRNN", None),
    "SequenceModel": ("indrnn.models:SequenceModel", None),
}
NESTED = "body"  #: a config parameter holding {"architecture": ..., "config": ...} of a sub-model
Table = dict[str, dict[str, Any]]  # tensor name -> {"shape": [...], "dtype": "float32"}


class CheckpointError(ValueError):
    """A checkpoint that cannot be saved or loaded; the message names file, field and problem."""


@dataclass(frozen=True)
class Checkpoint:
    """What :func:`load` returns: the model (eval mode), its card, architecture and config."""

    model: nn.Module
    card: dict[str, Any]
    architecture: str
    config: dict[str, Any]


def register_architecture(name: str, cls: type[nn.Module] | str, *,
                          parameters: Sequence[str] | None = None) -> None:
    """Let :func:`save` and :func:`load` handle ``cls`` (a class or ``"module:Class"``) as ``name``.

    ``cls`` needs a ``config()`` returning JSON-safe constructor kwargs (``cls(**config)``
    rebuilds it). ``parameters`` names the accepted config keys if the constructor takes
    ``*args, **kwargs``. Another class under a taken name raises ``ValueError``.
    """
    if not (isinstance(name, str) and name.isidentifier()):
        raise ValueError(f"architecture name must be an identifier, got {name!r}")
    if not ((isinstance(cls, str) and ":" in cls) or (isinstance(cls, type) and issubclass(
            cls, nn.Module) and callable(getattr(cls, "config", None)))):
        raise ValueError(f"{name}: need an nn.Module class with config(), or 'module:Class'")
    old = _REGISTRY.get(name, (cls,))[0]
    if old is not cls and _target(old) != _target(cls):
        raise ValueError(f"architecture {name!r} is already registered as {_target(old)}")
    _REGISTRY[name] = (cls, None if parameters is None else tuple(parameters))


def save(model: nn.Module, path: str | os.PathLike, card: dict[str, Any] | None = None) -> Path:
    """Write ``model`` and its ``card`` (a JSON-safe dict: task, data, metrics...) to ``path``.

    Returns the JSON file's path. Tuples are stored as lists. Raises :class:`CheckpointError` if
    the class is not registered, ``model.config()`` would fail :func:`load`'s checks, the card is
    not JSON-safe, or floating tensors mix dtypes.
    """
    json_path, weights_path = _paths(path)
    where = f"saving {json_path}"
    name = architecture_name(model, where)
    card = {} if card is None else card
    _check_json_safe(where, "card", card)
    if not isinstance(card, dict):
        _fail(where, "card", "a dict", type(card).__name__)
    config = model.config()
    _check_json_safe(where, "config", config)
    config, card = json.loads(json.dumps(config)), json.loads(json.dumps(card))
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    table = {k: {"shape": list(v.shape), "dtype": _dtype(where, k, v)} for k, v in state.items()}
    floats = sorted({e["dtype"] for e in table.values() if e["dtype"] in _FLOATS})
    if len(floats) > 1:
        _fail(where, "dtype", "one floating dtype for all tensors", floats)
    dtype = floats[0] if floats else "float32"
    cls = _resolve(where, name)
    _check_config(where, cls, _REGISTRY[name][1], config)
    _compare(where, "model rebuilt from config()",
             _expected(where, cls, config, dtype, MAX_PARAMETERS), table)
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
         allow_nonfinite: bool = False, max_parameters: int = MAX_PARAMETERS) -> Checkpoint:
    """Check and read a checkpoint written by :func:`save` (the checks: see the module doc).

    Parameters
    ----------
    path : str or PathLike
        ``models/NAME``, ``models/NAME.json`` or ``models/NAME.safetensors``.
    map_location : str or torch.device
        Device of the returned model.
    allow_nonfinite : bool
        Load weights holding NaN or Inf instead of raising.
    max_parameters : int
        Refuse models with more weights (tensor elements) than this.

    Returns
    -------
    Checkpoint
        ``model`` in eval mode, ``card``, ``architecture`` and ``config``.
    """
    json_path, weights_path = _paths(path)
    where = str(json_path)
    document = _parse(where, _read(json_path, MAX_JSON_BYTES, whole=True))
    if sorted(document) != sorted(FIELDS):
        _fail(where, "fields", f"exactly {sorted(FIELDS)}", sorted(document))
    if document["format"] != FORMAT:
        _fail(where, "format", repr(FORMAT), repr(document["format"]))
    if type(document["version"]) is not int or document["version"] != VERSION:
        _fail(where, "version", VERSION, repr(document["version"]))
    name, config, dtype = document["architecture"], document["config"], document["dtype"]
    if not isinstance(name, str) or name not in _REGISTRY:
        _fail(where, "architecture", f"one of {sorted(_REGISTRY)}", repr(name))
    if not isinstance(document["card"], dict):
        _fail(where, "card", "a JSON object", type(document["card"]).__name__)
    if dtype not in _FLOATS:
        _fail(where, "dtype", f"one of {_FLOATS}", repr(dtype))
    cls = _resolve(where, name)
    _check_config(where, cls, _REGISTRY[name][1], config)
    expected = _expected(where, cls, config, dtype, max_parameters)
    if not isinstance(document["tensors"], dict):
        _fail(where, "tensors", "a JSON object", type(document["tensors"]).__name__)
    _compare(where, "model built from config", expected, document["tensors"])
    tensors = _weights(weights_path, expected, document["sha256"], where)
    bad = [k for k, t in tensors.items() if t.is_floating_point() and not t.isfinite().all()]
    if bad and not allow_nonfinite:
        _fail(str(weights_path), f"tensors {bad}", "finite values (or allow_nonfinite=True)",
              "NaN or Inf")
    with torch.device(map_location):
        model = cls(**config).to(getattr(torch, dtype))
    model.load_state_dict(tensors, strict=True)
    return Checkpoint(model.eval(), document["card"], name, config)


def _fail(where: str, field: str, expected: Any, found: Any) -> None:
    """Raise CheckpointError; ``found`` is shown as is if a string (callers repr data)."""
    found = found if isinstance(found, str) else repr(found)
    raise CheckpointError(f"{where}: {field}: expected {expected}, found {found[:300]}")


def _paths(path: str | os.PathLike) -> tuple[Path, Path]:
    base = Path(path)
    base = base.with_suffix("") if base.suffix in (".json", ".safetensors") else base
    return base.with_name(base.name + ".json"), base.with_name(base.name + ".safetensors")


def _target(cls: type | str) -> str:
    return cls if isinstance(cls, str) else f"{cls.__module__}:{cls.__qualname__}"


def _temp(target: Path) -> str:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(handle)
    os.chmod(name, 0o644)  # mkstemp makes 0600; a checkpoint is meant to be shared
    return name


def _sha256(path: str | Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _read(path: Path, limit: int, whole: bool) -> bytes:
    """The first ``limit`` bytes of ``path``; with ``whole``, fail if there are more."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise CheckpointError(f"{path}: file: expected a readable file, found {exc}") from exc
    if whole and len(data) > limit:
        _fail(str(path), "size", f"at most {limit} bytes", "a larger file")
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


def _int(low: int, high: int) -> tuple[Callable[[Any], bool], str]:
    return lambda v: type(v) is int and low <= v <= high, f"an int in [{low}, {high}]"


def _number(value: Any) -> bool:
    return ((type(value) is float and math.isfinite(value))
            or (type(value) is int and abs(value) <= 2**53))


def _list_of(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: check(v) or (type(v) is list and len(v) <= MAX_LIST and all(map(check, v)))


_BOOL = (lambda v: type(v) is bool, "true or false")
_BOUND = (_list_of(lambda v: v is None or (_number(v) and v >= 0)),
          "null, a number >= 0, or a list of those (one per layer)")
_KNOWN = {  # checks by parameter name; other parameters by the type of default or annotation
    "input_size": _int(1, MAX_SIZE), "hidden_size": _int(1, MAX_SIZE),
    "num_layers": _int(1, MAX_LAYERS), "num_blocks": _int(0, MAX_LAYERS),
    "proj_size": _int(0, MAX_SIZE), "bias": _BOOL, "batch_first": _BOOL, "bidirectional": _BOOL,
    "recurrent_min": _BOUND, "recurrent_max": _BOUND,
    "dropout": (lambda v: _number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "nonlinearity": (lambda v: v in NONLINEARITIES, f"one of {NONLINEARITIES}"),
    "blocks": (lambda v: type(v) is list and len(v) > 0 and all(type(b) is int and b > 0 for b in v)
               and sum(v) <= MAX_LAYERS, f"a list of ints > 0 summing to at most {MAX_LAYERS}"),
}
_BY_TYPE = {"bool": _BOOL, "int": _int(0, MAX_SIZE), "float": (_number, "a finite number"),
            "str": (lambda v: type(v) is str and len(v) <= 64, "a string of <= 64 characters")}
_ANY = (_list_of(lambda v: _is_scalar(v) and not (type(v) is int and abs(v) > MAX_SIZE)),
        f"null, true, false, an int of at most {MAX_SIZE}, a finite float, a short string, "
        "or a short flat list of those")


def _is_scalar(v: Any) -> bool:
    return v is None or type(v) is bool or _number(v) or (type(v) is str and len(v) <= 64)


def _expectation(param: inspect.Parameter) -> tuple[Callable[[Any], bool], str]:
    """The check of a config value: by name, else by the type of default or annotation."""
    if param.name in _KNOWN:
        return _KNOWN[param.name]
    note = str(getattr(param.annotation, "__name__", param.annotation))
    default = param.default
    kind = note.removesuffix(" | None") if default in (None, param.empty) else type(default)
    check, expected = _BY_TYPE.get(getattr(kind, "__name__", kind), _ANY)
    if check is not _ANY[0] and (default is None or note.endswith(" | None")):
        return (lambda v: v is None or check(v)), f"null or {expected}"
    return check, expected


def _check_config(where: str, cls: type, keys: tuple[str, ...] | None, config: Any) -> None:
    """Config keys must be constructor parameters (all required ones), of sane JSON values."""
    if not isinstance(config, dict):
        _fail(where, "config", "a JSON object", type(config).__name__)
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    params = dict(inspect.signature(cls).parameters)
    if any(p.kind not in named for p in params.values()):
        if keys is None:
            _fail(where, "architecture", "a constructor without *args/**kwargs (or "
                  "register_architecture(..., parameters=[...]))", cls.__qualname__)
        params = {n: inspect.Parameter(n, named[1], default=None) for n in keys}
    accepted = sorted(params.keys() - FORBIDDEN)
    for key, value in config.items():
        if key not in accepted:
            found = "a forbidden key" if key in FORBIDDEN else "an unknown key"
            _fail(where, f"config[{key!r}]", f"a parameter of {cls.__qualname__} {accepted}", found)
        if key == NESTED:
            _check_spec(where, f"config[{key!r}]", value)
            continue
        check, expected = _expectation(params[key])
        if not check(value):
            _fail(where, f"config[{key!r}]", expected, repr(value))
    missing = [n for n in accepted if params[n].default is params[n].empty and n not in config]
    if missing:
        _fail(where, "config", f"values for {missing}", "none")


def _check_spec(where: str, field: str, spec: Any) -> None:
    """A nested model: a registered architecture (not itself nesting) and its checked config."""
    if not (isinstance(spec, dict) and sorted(spec) == ["architecture", "config"]):
        _fail(where, field, 'a JSON object {"architecture": ..., "config": {...}}', repr(spec)[:80])
    name = spec["architecture"]
    if not isinstance(name, str) or name not in _REGISTRY:
        _fail(where, f"{field}['architecture']", f"one of {sorted(_REGISTRY)}", repr(name))
    cls = _resolve(where, name)
    if NESTED in inspect.signature(cls).parameters:
        _fail(where, f"{field}['architecture']", "a model without a nested body", name)
    _check_config(f"{where}: {field}", cls, _REGISTRY[name][1], spec["config"])


def build(spec: dict[str, Any]) -> nn.Module:
    """Build a registered architecture from ``{"architecture": name, "config": {...}}``.

    The spec is checked as :func:`load` checks a file's (names, types, capped sizes).
    """
    where = "model spec"
    _check_spec(where, "spec", spec)
    return _resolve(where, spec["architecture"])(**spec["config"])


def architecture_name(model: nn.Module, where: str = "model") -> str:
    """The registered name of ``model``'s class; raises :class:`CheckpointError` if none."""
    target = _target(type(model))
    name = next((n for n, (t, _) in _REGISTRY.items() if _target(t) == target), "")
    if not name:
        _fail(where, "architecture", f"a registered class {sorted(_REGISTRY)}",
              type(model).__qualname__)
    return name


def _resolve(where: str, name: str) -> type:
    target = _REGISTRY[name][0]
    if isinstance(target, type):
        return target
    module, _, qualname = target.partition(":")
    try:
        cls: Any = importlib.import_module(module)
        for part in qualname.split("."):
            cls = getattr(cls, part)
    except (ImportError, AttributeError) as exc:
        raise CheckpointError(f"{where}: architecture: {name} ({target}) cannot be imported: "
                              f"{exc}") from exc
    return cls


def _expected(where: str, cls: type, config: dict, dtype: str, max_parameters: int) -> Table:
    """Tensors of ``cls(**config)``, built on the ``meta`` device (no memory), size-capped."""
    try:
        with torch.device("meta"):
            state = cls(**config).to(getattr(torch, dtype)).state_dict()
    except Exception as exc:  # the constructor's own checks: TypeError, ValueError, ...
        raise CheckpointError(f"{where}: config: {cls.__qualname__}(**config) failed: "
                              f"{exc}") from exc
    count = sum(t.numel() for t in state.values())
    if count > max_parameters:
        _fail(where, "config", f"a model of at most {max_parameters} weights", count)
    return {k: {"shape": list(t.shape), "dtype": _dtype(where, k, t)} for k, t in state.items()}


def _dtype(where: str, key: str, tensor: torch.Tensor) -> str:
    name = str(tensor.dtype).removeprefix("torch.")
    if name not in _CODES.values():
        _fail(where, f"tensors[{key!r}]", f"a dtype in {sorted(_CODES.values())}", name)
    return name


def _weights(path: Path, expected: Table, digest: Any, source: str) -> dict[str, torch.Tensor]:
    """Check the header (length, then names, shapes and dtypes), the digest, then read."""
    head, size = _read(path, 8, whole=False), path.stat().st_size
    length, room = int.from_bytes(head, "little"), min(MAX_JSON_BYTES, size - 8)
    if len(head) < 8 or length > room:
        _fail(str(path), "header length", f"an 8-byte length <= {max(room, 0)}",
              length if len(head) == 8 else head)
    try:  # safetensors checks the header's offsets and that they cover the file exactly
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            slices = {key: handle.get_slice(key) for key in handle.keys()}  # noqa: SIM118
            _compare(str(path), "model built from config", expected, {
                k: {"shape": s.get_shape(), "dtype": _CODES.get(s.get_dtype(), s.get_dtype())}
                for k, s in slices.items()})
            actual = _sha256(path)
            if actual != digest:
                _fail(str(path), "sha256", f"{digest!r} as in {source}", repr(actual))
            return {key: handle.get_tensor(key) for key in slices}
    except CheckpointError:
        raise
    except Exception as exc:  # safetensors' own errors, reported as ours
        raise CheckpointError(f"{path}: header: expected a valid safetensors file, found "
                              f"{type(exc).__name__}: {exc}") from exc


def _compare(where: str, what: str, expected: Table, found: dict) -> None:
    missing, extra = sorted(expected.keys() - found.keys()), sorted(found.keys() - expected.keys())
    if missing or extra:
        _fail(where, "tensors", f"the tensors of the {what}",
              f"missing {missing or 'none'}, unexpected {extra or 'none'}")
    for key, entry in expected.items():
        if found[key] != entry:
            _fail(where, f"tensors[{key!r}]", f"{entry} ({what})", found[key])
