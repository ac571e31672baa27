"""indrnn.convert: each source's state dict, built here with that implementation's names and
shapes, converts to a model of ours whose outputs match that implementation's recurrence, written
out below as plain loops; files round-trip; bad inputs are refused by name."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import Tensor

import indrnn
from indrnn import convert as convert_module
from indrnn.convert import ConversionError, convert, convert_file, main, read_source
from indrnn.layers import IndRNN
from indrnn.lstm import LSTM
from indrnn.networks import PlainIndRNN
from indrnn.sequence_model import SequenceModel

ATOL = 1e-5
EPS = 1e-5  # BatchNorm1d's default, which the sources use


# --------------------------------------------------------------------------------------------
# Reference forwards: each implementation's equations, time-major x (T, B, D)


def indrnn_loop(a: Tensor, u: Tensor, act, reverse: bool = False) -> Tensor:
    """h_t = act(a_t + u * h_{t-1}) over a (T, B, H), h_0 = 0 (backwards for ``reverse``)."""
    steps = range(a.shape[0] - 1, -1, -1) if reverse else range(a.shape[0])
    h, out = torch.zeros_like(a[0]), [None] * a.shape[0]
    for t in steps:
        h = act(a[t] + u * h)
        out[t] = h
    return torch.stack(out)


def bn_eval(x: Tensor, sd: dict, n: str) -> Tensor:
    """BatchNorm1d in eval over the features of (T, B, H)."""
    return ((x - sd[f"{n}running_mean"]) / torch.sqrt(sd[f"{n}running_var"] + EPS)
            * sd[f"{n}weight"] + sd[f"{n}bias"])


def official_reference(sd: dict, x: Tensor, layers: int, names: dict, location: str) -> Tensor:
    """Sunnydreamrain/IndRNN_pytorch's plain stack: DIs -> (BN) -> IndRNN(relu) -> (BN)."""
    for k in range(layers):
        w, n, u = (names[key].format(k=k) for key in ("weight", "norm", "u"))
        a = x @ sd[f"{w}weight"].T + sd[f"{w}bias"]
        if location == "before":
            x = indrnn_loop(bn_eval(a, sd, n), sd[u], torch.relu)
        else:
            x = bn_eval(indrnn_loop(a, sd[u], torch.relu), sd, n)
    head = names["head"]
    return x[-1] @ sd[f"{head}weight"].T + sd[f"{head}bias"]


def stefoe_reference(sd: dict, x: Tensor, layers: int, act, nested: bool, directions: int = 1,
                     batch_norm: bool = False, max_abs: float | None = None,
                     prefix: str = "indrnn.") -> Tensor:
    """StefOe/indrnn-pytorch IndRNN: act(W x + b + u * h) per cell, BN over time after a layer
    (newer layout), u clamped to +-hidden_max_abs by check_bounds before each forward."""
    for k in range(layers):
        outputs = []
        for d in range(directions):
            c = f"{prefix}cells.{k}.{d}." if nested else f"{prefix}cells.{k}."
            u = sd[f"{c}weight_hh"]
            u = u if max_abs is None else u.clamp(-max_abs, max_abs)
            a = x @ sd[f"{c}weight_ih"].T + sd.get(f"{c}bias_ih", 0.0)
            outputs.append(indrnn_loop(a, u, act, reverse=d == 1))
        x = torch.cat(outputs, -1)
        if batch_norm:
            x = bn_eval(x, sd, f"{prefix}bns.{k}.")
    return x[-1] @ sd["lin.weight"].T + sd["lin.bias"]


def haste_reference(sd: dict, x: Tensor, p: str = "rnn.") -> Tensor:
    """lmnt-com/haste IndRNNScript: Wx = input @ kernel + bias; h = tanh(Wx[t] + h * scale)."""
    wx = x @ sd[f"{p}kernel"] + sd[f"{p}bias"]
    h = torch.zeros(x.shape[1], sd[f"{p}bias"].shape[0])
    for t in range(x.shape[0]):
        h = torch.tanh(wx[t] + h * sd[f"{p}recurrent_scale"])
    return h @ sd["fc.weight"].T + sd["fc.bias"]


