"""Closed-form gradients through time against autograd on small float64 models."""

import pytest
import torch

import indrnn
from indrnn.analysis.gradients import (
    indrnn_gradient_map,
    lstm_cell_gradient_map,
    saliency,
)
from indrnn.sequence_model import SequenceModel, lstm_spec


def _indrnn_model(hidden=3, layers=2, outputs=1, nonlinearity="relu"):
    config = indrnn.IndRNN(2, hidden, layers, nonlinearity=nonlinearity).config()
    return SequenceModel({"architecture": "IndRNN", "config": config}, outputs).double().eval()


def _probe_states(steps, batch, size):
    return torch.zeros(steps, batch, size, dtype=torch.float64, requires_grad=True)


def _indrnn_reference(x, weight, u, bias, probes, nonlinearity="relu", reverse=False):
    """Time-major IndRNN layer step by step; ``probes[t]`` is added to ``h_t`` after it is made."""
    act = torch.relu if nonlinearity == "relu" else torch.tanh
    h = x.new_zeros(x.shape[1], u.shape[0])
    states = [None] * x.shape[0]
    order = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
    for t in order:
        h = act(x[t] @ weight.T + bias + u * h) + probes[t]
        states[t] = h
    return torch.stack(states)


@pytest.mark.parametrize("nonlinearity, reverse", [("relu", False), ("tanh", False),
                                                   ("relu", True)])
def test_gradient_map_is_the_jacobian_through_time(nonlinearity, reverse):
    torch.manual_seed(0)
    rnn = indrnn.IndRNN(3, 5, nonlinearity=nonlinearity, bidirectional=reverse).double()
    with torch.no_grad():
        rnn.weight_hh_l0.copy_(torch.tensor([0.9, -0.7, 1.1, 0.0, 0.5]))
        if reverse:
            rnn.weight_hh_l0_reverse.copy_(torch.tensor([0.9, -0.7, 1.1, 0.0, 0.5]))
    x = torch.randn(9, 2, 3, dtype=torch.float64)
    name = "l0_reverse" if reverse else "l0"
    rec = indrnn.record(rnn, x)[name]
    end = 0 if reverse else -1
    got = indrnn_gradient_map(rec, end=end)
    assert got.shape == (2, 5, 9)

    suffix = "_reverse" if reverse else ""
    probes = _probe_states(9, 2, 5)
    h = _indrnn_reference(x, getattr(rnn, f"weight_ih_l0{suffix}"),
                          getattr(rnn, f"weight_hh_l0{suffix}"),
                          getattr(rnn, f"bias_ih_l0{suffix}"), probes, nonlinearity, reverse)
    torch.testing.assert_close(h.detach(), rec.hidden)  # the reference is the layer
    (grad,) = torch.autograd.grad(h[end].sum(), probes)
    expected = grad.flip(0) if not reverse else grad  # lag k is step end - k (end + k reversed)
    torch.testing.assert_close(got, expected.permute(1, 2, 0), rtol=1e-12, atol=1e-12)
    if nonlinearity == "relu":  # the relu derivative matters: some neurons were off
        assert (rec.hidden == 0).any() and (got[:, :, 1:] != 0).any()


def test_saliency_totals_and_input_gradient_match_autograd_for_a_two_layer_indrnn():
    torch.manual_seed(1)
    model = _indrnn_model()
    x = torch.randn(2, 8, 2, dtype=torch.float64)
    got = saliency(model, x)

    body = model.body
    probes = [_probe_states(8, 2, 3) for _ in range(2)]
    xs = x.transpose(0, 1).clone().requires_grad_(True)
    h0 = _indrnn_reference(xs, body.weight_ih_l0, body.weight_hh_l0, body.bias_ih_l0, probes[0])
    h1 = _indrnn_reference(h0, body.weight_ih_l1, body.weight_hh_l1, body.bias_ih_l1, probes[1])
    y = model.head(h1[-1])[:, 0]
    grads = torch.autograd.grad(y.sum(), [xs, *probes])
    torch.testing.assert_close(got.target, y.detach())
    torch.testing.assert_close(got.input_gradient, grads[0].transpose(0, 1))
    torch.testing.assert_close(got.input_norm, grads[0].transpose(0, 1).norm(dim=-1))
    torch.testing.assert_close(got.hidden["body.l0"], grads[1], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(got.hidden["body.l1"], grads[2], rtol=1e-10, atol=1e-12)
    assert got.direct["body.l1"][:-1].abs().sum() == 0  # the readout sees only the last step
    assert all(p.grad is None for p in model.parameters())  # the shared model is untouched


def test_input_gradient_equals_the_closed_form_of_a_one_layer_indrnn():
    torch.manual_seed(2)
    model = _indrnn_model(hidden=4, layers=1)
    x = torch.rand(1, 10, 2, dtype=torch.float64)
    got = saliency(model, x)
    rec = got.recording["body.l0"]
    jac = indrnn_gradient_map(rec)[0]  # (N, T): lag k back from the last step
    slope = (rec.hidden[:, 0] > 0).double()  # (T, N)
    per_step = jac.flip(1).T * slope * model.head.weight[0].detach()  # (T, N)
    expected = per_step @ model.body.weight_ih_l0.detach()  # (T, D)
    torch.testing.assert_close(got.input_gradient[0], expected, rtol=1e-10, atol=1e-12)


def _lstm_reference(x, lstm, layer, probes_h, probes_c, reverse=False):
    name = f"l{layer}_reverse" if reverse else f"l{layer}"
    w_ih, w_hh = getattr(lstm, f"weight_ih_{name}"), getattr(lstm, f"weight_hh_{name}")
    b = getattr(lstm, f"bias_ih_{name}") + getattr(lstm, f"bias_hh_{name}")
    h = c = x.new_zeros(x.shape[1], lstm.hidden_size)
    states = [None] * x.shape[0]
    for t in range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0]):
        i, f, g, o = (x[t] @ w_ih.T + h @ w_hh.T + b).chunk(4, -1)
        c = f.sigmoid() * c + i.sigmoid() * g.tanh() + probes_c[t]
        h = o.sigmoid() * c.tanh() + probes_h[t]
        states[t] = h
    return torch.stack(states)


