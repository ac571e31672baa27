"""Find every IndRNN layer of a model under the name :func:`indrnn.record` gives it.

An IndRNN layer lives either inside an :class:`~indrnn.layers.IndRNN` (layer ``k`` of module
``body`` is recorded as ``body.l{k}``, its backward direction ``body.l{k}_reverse``) or is an
:class:`~indrnn.layers.IndRNNRecurrence` of its own (``body.layers.3.recurrence``), whose input
projection (``Weight``, maybe batch norm) sits in the unit around it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from indrnn.layers import IndRNN, IndRNNRecurrence


def _join(*parts: str) -> str:
    return ".".join(part for part in parts if part)


@dataclass(frozen=True)
class IndRNNLayerRef:
    """Where one IndRNN layer's parameters are.

    Attributes
    ----------
    name : str
        The recorder's name for it.
    module : nn.Module
        The :class:`~indrnn.layers.IndRNN` or :class:`~indrnn.layers.IndRNNRecurrence` running it.
    index : int or None
        Layer index inside an ``IndRNN``; ``None`` for an ``IndRNNRecurrence``.
    suffix : str
        ``""`` or ``"_reverse"`` (the backward direction of a bidirectional ``IndRNN``).
    unit : nn.Module or None
        The module around an ``IndRNNRecurrence`` (a network unit holding its ``weight``).
    """

    name: str
    module: nn.Module
    index: int | None = None
    suffix: str = ""
    unit: nn.Module | None = None

    def _parameter(self, kind: str) -> Tensor | None:
        return getattr(self.module, f"{kind}_l{self.index}{self.suffix}")

    @property
    def u(self) -> Tensor:
        """The recurrent weights, ``(N,)`` (the live parameter: read, don't write)."""
        return self.module.weight_hh if self.index is None else self._parameter("weight_hh")

    @property
    def weight_ih(self) -> Tensor | None:
        """Input weights ``(N, D)``; ``None`` where the layer reads its input without a Weight."""
        if self.index is not None:
            return self._parameter("weight_ih")
        weight = getattr(self.unit, "weight", None)
        if getattr(self.unit, "weight_at", None) == "first" and isinstance(weight, nn.Linear):
            return weight.weight
        return None

    @property
    def bias(self) -> Tensor | None:
        """Input bias ``(N,)`` where there is one (not a batch norm's)."""
        if self.index is not None:
            return self._parameter("bias_ih")
        if self.weight_ih is None:
            return None
        return self.unit.weight.bias

    @property
    def recurrent_min(self) -> float | None:
        """The module's lower bound on ``|u|`` for this layer."""
        low = self.module.recurrent_min
        return low if self.index is None else low[self.index]

    @property
    def recurrent_max(self) -> float | None:
        """The module's upper bound on ``|u|`` for this layer."""
        high = self.module.recurrent_max
        return high if self.index is None else high[self.index]

    @property
    def nonlinearity(self) -> str:
        """``"relu"`` or ``"tanh"``."""
        return self.module.nonlinearity

    @property
    def hidden_size(self) -> int:
        """Neurons in the layer."""
        return int(self.u.shape[0])


def indrnn_layers(model: nn.Module) -> dict[str, IndRNNLayerRef]:
    """Every IndRNN layer inside ``model``, keyed by the name :func:`indrnn.record` gives it.

    Parameters
    ----------
    model : nn.Module
        Any module (a ``SequenceModel``, a network, an ``IndRNN``).

    Returns
    -------
    dict of str to IndRNNLayerRef
        In module registration order (which for a dense network differs from running order).

    Examples
    --------
    >>> list(indrnn_layers(IndRNN(2, 4, num_layers=2)))
    ['l0', 'l1']
    """
    found: dict[str, IndRNNLayerRef] = {}
    for prefix, module in model.named_modules():
        if isinstance(module, IndRNN):
            suffixes = module._suffixes()
            for index in range(module.num_layers):
                for suffix in suffixes:
                    name = _join(prefix, f"l{index}{suffix}")
                    found[name] = IndRNNLayerRef(name, module, index, suffix)
        elif isinstance(module, IndRNNRecurrence):
            parent = prefix.rpartition(".")[0]
            unit = model.get_submodule(parent) if prefix else None
            found[prefix] = IndRNNLayerRef(prefix, module, unit=unit)
    return found


def find_indrnn_layer(model: nn.Module, name: str) -> IndRNNLayerRef:
    """The IndRNN layer recorded as ``name``; ``KeyError`` listing the known names otherwise."""
    layers = indrnn_layers(model)
    if name not in layers:
        raise KeyError(f"no IndRNN layer {name!r} in the model; known: {', '.join(layers)}")
    return layers[name]


#: The gates of an LSTM layer in PyTorch's order (rows of ``weight_ih_l{k}``, ``H`` each).
LSTM_GATES = ("input", "forget", "cell", "output")


@dataclass(frozen=True)
class LSTMLayerRef:
    """Where one layer (one direction) of an :class:`torch.nn.LSTM` keeps its parameters.

    Attributes
    ----------
    name : str
        The recorder's name for it (``body.l0``, ``body.l0_reverse``).
    module : nn.LSTM
    index : int
        Layer index inside the LSTM.
    suffix : str
        ``""`` or ``"_reverse"``.
    """

    name: str
    module: nn.LSTM
    index: int
    suffix: str = ""

    def parameter(self, kind: str) -> Tensor | None:
        """``weight_ih``, ``weight_hh``, ``bias_ih`` or ``bias_hh`` of this layer (the live
        parameter), ``None`` without biases."""
        return getattr(self.module, f"{kind}_l{self.index}{self.suffix}", None)

    def gate_rows(self, gate: str, units: list[int]) -> Tensor:
        """The rows of ``units`` in ``gate``'s block of the layer's weights and biases."""
        offset = LSTM_GATES.index(gate) * self.hidden_size
        return torch.tensor(units, dtype=torch.int64) + offset

    @property
    def hidden_size(self) -> int:
        """Units in the layer."""
        return int(self.module.hidden_size)


def lstm_layers(model: nn.Module) -> dict[str, LSTMLayerRef]:
    """Every layer of every :class:`torch.nn.LSTM` inside ``model`` (this library's
    :class:`~indrnn.lstm.LSTM` included), keyed by the name :func:`indrnn.record` gives it."""
    found: dict[str, LSTMLayerRef] = {}
    for prefix, module in model.named_modules():
        if isinstance(module, nn.LSTM):
            for index in range(module.num_layers):
                for suffix in ("", "_reverse")[: 2 if module.bidirectional else 1]:
                    name = _join(prefix, f"l{index}{suffix}")
                    found[name] = LSTMLayerRef(name, module, index, suffix)
    return found
