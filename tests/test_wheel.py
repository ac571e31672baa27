"""The library as a user installs it: a wheel built from the checkout, installed into a fresh
virtual environment outside the checkout, loads a pretrained model and a data set from there."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

import pytest
import tomllib
from installed import build_wheel, fresh_venv

ROOT = Path(__file__).resolve().parents[1]

CHECK = """
import json, sys
import indrnn
from indrnn import assets, catalog, evaluate
from indrnn.data import load_task
models = catalog.models()
checkpoint = catalog.load_model("basicmotions_indrnn")
task = load_task("basicmotions")
print(json.dumps({
    "indrnn": indrnn.__file__, "models_dir": str(assets.models_dir()),
    "data_dir": str(assets.data_dir()), "models": sorted(models),
    "parameters": sum(p.numel() for p in checkpoint.model.parameters()),
    "card_parameters": checkpoint.card["parameters"],
    "test_size": len(task.test), "chars": len(load_task("cpython_chars").test),
}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


def test_the_wheel_lists_every_package_of_the_source_tree(wheel):
    declared = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"])
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "indrnn").rglob(
        "__init__.py")}
    assert on_disk <= declared, f"packages missing from pyproject.toml: {on_disk - declared}"
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {n for n in names if n.startswith("indrnn/bundled/models/")}
    committed = {f"indrnn/bundled/models/{p.name}" for p in (ROOT / "models").iterdir()
                 if p.suffix in (".json", ".safetensors")}
    assert committed and committed <= shipped
    assert "indrnn/bundled/data/mnist5k.npz" in names
    # the app `indrnn app` runs: its script, pages, shared parts, examples and settings
    for shipped_file in ("app.py", "pages/0_Overview.py", "ui/sidebar.py", "examples/index.json",
                         ".streamlit/config.toml"):
        assert f"indrnn/bundled/app/{shipped_file}" in names
    assert "indrnn.cli:main" in zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith("entry_points.txt"))).decode()


def test_a_fresh_venv_outside_the_checkout_loads_models_and_data_from_the_wheel(wheel,
                                                                                tmp_path):
    env = tmp_path / "venv"
    # The dependencies (torch, numpy, ...) come from the test's own environment; the package
    # itself only from the wheel (the editable install's finder is not on that path).
    python = fresh_venv(wheel, env) / "python"
    result = subprocess.run([python, "-c", CHECK], capture_output=True, text=True, cwd=tmp_path,
                            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["indrnn"].startswith(str(env))
    assert found["models_dir"].startswith(str(env)) and found["data_dir"].startswith(str(env))
    assert "basicmotions_indrnn" in found["models"] and len(found["models"]) >= 14
    assert found["parameters"] == found["card_parameters"]
    assert found["test_size"] == 40 and found["chars"] > 10_000
