"""The architectures a checkpoint may name, and the checks a config must pass to be built.

Only registered classes are ever built from a file, so opening a stranger's checkpoint runs none
of their code. A config (the constructor's keyword arguments, as JSON) is checked before anything
is built: only the constructor's own parameters (never ``device``, ``dtype`` or ``backend``, the
loader's choice), JSON types that match the parameter, capped sizes; the model is then built on
the ``meta`` device to count its weights. :mod:`indrnn.checkpoint` reads and writes the files.

>>> spec("IndRNN", input_size=2, hidden_size=8)["config"]["num_layers"]
1
>>> build(spec("IndRNN", input_size=2, hidden_size=8))
IndRNN(2, 8)
"""

from __future__ import annotations

import importlib
import inspect
import math
import os
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from indrnn.kernels import NONLINEARITIES

MAX_SIZE = 1 << 16  #: cap on any integer in a config
MAX_LAYERS = 256  #: cap on ``num_layers``, ``num_blocks`` and ``sum(blocks)`` in a config
MAX_LIST = 1024  #: cap on any list in a config (per-layer bounds of a 256-block DenseIndRNN)
FORBIDDEN = frozenset({"device", "dtype", "backend"})  #: the loader's choice, not the file's
NESTED = "body"  #: a config parameter holding {"architecture": ..., "config": ...} of a sub-model
Spec = dict[str, Any]  # {"architecture": name, "config": {...}}
Table = dict[str, dict[str, Any]]  # tensor name -> {"shape": [...], "dtype": "float32"}
FLOAT_DTYPES = ("float16", "bfloat16", "float32", "float64")

# name -> "module:Class" (imported when first needed) or a class
_REGISTRY: dict[str, str | type] = {
    "IndRNN": "indrnn.layers:IndRNN",
    "LSTM": "indrnn.lstm:LSTM",
    "PlainIndRNN": "indrnn.networks:PlainIndRNN",
    "ResIndRNN": "indrnn.networks:ResIndRNN",
    "DenseIndRNN": "indrnn.networks:DenseIndRNN",
    "SequenceModel": "indrnn.sequence_model:SequenceModel",
}
# config keys of classes whose constructor takes *args/**kwargs, given at registration
_PARAMETERS: dict[str, tuple[str, ...]] = {}


class ConfigError(ValueError):
    """A config or spec that cannot be built; the message names every bad field."""


def register_architecture(name: str, cls: type[nn.Module] | str, *,
                          parameters: Sequence[str] | None = None) -> None:
    """Let :func:`indrnn.save` and :func:`indrnn.load` handle ``cls`` (a class or
    ``"module:Class"``) as ``name``.

    ``cls`` needs a ``config()`` returning JSON-safe constructor kwargs (``cls(**config)``
    rebuilds it). ``parameters`` names the accepted config keys if the constructor takes
    ``*args, **kwargs`` (default: the class's ``CONFIG_KEYS``, if it has them). Another
    class under a taken name raises ``ValueError``.
    """
    if not (isinstance(name, str) and name.isidentifier()):
        raise ValueError(f"architecture name must be an identifier, got {name!r}")
    if not ((isinstance(cls, str) and ":" in cls) or (isinstance(cls, type) and issubclass(
            cls, nn.Module) and callable(getattr(cls, "config", None)))):
        raise ValueError(f"{name}: need an nn.Module class with config(), or 'module:Class'")
    old = _REGISTRY.get(name, cls)
    if old is not cls and _target(old) != _target(cls):
        raise ValueError(f"architecture {name!r} is already registered as {_target(old)}")
    _REGISTRY[name] = cls
    if parameters is not None:
        _PARAMETERS[name] = tuple(parameters)


#: Architectures the person starting the app registers (``indrnn app --architecture``):
#: ``NAME=module:Class`` entries separated by commas. Their own code, named by them, never by a
#: checkpoint: a file naming any other class is still refused and nothing is imported for it.
ARCHITECTURES_ENV = "INDRNN_ARCHITECTURES"


