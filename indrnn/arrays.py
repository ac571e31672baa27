"""NumPy copies (or views) of tensors and array-likes, on the CPU: the one conversion the
analyses and the figure builders share."""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import Tensor


def to_numpy(values: Tensor | np.ndarray | Any, dtype: Any = None) -> np.ndarray:
    """A NumPy array of a tensor (detached, on the CPU), array or sequence; ``dtype`` casts it
    (``None`` keeps the values' own)."""
    if isinstance(values, Tensor):
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=dtype)
