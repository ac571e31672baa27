"""The example inputs in examples/ are what index.json says, and the same as the task data.

Also checks that scripts/make_examples.py still writes the same examples, and that
scripts/models_table.py turns checkpoint cards into models/README.md.
"""

from __future__ import annotations

import csv
import functools
import importlib.util
import io
import json
import shutil
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from PIL import Image

from indrnn.data import VOCAB, DataError, load_task

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
INDEX = json.loads((EXAMPLES / "index.json").read_text(encoding="utf-8"))
ENTRIES = INDEX["examples"]
IDS = [entry["file"] for entry in ENTRIES]
FORMATS = {"csv", "npy", "npz", "png", "txt"}
NOT_EXAMPLES = {"README.md", "index.json", ".gitkeep", "notebook.py"}  # notebook: docs/API.md


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.cache
def _task(name: str, kwargs_json: str):
    return load_task(name, **json.loads(kwargs_json))


def task_of(entry: dict):
    """The task an entry was cut from, loaded with the entry's task_kwargs."""
    try:
        return _task(entry["task"], json.dumps(entry["task_kwargs"], sort_keys=True))
    except DataError as error:  # e.g. the Debian Fashion-MNIST files are not installed
        pytest.skip(f"{entry['task']} data not available: {error}")


def rows(entry: dict) -> list[int]:
    return entry["index"] if isinstance(entry["index"], list) else [entry["index"]]


def read_csv(path: Path) -> tuple[list[str], np.ndarray]:
    with path.open(newline="", encoding="ascii") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        values = np.array([[float(v) for v in row] for row in reader], dtype=np.float32)
    return header, values


def expected_steps(entry: dict, index: int) -> np.ndarray:
    """The task's test inputs at ``index``, real steps only, as float32 (T, C)."""
    split = task_of(entry).test
    steps = split.inputs[index].numpy()
    if split.lengths is not None:
        steps = steps[: int(split.lengths[index])]
    return steps


def check_adding(values: np.ndarray, target: float) -> None:
    """Exactly one marker in each half; the target is the sum of the two marked values."""
    half = values.shape[0] // 2
    marked = np.flatnonzero(values[:, 1])
    assert set(np.unique(values[:, 1]).tolist()) <= {0.0, 1.0}
    assert len(marked) == 2 and marked[0] < half <= marked[1], marked
    assert np.all((values[:, 0] >= 0) & (values[:, 0] < 1))
    assert values[marked, 0].sum(dtype=np.float32) == pytest.approx(target, abs=1e-6)


# --- the index ---------------------------------------------------------------------------------

def test_index_lists_every_file_and_the_folder_is_small():
    assert INDEX["format"] == "indrnn-examples" and INDEX["version"] == 1
    files = {p.name for p in EXAMPLES.iterdir() if p.is_file()} - NOT_EXAMPLES
    assert sorted(files) == sorted(IDS), "examples/ and index.json disagree"
    assert len(set(IDS)) == len(IDS)
    total = sum(p.stat().st_size for p in EXAMPLES.iterdir() if p.is_file())
    assert total < 2 * 2**20, f"examples/ holds {total / 2**20:.2f} MiB"
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in readme for name in IDS)


def test_every_task_and_format_is_covered():
    have = {(e["task"], e["format"]) for e in ENTRIES}
    wanted = {("adding", "csv"), ("adding", "npy"), ("adding", "npz"), ("mnist5k", "png"),
              ("mnist5k", "csv"), ("mnist5k", "npz"), ("fashion_mnist", "png"),
              ("cpython_chars", "txt"), ("basicmotions", "csv"), ("basicmotions", "npy"),
              ("japanesevowels", "csv"), ("japanesevowels", "npz")}
    assert wanted <= have, sorted(wanted - have)
    lengths = {e["task_kwargs"]["seq_len"] for e in ENTRIES if e["task"] == "adding"}
    assert lengths == {1000, 5000}


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_entry_is_complete(entry):
    assert (EXAMPLES / entry["file"]).is_file()
    assert entry["format"] in FORMATS and entry["file"].endswith("." + entry["format"])
    assert entry["split"] == "test"
    assert isinstance(entry["task_kwargs"], dict)
    assert ("label" in entry) or ("target" in entry)
    assert all(isinstance(i, int) and i >= 0 for i in rows(entry))


