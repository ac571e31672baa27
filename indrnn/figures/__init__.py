"""Plotly figures of the app's views: plain functions, arrays or analysis results in,
``plotly.graph_objects.Figure`` (or, for coloured text, an HTML string) out.

Nothing here imports Streamlit. Every figure uses one template (:data:`common.TEMPLATE`),
colour-blind-safe colours (Okabe–Ito lines, viridis, RdBu for signed values), float32 data and
at most :data:`common.MAX_COLUMNS` × :data:`common.MAX_ROWS` heatmap cells, so a figure's JSON
(:func:`figure_bytes`) stays within :data:`common.FIGURE_BUDGET` at T = 5,000.

* :mod:`~indrnn.figures.overview`: layer activity, predictions (one model or both).
* :mod:`~indrnn.figures.neurons`: neuron × time heatmap, neuron scatter, traces, weights.
* :mod:`~indrnn.figures.overlays`: text coloured by a neuron, a neuron over a pixel image,
  top firings.
* :mod:`~indrnn.figures.memory`: u against the paper's bounds, τ, flags, impulse responses.
* :mod:`~indrnn.figures.gradients`: gradient over time, neuron × lag maps (IndRNN beside LSTM).
* :mod:`~indrnn.figures.compare`: LSTM gates, gate saturation, LSTM vs IndRNN memory.
* :mod:`~indrnn.figures.ablation`, :mod:`~indrnn.figures.patterns`,
  :mod:`~indrnn.figures.discovery`: the views of the same names.
"""

from indrnn.figures.ablation import ablation_bars, ablation_over_time, impact_bars
from indrnn.figures.common import FIGURE_BUDGET, TEMPLATE, figure_bytes
from indrnn.figures.compare import (
    gate_heatmaps,
    gate_traces,
    memory_comparison,
    saturation_scatter,
)
from indrnn.figures.discovery import track_bars, track_trace
from indrnn.figures.gradients import gradient_maps, gradient_over_time
from indrnn.figures.memory import flag_counts, impulse_figure, tau_histogram, u_strip
from indrnn.figures.neurons import (
    activation_heatmap,
    neuron_scatter,
    neuron_trace,
    sortable_heatmap,
    weight_bars,
)
from indrnn.figures.overlays import firing_windows, firings_table, pixel_overlay, text_html
from indrnn.figures.overview import layer_activity_bars, prediction_bars, regression_bars
from indrnn.figures.patterns import pattern_trace, pattern_windows

__all__ = [
    "FIGURE_BUDGET",
    "TEMPLATE",
    "ablation_bars",
    "ablation_over_time",
    "activation_heatmap",
    "figure_bytes",
    "firing_windows",
    "firings_table",
    "flag_counts",
    "gate_heatmaps",
    "gate_traces",
    "gradient_maps",
    "gradient_over_time",
    "impact_bars",
    "impulse_figure",
    "layer_activity_bars",
    "memory_comparison",
    "neuron_scatter",
    "neuron_trace",
    "pattern_trace",
    "pattern_windows",
    "pixel_overlay",
    "prediction_bars",
    "regression_bars",
    "saturation_scatter",
    "sortable_heatmap",
    "tau_histogram",
    "text_html",
    "track_bars",
    "track_trace",
    "u_strip",
    "weight_bars",
]
