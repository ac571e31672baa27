"""Gradients through time: exact per neuron for IndRNN, and by autograd for the whole model.

* :func:`indrnn_gradient_map`: ``∂h_{n,end}/∂h_{n,end-k} = Π_{j=end-k+1..end} u_n σ'(pre_{n,j})``
  for every neuron and lag, in closed form from a recording (the neurons of a layer do not mix,
  so this is the whole within-layer Jacobian: its diagonal).
* :func:`lstm_cell_gradient_map`: the LSTM's counterpart along the cell path, ``Π f_j``.
* :func:`saliency`: one backward pass of the model for an output ``y`` (the last step's
  prediction, or a chosen output and step): ``∂y/∂x_t`` per input step, and ``∂y/∂h_t`` of every
  unit of every recorded layer at every step — both the direct part (through the layer's output)
  and the total (also through the layer's own later steps; for IndRNN by the closed-form
  recursion ``g_t = d_t + u σ'_{t+1} g_{t+1}``, for LSTM by its backward equations on the
  recorded gates). The model's parameters get no ``.grad``: nothing about it changes.

Call the model in eval mode (batch statistics in training mode mix the sequences of a batch).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from indrnn.analysis._common import (
    LiveRecorder,
    activation_slope,
    infer_nonlinearity,
    is_reverse,
    lag_products,
    model_output,
    select_target,
    time_axis,
)
from indrnn.analysis.locate import indrnn_layers
from indrnn.record import LayerRecord, Recording


def indrnn_gradient_map(record: LayerRecord, end: int = -1, max_lag: int | None = None,
                        nonlinearity: str | None = None) -> Tensor:
    """Exact ``∂h_{n,end} / ∂h_{n,end-k}`` of every neuron for lags ``k = 0..``, ``(B, N, L)``.

    Parameters
    ----------
    record : LayerRecord
        An IndRNN layer of a recording.
    end : int
        The step (input time) the gradient is taken at; lags run back from it (forward in time
        for a ``_reverse`` layer).
    max_lag : int, optional
        Largest lag (all steps by default).
    nonlinearity : {"relu", "tanh"}, optional
        Read off the recording if omitted.

    Returns
    -------
    Tensor
        ``(B, N, L)``: ``u_n^k Π σ'(pre_{n,j})`` over the ``k`` steps after ``end - k``.
    """
    nonlinearity = nonlinearity or infer_nonlinearity(record)
    u = record.tensors["recurrent_weight"]
    factors = u * activation_slope(record.hidden, nonlinearity)
    return lag_products(factors, end, max_lag, is_reverse(record.name))


def lstm_cell_gradient_map(record: LayerRecord, end: int = -1,
                           max_lag: int | None = None) -> Tensor:
    """``∂c_end / ∂c_{end-k} = Π f_j`` along the cell path of every LSTM unit, ``(B, N, L)``.

    Only the constant-error path (gates held fixed); the total derivative also runs through
    ``h`` and the gates (see :func:`saliency`).
    """
    return lag_products(record.tensors["forget_gate"], end, max_lag, is_reverse(record.name))


@dataclass
class Saliency:
    """Gradients of one output per sequence, ``y`` (``(B,)``), with respect to everything.

    Attributes
    ----------
    target : Tensor
        ``(B,)`` the values of ``y``.
    input_gradient : Tensor
        ``(B, T, D)`` ``∂y/∂x_t`` (for token input: with respect to the embedded vectors).
    input_norm : Tensor
        ``(B, T)`` ``‖∂y/∂x_t‖``: the gradient over time.
    direct : dict of str to Tensor
        Per recorded layer, ``(T, B, N)`` ``∂y/∂h_t`` through the layer's output only (the
        next layer, the readout).
    hidden : dict of str to Tensor
        Per recorded layer, ``(T, B, N)`` total ``∂y/∂h_t``, also through the layer's later
        steps: how ``y`` moves if ``h_{n,t}`` alone is nudged.
    cell : dict of str to Tensor
        LSTM layers only, ``(T, B, N)`` total ``∂y/∂c_t``.
    recording : Recording
        The run (every layer's states).
    """

    target: Tensor
    input_gradient: Tensor
    input_norm: Tensor
    direct: dict[str, Tensor] = field(default_factory=dict)
    hidden: dict[str, Tensor] = field(default_factory=dict)
    cell: dict[str, Tensor] = field(default_factory=dict)
    recording: Recording | None = None


def _differentiable_input(model: nn.Module, x: Tensor) -> tuple[Tensor, Callable[[Tensor], Tensor]]:
    """A leaf to differentiate with respect to, and the model as a function of it."""
    parameter = next(model.parameters())
    embedding = getattr(model, "embedding", None)
    if embedding is None:
        leaf = x.detach().to(parameter.device, parameter.dtype).requires_grad_(True)
        return leaf, lambda inputs: model_output(model(inputs))
    leaf = embedding(x.to(parameter.device)).detach().requires_grad_(True)

    def from_embedded(vectors: Tensor) -> Tensor:  # SequenceModel.forward after the embedding
        output = model_output(model.body(vectors.transpose(0, 1)))
        if model.readout == "every":
            return model.head(output).transpose(0, 1)
        return model.head(output[-1])

    return leaf, from_embedded


def _run_backward(total: Tensor, carry_fn: Callable[[int], Tensor | None], direct: Tensor) -> None:
    """``total[t] = direct[t] + carry``, from the last step back; ``carry_fn(t)`` gives the next."""
    carry = torch.zeros_like(direct[0])
    for t in range(direct.shape[0] - 1, -1, -1):
        total[t] = direct[t] + carry
        carry = carry_fn(t)


def indrnn_total_gradient(direct: Tensor, record: LayerRecord,
                          nonlinearity: str | None = None) -> Tensor:
    """Total ``∂y/∂h_t`` of an IndRNN layer from its direct part ``d``: ``g_t = d_t + u σ'_{t+1}
    g_{t+1}`` (``σ'_{t-1}`` and ``g_{t-1}`` for a ``_reverse`` layer).

    Parameters
    ----------
    direct : Tensor
        ``(T, B, N)`` ``∂y/∂h_t`` through the layer's output only.
    record : LayerRecord
        The layer's recording (u and the states, for ``σ'``).
    nonlinearity : {"relu", "tanh"}, optional
        Read off the recording if omitted.
    """
    reverse = is_reverse(record.name)
    slope = activation_slope(record.hidden, nonlinearity or infer_nonlinearity(record))
    gain = record.tensors["recurrent_weight"] * (slope.flip(0) if reverse else slope)
    direct = direct.flip(0) if reverse else direct
    total = torch.empty_like(direct)
    _run_backward(total, lambda t: gain[t] * total[t], direct)
    return total.flip(0) if reverse else total


def lstm_total_gradient(direct: Tensor, record: LayerRecord,
                        weight_hh: Tensor) -> tuple[Tensor, Tensor]:
    """Total ``∂y/∂h_t`` and ``∂y/∂c_t`` of an LSTM layer from the direct ``∂y/∂h_t``.

    The LSTM's backward equations on the recorded gates (``proj_size = 0``): with ``g^h_t`` and
    ``g^c_t`` the totals, ``g^c_t = g^h_t o_t (1 - tanh² c_t) + g^c_{t+1} f_{t+1}`` and
    ``g^h_{t-1} = d_{t-1} + W_hh^T δ_t``, ``δ_t`` the gradient of the gates' pre-activations.

    Parameters
    ----------
    direct : Tensor
        ``(T, B, H)``.
    record : LayerRecord
        The LSTM layer's recording.
    weight_hh : Tensor
        ``(4H, H)`` the layer's ``weight_hh_l{k}``.
    """
    reverse = is_reverse(record.name)
    names = ("input_gate", "forget_gate", "cell_candidate", "output_gate", "cell")
    i, f, g, o, c = (record.tensors[n].flip(0) if reverse else record.tensors[n] for n in names)
    direct = direct.flip(0) if reverse else direct
    weight_hh = weight_hh.detach().to(direct)
    tanh_c = c.tanh()
    total_h, total_c = torch.empty_like(direct), torch.empty_like(direct)
    carry_h, carry_c = torch.zeros_like(direct[0]), torch.zeros_like(direct[0])
    for t in range(direct.shape[0] - 1, -1, -1):
        total_h[t] = direct[t] + carry_h
        total_c[t] = total_h[t] * o[t] * (1 - tanh_c[t] ** 2) + carry_c
        if t == 0:
            break
        pre = torch.cat([total_c[t] * g[t] * i[t] * (1 - i[t]),
                         total_c[t] * c[t - 1] * f[t] * (1 - f[t]),
                         total_c[t] * i[t] * (1 - g[t] ** 2),
                         total_h[t] * tanh_c[t] * o[t] * (1 - o[t])], -1)
        carry_h, carry_c = pre @ weight_hh, total_c[t] * f[t]
    if reverse:
        return total_h.flip(0), total_c.flip(0)
    return total_h, total_c


def _lstm_weight_hh(model: nn.Module, name: str) -> Tensor:
    prefix, _, layer = name.rpartition(".")
    module = model.get_submodule(prefix)
    if getattr(module, "proj_size", 0):
        raise ValueError(f"{name}: LSTMs with proj_size > 0 are not supported")
    return getattr(module, f"weight_hh_{layer}")


def saliency(model: nn.Module, x: Tensor, *, output_index: int | None = None,
             step: int = -1) -> Saliency:
    """Gradients of one output per sequence with respect to the input and every unit's state.

    Parameters
    ----------
    model : nn.Module
        A model of this library (``SequenceModel``, a network, ``IndRNN``, ``LSTM``), in eval
        mode. Its parameters get no gradient.
    x : Tensor
        Input in the model's layout (batch-first ``(B, T, D)`` or ids ``(B, T)`` for a
        ``SequenceModel``).
    output_index : int, optional
        Which output ``y`` is; by default output 0 when there is one, else each sequence's
        largest (its predicted class).
    step : int
        For per-step outputs (language models, bodies): the step ``y`` is read at.

    Returns
    -------
    Saliency
    """
    leaf, forward = _differentiable_input(model, x)
    recorder = LiveRecorder(model)
    with torch.enable_grad(), recorder:
        output = forward(leaf)
    target = select_target(model, output, output_index, step)
    names = [n for n, live in recorder.live.items() if live["hidden"].requires_grad]
    tensors = [leaf] + [recorder.live[n]["hidden"] for n in names]
    grads = torch.autograd.grad(target.sum(), tensors, allow_unused=True)
    input_gradient = grads[0]
    if leaf.dim() == 2:
        input_gradient = input_gradient.unsqueeze(0)
    elif time_axis(model) == 0 and getattr(model, "embedding", None) is None:
        input_gradient = input_gradient.transpose(0, 1)
    result = Saliency(target.detach().cpu(), input_gradient.detach().cpu(),
                      input_gradient.detach().norm(dim=-1).cpu(),
                      recording=Recording(output.detach().cpu(), recorder.layers))
    modules = indrnn_layers(model)
    for name, grad in zip(names, grads[1:]):
        rec = recorder.layers[name]
        direct = torch.zeros_like(rec.hidden) if grad is None else grad.detach().cpu()
        result.direct[name] = direct
        if rec.kind == "indrnn":
            ref = modules.get(name)
            nonlinearity = None if ref is None else ref.nonlinearity
            result.hidden[name] = indrnn_total_gradient(direct, rec, nonlinearity)
        else:
            weight = _lstm_weight_hh(model, name.split("#")[0])
            result.hidden[name], result.cell[name] = lstm_total_gradient(direct, rec, weight)
    return result
