"""Pickles that would run code: live payloads in every place a checkpoint can hold one, refused
by the library and the app without running, and no code of ours that could unpickle.
"""

from __future__ import annotations

import ast
import io
import os
import pickle
import re
import shlex
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from hostile import (
    APP,
    ROOT,
    UPLOAD_CHOICE,
    app_errors,
    ran_code,
    small_checkpoint,
)
from streamlit.testing.v1 import AppTest

import indrnn
from indrnn import limits
from indrnn.checkpoint import CheckpointError

# --- 1. pickles that would run code ----------------------------------------------------------

class WritesMarker:
    """Unpickling this writes ``marker``: the stand-in for whatever an attacker would run."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return Path.write_text, (self.marker, "the pickle ran")


class RunsShell:
    """Unpickling this runs a shell command (``touch marker``)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {shlex.quote(str(self.marker))}",)


def payloads(marker: Path) -> dict[str, bytes]:
    """Files whose loading by pickle, ``torch.load`` or ``np.load(allow_pickle=True)`` runs code."""
    found = {f"pickle protocol {p}": pickle.dumps(WritesMarker(marker), protocol=p)
             for p in range(pickle.HIGHEST_PROTOCOL + 1)}
    found["pickle os.system"] = pickle.dumps(RunsShell(marker))
    for name, zipped in (("torch.save", True), ("torch.save legacy", False)):
        buffer = io.BytesIO()
        torch.save({"weight_ih_l0": WritesMarker(marker)}, buffer,
                   _use_new_zipfile_serialization=zipped)
        found[name] = buffer.getvalue()
    buffer = io.BytesIO()
    np.save(buffer, np.array([WritesMarker(marker)], dtype=object), allow_pickle=True)
    found["npy object array"] = buffer.getvalue()
    return found


KINDS = sorted(payloads(Path("unused")))


def _unpickle(kind: str, blob: bytes) -> None:
    """What an unsafe loader would do with ``blob``."""
    if kind.startswith("torch"):
        torch.load(io.BytesIO(blob), weights_only=False)
    elif kind.startswith("npy"):
        np.load(io.BytesIO(blob), allow_pickle=True)
    else:
        pickle.loads(blob)


@pytest.mark.parametrize("kind", KINDS)
def test_the_payloads_are_live_and_the_watch_sees_them(tmp_path, audit, kind):
    """The attack is real: an unsafe loader runs it, and the audit hook notices."""
    marker = tmp_path / "marker"
    _unpickle(kind, payloads(marker)[kind])
    assert marker.exists()
    assert ran_code(audit), "unpickling raised no audit event"


@pytest.mark.parametrize("kind", KINDS)
def test_indrnn_load_refuses_pickles_in_every_place(tmp_path, audit, kind):
    marker = tmp_path / "marker"
    blob = payloads(marker)[kind]
    good_json = small_checkpoint(tmp_path)
    good_weights = good_json.with_suffix(".safetensors")
    attempts: list[Path] = []
    for layout, (json_bytes, weights_bytes) in {
        "as_json": (blob, good_weights.read_bytes()),
        "as_weights": (good_json.read_bytes(), blob),
        "as_both": (blob, blob),
    }.items():
        folder = tmp_path / layout
        folder.mkdir()
        (folder / "net.json").write_bytes(json_bytes)
        (folder / "net.safetensors").write_bytes(weights_bytes)
        attempts += [folder / "net", folder / "net.json", folder / "net.safetensors"]
    for suffix in (".pt", ".pth", ".pkl", ".bin", ".ckpt"):  # a torch file passed as itself
        (tmp_path / f"model{suffix}").write_bytes(blob)
        attempts += [tmp_path / f"model{suffix}", tmp_path / "model"]
    for path in attempts:
        with pytest.raises(CheckpointError) as caught:
            indrnn.load(path)
        message = str(caught.value)
        assert re.search(r"JSON|header|readable file", message), message
        assert str(path.parent) in message  # names the file
    assert not marker.exists()
    assert not ran_code(audit), ran_code(audit)


