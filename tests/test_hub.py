"""indrnn.hub: a shipped model exported in the Hugging Face hub layout, its model card, the
folder loaded back by indrnn.load, and every unsafe or broken folder refused by name."""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import torch

import indrnn
from indrnn import hub
from indrnn.assets import models_dir
from indrnn.checkpoint import CheckpointError

NAME = "basicmotions_indrnn"  # small (4,996 weights), a card with findings and test metrics
SOURCE = models_dir() / NAME
ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def no_pickle() -> Iterator[None]:
    """Fail if torch.load or any pickle entry point runs (not around running a model: numba's
    kernel cache is pickled)."""
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("pickle / torch.load must never run")

    with pytest.MonkeyPatch.context() as patch:
        for owner, name in ((torch, "load"), (pickle, "load"), (pickle, "loads"),
                            (pickle, "Unpickler")):
            patch.setattr(owner, name, refuse)
        yield


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    with no_pickle():
        return hub.export_hub(SOURCE, tmp_path / "hub")


def document() -> dict[str, Any]:
    return json.loads(SOURCE.with_suffix(".json").read_text(encoding="utf-8"))


# A tiny reader for the block YAML a hub card's front matter uses (PyYAML is not in .venv):
# mappings, lists of scalars or mappings, and scalars that are JSON or plain words.
def parse_yaml(text: str) -> Any:
    lines = [line for line in text.splitlines() if line.strip()]
    value, end = _block(lines, 0, _indent(lines[0]))
    assert end == len(lines), f"unparsed YAML from line {end}: {lines[end]!r}"
    return value


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _block(lines: list[str], i: int, indent: int) -> tuple[Any, int]:
    return (_sequence if lines[i].lstrip().startswith("- ") else _mapping)(lines, i, indent)


def _mapping(lines: list[str], i: int, indent: int) -> tuple[dict, int]:
    out: dict[str, Any] = {}
    while i < len(lines) and _indent(lines[i]) == indent and not (
            lines[i].lstrip().startswith("- ")):
        key, colon, rest = lines[i].strip().partition(":")
        assert colon and key not in out, lines[i]
        i += 1
        if rest.strip():
            out[key] = _yaml_scalar(rest.strip())
        else:
            assert _indent(lines[i]) > indent, lines[i]
            out[key], i = _block(lines, i, _indent(lines[i]))
    return out, i


def _sequence(lines: list[str], i: int, indent: int) -> tuple[list, int]:
    out: list[Any] = []
    while i < len(lines) and _indent(lines[i]) == indent and lines[i].lstrip().startswith("- "):
        item = lines[i].strip()[2:]
        if re.match(r"^[A-Za-z_][A-Za-z0-9_-]*:( |$)", item):  # a mapping opens on this line
            lines[i] = " " * (indent + 2) + item
            value, i = _mapping(lines, i, indent + 2)
            out.append(value)
        else:
            out.append(_yaml_scalar(item))
            i += 1
    return out, i


def _yaml_scalar(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        assert re.match(r"^[A-Za-z][A-Za-z0-9_.-]*$", text), f"not a plain scalar: {text!r}"
        return text


def front_matter(readme: str) -> tuple[dict[str, Any], str]:
    assert readme.startswith("---\n"), readme[:80]
    head, end, prose = readme[4:].partition("\n---\n")
    assert end, "front matter not closed"
    return parse_yaml(head), prose


def test_yaml_reader_reads_nested_blocks() -> None:
    # The reader itself, so that a front matter it misreads cannot pass unnoticed.
    text = "a: 1\nb:\n  - x\n  - \"y z\"\nc:\n  - name: n\n    v:\n      - k: 1.0e-05\n"
    assert parse_yaml(text) == {"a": 1, "b": ["x", "y z"], "c": [{"name": "n",
                                                                  "v": [{"k": 1e-5}]}]}


def test_export_writes_the_three_files(folder: Path) -> None:
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json",
                                                        "model.safetensors"]
    assert all(p.is_file() and not p.is_symlink() for p in folder.iterdir())
    assert (folder / "model.safetensors").read_bytes() == SOURCE.with_suffix(
        ".safetensors").read_bytes()
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    assert config == document()
    assert config["format"] == "indrnn-checkpoint"
    assert hub.is_hub_folder(folder)
    assert not hub.is_hub_folder(models_dir())
    assert not hub.is_hub_folder(folder / "config.json")


