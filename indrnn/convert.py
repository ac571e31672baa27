"""Converters from other IndRNN and LSTM implementations into this library's checkpoints.

``indrnn convert --from KIND SRC OUT`` (or ``python -m indrnn.convert``) reads another
implementation's state dict and writes ``OUT.json`` + ``OUT.safetensors`` with
:func:`indrnn.checkpoint.save`. Each kind is mapped onto the model of ours that computes the same
forward pass (eval mode, to float rounding): a :class:`~indrnn.sequence_model.SequenceModel` whose
``body`` is an :class:`~indrnn.layers.IndRNN`, :class:`~indrnn.networks.PlainIndRNN` or
:class:`~indrnn.lstm.LSTM` and whose ``head`` is the source's linear readout, or the bare body if
the source has none. Nothing of the source is imported or run: ``.safetensors`` files are read as
tensors, and ``.pt``/``.pth`` files only with ``torch.load(..., weights_only=True)`` and only
when asked to (``--allow-torch-pickle``).

Kinds (names as in each implementation's ``state_dict``; ``{k}`` is the layer):

``official``
    The authors' plain stack (Sunnydreamrain/IndRNN_pytorch). Layer ``k``: input weight
    ``DIs.{k}.fc.weight``/``.bias`` (``Indrnn_plainnet.py``) or ``DIs.{k}.weight``/``.bias``
    (``pixelMNIST/Indrnn_mnist_network.py``, ``action_recognition/Indrnn_action_network.py``);
    batch norm ``RNNs.{k}.norm1.bn.*`` or ``BNs.{k}.bn.*`` (``BatchNorm1d`` over batch and time);
    recurrent vector ``…weight_hh`` (CUDA module), ``…cells.0.weight_hh`` (older CPU module, with
    an all-zero ``h0`` buffer) or ``…indrnn_cell.weight_hh`` (newer CPU module), under
    ``RNNs.{k}.indrnn1.`` or ``RNNs.{k}.``; readout ``classifier.*`` or ``lastfc.*``. ReLU.
    ``bn_location="after"`` (their default): ``h = BN(relu(W x + b + u ⊙ h_{t-1}))`` ->
    ``PlainIndRNN(batch_norm="after")``; ``"before"`` (``Indrnn_plainnet.py`` only):
    ``h = relu(BN(W x + b) + u ⊙ h_{t-1})`` -> ``PlainIndRNN(batch_norm="before")``, whose Weight
    has no bias, so ``b`` is folded into the running mean (exact in eval). The residual and dense
    networks and the per-step batch norms of their language models are not converted.
``stefoe``
    StefOe/indrnn-pytorch ``IndRNN``: ``h = σ(W x + b + u ⊙ h_{t-1})``, σ ``--nonlinearity``
    (default relu, the cell's default). Older layout ``cells.{k}.weight_ih`` (H, in),
    ``cells.{k}.weight_hh`` (H,), ``cells.{k}.bias_ih`` (H,); newer ``cells.{k}.{d}.*`` with
    ``d`` the direction; an all-zero ``h0`` buffer. The newer layout's batch norms ``bns.{k}.*``
    (``BatchNorm1d`` over batch and time after each layer) -> ``PlainIndRNN(batch_norm="after")``
    (one direction only). Their forward clamps ``|u|`` to ``hidden_max_abs``, which the file
    does not hold: pass it as ``recurrent_max`` and ``u`` is clamped the same way. Their examples
    keep the network under ``indrnn.`` with the readout ``lin.*``.
``haste``
    lmnt-com/haste ``IndRNN``: ``kernel`` (in, H) used as ``x @ kernel``, ``recurrent_scale``
    (H,), ``bias`` (H,); ``h = tanh(x @ kernel + bias + recurrent_scale ⊙ h_{t-1})``. One layer.
    Haste's zoneout (not in the file) changes its eval forward: convert only zoneout-0 models.
``torch-lstm``
    ``torch.nn.LSTM`` (``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}``,
    ``weight_hr_l{k}``, ``_reverse``; gates i, f, g, o) -> :class:`~indrnn.lstm.LSTM`, unchanged.
``torch-rnn``
    ``torch.nn.RNN`` with a diagonal ``weight_hh_l{k}`` (anything else is refused: a full
    recurrent matrix is no IndRNN) -> :class:`~indrnn.layers.IndRNN` with ``u = diag(W_hh)`` and
    ``b = b_ih + b_hh``; σ ``--nonlinearity`` (default tanh, ``nn.RNN``'s).

Common to all: a ``module.`` prefix on every name (``nn.DataParallel``) is dropped; the body may
sit under a prefix (found from the names, or given as ``prefix``); the readout is a linear layer
``{readout_prefix}.weight``/``.bias`` (``fc``, ``lin``, ``classifier``... are looked for, or the
one linear layer left over) read from the last step (``readout="last"``, as all the sources'
examples do) or from every step. Batch norms are taken to use ``BatchNorm1d``'s default
``eps=1e-5`` (the file does not hold it); dropout, a training-time setting, is 0.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from torch import Tensor, nn

from indrnn import checkpoint
from indrnn.checkpoint import MAX_JSON_BYTES, MAX_PARAMETERS, CheckpointError
from indrnn.registry import ConfigError, build, spec
from indrnn.sequence_model import READOUTS, SequenceModel

__all__ = ["KINDS", "ConversionError", "convert", "convert_file", "main", "read_source"]

KINDS = ("official", "stefoe", "haste", "torch-lstm", "torch-rnn")
SAFETENSORS_SUFFIXES = (".safetensors",)
TORCH_SUFFIXES = (".pt", ".pth")
BN_LOCATIONS = ("after", "before")
#: Names a readout is looked for under when ``readout_prefix`` is not given.
READOUT_NAMES = ("classifier", "lastfc", "lin", "fc", "linear", "head", "out", "output",
                 "readout", "decoder", "dense")
_DATA_PARALLEL = "module."
_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


class ConversionError(ValueError):
    """A source file or state dict that cannot be converted exactly; the message names the file,
    the tensor, what was expected and what was found."""


def max_source_bytes(max_parameters: int = MAX_PARAMETERS) -> int:
    """Largest source file read: ``max_parameters`` float64 weights plus a header's worth."""
    return 8 * max_parameters + MAX_JSON_BYTES


