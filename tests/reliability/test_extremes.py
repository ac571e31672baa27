"""Long and extreme sequences (issue 5): inputs at the documented limits run on every shipped
model without exhausting memory, and extreme values are refused or clearly flagged.

Peak memory is measured in the test process as the growth of ``VmHWM`` (reset through
``/proc/self/clear_refs``) over the resident size before the run; ``pytest -s`` prints the
figures that ``docs/RELIABILITY.md`` quotes.
"""

from __future__ import annotations

import functools
import io
import json
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from indrnn import catalog, limits
from indrnn.data import DataError, examples_task, load_task
from indrnn.data.uploads import (
    ParsedInput,
    UploadError,
    parse_csv,
    parse_npy,
    parse_typed_text,
    parse_upload,
    prepare_for_model,
)
from indrnn.objectives import objective_for
from indrnn.record import LayerRecord
from indrnn.run import LARGE_STATE, Run, run_model, value_warnings

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
MODELS = sorted(catalog.models())
NUMERIC = [m for m in MODELS if catalog.entry(m).task != "cpython_chars"]
ADDING = [m for m in MODELS if catalog.entry(m).task == "adding"]
PROC = Path("/proc/self/clear_refs")
needs_proc = pytest.mark.skipif(not PROC.exists(), reason="peak memory needs Linux /proc")


def _status(field: str) -> float:
    """A ``/proc/self/status`` field in MiB."""
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"{field}:\s+(\d+)", text)[1]) / 1024


class PeakMemory:
    """Growth of the peak resident size over a block: ``with PeakMemory() as peak: ...``."""

    def __enter__(self) -> PeakMemory:
        PROC.write_text("5")  # resets VmHWM to the current resident size
        self.before, self.mib = _status("VmRSS"), 0.0
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.mib = _status("VmHWM") - self.before


@functools.cache
def checkpoint(name: str) -> Any:
    loaded = catalog.load_model(name)
    for parameter in loaded.model.parameters():
        parameter.requires_grad_(False)
    return loaded


@functools.cache
def task(name: str) -> Any:
    entry = catalog.entry(name)
    try:
        return load_task(entry.task, **entry.task_kwargs)
    except DataError as error:  # e.g. Debian's Fashion-MNIST files not installed
        pytest.skip(f"{entry.task} data not available: {error}")


@pytest.fixture(autouse=True)
def _flush_denormals() -> None:
    """As the app does for its whole process (``ui.resources.flush_denormals``): long decays
    stay fast on the CPU."""
    torch.set_flush_denormal(True)


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array.astype(np.float32))
    return buffer.getvalue()