def test_front_matter_matches_the_card(folder: Path) -> None:
    card = document()["card"]
    front, _ = front_matter((folder / "README.md").read_text(encoding="utf-8"))
    assert front["license"] == "mit"
    assert front["library_name"] == "indrnn"
    assert {"indrnn", "recurrent-neural-network", card["task"]} <= set(front["tags"])
    assert front["datasets"] == [card["data"]["name"]]
    assert front["metrics"] == ["accuracy"]
    [entry] = front["model-index"]
    assert entry["name"] == NAME
    [result] = entry["results"]
    assert result["task"]["name"] == card["task"]
    assert result["dataset"]["split"] == "test"
    values = {m["type"]: m["value"] for m in result["metrics"]}
    assert values == card["metrics"]["test"]


def test_front_matter_of_an_lstm_names_it(tmp_path: Path) -> None:
    front, _ = front_matter(hub.model_card(
        json.loads((models_dir() / "basicmotions_lstm.json").read_text()), "twin"))
    assert "lstm" in front["tags"]
    assert front["model-index"][0]["name"] == "twin"


def test_readme_prose_tells_the_card(folder: Path) -> None:
    card = document()["card"]
    _, prose = front_matter((folder / "README.md").read_text(encoding="utf-8"))
    assert prose.lstrip().startswith(f"# {NAME}\n")
    for text in (card["task"], f"{card['parameters']:,} parameters", "IndRNN",
                 card["training"]["command"], card["recipe"]["why"],
                 card["findings"][0]["claim"], card["data"]["baseline"],
                 card["findings_command"], "| accuracy | 0.975 |", 'indrnn.load("'):
        assert text in prose, text
    assert "Caveat" not in prose  # 97.5%: nothing to warn about


def test_a_model_at_chance_gets_its_caveat(tmp_path: Path) -> None:
    out = hub.export_hub(models_dir() / "mnist5k_lstm21.json", tmp_path / "deep")
    _, prose = front_matter((out / "README.md").read_text(encoding="utf-8"))
    assert "**Caveat.** At chance on held-out data" in prose


def test_card_of_a_bare_document_has_defaults() -> None:
    # A stranger's card may hold nothing; a metric like 1e-05 must stay a number in YAML 1.1.
    bare = {"architecture": "IndRNN", "config": {"input_size": 3, "hidden_size": 5},
            "dtype": "float32", "tensors": {"w": {"shape": [5, 3], "dtype": "float32"}},
            "card": {"metrics": {"test": {"mse": 1e-05}}}}
    readme = hub.model_card(bare, "bare")
    front, prose = front_matter(readme)
    assert "value: 1.0e-05" in readme
    assert front["license"] == "mit" and front["model-index"][0]["results"][0]["metrics"] == [
        {"type": "mse", "value": 1e-05, "name": "test mse"}]
    assert "15 parameters" in prose and "datasets" not in front


def test_load_folder_gives_the_same_model(folder: Path) -> None:
    with no_pickle():
        original, shared = indrnn.load(SOURCE), indrnn.load(folder)
    assert shared.card == original.card and shared.config == original.config
    assert shared.architecture == original.architecture
    torch.manual_seed(0)
    x = torch.randn(3, 100, 6)
    with torch.no_grad():
        expected, got = original.model(x)[0], shared.model(x)[0]
    assert got.shape == (3, 4)
    assert torch.equal(got, expected)
    assert not shared.model.training


def refused(path: Path, *words: str, **kwargs: Any) -> str:
    with pytest.raises(CheckpointError) as info:
        indrnn.load(path, **kwargs)
    message = str(info.value)
    for word in words:
        assert word in message, message
    return message


def test_tampered_weights_fail_the_digest(folder: Path) -> None:
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    refused(folder, f"{weights}: sha256: expected")


def test_folder_passes_the_same_checks_as_a_checkpoint(folder: Path) -> None:
    config = folder / "config.json"
    edited = json.loads(config.read_text())
    edited["tensors"]["head.bias"]["shape"] = [5]
    config.write_text(json.dumps(edited))
    refused(folder, str(config), "tensors['head.bias']")
    edited["tensors"]["head.bias"]["shape"] = [4]
    config.write_text(json.dumps(edited))
    assert indrnn.load(folder).card == edited["card"]  # only the shape was wrong
    refused(folder, "at most 1000 weights, found 4996", max_parameters=1000)
    edited["format"] = "something-else"
    config.write_text(json.dumps(edited))
    refused(folder, f"{config}: format")
    assert not hub.is_hub_folder(folder)