def register_from_environment() -> list[str]:
    """Register every ``NAME=module:Class`` of :data:`ARCHITECTURES_ENV` (imported only when a
    checkpoint naming ``NAME`` is loaded). Returns one line per entry that could not be."""
    problems = []
    for item in filter(None, (part.strip() for part in os.environ.get(
            ARCHITECTURES_ENV, "").split(","))):
        name, _, target = item.partition("=")
        try:
            if not target:
                raise ValueError("expected NAME=module:Class")
            register_architecture(name.strip(), target.strip())
        except ValueError as error:
            problems.append(f"${ARCHITECTURES_ENV} entry {item[:80]!r}: {error}")
    return problems


def registered() -> list[str]:
    """The registered architecture names, sorted."""
    return sorted(_REGISTRY)


def architecture_name(model: nn.Module) -> str:
    """The registered name of ``model``'s class; :class:`ConfigError` if there is none."""
    target = _target(type(model))
    name = next((n for n, t in _REGISTRY.items() if _target(t) == target), "")
    if not name:
        raise ConfigError(f"architecture: expected a registered class {registered()}, found "
                          f"{type(model).__qualname__}")
    return name


def resolve(name: str) -> type:
    """The class registered as ``name`` (imported on first use)."""
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ConfigError(f"architecture: expected one of {registered()}, found {name!r}")
    target = _REGISTRY[name]
    if isinstance(target, type):
        return target
    module, _, qualname = target.partition(":")
    try:
        cls: Any = importlib.import_module(module)
        for part in qualname.split("."):
            cls = getattr(cls, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"architecture: {name} ({target}) cannot be imported: {exc}") from exc
    return cls


def spec(name: str, **config: Any) -> Spec:
    """``{"architecture": name, "config": ...}`` with every constructor default filled in.

    The one place the defaults come from is the constructor itself (or ``CONFIG_DEFAULTS`` of a
    class whose constructor takes ``**kwargs``, such as :class:`indrnn.LSTM`).
    """
    parameters = _parameters(name, resolve(name))
    full = {key: p.default for key, p in parameters.items()
            if p.default is not inspect.Parameter.empty}
    unknown = sorted(config.keys() - parameters.keys())
    if unknown:
        raise ConfigError(f"{name}: unknown config keys {unknown}; known: {sorted(parameters)}")
    return {"architecture": name, "config": {**full, **config}}


def build(model_spec: Spec) -> nn.Module:
    """Build a body (a registered architecture that nests none) from ``{"architecture": name,
    "config": {...}}``.

    The spec is checked as :func:`indrnn.load` checks a file's (names, types, capped sizes).
    """
    check_spec(model_spec)
    return resolve(model_spec["architecture"])(**model_spec["config"])


def check_spec(model_spec: Any, field: str = "spec") -> None:
    """A body spec: a registered architecture that nests no body of its own, and its
    :func:`check_config`-checked config."""
    if not (isinstance(model_spec, dict) and sorted(model_spec) == ["architecture", "config"]):
        raise ConfigError(f'{field}: expected a JSON object {{"architecture": ..., "config": '
                          f"{{...}}}}, found {repr(model_spec)[:80]}")
    name = model_spec["architecture"]
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ConfigError(f"{field}['architecture']: expected one of {registered()}, found "
                          f"{name!r}")
    if NESTED in _parameters(name, resolve(name)):
        raise ConfigError(f"{field}['architecture']: expected a model without a nested body, "
                          f"found {name}")
    check_config(name, model_spec["config"], f"{field}: config")


