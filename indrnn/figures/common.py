"""What every figure shares: the template, colour scales, compact arrays and size accounting.

Figures are sent to the browser as JSON. Plotly encodes NumPy arrays as base64 typed arrays, so
their size is set by the number of values and their dtype: everything here is cast to float32
(:func:`compact`) and big matrices are reduced to at most :data:`MAX_COLUMNS` ×
:data:`MAX_ROWS` cells by the spike-preserving :func:`indrnn.analysis.downsample`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from indrnn.analysis.downsample import downsample
from indrnn.arrays import to_numpy

ArrayLike = Any  # a Tensor, a NumPy array or anything np.asarray takes

MAX_COLUMNS = 1000
MAX_ROWS = 256
MAX_POINTS = 2000
FIGURE_BUDGET = 1_500_000  # bytes of JSON per figure; a page shows at most ~3 big ones
SEQUENTIAL = "Viridis"
DIVERGING = "RdBu_r"  # blue negative, red positive
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
             "#000000")
MODEL_COLOURS = {"IndRNN": OKABE_ITO[0], "LSTM": OKABE_ITO[1]}

_AXIS = {"showgrid": True, "gridcolor": "#e6e6e6", "zeroline": False, "linecolor": "#444444",
         "ticks": "outside", "automargin": True}
TEMPLATE = go.layout.Template(layout={
    "font": {"family": "Inter, Helvetica, Arial, sans-serif", "size": 13, "color": "#222222"},
    "colorway": list(OKABE_ITO),
    "colorscale": {"sequential": SEQUENTIAL, "diverging": DIVERGING},
    "paper_bgcolor": "white", "plot_bgcolor": "white",
    "xaxis": _AXIS, "yaxis": _AXIS,
    "margin": {"l": 60, "r": 20, "t": 60, "b": 50},
    "hovermode": "closest",
    "legend": {"bgcolor": "rgba(255,255,255,0.6)"},
})
pio.templates["indrnn"] = TEMPLATE


def figure_bytes(fig: go.Figure) -> int:
    """Size of a figure as sent to the browser: ``len(fig.to_json())``.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure

    Returns
    -------
    int
    """
    return len(fig.to_json())


def series_colours(names: Sequence[str]) -> dict[str, str]:
    """A colour per series: warm Okabe–Ito colours for names with "LSTM" in them, cool ones for
    the rest (IndRNN layers), so the two models stay apart in every figure. A layer keeps its
    colour on every page: a name ending in a number (``body.l3``, ``LSTM body.l0``) takes the
    colour of that number, whichever other layers a figure shows."""
    warm, cool = [OKABE_ITO[i] for i in (1, 5, 6)], [OKABE_ITO[i] for i in (0, 2, 3, 4, 7)]
    colours, counts = {}, [0, 0]
    for name in names:
        lstm = "lstm" in name.lower()
        pool = warm if lstm else cool
        number = re.search(r"(\d+)\D*$", name)
        colours[name] = pool[(int(number.group(1)) if number else counts[lstm]) % len(pool)]
        counts[lstm] += 1
    return colours


def compact(values: ArrayLike, digits: int = 4) -> np.ndarray:
    """``values`` rounded to ``digits`` significant digits, as float32 (non-finite kept).

    Examples
    --------
    >>> compact([123456.0, -1.23456]).tolist()
    [123500.0, -1.2350000143051147]
    """
    a = to_numpy(values, np.float64)
    with np.errstate(all="ignore"):
        ok = np.isfinite(a) & (a != 0)
        exponent = np.floor(np.log10(np.where(ok, np.abs(a), 1.0)))
        scale = 10.0 ** (digits - 1 - exponent)
        out = np.where(ok, np.round(a * scale) / scale, a)
    return out.astype(np.float32)


def styled(fig: go.Figure, title: str, x_title: str | None = None, y_title: str | None = None,
           height: int | None = None) -> go.Figure:
    """Apply the common template, the title and the axis titles; returns ``fig``."""
    fig.update_layout(template=TEMPLATE, title={"text": title, "x": 0.01}, height=height)
    if x_title is not None:
        fig.update_xaxes(title_text=x_title)
    if y_title is not None:
        fig.update_yaxes(title_text=y_title)
    return fig


def by_name(values: ArrayLike | Mapping[str, ArrayLike], default: str = "") -> dict[str, Any]:
    """A mapping of name to values: a mapping as it is, anything else under ``default``."""
    return dict(values) if isinstance(values, Mapping) else {default: values}


@dataclass
class Grid:
    """A matrix reduced for a heatmap.

    Attributes
    ----------
    z : numpy.ndarray
        ``(n, m)`` float32 cells.
    x : numpy.ndarray
        ``(m,)`` first step of each column's bucket.
    rows : numpy.ndarray
        ``(n,)`` first row (of the input) of each row's group.
    bucket, group : int
        Largest number of steps per column and of input rows per row.
    """

    z: np.ndarray
    x: np.ndarray
    rows: np.ndarray
    bucket: int
    group: int


def reduce_matrix(matrix: ArrayLike, max_columns: int = MAX_COLUMNS, max_rows: int = MAX_ROWS,
                  how: str = "max") -> Grid:
    """Shrink a ``(N, T)`` matrix to at most ``max_rows × max_columns`` keeping extremes.

    Parameters
    ----------
    matrix : array-like
        ``(N, T)`` rows (neurons) × steps (or lags).
    max_columns, max_rows : int
        Bounds on the result's shape.
    how : {"max", "min", "peak"}
        Per bucket the maximum, the minimum or the value of largest magnitude (signed data).
    """
    if how not in ("max", "min", "peak"):
        raise ValueError(f"how must be 'max', 'min' or 'peak', got {how!r}")
    pick = {"max": "maximum", "min": "minimum", "peak": "peak"}[how]
    cols = downsample(to_numpy(matrix, np.float64), max_columns)
    z = getattr(cols, pick)
    rows, group = np.arange(z.shape[0]), 1
    if z.shape[0] > max_rows:
        grouped = downsample(z.T, max_rows)
        z, rows = getattr(grouped, pick).T, grouped.starts
        group = int((grouped.ends - grouped.starts).max())
    return Grid(compact(z), cols.starts, rows, int((cols.ends - cols.starts).max()), group)


def envelope(values: ArrayLike, max_points: int = MAX_POINTS,
             start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A line of at most ``max_points`` points that keeps every bucket's maximum and minimum.

    Parameters
    ----------
    values : array-like
        ``(T,)`` one value per step.
    max_points : int
        Up to this many points (two per bucket once ``T`` exceeds it).
    start : int
        Step number of ``values[0]``.

    Returns
    -------
    x, y : numpy.ndarray
        Step numbers and float32 values.
    """
    v = to_numpy(values, np.float64).reshape(-1)
    if len(v) <= max_points:
        return np.arange(start, start + len(v)), compact(v)
    cols = downsample(v[None], max(1, max_points // 2))
    x = np.stack([cols.starts, cols.ends - 1], 1).reshape(-1) + start
    y = np.stack([cols.maximum[0], cols.minimum[0]], 1).reshape(-1)
    return x, compact(y)


def log_ticks(low: float, high: float) -> tuple[list[float], list[str]]:
    """Tick positions and labels for an axis holding ``log10`` values from ``low`` to ``high``."""
    first, last = int(np.floor(low)), int(np.ceil(high))
    exponents = list(range(first, max(last, first) + 1))
    labels = [f"{10.0 ** k:g}" if -3 <= k <= 4 else f"1e{k}" for k in exponents]
    return [float(k) for k in exponents], labels


def finite_range(values: ArrayLike, signed: bool | None = None) -> tuple[float, float, bool]:
    """``(low, high, signed)`` of the finite values; symmetric around 0 when signed.

    ``signed`` is read off the data (any negative value) when ``None``.
    """
    v = to_numpy(values, np.float64)
    v = v[np.isfinite(v)]
    if signed is None:
        signed = bool(v.size and v.min() < 0)
    if not v.size:
        return (-1.0, 1.0, signed) if signed else (0.0, 1.0, signed)
    if signed:
        reach = float(np.abs(v).max()) or 1.0
        return -reach, reach, True
    low, high = float(v.min()), float(v.max())
    return low, (high if high > low else low + 1.0), False


#: Percentile of the non-zero magnitudes a heatmap's colours span when a few values dwarf them.
ROBUST_PERCENTILE = 99.5
#: Clip only when the extreme exceeds the percentile by this factor (else show the full range).
OUTLIER_FACTOR = 1.5


def robust_range(values: ArrayLike, signed: bool | None = None,
                 percentile: float = ROBUST_PERCENTILE) -> tuple[float, float, bool, str]:
    """Colour limits that outliers do not take over: :func:`finite_range`, but cut at the
    ``percentile`` of the non-zero magnitudes when the extreme is more than
    :data:`OUTLIER_FACTOR` times that.

    Returns
    -------
    low, high, signed, note
        ``note`` says the clipping for the colour bar ("" when nothing is clipped).
    """
    low, high, signed = finite_range(values, signed)
    v = to_numpy(values, np.float64)
    v = np.abs(v[np.isfinite(v) & (v != 0)])
    if v.size < 20:
        return low, high, signed, ""
    cut = float(np.percentile(v, percentile))
    extreme = max(abs(low), abs(high))
    if cut <= 0 or extreme <= OUTLIER_FACTOR * cut:
        return low, high, signed, ""
    note = f"clipped at {cut:.3g} ({percentile:g}th pct.; max {extreme:.3g})"
    if signed:
        return -cut, cut, True, note
    return low, max(cut, low + 1e-12), False, note
