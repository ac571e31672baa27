"""Write ``examples/``: real held-out sequences of every task, in each format the app accepts.

Usage: ``python scripts/make_examples.py [--out DIR]`` (default ``examples/`` at the repository
root). Everything is taken from the **test** split of the task loaders (:mod:`indrnn.data`) at
fixed indices, so rerunning the script with the same data and package versions writes the same
bytes. Besides the example files it writes ``index.json`` (one entry per file: task, format,
label or target, split, index, ``task_kwargs`` for ``indrnn.data.load_task``) and ``README.md``.

Formats:

* CSV: a header row of channel names (``task.info.channel_names``), then one row per step, one
  column per channel; values are float32 written with the fewest digits that read back exactly.
* NPY: one sequence, float32 ``(T, C)``.
* NPZ: ``inputs`` float32 ``(N, T, C)``, ``targets`` (int64 ``(N,)`` class indices, or float32
  ``(N, 1)`` for the adding problem) and, for variable-length tasks, ``lengths`` int64 ``(N,)``;
  written with ``np.savez_compressed``, no pickled objects.
* PNG: 28 x 28 grayscale (mode ``L``), the original 0..255 pixels.
* TXT: plain UTF-8 text cut at line boundaries from a held-out source file.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from indrnn.data import DataError, load_task  # noqa: E402
from indrnn.data.text import load_snapshot  # noqa: E402

INDEX_FORMAT, INDEX_VERSION = "indrnn-examples", 1
# Fixed choices (test-split indices); see the README that this script writes.
ADDING = {1000: {"single": 0, "batch": (0, 1, 2, 3)}, 5000: {"single": 0}}
ADDING_TEST_SIZE = 1000  #: the size of the fixed test set the models are scored on
MNIST5K = (307, 512, 791)  #: digits 3, 5 and 7
FASHION = (0, 1)  #: an ankle boot and a pullover
BASICMOTIONS = (10, 30)  #: Running and Badminton
JAPANESEVOWELS = (7, 200)  #: speaker 1 (29 steps, the longest) and speaker 5 (9 steps)
TEXT_FILES = ("imghdr.py", "sched.py")
KEY_ORDER = ("task", "format", "split", "index", "task_kwargs", "shape", "label", "class_name",
             "target")  #: index.json keys, in this order first
TEXT_CHARS = 3500  #: at most this many characters, whole lines, from the start of the file


def float_text(value: float) -> str:
    """A float32 with the fewest digits that parse back to the same float32."""
    return np.format_float_positional(np.float32(value), unique=True, trim="-")


def csv_bytes(values: np.ndarray, header: tuple[str, ...]) -> bytes:
    """``(T, C)`` values -> CSV text (header row, one row per step), ``\\n`` line ends."""
    if values.ndim != 2 or values.shape[1] != len(header):
        raise ValueError(f"values {values.shape} do not match header {header}")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in values:
        writer.writerow([float_text(v) for v in row])
    return buffer.getvalue().encode("ascii")


def npy_bytes(values: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(values, dtype=np.float32), allow_pickle=False)
    return buffer.getvalue()


def npz_bytes(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return _fixed_zip_times(buffer.getvalue())


def _fixed_zip_times(data: bytes) -> bytes:
    """Rewrite a zip archive with a fixed timestamp on every member (byte-identical reruns)."""
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            target.writestr(fixed, source.read(info.filename))
    return out.getvalue()


def png_bytes(image: np.ndarray) -> bytes:
    from PIL import Image

    if image.shape != (28, 28) or image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 28 x 28 image, got {image.dtype} {image.shape}")
    buffer = io.BytesIO()
    Image.fromarray(image, mode="L").save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def slug(text: str) -> str:
    """``"T-shirt/top"`` -> ``"t-shirt-top"``, ``"Ankle boot"`` -> ``"ankle-boot"``."""
    out = "".join(c if c.isalnum() else "-" for c in text.lower())
    while "--" in out:
        out = out.replace("--", "-")
    return out.strip("-")


def line_cut(text: str, limit: int) -> str:
    """The longest prefix of whole lines (each ending in a newline) of at most ``limit`` chars."""
    if len(text) <= limit:
        return text
    end = text.rfind("\n", 0, limit)
    if end < 0:
        raise ValueError("no line ends within the limit")
    return text[: end + 1]


class Writer:
    """Collects example files and their index entries."""

    def __init__(self, out: Path):
        self.out = out
        self.files: dict[str, bytes] = {}
        self.entries: list[dict[str, Any]] = []

    def add(self, name: str, data: bytes, entry: dict[str, Any]) -> None:
        if name in self.files:
            raise ValueError(f"duplicate example file {name}")
        self.files[name] = data
        first = [k for k in KEY_ORDER if k in entry]
        self.entries.append({"file": name, **{k: entry[k] for k in first},
                             **{k: v for k, v in entry.items() if k not in first}})

    def write(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        for name, data in self.files.items():
            (self.out / name).write_bytes(data)
        index = {"format": INDEX_FORMAT, "version": INDEX_VERSION,
                 "made_by": "scripts/make_examples.py", "examples": self.entries}
        (self.out / "index.json").write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")
        (self.out / "README.md").write_text(readme(self.entries, self.files), encoding="utf-8")


def add_adding(writer: Writer) -> None:
    for seq_len, picks in ADDING.items():
        kwargs = {"seq_len": seq_len, "test_size": ADDING_TEST_SIZE}
        task = load_task("adding", **kwargs, valid_size=1)  # the valid set is a separate stream
        inputs, targets = task.test.inputs.numpy(), task.test.targets.numpy()
        names = list(task.info.channel_names)
        common = {"task": "adding", "split": "test", "task_kwargs": kwargs,
                  "channel_names": names, "values": "raw (as the task generates them)"}
        i = picks["single"]
        target = float(targets[i, 0])
        stem = f"adding_T{seq_len}_test{i:04d}"
        marked = [int(t) for t in np.flatnonzero(inputs[i, :, 1])]
        for fmt, data in (("csv", csv_bytes(inputs[i], tuple(names))),
                          ("npy", npy_bytes(inputs[i]))):
            writer.add(f"{stem}.{fmt}", data, {
                **common, "format": fmt, "index": i, "shape": list(inputs[i].shape),
                "target": target, "marked_steps": marked})
        if "batch" in picks:
            rows = list(picks["batch"])
            writer.add(f"adding_T{seq_len}_test{rows[0]:04d}-{rows[-1]:04d}.npz",
                       npz_bytes(inputs=inputs[rows], targets=targets[rows]), {
                           **common, "format": "npz", "index": rows,
                           "shape": list(inputs[rows].shape),
                           "target": [float(t) for t in targets[rows, 0]]})


def add_mnist5k(writer: Writer) -> None:
    task = load_task("mnist5k")
    inputs, labels = task.test.inputs.numpy(), task.test.targets.numpy()
    rows = list(MNIST5K)
    source_rows = [int(r) for r in task.extras["test_idx"][rows]]
    common = {"task": "mnist5k", "split": "test", "task_kwargs": {},
              "class_names": list(task.info.class_names)}
    for i, source in zip(rows, source_rows):
        image = np.rint(inputs[i, :, 0] * 255.0).astype(np.uint8).reshape(28, 28)
        writer.add(f"mnist5k_test{i:04d}_label{labels[i]}.png", png_bytes(image), {
            **common, "format": "png", "index": i, "source_row": source, "shape": [28, 28],
            "label": int(labels[i]), "class_name": task.info.class_names[labels[i]],
            "values": "uint8 pixels 0..255 (the model input is pixel / 255, row-major)"})
    scaled = "pixel / 255 in [0, 1], row-major (784 steps x 1 channel), as the task's inputs"
    first = rows[0]
    writer.add(f"mnist5k_test{first:04d}_label{labels[first]}.csv",
               csv_bytes(inputs[first], task.info.channel_names), {
                   **common, "format": "csv", "index": first, "source_row": source_rows[0],
                   "shape": list(inputs[first].shape), "label": int(labels[first]),
                   "class_name": task.info.class_names[labels[first]],
                   "channel_names": list(task.info.channel_names), "values": scaled})
    writer.add("mnist5k_test_3digits.npz", npz_bytes(inputs=inputs[rows], targets=labels[rows]), {
        **common, "format": "npz", "index": rows, "source_row": source_rows,
        "shape": list(inputs[rows].shape), "label": [int(labels[i]) for i in rows],
        "class_name": [task.info.class_names[labels[i]] for i in rows], "values": scaled})


def add_fashion(writer: Writer) -> None:
    try:
        task = load_task("fashion_mnist", num_valid=0)
    except DataError as error:  # the Debian package's files are missing
        print(f"skipping fashion_mnist: {error}", file=sys.stderr)
        return
    inputs, labels = task.test.inputs.numpy(), task.test.targets.numpy()
    for i in FASHION:
        name = task.info.class_names[labels[i]]
        image = np.rint(inputs[i, :, 0] * 255.0).astype(np.uint8).reshape(28, 28)
        writer.add(f"fashion_mnist_test{i:04d}_{slug(name)}.png", png_bytes(image), {
            "task": "fashion_mnist", "format": "png", "split": "test", "index": i,
            "task_kwargs": {}, "shape": [28, 28], "label": int(labels[i]), "class_name": name,
            "class_names": list(task.info.class_names),
            "values": "uint8 pixels 0..255 (the model input is pixel / 255, row-major)"})


def add_text(writer: Writer) -> None:
    task = load_task("cpython_chars")
    files = task.files["test"]
    _, texts = load_snapshot(verify=False)  # load_task has just verified it
    offsets, offset = {}, 0
    for path in files:  # a split's stream is its files concatenated in this order
        offsets[path] = offset
        offset += len(texts[path])
    if offset != len(task.test):
        raise RuntimeError("test files do not add up to the test stream")
    for path in TEXT_FILES:
        text = line_cut(texts[path], TEXT_CHARS)
        unknown = int((task.vocab.encode(text) == task.vocab.unk_index).sum())
        writer.add(f"cpython_chars_test_{path.replace('/', '__')}.txt", text.encode("utf-8"), {
            "task": "cpython_chars", "format": "txt", "split": "test",
            "index": files.index(path), "task_kwargs": {}, "source_file": path,
            "char_start": 0, "char_end": len(text), "stream_offset": offsets[path],
            "lines": text.count("\n"), "unknown_symbols": unknown, "target": None,
            "values": "text; the target is the next character at every step"})


def add_sensors(writer: Writer, name: str, picks: tuple[int, ...]) -> None:
    task = load_task(name, normalize=False)
    inputs = task.test.inputs.numpy()
    labels, lengths = task.test.targets.numpy(), task.test.lengths.numpy()
    info = task.info
    common = {"task": name, "split": "test", "task_kwargs": {"normalize": False},
              "channel_names": list(info.channel_names), "class_names": list(info.class_names),
              "values": "raw, not normalised (the task standardises with training statistics "
                        "unless normalize=False)"}
    for i in picks:
        steps = inputs[i, : lengths[i]]
        stem = f"{name}_test{i:04d}_{slug(info.class_names[labels[i]])}"
        fmts = ("csv", "npy") if not info.variable_length else ("csv",)
        for fmt in fmts:
            data = csv_bytes(steps, info.channel_names) if fmt == "csv" else npy_bytes(steps)
            writer.add(f"{stem}.{fmt}", data, {
                **common, "format": fmt, "index": i, "shape": list(steps.shape),
                "length": int(lengths[i]), "label": int(labels[i]),
                "class_name": info.class_names[labels[i]]})
    if info.variable_length:
        rows = list(picks)
        writer.add(f"{name}_test_{len(rows)}seqs.npz",
                   npz_bytes(inputs=inputs[rows], targets=labels[rows], lengths=lengths[rows]), {
                       **common, "format": "npz", "index": rows,
                       "shape": list(inputs[rows].shape),
                       "length": [int(lengths[i]) for i in rows],
                       "label": [int(labels[i]) for i in rows],
                       "class_name": [info.class_names[labels[i]] for i in rows]})


def _label_text(entry: dict[str, Any]) -> str:
    if entry["task"] == "cpython_chars":
        return "next character at every step"
    if "target" in entry and entry["target"] is not None:
        target = entry["target"]
        values = target if isinstance(target, list) else [target]
        return "sum " + ", ".join(f"{v:.6f}" for v in values)
    labels, names = entry["label"], entry["class_name"]
    if isinstance(labels, list):
        return ", ".join(f"{lab} ({n})" for lab, n in zip(labels, names))
    return f"{labels} ({names})"


def _where(entry: dict[str, Any]) -> str:
    index = entry["index"]
    where = (f"test {', '.join(map(str, index))}" if isinstance(index, list)
             else f"test {index}")
    if entry["task"] == "cpython_chars":
        where = (f"test file #{index} `{entry['source_file']}`, characters "
                 f"{entry['char_start']}..{entry['char_end']}")
    if "source_row" in entry:
        rows = entry["source_row"]
        rows = ", ".join(map(str, rows)) if isinstance(rows, list) else rows
        where += f" (row {rows} of data/mnist5k.npz)"
    return where


def readme(entries: list[dict[str, Any]], files: dict[str, bytes]) -> str:
    lines = [
        "# Example inputs",
        "",
        "Real held-out sequences to try the app with: every one is from the **test** split of "
        "its task (never seen in training or validation), at a fixed index. Written by "
        "`python scripts/make_examples.py`; do not edit by hand (rerunning it gives the same "
        "files). `index.json` lists the same in machine-readable form (`examples`: one entry per "
        "file with `file`, `task`, `format`, `label`/`target`, `split`, `index`, "
        "`task_kwargs` for `indrnn.data.load_task`, `shape`).",
        "",
        "| file | task | format | shape | label / target | from (split, index) | size |",
        "|---|---|---|---|---|---|---|",
    ]
    for entry in entries:
        shape = " × ".join(map(str, entry["shape"])) if "shape" in entry else "—"
        if entry["format"] == "txt":
            shape = f"{entry['char_end'] - entry['char_start']} chars, {entry['lines']} lines"
        lines.append(
            f"| `{entry['file']}` | {entry['task']} | {entry['format'].upper()} | {shape} | "
            f"{_label_text(entry)} | {_where(entry)} | {len(files[entry['file']]):,} B |")
    lines += [
        "",
        "## Formats",
        "",
        "- **CSV**: a header row of the task's channel names (`task.info.channel_names`), then "
        "one row per time step, one column per channel. Values are float32 written with the "
        "fewest digits that read back to the same float32.",
        "- **NPY**: one sequence, float32 `(T, C)`.",
        "- **NPZ** (`np.savez_compressed`, loads with `allow_pickle=False`): `inputs` float32 "
        "`(N, T, C)`; `targets` int64 `(N,)` class indices, or float32 `(N, 1)` for the adding "
        "problem (as the loaders return them); `lengths` int64 `(N,)` for variable-length "
        "tasks, the steps past a sequence's length being 0.",
        "- **PNG**: 28 × 28 grayscale (mode `L`), the original 0–255 pixels; the class is in "
        "the file name.",
        "- **TXT**: UTF-8 source text, whole lines from the start of a held-out file.",
        "",
        "## Values and provenance",
        "",
        "- **adding**: the fixed test set of `load_task(\"adding\", seq_len=T, test_size=1000)` "
        "(seed 0, stream 2: the set the adding models are scored on; the test set does not "
        "depend on `valid_size`). Channel `value` is U(0, 1), channel `marker` is 1 at exactly "
        "two steps; the target is the sum of the two marked values. Values as generated, no "
        "normalisation.",
        "- **mnist5k**: test split (1,000 digits) of `data/mnist5k.npz` (`task_kwargs` `{}`; "
        "the recipes' `num_valid=400` carves validation digits out of the training split, so "
        "the test split is the same). The PNG is the original 0–255 image; the CSV and NPZ hold "
        "the task's model input, **pixel / 255** in [0, 1], 784 steps × 1 channel in row-major "
        "order (the permuted tasks reorder these pixels with `pixel_permutation(0)`; the files "
        "here are in natural order).",
        "- **fashion_mnist**: the official 10,000-image test set of the Debian package "
        "`dataset-fashion-mnist`; original 0–255 images.",
        "- **cpython_chars**: whole lines from the start of test-split files of the CPython "
        "3.11.7 standard-library snapshot (`data/cpython_stdlib.*`, PSF licence); every "
        "character is in the task's 98-symbol vocabulary. `index` is the file's position in "
        "the test split's file list; `stream_offset` is where the file starts in "
        "`load_task(\"cpython_chars\").test`.",
        "- **basicmotions**, **japanesevowels**: official UEA test split, **raw, not "
        "normalised** (`load_task(name, normalize=False)`), because an app user uploads raw "
        "sensor values. The task loaders standardise by default with per-channel training "
        "mean and standard deviation (`task.extras[\"mean\"]`, `[\"std\"]` of "
        "`load_task(name)`); apply those before feeding a model trained on normalised data. "
        "JapaneseVowels sequences have their own lengths: the CSV holds only the real steps; "
        "the NPZ pads to the task's 29 steps with zeros and gives `lengths`.",
        "",
    ]
    total = sum(len(d) for d in files.values())
    lines.append(f"{len(files)} example files, {total:,} bytes in all (plus this README and "
                 "`index.json`).")
    lines.append("")
    return "\n".join(lines)


def build(out: Path) -> Writer:
    writer = Writer(out)
    add_adding(writer)
    add_mnist5k(writer)
    add_fashion(writer)
    add_text(writer)
    add_sensors(writer, "basicmotions", BASICMOTIONS)
    add_sensors(writer, "japanesevowels", JAPANESEVOWELS)
    return writer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "examples",
                        help="folder to write (default: examples/ at the repository root)")
    args = parser.parse_args(argv)
    writer = build(args.out)
    writer.write()
    total = sum(p.stat().st_size for p in args.out.iterdir() if p.is_file())
    print(f"wrote {len(writer.files)} examples + index.json + README.md to {args.out} "
          f"({total:,} bytes)")


if __name__ == "__main__":
    main()