# --------------------------------------------------------------------------------------------
# Reading a source file


def read_source(path: str | os.PathLike, *, allow_torch_pickle: bool = False,
                max_parameters: int = MAX_PARAMETERS) -> dict[str, Tensor]:
    """The state dict in ``path``, read without running any of its code.

    Parameters
    ----------
    path : str or PathLike
        A ``.safetensors`` file, or (with ``allow_torch_pickle``) a ``.pt``/``.pth`` file read by
        ``torch.load(path, map_location="cpu", weights_only=True)``: a state dict, or a dict
        whose ``state_dict`` or ``model`` entry is one.
    allow_torch_pickle : bool
        Read ``.pt``/``.pth`` files. ``weights_only`` unpickles tensors and plain containers
        only, but it is still a pickle parser; safetensors is the safer format.
    max_parameters : int
        Refuse files of more weights (tensor elements) than this, or of more than
        :func:`max_source_bytes` bytes.

    Returns
    -------
    dict of str to Tensor

    Raises
    ------
    ConversionError
        Naming the file and the problem.
    """
    path = Path(path)
    where = str(path)
    suffix = path.suffix.lower()
    if suffix not in SAFETENSORS_SUFFIXES + TORCH_SUFFIXES:
        _fail(where, "file name", f"a name ending in one of "
              f"{list(SAFETENSORS_SUFFIXES + TORCH_SUFFIXES)}", repr(path.suffix or path.name))
    if suffix in TORCH_SUFFIXES and not allow_torch_pickle:
        raise ConversionError(
            f"{where}: format: expected a .safetensors file, found a torch pickle ({suffix}); "
            "convert it to safetensors (safetensors.torch.save_file(state_dict, ...)) or pass "
            "--allow-torch-pickle (allow_torch_pickle=True) to read it with "
            "torch.load(weights_only=True)")
    try:
        size = path.stat().st_size
    except OSError as exc:
        _fail(where, "file", "a readable file", exc.strerror or type(exc).__name__)
    limit = max_source_bytes(max_parameters)
    if size > limit:
        _fail(where, "size", f"at most {limit} bytes", f"{size} bytes")
    if suffix in SAFETENSORS_SUFFIXES:
        tensors = _read_safetensors(path, where, size, max_parameters)
    else:
        tensors = _read_torch(path, where)
    count = sum(t.numel() for t in tensors.values())
    if count > max_parameters:
        _fail(where, "tensors", f"at most {max_parameters} weights", count)
    return tensors


def _read_safetensors(path: Path, where: str, size: int,
                      max_parameters: int) -> dict[str, Tensor]:
    with open(path, "rb") as handle:
        head = handle.read(8)
    length = int.from_bytes(head, "little") if len(head) == 8 else -1
    if not 0 <= length <= min(MAX_JSON_BYTES, size - 8):
        _fail(where, "header length", f"an 8-byte length <= {min(MAX_JSON_BYTES, size - 8)}",
              length if length >= 0 else head)
    try:  # safetensors checks the header's offsets against the file before any data is read
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            slices = {key: handle.get_slice(key) for key in handle.keys()}  # noqa: SIM118
            count = sum(torch.Size(piece.get_shape()).numel() for piece in slices.values())
            if count > max_parameters:  # checked from the header, before reading the data
                _fail(where, "tensors", f"at most {max_parameters} weights", count)
            return {key: handle.get_tensor(key) for key in slices}
    except ConversionError:
        raise
    except Exception as exc:  # safetensors' own errors, reported as ours
        message = str(exc).replace(str(path), where).splitlines()[0] if str(exc) else ""
        raise ConversionError(f"{where}: header: expected a valid safetensors file, found "
                              f"{type(exc).__name__}: {message}") from exc


def _read_torch(path: Path, where: str) -> dict[str, Tensor]:
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError for any object beyond tensors and containers
        raise ConversionError(
            f"{where}: contents: expected what torch.load(weights_only=True) reads (tensors in "
            f"plain containers; save model.state_dict(), not the model), found "
            f"{_torch_load_problem(exc)}") from exc
    return _state_dict_of(loaded, where)


