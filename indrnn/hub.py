"""Share a checkpoint in the Hugging Face hub layout, and recognise such a folder.

``export_hub("models/adding1000_indrnn", "out/adding1000_indrnn")`` writes a folder that can be
pushed to the hub as it is::

    out/adding1000_indrnn/
        model.safetensors   the weights, a byte-identical copy
        config.json         the checkpoint's JSON (format, version, architecture, config, dtype,
                            tensors, sha256 of model.safetensors, card): all that load needs
        README.md           a model card: YAML front matter (license, library_name, tags,
                            datasets, metrics, model-index), then the card in prose

:func:`indrnn.load` takes the folder (``indrnn.load("out/adding1000_indrnn")``) and checks it
exactly as it checks ``models/NAME``: JSON, registry, shapes, limits, digest. Both files must be
plain files: a symbolic link is refused, so a shared folder can never point at a file elsewhere.
Nothing is downloaded, unpickled or imported from the folder.

From the command line: ``python -m indrnn.hub models/NAME OUT/ [--overwrite]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from indrnn import catalog
from indrnn.checkpoint import (
    FORMAT,
    HUB_CONFIG,
    HUB_WEIGHTS,
    MAX_JSON_BYTES,
    CheckpointError,
    _fail,
    _locate,
    _parse,
    _read,
    _temp,
    load,
)

__all__ = ["CONFIG", "README", "WEIGHTS", "export_hub", "hub_files", "is_hub_folder",
           "main", "model_card"]

CONFIG, WEIGHTS, README = HUB_CONFIG, HUB_WEIGHTS, "README.md"  #: a hub folder's files
DEFAULT_LICENSE = "mit"  #: the project's own licence, for cards that name none
#: the model-index task type, by the task's output kind
TASK_TYPES = {"regression": "sequence-regression",
              "classification_last_step": "sequence-classification",
              "per_step_lm": "text-generation"}
FINDINGS_SHOWN = 3  #: claims quoted in README.md (all of them stay in config.json)
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_PLAIN_VALUE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}  # not strings there


def hub_files(folder: str | os.PathLike, shown_as: str | None = None) -> tuple[Path, Path]:
    """``config.json`` and ``model.safetensors`` of a hub folder, each checked to be a plain file.

    Parameters
    ----------
    folder : str or PathLike
        The folder.
    shown_as : str, optional
        What to call the folder in error messages instead of its path.

    Returns
    -------
    (Path, Path)
        The JSON and the weights.

    Raises
    ------
    CheckpointError
        The folder is not one, or a file is missing, a symbolic link or not a regular file
        (``README.md`` may be missing, but if present it must be a plain file too).
    """
    folder = Path(folder)
    name = shown_as or str(folder)
    if not folder.is_dir():
        _fail(name, "folder", "a folder holding config.json and model.safetensors",
              "no such folder")
    for file in (CONFIG, WEIGHTS, README):
        _check_plain(folder / file, f"{name}/{file}", required=file != README)
    return folder / CONFIG, folder / WEIGHTS


def is_hub_folder(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder holding plain files ``config.json`` and ``model.safetensors``
    whose JSON says it is an indrnn checkpoint (only the format is read; :func:`indrnn.load`
    checks the rest)."""
    try:
        config, _ = hub_files(path)
        document = _parse(str(config), _read(config, MAX_JSON_BYTES, whole=True))
    except CheckpointError:
        return False
    return document.get("format") == FORMAT


