"""indrnn.lstm.LSTM: same as nn.LSTM, and its gates are the ones nn.LSTM computes."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from indrnn.lstm import LSTM, LSTMGates, chrono_init_
from indrnn.record import record

TOL = {"rtol": 1e-10, "atol": 1e-12}
GATE_NAMES = ("input_gate", "forget_gate", "cell_candidate", "output_gate", "cell")
BATCH_FIRST = {"batch_first": True}
CONFIGS = [
    {},
    {"num_layers": 2},
    {"bidirectional": True},
    {"num_layers": 2, "bidirectional": True, "batch_first": True},
    {"num_layers": 2, "bidirectional": True, "proj_size": 2},
    {"bias": False, "batch_first": True},
]


def pair(input_size: int = 3, hidden_size: int = 5, seed: int = 0, **kwargs) -> tuple:
    """An nn.LSTM and an LSTM loaded from its state_dict, both float64."""
    torch.manual_seed(seed)
    ref = nn.LSTM(input_size, hidden_size, **kwargs).double()
    lstm = LSTM(input_size, hidden_size, **kwargs).double()
    lstm.load_state_dict(ref.state_dict())
    return ref, lstm


def batch(lstm: nn.LSTM, steps: int = 6, size: int = 4) -> torch.Tensor:
    shape = (size, steps) if lstm.batch_first else (steps, size)
    return torch.randn(*shape, lstm.input_size, dtype=torch.float64)


def random_hx(lstm: nn.LSTM, *batch_dims: int) -> tuple[torch.Tensor, torch.Tensor]:
    layers = lstm.num_layers * (2 if lstm.bidirectional else 1)
    h = torch.randn(layers, *batch_dims, lstm.proj_size or lstm.hidden_size, dtype=torch.float64)
    return h, torch.randn(layers, *batch_dims, lstm.hidden_size, dtype=torch.float64)


def assert_same(actual, expected, **tol) -> None:
    (out, (h, c)), (ref_out, (ref_h, ref_c)) = actual, expected
    torch.testing.assert_close(out, ref_out, **tol)
    torch.testing.assert_close(h, ref_h, **tol)
    torch.testing.assert_close(c, ref_c, **tol)


@pytest.mark.parametrize("kwargs", CONFIGS)
def test_forward_is_nn_lstm(kwargs):
    ref, lstm = pair(**kwargs)
    x = batch(lstm)
    assert_same(lstm(x), ref(x), rtol=0, atol=0)
    assert [name for name, _ in lstm.named_parameters()] == [n for n, _ in ref.named_parameters()]


def test_forward_does_not_take_the_gate_path(monkeypatch):
    _, lstm = pair()

    def fail(*args):
        raise AssertionError("gate path taken without a recorder")

    monkeypatch.setattr(lstm, "_forward_gates", fail)
    lstm(batch(lstm))


@pytest.mark.parametrize("kwargs", CONFIGS)
@pytest.mark.parametrize("seed", [1, 2])
def test_gate_path_matches_nn_lstm(kwargs, seed):
    ref, lstm = pair(seed=seed, **kwargs)
    steps, size = torch.randint(1, 9, (2,)).tolist()
    x = batch(lstm, steps, size)
    output, state, gates = lstm.forward_with_gates(x)
    assert_same((output, state), ref(x), **TOL)
    directions = ["", "_reverse"] if lstm.bidirectional else [""]
    assert list(gates) == [f"l{k}{d}" for k in range(lstm.num_layers) for d in directions]
    for layer_gates in gates.values():
        assert isinstance(layer_gates, LSTMGates)
        assert layer_gates.forget_gate.shape == (steps, size, lstm.hidden_size)
        assert layer_gates.hidden.shape == (steps, size, lstm.proj_size or lstm.hidden_size)


@pytest.mark.parametrize("kwargs", [{}, {"num_layers": 2, "bidirectional": True}])
def test_given_hx(kwargs):
    ref, lstm = pair(**kwargs)
    x, hx = batch(lstm), random_hx(lstm, 4)
    assert_same(lstm.forward_with_gates(x, hx)[:2], ref(x, hx), **TOL)


@pytest.mark.parametrize("with_hx", [False, True])
def test_unbatched(with_hx):
    ref, lstm = pair(num_layers=2, bidirectional=True, proj_size=3)
    x = torch.randn(7, 3, dtype=torch.float64)
    hx = random_hx(lstm) if with_hx else None
    output, state, gates = lstm.forward_with_gates(x, hx)
    assert_same((output, state), ref(x, hx), **TOL)
    assert output.shape == (7, 6) and state[0].shape == (4, 3)
    assert gates["l1_reverse"].cell.shape == (7, 1, 5)


@pytest.mark.parametrize("kwargs", [{}, {"num_layers": 2, "bidirectional": True, "proj_size": 2}])
@pytest.mark.parametrize("enforce_sorted", [False, True])
def test_packed_sequence(kwargs, enforce_sorted):
    ref, lstm = pair(**kwargs)
    lengths = torch.tensor([5, 2, 7, 2, 1])
    if enforce_sorted:
        lengths = lengths.sort(descending=True).values
    x = pack_padded_sequence(batch(lstm, 7, 5), lengths, enforce_sorted=enforce_sorted)
    hx = random_hx(lstm, 5)
    (output, state, gates), expected = lstm.forward_with_gates(x, hx), ref(x, hx)
    assert_same((output.data, state), (expected[0].data, expected[1]), **TOL)
    assert torch.equal(output.batch_sizes, expected[0].batch_sizes)
    padded, _ = pad_packed_sequence(output)
    past_end = torch.arange(7).unsqueeze(1) >= lengths
    for suffix, layer_gates in gates.items():
        for name, value in layer_gates.as_dict().items():
            assert value[past_end].abs().max() == 0, (suffix, name)
    last = gates[f"l{lstm.num_layers - 1}"].hidden
    assert torch.equal(last, padded[..., : last.shape[-1]])


def test_gate_ranges():
    _, lstm = pair(num_layers=2, bidirectional=True)
    with torch.no_grad():
        for parameter in lstm.parameters():
            parameter.mul_(5)  # large pre-activations: raw values would leave [0, 1]
    for g in lstm.forward_with_gates(batch(lstm))[2].values():
        for gate in (g.input_gate, g.forget_gate, g.output_gate):
            assert gate.min() >= 0 and gate.max() <= 1
            assert gate.min() < 0.2 and gate.max() > 0.8  # the range is really used
        assert g.cell_candidate.min() >= -1 and g.cell_candidate.max() <= 1
        assert g.cell_candidate.min() < -0.8 and g.cell_candidate.max() > 0.8


@pytest.mark.parametrize("kwargs", [{"num_layers": 2, "bidirectional": True}, {"proj_size": 3}])
def test_gates_rebuild_cell_and_hidden(kwargs):
    _, lstm = pair(**kwargs)
    x, (h0, c0) = batch(lstm), random_hx(lstm, 4)
    output, _, gates = lstm.forward_with_gates(x, (h0, c0))
    for index, (suffix, g) in enumerate(gates.items()):
        reverse = suffix.endswith("_reverse")
        c_prev = torch.cat([c0[index : index + 1], g.cell[:-1]])
        if reverse:
            c_prev = torch.cat([g.cell[1:], c0[index : index + 1]])
        torch.testing.assert_close(g.cell, g.forget_gate * c_prev + g.input_gate * g.cell_candidate)
        hidden = g.output_gate * g.cell.tanh()
        if lstm.proj_size:
            hidden = hidden @ lstm.weight_hr_l0.T
        torch.testing.assert_close(g.hidden, hidden)
    width = lstm.proj_size or lstm.hidden_size
    last = [g.hidden for suffix, g in gates.items() if suffix.startswith(f"l{lstm.num_layers - 1}")]
    torch.testing.assert_close(output, torch.cat(last, dim=-1))
    assert output.shape[-1] == width * len(last)


def test_gate_path_gradients_match():
    ref, lstm = pair(num_layers=2, bidirectional=True)
    x = batch(lstm)
    ref(x)[0].pow(2).sum().backward()
    lstm.forward_with_gates(x)[0].pow(2).sum().backward()
    for (name, expected), actual in zip(ref.named_parameters(), lstm.parameters(), strict=True):
        torch.testing.assert_close(actual.grad, expected.grad, **TOL, msg=name)


def test_dropout_between_layers():
    ref, lstm = pair(num_layers=2, dropout=0.5)
    x = batch(lstm, 8, 6)
    ref.eval()
    lstm.eval()
    assert_same(lstm.forward_with_gates(x)[:2], ref(x), **TOL)
    lstm.train()
    torch.manual_seed(0)
    output, _, gates = lstm.forward_with_gates(x)
    assert not torch.allclose(output, ref(x)[0])  # dropout was applied to layer 1's input
    torch.testing.assert_close(output, gates["l1"].hidden)  # ... but not after the last layer


@pytest.mark.parametrize("kwargs", [{"num_layers": 2, "bidirectional": True}, BATCH_FIRST])
def test_record(kwargs):
    ref, lstm = pair(**kwargs)
    x = batch(lstm)
    recording = record(lstm, x)
    assert_same(recording.output, ref(x), **TOL)
    _, _, gates = lstm.forward_with_gates(x)
    assert list(recording.layers) == list(gates)
    for suffix, layer_gates in gates.items():
        layer = recording[suffix]
        assert layer.kind == "lstm"
        for name, value in layer_gates.as_dict().items():
            torch.testing.assert_close(layer[name], value, rtol=0, atol=0)
        assert set(layer.tensors) == set(GATE_NAMES)


def test_record_inside_a_model():
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = LSTM(3, 5, num_layers=2)

        def forward(self, x):
            return self.rnn(x)[0]

    model = Model().double()
    recording = record(model, torch.randn(6, 2, 3, dtype=torch.float64))
    assert list(recording.layers) == ["rnn.l0", "rnn.l1"]
    assert recording["rnn.l1"].hidden.shape == (6, 2, 5)
    torch.testing.assert_close(recording["rnn.l1"].hidden, recording.output)


def test_config_rebuilds():
    _, lstm = pair(num_layers=2, bidirectional=True, proj_size=2, dropout=0.25, batch_first=True)
    config = json.loads(json.dumps(lstm.config()))
    assert config == dict(
        input_size=3,
        hidden_size=5,
        num_layers=2,
        bias=True,
        batch_first=True,
        dropout=0.25,
        bidirectional=True,
        proj_size=2,
    )
    rebuilt = LSTM(**config).double()
    rebuilt.load_state_dict(lstm.state_dict())
    x = batch(lstm)
    assert_same(rebuilt.eval()(x), lstm.eval()(x), rtol=0, atol=0)


@pytest.mark.parametrize(
    ("shape", "given"),
    [((6, 4, 2), "(6, 4, 2)"), ((6, 4, 3, 1), "(6, 4, 3, 1)"), ((3,), "(3,)"), ((6, 4), "(6, 4)")],
)
@pytest.mark.parametrize("gates", [False, True])
def test_bad_input(shape, given, gates):
    _, lstm = pair()
    call = lstm.forward_with_gates if gates else lstm
    with pytest.raises(ValueError, match="LSTM expected input") as error:
        call(torch.randn(*shape, dtype=torch.float64))
    assert given in str(error.value) and "(T, B, 3)" in str(error.value)


def test_bad_packed_input_and_hx():
    _, lstm = pair(num_layers=2)
    packed = pack_padded_sequence(torch.randn(5, 2, 4, dtype=torch.float64), torch.tensor([5, 3]))
    with pytest.raises(ValueError, match=r"\(N, 3\).*\(8, 4\)"):
        lstm(packed)
    x = batch(lstm)
    h, c = random_hx(lstm, 4)
    with pytest.raises(ValueError, match=r"h_0 of shape \(2, 4, 5\), got \(2, 3, 5\)"):
        lstm.forward_with_gates(x, (h[:, :3], c))
    with pytest.raises(ValueError, match=r"c_0 of shape \(2, 4, 5\), got \(1, 4, 5\)"):
        lstm(x, (h, c[:1]))


def test_chrono_init_sets_forget_biases_to_log_timescales_and_input_biases_to_their_negative():
    torch.manual_seed(0)
    lstm = LSTM(3, 64, num_layers=2)
    chrono_init_(lstm, 784)
    for layer in range(2):
        b_ih, b_hh = getattr(lstm, f"bias_ih_l{layer}"), getattr(lstm, f"bias_hh_l{layer}")
        i, f, g, o = b_ih.detach().chunk(4)
        assert torch.all(f >= 0) and torch.all(f <= math.log(783))
        assert f.max() > math.log(100)  # spread up to long timescales, not bunched
        torch.testing.assert_close(i, -f)
        assert torch.all(g == 0) and torch.all(o == 0) and torch.all(b_hh == 0)
    # a unit's forget gate at zero input keeps a cell for ~exp(f) steps: long memory from step 1
    x = torch.zeros(784, 1, 3)
    _, _, gates = lstm.forward_with_gates(x)
    assert gates["l0"].forget_gate[0].max() > 0.99

def test_chrono_init_refuses_lstms_without_bias_and_short_timescales():
    with pytest.raises(ValueError, match="bias=False"):
        chrono_init_(LSTM(2, 4, bias=False), 100)
    with pytest.raises(ValueError, match="max_timescale"):
        chrono_init_(LSTM(2, 4), 2)
