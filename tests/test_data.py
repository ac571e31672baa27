"""Data pipelines: shapes, seeds, fixed splits, provenance checks (indrnn.data)."""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import lzma
import math
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from indrnn.data import (
    TASKS,
    VOCAB,
    DataError,
    IDXError,
    TaskData,
    adding_batch,
    bits_per_char,
    bptt_batches,
    data_dir,
    decode,
    encode,
    load_adding,
    load_basicmotions,
    load_cpython_chars,
    load_fashion_mnist,
    load_japanesevowels,
    load_mnist5k,
    load_task,
    parse_idx,
    pixel_permutation,
    random_windows,
    read_idx,
    stratified_holdout,
    training_generator,
)
from indrnn.data.adding import BASELINE_MSE, held_out_set
from indrnn.data.pixels import APT_PACKAGE, FASHION_FILES, FASHION_MNIST_DIR
from indrnn.data.text import load_snapshot

FASHION_PRESENT = all((FASHION_MNIST_DIR / f).is_file() for f in FASHION_FILES.values())
needs_fashion = pytest.mark.skipif(
    not FASHION_PRESENT,
    reason=f"Fashion-MNIST IDX files absent from {FASHION_MNIST_DIR}: "
           f"run `apt-get install -y {APT_PACKAGE}` (CI does)")


# ----------------------------------------------------------------------------- adding problem

@pytest.mark.parametrize("seq_len", [2, 3, 100, 101])
def test_adding_batch_shapes_markers_and_targets(seq_len):
    x, y = adding_batch(64, seq_len, training_generator(1))
    assert x.shape == (64, seq_len, 2) and x.dtype == torch.float32
    assert y.shape == (64, 1) and y.dtype == torch.float32
    values, markers = x[..., 0], x[..., 1]
    assert ((values >= 0) & (values < 1)).all()
    assert set(markers.unique().tolist()) <= {0.0, 1.0}
    half = seq_len // 2
    assert (markers[:, :half].sum(1) == 1).all() and (markers[:, half:].sum(1) == 1).all()
    torch.testing.assert_close(y[:, 0], (values * markers).sum(1))


def test_adding_seeded_reproducible_and_seeds_differ():
    a = adding_batch(8, 50, training_generator(3))
    b = adding_batch(8, 50, training_generator(3))
    c = adding_batch(8, 50, training_generator(4))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])
    task = load_adding(seq_len=50, test_size=8, valid_size=8)
    first = next(task.batches(8, seed=3))
    assert torch.equal(first[0], a[0])  # the task's stream is training_generator(seed)


def test_adding_test_set_fixed_separate_and_near_baseline():
    t1, t2 = load_adding(seq_len=100), load_adding(seq_len=100)
    assert torch.equal(t1.test.inputs, t2.test.inputs)
    assert torch.equal(t1.test.targets, t2.test.targets)
    assert not torch.equal(t1.test.inputs, t1.valid.inputs)
    for seed in range(3):  # no training seed replays the held-out sets
        train_x, _ = adding_batch(1000, 100, training_generator(seed))
        assert not torch.equal(train_x, t1.test.inputs)
        assert not torch.equal(train_x, t1.valid.inputs)
    assert torch.equal(held_out_set(100, 1000).inputs, t1.test.inputs)
    mse_of_one = ((t1.test.targets - 1.0) ** 2).mean().item()
    assert abs(mse_of_one - BASELINE_MSE) < 0.025
    assert t1.info.output_kind == "regression" and t1.info.input_size == 2


def test_adding_rejects_bad_sizes():
    with pytest.raises(ValueError):
        adding_batch(4, 1)
    with pytest.raises(ValueError):
        adding_batch(0, 10)


# ------------------------------------------------------------------------------------ IDX files

def _idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(">u1" if code == 0x08 else array.dtype).tobytes()


def test_parse_idx_round_trip():
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(parse_idx(_idx_bytes(array), ndim=3, dtype=">u1"), array)


def test_idx_rejects_corrupted_files(tmp_path):
    good = _idx_bytes(np.zeros((5, 28, 28), np.uint8))
    bad = {
        "magic.idx": b"\x08\x03\x00\x00" + good[4:],  # bytes 0-1 must be zero
        "type.idx": good[:2] + b"\x07" + good[3:],  # unknown type code
        "truncated.idx": good[:-1],
        "trailing.idx": good + b"\x00",
        "size.idx": good[:4] + struct.pack(">I", 6) + good[8:],  # header claims 6 images
        "short.idx": good[:6],
    }
    for name, data in bad.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(IDXError):
            read_idx(tmp_path / name)
    (tmp_path / "magic.gz").write_bytes(gzip.compress(bad["magic.idx"]))
    with pytest.raises(IDXError, match="magic"):
        read_idx(tmp_path / "magic.gz")
    (tmp_path / "broken.gz").write_bytes(gzip.compress(good)[:-10])
    with pytest.raises(IDXError, match="gzip"):
        read_idx(tmp_path / "broken.gz")
    (tmp_path / "good.gz").write_bytes(gzip.compress(good))
    assert read_idx(tmp_path / "good.gz", ndim=3).shape == (5, 28, 28)
    with pytest.raises(IDXError, match="dimensions"):
        read_idx(tmp_path / "good.gz", ndim=1)
    with pytest.raises(IDXError, match="sha256"):
        read_idx(tmp_path / "good.gz", sha256="0" * 64)


