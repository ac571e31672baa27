"""indrnn.checkpoint: round trips, and every malformed or hostile checkpoint refused by name."""

from __future__ import annotations

import json
import os
import pathlib
import pickle
import struct

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from indrnn import checkpoint, networks
from indrnn import registry as registry_module
from indrnn.checkpoint import Checkpoint, CheckpointError, save
from indrnn.layers import IndRNN
from indrnn.lstm import LSTM
from indrnn.registry import register_architecture

INDRNN_CONFIGS = [
    {},
    {"num_layers": 2, "bidirectional": True},
    {"num_layers": 3, "recurrent_min": [None, 0.1, 0.5], "recurrent_max": [1.0, 0.9, 0.99]},
    {"nonlinearity": "tanh", "bias": False, "batch_first": True, "dropout": 0.25,
     "num_layers": 2},
]


def load(*args, **kwargs) -> Checkpoint:
    """``checkpoint.load``, failing the test if torch.load or any pickle entry point runs."""
    def refuse(*args, **kwargs):
        raise AssertionError("pickle / torch.load must never run")

    with pytest.MonkeyPatch.context() as patch:
        for owner, name in ((torch, "load"), (pickle, "load"), (pickle, "loads"),
                            (pickle, "Unpickler")):
            patch.setattr(owner, name, refuse)
        return checkpoint.load(*args, **kwargs)


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Undo register_architecture calls after the test."""
    monkeypatch.setattr(registry_module, "_REGISTRY", dict(registry_module._REGISTRY))
    monkeypatch.setattr(registry_module, "_PARAMETERS", dict(registry_module._PARAMETERS))


def saved(tmp_path: pathlib.Path, name: str = "net", seed: int = 0, **kwargs) -> pathlib.Path:
    torch.manual_seed(seed)
    return save(IndRNN(3, 5, **kwargs), tmp_path / name, {"task": "test"})


def edit_json(path: pathlib.Path, change) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def refused(path: pathlib.Path | str, *words: str, **kwargs) -> str:
    """Load must raise CheckpointError whose message holds every word; returns the message."""
    with pytest.raises(CheckpointError) as info:
        load(path, **kwargs)
    message = str(info.value)
    for word in words:
        assert word in message, message
    return message


@pytest.mark.parametrize("config", INDRNN_CONFIGS)
def test_indrnn_round_trip(tmp_path: pathlib.Path, config: dict) -> None:
    torch.manual_seed(0)
    model = IndRNN(3, 5, **config)
    card = {"task": "adding", "metrics": {"mse": 0.01}, "steps": [1, 2], "note": None}
    json_path = save(model, tmp_path / "models" / "net", card)
    assert json_path == tmp_path / "models" / "net.json"
    assert (tmp_path / "models" / "net.safetensors").is_file()
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [
        "net.json", "net.safetensors"]  # no temporary files left
    x = torch.randn(7, 2, 3)
    model.eval()
    for path in ("net", "net.json", "net.safetensors"):
        result = load(tmp_path / "models" / path, map_location=torch.device("cpu"))
        assert isinstance(result, Checkpoint)
        assert type(result.model) is IndRNN and not result.model.training
        assert result.card == card and result.architecture == "IndRNN"
        assert result.config == model.config()
        for got, want in zip(result.model(x), model(x), strict=True):
            assert torch.equal(got, want)


def test_float64_round_trip(tmp_path: pathlib.Path) -> None:
    model = IndRNN(3, 4).double()
    save(model, tmp_path / "net")
    assert json.loads((tmp_path / "net.json").read_text())["dtype"] == "float64"
    loaded = load(tmp_path / "net").model
    assert loaded.weight_ih_l0.dtype == torch.float64
    assert torch.equal(loaded.weight_ih_l0, model.weight_ih_l0)


def test_lstm_round_trip(tmp_path: pathlib.Path) -> None:
    torch.manual_seed(0)
    model = LSTM(3, 6, num_layers=2, bidirectional=True, proj_size=4).eval()
    save(model, tmp_path / "lstm", {"task": "copy"})
    result = load(tmp_path / "lstm")
    assert type(result.model) is LSTM and result.architecture == "LSTM"
    x = torch.randn(5, 2, 3)
    assert torch.equal(result.model(x)[0], model(x)[0])


NETWORKS = [
    ("PlainIndRNN", {"input_size": 3, "hidden_size": 6, "num_layers": 3, "batch_norm": "after",
                     "recurrent_max": [1.0, 0.9, 0.8], "last_layer_recurrent_min": 0.5}),
    ("ResIndRNN", {"input_size": 3, "hidden_size": 6, "num_blocks": 2, "bn_per_step": True,
                   "max_steps": 8}),
    ("DenseIndRNN", {"input_size": 3, "growth_rate": 2, "blocks": [2, 1], "bottleneck": 2}),
]


@pytest.mark.parametrize(("name", "config"), NETWORKS)
def test_network_round_trip(tmp_path: pathlib.Path, name: str, config: dict) -> None:
    torch.manual_seed(0)
    model = getattr(networks, name)(**config)
    x = torch.randn(6, 4, 3)
    model.train()(x)  # move the batch-norm running statistics off their initial values
    model.eval()
    save(model, tmp_path / name, {"task": "demo"})
    result = load(tmp_path / name)
    assert type(result.model) is type(model) and not result.model.training
    assert torch.equal(result.model(x)[0], model(x)[0])
    for key, value in model.state_dict().items():
        assert torch.equal(result.model.state_dict()[key], value), key


class Classifier(nn.Module):
    """A task model around a network, as another issue will add."""

    def __init__(self, input_size: int, hidden_size: int, num_classes: int = 2):
        super().__init__()
        self.rnn, self.head = IndRNN(input_size, hidden_size), nn.Linear(hidden_size, num_classes)
        self.sizes = (input_size, hidden_size, num_classes)

    def config(self) -> dict:
        return dict(zip(("input_size", "hidden_size", "num_classes"), self.sizes, strict=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.rnn(x)[0][-1])


def test_registered_architecture(tmp_path: pathlib.Path, registry: None) -> None:
    model = Classifier(3, 4, num_classes=5).eval()
    with pytest.raises(CheckpointError, match="architecture: expected a registered class"):
        save(model, tmp_path / "clf")
    assert not any(tmp_path.iterdir())
    register_architecture("Classifier", Classifier)
    register_architecture("Classifier", Classifier)  # the same class again is fine
    with pytest.raises(ValueError, match="already registered"):
        register_architecture("Classifier", IndRNN)
    with pytest.raises(ValueError, match="identifier"):
        register_architecture("not a name", Classifier)
    save(model, tmp_path / "clf")
    x = torch.randn(4, 2, 3)
    assert torch.equal(load(tmp_path / "clf").model(x), model(x))
    edit_json(tmp_path / "clf.json", lambda d: d["config"].update(num_classes=True))
    refused(tmp_path / "clf", "config['num_classes']", "an int in [0, 65536]", "True")


def test_variadic_constructor_needs_parameters(tmp_path: pathlib.Path, registry: None) -> None:
    class Loose(IndRNN):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)

    register_architecture("Loose", Loose)
    with pytest.raises(CheckpointError, match="without \\*args"):
        save(Loose(3, 4), tmp_path / "loose")
    register_architecture("Loose", Loose, parameters=list(IndRNN(3, 4).config()))
    save(Loose(3, 4), tmp_path / "loose")
    assert type(load(tmp_path / "loose").model) is Loose
    edit_json(tmp_path / "loose.json", lambda d: d["config"].update(backend="cpu"))
    refused(tmp_path / "loose", "config['backend']", "forbidden key")


@pytest.mark.parametrize(("key", "value", "words"), [
    ("hidden_size", "5", ["an int in [1, 65536]", "'5'"]),
    ("hidden_size", True, ["an int in [1, 65536]", "True"]),
    ("hidden_size", 5.0, ["an int in [1, 65536]", "5.0"]),
    ("hidden_size", 10**9, ["an int in [1, 65536]", "1000000000"]),
    ("num_layers", 10**6, ["config['num_layers']", "an int in [1, 256]"]),
    ("bias", 1, ["config['bias']", "true or false"]),
    ("dropout", 1.5, ["config['dropout']", "[0, 1)"]),
    ("nonlinearity", "sigmoid", ["config['nonlinearity']", "'sigmoid'"]),
    ("recurrent_max", "big", ["config['recurrent_max']", "a number >= 0"]),
    ("recurrent_max", [1.0] * 2000, ["config['recurrent_max']", "a number >= 0"]),
    ("surprise", 1, ["config['surprise']", "unknown key"]),
    ("device", "cuda", ["config['device']", "forbidden key"]),
    ("dtype", "float64", ["config['dtype']", "forbidden key"]),
    ("backend", "gpu", ["config['backend']", "forbidden key"]),
])
def test_bad_config_value(tmp_path: pathlib.Path, key: str, value, words: list[str]) -> None:
    path = saved(tmp_path)
    edit_json(path, lambda d: d["config"].update({key: value}))
    refused(path, str(path), *words)


@pytest.mark.parametrize(("change", "words"), [
    (lambda d: d.update(architecture="os.system"), ["architecture", "'IndRNN'", "os.system"]),
    (lambda d: d.update(architecture=["IndRNN"]), ["architecture", "one of"]),
    (lambda d: d.update(format="pickle"), ["format", "'indrnn-checkpoint'", "pickle"]),
    (lambda d: d.update(version=2), ["version", "expected 1, found 2"]),
    (lambda d: d.update(version=True), ["version", "expected 1, found True"]),
    (lambda d: d.update(extra=1), ["fields", "'extra'"]),
    (lambda d: d.pop("card"), ["fields", "card"]),
    (lambda d: d.update(card=[1]), ["card", "a JSON object"]),
    (lambda d: d.update(config=[3, 5]), ["config", "a JSON object", "list"]),
    (lambda d: d["config"].pop("input_size"), ["config", "values for ['input_size']"]),
    (lambda d: d.update(dtype="int64"), ["dtype", "'int64'"]),
    (lambda d: d["config"].update(recurrent_min=[2.0], recurrent_max=[1.0]),
     ["IndRNN(**config) failed", "must not exceed"]),
    (lambda d: d["config"].update(input_size=65536, hidden_size=65536, num_layers=256,
                                  recurrent_min=None, recurrent_max=None),
     ["config", "at most 50000000 weights", "1099545182208"]),
    (lambda d: d.update(tensors=[]), ["tensors", "a JSON object"]),
    (lambda d: d["tensors"]["weight_ih_l0"].update(shape=[5, 4]),
     ["tensors['weight_ih_l0']", "[5, 3]", "[5, 4]"]),
    (lambda d: d["tensors"]["weight_ih_l0"].update(dtype="float64"),
     ["tensors['weight_ih_l0']", "float32", "float64"]),
    (lambda d: d["tensors"].pop("bias_ih_l0"), ["tensors", "missing ['bias_ih_l0']"]),
    (lambda d: d["tensors"].update(evil={"shape": [1], "dtype": "float32"}),
     ["tensors", "unexpected ['evil']"]),
    (lambda d: d.update(sha256="0" * 64), ["net.safetensors: sha256", "'0000"]),
])
def test_bad_json_fields(tmp_path: pathlib.Path, change, words: list[str]) -> None:
    path = saved(tmp_path)
    edit_json(path, change)
    refused(path, str(path), *words)


@pytest.mark.parametrize(("text", "words"), [
    ("[1, 2]", ["JSON", "an object", "list"]),
    ('"IndRNN"', ["JSON", "an object", "str"]),
    ("{not json", ["JSON", "valid UTF-8 JSON"]),
    (b"\xff\xfe{}", ["JSON", "valid UTF-8 JSON"]),
    ('{"format": 1, "format": 2}', ["JSON", "unique keys"]),
    ('{"x": NaN}', ["JSON", "finite numbers", "NaN"]),
    ("[" * 100_000, ["JSON"]),
    (" " * (1 << 20) + "{}", ["size", "at most 1048576 bytes"]),
])
def test_bad_json_file(tmp_path: pathlib.Path, text: str | bytes, words: list[str]) -> None:
    path = saved(tmp_path)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    refused(path, str(path), *words)


def test_missing_files(tmp_path: pathlib.Path) -> None:
    refused(tmp_path / "nothing", "nothing.json", "readable file")
    path = saved(tmp_path)
    (tmp_path / "net.safetensors").unlink()
    refused(path, "net.safetensors", "readable file")


def write_weights(tmp_path: pathlib.Path, tensors: dict) -> None:
    save_file(tensors, tmp_path / "net.safetensors")


def test_weights_disagree_with_model(tmp_path: pathlib.Path) -> None:
    path = saved(tmp_path)
    weights = tmp_path / "net.safetensors"
    good = IndRNN(3, 5).state_dict()
    write_weights(tmp_path, {k: v for k, v in good.items() if k != "bias_ih_l0"})
    refused(path, str(weights), "missing ['bias_ih_l0']", "unexpected none")
    write_weights(tmp_path, {**good, "evil": torch.zeros(1)})
    refused(path, str(weights), "unexpected ['evil']")
    write_weights(tmp_path, {**good, "weight_hh_l0": torch.zeros(6)})
    refused(path, str(weights), "tensors['weight_hh_l0']", "[5]", "[6]")
    write_weights(tmp_path, {**good, "weight_hh_l0": torch.zeros(5, dtype=torch.float64)})
    refused(path, str(weights), "tensors['weight_hh_l0']", "float32", "float64")
    write_weights(tmp_path, dict(good))  # same shapes, other values: the digest catches it
    refused(path, str(weights), "sha256")


def test_corrupt_weights(tmp_path: pathlib.Path) -> None:
    path = saved(tmp_path)
    weights = tmp_path / "net.safetensors"
    data = weights.read_bytes()
    for blob, words in [
        (data[:-7], ["header", "SafetensorError"]),  # truncated data
        (data + b"\0" * 8, ["header", "SafetensorError"]),  # trailing bytes
        (data[:20], ["header length"]),  # truncated header
        (b"", ["header length", "b''"]),
        (b"\x01\x02\x03", ["header length"]),
        (struct.pack("<Q", 1 << 40) + b"{}", ["header length", "1099511627776"]),
        (struct.pack("<Q", 4) + b"[1] ", ["header", "SafetensorError"]),
        (struct.pack("<Q", 8) + b'{"a": 1}', ["header", "SafetensorError"]),
        (bytes(range(256)) * 4, ["header length"]),
    ]:
        weights.write_bytes(blob)
        refused(path, str(weights), *words)


class WritesMarker:
    """Unpickling this writes ``marker``: a stand-in for arbitrary code in a hostile file."""

    def __init__(self, marker: pathlib.Path):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.write_text, (self.marker, "pwned")


def test_pickle_renamed_to_safetensors(tmp_path: pathlib.Path) -> None:
    proof = tmp_path / "proof"  # the payload is live: real unpickling writes its marker
    pickle.loads(pickle.dumps(WritesMarker(proof)))
    assert proof.read_text() == "pwned"

    marker = tmp_path / "marker"
    path = saved(tmp_path)
    payload = pickle.dumps({"weight_ih_l0": WritesMarker(marker)})
    for protocol_payload in (payload, pickle.dumps(WritesMarker(marker), protocol=2)):
        (tmp_path / "net.safetensors").write_bytes(protocol_payload)
        refused(path, "net.safetensors", "header")
        refused(tmp_path / "net.safetensors", "net.safetensors", "header")
        assert not marker.exists()
    torch.save({"w": WritesMarker(marker)}, tmp_path / "net.safetensors")  # a torch zip pickle
    refused(path, "net.safetensors", "header")
    assert not marker.exists()


def test_nonfinite_weights(tmp_path: pathlib.Path) -> None:
    model = IndRNN(3, 5, num_layers=2)
    with torch.no_grad():
        model.weight_ih_l1[0, 0] = float("nan")
        model.bias_ih_l0[1] = float("inf")
    path = save(model, tmp_path / "net")
    refused(path, "net.safetensors: tensors [", "'weight_ih_l1'", "'bias_ih_l0'", "NaN or Inf",
            "allow_nonfinite")
    loaded = load(path, allow_nonfinite=True).model
    assert loaded.weight_ih_l1[0, 0].isnan()
    assert loaded.bias_ih_l0[1].isinf()


def test_parameter_cap(tmp_path: pathlib.Path) -> None:
    path = saved(tmp_path)
    refused(path, "at most 10 weights", "found 25", max_parameters=10)


@pytest.mark.parametrize(("card", "words"), [
    ({"loss": float("nan")}, ["card['loss']", "nan"]),
    ({"model": IndRNN(1, 1)}, ["card['model']", "IndRNN"]),
    ({"metrics": {1: 0.5}}, ["card['metrics']", "string keys", "1"]),
    ({"data": {1, 2}}, ["card['data']", "set"]),
    ([1, 2], ["card", "a dict", "list"]),
    ({"blob": "x" * (1 << 20)}, ["card", "at most 1048576 bytes"]),
])
def test_bad_card(tmp_path: pathlib.Path, card, words: list[str]) -> None:
    with pytest.raises(CheckpointError) as info:
        save(IndRNN(3, 5), tmp_path / "net", card)
    for word in words:
        assert word in str(info.value), str(info.value)
    assert not any(tmp_path.iterdir())  # nothing written, no temporary files


def test_interrupted_save(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = saved(tmp_path, seed=0)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint, "save_file", crash)
    with pytest.raises(KeyboardInterrupt):
        saved(tmp_path, seed=1)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    monkeypatch.undo()

    replace, calls = os.replace, []

    def crash_second(src, dst):  # killed between renaming the weights and the JSON
        calls.append(dst)
        if len(calls) == 2:
            raise KeyboardInterrupt
        replace(src, dst)

    monkeypatch.setattr(os, "replace", crash_second)
    with pytest.raises(KeyboardInterrupt):
        saved(tmp_path, seed=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.json", "net.safetensors"]
    assert path.read_bytes() == before["net.json"]
    refused(path, "sha256")