# --- each format -------------------------------------------------------------------------------

@pytest.mark.parametrize("entry", [e for e in ENTRIES if e["format"] == "csv"],
                         ids=[e["file"] for e in ENTRIES if e["format"] == "csv"])
def test_csv(entry):
    info = task_of(entry).info
    header, values = read_csv(EXAMPLES / entry["file"])
    assert tuple(header) == info.channel_names
    assert values.shape == tuple(entry["shape"]) and values.shape[1] == info.input_size
    np.testing.assert_array_equal(values, expected_steps(entry, entry["index"]))
    if entry["task"] == "adding":
        assert values.shape[0] == entry["task_kwargs"]["seq_len"]
        check_adding(values, entry["target"])
    else:
        assert entry["label"] == int(task_of(entry).test.targets[entry["index"]])


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e["format"] == "npy"],
                         ids=[e["file"] for e in ENTRIES if e["format"] == "npy"])
def test_npy(entry):
    values = np.load(EXAMPLES / entry["file"], allow_pickle=False)
    assert values.dtype == np.float32 and values.ndim == 2
    assert values.shape == tuple(entry["shape"])
    assert values.shape[1] == task_of(entry).info.input_size
    np.testing.assert_array_equal(values, expected_steps(entry, entry["index"]))
    if entry["task"] == "adding":
        check_adding(values, entry["target"])
    else:
        assert entry["label"] == int(task_of(entry).test.targets[entry["index"]])


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e["format"] == "npz"],
                         ids=[e["file"] for e in ENTRIES if e["format"] == "npz"])
def test_npz(entry):
    task = task_of(entry)
    with np.load(EXAMPLES / entry["file"], allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    index = rows(entry)
    inputs, targets = arrays["inputs"], arrays["targets"]
    assert set(arrays) <= {"inputs", "targets", "lengths"}
    assert inputs.dtype == np.float32 and inputs.shape == tuple(entry["shape"])
    assert inputs.shape[0] == len(index) and inputs.shape[2] == task.info.input_size
    np.testing.assert_array_equal(inputs, task.test.inputs[index].numpy())
    np.testing.assert_array_equal(targets, task.test.targets[index].numpy())
    if task.info.variable_length:
        assert arrays["lengths"].dtype == np.int64
        np.testing.assert_array_equal(arrays["lengths"], task.test.lengths[index].numpy())
        assert arrays["lengths"].tolist() == entry["length"]
        for sample, length in zip(inputs, arrays["lengths"]):
            assert not sample[length:].any() and sample[length - 1].any()
    if entry["task"] == "adding":
        assert targets.dtype == np.float32 and targets.shape == (len(index), 1)
        for sample, target, recorded in zip(inputs, targets[:, 0], entry["target"]):
            assert target == np.float32(recorded)
            check_adding(sample, float(target))
    else:
        assert targets.dtype == np.int64 and targets.tolist() == entry["label"]


def original_image(entry: dict) -> np.ndarray:
    """The 0..255 image at the entry's test index, read from the data set itself."""
    if entry["task"] == "mnist5k":
        from indrnn.data.pixels import load_mnist5k_arrays

        images, _, _, test_idx, _ = load_mnist5k_arrays()
        assert int(test_idx[entry["index"]]) == entry["source_row"]
        return images[entry["source_row"]]
    from indrnn.data.pixels import FASHION_FILES, FASHION_MNIST_DIR, FASHION_SHA256, read_idx

    path = FASHION_MNIST_DIR / FASHION_FILES["test_images"]
    if not path.is_file():
        pytest.skip(f"{path} missing (Debian package dataset-fashion-mnist)")
    images = read_idx(path, ndim=3, sha256=FASHION_SHA256[path.name])
    return images[entry["index"]]


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e["format"] == "png"],
                         ids=[e["file"] for e in ENTRIES if e["format"] == "png"])
