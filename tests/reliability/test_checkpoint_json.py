"""Hostile checkpoint JSON: every bad field named, tiny files claiming huge models allocate
nothing, and mutated documents load or raise ``CheckpointError`` and nothing else.
"""

from __future__ import annotations

import copy
import json
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hostile import (
    APP,
    CASES,
    ROOT,
    UPLOAD_CHOICE,
    app_errors,
    case_settings,
    small_checkpoint,
)
from hypothesis import given
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

import indrnn
from indrnn import networks
from indrnn.checkpoint import CheckpointError, save
from indrnn.layers import IndRNN
from indrnn.sequence_model import SequenceModel, lstm_spec

# --- 2. checkpoint JSON: hostile fields named, no allocation, nothing else raised ---------------

def _nested_checkpoint(folder: Path) -> Path:
    torch.manual_seed(0)
    body = {"architecture": "IndRNN", "config": IndRNN(2, 4, num_layers=2).config()}
    return save(SequenceModel(body, num_outputs=3), folder / "seq", {"task": "adding"})


def _body(d: dict) -> dict:
    return d["config"]["body"]


HUGE_BODY = {"input_size": 65536, "hidden_size": 65536, "num_layers": 256,
             "recurrent_min": None, "recurrent_max": None}
HOSTILE_JSON = [
    ("body hidden_size 10**9", lambda d: _body(d)["config"].update(hidden_size=10**9),
     ["config['body']", "config['hidden_size']", "an int in [1, 65536]", "1000000000"]),
    ("body hidden_size negative", lambda d: _body(d)["config"].update(hidden_size=-4),
     ["config['body']", "config['hidden_size']", "-4"]),
    ("body hidden_size string", lambda d: _body(d)["config"].update(hidden_size="4"),
     ["config['hidden_size']", "'4'"]),
    ("body num_layers 257", lambda d: _body(d)["config"].update(num_layers=257),
     ["config['num_layers']", "an int in [1, 256]"]),
    ("body of 1e12 weights", lambda d: _body(d)["config"].update(HUGE_BODY),
     ["config", "at most 50000000 weights"]),
    ("embedding of 4e9 weights", lambda d: d["config"].update(vocab_size=65536,
                                                              embedding_dim=65536),
     ["config", "at most 50000000 weights", "found 42949"]),
    ("body architecture os:system", lambda d: _body(d).update(architecture="os:system"),
     ["config['body']['architecture']", "'os:system'"]),
    ("body architecture a dict", lambda d: _body(d).update(
        architecture={"module": "os", "name": "system"}),
     ["config['body']['architecture']", "one of"]),
    ("body nesting a body", lambda d: _body(d).update(architecture="SequenceModel"),
     ["config['body']['architecture']", "without a nested body"]),
    ("body a list", lambda d: d["config"].update(body=[1, 2]),
     ["config['body']", "a JSON object"]),
    ("body extra field", lambda d: _body(d).update(code="import os"), ["config['body']"]),
    ("body device", lambda d: _body(d)["config"].update(device="cuda"),
     ["config['device']", "forbidden key"]),
    ("body unknown key", lambda d: _body(d)["config"].update(__class__="os.system"),
     ["config['__class__']", "unknown key"]),
    ("body long bound list", lambda d: _body(d)["config"].update(recurrent_max=[1.0] * 5000),
     ["config['recurrent_max']", "a number >= 0"]),
    ("body nonlinearity", lambda d: _body(d)["config"].update(nonlinearity="__import__"),
     ["config['nonlinearity']", "'__import__'"]),
    ("num_outputs negative", lambda d: d["config"].update(num_outputs=-1),
     ["config['num_outputs']", "-1"]),
    ("num_outputs 10**12", lambda d: d["config"].update(num_outputs=10**12),
     ["config['num_outputs']", "1000000000000"]),
    ("readout 10k characters", lambda d: d["config"].update(readout="x" * 10_000),
     ["config['readout']", "a string of <= 64"]),
    ("readout unknown", lambda d: d["config"].update(readout="first"),
     ["SequenceModel(**config) failed", "readout"]),
    ("architecture unknown", lambda d: d.update(architecture="Transformer"),
     ["architecture", "'Transformer'"]),
    ("top-level extra key", lambda d: d.update(__reduce__=["os.system", "id"]),
     ["fields", "'__reduce__'"]),
    ("version a float", lambda d: d.update(version=1.0), ["version", "1.0"]),
    ("dtype half", lambda d: d.update(dtype="float16"), ["tensors[", "float16"]),
    ("tensor shape 1e12 x 1e12", lambda d: d["tensors"]["head.weight"].update(
        shape=[10**12, 10**12]), ["tensors['head.weight']", "1000000000000"]),
    ("tensors a list", lambda d: d.update(tensors=[["head.weight", [3, 4]]]),
     ["tensors", "a JSON object"]),
    ("card a string", lambda d: d.update(card="x"), ["card", "a JSON object"]),
]


