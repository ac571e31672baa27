"""Shape handling shared by the recurrent layers: input checks, packed sequences, time reversal."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence


@dataclass
class TimeMajor:
    """An input brought to ``(T, B, D)``, with what is needed to give the output its caller's form.

    ``lengths`` (``(B,)``, on the CPU) is set for packed input, in the packed (sorted) order;
    ``packed_index`` selects the valid ``(t, b)`` rows of the flattened padded tensor, in packed
    order.
    """

    data: Tensor
    batch_first: bool
    unbatched: bool
    packed: PackedSequence | None = None
    lengths: Tensor | None = None
    packed_index: Tensor | None = None


def valid_steps(lengths: Tensor, steps: int) -> Tensor:
    """``(T, B)`` bool mask of the steps ``t < lengths[b]`` of right-padded time-major sequences,
    on ``lengths``' device."""
    return torch.arange(steps, device=lengths.device).unsqueeze(1) < lengths.unsqueeze(0)


def time_dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """Dropout of ``(T, B, N)`` with one mask per sequence, shared over time (as the paper)."""
    if not training or p == 0.0:
        return x
    return x * (x.new_empty(1, x.shape[1], x.shape[2]).bernoulli_(1.0 - p) / (1.0 - p))


def to_time_major(input: Tensor | PackedSequence, input_size: int, batch_first: bool,
                  dtype: torch.dtype, device: torch.device) -> TimeMajor:
    """Check ``input`` and bring it to ``(T, B, D)``.

    Raises
    ------
    ValueError
        Naming the expected and the given shape, dtype or device.
    """
    if isinstance(input, PackedSequence):
        data, batch_sizes = input.data, input.batch_sizes
        _check_features(data, input_size, "(sum of lengths, input_size)")
        _check_dtype_device(data, dtype, device)
        steps, batch = len(batch_sizes), int(batch_sizes[0])
        lengths = (batch_sizes.unsqueeze(0) > torch.arange(batch).unsqueeze(1)).sum(1)
        index = valid_steps(lengths, steps).flatten().nonzero().squeeze(1).to(data.device)
        padded = data.new_zeros(steps * batch, data.shape[-1]).index_copy(0, index, data)
        return TimeMajor(padded.view(steps, batch, -1), False, False, input, lengths, index)
    if not isinstance(input, Tensor):
        raise ValueError(f"input must be a Tensor or PackedSequence, got {type(input).__name__}")
    if input.dim() not in (2, 3):
        layout = "(B, T, input_size)" if batch_first else "(T, B, input_size)"
        raise ValueError(
            f"input must be {layout} or unbatched (T, input_size), got shape {tuple(input.shape)}"
        )
    _check_features(input, input_size, "(..., input_size)")
    _check_dtype_device(input, dtype, device)
    unbatched = input.dim() == 2
    data = input.unsqueeze(1) if unbatched else (input.transpose(0, 1) if batch_first else input)
    if data.shape[0] == 0 or data.shape[1] == 0:
        raise ValueError(
            f"input must hold at least one step and one sequence, got shape {tuple(input.shape)}"
        )
    return TimeMajor(data, batch_first, unbatched)


def from_time_major(output: Tensor, layout: TimeMajor) -> Tensor | PackedSequence:
    """Give a ``(T, B, F)`` output the form of the input described by ``layout``."""
    if layout.packed is not None:
        data = output.reshape(-1, output.shape[-1]).index_select(0, layout.packed_index)
        packed = layout.packed
        return PackedSequence(data, packed.batch_sizes, packed.sorted_indices,
                              packed.unsorted_indices)
    if layout.unbatched:
        return output.squeeze(1)
    return output.transpose(0, 1) if layout.batch_first else output


def reverse_time(x: Tensor, lengths: Tensor | None) -> Tensor:
    """Reverse ``(T, B, ...)`` in time, each sequence within its own length (padding stays last)."""
    if lengths is None:
        return x.flip(0)
    steps = x.shape[0]
    t = torch.arange(steps).unsqueeze(1)
    last = lengths.unsqueeze(0) - 1
    index = torch.where(t <= last, last - t, t).to(x.device)
    index = index.view(steps, -1, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(0, index)


def last_step(h: Tensor, lengths: Tensor | None) -> Tensor:
    """``(B, N)``: each sequence's state at its last valid step of ``(T, B, N)``."""
    if lengths is None:
        return h[-1]
    index = (lengths - 1).to(h.device).view(1, -1, 1).expand(1, h.shape[1], h.shape[2])
    return h.gather(0, index).squeeze(0)


def _check_features(x: Tensor, input_size: int, layout: str) -> None:
    if x.shape[-1] != input_size:
        raise ValueError(
            f"input must have input_size={input_size} features in its last dimension {layout}, "
            f"got shape {tuple(x.shape)}"
        )


def _check_dtype_device(x: Tensor, dtype: torch.dtype, device: torch.device) -> None:
    if x.dtype != dtype:
        raise ValueError(f"input dtype must be {dtype} (the layer's), got {x.dtype}")
    if x.device != device:
        raise ValueError(f"input must be on {device} (the layer's device), got {x.device}")