def test_png(entry):
    with Image.open(EXAMPLES / entry["file"]) as image:
        assert image.format == "PNG" and image.mode == "L" and image.size == (28, 28)
        pixels = np.asarray(image)
    np.testing.assert_array_equal(pixels, original_image(entry))
    task = task_of(entry)
    # the task's model input is the same image, pixel / 255, row-major
    np.testing.assert_allclose(task.test.inputs[entry["index"], :, 0].numpy(),
                               pixels.reshape(-1) / 255.0, atol=1e-6)
    label = int(task.test.targets[entry["index"]])
    assert entry["label"] == label and entry["class_name"] == task.info.class_names[label]
    if entry["task"] == "mnist5k":
        assert entry["file"] == f"mnist5k_test{entry['index']:04d}_label{label}.png"
    else:
        slug = "".join(c if c.isalnum() else "-" for c in entry["class_name"].lower())
        assert entry["file"].endswith(slug.strip("-").replace("--", "-") + ".png")


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e["format"] == "txt"],
                         ids=[e["file"] for e in ENTRIES if e["format"] == "txt"])
def test_text(entry):
    raw = (EXAMPLES / entry["file"]).read_bytes()
    text = raw.decode("utf-8")
    assert 2000 <= len(text) <= 4000 and text.endswith("\n") and "\r" not in text
    ids = VOCAB.encode(text)
    assert int((ids == VOCAB.unk_index).sum()) == entry["unknown_symbols"] <= 5
    task = task_of(entry)
    assert task.files["test"][entry["index"]] == entry["source_file"]
    assert entry["source_file"] not in task.files["train"] + task.files["valid"]
    start = entry["stream_offset"] + entry["char_start"]
    assert len(text) == entry["char_end"] - entry["char_start"]
    assert VOCAB.decode(task.test[start: start + len(text)]) == text
    # cut at a line boundary: the held-out file goes on with a new line (or ends here)
    following = VOCAB.decode(task.test[start + len(text) - 1: start + len(text) + 1])
    assert following[0] == "\n"


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e["task"] in ("basicmotions",
                                                                         "japanesevowels")],
                         ids=[e["file"] for e in ENTRIES if e["task"] in ("basicmotions",
                                                                           "japanesevowels")])
def test_sensor_examples_are_raw_values(entry):
    assert entry["task_kwargs"] == {"normalize": False}
    raw = task_of(entry)
    normalised = load_task(entry["task"])  # what a model sees: training mean and std applied
    index = rows(entry)
    mean, std = normalised.extras["mean"].numpy(), normalised.extras["std"].numpy()
    for i in index:
        length = int(raw.test.lengths[i])
        np.testing.assert_allclose((raw.test.inputs[i, :length].numpy() - mean) / std,
                                   normalised.test.inputs[i, :length].numpy(),
                                   rtol=1e-5, atol=1e-5)
    labels = [int(raw.test.targets[i]) for i in index]
    assert labels == (entry["label"] if isinstance(entry["label"], list) else [entry["label"]])
    classes = {e["label"] for e in ENTRIES
               if e["task"] == entry["task"] and not isinstance(e["label"], list)}
    assert len(classes) >= 2, "two sequences of different classes"


# --- the scripts -------------------------------------------------------------------------------