def _torch_load_problem(exc: Exception) -> str:
    """The gist of a ``torch.load`` error on one line: the refused class, if that is it."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))  # torch bolds part of its message
    refused = re.search(r"Unsupported global: GLOBAL (\S+)", text)
    if refused:
        return f"an object of class {refused.group(1)}"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    gist = next((line for line in lines if "error:" in line.lower()), lines[0] if lines else "")
    return f"{type(exc).__name__}: {gist[:300]}"


def _state_dict_of(loaded: Any, where: str) -> dict[str, Tensor]:
    """A plain state dict, or the one under a ``state_dict`` or ``model`` entry."""
    if not isinstance(loaded, Mapping):
        _fail(where, "contents", "a dict of tensors (a state dict)", type(loaded).__name__)
    for entry in ("state_dict", "model"):
        if isinstance(loaded.get(entry), Mapping):
            loaded, where = loaded[entry], f"{where}[{entry!r}]"
            break
    tensors = {}
    for key, value in loaded.items():
        if not isinstance(key, str):
            _fail(where, "contents", "string names", repr(key))
        if not isinstance(value, Tensor) or value.layout != torch.strided:
            _fail(where, f"entry {key!r}", "a dense tensor (a state dict holds only tensors)",
                  type(value).__name__)
        tensors[key] = value.detach()
    return tensors


# --------------------------------------------------------------------------------------------
# Taking the source's tensors by name


class _Source:
    """The source's tensors, taken by full name as a converter reads them.

    Every failed expectation raises :class:`ConversionError` naming the tensor; :meth:`rest`
    names what no converter step took.
    """

    def __init__(self, tensors: Mapping[str, Tensor], where: str):
        self.where = where
        self.tensors = dict(tensors)
        self.notes: list[str] = []
        self.last = ""  # the name :meth:`take` took last, for messages about its values

    def has(self, name: str) -> bool:
        return name in self.tensors

    def peek(self, name: str, dims: int, what: str) -> Tensor:
        """The tensor ``name`` without taking it (to read sizes off it); it must exist."""
        if name not in self.tensors:
            self.fail(name, f"a {dims}-D tensor ({what})", "none")
        tensor = self.tensors[name]
        if tensor.dim() != dims:
            self.fail(name, f"a {dims}-D tensor ({what})", f"shape {tuple(tensor.shape)}")
        return tensor

    def take(self, names: str | Sequence[str], shape: tuple[int, ...], what: str,
             optional: bool = False, floating: bool = True) -> Tensor | None:
        """Take the first of ``names`` present, of exactly ``shape``; ``None`` if ``optional``
        and none is."""
        names = [names] if isinstance(names, str) else list(names)
        name = next((n for n in names if n in self.tensors), None)
        expected = f"shape {shape} ({what})"
        if name is None:
            if optional:
                return None
            self.fail(names[0] if len(names) == 1 else names, expected, "none")
        tensor = self.tensors.pop(name)
        self.last = name
        if tuple(tensor.shape) != tuple(shape):
            self.fail(name, expected, f"shape {tuple(tensor.shape)}")
        if floating:
            if tensor.dtype not in _FLOAT_DTYPES:
                self.fail(name, f"a floating-point tensor ({what})", str(tensor.dtype))
            if not bool(tensor.isfinite().all()):
                self.fail(name, f"finite values ({what})", "NaN or Inf")
        return tensor

    def take_zeros(self, name: str, shape: tuple[int, ...], what: str) -> None:
        """Take an optional initial-state buffer, which our layers hold at 0."""
        tensor = self.take(name, shape, what, optional=True)
        if tensor is not None and bool(tensor.any()):
            self.fail(name, f"all zeros ({what}: the converted model starts from h = 0)",
                      f"nonzero values (largest |h0| {tensor.abs().max().item():.3g})")

    def count(self, pattern: str) -> int:
        """How many consecutive layers ``0, 1, ...`` have a tensor ``pattern.format(k=k)``."""
        layers = 0
        while pattern.format(k=layers) in self.tensors:
            layers += 1
        return layers

    def rest(self) -> list[str]:
        return sorted(self.tensors)

    def fail(self, name: str | list[str], expected: str, found: str) -> None:
        shown = repr(name) if isinstance(name, str) else f"one of {name}"
        raise ConversionError(f"{self.where}: tensor {shown}: expected {expected}, found {found}")


@dataclass
class _Body:
    """A converted body: its spec, its tensors under our names, and how it was read."""

    spec: dict[str, Any]
    tensors: dict[str, Tensor]
    features: int
    facts: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Options:
    nonlinearity: str | None
    bn_location: str | None
    recurrent_max: float | None


# --------------------------------------------------------------------------------------------
# The kinds


def _official(src: _Source, p: str, options: _Options) -> tuple[_Body, tuple[str, ...], bool]:
    if options.nonlinearity not in (None, "relu"):
        raise ConversionError(f"{src.where}: nonlinearity: expected relu (the official IndRNN "
                              f"kernels are ReLU only), found {options.nonlinearity!r}")
    plainnet = src.has(f"{p}DIs.0.fc.weight")
    if plainnet:
        weight, norm, cell = "DIs.{k}.fc.", "RNNs.{k}.norm1.bn.", "RNNs.{k}.indrnn1."
        readouts, network = ("classifier",), "Indrnn_plainnet"
    else:
        weight, norm, cell = "DIs.{k}.", "BNs.{k}.bn.", "RNNs.{k}."
        readouts, network = ("lastfc",), "Indrnn_mnist_network / Indrnn_action_network"
    location = options.bn_location or "after"
    if not plainnet and location != "after":
        raise ConversionError(f"{src.where}: bn_location: expected 'after' ({network} normalises "
                              f"after the recurrence, the only place it can), found "
                              f"{location!r}")
    first = src.peek(f"{p}{weight.format(k=0)}weight", 2, "layer 0's input weight "
                     "(hidden_size, input_size)")
    hidden, inputs = first.shape
    layers = src.count(f"{p}{weight}weight")
    tensors: dict[str, Tensor] = {}
    for k in range(layers):
        w, n, c = (p + s.format(k=k) for s in (weight, norm, cell))
        fan_in = inputs if k == 0 else hidden
        sizes = f"hidden_size {hidden} from {p}{weight.format(k=0)}weight"
        tensors[f"layers.{k}.weight.weight"] = src.take(
            f"{w}weight", (hidden, fan_in), f"layer {k}'s input weight, {sizes}")
        bias = src.take(f"{w}bias", (hidden,), f"layer {k}'s input bias", optional=True)
        bias = torch.zeros(hidden, dtype=first.dtype) if bias is None else bias
        tensors[f"layers.{k}.recurrence.weight_hh"] = _bounded(src, src.take(
            [f"{c}weight_hh", f"{c}indrnn_cell.weight_hh", f"{c}cells.0.weight_hh"], (hidden,),
            f"layer {k}'s recurrent weights u, {sizes}"), options.recurrent_max, clamp=False)
        src.take_zeros(f"{c}h0", (hidden,), f"layer {k}'s initial state")
        mean, bn = _batch_norm(src, n, hidden, f"layer {k}'s batch norm, {sizes}")
        if location == "before":  # BN(W x + b) = BN'(W x) with the running mean less b
            mean = mean - bias.to(mean.dtype)
        else:
            tensors[f"layers.{k}.weight.bias"] = bias
        tensors.update({f"layers.{k}.norm.{key}": value for key, value in bn.items()})
        tensors[f"layers.{k}.norm.running_mean"] = mean
    config = {"input_size": inputs, "hidden_size": hidden, "num_layers": layers,
              "batch_norm": location, "nonlinearity": "relu",
              "recurrent_max": options.recurrent_max}
    facts = {"source_network": network, "bn_location": location}
    if location == "before":
        src.notes.append("the input weights' biases are folded into the batch norms' running "
                         "means (our Weight before a batch norm has no bias)")
    return _Body(spec("PlainIndRNN", **config), tensors, hidden, facts), readouts, True


def _stefoe(src: _Source, p: str, options: _Options) -> tuple[_Body, tuple[str, ...], bool]:
    nested = src.has(f"{p}cells.0.0.weight_ih")
    cell = "cells.{k}.{d}." if nested else "cells.{k}."
    directions = 2 if nested and src.has(f"{p}cells.0.1.weight_ih") else 1
    first_name = f"{p}{cell.format(k=0, d=0)}weight_ih"
    first = src.peek(first_name, 2, "layer 0's input weight (hidden_size, input_size)")
    hidden, inputs = first.shape
    layers = src.count(f"{p}{cell.format(k='{k}', d=0)}weight_ih")
    bias = src.has(f"{p}{cell.format(k=0, d=0)}bias_ih")
    batch_norm = any(name.startswith(f"{p}bns.") for name in src.rest())
    if batch_norm and not nested:
        raise ConversionError(
            f"{src.where}: tensor {p + 'bns.0'!r}: expected no batch norm in the older "
            f"cells.{{k}}.weight_ih layout (its batch norm sat inside the step loop, feeding the "
            f"normalised state back, which no IndRNN reproduces), found batch norm tensors")
    if batch_norm and directions == 2:
        raise ConversionError(f"{src.where}: tensor {p + 'bns.0'!r}: expected no batch norm in a "
                              "bidirectional network (we have no bidirectional PlainIndRNN), "
                              "found batch norm tensors")
    nonlinearity = options.nonlinearity or "relu"
    src.take_zeros(f"{p}h0", (hidden * directions,), "the initial state")
    suffixes = ("", "_reverse")[:directions]
    sizes = f"hidden_size {hidden} from {first_name}"
    tensors: dict[str, Tensor] = {}
    for k in range(layers):
        fan_in = inputs if k == 0 else hidden * directions
        for d, suffix in enumerate(suffixes):
            c = p + cell.format(k=k, d=d)
            w = src.take(f"{c}weight_ih", (hidden, fan_in), f"layer {k}'s input weight, {sizes}")
            u = _bounded(src, src.take(f"{c}weight_hh", (hidden,),
                                       f"layer {k}'s recurrent weights u, {sizes}"),
                         options.recurrent_max, clamp=True)
            b = src.take(f"{c}bias_ih", (hidden,), f"layer {k}'s bias (present in layer 0)",
                         optional=not bias)
            if batch_norm:
                mean, bn = _batch_norm(src, f"{p}bns.{k}.", hidden, f"layer {k}'s batch norm")
                b = torch.zeros(hidden, dtype=w.dtype) if b is None else b
                tensors.update({f"layers.{k}.weight.weight": w, f"layers.{k}.weight.bias": b,
                                f"layers.{k}.recurrence.weight_hh": u,
                                f"layers.{k}.norm.running_mean": mean})
                tensors.update({f"layers.{k}.norm.{key}": value for key, value in bn.items()})
            else:
                tensors.update({f"weight_ih_l{k}{suffix}": w, f"weight_hh_l{k}{suffix}": u})
                if b is not None:
                    tensors[f"bias_ih_l{k}{suffix}"] = b
    facts = {"layout": "cells.{k}.{d}" if nested else "cells.{k}"}
    if batch_norm:
        body = spec("PlainIndRNN", input_size=inputs, hidden_size=hidden, num_layers=layers,
                    batch_norm="after", nonlinearity=nonlinearity,
                    recurrent_max=options.recurrent_max)
        return _Body(body, tensors, hidden, facts), ("lin",), False
    body = spec("IndRNN", input_size=inputs, hidden_size=hidden, num_layers=layers,
                nonlinearity=nonlinearity, bias=bias, bidirectional=directions == 2,
                recurrent_max=options.recurrent_max)
    return _Body(body, tensors, hidden * directions, facts), ("lin",), False


def _haste(src: _Source, p: str, options: _Options) -> tuple[_Body, tuple[str, ...], bool]:
    if options.nonlinearity not in (None, "tanh"):
        raise ConversionError(f"{src.where}: nonlinearity: expected tanh (haste's IndRNN is tanh "
                              f"only), found {options.nonlinearity!r}")
    kernel = src.peek(f"{p}kernel", 2, "the input kernel (input_size, hidden_size)")
    inputs, hidden = kernel.shape
    sizes = f"hidden_size {hidden} from {p}kernel"
    kernel = src.take(f"{p}kernel", (inputs, hidden), "the input kernel (input_size, hidden_size)")
    u = _bounded(src, src.take(f"{p}recurrent_scale", (hidden,), f"recurrent_scale u, {sizes}"),
                 options.recurrent_max, clamp=False)
    bias = src.take(f"{p}bias", (hidden,), f"the bias, {sizes}")
    tensors = {"weight_ih_l0": kernel.t().contiguous(), "weight_hh_l0": u, "bias_ih_l0": bias}
    body = spec("IndRNN", input_size=inputs, hidden_size=hidden, nonlinearity="tanh",
                recurrent_max=options.recurrent_max)
    src.notes.append("haste's zoneout is not in the file: the conversion is exact for zoneout 0")
    return _Body(body, tensors, hidden), (), False


def _torch_lstm(src: _Source, p: str, options: _Options) -> tuple[_Body, tuple[str, ...], bool]:
    if options.nonlinearity is not None:
        raise ConversionError(f"{src.where}: nonlinearity: expected none for an LSTM (its gates "
                              f"are fixed), found {options.nonlinearity!r}")
    first = src.peek(f"{p}weight_ih_l0", 2, "layer 0's input weights (4 * hidden_size, "
                     "input_size)")
    if first.shape[0] % 4:
        src.fail(f"{p}weight_ih_l0", "4 * hidden_size rows (gates i, f, g, o)",
                 f"shape {tuple(first.shape)}")
    hidden, inputs = first.shape[0] // 4, first.shape[1]
    directions = 2 if src.has(f"{p}weight_ih_l0_reverse") else 1
    bias = src.has(f"{p}bias_ih_l0")
    proj = src.peek(f"{p}weight_hr_l0", 2, "projection").shape[0] if src.has(
        f"{p}weight_hr_l0") else 0
    out = proj or hidden
    layers = src.count(f"{p}weight_ih_l{{k}}")
    sizes = f"hidden_size {hidden} from {p}weight_ih_l0"
    tensors: dict[str, Tensor] = {}
    for k in range(layers):
        fan_in = inputs if k == 0 else out * directions
        for suffix in ("", "_reverse")[:directions]:
            name = f"l{k}{suffix}"
            tensors[f"weight_ih_{name}"] = src.take(
                f"{p}weight_ih_{name}", (4 * hidden, fan_in), f"input weights, {sizes}")
            tensors[f"weight_hh_{name}"] = src.take(
                f"{p}weight_hh_{name}", (4 * hidden, out), f"recurrent weights, {sizes}")
            if bias:
                for kind in ("ih", "hh"):
                    tensors[f"bias_{kind}_{name}"] = src.take(
                        f"{p}bias_{kind}_{name}", (4 * hidden,), f"bias, {sizes}")
            if proj:
                tensors[f"weight_hr_{name}"] = src.take(
                    f"{p}weight_hr_{name}", (proj, hidden), f"projection, {sizes}")
    body = spec("LSTM", input_size=inputs, hidden_size=hidden, num_layers=layers, bias=bias,
                bidirectional=directions == 2, proj_size=proj)
    return _Body(body, tensors, out * directions), (), False


def _torch_rnn(src: _Source, p: str, options: _Options) -> tuple[_Body, tuple[str, ...], bool]:
    first = src.peek(f"{p}weight_ih_l0", 2, "layer 0's input weights (hidden_size, input_size)")
    hidden, inputs = first.shape
    directions = 2 if src.has(f"{p}weight_ih_l0_reverse") else 1
    bias = src.has(f"{p}bias_ih_l0")
    layers = src.count(f"{p}weight_ih_l{{k}}")
    sizes = f"hidden_size {hidden} from {p}weight_ih_l0"
    tensors: dict[str, Tensor] = {}
    for k in range(layers):
        fan_in = inputs if k == 0 else hidden * directions
        for suffix in ("", "_reverse")[:directions]:
            name = f"l{k}{suffix}"
            tensors[f"weight_ih_{name}"] = src.take(
                f"{p}weight_ih_{name}", (hidden, fan_in), f"input weights, {sizes}")
            matrix = src.take(f"{p}weight_hh_{name}", (hidden, hidden),
                              f"recurrent weights, {sizes}")
            off = matrix - torch.diag_embed(matrix.diagonal())
            if bool(off.any()):
                src.fail(f"{p}weight_hh_{name}", "a diagonal matrix (an nn.RNN with a full "
                         "recurrent matrix mixes its neurons, which no IndRNN reproduces; only "
                         "a diagonal W_hh converts)", f"nonzero off-diagonal entries (largest "
                         f"|w| {off.abs().max().item():.3g})")
            tensors[f"weight_hh_{name}"] = _bounded(src, matrix.diagonal().clone(),
                                                    options.recurrent_max, clamp=False)
            if bias:  # the two biases always add up: one bias of ours holds their sum
                tensors[f"bias_ih_{name}"] = (
                    src.take(f"{p}bias_ih_{name}", (hidden,), f"bias, {sizes}")
                    + src.take(f"{p}bias_hh_{name}", (hidden,), f"bias, {sizes}"))
    body = spec("IndRNN", input_size=inputs, hidden_size=hidden, num_layers=layers,
                nonlinearity=options.nonlinearity or "tanh", bias=bias,
                bidirectional=directions == 2, recurrent_max=options.recurrent_max)
    return _Body(body, tensors, hidden * directions), (), False


_Converter = Callable[[_Source, str, _Options], tuple[_Body, tuple[str, ...], bool]]
#: kind -> (converter, names whose ending shows where the body sits)
_KINDS: dict[str, tuple[_Converter, tuple[str, ...]]] = {
    "official": (_official, ("DIs.0.fc.weight", "DIs.0.weight")),
    "stefoe": (_stefoe, ("cells.0.0.weight_ih", "cells.0.weight_ih")),
    "haste": (_haste, ("recurrent_scale",)),
    "torch-lstm": (_torch_lstm, ("weight_ih_l0",)),
    "torch-rnn": (_torch_rnn, ("weight_ih_l0",)),
}


def _bounded(src: _Source, u: Tensor, bound: float | None, clamp: bool) -> Tensor:
    """``u`` (the tensor just taken) within ``|u| <= bound``: clamped where the source's forward
    clamps it (``clamp``), else checked, since the converted model must compute what the source
    computed."""
    if bound is None:
        return u
    if clamp:
        return u.clamp(-bound, bound)
    if bool((u.abs() > bound).any()):
        src.fail(src.last, f"|u| <= recurrent_max {bound}",
                 f"|u| up to {u.abs().max().item():.6g}")
    return u


def _batch_norm(src: _Source, n: str, size: int, what: str) -> tuple[Tensor, dict[str, Tensor]]:
    """A ``BatchNorm1d``'s tensors: the running mean, and weight, bias and running variance
    (affine defaults 1 and 0 where it has none). Without running statistics it normalises by
    the batch's in eval too, which no fixed model reproduces."""
    mean = src.take(f"{n}running_mean", (size,), f"{what}: running mean")
    var = src.take(f"{n}running_var", (size,), f"{what}: running variance")
    if bool((var < 0).any()):
        src.fail(f"{n}running_var", "values >= 0 (a variance)",
                 f"{var.min().item():.3g}")
    weight = src.take(f"{n}weight", (size,), f"{what}: weight", optional=True)
    bias = src.take(f"{n}bias", (size,), f"{what}: bias", optional=True)
    src.take(f"{n}num_batches_tracked", (), f"{what}: a training counter", optional=True,
             floating=False)
    return mean, {"running_var": var,
                  "weight": torch.ones(size, dtype=var.dtype) if weight is None else weight,
                  "bias": torch.zeros(size, dtype=var.dtype) if bias is None else bias}


