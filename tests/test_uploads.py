"""Uploads (indrnn.data.uploads): the examples parse to the task's data; bad files are refused
with a message naming the problem, before anything big is allocated or anything unpickled."""

from __future__ import annotations

import functools
import io
import json
import pickle
import struct
import time
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from indrnn import limits
from indrnn.data import DataError, load_task
from indrnn.data.uploads import (
    ParsedInput,
    UploadError,
    parse_csv,
    parse_npy,
    parse_npz,
    parse_png,
    parse_text,
    parse_typed_text,
    parse_upload,
    prepare_for_model,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
ENTRIES = json.loads((EXAMPLES / "index.json").read_text(encoding="utf-8"))["examples"]


@functools.cache
def _task(name: str, kwargs_json: str = "{}"):
    try:
        return load_task(name, **json.loads(kwargs_json))
    except DataError as error:  # e.g. Debian's Fashion-MNIST files not installed
        pytest.skip(f"{name} data not available: {error}")


def info(name: str):
    small = {"adding": '{"seq_len": 100, "test_size": 4, "valid_size": 4}'}
    return _task(name, small.get(name, "{}")).info


def npy_bytes(array: np.ndarray, **kwargs) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, **kwargs)
    return buffer.getvalue()


def npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def png_bytes(array: np.ndarray, mode: str | None = None) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array, mode).save(buffer, format="PNG")
    return buffer.getvalue()


def csv_of(values: np.ndarray, header=None, sep: str = ",") -> bytes:
    lines = [sep.join(header)] if header else []
    lines += [sep.join(repr(float(v)) for v in row) for row in values]
    return ("\n".join(lines) + "\n").encode()


def refused(parser, data, task, *fragments):
    with pytest.raises(UploadError) as caught:
        parser(data, task)
    for fragment in fragments:
        assert fragment in str(caught.value), str(caught.value)
    return str(caught.value)


# --- the examples ------------------------------------------------------------------------------

@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"] for e in ENTRIES])
def test_every_example_parses_to_the_tasks_data(entry):
    task = _task(entry["task"], json.dumps(entry["task_kwargs"], sort_keys=True))
    parsed = parse_upload(entry["file"], (EXAMPLES / entry["file"]).read_bytes(), task.info)
    index = entry["index"] if isinstance(entry["index"], list) else [entry["index"]]
    if entry["format"] == "txt":
        start = entry["stream_offset"] + entry["char_start"]
        assert parsed.inputs.dtype == torch.int64 and parsed.inputs.dim() == 2
        assert torch.equal(parsed.inputs[0], task.test[start: start + parsed.inputs.shape[1]])
        return
    split = task.test
    assert parsed.inputs.dtype == torch.float32 and len(parsed.inputs) == len(index)
    for row, i in enumerate(index):
        length = int(split.lengths[i]) if split.lengths is not None else split.inputs.shape[1]
        assert int(parsed.lengths[row]) == length
        assert torch.equal(parsed.inputs[row, :length], split.inputs[i, :length])
    if entry["format"] == "npz" or entry["task"] == "adding":
        assert torch.equal(parsed.targets, split.targets[index])
    prepared = prepare_for_model(parsed, _task(entry["task"]))  # normalised as the model saw it
    if entry["task"] in ("basicmotions", "japanesevowels"):
        for row, i in enumerate(index):
            length = int(parsed.lengths[row])
            torch.testing.assert_close(prepared.inputs[row, :length],
                                       _task(entry["task"]).test.inputs[i, :length])
    again = prepare_for_model(prepared, _task(entry["task"]))  # never normalised twice
    assert prepared.prepared and again.inputs is prepared.inputs


def test_permuted_pixel_model_gets_the_permuted_image():
    data = (EXAMPLES / "mnist5k_test0307_label3.png").read_bytes()
    task = _task("permuted_mnist5k")
    prepared = prepare_for_model(parse_upload("x.png", data, task.info), task)
    assert torch.equal(prepared.inputs[0], task.test.inputs[307])


