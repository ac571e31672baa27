"""Cached, shared resources: pretrained models and task data are read-only and shared by all
sessions; per-input results are cached by content with bounded size."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import streamlit as st
import torch

from indrnn import catalog
from indrnn.checkpoint import Checkpoint
from indrnn.data import load_task

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@st.cache_resource(max_entries=16, show_spinner="Loading the model…")
def pretrained(name: str) -> Checkpoint:
    """A listed model, loaded once per server and shared: never modify it."""
    checkpoint = catalog.load_model(name)
    for parameter in checkpoint.model.parameters():
        parameter.requires_grad_(False)
    return checkpoint


@st.cache_resource(max_entries=8, show_spinner="Loading the task's data…")
def task_data(task: str, task_kwargs_json: str) -> Any:
    """The model's task (held-out data, normalisation statistics), shared and read-only."""
    return load_task(task, **json.loads(task_kwargs_json))


@st.cache_data(max_entries=1)
def example_index() -> list[dict[str, Any]]:
    """``examples/index.json``: the held-out example inputs shipped with the app."""
    return json.loads((EXAMPLES / "index.json").read_text())["examples"]


def examples_for(task: str) -> list[dict[str, Any]]:
    return [e for e in example_index() if e["task"] == task]


def example_bytes(file: str) -> bytes:
    """An example's content; only names listed in the index are read."""
    names = {e["file"] for e in example_index()}
    if file not in names:
        raise KeyError(f"no example named {file!r}")
    return (EXAMPLES / file).read_bytes()


def flush_denormals() -> None:
    """Flush subnormals: long ReLU decays otherwise slow every CPU step."""
    torch.set_flush_denormal(True)
