"""The models the app lists: the pretrained ones in ``models/``, the folders a user adds, their
cards, and the LSTM trained beside each IndRNN.

A user adds folders with ``indrnn app --models DIR`` or the environment variable
``INDRNN_MODELS`` (folders separated by ``os.pathsep``). A folder holds checkpoints as
``NAME.json`` + ``NAME.safetensors`` (:func:`indrnn.save`), or as hub folders ``NAME/`` with
``config.json`` + ``model.safetensors`` (:mod:`indrnn.hub`). Names come only from the folders' own
listings, so a name typed into the app or a URL can never reach another file; symbolic links
are never followed. What cannot be listed (a missing folder, a file that is no checkpoint, a
name listed twice) is reported by :func:`problems`, and the other models are still listed.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from indrnn import registry
from indrnn.assets import models_dir
from indrnn.checkpoint import (
    FORMAT,
    HUB_CONFIG,
    HUB_WEIGHTS,
    MAX_JSON_BYTES,
    Checkpoint,
    load,
)

EXTRA_MODELS_ENV = "INDRNN_MODELS"  #: more folders of models, separated by ``os.pathsep``
MAX_FOLDER_ENTRIES = 2000  #: entries of one added folder that are looked at
MAX_FOLDER_NAMES = 100_000  #: names of one folder read to sort them (the rest are not seen)
_NAME = re.compile(r"^[A-Za-z0-9_]+$")


@dataclass(frozen=True)
class ModelEntry:
    """One listed model as its card describes it (weights not loaded)."""

    name: str
    task: str | None  #: the card's task; ``None`` for a model saved without one
    task_kwargs: dict[str, Any]
    kind: str  # "indrnn", "lstm", "res21", ...: what follows the last "_" in the name
    body: str  # the body's architecture: IndRNN, PlainIndRNN, ResIndRNN, LSTM, ...
    parameters: int
    metrics: dict[str, float]
    card: dict[str, Any]
    path: Path | None = None  #: what :func:`load_model` loads: ``folder/NAME`` or a hub folder

    @property
    def is_lstm(self) -> bool:
        return self.body == "LSTM"

    @property
    def title(self) -> str:
        """A short label for menus, e.g. ``adding1000_indrnn — IndRNN, MSE 0.0041``."""
        metric = ", ".join(f"{k} {v:.4g}" for k, v in self.metrics.items() if k != "loss")
        return f"{self.name} — {self.body}" + (f", {metric}" if metric else (
            "" if self.task else ", no task"))


class _NotListedError(ValueError):
    """Why a file in a folder of models is not listed."""


def _document(path: Path) -> dict[str, Any]:
    if path.stat().st_size > MAX_JSON_BYTES:
        raise _NotListedError(f"{path.stat().st_size:,} bytes, over the {MAX_JSON_BYTES:,} limit")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise _NotListedError(f"not valid JSON ({error})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise _NotListedError(f"not an indrnn checkpoint (no \"format\": \"{FORMAT}\")")
    problems = [f"{field} must be an object" for field in ("config", "card", "tensors")
                if not isinstance(document.get(field, {}), dict)]
    if document.get("architecture") not in registry.registered():
        problems.append(f"architecture {str(document.get('architecture'))[:40]!r} is not "
                        f"registered (known: {', '.join(registry.registered())})")
    if problems:
        raise _NotListedError("; ".join(problems))
    return document


def _entry(name: str, path: Path, document: dict[str, Any]) -> ModelEntry:
    card, config = document.get("card") or {}, document.get("config") or {}
    body = config.get("body") if document["architecture"] == "SequenceModel" else None
    architecture = body.get("architecture") if isinstance(body, dict) else None
    counted = sum(math.prod(t.get("shape", [])) for t in document.get("tensors", {}).values()
                  if isinstance(t, dict) and isinstance(t.get("shape"), list))
    try:
        metrics = {k: float(v) for k, v in ((card.get("metrics") or {}).get("test") or {}
                                             ).items()}
        task = card.get("task")
        return ModelEntry(
            name=name, task=task if isinstance(task, str) else None,
            task_kwargs=dict(card.get("task_kwargs") or {}), kind=name.rpartition("_")[2],
            body=str(architecture or document["architecture"]),
            parameters=int(card.get("parameters") or counted), metrics=metrics, card=card,
            path=path)
    except (ValueError, TypeError, AttributeError) as error:
        raise _NotListedError(f"card fields of the wrong type ({error})") from None


def _plain_file(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


@cache
def _catalog(folder: Path, modified: int) -> tuple[dict[str, ModelEntry], tuple[str, ...]]:
    # `modified` (the folder's mtime) is part of the cache key: a new model shows up at once.
    found: dict[str, ModelEntry] = {}
    problems: list[str] = []
    # Names only (no stat) are cheap: sort up to MAX_FOLDER_NAMES of them, so the first entries
    # looked at are the same on every machine, and look at MAX_FOLDER_ENTRIES.
    entries = sorted(itertools.islice(folder.iterdir(), MAX_FOLDER_NAMES))
    if len(entries) > MAX_FOLDER_ENTRIES:
        problems.append(f"{folder}: more than {MAX_FOLDER_ENTRIES:,} entries; only the first "
                        f"{MAX_FOLDER_ENTRIES:,} were looked at")
        entries = entries[:MAX_FOLDER_ENTRIES]
    for path in entries:
        hub = path.is_dir() and (path / HUB_CONFIG).exists()
        if not (hub or path.suffix == ".json"):
            continue
        name = path.name if hub else path.stem
        card_path, weights = ((path / HUB_CONFIG, path / HUB_WEIGHTS) if hub else
                              (path, path.with_suffix(".safetensors")))
        try:
            if path.is_symlink() or card_path.is_symlink() or weights.is_symlink():
                raise _NotListedError("a symbolic link: links are not followed")
            if not _NAME.match(name):
                raise _NotListedError("its name may hold only letters, digits and _")
            if not _plain_file(card_path):
                raise _NotListedError("not a plain file")
            document = _document(card_path)
            if not _plain_file(weights):
                raise _NotListedError(f"no {weights.name} beside it")
            found[name] = _entry(name, path if hub else path.with_suffix(""), document)
        except (_NotListedError, OSError) as error:
            problems.append(f"{card_path}: {error}")
    return found, tuple(problems)


def model_folders() -> list[Path]:
    """The folders listed: ``models/`` first, then those of :data:`EXTRA_MODELS_ENV`."""
    extra = [Path(p) for p in os.environ.get(EXTRA_MODELS_ENV, "").split(os.pathsep) if p]
    return [models_dir(), *extra]


def _listing(folder: Path | None) -> tuple[dict[str, ModelEntry], list[str]]:
    found: dict[str, ModelEntry] = {}
    problems: list[str] = registry.register_from_environment()
    for place in [folder] if folder is not None else model_folders():
        if not place.is_dir():
            problems.append(f"{place}: no such folder")
            continue
        place = place.resolve()
        listed, trouble = _catalog(place, place.stat().st_mtime_ns)
        problems += trouble
        for name, model in listed.items():
            if name in found:
                problems.append(f"{model.path}: a model named {name} is listed already (from "
                                f"{found[name].path}); rename one of them")
            else:
                found[name] = model
    return found, problems


def models(folder: Path | None = None) -> dict[str, ModelEntry]:
    """Every model with a readable card and weights, by name (sorted within each folder).

    ``folder`` alone, or by default :func:`model_folders`: the pretrained models and the
    folders a user added. Symbolic links are skipped, so nothing outside the folders is listed.
    """
    return _listing(folder)[0]


def problems(folder: Path | None = None) -> list[str]:
    """What could not be listed, one line each naming the file or folder and why."""
    return _listing(folder)[1]


def entry(name: str, folder: Path | None = None) -> ModelEntry:
    """The model called ``name``; ``KeyError`` naming the choices if there is none."""
    found = models(folder)
    if name not in found:
        raise KeyError(f"no model named {name!r}; choose one of: {', '.join(found) or 'none'}")
    return found[name]


def partner(name: str, folder: Path | None = None) -> ModelEntry | None:
    """The model trained on the same task and data beside ``name``; ``None`` if there is none.

    The LSTM for an IndRNN and the IndRNN for an LSTM. Deep models pair by depth first (the
    kind's digits: ``res21`` with ``lstm21``), else with the shallow one of the other family,
    and a deep IndRNN without a deep LSTM with the plain IndRNN. Models of the same task and
    settings (``task_kwargs``) come first; failing those, one of the same task with other
    settings (the adding problem's LSTM trained at T = 1000 for the T = 5000 IndRNN): compare
    the two entries' ``task_kwargs`` to tell.
    """
    this = entry(name, folder)
    if this.task is None:  # saved without a task: nothing was trained beside it
        return None
    others = [e for e in models(folder).values() if e.name != name and e.task == this.task]
    for same_settings in (True, False):
        found = _partner_among(this, [e for e in others
                                      if (e.task_kwargs == this.task_kwargs) == same_settings])
        if found is not None:
            return found
    return None


def comparison_partners(name: str, folder: Path | None = None) -> list[ModelEntry]:
    """The models to set beside ``name`` on the same input: its :func:`partner`, and when
    neither is an LSTM (a deep IndRNN's partner is the plain IndRNN) that one's partner too."""
    this = entry(name, folder)
    first = partner(name, folder)
    if first is None:
        return []
    found = [first]
    if not (this.is_lstm or first.is_lstm):
        hop = partner(first.name, folder)
        if hop is not None and hop.name != name:
            found.append(hop)
    return found


#: How much worse than its twin a model must score to be called far below it.
FAR_BELOW = {"accuracy": 0.2, "bits_per_char": 0.5}  # absolute differences
FAR_BELOW_MSE_RATIO = 10.0


@dataclass(frozen=True)
class Caveat:
    """Why a listed model's numbers teach less than its twin's: a menu label and a sentence."""

    label: str
    text: str


def learning_note(name: str, folder: Path | None = None) -> Caveat | None:
    """For a model that does not learn its task (at chance, or no better than the task's trivial
    baseline) or scores far below the model trained beside it; ``None`` otherwise."""
    this = entry(name, folder)
    data, metrics = this.card.get("data", {}), this.metrics
    twin = partner(name, folder)
    kept = ("it is kept as the comparison its twin was trained beside" if twin is not None
            else "it is kept to show how far it gets")
    classes = data.get("num_classes")
    if "accuracy" in metrics and classes and metrics["accuracy"] <= 1.2 / classes:
        return Caveat("at chance", f"At chance on held-out data (accuracy "
                      f"{metrics['accuracy']:.0%}, chance {1 / classes:.0%}): this model does "
                      f"not learn the task; {kept}.")
    baseline = re.search(r"MSE ([0-9.]+)", str(data.get("baseline", "")))
    if "mse" in metrics and baseline and metrics["mse"] >= 0.8 * float(baseline[1]):
        return Caveat("no better than the baseline", f"No better than the trivial baseline "
                      f"({data['baseline']}; this model: MSE {metrics['mse']:.3g}): it does not "
                      f"learn the task; {kept}.")
    if twin is None or twin.task_kwargs != this.task_kwargs:
        return None
    for metric, gap in FAR_BELOW.items():
        if metric in metrics and metric in twin.metrics:
            worse = (twin.metrics[metric] - metrics[metric] if metric == "accuracy"
                     else metrics[metric] - twin.metrics[metric])
            if worse > gap:
                return Caveat(f"far below {twin.name}", f"Far below {twin.name} on the same "
                              f"task ({metric} {metrics[metric]:.4g} against "
                              f"{twin.metrics[metric]:.4g}).")
    if "mse" in metrics and metrics["mse"] > FAR_BELOW_MSE_RATIO * twin.metrics.get("mse", 1e9):
        return Caveat(f"far below {twin.name}", f"Far below {twin.name} on the same task "
                      f"(MSE {metrics['mse']:.3g} against {twin.metrics['mse']:.3g}).")
    return None


def _partner_among(this: ModelEntry, candidates: list[ModelEntry]) -> ModelEntry | None:
    same_task = {e.kind: e for e in candidates}
    depth = re.sub(r"^\D*", "", this.kind)
    if this.is_lstm:
        wanted = [k for k in same_task if not same_task[k].is_lstm and k.endswith(depth)
                  ] if depth else []
        wanted += ["indrnn"]
    else:
        wanted = [f"lstm{depth}", "indrnn"] if depth else ["lstm"]
    return next((same_task[k] for k in wanted if k in same_task), None)


def load_model(name: str, folder: Path | None = None, device: str = "cpu") -> Checkpoint:
    """Load a listed model safely (:func:`indrnn.load`); only listed names are accepted."""
    return load(entry(name, folder).path, map_location=device)
