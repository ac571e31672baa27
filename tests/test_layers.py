"""IndRNN and IndRNNCell: nn.RNN's shape, the paper's maths, packed sequences, bounds."""

import pytest
import torch
from torch.nn.utils.rnn import pack_sequence, pad_packed_sequence

import indrnn
from indrnn import IndRNN, IndRNNCell, IndRNNRecurrence, recurrent_bound
from indrnn.kernels.reference import recurrence_loop
from indrnn.recurrence import indrnn_recurrence


def _manual_forward(rnn: IndRNN, x: torch.Tensor, hx=None):
    """The paper's equations written out per layer and direction, time-major."""
    directions = 2 if rnn.bidirectional else 1
    hx = torch.zeros(rnn.num_layers * directions, x.shape[1], rnn.hidden_size, dtype=x.dtype) \
        if hx is None else hx
    finals = []
    for layer in range(rnn.num_layers):
        outputs = []
        for d, suffix in enumerate(["", "_reverse"][:directions]):
            w = getattr(rnn, f"weight_ih_l{layer}{suffix}")
            u = getattr(rnn, f"weight_hh_l{layer}{suffix}")
            b = getattr(rnn, f"bias_ih_l{layer}{suffix}")
            seq = x.flip(0) if suffix else x
            a = seq @ w.T + (0 if b is None else b)
            h = recurrence_loop(a, u, hx[layer * directions + d], rnn.nonlinearity)
            finals.append(h[-1])
            outputs.append(h.flip(0) if suffix else h)
        x = torch.cat(outputs, -1)
    return x, torch.stack(finals)


def test_parameter_names_and_shapes_follow_nn_rnn():
    rnn = IndRNN(3, 8, num_layers=2, bidirectional=True)
    shapes = {name: tuple(p.shape) for name, p in rnn.named_parameters()}
    assert shapes == {
        "weight_ih_l0": (8, 3), "weight_hh_l0": (8,), "bias_ih_l0": (8,),
        "weight_ih_l0_reverse": (8, 3), "weight_hh_l0_reverse": (8,), "bias_ih_l0_reverse": (8,),
        "weight_ih_l1": (8, 16), "weight_hh_l1": (8,), "bias_ih_l1": (8,),
        "weight_ih_l1_reverse": (8, 16), "weight_hh_l1_reverse": (8,), "bias_ih_l1_reverse": (8,),
    }
    assert "bias_ih_l0" not in dict(IndRNN(3, 8, bias=False).named_parameters())