@pytest.mark.parametrize(("change", "words"), [c[1:] for c in HOSTILE_JSON],
                         ids=[c[0] for c in HOSTILE_JSON])
def test_hostile_checkpoint_json_names_the_field(tmp_path, change, words):
    path = _nested_checkpoint(tmp_path)
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))
    with pytest.raises(CheckpointError) as caught:
        indrnn.load(path)
    message = str(caught.value)
    assert str(path) in message and len(message) < 2000, message
    for word in words:
        assert word in message, message


MEMORY_SCRIPT = r"""
import json, re, sys, time
from pathlib import Path
import indrnn
from indrnn.checkpoint import CheckpointError

def peak():  # kB -> MiB; /proc/self/status VmHWM, reset by writing 5 to clear_refs
    return int(re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text())[1]) / 1024

def reset():
    Path("/proc/self/clear_refs").write_text("5")

folder = Path(sys.argv[1])
for warm in sorted(folder.glob("warm_*.json")):  # first builds import lazily loaded modules
    indrnn.load(warm)
result = {"refused": {}}
for path in sorted(folder.glob("hostile_*.json")):
    reset(); before = peak(); start = time.perf_counter()
    try:
        indrnn.load(path)
        outcome = "loaded"
    except CheckpointError as error:
        outcome = str(error).replace(str(folder) + "/", "")[:160]
    result["refused"][path.stem] = {"mib": peak() - before, "s": time.perf_counter() - start,
                                    "outcome": outcome}
reset(); before = peak()
indrnn.load(folder / "control.json")
result["control_mib"] = peak() - before
print(json.dumps(result))
"""


def _claims(folder: Path, name: str, architecture: str, config: dict, weights: bytes,
            table: bool) -> None:
    """A checkpoint whose JSON claims a model; with ``table``, its tensors as a meta-device
    build lists them (so that the file gets past the JSON checks to the weights)."""
    tensors = {}
    if table:
        with torch.device("meta"):
            model = indrnn.registry.build({"architecture": architecture, "config": config})
        tensors = {k: {"shape": list(v.shape), "dtype": "float32"}
                   for k, v in model.state_dict().items()}
    (folder / f"{name}.json").write_text(json.dumps({
        "format": "indrnn-checkpoint", "version": 1, "architecture": architecture,
        "config": config, "dtype": "float32", "card": {}, "tensors": tensors,
        "sha256": "0" * 64}))
    (folder / f"{name}.safetensors").write_bytes(weights)


