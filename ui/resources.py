"""Cached, shared resources: pretrained models, task data and the pretrained models' runs over
held-out data are read-only and shared by all sessions. Every cache here is bounded (entries, and
time for the large ones); what a session uploads or computes from its own input is never cached
here but kept in that session's ``st.session_state`` (:mod:`ui.sidebar`)."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st
import torch

from indrnn import catalog
from indrnn.checkpoint import Checkpoint
from indrnn.data import TASKS, Task, examples_task, load_task, task_for
from indrnn.devices import default_device, device_name
from indrnn.explain import Finding, card_findings, explain_model
from indrnn.objectives import card_objective
from indrnn.run import Run, run_held_out
from indrnn.sequence_model import as_sequence_model

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@st.cache_resource(max_entries=1)
def compute_device() -> tuple[torch.device, str]:
    """Where the app runs models: ``INDRNN_DEVICE`` or, by default, the GPU when one is
    present. Returns the device and a line for the sidebar (why the CPU, if it fell back)."""
    try:
        device = default_device()
    except ValueError as error:
        return torch.device("cpu"), f"INDRNN_DEVICE: {error}; running on the CPU instead."
    return device, f"Models run on {device_name(device)}."


def ready_for_app(checkpoint: Checkpoint) -> Checkpoint:
    """The checkpoint with its model read as a sequence model (a bare recurrent layer gets an
    identity readout: :func:`indrnn.sequence_model.as_sequence_model`), frozen and moved to
    :func:`compute_device`. Raises ``TypeError`` for a module the app cannot read."""
    model = as_sequence_model(checkpoint.model)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    model.to(compute_device()[0])
    return dataclasses.replace(checkpoint, model=model)


def model_task(checkpoint: Checkpoint) -> Task:
    """The task a checkpoint's card names (its data loaded once per server and shared), or a
    model-only task without data (:func:`indrnn.data.task_for`). Raises ``ValueError`` naming a
    card field the app cannot use."""
    card = checkpoint.card
    if card.get("task") in TASKS:
        return task_data(card["task"], json.dumps(card.get("task_kwargs", {}), sort_keys=True))
    return task_for(card, checkpoint.model)


@st.cache_resource(max_entries=16, show_spinner="Loading the model…")
def pretrained(name: str) -> Checkpoint:
    """A listed model, loaded once per server and shared: never modify it."""
    return ready_for_app(catalog.load_model(name))


@st.cache_resource(max_entries=8, show_spinner="Loading the task's data…")
def task_data(task: str, task_kwargs_json: str) -> Any:
    """The model's task (held-out data, normalisation statistics), shared and read-only."""
    return load_task(task, **json.loads(task_kwargs_json))


@st.cache_resource(max_entries=8, ttl=3600,
                   show_spinner="Running the model over held-out test data…")
def held_out_run(name: str) -> Run:
    """A listed model's run over held-out test data, computed once per server and shared by
    every session: never modify it.

    It depends only on the pretrained model and its task's data, never on a session's input.
    Only what the data-wide views read is kept: inputs, lengths, outputs, every layer's hidden
    states and its per-neuron vectors (u); the other ``(T, B, N)`` tensors (pre-activations,
    input projections, LSTM gates) are dropped, a third to a sixth of the size (mnist5k_res21:
    257 MiB instead of 772 MiB).

    Parameters
    ----------
    name : str
        A model listed by :func:`indrnn.catalog.models`.

    Returns
    -------
    Run
    """
    checkpoint = pretrained(name)
    run = run_held_out(checkpoint.model, card_objective(model_task(checkpoint), checkpoint.card))
    layers = {key: dataclasses.replace(layer, tensors={k: v for k, v in layer.tensors.items()
                                                       if v.ndim < 3})
              for key, layer in run.layers.items()}
    return dataclasses.replace(run, recording=dataclasses.replace(run.recording, layers=layers))


_FINDINGS: dict[str, list[Finding]] = {}
_FINDINGS_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_LOCK = threading.Lock()


def findings(name: str, progress: Callable[[int, int, str], None] | None = None,
             ) -> list[Finding]:
    """A listed model's findings (:mod:`indrnn.explain`): those stored in its card, else
    computed once per server and shared by every session (a second session asking while the
    first computes waits for it instead of computing them again)."""
    with _LOCKS_LOCK:
        lock = _FINDINGS_LOCKS.setdefault(name, threading.Lock())
    with lock:
        if name not in _FINDINGS:
            checkpoint = pretrained(name)
            stored = card_findings(checkpoint.card)
            if stored is None:
                card = checkpoint.card
                stored = explain_model(checkpoint.model,
                                       card_objective(model_task(checkpoint), card),
                                       progress=progress)
            _FINDINGS[name] = stored
        return _FINDINGS[name]


@st.cache_data(max_entries=1)
def example_index() -> list[dict[str, Any]]:
    """``examples/index.json``: the held-out example inputs shipped with the app."""
    return json.loads((EXAMPLES / "index.json").read_text())["examples"]


def examples_for(task: str) -> list[dict[str, Any]]:
    """The examples shipped for ``task`` (see :func:`indrnn.data.examples_task`)."""
    return [e for e in example_index() if e["task"] == examples_task(task)]


def example_bytes(file: str) -> bytes:
    """An example's content; only names listed in the index are read."""
    names = {e["file"] for e in example_index()}
    if file not in names:
        raise KeyError(f"no example named {file!r}")
    return (EXAMPLES / file).read_bytes()


def flush_denormals() -> None:
    """Flush subnormals: long ReLU decays otherwise slow every CPU step."""
    torch.set_flush_denormal(True)