def test_make_examples_writes_the_same_examples():
    make = _script("make_examples")
    try:
        writer = make.build(EXAMPLES)  # builds in memory; write() is not called
    except DataError as error:
        pytest.skip(f"data not available: {error}")
    from indrnn.data.pixels import FASHION_FILES, FASHION_MNIST_DIR

    expected = ENTRIES
    if not (FASHION_MNIST_DIR / FASHION_FILES["test_images"]).is_file():  # the script skips it
        expected = [e for e in ENTRIES if e["task"] != "fashion_mnist"]
    assert json.loads(json.dumps(writer.entries)) == expected
    for name, data in writer.files.items():
        stored = (EXAMPLES / name).read_bytes()
        if name.endswith((".csv", ".txt", ".npy")):
            assert data == stored, name
        elif name.endswith(".npz"):  # compressed bytes may vary with the zlib build
            with np.load(io.BytesIO(data)) as new, np.load(EXAMPLES / name) as old:
                assert sorted(new.files) == sorted(old.files)
                for key in new.files:
                    np.testing.assert_array_equal(new[key], old[key])
        else:
            with Image.open(io.BytesIO(data)) as new, Image.open(EXAMPLES / name) as old:
                np.testing.assert_array_equal(np.asarray(new), np.asarray(old))


def _fake_card(name: str) -> dict:
    return {
        "name": name, "task": "adding", "task_kwargs": {"seq_len": 1000},
        "data": {"output_kind": "regression"}, "parameters": 34_561,
        "recipe": {"name": "adding-indrnn", "why": "the paper's network, sized for a CPU",
                   "model": {"body": {"architecture": "IndRNN", "config": {
                       "input_size": 2, "hidden_size": 128, "num_layers": 2}},
                       "num_outputs": 1}},
        "training": {"command": "python -m indrnn.train adding-indrnn --seq-len 1000",
                     "seed": 0, "steps": 10_000, "batch_size": 50, "wall_time_s": 3725.4,
                     "hardware": "x86_64 CPU, 2 threads"},
        "metrics": {"test": {"mse": 0.000734}, "test_slice": {"mse": 0.0007},
                    "test_slice_size": 64},
        "paper": "T=1000: IndRNN converges; LSTM does not (Li et al. 2018, Fig. 2)",
    }


def test_models_table_lists_a_card(tmp_path):
    table = _script("models_table")
    document = {"format": "indrnn-checkpoint", "version": 1, "card": _fake_card("fake_adding")}
    (tmp_path / "fake_adding.json").write_text(json.dumps(document), encoding="utf-8")
    (tmp_path / "notes.json").write_text("[1, 2]", encoding="utf-8")  # not a checkpoint
    out = table.main(["--models", str(tmp_path)])
    assert out == tmp_path / "README.md"
    text = out.read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith("| [fake_adding]"))
    assert "| adding |" in row and "IndRNN 2 × 128" in row and "34,561" in row
    assert "MSE 0.000734" in row and "Li et al. 2018, Fig. 2" in row
    assert "## fake_adding" in text and "python -m indrnn.train adding-indrnn" in text
    assert "10000 steps" in text and "1 h 02 min" in text and "x86_64 CPU" in text
    assert "the paper's network, sized for a CPU" in text
    assert "notes.json" in text and table.NO_CARDS not in text
    assert "What its neurons do" not in text  # no findings in this card


def test_models_table_shows_the_top_three_findings(tmp_path):
    table = _script("models_table")
    card = _fake_card("fake_adding")
    card["findings"] = [{"claim": f"Claim {k}.", "layer": "body.l1", "neurons": [k]}
                        for k in range(5)]
    document = {"format": "indrnn-checkpoint", "version": 1, "card": card}
    (tmp_path / "fake_adding.json").write_text(json.dumps(document), encoding="utf-8")
    text = table.main(["--models", str(tmp_path)]).read_text(encoding="utf-8")
    assert "1. Claim 0." in text and "3. Claim 2." in text and "Claim 3." not in text


def test_models_table_with_no_cards(tmp_path):
    table = _script("models_table")
    text = table.main(["--models", str(tmp_path)]).read_text(encoding="utf-8")
    assert "| model | task |" in text and table.NO_CARDS in text