def _fake_safetensors(tensors: dict[str, list[int]]) -> bytes:
    """A safetensors header announcing ``tensors`` (float32) with almost no data behind it."""
    header, offset = {}, 0
    for name, shape in tensors.items():
        size = 4 * int(np.prod(shape))
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + bytes(64)


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_tiny_files_claiming_huge_models_allocate_nothing(tmp_path):
    """Peak memory (VmHWM, in a fresh process) of loading files that claim up to 10^12 weights
    stays within a few MiB; the control, a real 8.4M-weight checkpoint, shows the measurement
    sees allocations."""
    tiny = (small_checkpoint(tmp_path)).with_suffix(".safetensors").read_bytes()
    torch.manual_seed(0)
    body = {"architecture": "IndRNN", "config": IndRNN(2, 4).config()}
    save(SequenceModel(body, 3, readout="every", vocab_size=5, embedding_dim=2),
         tmp_path / "warm_embedding")
    save(networks.DenseIndRNN(2, 2, blocks=[1]), tmp_path / "warm_dense")
    save(IndRNN(2048, 2048, num_layers=2), tmp_path / "control")  # 8.4M weights, 34 MB
    big = {"input_size": 4096, "hidden_size": 4096, "num_layers": 2}  # 33.6M: under the cap
    with torch.device("meta"):
        announced = {k: list(v.shape) for k, v in IndRNN(**big).state_dict().items()}
    claims = {  # name: (architecture, config, weights); tensor tables only for buildable ones
        "hostile_hidden_1e9": ("IndRNN", {"input_size": 2, "hidden_size": 10**9}, tiny),
        "hostile_1e12_weights": ("IndRNN", HUGE_BODY, tiny),
        "hostile_embedding_4e9": ("SequenceModel", {
            "body": {"architecture": "IndRNN", "config": {"input_size": 65536,
                                                          "hidden_size": 1}},
            "num_outputs": 65536, "vocab_size": 65536, "embedding_dim": 65536}, tiny),
        "hostile_dense_256_blocks": ("DenseIndRNN", {"input_size": 2, "growth_rate": 1,
                                                     "blocks": [1] * 256, "bottleneck": 1},
                                     tiny),
        "hostile_34M_tiny_weights": ("IndRNN", big, tiny),
        "hostile_34M_header_no_data": ("IndRNN", big, _fake_safetensors(announced)),
    }
    for name, (architecture, config, weights) in claims.items():
        _claims(tmp_path, name, architecture, config, weights, table="34M" in name)
    run = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(tmp_path)], check=True,
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    result = json.loads(run.stdout.strip().splitlines()[-1])
    print(json.dumps(result, indent=1))  # the figures in docs/RELIABILITY.md (pytest -s)
    assert set(result["refused"]) == set(claims)
    for name, got in result["refused"].items():
        assert got["outcome"] != "loaded", name
        assert got["mib"] < 24, (name, got)
        assert got["s"] < 30, (name, got)
    assert "safetensors: header" in result["refused"]["hostile_34M_header_no_data"]["outcome"]
    assert result["control_mib"] > 48, result  # the measurement does see a real load


def _mutation_sources(folder: Path) -> dict[str, tuple[dict, bytes]]:
    torch.manual_seed(0)
    models = {
        "sequence": SequenceModel({"architecture": "IndRNN",
                                   "config": IndRNN(2, 4, num_layers=2).config()}, 3),
        "language": SequenceModel(lstm_spec(4, 5), 7, readout="every", vocab_size=7,
                                  embedding_dim=4),
        "res": networks.ResIndRNN(2, 4, num_blocks=2),
        "dense": networks.DenseIndRNN(2, 3, blocks=[2, 1]),
        "plain": networks.PlainIndRNN(2, 4, num_layers=2),
        "lstm": indrnn.LSTM(2, 3),
        "indrnn": IndRNN(2, 3, bidirectional=True),
    }
    sources = {}
    for name, model in models.items():
        path = save(model, folder / name, {"task": "adding", "metrics": {"mse": 0.1}})
        sources[name] = (json.loads(path.read_text()), path.with_suffix(
            ".safetensors").read_bytes())
    return sources


