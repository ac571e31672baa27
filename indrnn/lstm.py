"""An ``nn.LSTM`` whose gates can be read, to set beside IndRNN in interpretability work.

:class:`LSTM` is a :class:`torch.nn.LSTM`: same constructor, parameter names and ``state_dict``,
and its ``forward`` is ``nn.LSTM.forward`` (cuDNN / MKL included) unless a recorder of
:mod:`indrnn.record` is active. :meth:`LSTM.forward_with_gates` (and ``forward`` while recording)
runs the same equations step by step in PyTorch and keeps every gate, for every layer and
direction::

    i_t = σ(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)      input gate
    f_t = σ(W_if x_t + b_if + W_hf h_{t-1} + b_hf)      forget gate
    g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)   cell candidate
    o_t = σ(W_io x_t + b_io + W_ho h_{t-1} + b_ho)      output gate
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t                     cell
    h_t = o_t ⊙ tanh(c_t)    (then h_t = W_hr h_t when proj_size > 0)
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from indrnn.record import active_recorder
from indrnn.sequences import valid_steps

State = tuple[Tensor, Tensor]


@dataclass
class LSTMGates:
    """Every step of one direction of one LSTM layer, time-major ``(T, B, H)``.

    Time is always the first axis, whatever ``batch_first`` is, and the batch axis is kept (of
    size 1) for unbatched input. A reverse direction's tensors are indexed by input time too:
    step ``t`` of ``l0_reverse`` is the state after reading ``x_t``, coming from ``t + 1``.
    For a :class:`PackedSequence`, steps at or past a sequence's length are not steps of that
    sequence: they are zero in every tensor.

    Attributes
    ----------
    input_gate, forget_gate, output_gate : Tensor
        ``i_t``, ``f_t`` and ``o_t``, sigmoids in ``[0, 1]``, ``(T, B, hidden_size)``.
    cell_candidate : Tensor
        ``g_t``, a tanh in ``[-1, 1]``, ``(T, B, hidden_size)``.
    cell : Tensor
        Cell state ``c_t``, ``(T, B, hidden_size)``.
    hidden : Tensor
        The layer's output ``h_t`` for this direction, ``(T, B, proj_size or hidden_size)``.
    """

    input_gate: Tensor
    forget_gate: Tensor
    cell_candidate: Tensor
    output_gate: Tensor
    cell: Tensor
    hidden: Tensor

    def as_dict(self) -> dict[str, Tensor]:
        """The fields by name (tensors not copied), e.g. for ``Recorder.add(..., **as_dict())``."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


