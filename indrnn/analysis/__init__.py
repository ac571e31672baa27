"""Analyses of trained IndRNNs and LSTMs, as plain functions a figure builder can draw.

Each module works on this library's models and recordings (:func:`indrnn.record`, layers named
as it names them: ``body.l0``, ``body.layers.3.recurrence``) and returns tensors, arrays or
small dataclasses. None of them changes the model it is given.

* :mod:`~indrnn.analysis.memory`: τ and half-life from u, neuron flags, the paper's bounds;
  LSTM effective memory from the forget gates.
* :mod:`~indrnn.analysis.impulse`: measured impulse and step responses against ``u^k``.
* :mod:`~indrnn.analysis.gradients`: exact gradients through time (neuron × lag maps), and
  ``∂y/∂x_t`` and ``∂y/∂h_t`` of every unit.
* :mod:`~indrnn.analysis.ablation`: silence neurons or take their memory, on a private copy.
* :mod:`~indrnn.analysis.influence`: silent neurons, and each neuron's influence on what reads it.
* :mod:`~indrnn.analysis.patterns`: LSTMVis-style pattern search, top activations.
* :mod:`~indrnn.analysis.discovery`: neurons that follow annotation tracks or pick out labels.
* :mod:`~indrnn.analysis.saturation`: LSTM gate saturation (Karpathy et al. 2015).
* :mod:`~indrnn.analysis.downsample`: spike-preserving downsampling, layer activity summaries.
* :mod:`~indrnn.analysis.locate`: the IndRNN layers of a model by recorded name.
* :mod:`~indrnn.analysis.causal`: smallest groups of neurons that carry a layer's effect.
* :mod:`~indrnn.analysis.probes`: linear probes of states, against a misaligned baseline.
* :mod:`~indrnn.analysis.patching`: interchange (give neurons their states on another input).
"""

from indrnn.analysis.ablation import (
    Ablation,
    ablated_copy,
    ablation_metrics,
    ablations_applied,
    compare_outputs,
    rank_neurons,
)
from indrnn.analysis.discovery import (
    correlate_tracks,
    label_selectivity,
    sequence_features,
    top_neurons,
)
from indrnn.analysis.downsample import activity_summaries, downsample, layer_activity
from indrnn.analysis.gradients import (
    indrnn_gradient_map,
    lstm_cell_gradient_map,
    saliency,
)
from indrnn.analysis.impulse import impulse_response
from indrnn.analysis.influence import NeuronInfluence, neuron_influence, readout_layer
from indrnn.analysis.locate import find_indrnn_layer, indrnn_layers
from indrnn.analysis.memory import (
    forget_memory,
    half_life,
    indrnn_decay,
    indrnn_memory,
    lstm_memory,
    neuron_flags,
    paper_bounds,
    paper_gamma,
    time_constant,
)
from indrnn.analysis.patching import Interchange, interchange
from indrnn.analysis.patterns import find_pattern, neurons_on_in_window, top_activations
from indrnn.analysis.saturation import gate_saturation

__all__ = [
    "Ablation",
    "Interchange",
    "NeuronInfluence",
    "ablated_copy",
    "ablation_metrics",
    "ablations_applied",
    "activity_summaries",
    "compare_outputs",
    "correlate_tracks",
    "downsample",
    "find_indrnn_layer",
    "find_pattern",
    "forget_memory",
    "gate_saturation",
    "half_life",
    "impulse_response",
    "indrnn_decay",
    "indrnn_gradient_map",
    "indrnn_layers",
    "indrnn_memory",
    "interchange",
    "label_selectivity",
    "layer_activity",
    "lstm_cell_gradient_map",
    "lstm_memory",
    "neuron_flags",
    "neuron_influence",
    "neurons_on_in_window",
    "paper_bounds",
    "paper_gamma",
    "rank_neurons",
    "readout_layer",
    "saliency",
    "sequence_features",
    "time_constant",
    "top_activations",
    "top_neurons",
]
