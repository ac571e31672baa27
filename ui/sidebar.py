"""The sidebar every page shares: pick a model and an input; run the model once per choice.

The run (:class:`indrnn.run.Run`) is kept in this session's state, keyed by model and input
content, so widgets on the pages re-slice it without running the model again. Nothing a session
uploads reaches another session: uploads live in ``st.session_state`` only.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from indrnn import catalog, limits
from indrnn.checkpoint import Checkpoint, CheckpointError, load
from indrnn.data import Task
from indrnn.data.uploads import (
    ParsedInput,
    UploadError,
    parse_typed_text,
    parse_upload,
    prepare_for_model,
    reads_text,
)
from indrnn.limits import MAX_CHECKPOINT_UPLOAD_BYTES, MAX_UPLOAD_BYTES
from indrnn.objectives import Objective, card_objective
from indrnn.run import Run, run_model
from ui import resources
from ui.state import cached, keep_text, remember_text, remembered

UPLOAD = "Upload a checkpoint…"
SOURCES = ("Example", "Upload a file", "Type or paste")
MAX_SEQUENCES = limits.RUN_SEQUENCES  #: sequences of one file run (the rest are listed, not run)
KEPT_RUNS = 4  #: model runs kept per session
#: Bytes of model runs kept per session: runs of earlier inputs are dropped, oldest first,
#: while the session's runs hold more (the current input's runs are always kept).
KEPT_RUN_BYTES = 256 * 2**20


@dataclass
class Context:
    """What the pages read: the chosen model, its task, the input and the model's run."""

    name: str
    checkpoint: Checkpoint
    task: Task
    parsed: ParsedInput
    run: Run
    input_key: str
    uploaded: bool = False  #: the model is an upload of this session, not a listed model

    @property
    def card(self) -> dict[str, Any]:
        return self.checkpoint.card

    @property
    def model(self) -> Any:
        return self.checkpoint.model

    @property
    def info(self) -> Any:
        return self.task.info

    @property
    def objective(self) -> Objective:
        return card_objective(self.task, self.card)


def limits_help(*rows: str) -> str:
    """The limits named ``rows`` (all when none), from :func:`indrnn.limits.describe`, as one
    line of help text for an uploader."""
    return "Limits: " + "; ".join(f"{what}: {value}" for what, value in limits.describe()
                                  if not rows or what in rows) + "."


def _shown(text: str) -> str:
    """A name from the URL, made harmless for Markdown (letters, digits and ``_./-%`` kept)."""
    kept = re.sub(r"[^A-Za-z0-9_./%-]", "?", text[:80])
    return kept + ("…" if len(text) > 80 else "")


@dataclass(frozen=True)
class UploadedCheckpoint:
    """A checkpoint uploaded in this session, kept across its pages."""

    digest: str
    checkpoint: Checkpoint
    stem: str


@dataclass(frozen=True)
class UploadedSequences:
    """A sequence file uploaded in this session, kept across its pages."""

    name: str
    data: bytes


def _choose_model() -> tuple[str, Checkpoint, bool] | None:
    listed = catalog.models()
    names = [*listed, UPLOAD]
    asked = st.query_params.get("model")
    notes = {n: catalog.learning_note(n) for n in listed}
    name = remembered(st.sidebar.selectbox, "Model", names, "model_choice", "model",
                      format_func=lambda n: n if n == UPLOAD else listed[n].title + (
                          f" ⚠ {notes[n].label}" if notes[n] else ""))
    if asked is not None and asked not in names:  # never a path: only listed names are loaded
        st.sidebar.warning(f"The link asks for a model `{_shown(asked)}` that is not among the "
                           f"models in models/; showing {name} instead.")
    problems = catalog.problems()
    if problems:
        with st.sidebar.expander(f"⚠ {len(problems)} file{'s' if len(problems) > 1 else ''} in "
                                 "the model folders not listed"):
            for problem in problems:
                st.caption(problem)
    if name != UPLOAD:
        try:
            return name, resources.pretrained(name), False
        except (CheckpointError, TypeError) as error:
            st.sidebar.error(f"The model {name} can't be used: {error}")
            return None
    files = st.sidebar.file_uploader(
        "Checkpoint: NAME.json and NAME.safetensors", type=["json", "safetensors"],
        accept_multiple_files=True, key="checkpoint_upload",
        max_upload_size=MAX_CHECKPOINT_UPLOAD_BYTES >> 20,
        help="Saved with `indrnn.save`; never a pickle. " + limits_help("checkpoint upload"))
    kept: UploadedCheckpoint | None = st.session_state.get("uploaded_checkpoint")
    if not files:
        if kept:  # uploaded on another page of this session
            st.sidebar.caption(f"Using the uploaded checkpoint {kept.stem}.")
            return f"uploaded: {kept.stem}", kept.checkpoint, True
        st.sidebar.info("Upload both files of a checkpoint saved with `indrnn.save`.")
        return None
    try:
        checkpoint = _load_uploaded(files)
    except CheckpointError as error:
        st.sidebar.error(f"This checkpoint can't be used: {error}")
        return None
    return f"uploaded: {Path(files[0].name).stem}", checkpoint, True


