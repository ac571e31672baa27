"""The sidebar every page shares: pick a model and an input; run the model once per choice.

The run (:class:`indrnn.inspection.Inspection`) is kept in this session's state, keyed by model
and input content, so widgets on the pages re-slice it without running the model again. Nothing
a session uploads reaches another session: uploads live in ``st.session_state`` only.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st

from indrnn import catalog, limits
from indrnn.checkpoint import Checkpoint, CheckpointError, load
from indrnn.data import TASKS
from indrnn.data.uploads import (
    ParsedInput,
    UploadError,
    parse_typed_text,
    parse_upload,
    prepare_for_model,
)
from indrnn.inspection import Inspection, inspect_input
from indrnn.limits import MAX_CHECKPOINT_UPLOAD_BYTES, MAX_UPLOAD_BYTES
from ui import resources

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
    task: Any
    parsed: ParsedInput
    inspection: Inspection
    input_key: str

    @property
    def card(self) -> dict[str, Any]:
        return self.checkpoint.card

    @property
    def info(self) -> Any:
        return self.task.info


def _remembered(key: str, choices: list[str], query: str | None = None) -> None:
    """Give the widget ``key`` its last value (pages do not share widget state) or the URL's."""
    if key in st.session_state:
        if st.session_state[key] in choices:
            # Re-assigning makes the value the session's own, so it survives a page switch.
            st.session_state[key] = st.session_state[key]
            return
        del st.session_state[key]  # left over from another model's choices
    kept = st.session_state.get(f"kept_{key}")
    wanted = st.query_params.get(query) if query else None
    for value in (kept, wanted):
        if value in choices:
            st.session_state[key] = value
            return


def _remember(key: str, value: Any, query: str | None = None) -> None:
    st.session_state[f"kept_{key}"] = value
    if query and isinstance(value, str):
        st.query_params[query] = value


def keep_newest(store: dict, most: int) -> None:
    """Drop a per-session store's oldest entries (insertion order) until ``most`` remain."""
    while len(store) > most:
        store.pop(next(iter(store)))


def limits_help(*rows: str) -> str:
    """The limits named ``rows`` (all when none), from :func:`indrnn.limits.describe`, as one
    line of help text for an uploader."""
    return "Limits: " + "; ".join(f"{what}: {value}" for what, value in limits.describe()
                                  if not rows or what in rows) + "."


def _shown(text: str) -> str:
    """A name from the URL, made harmless for Markdown (letters, digits and ``_./-%`` kept)."""
    kept = re.sub(r"[^A-Za-z0-9_./%-]", "?", text[:80])
    return kept + ("…" if len(text) > 80 else "")


def _choose_model() -> tuple[str, Checkpoint] | None:
    listed = catalog.models()
    names = [*listed, UPLOAD]
    _remembered("model_choice", names, "model")
    asked = st.query_params.get("model")
    name = st.sidebar.selectbox(
        "Model", names, format_func=lambda n: n if n == UPLOAD else listed[n].title,
        key="model_choice")
    if asked is not None and asked not in names:  # never a path: only listed names are loaded
        st.sidebar.warning(f"The link asks for a model `{_shown(asked)}` that is not among the "
                           f"models in models/; showing {name} instead.")
    _remember("model_choice", name, "model")
    if name != UPLOAD:
        return name, resources.pretrained(name)
    files = st.sidebar.file_uploader(
        "Checkpoint: NAME.json and NAME.safetensors", type=["json", "safetensors"],
        accept_multiple_files=True, key="checkpoint_upload",
        max_upload_size=MAX_CHECKPOINT_UPLOAD_BYTES >> 20,
        help="Saved with `indrnn.save`; never a pickle. " + limits_help("checkpoint upload"))
    if not files:
        kept = st.session_state.get("uploaded_checkpoint")
        if kept:  # uploaded on another page of this session
            st.sidebar.caption(f"Using the uploaded checkpoint {kept[2]}.")
            return f"uploaded: {kept[2]}", kept[1]
        st.sidebar.info("Upload both files of a checkpoint saved with `indrnn.save`.")
        return None
    try:
        checkpoint = _load_uploaded(files)
    except CheckpointError as error:
        st.sidebar.error(f"This checkpoint can't be used: {error}")
        return None
    return f"uploaded: {Path(files[0].name).stem}", checkpoint


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
    cached = st.session_state.get("uploaded_checkpoint")
    if cached and cached[0] == digest:
        return cached[1]
    with tempfile.TemporaryDirectory() as folder:
        for suffix, upload in by_suffix.items():
            (Path(folder) / f"model{suffix}").write_bytes(upload.getvalue())
        checkpoint = load(Path(folder) / "model")
    task = checkpoint.card.get("task")
    if task not in TASKS:
        raise CheckpointError(f"card['task'] must name one of {', '.join(TASKS)}; got {task!r}")
    resources.ready_for_app(checkpoint)
    st.session_state["uploaded_checkpoint"] = (digest, checkpoint, Path(files[0].name).stem)
    return checkpoint