def _prefix(src: _Source, kind: str, anchors: tuple[str, ...], given: str | None) -> str:
    """Where the body sits: ``given`` (with a trailing dot), else the one prefix that puts an
    anchor name in the file."""
    if given is not None:
        return given if given == "" or given.endswith(".") else given + "."
    for anchor in anchors:
        found = sorted({name[: -len(anchor)] for name in src.tensors if name.endswith(anchor)
                        and (name == anchor or name[: -len(anchor)].endswith("."))})
        if len(found) == 1:
            return found[0]
        if found:
            raise ConversionError(f"{src.where}: prefix: expected one {kind} network, found "
                                  f"{anchor!r} under {found}; pass --prefix (prefix=...) to "
                                  "pick one")
    names = src.rest()
    raise ConversionError(f"{src.where}: tensors: expected a state dict of kind {kind} (a "
                          f"tensor named like {' or '.join(repr(a) for a in anchors)}), found "
                          f"{names[:8]}{' ...' if len(names) > 8 else ''}")


def _readout(src: _Source, features: int, given: str | None, defaults: tuple[str, ...],
             required: bool) -> tuple[Tensor, Tensor | None, str] | None:
    """The source's linear readout ``(weight, bias, prefix)``, or ``None`` if it has none."""
    if given is not None:
        names = [given.removesuffix(".")]
    else:
        names = list(dict.fromkeys(defaults + READOUT_NAMES))
        left = [n.removesuffix(".weight") for n, t in src.tensors.items()
                if n.endswith(".weight") and t.dim() == 2 and t.shape[1] == features]
        if not any(f"{n}.weight" in src.tensors for n in names) and len(left) == 1:
            names = left  # the one linear layer left over, whatever it is called
    name = next((n for n in names if f"{n}.weight" in src.tensors), None)
    if name is None:
        if required or given is not None:
            src.fail(f"{names[0]}.weight", f"the readout's weight (num_outputs, {features})",
                     "none")
        return None
    weight = src.peek(f"{name}.weight", 2, f"the readout's weight (num_outputs, {features})")
    outputs = weight.shape[0]
    weight = src.take(f"{name}.weight", (outputs, features),
                      f"the readout's weight (num_outputs, {features} body features)")
    bias = src.take(f"{name}.bias", (outputs,), "the readout's bias", optional=True)
    return weight, bias, name


