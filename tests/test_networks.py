"""indrnn.networks: the plain, residual and dense IndRNN networks and time batch norm."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from indrnn import clamp_recurrent_weights_, recurrent_bound
from indrnn.networks import DenseIndRNN, PlainIndRNN, ResIndRNN, TimeBatchNorm
from indrnn.record import record
from indrnn.sequences import time_dropout

T = 20
BOUNDS = {"recurrent_max": recurrent_bound(5.0, T),
          "last_layer_recurrent_min": recurrent_bound(0.2, T)}
SMALL = [
    (PlainIndRNN, {"input_size": 3, "hidden_size": 8, "num_layers": 3}),
    (PlainIndRNN, {"input_size": 3, "hidden_size": 8, "num_layers": 3, "batch_norm": "after",
                   "dropout": 0.2, **BOUNDS}),
    (PlainIndRNN, {"input_size": 3, "hidden_size": 8, "num_layers": 2, "batch_norm": "before",
                   "bn_per_step": True, "max_steps": 30, "recurrent_min": [0.1, None],
                   "recurrent_max": [1.0, 1.2], "nonlinearity": "tanh"}),
    (ResIndRNN, {"input_size": 3, "hidden_size": 8, "num_blocks": 2, **BOUNDS}),
    (ResIndRNN, {"input_size": 3, "hidden_size": 8, "num_blocks": 1, "batch_norm": "after",
                 "batch_first": True, "dropout": 0.1}),
    (DenseIndRNN, {"input_size": 3, "growth_rate": 4, "blocks": [2, 1], **BOUNDS}),
    (DenseIndRNN, {"input_size": 3, "growth_rate": 4, "blocks": (1, 1, 1), "bottleneck": 2,
                   "transition_ratio": 0.75, "init_features": 5, "last_layer": False,
                   "bn_per_step": True, "max_steps": 40}),
]
IDS = [f"{cls.__name__}-{i}" for i, (cls, _) in enumerate(SMALL)]


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    # Tiny tensors: one intra-op thread is fastest, and it keeps torch's OpenMP workers from
    # spinning against numba's on a 2-core machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make(cls, kwargs, seed=0):
    torch.manual_seed(seed)
    return cls(**kwargs)


def inputs(net, steps=T, batch=4, seed=1):
    torch.manual_seed(seed)
    x = torch.randn(steps, batch, net.input_size)
    return x.transpose(0, 1) if net.batch_first else x


def recurrence_names(net):
    """The IndRNN layers in the order they run, as :func:`record` reports them."""
    x = torch.zeros(2, 3, net.input_size)
    return list(record(net, x.transpose(0, 1) if net.batch_first else x).layers)


# ---------------------------------------------------------------- shapes, config, state


@pytest.mark.parametrize("cls,kwargs", SMALL, ids=IDS)
def test_shapes_and_states(cls, kwargs):
    net = make(cls, kwargs)
    x = inputs(net)
    output, h_n = net(x)
    batch_dims = (4, T) if net.batch_first else (T, 4)
    assert output.shape == (*batch_dims, net.output_size)
    assert len(h_n) == net.depth == len(recurrence_names(net))
    sizes = [net.get_submodule(name).hidden_size for name in recurrence_names(net)]
    assert [tuple(h.shape) for h in h_n] == [(4, n) for n in sizes]
    output.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


@pytest.mark.parametrize("cls,kwargs", SMALL, ids=IDS)
def test_config_round_trip(cls, kwargs):
    net = make(cls, kwargs)
    x = inputs(net)
    for _ in range(3):  # move the running statistics away from their initial values
        net(x)
    net.eval()
    config = json.loads(json.dumps(net.config()))
    rebuilt = make(cls, config, seed=123)
    assert rebuilt.config() == config
    assert not torch.equal(rebuilt(x)[0], net(x)[0])
    rebuilt.load_state_dict(net.state_dict())
    rebuilt.eval()
    torch.testing.assert_close(rebuilt(x)[0], net(x)[0], rtol=0, atol=0)


@pytest.mark.parametrize("cls,kwargs", [SMALL[2], SMALL[3], SMALL[6]], ids=[IDS[2], IDS[3], IDS[6]])
def test_hx_and_step_offset_continue_a_sequence(cls, kwargs):
    net = make(cls, kwargs)
    x = inputs(net)
    for _ in range(3):
        net(x)
    net.eval()
    whole, whole_h = net(x)
    first, h = net(x[:12])
    second, second_h = net(x[12:], hx=h, step_offset=12)
    torch.testing.assert_close(torch.cat([first, second]), whole, rtol=1e-5, atol=1e-6)
    for a, b in zip(second_h, whole_h):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    if net.bn_per_step:  # the offset selects the per-step statistics
        assert not torch.allclose(net(x[12:], hx=h)[0], second, atol=1e-4)


def test_batch_first_matches_time_major():
    net = make(ResIndRNN, SMALL[3][1])
    twin = make(ResIndRNN, {**SMALL[3][1], "batch_first": True})
    twin.load_state_dict(net.state_dict())
    x = inputs(net)
    torch.testing.assert_close(twin(x.transpose(0, 1))[0].transpose(0, 1), net(x)[0])


def test_default_depths_and_invalid_arguments():
    assert ResIndRNN(2, 8).depth == 21  # the paper's 21-layer res-IndRNN
    assert DenseIndRNN(2, 4).depth == 2 * (8 + 6 + 4) + 3 + 1
    assert PlainIndRNN(2, 8, 21).depth == 21
    net = PlainIndRNN(2, 8)
    with pytest.raises(ValueError, match="batch_norm"):
        PlainIndRNN(2, 8, batch_norm="middle")
    with pytest.raises(ValueError, match="batch_norm"):
        ResIndRNN(2, 8, batch_norm=None)
    with pytest.raises(ValueError, match="transition_ratio"):
        DenseIndRNN(2, 4, transition_ratio=0.0)
    with pytest.raises(ValueError, match="recurrent_max needs 3"):
        ResIndRNN(2, 8, num_blocks=1, recurrent_max=[1.0, 1.0])
    with pytest.raises(ValueError, match="hx must hold 2"):
        net(torch.randn(5, 3, 2), hx=[torch.zeros(3, 8)])
    with pytest.raises(ValueError, match="input_size=2"):
        net(torch.randn(5, 3, 4))


# ---------------------------------------------------------------- u bounds, record, dropout


@pytest.mark.parametrize("cls,kwargs", [SMALL[1], SMALL[3], SMALL[5]], ids=[IDS[1], IDS[3], IDS[5]])
def test_u_initialisation_and_clamp(cls, kwargs):
    net = make(cls, kwargs)
    high, low = BOUNDS["recurrent_max"], BOUNDS["last_layer_recurrent_min"]
    layers = [net.get_submodule(name) for name in recurrence_names(net)]
    for layer in layers[:-1]:
        assert layer.weight_hh.min() >= 0 and layer.weight_hh.max() <= high
        assert layer.weight_hh.min() < low  # U(0, max): the lower bound is the last layer's
    assert layers[-1].weight_hh.min() >= low and layers[-1].weight_hh.max() <= high
    with torch.no_grad():
        for layer in layers:
            layer.weight_hh.copy_(torch.linspace(-3.0, 3.0, layer.hidden_size))
    clamp_recurrent_weights_(net)
    magnitudes = [layer.weight_hh.detach().abs() for layer in layers]
    assert all(float(u.max()) == pytest.approx(high) for u in magnitudes)
    assert float(magnitudes[0].min()) < 0.5
    assert float(magnitudes[-1].min()) == pytest.approx(low)


def test_record_names_every_layer():
    plain = make(*SMALL[0])
    assert list(record(plain, inputs(plain)).layers) == [f"layers.{i}.recurrence"
                                                          for i in range(3)]
    res = make(*SMALL[3])
    assert list(record(res, inputs(res)).layers) == [
        "blocks.0.unit1.recurrence", "blocks.0.unit2.recurrence",
        "blocks.1.unit1.recurrence", "blocks.1.unit2.recurrence", "last.recurrence"]
    dense = make(*SMALL[5])
    rec = record(dense, inputs(dense))
    assert list(rec.layers) == [
        "first.recurrence",
        "blocks.0.0.bottleneck.recurrence", "blocks.0.0.growth.recurrence",
        "blocks.0.1.bottleneck.recurrence", "blocks.0.1.growth.recurrence",
        "transitions.0.recurrence",
        "blocks.1.0.bottleneck.recurrence", "blocks.1.0.growth.recurrence",
        "last.recurrence"]
    assert rec["blocks.0.1.bottleneck.recurrence"].hidden.shape == (T, 4, 16)
    # Without batch norm after the recurrence, the output is the last layer's recorded state.
    torch.testing.assert_close(record(plain, inputs(plain)).output[0],
                               record(plain, inputs(plain))["layers.2.recurrence"].hidden)


def test_time_dropout_shares_its_mask_over_time():
    torch.manual_seed(0)
    x = torch.ones(30, 16, 8)
    y = time_dropout(x, 0.5, training=True)
    assert torch.equal(y, y[:1].expand_as(y))
    assert set(y.unique().tolist()) == {0.0, 2.0}
    assert time_dropout(x, 0.5, training=False) is x


# ---------------------------------------------------------------- TimeBatchNorm


def trended(steps=6, batch=5, features=3):
    torch.manual_seed(2)
    return torch.randn(steps, batch, features) + torch.arange(steps).view(-1, 1, 1) * 2.0


def test_time_batch_norm_over_time_statistics():
    bn = TimeBatchNorm(3)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.0, 2.0, 0.5]))
        bn.bias.copy_(torch.tensor([0.0, -1.0, 3.0]))
    x = trended()
    mean, var = x.mean((0, 1)), x.var((0, 1), unbiased=False)
    expected = (x - mean) / torch.sqrt(var + 1e-5) * bn.weight + bn.bias
    torch.testing.assert_close(bn(x), expected)
    torch.testing.assert_close(bn.running_mean, 0.1 * mean)
    torch.testing.assert_close(bn.running_var, 0.9 + 0.1 * x.var((0, 1), unbiased=True))
    bn.eval()
    torch.testing.assert_close(
        bn(x), (x - bn.running_mean) / torch.sqrt(bn.running_var + 1e-5) * bn.weight + bn.bias)


def test_time_batch_norm_per_step_statistics():
    bn = TimeBatchNorm(3, per_step=True, max_steps=8)
    with torch.no_grad():
        bn.bias.fill_(0.5)
    x = trended()
    mean, var = x.mean(1, keepdim=True), x.var(1, unbiased=False, keepdim=True)
    y = bn(x)
    torch.testing.assert_close(y, (x - mean) / torch.sqrt(var + 1e-5) + 0.5)
    torch.testing.assert_close(bn.running_mean[:6], 0.1 * mean.squeeze(1))
    torch.testing.assert_close(bn.running_var[:6], 0.9 + 0.1 * x.var(1, unbiased=True))
    assert torch.equal(bn.running_mean[6:], torch.zeros(2, 3))
    # Over time, the trend survives: each step keeps its offset from the overall mean.
    over_time = TimeBatchNorm(3)(x)
    assert over_time.mean(1).std(0).min() > 0.5 and y.mean(1).sub(0.5).abs().max() < 1e-5
    # An offset updates the statistics of the steps it names.
    bn(x[:2], step_offset=6)
    torch.testing.assert_close(bn.running_mean[6:], 0.1 * mean.squeeze(1)[:2])
    with pytest.raises(ValueError, match="max_steps"):
        bn(x, step_offset=3)


def test_time_batch_norm_per_step_eval_reuses_the_last_step_beyond_max_steps():
    bn = TimeBatchNorm(3, per_step=True, max_steps=4)
    with torch.no_grad():
        bn.running_mean.copy_(torch.arange(12.0).view(4, 3))
        bn.running_var.copy_(torch.arange(1.0, 13.0).view(4, 3))
    bn.eval()
    x = trended(steps=7)
    index = torch.tensor([0, 1, 2, 3, 3, 3, 3])
    mean, var = bn.running_mean[index].unsqueeze(1), bn.running_var[index].unsqueeze(1)
    torch.testing.assert_close(bn(x), (x - mean) / torch.sqrt(var + 1e-5))
    torch.testing.assert_close(bn(x[2:], step_offset=2), bn(x)[2:])


def test_time_batch_norm_eval_matches_train_once_statistics_settle():
    x = trended()
    for per_step, samples in ((False, x.shape[0] * x.shape[1]), (True, x.shape[1])):
        bn = TimeBatchNorm(3, per_step=per_step, max_steps=6, momentum=0.5)
        with torch.no_grad():
            for _ in range(40):
                train_out = bn(x)
        bn.eval()
        # The running variance is unbiased, the batch variance biased.
        expected = train_out * math.sqrt((samples - 1) / samples)
        torch.testing.assert_close(bn(x), expected, rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------- deep networks train


def marked_sum_task(batch: int, generator: torch.Generator) -> tuple:
    """Two channels of N(0, 1) noise; label: is the sum of channel 0 over the T steps positive?"""
    x = torch.randn(T, batch, 2, generator=generator)
    return x, (x[:, :, 0].sum(0) > 0).float()


DEEP = {  # depth >= 21 IndRNN layers each; (network, Adam steps)
    "plain": (lambda: PlainIndRNN(2, 24, 21, batch_norm="after", **BOUNDS), 200),
    "res": (lambda: ResIndRNN(2, 24, num_blocks=10, **BOUNDS), 60),
    "dense": (lambda: DenseIndRNN(2, 8, blocks=(4, 3, 2), **BOUNDS), 60),
}


def deep_model(kind: str, seed: int) -> tuple:
    torch.manual_seed(seed)
    net = DEEP[kind][0]()
    return net, nn.Linear(net.output_size, 1)


def last_step_loss(net, head, x, y):
    return nn.functional.binary_cross_entropy_with_logits(head(net(x)[0][-1]).squeeze(-1), y)


def first_to_last_gradient_ratio(net, head, x, y) -> float:
    """Gradient norm of the first IndRNN layer's unit (Weight, BN, u) over the last one's."""
    net.zero_grad()
    last_step_loss(net, head, x, y).backward()
    names = recurrence_names(net)

    def norm(name):
        unit = net.get_submodule(name.rsplit(".", 1)[0])
        return math.sqrt(sum(float(p.grad.pow(2).sum()) for p in unit.parameters()))

    return norm(names[0]) / norm(names[-1])


def train_deep(kind: str, seed: int = 0) -> tuple[float, float]:
    """Held-out loss (batch statistics) at initialisation and after training."""
    net, head = deep_model(kind, seed)
    generator = torch.Generator().manual_seed(1000 + seed)
    held_out = marked_sum_task(256, generator)
    with torch.no_grad():
        initial = float(last_step_loss(net, head, *held_out))
    optimizer = torch.optim.Adam([*net.parameters(), *head.parameters()], lr=1e-2)
    for _ in range(DEEP[kind][1]):
        loss = last_step_loss(net, head, *marked_sum_task(64, generator))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        clamp_recurrent_weights_(net)
    with torch.no_grad():
        final = float(last_step_loss(net, head, *held_out))
    return initial, final


@pytest.mark.parametrize("kind", list(DEEP))
def test_deep_network_trains(kind):
    initial, final = train_deep(kind)
    # Measured over seeds 0-7: final/initial 0.25-0.41 (plain), 0.08-0.28 (res), 0.11-0.23
    # (dense); final 0.19-0.30 (plain), 0.22-0.33 (res), 0.25-0.34 (dense). Chance: ln 2 = 0.69.
    assert math.isfinite(initial) and final < 0.7 * initial
    assert final < 0.5


@pytest.mark.parametrize("kind", list(DEEP))
def test_deep_network_gradient_reaches_the_first_layer(kind):
    net, head = deep_model(kind, 0)
    assert net.depth >= 21
    x, y = marked_sum_task(64, torch.Generator().manual_seed(1000))
    ratio = first_to_last_gradient_ratio(net, head, x, y)
    # Measured over seeds 0-9: 4-8.5 (plain, BN after), 0.3-2.1 (res), 0.26-1.2 (dense).
    assert 1e-2 < ratio < 1e2


def test_gradient_ratio_detects_vanishing_gradients():
    # Control: a plain stack without batch norm whose input weights are shrunk 0.3x loses its
    # gradient on the way down (measured 3e-5 to 1.3e-3 over seeds 0-5).
    torch.manual_seed(0)
    net = PlainIndRNN(2, 24, 21, **BOUNDS)
    with torch.no_grad():
        for layer in net.layers:
            layer.weight.weight.mul_(0.3)
    x, y = marked_sum_task(64, torch.Generator().manual_seed(1000))
    assert first_to_last_gradient_ratio(net, nn.Linear(24, 1), x, y) < 1e-2