def _choose_input(task: Any, task_name: str) -> tuple[str, ParsedInput] | None:
    info = task.info
    _remembered("input_source", list(SOURCES), "source")
    source = st.sidebar.radio("Input", SOURCES, key="input_source", horizontal=True)
    _remember("input_source", source, "source")
    if source == "Example":
        examples = resources.examples_for(task_name)
        if not examples:
            st.sidebar.info("No shipped example for this task: upload or type an input.")
            return None
        files = [e["file"] for e in examples]
        _remembered("example_choice", files, "example")
        file = st.sidebar.selectbox("Held-out example", files, key="example_choice")
        _remember("example_choice", file, "example")
        data = resources.example_bytes(file)
        return _parsed(file, data, info)
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
            st.session_state["kept_sequence_upload"] = (upload.name, upload.getvalue())
        kept = st.session_state.get("kept_sequence_upload")
        if kept is None:
            return None
        if upload is None:  # uploaded on another page of this session
            st.sidebar.caption(f"Using the uploaded file {kept[0]}.")
        return _parsed(kept[0], kept[1], info)
    if "typed_input" not in st.session_state:
        st.session_state["typed_input"] = st.session_state.get("kept_typed_input", "")
    text = st.sidebar.text_area(
        "Characters" if info.output_kind == "per_step_lm" else "CSV rows, one step per line",
        key="typed_input", height=150)
    _remember("typed_input", text)
    if not text.strip():
        return None
    digest = hashlib.sha256(text.encode()).hexdigest()
    return f"typed:{digest}", parse_typed_text(text, info)


def _parsed(name: str, data: bytes, info: Any) -> tuple[str, ParsedInput]:
    """Parse once per content and task in this session; reruns reuse the result."""
    key = f"{name}:{hashlib.sha256(data).hexdigest()}"
    parsed: dict[tuple[str, str], ParsedInput] = st.session_state.setdefault("parsed", {})
    if (key, info.name) not in parsed:
        parsed[(key, info.name)] = parse_upload(name, data, info)
        keep_newest(parsed, KEPT_RUNS)
    return key, parsed[(key, info.name)]


def _run(model_name: str, checkpoint: Checkpoint, parsed: ParsedInput, task: Any,
         input_key: str) -> Inspection:
    runs: dict[tuple[str, str], Inspection] = st.session_state.setdefault("runs", {})
    key = (model_name, input_key)
    if key not in runs:
        count = min(len(parsed.lengths), MAX_SEQUENCES)
        with st.spinner("Running the model and recording every layer…"):
            runs[key] = inspect_input(checkpoint.model, parsed.inputs[:count],
                                      parsed.lengths[:count], task.info)
        keep_newest(runs, KEPT_RUNS)
        earlier = [k for k in runs if k[1] != input_key]
        while earlier and sum(run.nbytes for run in runs.values()) > KEPT_RUN_BYTES:
            runs.pop(earlier.pop(0))
    return runs[key]


def sidebar() -> Context | None:
    """Draw the sidebar; return the context, or ``None`` (with the reason shown) if incomplete."""
    resources.flush_denormals()
    st.sidebar.title("IndRNN Inspector")
    st.sidebar.caption(resources.compute_device()[1])
    chosen = _choose_model()
    if chosen is None:
        return None
    name, checkpoint = chosen
    card = checkpoint.card
    task = resources.task_data(card["task"], json.dumps(card.get("task_kwargs", {}),
                                                        sort_keys=True))
    try:
        picked = _choose_input(task, card["task"])
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
    inspection = _run(name, checkpoint, parsed, task, input_key)
    for warning in inspection.warnings:
        st.sidebar.warning(warning)
    return Context(name, checkpoint, task, parsed, inspection, input_key)


def partner_run(context: Context) -> tuple[str, Inspection] | None:
    """The model trained beside this one (LSTM for an IndRNN), run on the same input."""
    if context.name not in catalog.models():
        return None
    other = catalog.partner(context.name)
    if other is None:
        return None
    checkpoint = resources.pretrained(other.name)
    return other.name, _run(other.name, checkpoint, context.parsed, context.task,
                            context.input_key)
