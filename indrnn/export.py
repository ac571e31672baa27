"""What the app lets a user take away: a run as NPZ, tables as CSV, a view as a link.

Plain functions, no Streamlit: arrays and analysis results in, ``bytes`` or ``str`` out.

* :func:`recording_arrays` / :func:`recording_npz`: every recorded tensor of an
  :class:`~indrnn.run.Run` under a flat key (``inputs``, ``lengths``, ``outputs``,
  ``body.l0/hidden``, ``body.l0/preactivation``, ``body.l1/forget_gate``…), as a compressed
  NPZ that :func:`numpy.load` reads with ``allow_pickle=False``.
* :func:`table_csv`: named columns as CSV text (:mod:`csv`), with the column builders
  :func:`neuron_table_columns`, :func:`memory_columns` and :func:`match_columns`.
* :func:`query_string`: a view's URL query parameters (``model``, ``source``, ``example``,
  ``layer``, ``neuron``, ``sequence``) as the text after ``?``.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import numpy as np
import torch

from indrnn.data.text import visible

__all__ = [
    "file_stem",
    "match_columns",
    "memory_columns",
    "neuron_table_columns",
    "query_string",
    "recording_arrays",
    "recording_contents",
    "recording_npz",
    "table_csv",
]

_NUMERIC = "biuf"  # bool, signed and unsigned integers, floats


def file_stem(name: str) -> str:
    """A model name made safe as the start of a download's file name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "model"


def _numeric(key: str, value: Any) -> np.ndarray:
    """``value`` as a NumPy array of bools, integers or floats; anything else is refused."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.dtype == torch.bfloat16:
            value = value.float()
        value = value.numpy()
    array = np.asarray(value)
    if array.dtype.kind not in _NUMERIC:
        raise TypeError(f"{key!r} is not a numeric array (dtype {array.dtype}); an NPZ of a "
                        "recording holds numbers only, so it loads without pickle")
    return np.ascontiguousarray(array)


def _recorded(run: Any) -> list[tuple[str, Any]]:
    """``(key, tensor)`` of every array of a run, in archive order; keys are unique."""
    items = [("inputs", run.inputs), ("lengths", run.lengths),
             ("outputs", run.output)]
    for name, layer in run.layers.items():
        items.append((f"{name}/hidden", layer.hidden))
        items += [(f"{name}/{key}", value) for key, value in layer.tensors.items()]
    keys = [key for key, _ in items]
    if len(set(keys)) != len(keys):
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        raise ValueError(f"two arrays would be stored under {repeated}")
    return items


def recording_arrays(run: Any) -> dict[str, np.ndarray]:
    """Every tensor of a run under a flat key, as NumPy arrays.

    Parameters
    ----------
    run : Run
        A run of :func:`indrnn.run.run_model` (or anything with ``inputs``,
        ``lengths``, ``output`` and ``layers`` of :class:`~indrnn.record.LayerRecord`).

    Returns
    -------
    dict of str to numpy.ndarray
        ``inputs`` (batch-first ``(B, T, C)`` or token ids ``(B, T)``), ``lengths`` ``(B,)``,
        ``outputs`` (the readout), and per recorded layer ``LAYER/hidden`` ``(T, B, N)`` and
        ``LAYER/KEY`` for each of its other tensors (IndRNN: ``preactivation``,
        ``input_projection``, ``recurrent_weight`` ``(N,)``; LSTM: the gates and ``cell``).
    """
    return {key: _numeric(key, value) for key, value in _recorded(run)}


def recording_contents(run: Any) -> list[dict[str, Any]]:
    """What :func:`recording_npz` would hold, without copying anything: one row per array
    with its ``key``, ``shape``, ``dtype`` and uncompressed ``bytes``."""
    rows = []
    for key, value in _recorded(run):
        if isinstance(value, torch.Tensor):
            dtype, size = str(value.dtype).removeprefix("torch."), value.numel()
            nbytes = size * value.element_size()
        else:
            array = np.asarray(value)
            dtype, nbytes = str(array.dtype), array.nbytes
        rows.append({"key": key, "shape": tuple(value.shape), "dtype": dtype, "bytes": nbytes})
    return rows


def recording_npz(run: Any) -> bytes:
    """A run as the bytes of a compressed NPZ (:func:`numpy.savez_compressed`).

    Keys as :func:`recording_arrays`; every array is numeric, so
    ``numpy.load(file, allow_pickle=False)`` reads it back.
    """
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **recording_arrays(run))
    return buffer.getvalue()


def _cell(value: Any) -> str | int | float:
    """One CSV cell: numbers at full precision (``repr``), NaN and ±inf as Python spells them."""
    if isinstance(value, np.generic | torch.Tensor):
        value = value.item()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)  # nan, inf, -inf
    if value is None:
        return ""
    return str(value)


def _column(name: str, values: Any) -> list[Any]:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    if isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise ValueError(f"column {name!r} must be one-dimensional, got shape {values.shape}")
        return values.tolist()
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise TypeError(f"column {name!r} must be a sequence of values, got "
                        f"{type(values).__name__}")
    return list(values)


def table_csv(columns: Mapping[str, Any]) -> str:
    """Named columns of equal length as CSV text: a header row, then one row per index.

    Parameters
    ----------
    columns : mapping of str to array-like
        One-dimensional arrays, tensors or lists (numbers, bools, strings; ``None`` is an
        empty cell).

    Returns
    -------
    str
        CSV (:mod:`csv`, ``\\n`` line ends); floats are written with ``repr`` so they read
        back exactly, booleans as 0/1.
    """
    names = list(columns)
    if not names:
        raise ValueError("a table needs at least one column")
    values = [_column(name, columns[name]) for name in names]
    sizes = {name: len(v) for name, v in zip(names, values)}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"columns differ in length: {sizes}")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    for row in zip(*values):
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()


def neuron_table_columns(table: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`indrnn.views.neurons.neuron_table` as columns, a ``neuron`` index first.

    Columns: ``neuron``, ``u``, ``tau``, ``half_life``, ``mean``, ``fraction_active`` and
    ``readout`` (NaN where a fact does not apply, e.g. u of an LSTM unit).
    """
    arrays = {key: _numeric(key, value).reshape(-1) for key, value in table.items()}
    sizes = {len(a) for a in arrays.values()}
    if len(sizes) != 1:
        raise ValueError(f"the table's columns differ in length: {sizes}")
    return {"neuron": np.arange(sizes.pop()), **arrays}