def test_app_refuses_pickled_checkpoints_without_running_them(tmp_path, audit):
    marker = tmp_path / "marker"
    blobs = payloads(marker)
    good = small_checkpoint(tmp_path).read_bytes()
    real = ROOT / "models" / "adding100_indrnn"
    json_mime, binary = "application/json", "application/octet-stream"
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.selectbox(key="model_choice").set_value(UPLOAD_CHOICE).run()
    uploader = at.file_uploader(key="checkpoint_upload")
    assert "never a pickle" in uploader.proto.help and "50 MiB" in uploader.proto.help
    assert uploader.proto.max_upload_size_mb == limits.MAX_CHECKPOINT_UPLOAD_BYTES >> 20
    shown = [str(t.value) for t in at.table]  # no model yet: the start page lists the limits
    assert any("file size" in text and "20 MiB" in text for text in shown), shown
    cases = [
        ([("evil.json", good, json_mime), ("evil.safetensors", blobs["pickle protocol 2"],
                                           binary)], "header"),
        ([("evil.json", good, json_mime), ("evil.safetensors", blobs["torch.save"], binary)],
         "header"),
        ([("evil.json", blobs["pickle protocol 5"], json_mime),
          ("evil.safetensors", real.with_suffix(".safetensors").read_bytes(), binary)], "JSON"),
        ([("evil.json", blobs["pickle os.system"], json_mime),
          ("evil.safetensors", blobs["torch.save legacy"], binary)], "JSON"),
        ([("evil.json", good, json_mime)], "exactly two files"),
        ([("a.safetensors", blobs["torch.save"], binary), ("b.safetensors", blobs["torch.save"],
                                                            binary)], "exactly two files"),
    ]
    for files, words in cases:
        at.file_uploader(key="checkpoint_upload").set_value(files).run()
        assert not at.exception, at.exception
        assert "can't be used" in app_errors(at) and words in app_errors(at), (files[0][0],
                                                                         app_errors(at))
    assert not marker.exists()
    assert not ran_code(audit), ran_code(audit)
    # the control: a real checkpoint through the same uploader is used
    at.file_uploader(key="checkpoint_upload").set_value(
        [("adding100_indrnn.json", real.with_suffix(".json").read_bytes(), json_mime),
         ("adding100_indrnn.safetensors", real.with_suffix(".safetensors").read_bytes(),
          binary)]).run()
    assert not at.exception and not app_errors(at), app_errors(at)
    assert "Sequence 0" in " ".join(m.value for m in at.markdown)
    # files of another type (sent by a client that skips the browser's check): Streamlit
    # refuses them before the script runs, so the app never sees their bytes
    for files in ([("evil.pt", blobs["torch.save"], binary)],
                  [("evil.pkl", blobs["pickle protocol 4"], binary),
                   ("evil.json", good, json_mime)]):
        at = AppTest.from_file(APP, default_timeout=120).run()
        at.selectbox(key="model_choice").set_value(UPLOAD_CHOICE).run()
        at.file_uploader(key="checkpoint_upload").set_value(files).run()
        assert [e.message for e in at.exception] == [
            f"Invalid file extension: `{Path(files[0][0]).suffix}`. Allowed: "
            "['.json', '.safetensors']"], at.exception
    assert not marker.exists()
    assert not ran_code(audit), ran_code(audit)


UNSAFE_CALLS = {
    "pickle": {"load", "loads", "Unpickler"}, "_pickle": {"load", "loads", "Unpickler"},
    "cPickle": {"load", "loads"}, "cloudpickle": {"load", "loads"}, "dill": {"load", "loads"},
    "joblib": {"load"}, "marshal": {"load", "loads"}, "shelve": {"open"},
    "torch": {"load"}, "pd": {"read_pickle"}, "pandas": {"read_pickle"},
}
UNSAFE_MODULES = {"pickle", "_pickle", "cPickle", "cloudpickle", "dill", "joblib", "marshal",
                  "shelve"}


def unsafe_deserialisation(source: str, filename: str = "<code>") -> list[str]:
    """Calls in ``source`` that unpickle (or may): pickle-family loaders, ``torch.load``,
    ``np.load`` without ``allow_pickle`` false, and imports of the pickle family."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            found += [f"{where} import {a.name}" for a in node.names
                      if a.name.split(".")[0] in UNSAFE_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module:
            top = node.module.split(".")[0]
            if top in UNSAFE_MODULES or any(a.name in UNSAFE_CALLS.get(top, ())
                                            for a in node.names):
                found.append(f"{where} from {node.module} import ...")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and isinstance(node.func.value, ast.Name):
            owner, name = node.func.value.id, node.func.attr
            if name in UNSAFE_CALLS.get(owner, ()):
                found.append(f"{where} {owner}.{name}")
            if owner in ("np", "numpy") and name == "load":
                flag = next((k.value for k in node.keywords if k.arg == "allow_pickle"), None)
                if not (isinstance(flag, ast.Constant) and flag.value is False):
                    found.append(f"{where} {owner}.load without allow_pickle=False")
    return found


def _converter_opt_in(hit: str) -> bool:
    """``indrnn convert --allow-torch-pickle``: the one torch.load, checked below."""
    return hit.startswith("indrnn/convert.py:") and hit.endswith(" torch.load")


def test_no_app_or_library_code_can_unpickle():
    sources = sorted([*ROOT.glob("indrnn/**/*.py"), *ROOT.glob("ui/**/*.py"),
                      *ROOT.glob("pages/*.py"), ROOT / "app.py"])
    assert len(sources) > 40
    found = [hit for path in sources
             for hit in unsafe_deserialisation(path.read_text(encoding="utf-8"),
                                               str(path.relative_to(ROOT)))
             if not _converter_opt_in(hit)]
    assert not found, found
    # the converter's one torch.load: weights_only=True, and the app never imports the converter
    converter = ast.parse((ROOT / "indrnn/convert.py").read_text(encoding="utf-8"))
    loads = [node for node in ast.walk(converter) if isinstance(node, ast.Call)
             and isinstance(node.func, ast.Attribute) and node.func.attr == "load"
             and isinstance(node.func.value, ast.Name) and node.func.value.id == "torch"]
    assert len(loads) == 1 and any(k.arg == "weights_only" and isinstance(k.value, ast.Constant)
                                   and k.value.value is True for k in loads[0].keywords)
    app = [p for p in sources if not str(p.relative_to(ROOT)).startswith("indrnn/")]
    assert not [p for p in app if "indrnn.convert" in p.read_text(encoding="utf-8")
                or "from indrnn import convert" in p.read_text(encoding="utf-8")]
    text = "\n".join(p.read_text(encoding="utf-8") for p in sources)
    assert "allow_pickle=True" not in text and "weights_only=False" not in text
    # the scan finds what it is meant to find
    bad = textwrap.dedent("""
        import pickle
        from torch import load
        torch.load(f)
        pickle.loads(b)
        np.load(f, allow_pickle=True)
        numpy.load(f)
        np.load(f, allow_pickle=False)
    """)
    assert len(unsafe_deserialisation(bad)) == 6