def _load_uploaded(files: list[Any]) -> Checkpoint:
    by_suffix = {Path(f.name).suffix: f for f in files}
    if set(by_suffix) != {".json", ".safetensors"} or len(files) != 2:
        raise CheckpointError("expected exactly two files, NAME.json and NAME.safetensors; "
                              f"got {', '.join(f.name for f in files)}")
    for upload in files:
        if upload.size > MAX_CHECKPOINT_UPLOAD_BYTES:
            raise CheckpointError(f"{upload.name}: {upload.size:,} bytes; the limit is "
                                  f"{MAX_CHECKPOINT_UPLOAD_BYTES:,} per file")
    digest = hashlib.sha256(b"".join(f.getvalue() for f in files)).hexdigest()
    kept: UploadedCheckpoint | None = st.session_state.get("uploaded_checkpoint")
    if kept and kept.digest == digest:
        return kept.checkpoint
    stem = Path(by_suffix[".json"].name).stem
    with tempfile.TemporaryDirectory() as folder:
        for suffix, upload in by_suffix.items():
            (Path(folder) / f"model{suffix}").write_bytes(upload.getvalue())
        checkpoint = load(Path(folder) / "model", shown_as=stem)
    try:
        checkpoint = resources.ready_for_app(checkpoint)
        resources.model_task(checkpoint)  # a card field the app cannot use is said here
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{stem}: {error}") from None
    st.session_state["uploaded_checkpoint"] = UploadedCheckpoint(digest, checkpoint, stem)
    return checkpoint


def _choose_input(task: Task, task_name: str) -> tuple[str, ParsedInput] | None:
    info = task.info
    # A model without shipped examples (one of the user's own) opens on the uploader.
    source = remembered(st.sidebar.radio, "Input", list(SOURCES), "input_source", "source",
                        default=SOURCES[0] if resources.examples_for(task_name) else SOURCES[1],
                        horizontal=True)
    if source == "Example":
        examples = resources.examples_for(task_name)
        if not examples:
            st.sidebar.info("No shipped example for this task: upload or type an input.")
            return None
        file = remembered(st.sidebar.selectbox, "Held-out example",
                          [e["file"] for e in examples], "example_choice", "example")
        return _parsed(file, resources.example_bytes(file), info)
    if source == "Upload a file":
        upload = st.sidebar.file_uploader(
            "Sequence file (CSV, NPY, NPZ, TXT, PNG)", key="sequence_upload",
            type=["csv", "tsv", "txt", "npy", "npz", "png"],
            max_upload_size=MAX_UPLOAD_BYTES >> 20,
            help=limits_help(*(what for what, _ in limits.describe()
                               if what not in ("checkpoint upload", "gradient through time"))))
        if upload is not None:
            if upload.size > MAX_UPLOAD_BYTES:
                raise UploadError(f"the file has {upload.size:,} bytes; the limit is "
                                  f"{MAX_UPLOAD_BYTES:,}")
            st.session_state["kept_sequence_upload"] = UploadedSequences(upload.name,
                                                                         upload.getvalue())
        kept: UploadedSequences | None = st.session_state.get("kept_sequence_upload")
        if kept is None:
            return None
        if upload is None:  # uploaded on another page of this session
            st.sidebar.caption(f"Using the uploaded file {kept.name}.")
        return _parsed(kept.name, kept.data, info)
    remember_text("typed_input")
    text = st.sidebar.text_area(
        "Characters" if reads_text(info) else "CSV rows, one step per line",
        key="typed_input", height=150)
    keep_text("typed_input", text)
    if not text.strip():
        return None
    digest = hashlib.sha256(text.encode()).hexdigest()
    return f"typed:{digest}", parse_typed_text(text, info)


def _parsed(name: str, data: bytes, info: Any) -> tuple[str, ParsedInput]:
    """Parse once per content and task in this session; reruns reuse the result."""
    key = f"{name}:{hashlib.sha256(data).hexdigest()}"
    return key, cached("parsed", (key, info.name, info.input_size, info.channel_names),
                       lambda: parse_upload(name, data, info),
                       most=KEPT_RUNS)


def model_run(model_name: str, checkpoint: Checkpoint, parsed: ParsedInput, task: Task,
              input_key: str) -> Run:
    """The model's run on the input, once per session (the current input's runs are kept)."""
    count = min(len(parsed.lengths), MAX_SEQUENCES)
    return cached("runs", (model_name, input_key),
                  lambda: run_model(checkpoint.model, parsed.inputs[:count],
                                    parsed.lengths[:count], card_objective(task, checkpoint.card)),
                  most=KEPT_RUNS, spinner="Running the model and recording every layer…",
                  max_bytes=KEPT_RUN_BYTES, size=lambda run: run.nbytes,
                  keep=lambda key: key[1] == input_key)


def sidebar() -> Context | None:
    """Draw the sidebar; return the context, or ``None`` (with the reason shown) if incomplete."""
    resources.flush_denormals()
    st.sidebar.title("IndRNN Inspector")
    st.sidebar.caption(resources.compute_device()[1])
    chosen = _choose_model()
    if chosen is None:
        return None
    name, checkpoint, uploaded = chosen
    try:
        task = resources.model_task(checkpoint)
    except ValueError as error:
        st.sidebar.error(f"The model {name} can't be used: {error}")
        return None
    try:
        picked = _choose_input(task, task.info.name)
        if picked is None:
            return None
        input_key, parsed = picked
        parsed = prepare_for_model(parsed, task)
    except UploadError as error:
        st.sidebar.error(f"This input can't be used: {error}")
        return None
    for note in parsed.notes:
        st.sidebar.caption(note)
    st.sidebar.caption(parsed.summary)
    run = model_run(name, checkpoint, parsed, task, input_key)
    for warning in run.warnings:
        st.sidebar.warning(warning)
    return Context(name, checkpoint, task, parsed, run, input_key, uploaded)