# --- CSV ---------------------------------------------------------------------------------------

def test_csv_delimiters_headers_and_notes():
    motions = info("basicmotions")
    names = list(motions.channel_names)
    values = np.random.default_rng(0).normal(size=(7, 6)).astype(np.float32)
    plain = parse_csv(csv_of(values, names), motions)
    for sep in (";", "\t"):
        assert torch.equal(parse_csv(csv_of(values, names, sep), motions).inputs, plain.inputs)
    no_header = parse_csv(csv_of(values), motions)
    assert torch.equal(no_header.inputs, plain.inputs) and "no header" in " ".join(no_header.notes)
    other = parse_csv(csv_of(values, [f"c{i}" for i in range(6)]), motions)
    assert torch.equal(other.inputs, plain.inputs) and "differ" in " ".join(other.notes)
    order = [5, 0, 1, 2, 3, 4]
    shuffled = parse_csv(csv_of(values[:, order], [names[i] for i in order]), motions)
    assert torch.equal(shuffled.inputs, plain.inputs) and "reordered" in " ".join(shuffled.notes)
    indexed = b"".join((f"{i - 1}," if i else "step,").encode() + line + b"\n"
                       for i, line in enumerate(csv_of(values, names).splitlines()))
    assert torch.equal(parse_csv(indexed, motions).inputs, plain.inputs)
    decimal_comma = parse_csv(b"value;marker\n0,5;1\n0,25;1\n", info("adding"))
    assert decimal_comma.inputs[0, :, 0].tolist() == [0.5, 0.25]
    assert decimal_comma.targets.item() == 0.75
    assert plain.summary == "1 sequence, 7 steps, 6 channels"
    grid = np.arange(784, dtype=np.float64).reshape(28, 28) % 256
    pixels = parse_csv(csv_of(grid), info("mnist5k"))
    assert pixels.inputs.shape == (1, 784, 1) and pixels.inputs.max() == 255 / 255
    assert "divided by 255" in " ".join(pixels.notes)


def test_csv_errors_name_the_problem():
    motions, vowels = info("basicmotions"), info("japanesevowels")
    names = list(motions.channel_names)
    refused(parse_csv, csv_of(np.ones((4, 5))), motions,
            "the CSV has 5 columns", "expects 6: accelerometer_x, accelerometer_y")
    refused(parse_csv, b"a,b\n1,2\n3,abc\n", info("adding"),
            "line 3, column 'b': 'abc' is not a number")
    refused(parse_csv, csv_of(np.ones((3, 6)), names) + b"1,2,3,nan,5,6\n", motions,
            "NaN at line 5, column 'gyroscope_x'", "must be finite")
    refused(parse_csv, b"1,2,3,4,5,6\n1,2,3,4,5\n", motions, "line 2 has 5 fields", "ragged")
    refused(parse_csv, b"", motions, "empty file")
    refused(parse_csv, b"\n\n  \n", motions, "empty file")
    refused(parse_csv, ",".join(names).encode() + b"\n", motions, "sequence of 0 steps")
    refused(parse_csv, csv_of(np.zeros((7001, 12))), vowels,
            "7,001 steps exceed the limit of 5,000 for this model")
    refused(parse_csv, b"1,2\n3,1e7\n", info("adding"), "1e+07", "refused")
    loud = parse_csv(b"1,2\n3,2e4\n", info("adding"))
    assert "20000" in " ".join(loud.notes)
    refused(parse_csv, b"caf\xe9,1\n", info("adding"), "not UTF-8", "0xe9")
    refused(parse_csv, csv_of(np.ones((6, 100))), motions, "100 columns", "transposed")
    refused(parse_csv, csv_of(np.full((784, 1), 0.5)) + b"0.5\n", info("mnist5k"), "785")
    refused(parse_csv, csv_of(np.full((784, 1), 300.0)), info("mnist5k"), "[0, 1]")
    refused(parse_csv, b"1\n2\n", info("cpython_chars"), "reads UTF-8 text")
    refused(parse_csv, b"0" * (limits.MAX_UPLOAD_BYTES + 1), motions, "uploads are limited")


