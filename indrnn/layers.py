"""IndRNN layers shaped like ``torch.nn.RNN``: ``h_t = σ(W x_t + b + u ⊙ h_{t-1})``.

* :class:`IndRNN`: multi-layer, bidirectional, packed sequences, ``(output, h_n)`` returns, and
  parameters named as in ``nn.RNN`` (``weight_ih_l{k}``, ``weight_hh_l{k}`` — here the vector u —
  and ``bias_ih_l{k}``, with ``_reverse`` for the backward direction).
* :class:`IndRNNCell`: one step at a time, numerically identical to the layer.
* :class:`IndRNNRecurrence`: the recurrence alone (u and σ), for blocks that normalise ``W x_t``
  before it ("Weight–BN–IndRNN+ReLU" in the Deep IndRNN paper).

Each projection ``W x_t`` of all steps is one matrix product; the recurrence over all steps is
one autograd node (:func:`indrnn.recurrence.indrnn_recurrence`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from indrnn.bounds import (
    Bound,
    check_bounds,
    clamp_recurrent_weight_,
    init_recurrent_weight_,
    per_layer,
)
from indrnn.interventions import active_edits, active_patch
from indrnn.kernels import NONLINEARITIES
from indrnn.record import active_recorder
from indrnn.recurrence import BACKENDS, indrnn_recurrence
from indrnn.sequences import (
    from_time_major,
    last_step,
    reverse_time,
    time_dropout,
    to_time_major,
    valid_steps,
)


def _check_nonlinearity(nonlinearity: str) -> None:
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}")


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")


@torch.no_grad()
def init_input_weight_(weight: Tensor, nonlinearity: str, std: float | None = None) -> Tensor:
    """``W ~ N(0, std)`` if ``std`` is given (the paper's adding problem: 0.001), else He-uniform
    (fan-in), as the official PyTorch code uses Kaiming."""
    if std is not None:
        return nn.init.normal_(weight, 0.0, std)
    return nn.init.kaiming_uniform_(weight, nonlinearity=nonlinearity)


def run_direction(owner: nn.Module, suffix: str, a: Tensor, u: Tensor, h0: Tensor,
                  nonlinearity: str, backend: str, lengths: Tensor | None = None,
                  reverse: bool = False) -> tuple[Tensor, Tensor]:
    """Run one direction of one layer on its projection ``a`` (``(T, B, N)``, input time order).

    Returns the states in input time order and each sequence's final state (at its own last
    step for variable ``lengths``; for ``reverse``, after reading back to the first step).
    Reports the layer, in input time order, to an active recorder.
    """
    a_run = reverse_time(a, lengths) if reverse else a
    h_run = indrnn_recurrence(a_run, u, h0, nonlinearity, backend)
    edits = active_edits()
    if edits is not None:  # batched ablation: one neuron per batch element silenced or memoryless
        h_run = edits.edit(owner, suffix, a_run, h_run, nonlinearity)
    patch = active_patch()
    if patch is not None:  # interchange: chosen neurons take another run's states
        h_run = patch.patch(owner, suffix, a_run, u, h_run, nonlinearity, reverse)
    h = reverse_time(h_run, lengths) if reverse else h_run
    recorder = active_recorder()
    if recorder is not None:
        preactivation = a_run + u * torch.cat([h0.unsqueeze(0), h_run[:-1]], 0)
        if reverse:
            preactivation = reverse_time(preactivation, lengths)
        recorder.add(owner, suffix, "indrnn", hidden=h, preactivation=preactivation,
                     input_projection=a, recurrent_weight=u)
    return h, last_step(h_run, lengths)


class IndRNNCell(nn.Module):
    """One IndRNN step: ``h' = σ(W x + b + u ⊙ h)``.

    Parameters
    ----------
    input_size, hidden_size : int
    bias : bool
        Learn ``b`` (``bias_ih``).
    nonlinearity : {"relu", "tanh"}
    recurrent_min, recurrent_max : float, optional
        Bounds on ``|u|``, applied by :meth:`clamp_recurrent_` and used for the initialisation
        ``u ~ U(recurrent_min or 0, recurrent_max or 1)``.
    backend : {"auto", "reference", "cpu", "gpu"}
        Kernel for the step: the layer's, so the two agree to float rounding (the matrix product
        may round differently for one step than for a whole sequence).

    Shapes: ``input`` ``(B, input_size)`` or ``(input_size,)``; ``hx`` likewise with
    ``hidden_size``; returns ``h'`` of ``hx``'s shape.
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "relu", recurrent_min: float | None = None,
                 recurrent_max: float | None = None, backend: str = "auto",
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        _check_nonlinearity(nonlinearity)
        _check_backend(backend)
        check_bounds(recurrent_min, recurrent_max)
        factory = {"device": device, "dtype": dtype}
        self.input_size, self.hidden_size = input_size, hidden_size
        self.nonlinearity, self.backend = nonlinearity, backend
        self.recurrent_min, self.recurrent_max = recurrent_min, recurrent_max
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, **factory))
        self.bias_ih = nn.Parameter(torch.empty(hidden_size, **factory)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init_input_weight_(self.weight_ih, self.nonlinearity)
        init_recurrent_weight_(self.weight_hh, self.recurrent_min, self.recurrent_max)
        if self.bias_ih is not None:
            nn.init.zeros_(self.bias_ih)

    def clamp_recurrent_(self) -> None:
        """Clamp ``|u|`` into the bounds; call after each optimizer step."""
        clamp_recurrent_weight_(self.weight_hh, self.recurrent_min, self.recurrent_max)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        if input.dim() not in (1, 2) or input.shape[-1] != self.input_size:
            raise ValueError(
                f"input must be (B, {self.input_size}) or ({self.input_size},), "
                f"got shape {tuple(input.shape)}"
            )
        unbatched = input.dim() == 1
        x = input.unsqueeze(0) if unbatched else input
        if hx is None:
            hx = x.new_zeros(x.shape[0], self.hidden_size)
        else:
            expected = (self.hidden_size,) if unbatched else (x.shape[0], self.hidden_size)
            if tuple(hx.shape) != expected:
                raise ValueError(f"hx must have shape {expected}, got {tuple(hx.shape)}")
            hx = hx.unsqueeze(0) if unbatched else hx
        # Same projection and kernel as IndRNN, on a one-step sequence.
        a = F.linear(x.unsqueeze(0), self.weight_ih, self.bias_ih)
        h = indrnn_recurrence(a, self.weight_hh, hx, self.nonlinearity, self.backend)[0]
        return h.squeeze(0) if unbatched else h

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, nonlinearity={self.nonlinearity!r}"


class IndRNNRecurrence(nn.Module):
    """The recurrence alone, ``h_t = σ(a_t + u ⊙ h_{t-1})``, on a given projection ``a``.

    Holds only ``weight_hh`` (u, shape ``(hidden_size,)``). ``forward(a, hx=None)`` takes
    ``a`` of shape ``(T, B, N)`` and returns ``(output, h_n)``.
    """

    def __init__(self, hidden_size: int, nonlinearity: str = "relu",
                 recurrent_min: float | None = None, recurrent_max: float | None = None,
                 backend: str = "auto", device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None):
        super().__init__()
        _check_nonlinearity(nonlinearity)
        _check_backend(backend)
        check_bounds(recurrent_min, recurrent_max)
        self.hidden_size, self.nonlinearity, self.backend = hidden_size, nonlinearity, backend
        self.recurrent_min, self.recurrent_max = recurrent_min, recurrent_max
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init_recurrent_weight_(self.weight_hh, self.recurrent_min, self.recurrent_max)

    def clamp_recurrent_(self) -> None:
        """Clamp ``|u|`` into the bounds; call after each optimizer step."""
        clamp_recurrent_weight_(self.weight_hh, self.recurrent_min, self.recurrent_max)

    def forward(self, a: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if a.dim() != 3 or a.shape[-1] != self.hidden_size:
            raise ValueError(f"a must be (T, B, {self.hidden_size}), got shape {tuple(a.shape)}")
        h0 = a.new_zeros(a.shape[1], self.hidden_size) if hx is None else hx
        return run_direction(self, "", a, self.weight_hh, h0, self.nonlinearity, self.backend)

    def extra_repr(self) -> str:
        return f"{self.hidden_size}, nonlinearity={self.nonlinearity!r}"


class IndRNN(nn.Module):
    r"""Multi-layer IndRNN, a drop-in for ``torch.nn.RNN``.

    For each layer and step: :math:`h_t = \sigma(W x_t + b + u \odot h_{t-1})`, with ``u`` a vector:
    neurons of a layer do not talk to each other; they mix through the next layer's ``W``.

    Parameters
    ----------
    input_size, hidden_size, num_layers, bias, batch_first, bidirectional
        As in ``nn.RNN``.
    nonlinearity : {"relu", "tanh"}
        ``relu`` as in the paper.
    dropout : float
        Dropout on the outputs of every layer but the last, with one mask per sequence shared
        over time (as the paper; ``nn.RNN`` draws a new mask at every step).
    input_weight_std : float, optional
        Initialise every ``W`` from ``N(0, input_weight_std)`` (the paper's adding problem uses
        0.001) instead of He-uniform.
    recurrent_min, recurrent_max : float or sequence of float, optional
        Bounds on ``|u|`` — one value for all layers or one per layer — applied by
        :meth:`clamp_recurrent_` (call it after each optimizer step, or see
        :func:`indrnn.clamp_after_each_step`) and used to initialise ``u ~ U(min or 0, max or 1)``.
        The paper: ``recurrent_max = γ^{1/T}`` (:func:`indrnn.recurrent_bound`), and for
        classification from the last step ``recurrent_min = ε^{1/T}`` on the last layer only,
        e.g. ``recurrent_min=[None, None, eps_bound]``.
    backend : {"auto", "reference", "cpu", "gpu"}
        Kernel for the recurrence (see :func:`indrnn.recurrence.select_backend`).

    Inputs: ``input`` ``(T, B, input_size)``, ``(B, T, input_size)`` with ``batch_first``,
    unbatched ``(T, input_size)``, or a ``PackedSequence``; ``hx`` ``(num_layers * D, B,
    hidden_size)`` (``D = 2`` if bidirectional), zeros if omitted.

    Outputs: ``output`` (input's layout, ``D * hidden_size`` features) and ``h_n``
    ``(num_layers * D, B, hidden_size)``; for packed input each sequence's state at its own last
    step. NaN or Inf in the input propagate to the outputs, as in ``nn.RNN``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "relu", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False,
                 recurrent_min: Bound = None, recurrent_max: Bound = None,
                 input_weight_std: float | None = None, backend: str = "auto",
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        _check_nonlinearity(nonlinearity)
        _check_backend(backend)
        if input_weight_std is not None and not input_weight_std > 0:
            raise ValueError(f"input_weight_std must be > 0, got {input_weight_std}")
        self.input_weight_std = input_weight_std
        if input_size < 1 or hidden_size < 1 or num_layers < 1:
            raise ValueError("input_size, hidden_size and num_layers must be positive, got "
                             f"{input_size}, {hidden_size}, {num_layers}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.nonlinearity, self.bias, self.batch_first = nonlinearity, bias, batch_first
        self.dropout, self.bidirectional, self.backend = dropout, bidirectional, backend
        self.recurrent_min = per_layer(recurrent_min, num_layers, "recurrent_min")
        self.recurrent_max = per_layer(recurrent_max, num_layers, "recurrent_max")
        for low, high in zip(self.recurrent_min, self.recurrent_max):
            check_bounds(low, high)
        factory = {"device": device, "dtype": dtype}
        directions = 2 if bidirectional else 1
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * directions
            for suffix in self._suffixes():
                name = f"l{layer}{suffix}"
                weight_ih = torch.empty(hidden_size, layer_input, **factory)
                self.register_parameter(f"weight_ih_{name}", nn.Parameter(weight_ih))
                weight_hh = torch.empty(hidden_size, **factory)
                self.register_parameter(f"weight_hh_{name}", nn.Parameter(weight_hh))
                bias_ih = nn.Parameter(torch.empty(hidden_size, **factory)) if bias else None
                self.register_parameter(f"bias_ih_{name}", bias_ih)
        self.reset_parameters()

    def _suffixes(self) -> tuple[str, ...]:
        return ("", "_reverse") if self.bidirectional else ("",)

    def _layer_parameters(self, layer: int, suffix: str) -> tuple[Tensor, Tensor, Tensor | None]:
        name = f"l{layer}{suffix}"
        return (getattr(self, f"weight_ih_{name}"), getattr(self, f"weight_hh_{name}"),
                getattr(self, f"bias_ih_{name}"))

    def reset_parameters(self) -> None:
        for layer in range(self.num_layers):
            for suffix in self._suffixes():
                weight_ih, weight_hh, bias_ih = self._layer_parameters(layer, suffix)
                init_input_weight_(weight_ih, self.nonlinearity, self.input_weight_std)
                init_recurrent_weight_(weight_hh, self.recurrent_min[layer],
                                       self.recurrent_max[layer])
                if bias_ih is not None:
                    nn.init.zeros_(bias_ih)

    def clamp_recurrent_(self) -> None:
        """Clamp every ``|u|`` into its layer's bounds; call after each optimizer step."""
        for layer in range(self.num_layers):
            for suffix in self._suffixes():
                clamp_recurrent_weight_(self._layer_parameters(layer, suffix)[1],
                                        self.recurrent_min[layer], self.recurrent_max[layer])

    def config(self) -> dict:
        """Constructor arguments as JSON-safe values: ``IndRNN(**rnn.config())`` rebuilds it."""
        return {
            "input_size": self.input_size, "hidden_size": self.hidden_size,
            "num_layers": self.num_layers, "nonlinearity": self.nonlinearity, "bias": self.bias,
            "batch_first": self.batch_first, "dropout": self.dropout,
            "bidirectional": self.bidirectional, "recurrent_min": self.recurrent_min,
            "recurrent_max": self.recurrent_max, "input_weight_std": self.input_weight_std,
        }

    def forward(self, input: Tensor | PackedSequence,
                hx: Tensor | None = None) -> tuple[Tensor | PackedSequence, Tensor]:
        weight = self.weight_ih_l0
        layout = to_time_major(input, self.input_size, self.batch_first, weight.dtype,
                               weight.device)
        x, lengths = layout.data, layout.lengths
        hx = self._initial_state(hx, layout)
        directions = len(self._suffixes())
        finals = []
        for layer in range(self.num_layers):
            outputs = []
            for d, suffix in enumerate(self._suffixes()):
                weight_ih, u, bias_ih = self._layer_parameters(layer, suffix)
                h, h_last = run_direction(
                    self, f"l{layer}{suffix}", F.linear(x, weight_ih, bias_ih), u,
                    hx[layer * directions + d], self.nonlinearity, self.backend, lengths,
                    reverse=bool(suffix),
                )
                outputs.append(h)
                finals.append(h_last)
            x = outputs[0] if directions == 1 else torch.cat(outputs, -1)
            if layer < self.num_layers - 1:
                x = time_dropout(x, self.dropout, self.training)
        h_n = torch.stack(finals, 0)
        if layout.packed is not None:
            x = x * self._valid_steps(x, lengths)
            if layout.packed.unsorted_indices is not None:
                h_n = h_n.index_select(1, layout.packed.unsorted_indices)
        elif layout.unbatched:
            h_n = h_n.squeeze(1)
        return from_time_major(x, layout), h_n

    @staticmethod
    def _valid_steps(x: Tensor, lengths: Tensor) -> Tensor:
        return valid_steps(lengths.to(x.device), x.shape[0]).unsqueeze(-1).to(x.dtype)

    def _initial_state(self, hx: Tensor | None, layout) -> Tensor:
        states = self.num_layers * len(self._suffixes())
        batch = layout.data.shape[1]
        if hx is None:
            return layout.data.new_zeros(states, batch, self.hidden_size)
        expected = (states, self.hidden_size) if layout.unbatched else (
            states, batch, self.hidden_size)
        if tuple(hx.shape) != expected:
            raise ValueError(f"hx must have shape {expected}, got {tuple(hx.shape)}")
        if layout.unbatched:
            return hx.unsqueeze(1)
        if layout.packed is not None and layout.packed.sorted_indices is not None:
            return hx.index_select(1, layout.packed.sorted_indices)
        return hx

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}"
        text += f", nonlinearity={self.nonlinearity!r}"
        if self.bidirectional:
            text += ", bidirectional=True"
        if self.batch_first:
            text += ", batch_first=True"
        return text