# --------------------------------------------------------------------------------------------
# Public API


def convert(kind: str, state_dict: Mapping[str, Tensor], *, nonlinearity: str | None = None,
            bn_location: str | None = None, prefix: str | None = None,
            readout_prefix: str | None = None, readout: str = "last",
            recurrent_max: float | None = None, source: str = "state dict") -> nn.Module:
    """Our model computing what the ``kind`` network of ``state_dict`` computes.

    Parameters
    ----------
    kind : {"official", "stefoe", "haste", "torch-lstm", "torch-rnn"}
        The implementation that wrote ``state_dict`` (see the module docstring).
    state_dict : mapping of str to Tensor
        Its tensors, by name. Every tensor must be used: unknown names are an error.
    nonlinearity : {"relu", "tanh"}, optional
        σ of ``stefoe`` (default relu) and ``torch-rnn`` (default tanh), which the file does not
        hold; for the other kinds only their own (or none, for the LSTM) is accepted.
    bn_location : {"after", "before"}, optional
        Where the ``official`` plain network's batch norm sits (its ``--bn_location``; the file
        does not say); default ``"after"``, their default.
    prefix : str, optional
        Where the body's tensors sit (``"indrnn."``, ``"lstm."``); found from the names if not
        given.
    readout_prefix : str, optional
        Name of the linear readout (``"fc"`` for ``fc.weight``/``fc.bias``); by default one of
        :data:`READOUT_NAMES` (for ``official``: ``classifier`` or ``lastfc``, required), or the
        one linear layer left over. Without a readout the bare body is returned.
    readout : {"last", "every"}
        Read the body's output at the last step (as the sources' examples do) or at every step.
    recurrent_max : float, optional
        The bound the source kept ``|u|`` within: stored in our config (so further training
        keeps it); ``stefoe``'s forward clamps ``u`` to it (``hidden_max_abs``), so we clamp
        too; for the others a ``|u|`` above it is an error.
    source : str
        What to call the state dict in messages (the file's name).

    Returns
    -------
    nn.Module
        A :class:`~indrnn.sequence_model.SequenceModel` (or the bare body), in eval mode, in the
        source's floating dtype (float32 if it mixes several).

    Raises
    ------
    ConversionError
        For an unknown kind or option, a missing, unknown, non-finite or wrongly shaped tensor,
        inconsistent sizes, or a network no model of ours reproduces exactly.
    """
    return _convert(kind, state_dict, nonlinearity=nonlinearity, bn_location=bn_location,
                    prefix=prefix, readout_prefix=readout_prefix, readout=readout,
                    recurrent_max=recurrent_max, source=source)[0]


