"""scripts/build_docs.py builds the API docs with pdoc, cleanly, without streamlit.

The build runs once, in a subprocess (pdoc configures itself globally and imports every module
of the package), into a temporary folder; the tests read the pages it wrote.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "build_docs.py"
#: Runs the script as ``python scripts/build_docs.py OUT`` would, then says whether anything
#: imported streamlit (the docs must build without the app).
RUNNER = """
import runpy, sys
script, out = sys.argv[1:]
sys.argv = [script, out]
try:
    runpy.run_path(script, run_name="__main__")
finally:
    print("streamlit imported:", "streamlit" in sys.modules)
"""


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path]:
    """The build's result and its output folder."""
    out = tmp_path_factory.mktemp("docs") / "api"
    done = subprocess.run([sys.executable, "-c", RUNNER, str(SCRIPT), str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    return done, out


def _text(page: Path) -> str:
    """A page's rendered text: the source listings pdoc adds (``show_source``) left out."""
    html = page.read_text(encoding="utf-8")
    return re.sub(r'<div class="pdoc-code codehilite">.*?</div>', "", html, flags=re.S)


def test_the_build_is_clean_and_imports_no_streamlit(docs) -> None:
    done, out = docs
    assert done.returncode == 0, f"docs build failed:\n{done.stderr[-6000:]}"
    assert "warning" not in done.stderr.lower(), done.stderr[-6000:]
    assert "streamlit imported: False" in done.stdout
    assert f"pages in {out}/" in done.stdout


@pytest.mark.parametrize(("page", "names"), [
    ("indrnn.html", ("IndRNN", "record", "load", "Checkpoint", "IndRNNCell")),
    ("indrnn/explain.html", ("explain", "Finding", "card_findings", "Budget")),
    ("indrnn/record.html", ("record", "Recording", "LayerRecord")),
    ("indrnn/analysis/memory.html", ("indrnn_memory", "time_constant", "half_life",
                                     "paper_bounds")),
    ("indrnn/figures.html", ("activation_heatmap", "u_strip", "gradient_over_time")),
    ("indrnn/catalog.html", ("load_model", "ModelEntry")),
    ("indrnn/layers.html", ("IndRNN", "IndRNNCell")),
])
def test_key_pages_document_their_names(docs, page: str, names: tuple[str, ...]) -> None:
    _, out = docs
    text = _text(out / page)
    for name in names:
        # pdoc gives each documented object an anchor named after it.
        assert f'id="{name}"' in text, f"{page} does not document {name}"


def test_numpy_sections_are_rendered_not_left_as_text(docs) -> None:
    _, out = docs
    text = _text(out / "indrnn/analysis/memory.html")
    # pdoc's NumPy reader turns "Parameters\n----------" into a heading and the roles into links.
    assert "<h6 id=\"parameters\">Parameters</h6>" in text
    assert "----------" not in text
    assert ":func:" not in text and ":mod:" not in text


def _public(path: Path) -> bool:
    return not any(part.startswith("_") for part in path.relative_to(ROOT).parts)


def test_every_public_module_has_a_page_its_package_links_to(docs) -> None:
    _, out = docs
    packages = [p.parent for p in (ROOT / "indrnn").rglob("__init__.py") if _public(p.parent)]
    assert len(packages) >= 6
    for package in packages:
        page = package.relative_to(ROOT).with_suffix(".html")
        assert (out / page).is_file(), f"no page for {package.name}"
        menu = (out / page).read_text(encoding="utf-8")
        children = [p.stem for p in package.glob("*.py") if _public(p)]
        children += [p.parent.name for p in package.glob("*/__init__.py") if _public(p.parent)]
        for child in children:
            name = ".".join((*package.relative_to(ROOT).parts, child))
            assert (out / page.with_suffix("") / f"{child}.html").is_file(), f"no page for {name}"
            # Links are relative to the package's page: indrnn.html -> indrnn/explain.html.
            assert f'href="{package.name}/{child}.html"' in menu, f"{page} does not link {name}"
    assert 'url=./indrnn.html' in (out / "index.html").read_text(encoding="utf-8")
    assert not (out / "indrnn" / "bundled").exists()


#: The script with pdoc made to warn once, as it does for a module it cannot import.
WARNING_RUNNER = """
import runpy, sys, warnings
import pdoc
pdoc.pdoc = lambda *specs, output_directory: warnings.warn("Couldn't import indrnn.broken")
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_a_warning_fails_the_build(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", WARNING_RUNNER, str(SCRIPT), str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1
    assert "warning: UserWarning: Couldn't import indrnn.broken" in done.stderr
    assert "docs build FAILED: 1 warning(s)" in done.stderr
