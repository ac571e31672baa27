"""Run a model once and keep every recurrent layer's states, without the caller adding hooks.

Layers of this library (``IndRNN``, ``IndRNNCell`` users excepted, and ``LSTM``) report their
internals to the active :class:`Recorder`, if there is one, while they run. :func:`record` opens a
recorder around one forward call and returns what every layer reported, time-major ``(T, B, N)``,
detached and on the CPU. Any ``nn.Module`` works, a user's own class included: ``torch.nn.LSTM``
layers inside it are read as :class:`indrnn.LSTM` (the same weights and equations) for the call,
so their gates are recorded too. Other PyTorch recurrent layers (``nn.RNN``, ``nn.GRU``) are not
recorded.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

_ACTIVE: contextvars.ContextVar[Recorder | None] = contextvars.ContextVar(
    "indrnn_active_recorder", default=None
)


@dataclass
class LayerRecord:
    """What one layer (one direction of one layer) did at every step.

    Attributes
    ----------
    name : str
        Qualified name, e.g. ``"rnn.l0"`` or ``"rnn.l1_reverse"``.
    kind : str
        ``"indrnn"`` or ``"lstm"``.
    hidden : Tensor
        ``(T, B, N)`` output state at every step.
    tensors : dict of str to Tensor
        The rest, each ``(T, B, N)`` unless noted. IndRNN: ``preactivation`` (``W x_t + b +
        u ⊙ h_{t-1}``), ``input_projection`` (``W x_t + b``, after any batch norm), and
        ``recurrent_weight`` (``(N,)``, the vector u). LSTM: ``input_gate``, ``forget_gate``,
        ``cell_candidate``, ``output_gate`` and ``cell``.
    """

    name: str
    kind: str
    hidden: Tensor
    tensors: dict[str, Tensor] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Tensor:
        return self.hidden if key == "hidden" else self.tensors[key]


@dataclass
class Recording:
    """The model's output and every layer's :class:`LayerRecord`, in the order they ran."""

    output: Any
    layers: dict[str, LayerRecord]

    def __getitem__(self, name: str) -> LayerRecord:
        return self.layers[name]


class LayerNames:
    """The recorded name of a layer running inside ``model``: its module's qualified name and
    the layer's suffix (``"body"`` + ``"l1"`` is ``"body.l1"``), as :func:`record` names it."""

    def __init__(self, model: nn.Module):
        self._names = {id(module): name for name, module in model.named_modules()}

    def __call__(self, module: nn.Module, suffix: str) -> str:
        prefix = self._names.get(id(module), type(module).__name__)
        return ".".join(part for part in (prefix, suffix) if part)


class Recorder:
    """Collects :class:`LayerRecord` objects from layers that run while it is active."""

    def __init__(self, model: nn.Module):
        self._name = LayerNames(model)
        self.layers: dict[str, LayerRecord] = {}
        self._token: contextvars.Token | None = None

    def __enter__(self) -> Recorder:
        self._token = _ACTIVE.set(self)
        return self

    def __exit__(self, *exc_info) -> None:
        _ACTIVE.reset(self._token)

    def add(self, module: nn.Module, suffix: str, kind: str, hidden: Tensor,
            **tensors: Tensor) -> str:
        """Keep one layer's states and return the name they are kept under. Called by layers."""
        name = self._name(module, suffix)
        if name in self.layers:  # the same module ran twice in one forward call
            name = f"{name}#{sum(key.startswith(name) for key in self.layers)}"
        keep = {key: value.detach().cpu() for key, value in tensors.items()}
        self.layers[name] = LayerRecord(name, kind, hidden.detach().cpu(), keep)
        return name


def active_recorder() -> Recorder | None:
    """The recorder of the enclosing :func:`record` call, or ``None``."""
    return _ACTIVE.get()


def record(model: nn.Module, *args: Any, grad: bool = False, **kwargs: Any) -> Recording:
    """Run ``model(*args, **kwargs)`` once and return its output with every layer's states.

    Parameters
    ----------
    model : nn.Module
        Any module built from this library's recurrent layers.
    grad : bool
        Keep autograd on during the run (off by default: recording is for reading).

    Examples
    --------
    >>> rnn = IndRNN(3, 8, num_layers=2)
    >>> rec = record(rnn, torch.randn(50, 4, 3))
    >>> rec["l1"].hidden.shape
    torch.Size([50, 4, 8])
    """
    with torch.set_grad_enabled(grad), _torch_lstms_read(model), Recorder(model) as recorder:
        output = model(*args, **kwargs)
    return Recording(output, recorder.layers)


@contextmanager
def _torch_lstms_read(model: nn.Module) -> Iterator[None]:
    """Every ``torch.nn.LSTM`` in ``model`` runs as :class:`indrnn.LSTM` inside the block.

    :class:`indrnn.LSTM` subclasses ``nn.LSTM`` and adds no state, so swapping the class is
    exact; outside a recorder its forward is ``nn.LSTM.forward`` itself, so another thread
    running the same module meanwhile computes the same result.
    """
    from indrnn.lstm import LSTM  # indrnn.lstm imports this module

    swapped = [module for module in model.modules() if type(module) is nn.LSTM]
    for module in swapped:
        module.__class__ = LSTM
    try:
        yield
    finally:
        for module in swapped:
            module.__class__ = nn.LSTM
