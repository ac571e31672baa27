"""Process settings that keep torch fast on a shared CPU, applied when :mod:`indrnn` is imported.

``import indrnn`` gives two settings, unless ``INDRNN_RUNTIME_DEFAULTS=0`` is set:

``OMP_WAIT_POLICY=PASSIVE`` (unless the environment names a policy already)
    OpenMP's threads otherwise spin between parallel regions, waiting for work. With a second
    busy process on the same cores (another app session's worker, a training job) each spinning
    thread holds a core the other process needs, and small multi-threaded ops stall until the
    scheduler rotates. Passive threads sleep instead. OpenMP reads this once, when torch loads:
    if torch was imported before indrnn, it is left as it was.
glibc keeps large freed blocks for reuse (``mallopt``; Linux with glibc only)
    By default glibc returns every freed block over a few MB to the kernel, so each new
    ``(T, B, N)`` tensor of a long sequence is faulted in again, 4 kB at a time, which was most of
    the recurrence kernel's time. Blocks up to 1 GB are now taken from and returned to the heap,
    and up to 1 GB of free heap is kept: the process holds its peak memory longer. (Transparent
    huge pages, torch's ``THP_MEM_ALLOC_ENABLE``, were tried instead: 2-4x faster on 400 MB
    tensors, 3-4x slower on 20 MB ones.)

``bench/bench_neighbour.py`` and ``bench/bench_kernel.py`` measure both; their figures are in
``bench/RESULTS.md``. :func:`applied` says what this process runs with.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys

OPT_OUT_ENV = "INDRNN_RUNTIME_DEFAULTS"
ENVIRONMENT = {"OMP_WAIT_POLICY": "PASSIVE"}
# glibc's mallopt parameters and the values given to them.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
KEPT_BYTES = 1 << 30

_state: dict[str, object] = {}


def _keep_freed_memory() -> bool:
    if sys.platform != "linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, KEPT_BYTES)
                    and libc.mallopt(_M_TRIM_THRESHOLD, KEPT_BYTES))
    except (OSError, AttributeError):
        return False


def apply_defaults() -> dict[str, object]:
    """Give this process the settings above (once); returns :func:`applied`."""
    if _state:
        return applied()
    opted_out = os.environ.get(OPT_OUT_ENV, "1") == "0"
    torch_loaded = "torch" in sys.modules
    if not opted_out and not torch_loaded:
        for key, value in ENVIRONMENT.items():
            os.environ.setdefault(key, value)
    _state.update({key: None if torch_loaded else os.environ.get(key) for key in ENVIRONMENT})
    _state["freed_memory_kept"] = not opted_out and _keep_freed_memory()
    return applied()


def applied() -> dict[str, object]:
    """What this process runs with: each environment setting as torch read it (``None``: not
    set, or torch was loaded before indrnn and read an environment indrnn did not see), and
    ``freed_memory_kept``, whether glibc keeps large freed blocks for reuse."""
    return dict(_state)
