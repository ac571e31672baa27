"""Where models run: the GPU when one is present, else the CPU.

``INDRNN_DEVICE`` (``auto``, ``cpu``, ``cuda``, ``cuda:1``…) overrides the choice of
:func:`default_device`, e.g. ``INDRNN_DEVICE=cpu streamlit run app.py`` on a machine whose GPU is
busy. Analyses run a model on its own device and return their results on the CPU.
"""

from __future__ import annotations

import os
import platform

import torch
from torch import nn


def pick_device(name: str = "auto") -> torch.device:
    """``"auto"``: the first CUDA GPU when one is present, else the CPU; any other name as
    :class:`torch.device` reads it.

    Raises
    ------
    ValueError
        For a name torch does not know, or a CUDA device when none is present.
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ValueError(f"unknown device {name!r}: expected auto, cpu, cuda or cuda:N") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but this machine has no CUDA GPU")
    return device


def default_device() -> torch.device:
    """The device from ``INDRNN_DEVICE`` (default ``auto``), for the app and the CLIs."""
    return pick_device(os.environ.get("INDRNN_DEVICE", "auto").strip() or "auto")


def model_device(model: nn.Module) -> torch.device:
    """The device of ``model``'s first parameter (the CPU for a model without any)."""
    parameter = next(model.parameters(), None)
    return torch.device("cpu") if parameter is None else parameter.device


def device_name(device: torch.device) -> str:
    """``"NVIDIA H100 80GB HBM3"`` or ``"x86_64 CPU, 2 threads"``, for a caption or a card."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    # platform.machine(), not platform.processor(): on Linux the latter runs `uname -p`
    threads = torch.get_num_threads()
    return f"{platform.machine() or 'unknown'} CPU, {threads} thread{'s' * (threads != 1)}"


__all__ = ["default_device", "device_name", "model_device", "pick_device"]
