"""indrnn: Independently Recurrent Neural Networks you can look inside.

The public API; see each object's docstring.
"""

from indrnn.bounds import (
    clamp_after_each_step,
    clamp_recurrent_weights_,
    recurrent_bound,
)
from indrnn.layers import IndRNN, IndRNNCell, IndRNNRecurrence
from indrnn.lstm import LSTM, LSTMGates
from indrnn.record import LayerRecord, Recording, record
from indrnn.recurrence import indrnn_recurrence

__all__ = [
    "LSTM",
    "IndRNN",
    "IndRNNCell",
    "IndRNNRecurrence",
    "LSTMGates",
    "LayerRecord",
    "Recording",
    "clamp_after_each_step",
    "clamp_recurrent_weights_",
    "indrnn_recurrence",
    "record",
    "recurrent_bound",
]