def test_models_table_metric_names():
    table = _script("models_table")
    card = _fake_card("x")
    card["data"]["output_kind"] = "classification_last_step"
    card["metrics"]["test"] = {"loss": 0.3, "accuracy": 0.925}
    assert table.metric_text(*table.primary_metric(card)) == "accuracy 92.5%"
    card["recipe"]["model"]["body"] = {"architecture": "ResIndRNN",
                                       "config": {"hidden_size": 64, "num_blocks": 10}}
    assert table.architecture(card) == "ResIndRNN 21 layers × 64 (10 blocks)"


def _claims(table: ModuleType, folder: Path, accuracies: dict[str, float],
            spreads: dict[str, list[float]] | None = None) -> dict[str, str]:
    """The claims table's rows, by claim, for cards with these names and test accuracies (and
    these test accuracies over training seeds)."""
    tasks = {"fmnist": "fashion_mnist", "pfmnist": "permuted_fashion_mnist", "y": "mnist5k"}
    folder.mkdir()
    for name, accuracy in accuracies.items():
        card = {"name": name, "task": tasks[name.rpartition("_")[0]],
                "data": {"output_kind": "classification_last_step"},
                "metrics": {"test": {"accuracy": accuracy}}}
        if spreads and name in spreads:
            card["metrics"]["seed_spread"] = {"metric": "accuracy", "test": spreads[name]}
        document = {"format": "indrnn-checkpoint", "version": 1, "card": card}
        (folder / f"{name}.json").write_text(json.dumps(document), encoding="utf-8")
    lines = table.main(["--models", str(folder)]).read_text(encoding="utf-8").splitlines()
    return {line.split(" | ")[0].lstrip("| "): line for line in lines
            if line.startswith("| ") and " | " in line}


def test_models_table_sets_each_claim_of_the_paper_beside_the_cards_figures(tmp_path):
    table = _script("models_table")
    full_size = "full-size pixel tasks (Fashion-MNIST 60k/10k, 784 steps), IndRNN above its LSTM"
    permuted = "permuted pixels, where LSTMs suffer most: the IndRNN's lead grows"
    claim = _claims(table, tmp_path / "a", {"fmnist_indrnn": 0.9, "fmnist_lstm": 0.8,
                                            "y_indrnn": 0.5, "y_lstm": 0.7,
                                            "fmnist_res21": 0.85})
    beats = claim["IndRNN beats an LSTM trained on the same task (IndRNN vs LSTM)"]
    assert "fmnist: accuracy 90.0% vs accuracy 80.0% ✓" in beats
    assert "y: accuracy 50.0% vs accuracy 70.0% ✗" in beats and "partly (1 of 2)" in beats
    deep = claim["deep IndRNNs (> 20 layers) train, and depth helps"]
    assert "res-IndRNN 21 layers accuracy 85.0% vs IndRNN accuracy 90.0% ✗" in deep
    assert "fmnist_indrnn: accuracy 90.0%" in claim[full_size]
    assert claim[full_size].endswith("| yes |")
    assert claim[permuted].endswith("not trained yet | no |")
    # the permuted claim is about the lead: 10 points in order, 25 permuted
    claim = _claims(table, tmp_path / "b", {"fmnist_indrnn": 0.9, "fmnist_lstm": 0.8,
                                            "pfmnist_indrnn": 0.85, "pfmnist_lstm": 0.6})
    assert claim[permuted].endswith("yes (the IndRNN's lead: +25.0 points permuted, "
                                    "+10.0 in order) |")
    claim = _claims(table, tmp_path / "c", {"fmnist_indrnn": 0.7, "fmnist_lstm": 0.8,
                                            "pfmnist_indrnn": 0.85})
    assert claim[full_size].endswith("| no (the LSTM leads by 10.0 points) |")
    assert claim[permuted].endswith("| partly (needs IndRNN and LSTM on both pixel orders) |")
    claim = _claims(table, tmp_path / "d", {"fmnist_indrnn": 0.9})
    assert claim[full_size].endswith("| partly (no IndRNN and LSTM pair yet) |")