JSON_LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70),
    st.sampled_from([0, 1, -1, 2, 255, 256, 257, 65536, 65537, 10**9, 2**53 + 1, 0.5, 1e308,
                     -0.0, "IndRNN", "LSTM", "SequenceModel", "DenseIndRNN", "relu", "tanh",
                     "float64", "float16", "int64", "last", "every", "before", "os:system",
                     "__import__", "../x", ""]),
    st.floats(allow_nan=False, allow_infinity=False, allow_subnormal=False),  # see CELLS
    st.text(max_size=8))
JSON_VALUES = st.recursive(JSON_LEAVES, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=8)


def _paths(value: Any, prefix: tuple = ()):
    yield prefix
    items = value.items() if isinstance(value, dict) else enumerate(value) \
        if isinstance(value, list) else ()
    for key, item in items:
        yield from _paths(item, (*prefix, key))


@st.composite
def mutated_documents(draw, sources: dict[str, tuple[dict, bytes]]) -> tuple[str, dict]:
    """A saved checkpoint's JSON with 1 to 3 values replaced, keys deleted or added."""
    name = draw(st.sampled_from(sorted(sources)))
    document = copy.deepcopy(sources[name][0])
    if draw(st.integers(0, 7)) == 0:  # the card is free-form: such files load
        document["card"][draw(st.text(max_size=6))] = draw(JSON_VALUES)
        return name, document
    for _ in range(draw(st.integers(1, 3))):
        places = [p for p in _paths(document) if p]
        place = draw(st.sampled_from(places))
        parent = document
        for key in place[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add"]))
        if action == "replace":
            parent[place[-1]] = draw(JSON_VALUES)
        elif action == "delete":
            del parent[place[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=6))] = draw(JSON_VALUES)
        else:
            parent.append(draw(JSON_VALUES))
    return name, document


def test_mutated_checkpoint_json_loads_or_raises_checkpoint_error(tmp_path):
    sources = _mutation_sources(tmp_path)
    saved = {name: indrnn.load(tmp_path / name).model.state_dict() for name in sources}
    outcomes = {"loaded": 0, "refused": 0}

    @case_settings("checkpoint_json")
    @given(case=mutated_documents(sources))
    def check(case: tuple[str, dict]) -> None:
        name, document = case
        (tmp_path / "case.json").write_text(json.dumps(document))
        (tmp_path / "case.safetensors").write_bytes(sources[name][1])
        try:
            loaded = indrnn.load(tmp_path / "case")
        except CheckpointError as error:
            assert "case.json" in str(error) or "case.safetensors" in str(error), str(error)
            outcomes["refused"] += 1
        else:  # e.g. a changed card: the model must be the saved one, weights included
            state = loaded.model.state_dict()
            assert state.keys() == saved[name].keys()
            assert all(torch.equal(state[k], saved[name][k]) for k in state)
            outcomes["loaded"] += 1

    check()
    print(f"checkpoint_json: {outcomes}")
    assert sum(outcomes.values()) == CASES["checkpoint_json"], outcomes
    assert outcomes["refused"] > outcomes["loaded"] > 0, outcomes




def test_an_uploaded_checkpoint_with_two_bad_fields_names_both_and_the_file_not_a_temp_path(
        tmp_path):
    path = _nested_checkpoint(tmp_path)
    document = json.loads(path.with_suffix(".json").read_text())
    _body(document)["config"].update(hidden_size=10**9, num_layers=-1)
    files = [("my_model.json", json.dumps(document).encode(), "application/json"),
             ("my_model.safetensors", path.with_suffix(".safetensors").read_bytes(),
              "application/octet-stream")]
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.selectbox(key="model_choice").set_value(UPLOAD_CHOICE).run()
    at.file_uploader(key="checkpoint_upload").set_value(files).run()
    assert not at.exception, at.exception
    said = app_errors(at)
    assert "config['hidden_size']" in said and "config['num_layers']" in said, said
    assert "1000000000" in said and "-1" in said and "my_model" in said, said
    assert "/tmp" not in said and "model.json" not in said.replace("my_model.json", ""), said