def memory_columns(memories: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Per-neuron memory of every layer as columns, one row per (layer, neuron).

    Parameters
    ----------
    memories : mapping of layer name to IndRNNLayerMemory or LSTMLayerMemory
        From :func:`indrnn.analysis.indrnn_memory` (u, τ, half-life, flags) or
        :func:`indrnn.analysis.lstm_memory` (mean forget gate, τ, half-life).

    Returns
    -------
    dict of str to list
        ``layer``, ``kind``, ``neuron``, ``u`` (IndRNN) / ``mean_forget`` (LSTM), ``tau``,
        ``half_life``, then one 0/1 column per IndRNN flag (``dead``, ``sign_flipping``…; empty
        for LSTM rows).
    """
    flag_names: list[str] = []
    for memory in memories.values():
        flags = getattr(memory, "flags", None)
        for name in ([] if flags is None else flags.as_dict()):
            if name not in flag_names:
                flag_names.append(name)
    out: dict[str, list[Any]] = {name: [] for name in (
        "layer", "kind", "neuron", "u", "mean_forget", "tau", "half_life", *flag_names)}
    for layer, memory in memories.items():
        is_lstm = hasattr(memory, "mean_forget")
        tau = _numeric("tau", memory.tau).reshape(-1)
        count = len(tau)
        nan = [float("nan")] * count
        out["layer"] += [layer] * count
        out["kind"] += ["lstm" if is_lstm else "indrnn"] * count
        out["neuron"] += list(range(count))
        out["u"] += nan if is_lstm else _numeric("u", memory.u).reshape(-1).tolist()
        out["mean_forget"] += (_numeric("mean_forget", memory.mean_forget).reshape(-1).tolist()
                               if is_lstm else nan)
        out["tau"] += tau.tolist()
        out["half_life"] += _numeric("half_life", memory.half_life).reshape(-1).tolist()
        flags = {} if is_lstm else memory.flags.as_dict()
        for name in flag_names:
            out[name] += (_numeric(name, flags[name]).reshape(-1).astype(int).tolist()
                          if name in flags else [None] * count)
    return out


def match_columns(matches: Sequence[Any], text: str | Sequence[str] | None = None,
                  sequence_ids: Sequence[int] | None = None) -> dict[str, list[Any]]:
    """Pattern matches (:func:`indrnn.analysis.find_pattern`) as table columns, in their order.

    Parameters
    ----------
    matches : sequence of PatternMatch
    text : str or sequence of str, optional
        The characters of the sequence (or of each sequence): adds a ``text`` column with the
        matched characters, whitespace visible (``⏎``, ``⇥``, ``␣``).
    sequence_ids : sequence of int, optional
        What to call each sequence (e.g. :attr:`indrnn.run.Run.source_indices`,
        its index in the test split); its position in the batch by default.

    Returns
    -------
    dict of str to list
        ``rank``, ``sequence``, ``start``, ``end`` (steps ``[start, end)``), ``steps`` and
        ``score`` (the weakest neuron's mean margin over the threshold), and ``text``.
    """
    out: dict[str, list[Any]] = {"rank": [], "sequence": [], "start": [], "end": [],
                                 "steps": [], "score": []}
    if text is not None:
        out["text"] = []
    for rank, match in enumerate(matches, 1):
        out["rank"].append(rank)
        out["sequence"].append(int(match.sequence if sequence_ids is None
                                   else sequence_ids[int(match.sequence)]))
        out["start"].append(int(match.start))
        out["end"].append(int(match.end))
        out["steps"].append(int(match.end - match.start))
        out["score"].append(float(match.score))
        if text is not None:
            source = text if isinstance(text, str) else text[match.sequence]
            out["text"].append(visible(source[match.start : match.end], spaces=True))
    return out


def query_string(params: Mapping[str, Any]) -> str:
    """URL query parameters as the text after ``?`` (:func:`urllib.parse.urlencode`).

    Values may be strings, numbers or lists of them (a key repeated per item); ``None`` values
    are left out. :func:`urllib.parse.parse_qs` reads the result back.

    Examples
    --------
    >>> query_string({"model": "adding100_indrnn", "layer": "body.l0", "neuron": 7})
    'model=adding100_indrnn&layer=body.l0&neuron=7'
    """
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None:
            continue
        items = value if isinstance(value, list | tuple) else [value]
        pairs += [(str(key), str(item)) for item in items]
    return urlencode(pairs)
