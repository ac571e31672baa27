"""Convert BasicMotions and JapaneseVowels (UEA archive ``.ts`` files) into small ``.npz`` files.

Run once. The ``.ts`` files ship inside the PyPI packages ``aeon`` and ``sktime`` (under
``<package>/datasets/data/<Name>/``), which the project itself does not depend on; use a throwaway
virtual environment::

    python3 -m venv /tmp/convenv && /tmp/convenv/bin/pip install aeon      # or sktime
    /tmp/convenv/bin/python scripts/convert_sensors.py

The ``.ts`` text is parsed here (header checked: problem name, dimensions, equal length, series
length, class labels); when ``aeon`` is importable the result is also compared with
``aeon.datasets.load_from_ts_file``. Writes ``data/basicmotions.npz`` and
``data/japanesevowels.npz`` (``np.savez_compressed``, loads with ``allow_pickle=False``):

* ``x_train``, ``x_test``: float32 (N, T_max, C), batch-first, time-major within a sample;
  steps past a sample's length are 0 (padding);
* ``lengths_train``, ``lengths_test``: int64 (N,), the number of real steps of each sample;
* ``y_train``, ``y_test``: int64 (N,), class index into ``class_names``;
* ``class_names``, ``channel_names``: unicode arrays;
* ``provenance``: a JSON string (package, version, files and their sha256, header comment).

The official train/test splits of the archive are kept as they are, in file order.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
from importlib.metadata import version
from pathlib import Path

import numpy as np

DATASETS = {
    "BasicMotions": {
        "out": "basicmotions.npz",
        "channel_names": ["accelerometer_x", "accelerometer_y", "accelerometer_z",
                          "gyroscope_x", "gyroscope_y", "gyroscope_z"],
        "channel_note": ("dimension order of the UEA archive description: 3-D accelerometer "
                         "(dimensions 1-3) then 3-D gyroscope (4-6) of a smart watch, 10 Hz, 10 s"),
        "class_names": None,  # the .ts header's @classLabel order
    },
    "JapaneseVowels": {
        "out": "japanesevowels.npz",
        "channel_names": [f"lpc_cepstrum_{i}" for i in range(1, 13)],
        "channel_note": "12 LPC cepstrum coefficients per analysis frame (UCI description)",
        "class_names": [f"speaker_{i}" for i in range(1, 10)],
    },
}


def find_package() -> tuple[str, Path]:
    """The first of aeon / sktime that is installed, and its ``datasets/data`` folder."""
    for name in ("aeon", "sktime"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        return name, Path(module.__file__).parent / "datasets" / "data"
    raise SystemExit("install aeon or sktime (pip install aeon) to convert the .ts files")


def parse_ts(path: Path) -> dict:
    """Parse a multivariate ``.ts`` file: header fields, comment and cases (C, T_i) + labels."""
    header: dict[str, str] = {}
    comment: list[str] = []
    cases: list[np.ndarray] = []
    labels: list[str] = []
    in_data = False
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            continue
        if not in_data:
            if line.startswith("#"):
                comment.append(line[1:].strip())
            elif line.lower() == "@data":
                in_data = True
            elif line.startswith("@"):
                key, _, value = line[1:].partition(" ")
                header[key.lower()] = value.strip()
            continue
        *dims, label = line.split(":")
        rows = [np.array([float(v) for v in d.split(",")], dtype=np.float64) for d in dims]
        if len({len(r) for r in rows}) != 1:
            raise SystemExit(f"{path}: dimensions of one case differ in length")
        cases.append(np.stack(rows))
        labels.append(label.strip())
    return {"header": header, "comment": " ".join(c for c in comment if c), "cases": cases,
            "labels": labels}


def check_header(path: Path, name: str, parsed: dict) -> list[str]:
    """Check the header against the cases; return the declared class labels in order."""
    h, cases = parsed["header"], parsed["cases"]
    if h.get("problemname") != name or h.get("univariate") != "false":
        raise SystemExit(f"{path}: not the multivariate problem {name}: {h}")
    dims = int(h["dimensions"])
    if any(c.shape[0] != dims for c in cases):
        raise SystemExit(f"{path}: a case does not have {dims} dimensions")
    if h["equallength"] == "true" and any(c.shape[1] != int(h["serieslength"]) for c in cases):
        raise SystemExit(f"{path}: a case is not {h['serieslength']} steps long")
    if not all(np.isfinite(c).all() for c in cases):
        raise SystemExit(f"{path}: missing or non-finite values")
    flag, *declared = h["classlabel"].split()
    if flag != "true":
        raise SystemExit(f"{path}: no class labels")
    return declared


def convert(name: str, spec: dict, package: str, folder: Path, out_dir: Path) -> Path:
    """Convert one data set; return the written path."""
    arrays: dict[str, np.ndarray] = {}
    files = {}
    declared: list[str] = []
    comment = ""
    for split in ("train", "test"):
        path = folder / name / f"{name}_{split.upper()}.ts"
        parsed = parse_ts(path)
        declared = check_header(path, name, parsed)
        comment = parsed["comment"]
        index = {label.lower(): i for i, label in enumerate(declared)}
        if any(label.lower() not in index for label in parsed["labels"]):
            raise SystemExit(f"{path}: labels outside the declared {declared}")
        class_names = spec["class_names"] or declared
        lengths = np.array([c.shape[1] for c in parsed["cases"]], dtype=np.int64)
        x = np.zeros((len(lengths), int(lengths.max()), len(spec["channel_names"])), np.float32)
        for i, case in enumerate(parsed["cases"]):
            x[i, : case.shape[1]] = case.T
        arrays[f"x_{split}"] = x
        arrays[f"lengths_{split}"] = lengths
        arrays[f"y_{split}"] = np.array([index[label.lower()] for label in parsed["labels"]],
                                        dtype=np.int64)
        files[f"{package}/datasets/data/{name}/{path.name}"] = hashlib.sha256(
            path.read_bytes()).hexdigest()
        cross_check(path, parsed)
    provenance = {
        "dataset": name,
        "archive": "UEA & UCR time series classification archive (timeseriesclassification.com)",
        "description": comment,
        "package": package,
        "package_version": version(package),
        "files_sha256": files,
        "class_labels_in_file": declared,
        "channels": spec["channel_note"],
        "storage": "float32 (N, T_max, C) batch-first, zero-padded past lengths; official split",
        "script": "scripts/convert_sensors.py",
    }
    out = out_dir / spec["out"]
    np.savez_compressed(out, **arrays, class_names=np.array(class_names),
                        channel_names=np.array(spec["channel_names"]),
                        provenance=np.array(json.dumps(provenance)))
    return out


def cross_check(path: Path, parsed: dict) -> None:
    """Compare with aeon's own reader when aeon is installed."""
    try:
        from aeon.datasets import load_from_ts_file
    except ImportError:
        return
    x, y = load_from_ts_file(str(path))
    if [str(v).lower() for v in y] != [v.lower() for v in parsed["labels"]] or len(x) != len(
            parsed["cases"]):  # aeon lower-cases labels
        raise SystemExit(f"{path}: aeon reads different labels or counts")
    for theirs, ours in zip(x, parsed["cases"]):
        if not np.array_equal(np.asarray(theirs, dtype=np.float64), ours):
            raise SystemExit(f"{path}: aeon reads different values")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "data")
    args = parser.parse_args()
    package, folder = find_package()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, spec in DATASETS.items():
        out = convert(name, spec, package, folder, args.out)
        with np.load(out) as d:
            print(f"{out} ({out.stat().st_size} bytes): train {d['x_train'].shape}, "
                  f"test {d['x_test'].shape}, classes {list(d['class_names'])}, lengths "
                  f"{d['lengths_train'].min()}..{d['lengths_train'].max()} / "
                  f"{d['lengths_test'].min()}..{d['lengths_test'].max()}")


if __name__ == "__main__":
    main()
