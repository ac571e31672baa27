"""Build the HTML API documentation of the ``indrnn`` package with pdoc; fail on any warning.

    python scripts/build_docs.py [OUTPUT]     # default build/docs (git-ignored)

Every public module of ``indrnn`` gets a page (``OUTPUT/indrnn/explain.html``, ...), and each
package's page links to all of its submodules; ``OUTPUT/index.html`` opens ``indrnn.html``.
Docstrings are read as NumPy style, Sphinx roles (``:func:`...```) becoming links. pdoc reports
what it cannot document as Python warnings (a module that fails to import, a type annotation it
cannot evaluate, a name in ``__all__`` that does not resolve); every one is printed and the exit
status is 1, so CI fails on them. (A cross-reference pdoc cannot link is not a warning: it is
shown as code.) The data packages ``indrnn.bundled.*`` (shipped models and data) are skipped.
Nothing here imports streamlit.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import pkgutil
import re
import sys
import warnings
from pathlib import Path

import pdoc
import pdoc.doc
import pdoc.extract
import pdoc.render

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "build" / "docs"
PACKAGE = "indrnn"
SKIPPED = ("indrnn.bundled",)  # data files shipped as packages: nothing to document


def public_modules(package: str = PACKAGE) -> list[str]:
    """Every public module of ``package``, the package first, then sorted.

    pdoc alone would follow ``indrnn.__all__``, which lists the API's objects and no
    submodules, and so would leave out ``indrnn.explain``, ``indrnn.analysis``... Walking the
    package lists them all; names with a part starting with ``_`` are private and left out.

    Parameters
    ----------
    package : str
        An importable package.

    Returns
    -------
    list of str
        Dotted module names.
    """
    root = importlib.import_module(package)
    names = [info.name for info in pkgutil.walk_packages(root.__path__, f"{package}.")
             if not any(part.startswith("_") for part in info.name.split("."))
             and not info.name.startswith(SKIPPED)]
    return [package, *sorted(names)]


def pdoc_specs(modules: list[str]) -> list[str]:
    """The fewest of ``modules`` to hand pdoc so that each is documented exactly once.

    pdoc walks each spec's submodules itself (those in its ``__all__``, or all without one)
    and warns when two specs reach the same module, so a module already reached from an
    earlier spec is not named again.

    Parameters
    ----------
    modules : list of str
        Dotted module names, packages before their submodules.

    Returns
    -------
    list of str
        Specs for :func:`pdoc.pdoc`, ending in exclusion patterns for :data:`SKIPPED`.
    """
    specs: list[str] = []
    reached: set[str] = set()
    for name in modules:
        if name not in reached:
            specs.append(name)
            reached.update(pdoc.extract.walk_specs([name]))
    # A leading "!" makes a spec a pattern that drops matching modules from the walk.
    return specs + [rf"!{re.escape(skipped)}(\.|$)" for skipped in SKIPPED]


def _every_submodule(module: pdoc.doc.Module) -> list[pdoc.doc.Module]:
    """A package's public direct submodules, whatever its ``__all__`` lists (for ``indrnn.*``)."""
    if not module.modulename.startswith(PACKAGE) or not hasattr(module.obj, "__path__"):
        return _PDOC_SUBMODULES.func(module)
    names = [info.name for info in pkgutil.iter_modules(module.obj.__path__,
                                                        f"{module.modulename}.")]
    return [pdoc.doc.Module.from_name(name) for name in sorted(names)
            if not name.rpartition(".")[2].startswith("_") and not name.startswith(SKIPPED)]


_PDOC_SUBMODULES = pdoc.doc.Module.__dict__["submodules"]


@contextlib.contextmanager
def every_submodule_listed():
    """Within the block, each package page's menu lists all its public submodules.

    pdoc lists only the submodules named in a package's ``__all__``; ``indrnn.__all__`` names
    the API's objects, so ``indrnn.html`` would link to none of ``explain``, ``analysis``,
    ``figures``... (their pages exist, nothing would lead to them).
    """
    listed = functools.cached_property(_every_submodule)
    listed.__set_name__(pdoc.doc.Module, "submodules")
    pdoc.doc.Module.submodules = listed
    try:
        yield
    finally:
        pdoc.doc.Module.submodules = _PDOC_SUBMODULES


def build(output: Path) -> list[str]:
    """Render the docs into ``output`` and return pdoc's warnings, one line each.

    Parameters
    ----------
    output : Path
        Folder for the HTML (created; pages already there are overwritten).

    Returns
    -------
    list of str
        Empty when the build is clean.
    """
    pdoc.render.configure(docformat="numpy", show_source=True)
    with warnings.catch_warnings(record=True) as caught:
        # "always", not "error": collect every warning to print, rather than stop at the first.
        warnings.simplefilter("always")
        with every_submodule_listed():
            pdoc.pdoc(*pdoc_specs(public_modules()), output_directory=output)
    return [f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in caught]


def main(argv: list[str] | None = None) -> int:
    """Build the docs; exit status 1 if pdoc warned about anything.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (``sys.argv[1:]`` by default).

    Returns
    -------
    int
        0 for a clean build, 1 with warnings.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", type=Path, default=DEFAULT_OUTPUT,
                        help=f"folder for the HTML (default {DEFAULT_OUTPUT.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    found = build(args.output)
    for line in found:
        print(f"warning: {line}", file=sys.stderr)
    if found:
        print(f"docs build FAILED: {len(found)} warning(s)", file=sys.stderr)
        return 1
    pages = sum(1 for _ in args.output.rglob("*.html"))
    print(f"docs: {pages} pages in {args.output}/ (open {args.output / 'index.html'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