def lstm_reference(sd: dict, x: Tensor, layers: int, directions: int, p: str = "lstm.",
                   every: bool = False) -> Tensor:
    """torch.nn.LSTM's equations, gates i, f, g, o stacked in that order; h = W_hr h if any."""
    for k in range(layers):
        outputs = []
        for d, suffix in enumerate(("", "_reverse")[:directions]):
            name = f"l{k}{suffix}"
            w_ih, w_hh = sd[f"{p}weight_ih_{name}"], sd[f"{p}weight_hh_{name}"]
            b = sd[f"{p}bias_ih_{name}"] + sd[f"{p}bias_hh_{name}"]
            w_hr = sd.get(f"{p}weight_hr_{name}")
            size = w_hh.shape[0] // 4
            h = torch.zeros(x.shape[1], w_hh.shape[1])
            c = torch.zeros(x.shape[1], size)
            out = [None] * x.shape[0]
            for t in (range(x.shape[0] - 1, -1, -1) if d else range(x.shape[0])):
                z = x[t] @ w_ih.T + h @ w_hh.T + b
                i, f, g, o = z.split(size, dim=1)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(c)
                h = h if w_hr is None else h @ w_hr.T
                out[t] = h
            outputs.append(torch.stack(out))
        x = torch.cat(outputs, -1)
    y = x @ sd["fc.weight"].T + sd["fc.bias"]
    return y.transpose(0, 1) if every else y[-1]


def rnn_reference(sd: dict, x: Tensor, layers: int, act, p: str = "") -> Tensor:
    """torch.nn.RNN's equation with the full matrix: act(W_ih x + b_ih + W_hh h + b_hh)."""
    for k in range(layers):
        h = torch.zeros(x.shape[1], sd[f"{p}weight_hh_l{k}"].shape[0])
        out = []
        for t in range(x.shape[0]):
            h = act(x[t] @ sd[f"{p}weight_ih_l{k}"].T + sd[f"{p}bias_ih_l{k}"]
                    + h @ sd[f"{p}weight_hh_l{k}"].T + sd[f"{p}bias_hh_l{k}"])
            out.append(h)
        x = torch.stack(out)
    return x[-1] @ sd["fc.weight"].T + sd["fc.bias"]


def ours(model: torch.nn.Module, x: Tensor) -> Tensor:
    """Our converted model's output for time-major ``x`` (it takes batch-first input)."""
    with torch.no_grad():
        return model(x.transpose(0, 1))[0]


# --------------------------------------------------------------------------------------------
# Source state dicts, with each implementation's names and shapes

OFFICIAL_PLAINNET = {"weight": "DIs.{k}.fc.", "norm": "RNNs.{k}.norm1.bn.",
                     "u": "RNNs.{k}.indrnn1.weight_hh", "head": "classifier."}
OFFICIAL_MNIST = {"weight": "DIs.{k}.", "norm": "BNs.{k}.bn.", "u": "RNNs.{k}.weight_hh",
                  "head": "lastfc."}