def test_fashion_missing_files_name_the_apt_package(tmp_path):
    with pytest.raises(DataError, match=f"apt-get install -y {APT_PACKAGE}"):
        load_fashion_mnist(root=tmp_path)


# -------------------------------------------------------------------------------- Fashion-MNIST

@needs_fashion
def test_fashion_mnist_official_split_and_validation():
    raw_train = read_idx(FASHION_MNIST_DIR / FASHION_FILES["train_labels"], ndim=1)
    raw_test = read_idx(FASHION_MNIST_DIR / FASHION_FILES["test_labels"], ndim=1)
    assert raw_train.shape == (60000,) and raw_test.shape == (10000,)
    task = load_fashion_mnist(num_valid=5000, permute=True)
    assert (len(task.train), len(task.valid), len(task.test)) == (55000, 5000, 10000)
    for split in (task.train, task.valid, task.test):
        assert split.inputs.shape[1:] == (784, 1) and split.inputs.dtype == torch.float32
        assert split.targets.dtype == torch.int64
        assert split.targets.min() == 0 and split.targets.max() == 9
        assert split.inputs.min() >= 0 and split.inputs.max() <= 1
    assert (torch.bincount(task.valid.targets) == 500).all()
    torch.testing.assert_close(torch.bincount(task.train.targets) + 500,
                               torch.from_numpy(np.bincount(raw_train)))
    test_images = read_idx(FASHION_MNIST_DIR / FASHION_FILES["test_images"], ndim=3)
    perm = task.extras["permutation"]
    expected = torch.from_numpy(test_images[:3].reshape(3, -1)).float()[:, perm] / 255
    torch.testing.assert_close(task.test.inputs[:3, :, 0], expected)
    assert torch.equal(task.test.targets, torch.from_numpy(raw_test.astype(np.int64)))


# ------------------------------------------------------------------------------------- MNIST 5k

def test_mnist5k_split_sizes_disjoint_and_stratified():
    task = load_mnist5k()
    train_idx, test_idx = task.extras["train_idx"], task.extras["test_idx"]
    assert (len(task.train), len(task.test), task.valid) == (4000, 1000, None)
    assert len(set(train_idx.tolist()) & set(test_idx.tolist())) == 0
    assert sorted(train_idx.tolist() + test_idx.tolist()) == list(range(5000))
    assert (torch.bincount(task.train.targets) == 400).all()
    assert (torch.bincount(task.test.targets) == 100).all()
    assert task.train.inputs.shape == (4000, 784, 1) and task.train.inputs.dtype == torch.float32
    assert task.train.inputs.min() == 0 and task.train.inputs.max() == 1
    with np.load(data_dir() / "mnist5k.npz") as npz:
        images = npz["images"]
    expected = torch.from_numpy(images[test_idx.numpy()].reshape(1000, 784, 1)).float() / 255
    torch.testing.assert_close(task.test.inputs, expected)


def test_mnist5k_validation_and_permutation():
    task = load_mnist5k(num_valid=500, permute=True)
    train_idx, valid_idx = task.extras["train_idx"].tolist(), task.extras["valid_idx"].tolist()
    assert (len(task.train), len(task.valid), len(task.test)) == (3500, 500, 1000)
    assert not set(train_idx) & set(valid_idx)
    assert not (set(train_idx) | set(valid_idx)) & set(task.extras["test_idx"].tolist())
    plain = load_mnist5k()
    perm = task.extras["permutation"]
    assert sorted(perm.tolist()) == list(range(784))
    assert torch.equal(perm, pixel_permutation(0))
    torch.testing.assert_close(task.test.inputs, plain.test.inputs[:, perm])
    assert not torch.equal(pixel_permutation(0), pixel_permutation(1))


def test_stratified_holdout():
    labels = np.repeat(np.arange(3), [50, 30, 20])
    kept, held = stratified_holdout(labels, 10, seed=5)
    assert len(held) == 10 and len(kept) == 90 and not set(kept) & set(held)
    assert np.bincount(labels[held]).tolist() == [5, 3, 2]
    again = stratified_holdout(labels, 10, seed=5)
    assert np.array_equal(again[1], held)
    assert not np.array_equal(stratified_holdout(labels, 10, seed=6)[1], held)


