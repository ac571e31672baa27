"""Character-level language modelling on a pinned snapshot of the CPython standard library.

Data: ``data/cpython_stdlib.txt.xz`` holds the bytes of 211 ``*.py`` files of the CPython 3.11.7
standard library (about 3.0 MB of text; tests, ``site-packages``, generated tables and files over
120 kB left out), and ``data/cpython_stdlib.json`` the manifest: the Python version, the
selection rules, and per file its path, byte offset, size, sha256 and split. Both were written
once by ``scripts/snapshot_cpython_stdlib.py``; the library never reads the machine's own stdlib,
so the data do not change with the Python that runs it. :func:`load_snapshot` checks every file's
sha256 against the manifest.

Splits are by whole files (no file is in two splits): about 90 / 5 / 5 % of the characters for
train / valid / test, fixed in the manifest. A split's text is its files concatenated as they are
(each ends in a newline), in path order.

Vocabulary (:data:`VOCAB`, 98 symbols, fixed, never learned from the data): index 0 is the
unknown symbol, 1 is tab, 2 is newline, 3..97 the printable ASCII characters ``' '`` (32) to
``'~'`` (126) in code-point order. Every other character (carriage return, form feed, any
non-ASCII character; 11 characters in the whole snapshot) is encoded as the unknown symbol, which
decodes to U+FFFD.

Layout: a split is a 1-D int64 tensor of symbol ids. :func:`bptt_batches` and
:func:`random_windows` cut batch-first ``(B, T + 1)`` windows: inputs ``w[:, :-1]``, targets
``w[:, 1:]``. Loss in nats per character -> :func:`bits_per_char`.
"""

from __future__ import annotations

import hashlib
import json
import lzma
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from indrnn.data.base import DataError, TaskInfo, data_file
from indrnn.data.tracks import past_the_end, text_tracks, time_track

ARCHIVE = "cpython_stdlib.txt.xz"
MANIFEST = "cpython_stdlib.json"
SPLITS = ("train", "valid", "test")
UNKNOWN = "\ufffd"  #: what the unknown symbol decodes to


class Vocabulary:
    """The fixed character set: unknown, tab, newline, then printable ASCII 32..126.

    Attributes
    ----------
    chars : tuple of str
        Symbol ``i`` is ``chars[i]``; ``chars[0]`` is :data:`UNKNOWN`.
    unk_index : int
        0.
    """

    def __init__(self) -> None:
        self.chars: tuple[str, ...] = (UNKNOWN, "\t", "\n", *map(chr, range(32, 127)))
        self.unk_index = 0
        self._lookup = np.zeros(128, dtype=np.int64)  # code point < 128 -> id; others unknown
        for index, char in enumerate(self.chars[1:], start=1):
            self._lookup[ord(char)] = index

    def __len__(self) -> int:
        return len(self.chars)

    @property
    def size(self) -> int:
        """Number of symbols (98)."""
        return len(self.chars)

    def encode(self, text: str) -> torch.Tensor:
        """Text -> int64 ids ``(len(text),)``; characters outside the set -> ``unk_index``."""
        codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
        ids = self._lookup[np.minimum(codes, 127)]
        ids[codes > 127] = self.unk_index
        return torch.from_numpy(ids)

    def decode(self, ids: torch.Tensor | Sequence[int] | np.ndarray) -> str:
        """Ids -> text (the unknown symbol becomes U+FFFD)."""
        values = np.asarray(ids.cpu() if isinstance(ids, torch.Tensor) else ids).reshape(-1)
        if values.size and (values.min() < 0 or values.max() >= len(self.chars)):
            raise ValueError(f"ids must lie in [0, {len(self.chars)}), got "
                             f"{values.min()}..{values.max()}")
        return "".join(self.chars[i] for i in values.tolist())


VOCAB = Vocabulary()


def encode(text: str) -> torch.Tensor:
    """Encode with :data:`VOCAB` (see :meth:`Vocabulary.encode`)."""
    return VOCAB.encode(text)


def decode(ids: torch.Tensor | Sequence[int] | np.ndarray) -> str:
    """Decode with :data:`VOCAB` (see :meth:`Vocabulary.decode`)."""
    return VOCAB.decode(ids)