def official_state(names: dict, inputs: int = 3, hidden: int = 6, layers: int = 3,
                   classes: int = 4, seed: int = 0) -> dict[str, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    sd = {}
    for k in range(layers):
        w, n = names["weight"].format(k=k), names["norm"].format(k=k)
        sd[f"{w}weight"] = torch.randn(hidden, inputs if k == 0 else hidden, generator=gen) * 0.5
        sd[f"{w}bias"] = torch.randn(hidden, generator=gen) * 0.3
        sd[f"{n}weight"] = 1 + 0.3 * torch.randn(hidden, generator=gen)
        sd[f"{n}bias"] = 0.3 * torch.randn(hidden, generator=gen)
        sd[f"{n}running_mean"] = 0.5 * torch.randn(hidden, generator=gen)
        sd[f"{n}running_var"] = 0.5 + torch.rand(hidden, generator=gen)
        sd[f"{n}num_batches_tracked"] = torch.tensor(100)
        sd[names["u"].format(k=k)] = torch.rand(hidden, generator=gen)
    sd[f"{names['head']}weight"] = torch.randn(classes, hidden, generator=gen)
    sd[f"{names['head']}bias"] = torch.randn(classes, generator=gen)
    return sd


def stefoe_state(inputs: int = 2, hidden: int = 5, layers: int = 2, nested: bool = False,
                 directions: int = 1, batch_norm: bool = False, bias: bool = True,
                 seed: int = 1) -> dict[str, Tensor]:
    """As their examples' Net: the IndRNN under ``indrnn.``, the readout ``lin``."""
    gen = torch.Generator().manual_seed(seed)
    sd = {}
    for k in range(layers):
        fan_in = inputs if k == 0 else hidden * directions
        for d in range(directions):
            c = f"indrnn.cells.{k}.{d}." if nested else f"indrnn.cells.{k}."
            sd[f"{c}weight_ih"] = torch.randn(hidden, fan_in, generator=gen) * 0.5
            sd[f"{c}weight_hh"] = torch.rand(hidden, generator=gen) * 2 - 1
            if bias:
                sd[f"{c}bias_ih"] = torch.randn(hidden, generator=gen) * 0.3
        if batch_norm:
            n = f"indrnn.bns.{k}."
            sd[f"{n}weight"] = 1 + 0.3 * torch.randn(hidden, generator=gen)
            sd[f"{n}bias"] = 0.3 * torch.randn(hidden, generator=gen)
            sd[f"{n}running_mean"] = 0.3 * torch.randn(hidden, generator=gen)
            sd[f"{n}running_var"] = 0.5 + torch.rand(hidden, generator=gen)
            sd[f"{n}num_batches_tracked"] = torch.tensor(7)
    sd["indrnn.h0"] = torch.zeros(hidden * directions)
    sd["lin.weight"] = torch.randn(3, hidden * directions, generator=gen)
    sd["lin.bias"] = torch.randn(3, generator=gen)
    return sd


def haste_state(inputs: int = 3, hidden: int = 7, seed: int = 2) -> dict[str, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {"rnn.kernel": torch.randn(inputs, hidden, generator=gen) * 0.5,
            "rnn.recurrent_scale": torch.rand(hidden, generator=gen) - 0.5,
            "rnn.bias": torch.randn(hidden, generator=gen) * 0.2,
            "fc.weight": torch.randn(2, hidden, generator=gen), "fc.bias": torch.randn(2)}


def lstm_state(inputs: int = 3, hidden: int = 4, layers: int = 2, bidirectional: bool = True,
               proj_size: int = 0, seed: int = 3) -> dict[str, Tensor]:
    """A real ``torch.nn.LSTM``'s state dict under ``lstm.``, with a readout ``fc``."""
    torch.manual_seed(seed)
    lstm = torch.nn.LSTM(inputs, hidden, layers, bidirectional=bidirectional,
                         proj_size=proj_size)
    out = (proj_size or hidden) * (2 if bidirectional else 1)
    sd = {f"lstm.{k}": v for k, v in lstm.state_dict().items()}
    sd["fc.weight"], sd["fc.bias"] = torch.randn(5, out), torch.randn(5)
    return sd


def rnn_state(inputs: int = 2, hidden: int = 4, layers: int = 2, diagonal: bool = True,
              seed: int = 4) -> dict[str, Tensor]:
    torch.manual_seed(seed)
    sd = dict(torch.nn.RNN(inputs, hidden, layers).state_dict())
    for k in range(layers):
        if diagonal:
            sd[f"weight_hh_l{k}"] = torch.diag(torch.rand(hidden) * 1.8 - 0.9)
    sd["fc.weight"], sd["fc.bias"] = torch.randn(1, hidden), torch.randn(1)
    return sd


@pytest.fixture
def x() -> Tensor:
    return torch.randn(9, 4, 3, generator=torch.Generator().manual_seed(5))


# --------------------------------------------------------------------------------------------
# Each kind reproduces its source


@pytest.mark.parametrize("u_name", ["RNNs.{k}.indrnn1.weight_hh",
                                    "RNNs.{k}.indrnn1.cells.0.weight_hh",
                                    "RNNs.{k}.indrnn1.indrnn_cell.weight_hh"])
@pytest.mark.parametrize("location", ["after", "before"])
def test_official_plainnet_matches_its_forward(x: Tensor, u_name: str, location: str) -> None:
    names = {**OFFICIAL_PLAINNET, "u": u_name}
    sd = official_state(names)
    if ".cells.0." in u_name:  # the older CPU module keeps an all-zero h0 buffer
        for k in range(3):
            sd[f"RNNs.{k}.indrnn1.h0"] = torch.zeros(6)
    model = convert("official", sd, bn_location=location)
    assert isinstance(model, SequenceModel) and isinstance(model.body, PlainIndRNN)
    assert model.body.batch_norm == location and not model.training
    expected = official_reference(sd, x, 3, names, location)
    torch.testing.assert_close(ours(model, x), expected, atol=ATOL, rtol=1e-5)


def test_official_bn_location_matters(x: Tensor) -> None:
    """The two settings compute different things, so the test above can tell them apart."""
    sd = official_state(OFFICIAL_PLAINNET)
    after = official_reference(sd, x, 3, OFFICIAL_PLAINNET, "after")
    before = ours(convert("official", sd, bn_location="before"), x)
    assert not torch.allclose(after, before, atol=1e-3)


def test_official_mnist_network_matches_its_forward(x: Tensor) -> None:
    sd = official_state(OFFICIAL_MNIST, layers=2, classes=10)
    model = convert("official", sd)
    torch.testing.assert_close(ours(model, x), official_reference(sd, x, 2, OFFICIAL_MNIST,
                                                                  "after"), atol=ATOL, rtol=1e-5)
    with pytest.raises(ConversionError, match="bn_location: expected 'after'"):
        convert("official", sd, bn_location="before")


def test_official_under_data_parallel(x: Tensor) -> None:
    sd = official_state(OFFICIAL_PLAINNET, layers=2)
    model = convert("official", {f"module.{k}": v for k, v in sd.items()})
    expected = official_reference(sd, x, 2, OFFICIAL_PLAINNET, "after")
    torch.testing.assert_close(ours(model, x), expected, atol=ATOL, rtol=1e-5)


@pytest.mark.parametrize("nonlinearity", ["relu", "tanh"])
def test_stefoe_flat_layout_matches(x: Tensor, nonlinearity: str) -> None:
    sd = stefoe_state(inputs=3, layers=3)
    model = convert("stefoe", sd, nonlinearity=nonlinearity)
    assert isinstance(model.body, IndRNN) and model.body.nonlinearity == nonlinearity
    act = torch.relu if nonlinearity == "relu" else torch.tanh
    torch.testing.assert_close(ours(model, x), stefoe_reference(sd, x, 3, act, nested=False),
                               atol=ATOL, rtol=1e-5)


def test_stefoe_default_nonlinearity_is_relu(x: Tensor) -> None:
    sd = stefoe_state(inputs=3)
    torch.testing.assert_close(ours(convert("stefoe", sd), x),
                               stefoe_reference(sd, x, 2, torch.relu, nested=False),
                               atol=ATOL, rtol=1e-5)


def test_stefoe_nested_bidirectional_matches(x: Tensor) -> None:
    sd = stefoe_state(inputs=3, nested=True, directions=2, bias=False)
    model = convert("stefoe", sd, nonlinearity="tanh")
    assert model.body.bidirectional and not model.body.bias
    torch.testing.assert_close(ours(model, x), stefoe_reference(
        sd, x, 2, torch.tanh, nested=True, directions=2), atol=ATOL, rtol=1e-5)


def test_stefoe_nested_batch_norm_matches(x: Tensor) -> None:
    sd = stefoe_state(inputs=3, layers=3, nested=True, batch_norm=True)
    model = convert("stefoe", sd)
    assert isinstance(model.body, PlainIndRNN) and model.body.batch_norm == "after"
    torch.testing.assert_close(ours(model, x), stefoe_reference(
        sd, x, 3, torch.relu, nested=True, batch_norm=True), atol=ATOL, rtol=1e-5)


def test_stefoe_hidden_max_abs_clamps_u_as_their_forward_does(x: Tensor) -> None:
    sd = stefoe_state(inputs=3)
    sd["indrnn.cells.0.weight_hh"] = torch.tensor([1.5, -1.4, 0.2, 0.9, -0.3])
    model = convert("stefoe", sd, recurrent_max=0.5)
    assert model.body.recurrent_max == [0.5, 0.5]
    expected = stefoe_reference(sd, x, 2, torch.relu, nested=False, max_abs=0.5)
    torch.testing.assert_close(ours(model, x), expected, atol=ATOL, rtol=1e-5)
    unclamped = stefoe_reference(sd, x, 2, torch.relu, nested=False)
    assert not torch.allclose(expected, unclamped, atol=1e-3)


def test_stefoe_refuses_batch_norm_it_cannot_reproduce() -> None:
    flat = stefoe_state(batch_norm=True)  # older layout: BN inside the step loop
    with pytest.raises(ConversionError, match=r"'indrnn\.bns\.0'.*inside the step loop"):
        convert("stefoe", flat)
    both = stefoe_state(nested=True, directions=2, batch_norm=True)
    with pytest.raises(ConversionError, match="bidirectional"):
        convert("stefoe", both)


def test_haste_matches(x: Tensor) -> None:
    sd = haste_state()
    model = convert("haste", sd)
    assert model.body.nonlinearity == "tanh"
    torch.testing.assert_close(ours(model, x), haste_reference(sd, x), atol=ATOL, rtol=1e-5)
    with pytest.raises(ConversionError, match="tanh"):
        convert("haste", sd, nonlinearity="relu")


def test_haste_kernel_is_transposed(x: Tensor) -> None:
    """A square kernel used as W x instead of x @ kernel would give other outputs."""
    sd = haste_state(inputs=3, hidden=3)
    model = convert("haste", sd)
    torch.testing.assert_close(model.body.weight_ih_l0, sd["rnn.kernel"].T)
    assert not torch.allclose(sd["rnn.kernel"], sd["rnn.kernel"].T)
    torch.testing.assert_close(ours(model, x), haste_reference(sd, x), atol=ATOL, rtol=1e-5)


def test_torch_lstm_matches_the_gate_equations(x: Tensor) -> None:
    sd = lstm_state()
    model = convert("torch-lstm", sd)
    assert isinstance(model.body, LSTM) and model.body.bidirectional
    torch.testing.assert_close(ours(model, x), lstm_reference(sd, x, 2, 2), atol=ATOL, rtol=1e-5)


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported")
def test_torch_lstm_projection_and_every_step(x: Tensor) -> None:
    sd = lstm_state(proj_size=2, bidirectional=False)
    model = convert("torch-lstm", sd, readout="every")
    assert model.body.proj_size == 2 and model.readout == "every"
    expected = lstm_reference(sd, x, 2, 1, every=True)
    torch.testing.assert_close(ours(model, x), expected, atol=ATOL, rtol=1e-5)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_torch_rnn_with_diagonal_recurrence_matches(x: Tensor, nonlinearity: str) -> None:
    sd = rnn_state(inputs=3)
    model = convert("torch-rnn", sd, nonlinearity=None if nonlinearity == "tanh" else "relu")
    assert isinstance(model.body, IndRNN) and model.body.nonlinearity == nonlinearity
    act = torch.tanh if nonlinearity == "tanh" else torch.relu
    torch.testing.assert_close(ours(model, x), rnn_reference(sd, x, 2, act), atol=ATOL,
                               rtol=1e-5)


def test_torch_rnn_with_a_full_matrix_is_refused() -> None:
    sd = rnn_state(diagonal=False)
    with pytest.raises(ConversionError, match=r"'weight_hh_l0'.*diagonal.*off-diagonal"):
        convert("torch-rnn", sd)


def test_bare_body_without_readout(x: Tensor) -> None:
    sd = {k.removeprefix("rnn."): v for k, v in haste_state().items() if k.startswith("rnn.")}
    model = convert("haste", sd)
    assert isinstance(model, IndRNN)
    with torch.no_grad():
        output, _ = model(x)
    h = torch.zeros(4, 7)
    wx = x @ sd["kernel"] + sd["bias"]
    for t in range(x.shape[0]):
        h = torch.tanh(wx[t] + h * sd["recurrent_scale"])
    torch.testing.assert_close(output[-1], h, atol=ATOL, rtol=1e-5)


def test_explicit_prefix_and_readout_prefix(x: Tensor) -> None:
    sd = {k.replace("fc.", "decoder_x."): v for k, v in haste_state().items()}
    sd["extra.kernel"] = sd["rnn.kernel"].clone()
    sd["extra.recurrent_scale"] = sd["rnn.recurrent_scale"].clone()
    sd["extra.bias"] = sd["rnn.bias"].clone()
    with pytest.raises(ConversionError, match=r"prefix.*\['extra\.', 'rnn\.'\]"):
        convert("haste", sd)
    only = {k: v for k, v in sd.items() if not k.startswith("extra.")}
    model = convert("haste", only, prefix="rnn", readout_prefix="decoder_x")
    renamed = {k.replace("decoder_x.", "fc."): v for k, v in only.items()}
    torch.testing.assert_close(ours(model, x), haste_reference(renamed, x), atol=ATOL, rtol=1e-5)


def test_the_one_linear_layer_left_is_the_readout(x: Tensor) -> None:
    sd = {k.replace("fc.", "my_regressor."): v for k, v in haste_state().items()}
    model = convert("haste", sd)
    renamed = {k.replace("my_regressor.", "fc."): v for k, v in sd.items()}
    torch.testing.assert_close(ours(model, x), haste_reference(renamed, x), atol=ATOL, rtol=1e-5)
    sd["other.weight"] = torch.zeros(3, 7)  # two candidates: neither is guessed
    with pytest.raises(ConversionError, match="unexpected"):
        convert("haste", sd)


def test_float64_source_stays_float64() -> None:
    sd = {k: v.double() for k, v in haste_state().items()}
    model = convert("haste", sd)
    assert model.head.weight.dtype == torch.float64
    assert model.body.weight_ih_l0.dtype == torch.float64


# --------------------------------------------------------------------------------------------
# Bad inputs: named by tensor


def test_missing_tensor_is_named() -> None:
    sd = official_state(OFFICIAL_PLAINNET)
    del sd["RNNs.1.indrnn1.weight_hh"]
    with pytest.raises(ConversionError, match=r"RNNs\.1\.indrnn1\.weight_hh.*found none"):
        convert("official", sd, source="net.safetensors")
    sd = official_state(OFFICIAL_PLAINNET)
    del sd["classifier.weight"], sd["classifier.bias"]
    with pytest.raises(ConversionError, match=r"'classifier\.weight'.*found none"):
        convert("official", sd)
    sd = official_state(OFFICIAL_PLAINNET)
    del sd["RNNs.0.norm1.bn.running_var"]
    with pytest.raises(ConversionError, match=r"'RNNs\.0\.norm1\.bn\.running_var'"):
        convert("official", sd)


def test_extra_tensor_is_named() -> None:
    sd = official_state(OFFICIAL_PLAINNET)
    sd["RNNs.0.indrnn1.something"] = torch.zeros(3)
    with pytest.raises(ConversionError, match=r"net\.pt: tensors: .*unexpected "
                                              r"\['RNNs\.0\.indrnn1\.something'\]"):
        convert("official", sd, source="net.pt")
    sd = lstm_state(bidirectional=False)
    sd["lstm.weight_ih_l3"] = torch.zeros(16, 4)  # a layer after a missing one
    with pytest.raises(ConversionError, match=r"unexpected \['lstm\.weight_ih_l3'\]"):
        convert("torch-lstm", sd)


def test_wrong_shapes_are_named_with_expected_and_found() -> None:
    sd = stefoe_state(inputs=2, hidden=5)
    sd["indrnn.cells.1.weight_ih"] = torch.zeros(5, 4)
    with pytest.raises(ConversionError, match=r"'indrnn\.cells\.1\.weight_ih': expected shape "
                                              r"\(5, 5\).*found shape \(5, 4\)"):
        convert("stefoe", sd)
    sd = stefoe_state(inputs=2, hidden=5)
    sd["indrnn.cells.1.weight_hh"] = torch.zeros(6)  # inconsistent hidden size
    with pytest.raises(ConversionError, match=r"'indrnn\.cells\.1\.weight_hh'.*\(5,\).*"
                                              r"hidden_size 5 from .*found shape \(6,\)"):
        convert("stefoe", sd)
    sd = lstm_state()
    sd["fc.weight"] = torch.zeros(5, 4)  # the body gives 8 features
    with pytest.raises(ConversionError, match=r"'fc\.weight'"):
        convert("torch-lstm", sd)
    sd = lstm_state()
    sd["lstm.weight_ih_l0"] = torch.zeros(15, 3)
    with pytest.raises(ConversionError, match=r"'lstm\.weight_ih_l0'.*4 \* hidden_size"):
        convert("torch-lstm", sd)


def test_values_the_model_would_not_reproduce_are_refused() -> None:
    sd = stefoe_state()
    sd["indrnn.h0"] = torch.ones(5)
    with pytest.raises(ConversionError, match=r"'indrnn\.h0'.*all zeros"):
        convert("stefoe", sd)
    sd = stefoe_state()
    sd["indrnn.cells.0.bias_ih"][1] = float("nan")
    with pytest.raises(ConversionError, match=r"'indrnn\.cells\.0\.bias_ih'.*NaN"):
        convert("stefoe", sd)
    sd = haste_state()
    sd["rnn.recurrent_scale"][0] = 3.0
    with pytest.raises(ConversionError, match=r"'rnn\.recurrent_scale'.*recurrent_max"):
        convert("haste", sd, recurrent_max=1.0)
    sd = official_state(OFFICIAL_PLAINNET)
    sd["DIs.0.fc.weight"] = sd["DIs.0.fc.weight"].to(torch.int64)
    with pytest.raises(ConversionError, match=r"'DIs\.0\.fc\.weight'.*floating"):
        convert("official", sd)


def test_sizes_beyond_the_registry_caps_are_refused() -> None:
    sd = {"kernel": torch.zeros(3, 0), "recurrent_scale": torch.zeros(0), "bias": torch.zeros(0)}
    with pytest.raises(ConversionError, match=r"haste network read: .*hidden_size"):
        convert("haste", sd)


def test_wrong_kind_or_options_are_refused() -> None:
    with pytest.raises(ConversionError, match="a state dict of kind torch-rnn"):
        convert("torch-rnn", haste_state())
    with pytest.raises(ConversionError, match="kind: expected one of"):
        convert("keras", haste_state())
    with pytest.raises(ConversionError, match="bn_location: expected none for haste"):
        convert("haste", haste_state(), bn_location="after")
    with pytest.raises(ConversionError, match="nonlinearity: expected none for an LSTM"):
        convert("torch-lstm", lstm_state(), nonlinearity="relu")
    with pytest.raises(ConversionError, match="relu"):
        convert("official", official_state(OFFICIAL_PLAINNET), nonlinearity="tanh")


# --------------------------------------------------------------------------------------------
# Files


def refuse_pickle(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("torch.load / pickle must not run for a safetensors source")

    for owner, name in ((torch, "load"), (pickle, "load"), (pickle, "loads"),
                        (pickle, "Unpickler")):
        monkeypatch.setattr(owner, name, refuse)


def test_safetensors_round_trip(tmp_path: Path, x: Tensor,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    sd = official_state(OFFICIAL_PLAINNET)
    src = tmp_path / "authors.safetensors"
    save_file(sd, src)
    with monkeypatch.context() as patch:
        refuse_pickle(patch)
        path = convert_file("official", src, tmp_path / "out" / "converted")
    assert path == tmp_path / "out" / "converted.json"
    loaded = indrnn.load(path)
    expected = official_reference(sd, x, 3, OFFICIAL_PLAINNET, "after")
    torch.testing.assert_close(ours(loaded.model, x), expected, atol=ATOL, rtol=1e-5)
    card = loaded.card
    assert card["converted_from"]["kind"] == "official"
    assert card["converted_from"]["file"] == "authors.safetensors"
    assert card["converted_from"]["sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()
    assert card["architecture"]["body"]["architecture"] == "PlainIndRNN"
    assert card["architecture"]["body"]["config"]["num_layers"] == 3
    assert card["architecture"]["readout"] == {"tensors": "classifier", "reads": "last",
                                               "num_outputs": 4}
    assert card["parameters"] == sum(p.numel() for p in loaded.model.parameters())
    assert "task" not in card
    assert loaded.architecture == "SequenceModel"


def test_card_fields_and_task_are_kept(tmp_path: Path) -> None:
    src = tmp_path / "h.safetensors"
    save_file(haste_state(), src)
    path = convert_file("haste", src, tmp_path / "h_ours.json",
                        card={"task": "adding", "description": "mine",
                              "converted_from": "forged", "architecture": "forged"})
    card = json.loads(path.read_text())["card"]
    assert card["task"] == "adding" and card["description"] == "mine"
    assert card["converted_from"]["kind"] == "haste"  # ours, not the caller's
    assert card["architecture"]["body"]["architecture"] == "IndRNN"
    assert any("batch-first" in note for note in card["converted_from"]["notes"])
    assert any("zoneout" in note for note in card["converted_from"]["notes"])


def test_torch_pickle_needs_the_flag(tmp_path: Path, x: Tensor) -> None:
    sd = stefoe_state(inputs=3)
    src = tmp_path / "stefoe.pt"
    torch.save({"epoch": 3, "state_dict": sd, "optimizer": {"lr": 0.1}}, src)
    with pytest.raises(ConversionError, match=r"stefoe\.pt.*safetensors.*--allow-torch-pickle"):
        convert_file("stefoe", src, tmp_path / "ours")
    assert not (tmp_path / "ours.json").exists()
    path = convert_file("stefoe", src, tmp_path / "ours", allow_torch_pickle=True)
    model = indrnn.load(path).model
    torch.testing.assert_close(ours(model, x), stefoe_reference(sd, x, 2, torch.relu,
                                                                nested=False),
                               atol=ATOL, rtol=1e-5)


def test_torch_pickle_is_read_with_weights_only(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    seen = {}
    real = torch.load

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    src = tmp_path / "model.pth"
    torch.save({"model": haste_state()}, src)
    read_source(src, allow_torch_pickle=True)
    assert seen == {"map_location": "cpu", "weights_only": True}


RAN: list[str] = []


def _mark() -> None:
    RAN.append("ran")


class Hostile:
    def __reduce__(self):
        return (_mark, ())


def test_pickled_objects_are_refused_without_running(tmp_path: Path) -> None:
    src = tmp_path / "hostile.pt"
    with open(src, "wb") as handle:
        pickle.dump({"weight": Hostile()}, handle, protocol=2)
    with pytest.raises(ConversionError, match=r"hostile\.pt: contents: .*weights_only"):
        read_source(src, allow_torch_pickle=True)
    assert RAN == []
    module = tmp_path / "module.pt"
    torch.save({"state_dict": {"a": torch.zeros(1)}, "note": "fine"}, module)
    assert set(read_source(module, allow_torch_pickle=True)) == {"a"}
    bad = tmp_path / "bad.pt"
    torch.save({"weights": [torch.zeros(1)]}, bad)
    with pytest.raises(ConversionError, match=r"entry 'weights'.*dense tensor"):
        read_source(bad, allow_torch_pickle=True)


def test_file_problems_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match=r"missing\.safetensors: file"):
        read_source(tmp_path / "missing.safetensors")
    other = tmp_path / "weights.npz"
    other.write_bytes(b"x")
    with pytest.raises(ConversionError, match=r"weights\.npz: file name"):
        read_source(other)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    with pytest.raises(ConversionError, match=r"junk\.safetensors: header"):
        read_source(junk)
    big = tmp_path / "big.safetensors"
    save_file(haste_state(), big)
    with pytest.raises(ConversionError, match=r"big\.safetensors: tensors: expected at most 10"):
        read_source(big, max_parameters=10)
    with pytest.raises(ConversionError, match="would overwrite the source"):
        convert_file("haste", big, tmp_path / "big")


# --------------------------------------------------------------------------------------------
# Command line


def test_cli_converts(tmp_path: Path, x: Tensor, capsys: pytest.CaptureFixture) -> None:
    sd = rnn_state(inputs=3)
    src = tmp_path / "rnn.safetensors"
    save_file(sd, src)
    code = main(["--from", "torch-rnn", str(src), str(tmp_path / "ours"), "--nonlinearity",
                 "relu", "--task", "adding"])
    assert code == 0
    assert "ours.json" in capsys.readouterr().out
    loaded = indrnn.load(tmp_path / "ours")
    assert loaded.card["task"] == "adding"
    torch.testing.assert_close(ours(loaded.model, x), rnn_reference(sd, x, 2, torch.relu),
                               atol=ATOL, rtol=1e-5)


def test_cli_errors_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    src = tmp_path / "rnn.pt"
    torch.save(rnn_state(diagonal=False), src)
    assert main(["--from", "torch-rnn", str(src), str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "rnn.pt" in err and "--allow-torch-pickle" in err
    assert "Traceback" not in err
    assert main(["--from", "torch-rnn", str(src), str(tmp_path / "a"),
                 "--allow-torch-pickle"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'weight_hh_l0'" in err and "diagonal" in err
    assert not (tmp_path / "a.json").exists()
    assert main(["--from", "nope", str(src), str(tmp_path / "a")]) == 2
    assert "invalid choice" in capsys.readouterr().err
    assert main([str(src), str(tmp_path / "a")]) == 2  # --from is required


def test_module_runs_as_a_script() -> None:
    text = Path(convert_module.__file__).read_text()
    assert 'if __name__ == "__main__":\n    raise SystemExit(main())' in text
    assert "streamlit" not in text
