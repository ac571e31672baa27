"""Model names from the library or the URL never reach a path outside the models folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hostile import (
    APP,
    opened,
)
from streamlit.testing.v1 import AppTest

import indrnn
from indrnn import assets, catalog

# --- 4. model names never reach a path outside models/ ----------------------------------------

def _hostile_names(outside: Path) -> list[str]:
    relative = os.path.relpath(outside / "evil", assets.models_dir())
    return [relative, str(outside / "evil"), str(outside / "evil.json"), "../../etc/passwd",
            "/etc/passwd", "..%2F..%2Fetc%2Fpasswd", "..", ".", "", "~", "models/adding100_indrnn",
            "adding100_indrnn/../adding100_indrnn", "adding100_indrnn.json", "adding100_indrnn\0",
            "adding100_indrnn ", "ADDING100_INDRNN", "ａdding100_indrnn", "\\..\\..\\etc\\passwd",
            "a" * 10_000, "adding100_indrnn\n", "*", "adding100_*"]


@pytest.fixture
def outside(tmp_path):
    """A real, loadable checkpoint outside models/: the target of the hostile names."""
    folder = tmp_path / "outside"
    folder.mkdir()
    for suffix in (".json", ".safetensors"):
        source = assets.models_dir() / f"adding100_indrnn{suffix}"
        (folder / f"evil{suffix}").write_bytes(source.read_bytes())
    indrnn.load(folder / "evil")  # it would load, were it ever reached
    return folder


def _reached(paths: list[Path], outside: Path) -> list[Path]:
    """The opened paths that are the hostile names' targets."""
    return [p for p in paths if p.resolve().is_relative_to(outside.resolve())
            or p.resolve() == Path("/etc/passwd").resolve()]


def test_catalog_refuses_every_name_outside_the_listing(outside, audit):
    for name in _hostile_names(outside):
        for call in (catalog.entry, catalog.load_model, catalog.partner):
            with pytest.raises(KeyError, match="no model named"):
                call(name)
    assert not _reached(opened(audit), outside), _reached(opened(audit), outside)
    assert catalog.load_model("adding100_indrnn").card["task"] == "adding"  # the control


@pytest.mark.parametrize("which", ["relative", "absolute", "/etc/passwd", "..%2F..%2F"])
def test_app_urls_naming_paths_fall_back_to_a_listed_model(outside, audit, which):
    name = {"relative": os.path.relpath(outside / "evil", assets.models_dir()),
            "absolute": str(outside / "evil"), "/etc/passwd": "/etc/passwd",
            "..%2F..%2F": "..%2F..%2Fetc%2Fpasswd"}[which]
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["model"] = name
    at.query_params["example"] = "../../etc/passwd"
    at.query_params["source"] = "/etc/passwd"
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="model_choice").value in catalog.models()
    warned = " ".join(w.value for w in at.warning)
    assert "not among the models" in warned, warned
    assert "Sequence 0" in " ".join(m.value for m in at.markdown)  # the fallback model runs
    assert not _reached(opened(audit), outside), _reached(opened(audit), outside)
    assert at.query_params["model"] in (at.selectbox(key="model_choice").value,
                                        [at.selectbox(key="model_choice").value])