def test_lstm_totals_match_autograd():
    torch.manual_seed(3)
    model = SequenceModel(lstm_spec(2, 3, num_layers=2), 2).double().eval()
    x = torch.randn(2, 7, 2, dtype=torch.float64)
    got = saliency(model, x, output_index=1)

    probes = [_probe_states(7, 2, 3) for _ in range(4)]
    h0 = _lstm_reference(x.transpose(0, 1), model.body, 0, probes[0], probes[1])
    h1 = _lstm_reference(h0, model.body, 1, probes[2], probes[3])
    y = model.head(h1[-1])[:, 1]
    grads = torch.autograd.grad(y.sum(), probes)
    torch.testing.assert_close(got.target, y.detach())
    for layer, (grad_h, grad_c) in enumerate([grads[:2], grads[2:]]):
        torch.testing.assert_close(got.hidden[f"body.l{layer}"], grad_h, rtol=1e-9, atol=1e-12)
        torch.testing.assert_close(got.cell[f"body.l{layer}"], grad_c, rtol=1e-9, atol=1e-12)


def test_lstm_cell_map_is_the_product_of_forget_gates():
    torch.manual_seed(4)
    lstm = indrnn.LSTM(2, 3).double()
    rec = indrnn.record(lstm, torch.randn(6, 1, 2, dtype=torch.float64))["l0"]
    got = lstm_cell_gradient_map(rec, end=4, max_lag=3)
    f = rec["forget_gate"][:, 0]
    assert got.shape == (1, 3, 4)
    torch.testing.assert_close(got[0, :, 0], torch.ones(3, dtype=torch.float64))
    torch.testing.assert_close(got[0, :, 3], f[4] * f[3] * f[2])


def test_backward_directions_of_bidirectional_layers_match_autograd():
    torch.manual_seed(5)
    rnn = indrnn.IndRNN(2, 3, bidirectional=True).double().eval()
    lstm = indrnn.LSTM(2, 3, bidirectional=True).double().eval()
    x = torch.randn(9, 2, 2, dtype=torch.float64)
    for module in (rnn, lstm):
        got = saliency(module, x, step=4, output_index=4)  # step 4 of backward unit 1
        probes = [_probe_states(9, 2, 3) for _ in range(4)]
        if module is rnn:
            forward = _indrnn_reference(x, rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0,
                                        probes[0])
            backward = _indrnn_reference(x, rnn.weight_ih_l0_reverse, rnn.weight_hh_l0_reverse,
                                         rnn.bias_ih_l0_reverse, probes[2], reverse=True)
        else:
            forward = _lstm_reference(x, lstm, 0, probes[0], probes[1])
            backward = _lstm_reference(x, lstm, 0, probes[2], probes[3], reverse=True)
        y = torch.cat([forward, backward], -1)[4, :, 4]
        grads = torch.autograd.grad(y.sum(), probes, allow_unused=True)
        torch.testing.assert_close(got.target, y.detach())
        torch.testing.assert_close(got.hidden["l0_reverse"], grads[2], rtol=1e-9, atol=1e-12)
        assert got.hidden["l0"].abs().max() == 0  # the forward direction is not read
        assert got.hidden["l0_reverse"][5:].abs().max() > 0  # later steps feed step 4 back
        if module is lstm:
            torch.testing.assert_close(got.cell["l0_reverse"], grads[3], rtol=1e-9, atol=1e-12)