def test_errors_use_the_shown_name(folder: Path) -> None:
    (folder / "model.safetensors").write_bytes(b"\0" * 16)
    message = refused(folder, "upload.zip/model.safetensors: header", shown_as="upload.zip")
    assert str(folder) not in message


@pytest.mark.parametrize("file", ["config.json", "model.safetensors", "README.md"])
def test_a_symlinked_file_is_refused(folder: Path, file: str) -> None:
    # Even a link to the very same, valid bytes: a shared folder must not point elsewhere.
    target = folder.parent / f"elsewhere-{file}"
    shutil.move(folder / file, target)
    (folder / file).symlink_to(target)
    refused(folder, f"{folder / file}: file: expected a plain file, found a symbolic link")
    assert not hub.is_hub_folder(folder)


@pytest.mark.parametrize("file", ["config.json", "model.safetensors"])
def test_a_missing_file_is_refused(folder: Path, file: str) -> None:
    (folder / file).unlink()
    refused(folder, f"{folder / file}: file: expected a plain file, found none (missing)")
    assert not hub.is_hub_folder(folder)


def test_the_readme_is_not_needed_to_load(folder: Path) -> None:
    (folder / "README.md").unlink()
    assert hub.is_hub_folder(folder)
    indrnn.load(folder)


def test_a_non_empty_out_is_refused_unless_overwrite(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(CheckpointError, match=r"busy: folder: expected an empty folder"):
        hub.export_hub(SOURCE, out)
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    hub.export_hub(SOURCE, out, overwrite=True)
    assert (out / "keep.txt").read_text() == "mine"
    assert indrnn.load(out).card == document()["card"]
    with pytest.raises(CheckpointError, match="a file"):
        hub.export_hub(SOURCE, out / "keep.txt")


def test_overwrite_never_writes_through_a_link(tmp_path: Path) -> None:
    out, outside = tmp_path / "out", tmp_path / "outside.bin"
    out.mkdir()
    outside.write_bytes(b"not yours")
    (out / "model.safetensors").symlink_to(outside)
    hub.export_hub(SOURCE, out, overwrite=True)
    assert outside.read_bytes() == b"not yours"
    assert not (out / "model.safetensors").is_symlink()
    indrnn.load(out)


def test_a_broken_source_writes_nothing(tmp_path: Path) -> None:
    for suffix in (".json", ".safetensors"):
        shutil.copyfile(SOURCE.with_suffix(suffix), tmp_path / f"copy{suffix}")
    data = bytearray((tmp_path / "copy.safetensors").read_bytes())
    data[-1] ^= 1
    (tmp_path / "copy.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"copy\.safetensors: sha256"):
        hub.export_hub(tmp_path / "copy", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_hub_folder_exports_again(folder: Path, tmp_path: Path) -> None:
    again = hub.export_hub(folder, tmp_path / "again")
    assert (again / "README.md").read_text() == (folder / "README.md").read_text()
    assert (again / "config.json").read_bytes() == (folder / "config.json").read_bytes()


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    assert hub.main([str(SOURCE), str(out)]) == 0
    assert "wrote" in capsys.readouterr().out and hub.is_hub_folder(out)
    assert hub.main([str(SOURCE), str(out)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and f"{out}: folder: expected an empty folder" in error
    assert "Traceback" not in error
    assert hub.main([str(SOURCE), str(out), "--overwrite"]) == 0
    capsys.readouterr()
    missing = tmp_path / "nope"
    assert hub.main([str(missing), str(tmp_path / "other")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and f"{missing}.json: file: expected a readable file" in error
    with pytest.raises(SystemExit) as info:
        hub.main([])
    assert info.value.code == 2


def test_python_dash_m(tmp_path: Path) -> None:
    out = tmp_path / "m"
    done = subprocess.run([sys.executable, "-m", "indrnn.hub", str(SOURCE), str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert hub.is_hub_folder(out)
    check = subprocess.run([sys.executable, "-c", "import sys, indrnn.hub; "
                            "sys.exit('streamlit' in sys.modules)"], cwd=ROOT, timeout=300,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert check.returncode == 0, "indrnn.hub imports streamlit"