def export_hub(source: str | os.PathLike, out: str | os.PathLike, *,
               overwrite: bool = False) -> Path:
    """Write the checkpoint ``source`` into the folder ``out`` in the Hugging Face hub layout.

    ``source`` is loaded (and so fully checked) first; the folder is loaded again at the end,
    so what is written passes :func:`indrnn.load` or this raises.

    Parameters
    ----------
    source : str or PathLike
        ``models/NAME`` (with or without ``.json`` / ``.safetensors``), or a hub folder.
    out : str or PathLike
        The folder to write; created if missing.
    overwrite : bool
        Write into a folder that is not empty: ``config.json``, ``model.safetensors`` and
        ``README.md`` are replaced (never written through a symbolic link), other files kept.

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    CheckpointError
        ``source`` fails :func:`indrnn.load`, ``out`` is not empty (without ``overwrite``), is
        a file or a symbolic link, or a file cannot be written; the message names the file.
    """
    out = Path(out)
    load(source)
    json_path, weights_path, where, _ = _locate(source, None)
    text = _read(json_path, MAX_JSON_BYTES, whole=True)
    document = _parse(where, text)
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        _fail(str(out), "folder", "a folder or a path that does not exist",
              "a symbolic link" if out.is_symlink() else "a file")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        _fail(str(out), "folder", "an empty folder (or overwrite)",
              f"{len(list(out.iterdir()))} entries")
    name = document["card"].get("name")
    if not (isinstance(name, str) and name):  # a hub folder is named by its folder
        name = json_path.parent.name if json_path.name == CONFIG else json_path.stem
    readme = model_card(document, name, caveat=_caveat(json_path))
    temps: list[str] = []
    try:
        for file in (WEIGHTS, CONFIG, README):
            temps.append(_temp(out / file))  # one by one, so a failure leaves none behind
        shutil.copyfile(weights_path, temps[0])
        Path(temps[1]).write_bytes(text)
        Path(temps[2]).write_text(readme, encoding="utf-8")
        for temp in temps:
            with open(temp, "rb+") as handle:
                os.fsync(handle.fileno())
        # Weights first, JSON after: an interrupted export leaves digests that disagree.
        for temp, file in zip(temps, (WEIGHTS, CONFIG, README)):
            os.replace(temp, out / file)
    except OSError as exc:
        target = exc.filename or out
        raise CheckpointError(f"{target}: file: expected a writable file, found "
                              f"{exc.strerror or type(exc).__name__}") from exc
    finally:
        for temp in temps:
            Path(temp).unlink(missing_ok=True)
    load(out)
    return out