def check_config(name: str, config: Any, field: str = "config") -> None:
    """Config keys must be constructor parameters of ``name`` (all required ones), of sane JSON
    values. Every bad field is named in one :class:`ConfigError`."""
    cls = resolve(name)
    if not isinstance(config, dict):
        raise ConfigError(f"{field}: expected a JSON object, found {type(config).__name__}")
    params = _parameters(name, cls)
    problems = []
    for key, value in config.items():
        where = f"{field}[{key!r}]"
        if key not in params:
            found = "a forbidden key" if key in FORBIDDEN else "an unknown key"
            problems.append(f"{where}: expected a parameter of {cls.__qualname__} "
                            f"{sorted(params)}, found {found}")
        elif key == NESTED:
            try:
                check_spec(value, where)
            except ConfigError as error:
                problems.append(str(error))
        else:
            check, expected = _expectation(params[key])
            if not check(value):
                problems.append(f"{where}: expected {expected}, found {repr(value)[:300]}")
    missing = [n for n, p in params.items() if p.default is p.empty and n not in config]
    if missing:
        problems.append(f"{field}: expected values for {missing}, found none")
    if problems:
        raise ConfigError("; ".join(problems))


def expected_tensors(name: str, config: dict[str, Any], dtype: str,
                     max_parameters: int) -> Table:
    """Tensors of the model ``name(**config)`` would be, built on the ``meta`` device (no
    memory); :class:`ConfigError` if it has more than ``max_parameters`` weights."""
    cls = resolve(name)
    try:
        with torch.device("meta"):
            state = cls(**config).to(getattr(torch, dtype)).state_dict()
    except Exception as exc:  # the constructor's own checks: TypeError, ValueError, ...
        raise ConfigError(f"config: {cls.__qualname__}(**config) failed: {exc}") from exc
    count = sum(t.numel() for t in state.values())
    if count > max_parameters:
        raise ConfigError(f"config: expected a model of at most {max_parameters} weights, "
                          f"found {count}")
    return {k: {"shape": list(t.shape), "dtype": dtype_name(t)} for k, t in state.items()}


TENSOR_DTYPES = ("float16", "bfloat16", "float32", "float64", "int64", "int32", "int16", "int8",
                 "uint8", "bool")


def dtype_name(tensor: torch.Tensor) -> str:
    """``"float32"`` for a float32 tensor; :class:`ConfigError` for a dtype a checkpoint can't
    hold."""
    name = str(tensor.dtype).removeprefix("torch.")
    if name not in TENSOR_DTYPES:
        raise ConfigError(f"expected a dtype in {sorted(TENSOR_DTYPES)}, found {name}")
    return name


def _target(cls: type | str) -> str:
    return cls if isinstance(cls, str) else f"{cls.__module__}:{cls.__qualname__}"


def _parameters(name: str, cls: type) -> dict[str, inspect.Parameter]:
    """The config keys ``name`` accepts, as constructor parameters (``FORBIDDEN`` left out)."""
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    params = dict(inspect.signature(cls).parameters)
    if any(p.kind not in named for p in params.values()):
        defaults = getattr(cls, "CONFIG_DEFAULTS", None)
        keys = _PARAMETERS.get(name) or getattr(cls, "CONFIG_KEYS", None)
        if keys is None:
            raise ConfigError(f"architecture: expected a constructor without *args/**kwargs (or "
                              f"register_architecture(..., parameters=[...])), found "
                              f"{cls.__qualname__}")
        # With CONFIG_DEFAULTS, the keys without a default are required; keys registered
        # without defaults are all optional (the constructor says what it misses).
        missing = inspect.Parameter.empty if defaults else None
        params = {n: inspect.Parameter(n, named[1], default=(defaults or {}).get(n, missing))
                  for n in keys}
    return {n: p for n, p in params.items() if n not in FORBIDDEN}


def _int(low: int, high: int) -> tuple[Callable[[Any], bool], str]:
    return lambda v: type(v) is int and low <= v <= high, f"an int in [{low}, {high}]"


def _number(value: Any) -> bool:
    return ((type(value) is float and math.isfinite(value))
            or (type(value) is int and abs(value) <= 2**53))


def _list_of(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: check(v) or (type(v) is list and len(v) <= MAX_LIST and all(map(check, v)))


def _is_scalar(v: Any) -> bool:
    return v is None or type(v) is bool or _number(v) or (type(v) is str and len(v) <= 64)


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
