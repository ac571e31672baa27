"""Impulse and step responses: u^k measured exactly, and the same through a whole model."""

import pytest
import torch

import indrnn
from indrnn.analysis.impulse import impulse_response
from indrnn.sequence_model import SequenceModel, lstm_spec


def _lone_neuron(u=0.9, bias=0.0, bidirectional=False):
    rnn = indrnn.IndRNN(1, 1, bidirectional=bidirectional).double()
    with torch.no_grad():
        for name, parameter in rnn.named_parameters():
            parameter.fill_({"weight_ih": 1.0, "weight_hh": u, "bias_ih_l": bias}[name[:9]])
    return rnn


def test_a_lone_neuron_with_u_09_decays_as_09_to_the_k():
    rnn = _lone_neuron()
    got = impulse_response(rnn, torch.zeros(40, 1, 1, dtype=torch.float64), "l0", 0, t0=5)
    powers = torch.tensor([0.9**k for k in range(35)], dtype=torch.float64)
    assert got.steps.tolist() == list(range(5, 40)) and got.u == pytest.approx(0.9)
    torch.testing.assert_close(got.response, powers, rtol=1e-13, atol=0)
    torch.testing.assert_close(got.theoretical, powers, rtol=1e-13, atol=0)
    assert got.linear.all() and got.baseline.abs().max() == 0


def test_step_response_through_an_input_channel_of_a_batch_first_model():
    body = {"architecture": "IndRNN", "config": _lone_neuron().config()}
    model = SequenceModel(body, 1).double()
    model.body.load_state_dict(_lone_neuron(0.5).state_dict())
    x = torch.zeros(2, 12, 1, dtype=torch.float64)
    got = impulse_response(model, x, "body.l0", 0, t0=-10, kind="step", channel=0,
                           magnitude=2.0, sequence=1)
    expected = torch.tensor([2 * sum(0.5**j for j in range(k + 1)) for k in range(10)],
                            dtype=torch.float64)
    torch.testing.assert_close(got.response, expected)
    torch.testing.assert_close(got.theoretical, expected)
    assert got.t0 == 2 and got.via == "input channel 0"


def test_theory_holds_only_while_the_neuron_stays_active():
    rnn = _lone_neuron(bias=-0.5)
    got = impulse_response(rnn, torch.zeros(8, 1, 1, dtype=torch.float64), "l0", 0, t0=0)
    torch.testing.assert_close(got.response[:2], torch.tensor([0.5, 0.0], dtype=torch.float64))
    assert got.theoretical[1] == pytest.approx(0.45)
    assert not got.linear.any()  # the baseline never fires: ReLU is not linear there


def test_a_backward_direction_answers_earlier_steps():
    rnn = _lone_neuron(0.8, bidirectional=True)
    got = impulse_response(rnn, torch.zeros(10, 1, 1, dtype=torch.float64), "l0_reverse", 0, 6,
                           steps=4)
    assert got.steps.tolist() == [6, 5, 4, 3]
    torch.testing.assert_close(got.response, 0.8 ** torch.arange(4, dtype=torch.float64))


def test_preactivation_kick_equals_a_whole_run_with_the_same_kick_on_the_input():
    torch.manual_seed(0)
    rnn = indrnn.IndRNN(1, 3, num_layers=2).double()
    with torch.no_grad():
        rnn.weight_ih_l0.abs_()
    x = torch.rand(30, 2, 1, dtype=torch.float64) + 0.1
    delta = 0.3
    via_input = impulse_response(rnn, x, "l0", 1, 7, channel=0, magnitude=delta, sequence=1)
    via_pre = impulse_response(rnn, x, "l0", 1, 7, sequence=1,
                               magnitude=delta * rnn.weight_ih_l0[1, 0].item())
    torch.testing.assert_close(via_pre.response, via_input.response, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(via_pre.baseline, via_input.baseline, rtol=1e-12, atol=1e-14)
    assert via_pre.linear.all()
    torch.testing.assert_close(via_pre.response, via_pre.theoretical)


def test_lstm_units_are_kicked_through_the_input():
    torch.manual_seed(1)
    model = SequenceModel(lstm_spec(2, 3), 1)
    x = torch.rand(1, 15, 2)
    got = impulse_response(model, x, "body.l0", 2, 4, channel=1)
    assert got.response.shape == (11,) and got.response.abs().max() > 0
    assert got.theoretical.isnan().all() and got.u is None
    with pytest.raises(ValueError, match="not an IndRNN layer"):
        impulse_response(model, x, "body.l0", 2, 4)
