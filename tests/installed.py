"""The package as a user installs it: a wheel built from the checkout, and a fresh virtual
environment outside the checkout with only that wheel installed (its dependencies are the
test environment's own, through a ``.pth`` file: nothing is downloaded)."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build_wheel(out: Path) -> Path:
    """``pip wheel`` of the checkout into ``out``; returns the wheel."""
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps",
                    "--no-build-isolation", "-q", "-w", str(out)], check=True, cwd=out)
    (built,) = out.glob("indrnn-*.whl")
    return built


def fresh_venv(wheel: Path, where: Path) -> Path:
    """A new virtual environment at ``where`` with ``wheel`` installed; returns its ``bin/``."""
    venv.EnvBuilder(with_pip=False).create(where)
    python = where / "bin" / "python"
    site = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()"
                                "['purelib'])"], capture_output=True, text=True,
                               check=True).stdout.strip())
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                    "--no-deps", str(wheel)], check=True, cwd=where.parent)
    return where / "bin"