def visible(text: str, spaces: bool = False) -> str:
    """``text`` for a one-line table cell: line breaks as ⏎, tabs as ⇥ and, with ``spaces``,
    spaces as ␣ (so that a match or a firing on whitespace shows what it is)."""
    text = text.replace("\r", "").replace("\n", "⏎").replace("\t", "⇥")
    return text.replace(" ", "␣") if spaces else text


def bits_per_char(loss_nats: float | torch.Tensor) -> float | torch.Tensor:
    """Cross-entropy in nats per character -> bits per character (divide by ln 2).

    Parameters
    ----------
    loss_nats : float or torch.Tensor
        Mean ``F.cross_entropy`` loss (natural log) per character.

    Returns
    -------
    float or torch.Tensor
        The same in bits (the IndRNN paper reports 1.26 BPC on character-level PTB).
    """
    return loss_nats / math.log(2.0)


def load_snapshot(verify: bool = True) -> tuple[dict[str, Any], dict[str, str]]:
    """Read the committed snapshot and its manifest.

    Parameters
    ----------
    verify : bool
        Check the whole text's and every file's size and sha256 against the manifest.

    Returns
    -------
    manifest : dict
        The parsed ``cpython_stdlib.json``.
    texts : dict
        File path (relative to the stdlib) -> its text, in manifest order.

    Raises
    ------
    DataError
        Missing files, or content that does not match the manifest.
    """
    manifest_path = data_file(MANIFEST)
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    archive = data_file(manifest.get("archive", ARCHIVE))
    try:
        blob = lzma.decompress(archive.read_bytes())
    except lzma.LZMAError as error:
        raise DataError(f"{archive}: corrupt xz data ({error})") from error
    if verify and (len(blob) != manifest["total_bytes"]
                   or hashlib.sha256(blob).hexdigest() != manifest["sha256"]):
        raise DataError(f"{archive}: content differs from {manifest_path} (size or sha256)")
    texts: dict[str, str] = {}
    for entry in manifest["files"]:
        data = blob[entry["offset"]: entry["offset"] + entry["bytes"]]
        if verify and (len(data) != entry["bytes"]
                       or hashlib.sha256(data).hexdigest() != entry["sha256"]):
            raise DataError(f"{archive}: {entry['path']} differs from its manifest entry")
        if entry["split"] not in SPLITS:
            raise DataError(f"{manifest_path}: {entry['path']} has unknown split {entry['split']}")
        texts[entry["path"]] = data.decode(manifest.get("encoding", "utf-8"))
    return manifest, texts


@dataclass(frozen=True)
class TextData:
    """A character-level language-modelling task.

    Attributes
    ----------
    info : TaskInfo
        ``output_kind="per_step_lm"``, vocabulary size, provenance.
    vocab : Vocabulary
        The symbol set.
    train, valid, test : torch.Tensor
        int64 ``(n_chars,)`` symbol ids of each split's concatenated files.
    files : dict
        Split name -> the file paths in it, in concatenation order.
    manifest : dict
        The snapshot's manifest.
    """

    info: TaskInfo
    vocab: Vocabulary
    train: torch.Tensor
    valid: torch.Tensor
    test: torch.Tensor
    files: dict[str, tuple[str, ...]]
    manifest: dict[str, Any] = field(repr=False)
    extras: dict[str, Any] = field(default_factory=dict)

    def annotation_tracks(self, inputs: torch.Tensor, lengths: torch.Tensor | None = None,
                          ) -> dict[str, np.ndarray]:
        """The step index and the code's structure (:func:`~indrnn.data.tracks.code_tracks`)
        of each sequence of character ids ``(B, T)``."""
        steps = inputs.shape[1]
        counts = [steps] * len(inputs) if lengths is None else lengths.tolist()
        texts = [decode(row[: int(n)]) for row, n in zip(inputs, counts)]
        tracks = {"time step": time_track(steps, len(inputs)), **text_tracks(texts, steps)}
        return past_the_end(tracks, lengths)

    def events(self, inputs: torch.Tensor) -> list[tuple[int, str]]:
        """Text is shown as text: no steps to mark."""
        return []