def _convert(kind: str, state_dict: Mapping[str, Tensor], *, nonlinearity: str | None,
             bn_location: str | None, prefix: str | None, readout_prefix: str | None,
             readout: str, recurrent_max: float | None,
             source: str) -> tuple[nn.Module, dict[str, Any]]:
    """:func:`convert`, and the facts of the conversion for the card."""
    if kind not in _KINDS:
        raise ConversionError(f"{source}: kind: expected one of {list(KINDS)}, found {kind!r}")
    for name, value, allowed in (("nonlinearity", nonlinearity, (None, "relu", "tanh")),
                                 ("bn_location", bn_location, (None, *BN_LOCATIONS)),
                                 ("readout", readout, READOUTS)):
        if value not in allowed:
            raise ConversionError(f"{source}: {name}: expected one of "
                                  f"{[a for a in allowed if a]}, found {value!r}")
    if bn_location is not None and kind != "official":
        raise ConversionError(f"{source}: bn_location: expected none for {kind} (only the "
                              f"official network's batch norm can sit before or after), found "
                              f"{bn_location!r}")
    if recurrent_max is not None and (kind == "torch-lstm" or not (
            isinstance(recurrent_max, int | float) and math.isfinite(recurrent_max)
            and recurrent_max > 0)):
        raise ConversionError(f"{source}: recurrent_max: expected a number > 0 for an IndRNN "
                              f"kind, found {recurrent_max!r} for {kind}")
    tensors = dict(state_dict)
    for name, tensor in tensors.items():
        if not (isinstance(name, str) and isinstance(tensor, Tensor)):
            raise ConversionError(f"{source}: tensor {name!r}: expected a tensor under a string "
                                  f"name, found {type(tensor).__name__}")
    src = _Source(tensors, source)
    if tensors and all(name.startswith(_DATA_PARALLEL) for name in tensors):
        src.tensors = {name[len(_DATA_PARALLEL):]: t for name, t in tensors.items()}
        src.notes.append("the 'module.' prefix of nn.DataParallel was dropped")
    converter, anchors = _KINDS[kind]
    options = _Options(nonlinearity, bn_location, recurrent_max)
    where = _prefix(src, kind, anchors, prefix)
    body, defaults, required = converter(src, where, options)
    head = _readout(src, body.features, readout_prefix, defaults, required)
    left = src.rest()
    if left:
        raise ConversionError(f"{source}: tensors: expected only those of the {kind} network "
                              f"read ({_describe(body.spec)}{' + readout' if head else ''}), "
                              f"found unexpected {left[:10]}{' ...' if len(left) > 10 else ''}")
    used = list(body.tensors.values()) + ([t for t in head[:2] if t is not None] if head else [])
    floats = {t.dtype for t in used if t.dtype in _FLOAT_DTYPES}
    dtype = floats.pop() if len(floats) == 1 else torch.float32
    try:  # the registry's checks of the sizes read (caps, positive) name the config field
        if head is None:
            model, names = build(body.spec), body.tensors
        else:
            model = SequenceModel(body.spec, num_outputs=head[0].shape[0], readout=readout)
    except ConfigError as exc:
        raise ConversionError(f"{source}: the {kind} network read: {exc}") from exc
    if head is not None:  # the sources run time-major; SequenceModel takes (B, T, D)
        src.notes.append("the model takes batch-first input (B, T, input_size), where the "
                         f"{kind} network took time-major (T, B, input_size)")
        weight, bias, _ = head
        names = {f"body.{k}": v for k, v in body.tensors.items()}
        names["head.weight"] = weight
        names["head.bias"] = torch.zeros(weight.shape[0], dtype=weight.dtype) if bias is None \
            else bias
    model = model.to(dtype)
    model.load_state_dict({k: v.to(dtype) for k, v in names.items()}, strict=True)
    facts = {"kind": kind, "body": body.spec, "prefix": where,
             "readout": None if head is None else {"tensors": head[2], "reads": readout,
                                                    "num_outputs": int(head[0].shape[0])},
             **body.facts, "notes": src.notes}
    return model.eval(), facts