class LSTM(nn.LSTM):
    """:class:`torch.nn.LSTM` that can also return its gates.

    Takes exactly ``nn.LSTM``'s arguments and loads its ``state_dict``. Input of the wrong rank or
    feature size, or an ``hx`` of the wrong shape, raises ``ValueError`` before anything runs.

    Examples
    --------
    >>> lstm = LSTM(3, 8, num_layers=2, bidirectional=True)
    >>> output, (h_n, c_n), gates = lstm.forward_with_gates(torch.randn(50, 4, 3))
    >>> sorted(gates)
    ['l0', 'l0_reverse', 'l1', 'l1_reverse']
    >>> gates["l1"].forget_gate.shape
    torch.Size([50, 4, 8])
    """

    #: The constructor arguments a checkpoint keeps (``nn.LSTM`` takes ``*args, **kwargs``), and
    #: ``nn.LSTM``'s defaults for those that have one.
    CONFIG_KEYS = ("input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout",
                   "bidirectional", "proj_size")
    CONFIG_DEFAULTS: ClassVar[dict[str, Any]] = {
        "num_layers": 1, "bias": True, "batch_first": False, "dropout": 0.0,
        "bidirectional": False, "proj_size": 0}

    def forward(self, input: Tensor | PackedSequence, hx: State | None = None) -> Any:
        """``nn.LSTM.forward``; while a recorder is active, the gate path reports to it instead."""
        self._check(input, hx)
        if active_recorder() is None:
            return super().forward(input, hx)
        output, state, _ = self._forward_gates(input, hx)
        return output, state

    def forward_with_gates(
        self, input: Tensor | PackedSequence, hx: State | None = None
    ) -> tuple[Tensor | PackedSequence, State, dict[str, LSTMGates]]:
        """Run like ``forward`` and also return every step's gates.

        Parameters
        ----------
        input : Tensor or PackedSequence
            As for ``nn.LSTM``: ``(T, B, input_size)`` (``(B, T, input_size)`` if
            ``batch_first``), unbatched ``(T, input_size)``, or a packed sequence.
        hx : tuple of Tensor, optional
            ``(h_0, c_0)`` as for ``nn.LSTM``; zeros if not given.

        Returns
        -------
        output, (h_n, c_n)
            As ``nn.LSTM.forward`` returns them (equal up to float rounding).
        gates : dict of str to LSTMGates
            One entry per layer and direction, keyed ``"l{k}"`` and ``"l{k}_reverse"``, each
            time-major (see :class:`LSTMGates`). In training mode, dropout between layers is
            applied to the next layer's input, not to ``hidden``.
        """
        self._check(input, hx)
        return self._forward_gates(input, hx)

    def config(self) -> dict[str, Any]:
        """Constructor arguments as a JSON-safe dict, so that ``LSTM(**config)`` rebuilds it."""
        return {key: type(self.CONFIG_DEFAULTS.get(key, 0))(getattr(self, key))
                for key in self.CONFIG_KEYS}

    def _check(self, input: Tensor | PackedSequence, hx: State | None) -> None:
        packed = isinstance(input, PackedSequence)
        data = input.data if packed else input
        if packed:
            ok, expected, batch = data.dim() == 2, "packed data (N, {})", int(input.batch_sizes[0])
        else:
            ok = data.dim() in (2, 3)
            expected = "(B, T, {}) or (T, {})" if self.batch_first else "(T, B, {}) or (T, {})"
            batch = data.shape[0 if self.batch_first else 1] if data.dim() == 3 else None
        if not ok or data.shape[-1] != self.input_size:
            expected = expected.format(self.input_size, self.input_size)
            raise ValueError(f"LSTM expected input {expected}, got {tuple(data.shape)}")
        if hx is None:
            return
        if not (isinstance(hx, tuple | list) and len(hx) == 2):
            raise ValueError("LSTM expected hx to be a tuple (h_0, c_0)")
        layers = self.num_layers * (2 if self.bidirectional else 1)
        batch_dims = () if batch is None else (batch,)
        out_size = self.proj_size or self.hidden_size
        for name, value, size in (("h_0", hx[0], out_size), ("c_0", hx[1], self.hidden_size)):
            expected_shape = (layers, *batch_dims, size)
            if tuple(value.shape) != expected_shape:
                raise ValueError(
                    f"LSTM expected {name} of shape {expected_shape}, got {tuple(value.shape)}"
                )

    def _forward_gates(
        self, input: Tensor | PackedSequence, hx: State | None
    ) -> tuple[Tensor | PackedSequence, State, dict[str, LSTMGates]]:
        packed = isinstance(input, PackedSequence)
        unbatched = not packed and input.dim() == 2
        valid = None  # (T, B) bool, True where a packed step belongs to its sequence
        if packed:
            x, lengths = pad_packed_sequence(input)  # time-major, original batch order
            valid = valid_steps(lengths, x.shape[0]).to(x.device)
        elif unbatched:
            x = input.unsqueeze(1)
        else:
            x = input.transpose(0, 1) if self.batch_first else input
        if hx is None:
            layers = self.num_layers * (2 if self.bidirectional else 1)
            zeros = x.new_zeros(layers, x.shape[1], self.proj_size or self.hidden_size)
            hx = (zeros, x.new_zeros(layers, x.shape[1], self.hidden_size))
        elif unbatched:
            hx = (hx[0].unsqueeze(1), hx[1].unsqueeze(1))

        gates: dict[str, LSTMGates] = {}
        h_n: list[Tensor] = []
        c_n: list[Tensor] = []
        for layer in range(self.num_layers):
            outputs = []
            for reverse in (False, True)[: 2 if self.bidirectional else 1]:
                suffix = f"l{layer}_reverse" if reverse else f"l{layer}"
                index = len(h_n)
                gates[suffix], h, c = self._run(x, hx[0][index], hx[1][index], suffix, valid)
                outputs.append(gates[suffix].hidden)
                h_n.append(h)
                c_n.append(c)
            x = torch.cat(outputs, dim=-1) if len(outputs) > 1 else outputs[0]
            if self.training and self.dropout > 0 and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, training=True)

        recorder = active_recorder()
        if recorder is not None:
            for suffix, layer_gates in gates.items():
                recorder.add(self, suffix, "lstm", **layer_gates.as_dict())
        state = (torch.stack(h_n), torch.stack(c_n))
        if packed:
            output: Tensor | PackedSequence = _pack_like(x, input)
        elif unbatched:
            output, state = x.squeeze(1), (state[0].squeeze(1), state[1].squeeze(1))
        else:
            output = x.transpose(0, 1) if self.batch_first else x
        return output, state, gates

    def _run(
        self, x: Tensor, h: Tensor, c: Tensor, suffix: str, valid: Tensor | None
    ) -> tuple[LSTMGates, Tensor, Tensor]:
        """One direction of one layer over ``x`` ``(T, B, in)``, from state ``(h, c)``."""
        w_ih, w_hh = getattr(self, f"weight_ih_{suffix}"), getattr(self, f"weight_hh_{suffix}")
        w_hr = getattr(self, f"weight_hr_{suffix}") if self.proj_size > 0 else None
        projected = x @ w_ih.T
        if self.bias:
            projected = projected + getattr(self, f"bias_ih_{suffix}")
            projected = projected + getattr(self, f"bias_hh_{suffix}")
        steps = range(x.shape[0])
        # One unbind, not projected[t] per step: each indexing's backward would write a whole
        # (T, B, 4H) gradient, making backpropagation through time quadratic in T.
        per_step = projected.unbind(0)
        kept: list[list[Tensor]] = [[] for _ in fields(LSTMGates)]
        # Without autograd, write every step into preallocated tensors: one copy of the
        # recording instead of 6 T small tensors and then their stacks (half the peak memory).
        into = None if torch.is_grad_enabled() else (
            projected.new_empty((5, x.shape[0], *c.shape)),
            projected.new_empty((x.shape[0], *h.shape)))
        for t in reversed(steps) if suffix.endswith("_reverse") else steps:
            i, f, g, o = (per_step[t] + h @ w_hh.T).chunk(4, dim=-1)
            i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
            c_t = f * c + i * g
            h_t = o * c_t.tanh()
            if w_hr is not None:
                h_t = h_t @ w_hr.T
            step = [i, f, g, o, c_t, h_t]
            if valid is None:
                h, c = h_t, c_t
            else:  # past its length a sequence keeps its state and reports zeros
                ok = valid[t].unsqueeze(-1)
                h, c = torch.where(ok, h_t, h), torch.where(ok, c_t, c)
                step = [torch.where(ok, value, 0.0) for value in step]
            if into is not None:
                for k in range(5):
                    into[0][k, t] = step[k]
                into[1][t] = step[5]
                continue
            for values, value in zip(kept, step, strict=True):
                values.append(value)
        if into is not None:
            return LSTMGates(*into[0].unbind(0), into[1]), h, c
        if suffix.endswith("_reverse"):
            kept = [values[::-1] for values in kept]
        return LSTMGates(*(torch.stack(values) for values in kept)), h, c


