"""Build the pinned CPython standard-library snapshot used by ``indrnn.data.text``.

Run once (no extra packages needed)::

    python scripts/snapshot_cpython_stdlib.py            # writes data/cpython_stdlib.*

It reads ``*.py`` files under ``sysconfig.get_paths()["stdlib"]`` of the Python that runs it,
keeps the files the rules below allow, picks a deterministic subset of about ``TARGET_BYTES``
and writes

* ``data/cpython_stdlib.txt.xz``: the chosen files' bytes concatenated in manifest order;
* ``data/cpython_stdlib.json``: the manifest: Python version, selection rules, and for every file
  its path relative to the stdlib, byte offset and size in the concatenation, sha256 and split.

The library never reads the machine's stdlib again: the snapshot is the data set, so it does not
change with the Python that loads it. Rerunning the script on another Python version gives a
different snapshot (the manifest records which one was used; the committed one is CPython 3.11.7).

Rules (all deterministic):

1. Skip any path with a component ``site-packages``, ``dist-packages``, ``__pycache__``,
   ``test``, ``tests``, ``idle_test`` (CPython's test suite, lib2to3/tkinter/unittest/ctypes/
   distutils/idlelib tests), any file named ``test_*.py`` or ``*_test.py``, generated or data-only
   modules (``encodings/`` charmap tables, ``pydoc_data/``, ``_sysconfigdata_*``, ``config-*``
   build folders, ``__phello__``), files that are not valid UTF-8, empty files, and files larger
   than ``MAX_FILE_BYTES`` (keeps the file-level splits fine-grained).
2. Order the remaining files by ``sha256(relative path)`` and take them in that order while the
   total stays under ``TARGET_BYTES`` (a file that would overshoot is skipped, smaller later ones
   may still fit). The snapshot lists the chosen files sorted by path.
3. Split by whole files: order the chosen files by ``sha256("split:" + path)``; give files to
   ``test`` until it holds at least 5% of the bytes, then to ``valid`` until it holds 5%, and the
   rest to ``train`` (about 90/5/5 by characters).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import lzma
import platform
import sys
import sysconfig
from pathlib import Path

TARGET_BYTES = 3_000_000
MAX_FILE_BYTES = 120_000
SPLIT_FRACTIONS = {"test": 0.05, "valid": 0.05}
SKIP_PARTS = {"site-packages", "dist-packages", "__pycache__", "test", "tests", "idle_test",
              "encodings", "pydoc_data", "__phello__"}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def allowed(rel: Path) -> bool:
    """Whether a stdlib file (path relative to the stdlib folder) may enter the snapshot."""
    if any(part in SKIP_PARTS or part.startswith("config-") for part in rel.parts):
        return False
    name = rel.name
    return not (name.startswith(("test_", "_sysconfigdata_")) or name.endswith("_test.py"))


def _dumps(manifest: dict) -> str:
    """JSON with one line per file entry (readable diffs, small file)."""
    head = json.dumps({k: v for k, v in manifest.items() if k != "files"}, indent=1)
    rows = ",\n".join("  " + json.dumps(f) for f in manifest["files"])
    return head[:-2] + ',\n "files": [\n' + rows + "\n ]\n}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "data")
    args = parser.parse_args()
    root = Path(sysconfig.get_paths()["stdlib"])
    candidates: dict[str, bytes] = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if not allowed(rel) or not path.is_file():
            continue
        data = path.read_bytes()
        if not data or len(data) > MAX_FILE_BYTES:
            continue
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        candidates[rel.as_posix()] = data

    chosen: list[str] = []
    total = 0
    for rel in sorted(candidates, key=lambda r: _sha(r.encode())):
        size = len(candidates[rel])
        if total + size <= TARGET_BYTES:
            chosen.append(rel)
            total += size
    chosen.sort()

    split_of = dict.fromkeys(chosen, "train")
    filled = dict.fromkeys(SPLIT_FRACTIONS, 0)
    order = sorted(chosen, key=lambda r: _sha(("split:" + r).encode()))
    for rel in order:
        for split, fraction in SPLIT_FRACTIONS.items():
            if filled[split] < fraction * total:
                split_of[rel] = split
                filled[split] += len(candidates[rel])
                break

    blob = b"".join(candidates[rel] for rel in chosen)
    files = []
    offset = 0
    for rel in chosen:
        data = candidates[rel]
        files.append({"path": rel, "offset": offset, "bytes": len(data), "sha256": _sha(data),
                      "split": split_of[rel]})
        offset += len(data)
    manifest = {
        "format": "indrnn-text-snapshot",
        "version": 1,
        "name": "cpython_stdlib",
        "source": "CPython standard library *.py files (sysconfig.get_paths()['stdlib'])",
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "python_build": " ".join(platform.python_build()),
        "license": "Python Software Foundation License (PSF-2.0), CPython source files",
        "archive": "cpython_stdlib.txt.xz",
        "encoding": "utf-8",
        "total_bytes": len(blob),
        "sha256": _sha(blob),
        "rules": {"target_bytes": TARGET_BYTES, "max_file_bytes": MAX_FILE_BYTES,
                  "skip_parts": sorted(SKIP_PARTS),
                  "skip_names": ["test_*.py", "*_test.py", "_sysconfigdata_*", "config-*/"],
                  "selection": "sha256(relative path) order, greedy up to target_bytes",
                  "split": "sha256('split:' + path) order; test then valid to >= 5% of bytes"},
        "splits": {s: {"files": sum(f["split"] == s for f in files),
                       "bytes": sum(f["bytes"] for f in files if f["split"] == s)}
                   for s in ("train", "valid", "test")},
        "files": files,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "cpython_stdlib.txt.xz").write_bytes(
        lzma.compress(blob, preset=9 | lzma.PRESET_EXTREME))
    (args.out / "cpython_stdlib.json").write_text(_dumps(manifest))
    print(f"{len(chosen)} files, {len(blob)} bytes from {root} (Python {sys.version.split()[0]})")
    print(json.dumps(manifest["splits"]))


if __name__ == "__main__":
    main()
