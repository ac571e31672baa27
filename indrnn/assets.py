"""Where the pretrained models and the data snapshots are: one place, one rule.

Both folders live at the top of the source tree (``models/``, ``data/``) and ship inside the
wheel as the packages ``indrnn.bundled.models`` and ``indrnn.bundled.data`` (and the app's files,
from the top of the tree, as ``indrnn.bundled.app``)
(``pyproject.toml`` maps the folders there), so a plain ``pip install .`` carries them. Each is
found, in order:

1. the environment variable (``INDRNN_MODELS_DIR``, ``INDRNN_DATA_DIR``), when set;
2. the copy installed with the package;
3. the source tree this module sits in (a checkout, or an editable install).

A folder found nowhere is a :class:`FileNotFoundError` that says where it was looked for.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

MODELS_ENV = "INDRNN_MODELS_DIR"  #: overrides where the pretrained models are read from
DATA_ENV = "INDRNN_DATA_DIR"  #: overrides where the committed data snapshots are read from
APP_ENV = "INDRNN_APP_DIR"  #: overrides where ``indrnn app`` finds the app's files
_SOURCE_TREE = Path(__file__).resolve().parents[1]


def _bundled(package: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(package)
    except ModuleNotFoundError:
        return None
    locations = list(spec.submodule_search_locations or []) if spec else []
    return next((Path(p) for p in locations if Path(p).is_dir()), None)


def _find(env: str, package: str, folder: str, marker: str) -> Path:
    override = os.environ.get(env)
    if override:
        return Path(override)
    for candidate in (_bundled(package), _SOURCE_TREE / folder):
        if candidate is not None and (candidate / marker).is_file():
            return candidate
    raise FileNotFoundError(
        f"the {folder}/ folder was found neither installed with the package ({package}) nor in "
        f"the source tree ({_SOURCE_TREE / folder}); install indrnn with `pip install .` from a "
        f"checkout, or set ${env} to a folder holding it")


def models_dir() -> Path:
    """The folder of the pretrained models (``models/``)."""
    return _find(MODELS_ENV, "indrnn.bundled.models", "models", "README.md")


def app_dir() -> Path:
    """The folder of the app (``app.py``, ``pages/``, ``ui/``, ``examples/``, ``.streamlit/``):
    the copy installed with the package (``indrnn.bundled.app``), else the source tree."""
    return _find(APP_ENV, "indrnn.bundled.app", ".", "app.py")


def data_dir() -> Path:
    """The folder of the committed data snapshots (``data/``)."""
    return _find(DATA_ENV, "indrnn.bundled.data", "data", "README.md")