def load_cpython_chars(verify: bool = True) -> TextData:
    """The CPython standard-library character task (see the module docstring).

    Parameters
    ----------
    verify : bool
        Check sizes and sha256 against the manifest (about 10 ms).

    Returns
    -------
    TextData
    """
    manifest, texts = load_snapshot(verify)
    split_of = {entry["path"]: entry["split"] for entry in manifest["files"]}
    files = {s: tuple(p for p in texts if split_of[p] == s) for s in SPLITS}
    streams = {s: VOCAB.encode("".join(texts[p] for p in files[s])) for s in SPLITS}
    counts = torch.bincount(streams["train"], minlength=VOCAB.size).double() + 1.0
    log2p = torch.log2(counts / counts.sum())
    unigram = -log2p[streams["test"]].mean().item()
    provenance = (
        f"CPython {manifest['python_version']} standard library source "
        f"({len(texts)} *.py files, {manifest['total_bytes']} bytes, "
        f"{manifest['license']}); pinned snapshot data/{ARCHIVE} + data/{MANIFEST} "
        f"(sha256 {manifest['sha256']}) made by scripts/snapshot_cpython_stdlib.py; split by "
        f"whole files: {', '.join(f'{s} {len(files[s])} files' for s in SPLITS)}")
    info = TaskInfo(
        name="cpython_chars", output_kind="per_step_lm", input_size=VOCAB.size,
        output_size=VOCAB.size, num_classes=VOCAB.size, seq_len=None, variable_length=False,
        channel_names=("char",), class_names=VOCAB.chars,
        preprocessing=("characters -> ids of a fixed 98-symbol set: 0 unknown (anything but tab, "
                       "newline, printable ASCII 32..126), 1 tab, 2 newline, 3.. ASCII 32..126; "
                       "files concatenated as they are"),
        provenance=provenance, splits={s: len(streams[s]) for s in SPLITS},
        baseline=(f"{math.log2(VOCAB.size):.2f} bits/char uniform; {unigram:.2f} bits/char "
                  "on test with train unigram frequencies"))
    return TextData(info, VOCAB, streams["train"], streams["valid"], streams["test"], files,
                    manifest)


def bptt_batches(tokens: torch.Tensor, batch_size: int, seq_len: int, *,
                 seed: int | None = None) -> Iterator[torch.Tensor]:
    """Consecutive windows for truncated backpropagation through time.

    The stream (after dropping its first ``offset`` symbols) is cut into ``batch_size``
    contiguous lanes of equal length (the remainder dropped); window ``k`` is
    ``lanes[:, k*T : k*T + T + 1]``, so window ``k + 1`` continues where window ``k`` ends and a
    model may carry its state over (detached) between windows. Incomplete last windows are dropped.

    Parameters
    ----------
    tokens : torch.Tensor
        int64 ``(n,)`` symbol ids (a split of :class:`TextData`).
    batch_size : int
        Lanes B.
    seq_len : int
        Steps T per window (windows hold T + 1 symbols).
    seed : int, optional
        If given, ``offset`` is drawn from ``[0, T)`` with ``torch.Generator().manual_seed(seed)``
        (use e.g. the epoch number to shift window boundaries between epochs); else 0.

    Yields
    ------
    torch.Tensor
        int64 ``(B, T + 1)``: inputs ``w[:, :-1]``, targets ``w[:, 1:]``.
    """
    if batch_size < 1 or seq_len < 1:
        raise ValueError(f"need batch_size >= 1 and seq_len >= 1, got {batch_size}, {seq_len}")
    offset = 0
    if seed is not None:
        generator = torch.Generator().manual_seed(seed)
        offset = int(torch.randint(0, seq_len, (1,), generator=generator))
    usable = tokens[offset:]
    lane = usable.shape[0] // batch_size
    lanes = usable[: lane * batch_size].view(batch_size, lane)
    for start in range(0, lane - seq_len, seq_len):
        yield lanes[:, start: start + seq_len + 1]


def random_windows(tokens: torch.Tensor, batch_size: int, seq_len: int,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """``batch_size`` windows of ``seq_len + 1`` symbols at independent random starts.

    Parameters
    ----------
    tokens : torch.Tensor
        int64 ``(n,)`` symbol ids, ``n > seq_len``.
    batch_size, seq_len : int
        B and T.
    generator : torch.Generator, optional
        Where the starts are drawn from (uniform over ``[0, n - T - 1]``); a generator seeded the
        same way gives the same windows.

    Returns
    -------
    torch.Tensor
        int64 ``(B, T + 1)``.
    """
    n = tokens.shape[0]
    if n <= seq_len:
        raise ValueError(f"need more than seq_len={seq_len} symbols, got {n}")
    starts = torch.randint(0, n - seq_len, (batch_size,), generator=generator)
    return tokens[starts.unsqueeze(1) + torch.arange(seq_len + 1)]