# ------------------------------------------------------------------------------------------ text

def test_text_snapshot_manifest_sha256_matches():
    root = data_dir()
    manifest = json.loads((root / "cpython_stdlib.json").read_text())
    blob = lzma.decompress((root / "cpython_stdlib.txt.xz").read_bytes())
    assert hashlib.sha256(blob).hexdigest() == manifest["sha256"]
    assert len(blob) == manifest["total_bytes"]
    offset = 0
    for entry in manifest["files"]:
        assert entry["offset"] == offset
        data = blob[offset: offset + entry["bytes"]]
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["path"]
        offset += entry["bytes"]
    assert offset == len(blob)
    assert manifest["python_version"] == "3.11.7"
    assert 2_000_000 <= len(blob) <= 4_000_000
    assert (root / "cpython_stdlib.txt.xz").stat().st_size < 1_500_000
    paths = [e["path"] for e in manifest["files"]]
    assert not any(p.startswith("test/") or "/tests/" in p or "site-packages" in p for p in paths)


def test_text_snapshot_tampering_is_detected(tmp_path, monkeypatch):
    for name in ("cpython_stdlib.txt.xz", "cpython_stdlib.json"):
        shutil.copy(data_dir() / name, tmp_path / name)
    manifest = json.loads((tmp_path / "cpython_stdlib.json").read_text())
    manifest["files"][3]["sha256"] = "0" * 64
    (tmp_path / "cpython_stdlib.json").write_text(json.dumps(manifest))
    monkeypatch.setenv("INDRNN_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match=manifest["files"][3]["path"]):
        load_snapshot()


def test_text_splits_disjoint_by_file():
    task = load_cpython_chars()
    files = {s: set(task.files[s]) for s in ("train", "valid", "test")}
    assert all(files.values())
    assert not files["train"] & files["valid"] and not files["train"] & files["test"]
    assert not files["valid"] & files["test"]
    assert set().union(*files.values()) == {e["path"] for e in task.manifest["files"]}
    sizes = {s: len(getattr(task, s)) for s in files}
    total = sum(sizes.values())
    assert 0.85 < sizes["train"] / total < 0.95
    assert 0.03 < sizes["valid"] / total < 0.08 and 0.03 < sizes["test"] / total < 0.08
    assert task.train.dtype == torch.int64 and task.train.min() >= 0
    assert task.train.max() < VOCAB.size == task.info.input_size == 98
    _, texts = load_snapshot()
    first = task.files["test"][0]
    assert decode(task.test[: len(texts[first])]) == texts[first]  # pure ASCII file


def test_encode_decode_and_unknown_symbol():
    text = "def f(x):\n\treturn x ** 2  # ~{}|`\n"
    ids = encode(text)
    assert ids.dtype == torch.int64 and ids.shape == (len(text),)
    assert decode(ids) == text
    assert VOCAB.chars[:3] == ("\ufffd", "\t", "\n") and VOCAB.chars[3] == " "
    assert VOCAB.chars[-1] == "~" and len(set(VOCAB.chars)) == VOCAB.size
    odd = "é€\r\x0c\x7f😀"
    assert encode(odd).tolist() == [VOCAB.unk_index] * len(odd)
    assert decode(encode("a€b")) == "a\ufffdb"
    with pytest.raises(ValueError):
        decode([98])


def test_bptt_batches_and_random_windows():
    tokens = torch.arange(1000)
    windows = list(bptt_batches(tokens, batch_size=4, seq_len=10))
    assert len(windows) == 24 and all(w.shape == (4, 11) for w in windows)
    for a, b in itertools.pairwise(windows):
        assert torch.equal(a[:, -1], b[:, 0])  # state can be carried over
    assert torch.equal(windows[0][1], torch.arange(250, 261))  # lanes are contiguous
    seeded = [torch.stack(list(bptt_batches(tokens, 4, 10, seed=s))[:2]) for s in range(6)]
    assert torch.equal(seeded[0], torch.stack(list(bptt_batches(tokens, 4, 10, seed=0))[:2]))
    assert any(not torch.equal(seeded[0], other) for other in seeded[1:])
    a = random_windows(tokens, 8, 20, torch.Generator().manual_seed(1))
    b = random_windows(tokens, 8, 20, torch.Generator().manual_seed(1))
    c = random_windows(tokens, 8, 20, torch.Generator().manual_seed(2))
    assert a.shape == (8, 21) and torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(a - a[:, :1], torch.arange(21).expand(8, 21))


def test_bits_per_char():
    assert bits_per_char(math.log(2)) == pytest.approx(1.0)
    torch.testing.assert_close(bits_per_char(torch.tensor(math.log(98))),
                               torch.tensor(math.log2(98)))


# --------------------------------------------------------------------------------------- sensors

def test_basicmotions_shapes_and_labels():
    task = load_basicmotions()
    for split in (task.train, task.test):
        assert split.inputs.shape == (40, 100, 6) and split.inputs.dtype == torch.float32
        assert (split.lengths == 100).all()
        assert (torch.bincount(split.targets, minlength=4) == 10).all()
    assert task.info.class_names == ("Standing", "Running", "Walking", "Badminton")
    assert task.info.channel_names[0] == "accelerometer_x" and len(task.info.channel_names) == 6
    assert "aeon" in task.info.provenance and "BasicMotions_TRAIN.ts" in task.info.provenance


def test_japanesevowels_shapes_lengths_padding():
    task = load_japanesevowels()
    assert (len(task.train), len(task.test)) == (270, 370)
    assert task.info.variable_length and task.info.seq_len == 29
    for split in (task.train, task.test):
        assert split.inputs.shape[1:] == (29, 12)
        assert split.lengths.min() >= 7 and split.lengths.max() <= 29
        assert split.targets.min() >= 0 and split.targets.max() <= 8
        pad = torch.arange(29).unsqueeze(0) >= split.lengths.unsqueeze(1)
        assert (split.inputs[pad] == 0).all()
        assert (split.inputs[~pad].abs().sum(1) > 0).all()  # real steps are not padding
    assert (torch.bincount(task.train.targets) == 30).all()
    assert len(task.info.class_names) == 9 and len(task.info.channel_names) == 12


@pytest.mark.parametrize("loader", [load_basicmotions, load_japanesevowels])
def test_sensor_normalisation_uses_train_statistics_only(loader):
    raw, norm = loader(normalize=False), loader()
    mask = torch.arange(raw.train.inputs.shape[1]).unsqueeze(0) < raw.train.lengths.unsqueeze(1)
    steps = raw.train.inputs[mask].double().numpy()
    mean, std = steps.mean(0), steps.std(0)
    np.testing.assert_allclose(norm.extras["mean"].numpy(), mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(norm.extras["std"].numpy(), std, rtol=1e-5)
    normed = norm.train.inputs[mask].double()
    torch.testing.assert_close(normed.mean(0), torch.zeros(normed.shape[1], dtype=torch.float64),
                               atol=1e-5, rtol=0)
    torch.testing.assert_close(normed.std(0, correction=0),
                               torch.ones(normed.shape[1], dtype=torch.float64), atol=1e-5, rtol=0)
    test_mask = (torch.arange(raw.test.inputs.shape[1]).unsqueeze(0)
                 < raw.test.lengths.unsqueeze(1))
    expected = (raw.test.inputs[test_mask].double().numpy() - mean) / std
    np.testing.assert_allclose(norm.test.inputs[test_mask].numpy(), expected, rtol=1e-4,
                               atol=1e-5)
    assert (norm.test.inputs[~test_mask] == 0).all()
    all_steps = np.concatenate([steps, raw.test.inputs[test_mask].double().numpy()])
    assert not np.allclose(all_steps.mean(0), mean)  # the test split is not in the statistics
    carved = loader(num_valid=9)  # statistics follow the reduced training split
    assert len(carved.valid) == 9 and len(carved.train) == len(raw.train) - 9
    assert not torch.allclose(carved.extras["mean"], norm.extras["mean"])


# -------------------------------------------------------------------------------------- registry

def test_registry_loads_every_task_with_metadata():
    expected = {"adding", "mnist5k", "permuted_mnist5k", "fashion_mnist",
                "permuted_fashion_mnist", "cpython_chars", "basicmotions", "japanesevowels"}
    assert set(TASKS) == expected
    for name, spec in TASKS.items():
        if "fashion" in name and not FASHION_PRESENT:
            continue
        task = load_task(name, seq_len=100) if name == "adding" else load_task(name)
        info = task.info
        assert info.name == name and info.output_kind == spec.output_kind
        assert info.provenance and info.input_size >= 1 and info.output_size >= 1
        assert len(info.channel_names) == (1 if info.output_kind == "per_step_lm"
                                           else info.input_size)
        json.dumps(info.card(), allow_nan=False)
        if isinstance(task, TaskData):
            assert task.train.inputs.shape[2] == info.input_size
            assert task.train.targets.max() < info.num_classes
    with pytest.raises(KeyError, match="unknown task"):
        load_task("ptb")


def test_data_folder_is_small():
    root = Path(data_dir())
    total = sum(p.stat().st_size for p in root.iterdir() if p.is_file())
    assert total <= 3_000_000