def model_card(document: dict[str, Any], name: str, caveat: str | None = None) -> str:
    """The ``README.md`` of a hub folder: YAML front matter, then the card in prose.

    Parameters
    ----------
    document : dict
        The checkpoint's JSON (as :func:`indrnn.load` checks it; the card's own fields are
        read defensively, as a stranger's card may lack any of them).
    name : str
        The model's name (the heading and the model-index entry).
    caveat : str, optional
        A sentence on why the model teaches less than it seems
        (:func:`indrnn.catalog.learning_note`), shown at the top.

    Returns
    -------
    str
        Markdown.
    """
    front = "\n".join(_yaml(_front_matter(document, name)))
    return f"---\n{front}\n---\n\n" + "\n".join(_prose(document, name, caveat)) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``indrnn export-hub models/NAME OUT/ [--overwrite]``: 0 on success, 2 on an error."""
    parser = argparse.ArgumentParser(
        prog="indrnn export-hub",
        description="Write a checkpoint as a Hugging Face hub folder (model.safetensors, "
                    "config.json, README.md) that indrnn.load reads back.")
    parser.add_argument("source", help="checkpoint: models/NAME (with or without a suffix)")
    parser.add_argument("out", help="folder to write (created; must be empty)")
    parser.add_argument("--overwrite", action="store_true",
                        help="write into a non-empty folder, replacing the three files")
    args = parser.parse_args(argv)
    try:
        out = export_hub(args.source, args.out, overwrite=args.overwrite)
    except CheckpointError as exc:
        print(f"indrnn export-hub: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out}/: {WEIGHTS}, {CONFIG}, {README}")
    return 0


def _check_plain(path: Path, shown_as: str, required: bool) -> None:
    try:
        mode = os.lstat(path).st_mode  # lstat: a link is reported, not followed
    except FileNotFoundError:
        if required:
            _fail(shown_as, "file", "a plain file", "none (missing)")
        return
    except OSError as exc:
        _fail(shown_as, "file", "a plain file", exc.strerror or type(exc).__name__)
    if stat.S_ISLNK(mode):
        _fail(shown_as, "file", "a plain file", "a symbolic link")
    if not stat.S_ISREG(mode):
        _fail(shown_as, "file", "a plain file", "not a regular file")


def _caveat(json_path: Path) -> str | None:
    """The catalog's learning note when ``source`` is a model listed in its folder."""
    if json_path.name == CONFIG:
        return None
    try:
        note = catalog.learning_note(json_path.stem, json_path.parent)
    except (KeyError, TypeError, ValueError, OSError):  # not listed, or a card it cannot read
        return None
    return note.text if note else None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _body(document: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The body's architecture and config (a SequenceModel's body, else the model itself)."""
    config = _mapping(document.get("config"))
    body = _mapping(config.get("body"))
    if isinstance(body.get("architecture"), str):
        return body["architecture"], _mapping(body.get("config"))
    return str(document.get("architecture")), config


def _test_metrics(card: dict[str, Any]) -> dict[str, float]:
    test = _mapping(_mapping(card.get("metrics")).get("test"))
    return {str(k): v for k, v in test.items()
            if isinstance(v, int | float) and not isinstance(v, bool)}


def _front_matter(document: dict[str, Any], name: str) -> dict[str, Any]:
    card = _mapping(document.get("card"))
    data = _mapping(card.get("data"))
    body, _ = _body(document)
    task = card.get("task") if isinstance(card.get("task"), str) else None
    kind = data.get("output_kind") if isinstance(data.get("output_kind"), str) else None
    family = "lstm" if body == "LSTM" else "indrnn"
    tags = ["indrnn", "recurrent-neural-network", task, family, body.lower(),
            TASK_TYPES.get(kind or ""), "safetensors"]
    dataset = data.get("name") if isinstance(data.get("name"), str) else task
    metrics = _test_metrics(card)
    license_ = card.get("license")
    front: dict[str, Any] = {
        "license": license_ if isinstance(license_, str) and license_ else DEFAULT_LICENSE,
        "library_name": "indrnn",
        "tags": list(dict.fromkeys(t for t in tags if t)),  # unique, in order
    }
    if dataset:
        front["datasets"] = [dataset]
    if metrics:
        front["metrics"] = [k for k in metrics if k != "loss"] or list(metrics)
        result: dict[str, Any] = {"task": {"type": TASK_TYPES.get(kind or "", "other")}}
        if task:
            result["task"]["name"] = task
        if dataset:
            result["dataset"] = {"name": dataset, "type": dataset, "split": "test"}
        result["metrics"] = [{"type": k, "value": v, "name": f"test {k}"}
                             for k, v in metrics.items()]
        front["model-index"] = [{"name": name, "results": [result]}]
    return front


def _prose(document: dict[str, Any], name: str, caveat: str | None) -> Iterator[str]:
    card = _mapping(document.get("card"))
    data, recipe = _mapping(card.get("data")), _mapping(card.get("recipe"))
    training = _mapping(card.get("training"))
    body, body_config = _body(document)
    tensors = _mapping(document.get("tensors"))
    parameters = sum(math.prod(_mapping(t).get("shape") or [0]) for t in tensors.values())
    task, kwargs = card.get("task", "—"), card.get("task_kwargs")
    kind = str(data.get("output_kind", "")).replace("_", " ")
    shape = ", ".join(k.replace("_", " ") + ("" if body_config[k] is True else
                                             f" {body_config[k]}") for k in (
        "num_layers", "num_blocks", "blocks", "hidden_size", "growth_rate", "nonlinearity",
        "batch_norm", "dropout", "bidirectional") if body_config.get(k) not in (None, False, 0))
    yield f"# {name}"
    yield ""
    yield (f"A `{document.get('architecture')}` whose body is `{body}` "
           f"({shape or 'see config.json'}), {parameters:,} parameters "
           f"({document.get('dtype')}), trained on the `{task}` task"
           + (f" ({kind})" if kind else "") + " with the `indrnn` library "
           "(Independently Recurrent Neural Networks, Li et al. 2018).")
    if caveat:
        yield from ("", f"> **Caveat.** {caveat}")
    yield from ("", "## Task and data", "", f"- task: `{task}`"
                + (f" with `{json.dumps(kwargs)}`" if kwargs else ""))
    for key in ("provenance", "preprocessing", "splits", "baseline", "layout", "class_names",
                "channel_names"):
        if data.get(key) not in (None, "", [], {}):
            value = data[key]
            value = json.dumps(value) if isinstance(value, dict | list) else value
            yield f"- {key.replace('_', ' ')}: {value}"
    yield from ("", "## Architecture", "",
                f"`{document.get('architecture')}`, body `{body}`; {parameters:,} parameters"
                + (f" (card: {card['parameters']:,})" if isinstance(card.get("parameters"), int)
                   and card["parameters"] != parameters else "") + ". Its config:", "")
    yield from _fenced(json.dumps(document.get("config"), indent=1), "json")
    if training or recipe:
        yield from ("", "## Training", "")
        facts = [f"{training['steps']} steps" if "steps" in training else "",
                 f"batch {training['batch_size']}" if "batch_size" in training else ""]
        facts += [_duration(training.get("wall_time_s")),
                  f"on {training['hardware']}" if "hardware" in training else "",
                  f"seed {training['seed']}" if "seed" in training else "",
                  f"recipe `{recipe['name']}`" if "name" in recipe else ""]
        if any(facts):
            yield "- " + ", ".join(f for f in facts if f)
        start = _mapping(training.get("initialised_from"))
        if start.get("path"):
            yield f"- started from `{start['path']}`"
        if training.get("command"):
            yield from ("", "Command:", "")
            yield from _fenced(str(training["command"]), "bash")
        if recipe.get("why"):
            yield from ("", f"Why this recipe: {recipe['why']}")
    metrics = _test_metrics(card)
    yield from ("", "## Metrics", "")
    if metrics:
        yield from ("On the test split:", "", "| metric | value |", "|---|---:|")
        yield from (f"| {k} | {v:.4g} |" for k, v in metrics.items())
    else:
        yield "No test metrics recorded."
    claims = [f["claim"] for f in card.get("findings") or []
              if isinstance(f, dict) and isinstance(f.get("claim"), str)]
    if claims:
        who = "units" if body == "LSTM" else "neurons"
        yield from ("", "## Findings", "", f"What its {who} do (discovered on the validation "
                    "split, measured on the test split):", "")
        yield from (f"{k}. {claim}" for k, claim in enumerate(claims[:FINDINGS_SHOWN], 1))
        if len(claims) > FINDINGS_SHOWN:
            yield from ("", f"All {len(claims)} findings are in `config.json` "
                        "(`card.findings`).")
        if card.get("findings_command"):
            yield from ("", f"Reproduce: `{card['findings_command']}`.")
    if card.get("paper"):
        yield from ("", "## Paper", "", str(card["paper"]))
    yield from ("", "## How to load", "",
                "From a local copy of this folder, with the `indrnn` library (no pickle: the "
                "JSON is checked, only registered classes are built, and the weights must match "
                "the digest in `config.json`):",
                "")
    yield from _fenced('import indrnn\n\ncheckpoint = indrnn.load("path/to/this/folder")\n'
                       "model, card = checkpoint.model, checkpoint.card  # eval mode", "python")


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return ""
    return f"{seconds:.3g} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _fenced(text: str, language: str) -> Iterator[str]:
    """A code block whose fence is longer than any run of backticks in ``text``."""
    fence = "`" * max(3, 1 + max((len(r) for r in re.findall(r"`+", text)), default=0))
    yield f"{fence}{language}"
    yield from text.splitlines()
    yield fence


def _yaml(value: Any, indent: int = 0) -> Iterator[str]:
    """Block-style YAML of JSON data; scalars are written as JSON, which YAML reads."""
    pad = " " * indent
    if isinstance(value, dict):
        for key, item in value.items():
            key = key if _PLAIN_KEY.match(key) else json.dumps(key, ensure_ascii=False)
            if isinstance(item, dict | list) and item:
                yield f"{pad}{key}:"
                yield from _yaml(item, indent + 2)
            else:
                yield f"{pad}{key}: {_scalar(item)}"
    else:
        for item in value:
            if isinstance(item, dict | list) and item:
                lines = list(_yaml(item, indent + 2))
                yield f"{pad}- {lines[0].lstrip()}"
                yield from lines[1:]
            else:
                yield f"{pad}- {_scalar(item)}"


def _scalar(value: Any) -> str:
    if isinstance(value, float):
        text = repr(value)
        # YAML 1.1 (PyYAML) reads 1e-05 as a string: its floats need a dot.
        return text.replace("e", ".0e", 1) if "e" in text and "." not in text else text
    if isinstance(value, str) and _PLAIN_VALUE.match(value) and (
            value.lower() not in _YAML_WORDS):
        return value  # plain, as the hub's own cards write it
    return json.dumps(value, ensure_ascii=False)


if __name__ == "__main__":
    raise SystemExit(main())