def test_adding_accepts_long_two_column_csvs():
    parsed = parse_csv(csv_of(np.zeros((7001, 2))), info("adding"))
    assert parsed.inputs.shape == (1, 7001, 2) and "two markers" in " ".join(parsed.notes)
    assert limits.max_steps("adding") == 100_000 and limits.max_steps("basicmotions") == 5_000
    refused(parse_npy, npy_bytes(np.zeros((100_001, 2), np.float32)), info("adding"),
            "100,001 steps exceed the limit of 100,000")


# --- NPY and NPZ -------------------------------------------------------------------------------

def test_npy_errors():
    motions = info("basicmotions")
    values = np.zeros((20, 6), np.float32)
    values[12, 3] = np.nan
    refused(parse_npy, npy_bytes(values), motions, "NaN at step 12 channel 3 (gyroscope_x)")
    refused(parse_npy, npy_bytes(np.zeros((0, 6), np.float32)), motions, "0 steps")
    refused(parse_npy, npy_bytes(np.zeros((6, 100), np.float32)), motions, "transposed")
    refused(parse_npy, npy_bytes(np.array(["a", "b"])), motions, "not plain numbers")
    refused(parse_npy, npy_bytes(np.zeros((9, 6), np.float32))[:-5], motions, "corrupt NPY")
    refused(parse_npy, b"just text", motions, "not an NPY file")
    refused(parse_npy, npy_bytes(np.zeros((2, 2, 2, 6))), motions, "(T, C) or (N, T, C)")
    refused(parse_npy, npy_bytes(np.zeros((300, 5, 6))), motions, "300 sequences exceed")
    images = parse_npy(npy_bytes(np.zeros((2, 28, 28), np.uint8)), info("mnist5k"))
    assert images.inputs.shape == (2, 784, 1)