def adding_sequence(steps: int, seed: int = 0) -> np.ndarray:
    """An adding-problem input: uniform values, one marker in each half."""
    rng = np.random.default_rng(seed)
    x = np.zeros((steps, 2), np.float32)
    x[:, 0] = rng.random(steps)
    x[rng.integers(steps // 2), 1] = 1
    x[steps // 2 + rng.integers(steps // 2), 1] = 1
    return x


def trust_warnings(run: Run) -> tuple[list[str], list[str]]:
    """The run's warnings split into (too long an input or an output outside the training
    targets' range, the rest: Inf/NaN and huge values)."""
    trust = [w for w in run.warnings if w.startswith("This input has ") or " outside [" in w]
    return trust, [w for w in run.warnings if w not in trust]


def check_trust_warnings(run: Run, info: Any) -> None:
    """The length warning exactly when a last-step model reads more steps than it was trained
    on; the range flag exactly when an output leaves ``info.output_range``."""
    trust, _ = trust_warnings(run)
    longer = bool(info.seq_len) and info.output_kind != "per_step_lm" and int(
        run.lengths.max()) > info.seq_len
    assert any(w.startswith("This input has ") for w in trust) == longer, (longer, trust)
    bounds = info.output_range
    finite = run.output[torch.isfinite(run.output)]
    outside = bounds is not None and bool(((finite < bounds[0]) | (finite > bounds[1])).any())
    huge = not torch.isfinite(run.output).all() or float(run.output.abs().max()) > LARGE_STATE
    assert any(" outside [" in w for w in trust) == (outside and not huge), trust


def check_finite_or_flagged(run: Run, info: Any = None) -> None:
    """Every state and output finite and below LARGE_STATE, or the run says which are not; with
    ``info``, the length and range warnings too (:func:`check_trust_warnings`)."""
    if info is not None:
        check_trust_warnings(run, info)
    _, values = trust_warnings(run)
    recomputed = value_warnings(run.output, run.layers)
    assert len(recomputed) == len(values)
    problems = [name for name, layer in run.layers.items()
                if not torch.isfinite(layer.hidden).all()
                or float(layer.hidden.abs().max()) > LARGE_STATE]
    outputs_bad = not torch.isfinite(run.output).all() or (
        float(run.output.abs().max()) > LARGE_STATE)
    for name in problems:
        assert any(w.startswith(f"{name}:") for w in values), (name, values)
    assert outputs_bad == any(w.startswith("the output") for w in values), values
    if not problems and not outputs_bad:
        assert values == []


# --- the flag itself ---------------------------------------------------------------------------

def test_value_warnings_flag_overflow_and_huge_states_and_nothing_else():
    def layer(values: list[float]) -> dict[str, LayerRecord]:
        return {"l0": LayerRecord("l0", "indrnn", torch.tensor(values).view(-1, 1, 1))}

    assert value_warnings(torch.zeros(1, 1), layer([0.0, 1.0, 5e5])) == []
    overflow = value_warnings(torch.tensor([[float("inf")]]), layer([1.0, 3e38, float("inf")]),
                              trained_steps=100)
    assert "l0: states are Inf/NaN from step 2 of 3 (trained on 100 steps); neurons" in overflow[0]
    assert "the output holds Inf or NaN" in overflow[1]
    huge = value_warnings(torch.tensor([[2e7]]), layer([1.0, 3e9]))
    assert "l0: states reach 3e+09" in huge[0] and "the output reaches 2e+07" in huge[1]
    lstm = {"l0": LayerRecord("l0", "lstm", torch.tensor([0.5, float("nan")]).view(-1, 1, 1))}
    assert value_warnings(torch.zeros(1, 1), lstm) == [
        "l0: states are Inf/NaN from step 1 of 2: the outputs are not meaningful"]


# --- 100,000 steps for the adding models -------------------------------------------------------

@needs_proc
@pytest.mark.parametrize("name", ADDING)
def test_100k_step_adding_input_runs_in_bounded_memory(name):
    parsed = parse_npy(npy(adding_sequence(limits.MAX_STEPS_ADDING)), task(name).info)
    parsed = prepare_for_model(parsed, task(name))
    assert parsed.inputs.shape == (1, limits.MAX_STEPS_ADDING, 2)
    with pytest.raises(UploadError, match="100,001 steps exceed the limit of 100,000"):
        parse_npy(npy(adding_sequence(limits.MAX_STEPS_ADDING + 1)), task(name).info)
    model = checkpoint(name).model
    start = time.perf_counter()
    with PeakMemory() as peak:
        run = run_model(model, parsed.inputs, parsed.lengths, objective_for(task(name)))
    seconds = time.perf_counter() - start
    kept = sum(t.nbytes for layer in run.layers.values()
               for t in (layer.hidden, *layer.tensors.values())) / 2**20
    print(f"\n{name}: 100,000 steps in {seconds:.1f} s, peak +{peak.mib:.0f} MiB "
          f"(states kept: {kept:.0f} MiB); warnings: {run.warnings}")
    assert run.output.shape == (1, 1)
    assert peak.mib < 2 * kept + 256, (peak.mib, kept)  # the states, not copies of them
    check_finite_or_flagged(run, task(name).info)
    if name == "adding100_indrnn":  # u up to 2^(1/100): 1,000 doublings overflow float32
        assert any("Inf/NaN from step" in w and "trained on 100 steps" in w
                   for w in run.warnings), run.warnings


# --- 5,000 steps for every model ---------------------------------------------------------------

def long_input(name: str, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``steps`` steps of realistic input for the model: held-out data repeated (characters,
    sensor recordings, pixels), or a fresh adding sequence."""
    data = task(name)
    if data.info.output_kind == "per_step_lm":
        return data.test[:steps].unsqueeze(0), torch.tensor([steps])
    if data.info.name == "adding":
        x = torch.from_numpy(adding_sequence(steps))[None]
        return x, torch.tensor([steps])
    first = data.test.inputs[0]
    length = first.shape[0] if data.test.lengths is None else int(data.test.lengths[0])
    repeats = -(-steps // length)
    return first[:length].repeat(repeats, 1)[:steps][None], torch.tensor([steps])


@needs_proc
@pytest.mark.parametrize("name", MODELS)
def test_5000_step_input_runs_on_every_model(name):
    x, lengths = long_input(name, limits.MAX_STEPS)
    start = time.perf_counter()
    with PeakMemory() as peak:
        run = run_model(checkpoint(name).model, x, lengths, objective_for(task(name)))
    seconds = time.perf_counter() - start
    print(f"\n{name}: 5,000 steps in {seconds:.1f} s, peak +{peak.mib:.0f} MiB; "
          f"{len(run.warnings)} warning(s) {run.warnings[:1]}")
    assert len(run.predictions) == 1 and run.predictions[0].text
    assert all(layer.hidden.shape[0] == limits.MAX_STEPS for layer in run.layers.values())
    assert peak.mib < 512, peak.mib
    check_finite_or_flagged(run, task(name).info)


@pytest.mark.parametrize("name", [m for m in NUMERIC if catalog.entry(m).task in (
    "basicmotions", "japanesevowels")])
def test_sensor_uploads_at_the_step_limit_parse_and_one_more_is_refused(name):
    info = task(name).info
    rows = np.random.default_rng(0).normal(size=(limits.MAX_STEPS, info.input_size))
    header = ",".join(info.channel_names)
    text = header + "\n" + "\n".join(",".join(f"{v:.4f}" for v in row) for row in rows) + "\n"
    parsed = prepare_for_model(parse_csv(text.encode(), info), task(name))
    assert parsed.inputs.shape == (1, limits.MAX_STEPS, info.input_size)
    with pytest.raises(UploadError, match="5,001 steps exceed the limit of 5,000"):
        parse_csv((text + text.splitlines()[1] + "\n").encode(), info)


# --- extreme values: 1e30 refused, constant zeros finite ---------------------------------------

def natural_length(name: str) -> int:
    info = task(name).info
    if info.channel_names == ("pixel",):
        return limits.IMAGE_SIDE ** 2
    return info.seq_len or 200


@pytest.mark.parametrize("value", [1e30, -1e30, 2 * limits.MAX_ABS_VALUE])
@pytest.mark.parametrize("name", MODELS)
def test_huge_values_are_refused_with_the_limit_named(name, value):
    info = task(name).info
    if info.output_kind == "per_step_lm":  # the character model reads text: numbers are text
        parsed = parse_typed_text(f"{value:g}", info)
        assert parsed.inputs.dtype == torch.int64 and parsed.inputs.shape == (1, len(f"{value:g}"))
        with pytest.raises(UploadError, match="reads UTF-8 text"):
            parse_npy(npy(np.full((4, 1), value)), info)
        return
    x = np.zeros((natural_length(name), info.input_size))
    x[3, 0] = value
    message = f"value {value:g} at "
    with pytest.raises(UploadError, match=re.escape(message)) as caught:
        parse_npy(npy(x), info)
    assert f"magnitudes above {limits.MAX_ABS_VALUE:g} are refused" in str(caught.value)
    csv = "\n".join(",".join(f"{v:g}" for v in row) for row in x).encode()
    with pytest.raises(UploadError, match=re.escape(message)):
        parse_csv(csv, info)


@pytest.mark.parametrize("name", NUMERIC)
def test_library_callers_bypassing_the_parser_get_a_flag_for_1e30(name):
    """``run_model`` does not refuse (a library caller may mean it), but says so.

    Both signs: a ReLU layer whose weights on the channel are all of one sign clips one of
    them to 0 (adding5000's first layer reads values only through negative weights)."""
    info = task(name).info
    flagged = []
    for value in (1e30, -1e30):
        x = torch.zeros(1, natural_length(name), info.input_size)
        x[0, 3, 0] = value
        run = run_model(checkpoint(name).model, x, None, objective_for(task(name)))
        check_finite_or_flagged(run)
        flagged.append(bool(run.warnings))
    lstm = all(layer.kind == "lstm" for layer in run.layers.values())
    assert lstm or any(flagged), "IndRNN states fed ±1e30 must be flagged"


@pytest.mark.parametrize("name", MODELS)
def test_constant_zero_input_gives_finite_results_flagged_only_if_out_of_range(name):
    info = task(name).info
    steps = natural_length(name)
    if info.output_kind == "per_step_lm":
        parsed = ParsedInput(torch.zeros(1, steps, dtype=torch.int64), torch.tensor([steps]),
                             None, "typed", "zeros", info.channel_names, "zeros")
    else:
        parsed = prepare_for_model(parse_npy(npy(np.zeros((steps, info.input_size))), info),
                                   task(name))
    run = run_model(checkpoint(name).model, parsed.inputs, parsed.lengths,
                    objective_for(task(name)))
    assert torch.isfinite(run.output).all()
    for layer in run.layers.values():
        assert torch.isfinite(layer.hidden).all(), layer.name
        for key, tensor in layer.tensors.items():
            assert torch.isfinite(tensor).all(), (layer.name, key)
    check_trust_warnings(run, info)  # an adding model may leave [0, 2] on no markers at all
    assert trust_warnings(run)[1] == [], run.warnings
    assert all(np.isfinite(p.values).all() for p in run.predictions)


EXAMPLES = json.loads((ROOT / "examples" / "index.json").read_text())["examples"]


@pytest.mark.parametrize("name", MODELS)
def test_held_out_examples_are_flagged_only_where_a_number_is_not_to_be_trusted(name):
    """No false alarms: a shipped held-out example gets the length warning only when longer than
    the model's training sequences, the range flag only for an output outside the training
    targets' range, and value warnings only far past the trained length (the 5,000-step adding
    example on adding100)."""
    info = task(name).info
    checked = 0
    for example in (e for e in EXAMPLES if e["task"] == examples_task(catalog.entry(name).task)):
        data = (ROOT / "examples" / example["file"]).read_bytes()
        parsed = prepare_for_model(parse_upload(example["file"], data, info), task(name))
        run = run_model(checkpoint(name).model, parsed.inputs[:2], parsed.lengths[:2],
                        objective_for(task(name)))
        check_trust_warnings(run, info)
        far = info.seq_len and int(parsed.lengths.max()) > 10 * info.seq_len
        assert bool(trust_warnings(run)[1]) == bool(far), (example["file"], run.warnings)
        checked += 1
    assert checked > 0


# --- the app at the limits ---------------------------------------------------------------------

def _upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.radio(key="input_source").set_value("Upload a file").run()
    return at.file_uploader(key="sequence_upload").set_value(
        (name, data, "application/octet-stream")).run()


def test_long_inputs_are_flagged_in_the_app_and_skip_gradients_past_their_limit():
    steps = limits.MAX_GRADIENT_STEPS + 1_000
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params["model"] = "adding100_indrnn"
    _upload(at.run(), "long.npy", npy(adding_sequence(steps)))
    assert not at.exception, at.exception
    warned = " ".join(w.value for w in at.warning)
    assert "far beyond anything seen in training" in warned, warned
    at.switch_page("pages/2_Memory.py").run()
    assert not at.exception, at.exception
    shown = " ".join(i.value for i in at.info)
    assert f"up to {limits.MAX_GRADIENT_STEPS:,} steps; this sequence has {steps:,}" in shown


@needs_proc
@pytest.mark.slow
def test_every_page_runs_at_the_100k_limit():
    """The adding IndRNN and its LSTM partner on a 100,000-step upload, page by page."""
    pages = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "pages").glob("*.py"))
    timings = {}
    with PeakMemory() as peak:
        at = AppTest.from_file(APP, default_timeout=600)
        at.query_params["model"] = "adding1000_indrnn"
        start = time.perf_counter()
        _upload(at.run(), "long.npy", npy(adding_sequence(limits.MAX_STEPS_ADDING)))
        timings["app.py"] = time.perf_counter() - start
        assert not at.exception, at.exception
        assert "Sequence 0 (100000 steps)" in " ".join(m.value for m in at.markdown)
        for page in pages:
            start = time.perf_counter()
            at.switch_page(page).run()
            timings[page] = time.perf_counter() - start
            assert not at.exception, (page, at.exception)
            assert not [e.value for e in at.error], (page, [e.value for e in at.error])
    print(f"\n100,000 steps, every page: peak +{peak.mib:.0f} MiB; seconds: "
          f"{json.dumps({k: round(v, 1) for k, v in timings.items()})}")
    assert peak.mib < 4096, peak.mib
