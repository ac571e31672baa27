"""indrnn: Independently Recurrent Neural Networks you can look inside.

The public API; see each object's docstring.
"""
# ruff: noqa: E402 (the runtime settings must be given before the imports that load torch)

# Before anything imports torch: settings torch reads only once (see indrnn.runtime).
from indrnn.runtime import apply_defaults

apply_defaults()

from indrnn.bounds import (
    clamp_after_each_step,
    clamp_recurrent_weights_,
    recurrent_bound,
)
from indrnn.checkpoint import Checkpoint, CheckpointError, load, save
from indrnn.layers import IndRNN, IndRNNCell, IndRNNRecurrence
from indrnn.lstm import LSTM, LSTMGates, chrono_init_
from indrnn.networks import DenseIndRNN, PlainIndRNN, ResIndRNN, TimeBatchNorm
from indrnn.record import LayerRecord, Recording, record
from indrnn.recurrence import indrnn_recurrence
from indrnn.registry import register_architecture

__all__ = [
    "LSTM",
    "Checkpoint",
    "CheckpointError",
    "DenseIndRNN",
    "IndRNN",
    "IndRNNCell",
    "IndRNNRecurrence",
    "LSTMGates",
    "LayerRecord",
    "PlainIndRNN",
    "Recording",
    "ResIndRNN",
    "TimeBatchNorm",
    "chrono_init_",
    "clamp_after_each_step",
    "clamp_recurrent_weights_",
    "indrnn_recurrence",
    "load",
    "record",
    "recurrent_bound",
    "register_architecture",
    "save",
]