@pytest.mark.parametrize("nonlinearity", ["relu", "tanh"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_matches_the_equations(nonlinearity, bidirectional):
    torch.manual_seed(0)
    rnn = IndRNN(4, 6, num_layers=3, nonlinearity=nonlinearity, bidirectional=bidirectional,
                 dtype=torch.float64)
    with torch.no_grad():
        for name, p in rnn.named_parameters():
            if name.startswith("weight_hh"):
                p.uniform_(-1.0, 1.2)  # negative and > 1 too
    x = torch.randn(25, 3, 4, dtype=torch.float64)
    hx = torch.rand(3 * (2 if bidirectional else 1), 3, 6, dtype=torch.float64)
    output, h_n = rnn(x, hx)
    expected_output, expected_h_n = _manual_forward(rnn, x, hx)
    torch.testing.assert_close(output, expected_output)
    torch.testing.assert_close(h_n, expected_h_n)


def test_batch_first_and_unbatched_agree_with_time_major():
    torch.manual_seed(1)
    rnn = IndRNN(2, 5, num_layers=2)
    x = torch.randn(9, 3, 2)
    output, h_n = rnn(x)
    rnn.batch_first = True
    output_bf, h_n_bf = rnn(x.transpose(0, 1))
    torch.testing.assert_close(output_bf, output.transpose(0, 1))
    torch.testing.assert_close(h_n_bf, h_n)
    rnn.batch_first = False
    output_one, h_n_one = rnn(x[:, 1])
    assert output_one.shape == (9, 5) and h_n_one.shape == (2, 5)
    torch.testing.assert_close(output_one, output[:, 1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("enforce_sorted", [False, True])
def test_packed_sequences_match_separate_runs(enforce_sorted):
    torch.manual_seed(2)
    rnn = IndRNN(3, 4, num_layers=2, bidirectional=True, dtype=torch.float64)
    lengths = [7, 5, 2] if enforce_sorted else [2, 7, 5]
    seqs = [torch.randn(n, 3, dtype=torch.float64) for n in lengths]
    hx = torch.rand(4, 3, 4, dtype=torch.float64)
    packed_output, h_n = rnn(pack_sequence(seqs, enforce_sorted=enforce_sorted), hx)
    padded, got_lengths = pad_packed_sequence(packed_output)
    assert got_lengths.tolist() == lengths
    for i, seq in enumerate(seqs):
        output, h_n_alone = rnn(seq, hx[:, i])
        torch.testing.assert_close(padded[: lengths[i], i], output)
        torch.testing.assert_close(h_n[:, i], h_n_alone)
        assert (padded[lengths[i]:, i] == 0).all()


def test_packed_sequences_backpropagate():
    rnn = IndRNN(2, 3)
    seqs = [torch.randn(n, 2, requires_grad=True) for n in (4, 1, 3)]
    output, h_n = rnn(pack_sequence(seqs, enforce_sorted=False))
    (output.data.sum() + h_n.sum()).backward()
    assert all(s.grad is not None and torch.isfinite(s.grad).all() for s in seqs)
    assert rnn.weight_hh_l0.grad.abs().sum() > 0


@pytest.mark.parametrize("nonlinearity", ["relu", "tanh"])
def test_cell_is_identical_to_the_layer(nonlinearity):
    torch.manual_seed(3)
    cell = IndRNNCell(5, 7, nonlinearity=nonlinearity)
    layer = IndRNN(5, 7, nonlinearity=nonlinearity)
    layer.load_state_dict({"weight_ih_l0": cell.weight_ih, "weight_hh_l0": cell.weight_hh,
                           "bias_ih_l0": cell.bias_ih})
    x = torch.randn(300, 4, 5)
    h = torch.rand(4, 7)
    output, _ = layer(x, h.unsqueeze(0))
    steps = []
    for x_t in x:
        h = cell(x_t, h)
        steps.append(h)
    # The recurrence is the same kernel; only the matrix product may round differently for one
    # step than for 300 (BLAS picks its kernel by shape and load).
    torch.testing.assert_close(torch.stack(steps), output, rtol=1e-5, atol=1e-6)
    h0 = torch.rand(4, 7)
    a = torch.nn.functional.linear(x[:1], cell.weight_ih, cell.bias_ih)
    assert torch.equal(cell(x[0], h0), indrnn_recurrence(a, cell.weight_hh, h0, nonlinearity)[0])
    assert cell(x[0, 0]).shape == (7,)


def test_recurrence_module_runs_the_same_maths():
    torch.manual_seed(4)
    module = IndRNNRecurrence(6, recurrent_max=0.9)
    a = torch.randn(12, 2, 6)
    output, h_n = module(a)
    torch.testing.assert_close(output, recurrence_loop(a, module.weight_hh, torch.zeros(2, 6)))
    assert torch.equal(h_n, output[-1])


def test_recurrent_bound_is_the_papers():
    assert recurrent_bound(2.0, 1000) == pytest.approx(2.0 ** (1 / 1000))
    assert recurrent_bound(5.0, 1) == 5.0
    with pytest.raises(ValueError, match="factor > 0"):
        recurrent_bound(0.0, 10)


def test_initialisation_lies_within_the_bounds_per_layer():
    torch.manual_seed(5)
    low = recurrent_bound(0.5, 784)
    high = recurrent_bound(5.0, 784)
    rnn = IndRNN(1, 500, num_layers=3, recurrent_max=high, recurrent_min=[None, None, low])
    first, last = rnn.weight_hh_l0, rnn.weight_hh_l2
    assert first.min() >= 0 and first.max() <= high and first.min() < low
    assert last.min() >= low and last.max() <= high


def test_clamp_after_each_step_keeps_u_bounded():
    torch.manual_seed(6)
    high = recurrent_bound(2.0, 50)
    rnn = IndRNN(1, 16, recurrent_max=high, recurrent_min=0.1)
    optimizer = torch.optim.SGD(rnn.parameters(), lr=10.0)
    handle = indrnn.clamp_after_each_step(optimizer, rnn)
    with torch.no_grad():
        rnn.weight_hh_l0[:4] = torch.tensor([-3.0, 0.0, 0.01, -0.01])
    indrnn.clamp_recurrent_weights_(rnn)
    assert rnn.weight_hh_l0[:4].tolist() == pytest.approx([-high, 0.1, 0.1, -0.1])
    # A huge step that pushes every u far out of bounds.
    rnn(torch.ones(50, 2, 1))[0].sum().mul(-1000).backward()
    optimizer.step()
    u = rnn.weight_hh_l0.detach().abs()
    assert u.max() <= high + 1e-7 and u.min() >= 0.1 - 1e-7
    handle.remove()
    with torch.no_grad():
        rnn.weight_hh_l0.fill_(5.0)
    optimizer.zero_grad()
    optimizer.step()
    assert rnn.weight_hh_l0.max().item() == 5.0  # the hook is gone


def test_dropout_mask_is_shared_over_time():
    torch.manual_seed(7)
    rnn = IndRNN(3, 64, num_layers=2, dropout=0.5)
    with torch.no_grad():  # layer 2 passes its input through: h = relu(dropout(h_l0))
        rnn.weight_ih_l1.copy_(torch.eye(64))
        rnn.weight_hh_l1.zero_()
        rnn.weight_ih_l0.abs_()  # every first-layer neuron active at every step
        rnn.bias_ih_l0.fill_(1.0)
    x = torch.rand(30, 4, 3)
    recording = indrnn.record(rnn.train(), x)
    first = recording["l0"].hidden
    second = recording["l1"].hidden
    assert (first > 0).all()
    dropped = second == 0
    assert dropped.any() and not dropped.all()
    assert (dropped == dropped[:1]).all()  # the same neurons dropped at every step
    torch.testing.assert_close(second[~dropped], 2 * first[~dropped])
    rnn.eval()
    torch.testing.assert_close(rnn(x)[0], indrnn.record(rnn, x)["l0"].hidden)


def test_record_returns_every_layer_without_hooks():
    torch.manual_seed(8)
    rnn = IndRNN(2, 5, num_layers=2, bidirectional=True)
    x = torch.randn(11, 3, 2)
    recording = indrnn.record(rnn, x)
    assert list(recording.layers) == ["l0", "l0_reverse", "l1", "l1_reverse"]
    output, _ = rnn(x)
    torch.testing.assert_close(recording.output[0], output)
    top = recording["l1"]
    assert top.kind == "indrnn" and top.hidden.shape == (11, 3, 5)
    torch.testing.assert_close(top.hidden, output[..., :5])
    torch.testing.assert_close(torch.relu(top["preactivation"]), top.hidden)
    torch.testing.assert_close(recording["l1_reverse"].hidden, output[..., 5:])
    assert torch.equal(top["recurrent_weight"], rnn.weight_hh_l1.detach())
    assert not top.hidden.requires_grad
    assert not rnn._forward_hooks and not rnn._forward_pre_hooks


def test_config_rebuilds_the_layer():
    rnn = IndRNN(3, 4, num_layers=2, nonlinearity="tanh", bidirectional=True,
                 recurrent_max=[0.9, 1.0], batch_first=True)
    rebuilt = IndRNN(**rnn.config())
    rebuilt.load_state_dict(rnn.state_dict())
    x = torch.randn(2, 6, 3)
    torch.testing.assert_close(rebuilt(x)[0], rnn(x)[0])


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (torch.zeros(2, 3, 4, 5), r"input must be \(T, B, input_size\).*got shape \(2, 3, 4, 5\)"),
        (torch.zeros(7, 2, 5), r"input_size=3 .*got shape \(7, 2, 5\)"),
        (torch.zeros(7, 2, 3, dtype=torch.float64), "input dtype must be torch.float32"),
        (torch.zeros(0, 2, 3), "at least one step"),
        (torch.zeros(4, 0, 3), "at least one step and one sequence"),
        (torch.zeros(7, 2, 3, device="meta"), "input must be on cpu"),
        ([[1.0, 2.0, 3.0]], "Tensor or PackedSequence"),
    ],
)
def test_bad_input_names_expected_and_given(x, message):
    with pytest.raises(ValueError, match=message):
        IndRNN(3, 4)(x)


def test_bad_hx_and_constructor_arguments():
    rnn = IndRNN(3, 4, num_layers=2)
    with pytest.raises(ValueError, match=r"hx must have shape \(2, 5, 4\), got \(1, 5, 4\)"):
        rnn(torch.zeros(6, 5, 3), torch.zeros(1, 5, 4))
    with pytest.raises(ValueError, match="nonlinearity"):
        IndRNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="recurrent_max needs 2 values"):
        IndRNN(3, 4, num_layers=2, recurrent_max=[1.0])
    with pytest.raises(ValueError, match="must not exceed"):
        IndRNN(3, 4, recurrent_min=0.9, recurrent_max=0.5)
    with pytest.raises(ValueError, match="dropout"):
        IndRNN(3, 4, dropout=1.0)
    with pytest.raises(ValueError, match=r"input must be \(B, 3\)"):
        IndRNNCell(3, 4)(torch.zeros(2, 4))


def test_nan_input_propagates_only_downstream():
    rnn = IndRNN(2, 3).eval()
    x = torch.ones(10, 2, 2)
    x[4, 0, 0] = float("nan")
    output, h_n = rnn(x)
    assert torch.isfinite(output[:4]).all() and torch.isfinite(output[:, 1]).all()
    assert torch.isnan(output[4, 0]).all() and torch.isnan(h_n[0, 0]).all()


def test_input_weight_std_gives_the_papers_small_gaussian_init():
    torch.manual_seed(9)
    rnn = IndRNN(2, 4000, input_weight_std=0.001)
    assert rnn.weight_ih_l0.std().item() == pytest.approx(0.001, rel=0.05)
    assert IndRNN(**rnn.config()).input_weight_std == 0.001
    assert IndRNN(2, 4000).weight_ih_l0.std().item() > 0.1  # He-uniform otherwise
    with pytest.raises(ValueError, match="input_weight_std must be > 0"):
        IndRNN(2, 4, input_weight_std=0.0)