@torch.no_grad()
def chrono_init_(lstm: nn.LSTM, max_timescale: float) -> nn.LSTM:
    """Chrono initialisation of the gate biases (Tallec & Ollivier, ICLR 2018), in place.

    Each unit's forget-gate bias is drawn as ``log(U(1, max_timescale - 1))`` and its input-gate
    bias is its negative; the other biases are zero. A unit's forget gate then starts near
    ``1 - 1/τ`` with ``τ`` spread over ``[2, max_timescale]``, so that some cells carry their
    state over the whole sequence from the first step on. PyTorch's default (biases near 0,
    forget gates near 1/2) forgets within a few steps, which leaves an LSTM reading only the last
    step of a 784-step sequence at chance.

    Parameters
    ----------
    lstm : nn.LSTM
        Any ``nn.LSTM`` with ``bias=True`` (gate order i, f, g, o as PyTorch's).
    max_timescale : float
        The longest dependency to expect, in steps (> 2), e.g. the sequence length.

    Returns
    -------
    nn.LSTM
        ``lstm``, for chaining. Uses the global torch RNG (seed it for reproducibility).
    """
    if not lstm.bias:
        raise ValueError("chrono initialisation sets biases; this LSTM has bias=False")
    if not max_timescale > 2:
        raise ValueError(f"max_timescale must be > 2 steps, got {max_timescale}")
    hidden = lstm.hidden_size
    for name, bias in lstm.named_parameters():
        if not name.startswith("bias_"):
            continue
        bias.zero_()
        if name.startswith("bias_ih"):  # b_hh stays zero: the two are summed
            forget = torch.empty(hidden).uniform_(1, max_timescale - 1).log_()
            bias[hidden:2 * hidden] = forget
            bias[:hidden] = -forget
    return lstm


def _pack_like(x: Tensor, like: PackedSequence) -> PackedSequence:
    """Pack time-major ``x`` ``(T, B, F)`` (original batch order) exactly as ``like`` is packed."""
    if like.sorted_indices is not None:
        x = x[:, like.sorted_indices]
    batch = torch.arange(x.shape[1]).unsqueeze(0)
    keep = (batch < like.batch_sizes.unsqueeze(1)).to(x.device)
    return PackedSequence(x[keep], like.batch_sizes, like.sorted_indices, like.unsorted_indices)
