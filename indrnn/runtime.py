"""Process settings that keep torch fast on a shared CPU, applied when :mod:`indrnn` is imported.

Two settings are read once per process, when torch loads OpenMP or first allocates memory, so
they can only be given before ``import torch``. ``import indrnn`` gives them, unless the user set
them already, torch was imported first, or ``INDRNN_RUNTIME_DEFAULTS=0`` is set:

``OMP_WAIT_POLICY=PASSIVE``
    OpenMP's threads otherwise spin between parallel regions, waiting for work. With a second
    busy process on the same cores (another app session's worker, a training job) each spinning
    thread holds a core the other process needs, and every small multi-threaded op stalls until
    the scheduler rotates: measured 20-130x slower. Passive threads sleep instead.
``THP_MEM_ALLOC_ENABLE=1``
    torch then backs allocations of 2 MB and more with transparent huge pages (where the kernel
    allows it, ``/sys/kernel/mm/transparent_hugepage/enabled`` is ``madvise`` or ``always``).
    Every fresh ``(T, B, N)`` output is otherwise faulted in 4 kB at a time, which was most of
    the recurrence kernel's time on long sequences.

``bench/bench_neighbour.py`` and ``bench/bench_recurrence.py`` measure both; their figures are in
``bench/RESULTS.md``. :func:`applied` tells which settings this process runs with.
"""

from __future__ import annotations

import os
import sys

OPT_OUT_ENV = "INDRNN_RUNTIME_DEFAULTS"
DEFAULTS = {"OMP_WAIT_POLICY": "PASSIVE", "THP_MEM_ALLOC_ENABLE": "1"}

# The environment as torch read it, when indrnn was imported before torch.
_AT_TORCH_IMPORT: dict[str, str | None] = {}


def apply_defaults() -> dict[str, str]:
    """Set each of :data:`DEFAULTS` the environment does not already name, if torch is not
    loaded yet; returns the ones this call set."""
    if "torch" in sys.modules:
        return {}
    given = {} if os.environ.get(OPT_OUT_ENV, "1") == "0" else {
        key: value for key, value in DEFAULTS.items() if key not in os.environ}
    os.environ.update(given)
    _AT_TORCH_IMPORT.update({key: os.environ.get(key) for key in DEFAULTS})
    return given


def applied() -> dict[str, str | None] | None:
    """Each setting of :data:`DEFAULTS` as torch read it in this process (``None``: torch's own
    default), or ``None`` altogether when torch was imported before indrnn and read an
    environment indrnn did not see."""
    return dict(_AT_TORCH_IMPORT) if _AT_TORCH_IMPORT else None