def _describe(body_spec: dict[str, Any]) -> str:
    config = body_spec["config"]
    text = f"{body_spec['architecture']} {config['num_layers']} x {config['hidden_size']}"
    if config.get("nonlinearity"):
        text += f", {config['nonlinearity']}"
    if config.get("batch_norm"):
        text += f", batch norm {config['batch_norm']}"
    if config.get("bidirectional"):
        text += ", bidirectional"
    if config.get("proj_size"):
        text += f", projection {config['proj_size']}"
    return text


def convert_file(kind: str, src: str | os.PathLike, out: str | os.PathLike, *,
                 allow_torch_pickle: bool = False, card: dict[str, Any] | None = None,
                 max_parameters: int = MAX_PARAMETERS, **options: Any) -> Path:
    """Convert the ``kind`` network in file ``src`` and save it as our checkpoint ``out``.

    Parameters
    ----------
    kind : str
        As for :func:`convert`.
    src : str or PathLike
        ``.safetensors``, or ``.pt``/``.pth`` with ``allow_torch_pickle`` (see
        :func:`read_source`).
    out : str or PathLike
        ``models/NAME`` (or ``NAME.json``): writes ``NAME.json`` and ``NAME.safetensors``.
    allow_torch_pickle : bool
        Read a ``.pt``/``.pth`` file with ``torch.load(weights_only=True)``.
    card : dict, optional
        Fields for the model card (``task``, ``description``, ``class_names``...). The card
        always gets ``converted_from`` (kind, file name, its SHA-256, notes), ``architecture``
        (what was read and built) and ``parameters``, whatever ``card`` says of them, and a
        ``name`` and ``description`` unless ``card`` gives its own; no ``task`` unless given.
    max_parameters : int
        Cap on the source's weights (see :func:`read_source`).
    **options
        ``nonlinearity``, ``bn_location``, ``prefix``, ``readout_prefix``, ``readout``,
        ``recurrent_max``: as for :func:`convert`.

    Returns
    -------
    Path
        The written JSON file.

    Raises
    ------
    ConversionError
        For a file that cannot be read or converted (see :func:`read_source`, :func:`convert`).
    CheckpointError
        If the checkpoint cannot be saved.
    """
    source = Path(src)
    target = Path(out)
    target = target.with_suffix("") if target.suffix in (".json", ".safetensors") else target
    weights = target.with_name(target.name + ".safetensors")
    if source.exists() and weights.exists() and source.resolve() == weights.resolve():
        _fail(str(source), "output", "an output other than the source file",
              f"{weights} (it would overwrite the source)")
    tensors = read_source(source, allow_torch_pickle=allow_torch_pickle,
                          max_parameters=max_parameters)
    model, facts = _convert(kind, tensors, source=str(source), **{
        "nonlinearity": None, "bn_location": None, "prefix": None, "readout_prefix": None,
        "readout": "last", "recurrent_max": None, **_known_options(options, str(source))})
    with open(source, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    notes = facts.pop("notes")
    ours = {"name": target.name,
            "converted_from": {"kind": kind, "file": source.name, "sha256": digest,
                               "tensors": len(tensors), "notes": notes},
            "architecture": facts,
            "parameters": sum(p.numel() for p in model.parameters()),
            "description": f"converted from {kind} ({source.name}): {_describe(facts['body'])}"
                           + (f", readout {facts['readout']['reads']} -> "
                              f"{facts['readout']['num_outputs']}" if facts["readout"] else "")}
    given = dict(card or {})
    facts_of_ours = ("converted_from", "architecture", "parameters")  # what the file holds
    merged = {**ours, **{k: v for k, v in given.items() if k not in facts_of_ours}}
    return checkpoint.save(model, target, merged)


def _known_options(options: dict[str, Any], where: str) -> dict[str, Any]:
    known = {"nonlinearity", "bn_location", "prefix", "readout_prefix", "readout",
             "recurrent_max"}
    unknown = sorted(options.keys() - known)
    if unknown:
        raise TypeError(f"convert_file() got unknown options {unknown}; known: {sorted(known)}")
    return options


def _fail(where: str, field_name: str, expected: Any, found: Any) -> None:
    found = found if isinstance(found, str) else repr(found)
    raise ConversionError(f"{where}: {field_name}: expected {expected}, found {found[:300]}")


# --------------------------------------------------------------------------------------------
# Command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="indrnn convert",
        description="Convert another implementation's IndRNN or LSTM state dict into an indrnn "
                    "checkpoint (OUT.json + OUT.safetensors), checked to compute the same "
                    "forward pass.")
    parser.add_argument("--from", dest="kind", required=True, choices=KINDS,
                        help="the implementation that wrote SRC")
    parser.add_argument("src", metavar="SRC", help="the source state dict: .safetensors, or "
                        ".pt/.pth with --allow-torch-pickle")
    parser.add_argument("out", metavar="OUT", help="the checkpoint to write: models/NAME")
    parser.add_argument("--allow-torch-pickle", action="store_true",
                        help="read a .pt/.pth file with torch.load(weights_only=True)")
    parser.add_argument("--nonlinearity", choices=("relu", "tanh"),
                        help="σ of stefoe (default relu) or torch-rnn (default tanh)")
    parser.add_argument("--bn-location", choices=BN_LOCATIONS,
                        help="official: batch norm after (default) or before the recurrence")
    parser.add_argument("--prefix", help="where the network's tensors sit, e.g. 'indrnn.'")
    parser.add_argument("--readout-prefix", help="name of the linear readout, e.g. 'fc'")
    parser.add_argument("--readout", choices=READOUTS, default="last",
                        help="read the last step (default) or every step")
    parser.add_argument("--recurrent-max", type=float,
                        help="the bound the source kept |u| within (stefoe: hidden_max_abs)")
    parser.add_argument("--task", help="the task the model solves, stored in its card")
    return parser


def main(argv: list[str] | None = None) -> int:
    """``indrnn convert --from KIND SRC OUT [...]``; returns 0, or 2 after a one-line error."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse has printed usage and the problem
        return int(exc.code or 0)
    card = {} if args.task is None else {"task": args.task}
    try:
        path = convert_file(args.kind, args.src, args.out,
                            allow_torch_pickle=args.allow_torch_pickle, card=card,
                            nonlinearity=args.nonlinearity, bn_location=args.bn_location,
                            prefix=args.prefix, readout_prefix=args.readout_prefix,
                            readout=args.readout, recurrent_max=args.recurrent_max)
    except (ConversionError, CheckpointError) as exc:
        print(f"indrnn convert: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"indrnn convert: error: {exc.filename or args.out}: {exc.strerror or exc}",
              file=sys.stderr)
        return 2
    print(f"wrote {path} and {path.with_suffix('.safetensors')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