def test_the_seed_spread_decides_a_twin_row_where_both_cards_hold_one(tmp_path):
    table = _script("models_table")
    beats = "IndRNN beats an LSTM trained on the same task (IndRNN vs LSTM)"
    # one seed each says the IndRNN wins; over seeds the gap is within noise
    claim = _claims(table, tmp_path / "tie", {"y_indrnn": 0.975, "y_lstm": 0.925},
                    {"y_indrnn": [0.975, 0.975, 0.9, 0.95], "y_lstm": [0.925, 1.0, 0.95, 0.975]})
    assert ("y: accuracy 97.5% vs accuracy 92.5% (over 4 training seeds 95.0 ± 3.5% vs "
            "96.2 ± 3.2%, a tie) =") in claim[beats]
    assert "partly (0 of 1; 1 within seed noise)" in claim[beats]
    # a gap larger than twice its standard error decides, whatever the shipped pair says
    claim = _claims(table, tmp_path / "behind", {"y_indrnn": 0.96, "y_lstm": 0.95},
                    {"y_indrnn": [0.93, 0.94, 0.93], "y_lstm": [0.96, 0.97, 0.965]})
    assert "3 training seeds 93.3 ± 0.6% vs 96.5 ± 0.5%, behind) ✗" in claim[beats]
    assert "partly (0 of 1)" in claim[beats]
    # a spread on one twin only: the single figures decide
    claim = _claims(table, tmp_path / "one", {"y_indrnn": 0.96, "y_lstm": 0.95},
                    {"y_indrnn": [0.93, 0.94, 0.93]})
    assert "y: accuracy 96.0% vs accuracy 95.0% ✓" in claim[beats] and "yes" in claim[beats]


def test_length_offset_splits_the_error_at_another_length_into_offset_and_rest():
    script = _script("length_offset")
    result = script.main(["models/adding100_indrnn", "--seq-len", "300", "--sequences", "40"])
    # the mean squared error is the squared offset plus the error's variance
    assert result["mse"] == pytest.approx(result["offset"] ** 2 + result["mse_without_offset"],
                                          rel=1e-4)
    assert result["mse_affine"] <= result["mse_without_offset"] + 1e-9
    with pytest.raises(SystemExit, match="not an adding-problem model"):
        script.main(["models/basicmotions_indrnn", "--seq-len", "300"])


def test_seed_spread_retrains_a_recipe_per_seed_reproducibly_and_writes_the_card(tmp_path):
    from dataclasses import replace

    from indrnn.recipes import RECIPES, get_recipe

    script = _script("seed_spread")
    short = replace(get_recipe("basicmotions-indrnn"), name="basicmotions-short", steps=30,
                    eval_every=10)
    RECIPES["basicmotions-short"] = lambda: short
    try:
        runs = [script.one_run("basicmotions-short", seed, None) for seed in (0, 1, 0)]
        wider = script.one_run("basicmotions-short", 0, 16)
    finally:
        del RECIPES["basicmotions-short"]
    assert "basicmotions-short-spread" not in RECIPES  # the temporary recipe is gone
    metric, best, test = runs[0]
    assert metric == "accuracy" and 0 <= test <= 1 and 0 <= best <= 1
    assert runs[2] == runs[0]  # the same seed trains to the same figures
    assert wider != runs[0]  # --width trains another model
    card = tmp_path / "basicmotions_indrnn.json"
    shutil.copy(ROOT / "models" / "basicmotions_indrnn.json", card)
    before = json.loads(card.read_text())
    figures = {"metric": metric, "seeds": [0, 1], "test": [test, runs[1][2]]}
    script.record_spread(card, figures)
    after = json.loads(card.read_text())
    assert after["card"]["metrics"]["seed_spread"] == figures
    before["card"]["metrics"]["seed_spread"] = figures
    assert after == before  # nothing else in the card changed