class Payload:
    """Unpickling this calls open(path, "w"): it creates a marker file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return open, (str(self.path), "w")


def test_pickle_is_refused_and_never_unpickled(tmp_path, monkeypatch):
    marker = tmp_path / "unpickled"
    data = npy_bytes(np.array([Payload(marker), 1], dtype=object), allow_pickle=True)
    archive = npz_bytes(inputs=np.array([Payload(marker)], dtype=object))

    def forbidden(*args, **kwargs):
        raise AssertionError("pickle used")

    with monkeypatch.context() as patch:
        patch.setattr(pickle, "load", forbidden)
        patch.setattr(pickle, "loads", forbidden)
        for name, blob in (("x.npy", data), ("x.npz", archive)):
            refused(lambda d, t, name=name: parse_upload(name, d, t), blob, info("adding"),
                    "object dtype", "refused")
    assert not marker.exists()
    np.load(io.BytesIO(data), allow_pickle=True)  # the payload is live: the test can fail
    assert marker.exists()


def npy_header(shape: tuple, descr: str = "<f4") -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def test_huge_shapes_are_refused_before_allocation():
    huge = npy_header((10**6, 10**6, 6)) + b"\0" * 64
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("inputs.npy", huge)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        refused(parse_npy, huge, info("basicmotions"), "numbers; the limit is")
        refused(parse_npz, buffer.getvalue(), info("basicmotions"), "numbers; the limit is")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2**20 and time.perf_counter() - start < 1.0


def test_npz_zip_bomb_is_refused_from_the_zip_directory():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("inputs.npy", npy_header((6_000_000, 2)) + bytes(48_000_000))
    assert len(buffer.getvalue()) < 200_000
    refused(parse_npz, buffer.getvalue(), info("adding"), "claims 48,000,", "uncompressed")


def test_npz_errors_and_notes():
    vowels = info("japanesevowels")
    inputs = np.ones((2, 29, 12), np.float32)
    refused(parse_npz, npz_bytes(a=inputs, b=inputs), vowels, "no inputs array", "found: a, b",
            "X or x or data")
    refused(parse_npz, npz_bytes(inputs=inputs, lengths=np.array([29, 30])), vowels,
            "'lengths' must lie in 1..29")
    refused(parse_npz, npz_bytes(inputs=inputs, lengths=np.array([2.0, 3.0])), vowels,
            "'lengths' must be integers")
    refused(parse_npz, b"PK\x03\x04 not really a zip", vowels, "not an NPZ")
    parsed = parse_npz(npz_bytes(inputs=inputs, lengths=np.array([29, 7]),
                                 targets=np.array([0, 99])), vowels)
    assert parsed.targets is None and "'targets' ignored" in " ".join(parsed.notes)
    assert parsed.inputs[1, 7:].abs().sum() == 0 and "set to 0" in " ".join(parsed.notes)
    assert parsed.summary == "2 sequences, 7-29 steps, 12 channels"


def test_a_semicolon_or_tab_separated_csv_says_which_delimiter_it_was_read_with():
    vowels = info("japanesevowels")
    semicolons = "\n".join(";".join(["0,5"] * 12) for _ in range(4)).encode()
    parsed = parse_csv(semicolons, vowels)
    assert float(parsed.inputs[0, 0, 0]) == 0.5
    assert "columns separated by semicolons (;), decimal commas read as points" in parsed.notes
    tabs = parse_csv("\n".join("\t".join(["0.5"] * 12) for _ in range(4)).encode(), vowels)
    assert "columns separated by tabs" in tabs.notes
    commas = parse_csv("\n".join(",".join(["0.5"] * 12) for _ in range(4)).encode(), vowels)
    assert not any("separated" in note for note in commas.notes)


def test_npz_with_the_common_names_x_and_y_is_read_and_says_which_arrays():
    vowels = info("japanesevowels")
    inputs = np.ones((3, 29, 12), np.float32)
    parsed = parse_npz(npz_bytes(X=inputs, y=np.array([0, 4, 8])), vowels)
    notes = " ".join(parsed.notes)
    assert "read the array 'X' as the inputs" in notes and "'y' as the targets" in notes, notes
    assert parsed.targets.tolist() == [0, 4, 8] and parsed.inputs.shape == (3, 29, 12)
    assert "'X'" in parsed.layout and "'y' as targets" in parsed.layout
    both = parse_npz(npz_bytes(data=inputs, x=inputs * 2, labels=np.array([1, 2, 3])), vowels)
    assert float(both.inputs.max()) == 2.0  # 'x' is preferred over 'data'
    assert "also named like inputs, ignored: 'data'" in " ".join(both.notes)
    assert both.targets.tolist() == [1, 2, 3]


# --- text and PNG ------------------------------------------------------------------------------

def test_text():
    chars = info("cpython_chars")
    parsed = parse_text("héllo €\r\n".encode(), chars)
    assert parsed.inputs.shape == (1, 8) and "2 characters outside" in " ".join(parsed.notes)
    assert "CRLF" in " ".join(parsed.notes)
    assert torch.equal(parse_text("hi\n".encode("utf-16"), chars).inputs,
                       parse_text(b"hi\n", chars).inputs)
    refused(parse_text, b"caf\xe9\n", chars, "not UTF-8")
    refused(parse_text, b"a\x00b", chars, "binary")
    refused(parse_text, b"x" * 5001, chars, "5,001 characters exceed the limit of 5,000")
    refused(parse_text, b"abc", info("basicmotions"), "reads numbers")
    refused(lambda d, t: parse_upload("x.npy", d, t), b"abc", chars, "reads UTF-8 text")
    assert parse_typed_text("print(1)\n", chars).kind == "typed"
    typed = parse_typed_text("0.5, 1\n0.25, 1\n", info("adding"))
    assert typed.kind == "typed" and typed.targets.item() == 0.75
    with pytest.raises(UploadError, match="empty"):
        parse_typed_text("  \n", info("adding"))


def test_png():
    mnist = info("mnist5k")
    gray = np.random.default_rng(1).integers(0, 256, (28, 28), dtype=np.uint8)
    gray[:, 0] = 0
    parsed = parse_png(png_bytes(gray), mnist)
    assert torch.equal(parsed.inputs[0, :, 0], torch.from_numpy(gray).flatten().float() / 255.0)
    rgb = np.stack([gray] * 3, axis=2)
    converted = parse_png(png_bytes(rgb), mnist)
    assert torch.equal(converted.inputs, parsed.inputs) and "grayscale" in converted.notes[0]
    refused(parse_png, png_bytes(np.zeros((32, 32), np.uint8)), mnist,
            "PNG is 32x32; the model reads 28x28 grayscale images")
    refused(parse_png, b"GIF89a......", mnist, "not a PNG")
    broken = bytearray(png_bytes(gray))
    broken[40:60] = bytes(20)
    refused(parse_png, bytes(broken), mnist, "corrupt")
    refused(parse_png, png_bytes(gray), info("basicmotions"), "PNG images are for the pixel")
    refused(lambda d, t: parse_upload("x.png", d, t), png_bytes(gray), info("adding"), "pixel")
    refused(lambda d, t: parse_upload("x.xlsx", d, t), b"1,2", info("adding"), "unsupported")


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def test_png_bomb_header_is_refused_before_decoding(monkeypatch):
    header = struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)
    bomb = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(bytes(30001) * 100)) + chunk(b"IEND", b""))
    monkeypatch.setattr(Image, "open", lambda *a, **k: pytest.fail("decoded"))
    start = time.perf_counter()
    refused(parse_png, bomb, info("mnist5k"), "30000x30000", "28x28")
    assert time.perf_counter() - start < 0.5


# --- anything in, ParsedInput or UploadError out -----------------------------------------------

TASKS = ("adding", "basicmotions", "japanesevowels", "mnist5k", "cpython_chars")
PARSERS = (parse_csv, parse_npy, parse_npz, parse_png, parse_text,
           lambda data, task: parse_upload("upload.bin", data, task))
SEEDS = [(EXAMPLES / e["file"]).read_bytes() for e in ENTRIES if e["format"] in ("png", "npz")]
SEEDS += [npy_bytes(np.ones((3, 2), np.float32)), b"value,marker\n0.5,1\n0.25,1\n"]


@st.composite
def mutated(draw) -> bytes:
    """A real file with a few bytes changed, cut short, or a random tail."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 4))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data[: draw(st.integers(1, len(data)))]) + draw(st.binary(max_size=16))


