"""Change one IndRNN layer's states while a model runs: per batch element (:class:`NeuronEdits`),
or to the states of another run (:class:`StatePatch`).

Neurons of an IndRNN layer are independent: neuron ``n``'s states depend on its own input
projection and its own ``u`` only. So silencing it (``h = 0``) or taking its memory (``u = 0``, so
``h_t = σ(a_t)``) changes its column of the layer's states and nothing else in the layer, and what
reads the layer sees the change. :class:`NeuronEdits` does this per batch element: copy ``b``
of the batch gets neuron ``neurons[b]`` edited. One forward pass then ablates many neurons at
once (:func:`indrnn.analysis.rank_neurons`), exactly as one model run per neuron would.

Layers of this library apply the active edits as they run (``indrnn.layers.run_direction``), the
same way they report to a :class:`indrnn.record.Recorder`.
"""

from __future__ import annotations

import contextvars

import torch
from torch import Tensor, nn

from indrnn.kernels.reference import activate
from indrnn.record import LayerNames
from indrnn.recurrence import indrnn_recurrence

_ACTIVE: contextvars.ContextVar[NeuronEdits | None] = contextvars.ContextVar(
    "indrnn_active_edits", default=None)

EDIT_MODES = ("silence", "memory")


class NeuronEdits:
    """While active (``with NeuronEdits(...):``), edit one neuron per batch element of a layer.

    Parameters
    ----------
    model : nn.Module
        The model whose layer is edited (names are qualified as :func:`indrnn.record` names them:
        ``"body.l1"``, ``"body.layers.3.recurrence"``).
    layer : str
        The recorded IndRNN layer.
    neurons : Tensor
        ``(B,)`` the neuron to edit in each batch element; ``-1`` for none (the original).
    mode : {"silence", "memory"}
        ``h = 0`` at every step, or ``u = 0`` (``h_t = σ(a_t)``).
    copies : int
        With ``copies > 1`` the model runs on the batch once up to the edited layer, which
        tiles its states ``copies`` times (copy ``k``: rows ``k·B .. (k+1)·B``) before the edits:
        what precedes the layer is computed once, not per copy. Only for models whose later
        layers read nothing but that layer's states (or broadcast a batch of one); otherwise run
        with ``copies=1`` on an input tiled by the caller.
    """

    def __init__(self, model: nn.Module, layer: str, neurons: Tensor, mode: str = "silence",
                 copies: int = 1):
        if mode not in EDIT_MODES:
            raise ValueError(f"mode must be one of {EDIT_MODES}, got {mode!r}")
        self._name = LayerNames(model)
        self.layer, self.mode, self.copies = layer, mode, copies
        self.neurons = torch.as_tensor(neurons, dtype=torch.int64)
        self.applied = 0
        self._token: contextvars.Token | None = None

    def __enter__(self) -> NeuronEdits:
        self._token = _ACTIVE.set(self)
        return self

    def __exit__(self, *exc_info) -> None:
        _ACTIVE.reset(self._token)

    def edit(self, module: nn.Module, suffix: str, a: Tensor, h: Tensor,
             nonlinearity: str) -> Tensor:
        """The states ``h`` (``(T, B, N)``, computed from projection ``a``) of ``module``'s layer
        ``suffix`` with this batch's edits, if it is the edited layer; else ``h`` unchanged."""
        if self._name(module, suffix) != self.layer:
            return h
        rows = h.shape[1]
        edited = h.repeat(1, self.copies, 1) if self.copies > 1 else h.clone()
        if edited.shape[1] != len(self.neurons):
            raise ValueError(f"{self.layer}: {len(self.neurons)} edits for a batch of "
                             f"{edited.shape[1]}")
        batch = torch.nonzero(self.neurons >= 0).flatten().to(h.device)
        columns = self.neurons.to(h.device)[batch]
        if self.mode == "silence":
            edited[:, batch, columns] = 0.0
        else:  # row k·B + b of the tiled batch is row b of the layer's own
            edited[:, batch, columns] = activate(a[:, batch % rows, columns], nonlinearity)
        self.applied += 1
        return edited


def active_edits() -> NeuronEdits | None:
    """The edits of the enclosing ``with NeuronEdits(...)`` block, or ``None``."""
    return _ACTIVE.get()


_PATCH: contextvars.ContextVar[StatePatch | None] = contextvars.ContextVar(
    "indrnn_active_patch", default=None)


class StatePatch:
    """While active (``with StatePatch(...):``), give neurons of one layer other states.

    Interchange intervention (activation patching): over ``window`` the neurons take the states
    ``states`` (typically theirs on another input); after the window they run on from the last
    patched state, by their own recurrence (``h_t = σ(a_t + u h_{t-1})``) on this input's
    projection. The rest of the layer is untouched (the neurons are independent), and what
    reads the layer sees the patched states.

    Parameters
    ----------
    model : nn.Module
        The model that runs (layer names as :func:`indrnn.record` gives them).
    layer : str
        A forward-direction IndRNN layer.
    neurons : sequence of int
        The neurons patched.
    states : Tensor
        ``(T, B, len(neurons))``, in time-major order: the states they take.
    window : (int, int), optional
        Steps ``start <= t < stop`` that are patched; the whole sequence when omitted.
    """

    def __init__(self, model: nn.Module, layer: str, neurons: list[int] | tuple[int, ...],
                 states: Tensor, window: tuple[int, int] | None = None):
        if states.dim() != 3 or states.shape[2] != len(neurons):
            raise ValueError(f"states must be (T, B, {len(neurons)}) for {len(neurons)} "
                             f"neurons, got {tuple(states.shape)}")
        self._name = LayerNames(model)
        self.layer, self.states = layer, states
        self.neurons = torch.as_tensor(list(neurons), dtype=torch.int64)
        self.window = window
        self.applied = 0
        self._token: contextvars.Token | None = None

    def __enter__(self) -> StatePatch:
        self._token = _PATCH.set(self)
        return self

    def __exit__(self, *exc_info) -> None:
        _PATCH.reset(self._token)

    def patch(self, module: nn.Module, suffix: str, a: Tensor, u: Tensor, h: Tensor,
              nonlinearity: str, reverse: bool) -> Tensor:
        """The states ``h`` (``(T, B, N)``, from projection ``a``) of ``module``'s layer
        ``suffix``, patched if it is this patch's layer; else ``h`` unchanged."""
        if self._name(module, suffix) != self.layer:
            return h
        if reverse:
            raise ValueError(f"{self.layer}: patching runs forward in time; this is the "
                             "backward direction of a bidirectional layer")
        steps = h.shape[0]
        start, stop = self.window or (0, steps)
        if not 0 <= start < stop <= steps:
            raise ValueError(f"window must satisfy 0 <= start < stop <= {steps}, got "
                             f"({start}, {stop})")
        if self.states.shape[:2] != h.shape[:2]:
            raise ValueError(f"{self.layer}: states for {tuple(self.states.shape[:2])} "
                             f"(steps, batch), the layer runs {tuple(h.shape[:2])}")
        columns = self.neurons.to(h.device)
        patched = h.clone()
        patched[start:stop, :, columns] = self.states[start:stop].to(h.device, h.dtype)
        if stop < steps:  # the neurons run on from their patched state
            patched[stop:, :, columns] = indrnn_recurrence(
                a[stop:, :, columns].contiguous(), u[columns].contiguous(),
                patched[stop - 1, :, columns].contiguous(), nonlinearity)
        self.applied += 1
        return patched


def active_patch() -> StatePatch | None:
    """The patch of the enclosing ``with StatePatch(...)`` block, or ``None``."""
    return _PATCH.get()
