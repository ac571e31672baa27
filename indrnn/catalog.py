"""The pretrained models in ``models/``: names, cards, and the LSTM trained beside each IndRNN.

Names come only from the folder's own listing, so a name typed into the app or a URL can never
reach a file outside ``models/``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from indrnn.assets import models_dir
from indrnn.checkpoint import MAX_JSON_BYTES, Checkpoint, load

_NAME = re.compile(r"^[A-Za-z0-9_]+$")


@dataclass(frozen=True)
class ModelEntry:
    """One pretrained model as its card describes it (weights not loaded)."""

    name: str
    task: str
    task_kwargs: dict[str, Any]
    kind: str  # "indrnn", "lstm", "res21", ...: what follows the last "_" in the name
    body: str  # the body's architecture: IndRNN, PlainIndRNN, ResIndRNN, LSTM, ...
    parameters: int
    metrics: dict[str, float]
    card: dict[str, Any]

    @property
    def is_lstm(self) -> bool:
        return self.body == "LSTM"

    @property
    def title(self) -> str:
        """A short label for menus, e.g. ``adding1000_indrnn — IndRNN, MSE 0.0041``."""
        metric = ", ".join(f"{k} {v:.4g}" for k, v in self.metrics.items() if k != "loss")
        return f"{self.name} — {self.body}, {metric}"


def _entry(path: Path) -> ModelEntry | None:
    if path.stat().st_size > MAX_JSON_BYTES:
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        card = document["card"]
        return ModelEntry(
            name=path.stem, task=card["task"], task_kwargs=dict(card.get("task_kwargs", {})),
            kind=path.stem.rpartition("_")[2],
            body=document["config"]["body"]["architecture"],
            parameters=int(card["parameters"]), metrics=dict(card["metrics"]["test"]),
            card=card,
        )
    except (ValueError, KeyError, TypeError):
        return None  # not a card of ours: listed nowhere, loaded never


def _plain_file(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


@cache
def _catalog(folder: Path, modified: int) -> dict[str, ModelEntry]:
    # `modified` (the folder's mtime) is part of the cache key: a new model shows up at once.
    entries = (_entry(p) for p in sorted(folder.glob("*.json"))
               if _NAME.match(p.stem) and _plain_file(p) and _plain_file(p.with_suffix(
                   ".safetensors")))
    return {e.name: e for e in entries if e is not None}


def models(folder: Path | None = None) -> dict[str, ModelEntry]:
    """Every model in ``folder`` with a readable card and weights beside it, by name (sorted).

    ``folder`` defaults to :func:`indrnn.assets.models_dir`. Symbolic links are skipped, so
    nothing outside the folder is ever listed.
    """
    folder = (folder or models_dir()).resolve()
    return dict(_catalog(folder, folder.stat().st_mtime_ns))


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
    entry(name, folder)
    return load((folder or models_dir()) / name, map_location=device)