SETTINGS = settings(max_examples=200, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
ANY_BYTES = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda p, b: p + b, st.sampled_from([b"\x89PNG\r\n\x1a\n", b"\x93NUMPY",
                                                    b"PK\x03\x04", b"\xef\xbb\xbf"]),
              st.binary(max_size=300)),
    st.text("0123456789.,;\t\n -eEnaif#x\"", max_size=300).map(str.encode),
    mutated())


def _check(parser, data: bytes, task: str) -> None:
    try:
        result = parser(data, info(task))
    except UploadError as error:
        assert str(error)
    else:
        assert isinstance(result, ParsedInput) and result.summary
        assert result.inputs.shape[0] == result.lengths.shape[0] >= 1


@SETTINGS
@given(data=ANY_BYTES, parser=st.sampled_from(PARSERS), task=st.sampled_from(TASKS))
def test_any_bytes_give_a_parsed_input_or_an_upload_error(data, parser, task):
    _check(parser, data, task)


@SETTINGS
@given(data=mutated(), task=st.sampled_from(TASKS))
def test_mutated_files_give_a_parsed_input_or_an_upload_error(data, task):
    _check(lambda d, t: parse_upload("file.npz", d, t), data, task)
    _check(parse_png, data, "mnist5k")


@SETTINGS
@given(text=st.text(max_size=200), task=st.sampled_from(TASKS))
def test_any_typed_text_gives_a_parsed_input_or_an_upload_error(text, task):
    _check(lambda d, t: parse_typed_text(text, t), b"", task)
