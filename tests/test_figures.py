"""Figure builders: trace types, shapes, axis titles, spikes kept, safe HTML, size budget."""

import html
import re

import numpy as np
import plotly.graph_objects as go
import pytest
import torch

from indrnn import LSTM, IndRNN, analysis, record
from indrnn import figures as F
from indrnn.analysis.ablation import NeuronImpact
from indrnn.analysis.downsample import LayerActivity
from indrnn.analysis.impulse import ImpulseResponse
from indrnn.analysis.memory import neuron_flags, paper_bounds
from indrnn.analysis.patterns import Firing, PatternMatch
from indrnn.data.tracks import time_track
from indrnn.figures.common import MAX_COLUMNS, compact, envelope, reduce_matrix

T, N = 5000, 128
RNG = np.random.default_rng(0)


def types(fig: go.Figure) -> list[str]:
    """The figure's trace types in order."""
    return [trace.type for trace in fig.data]


def test_compact_and_figure_bytes():
    assert compact([123456.0, -1.23456, np.inf]).dtype == np.float32
    assert compact([123456.0, -1.23456]).tolist() == pytest.approx([123500.0, -1.235])
    fig = go.Figure(go.Scatter(y=[1, 2]))
    assert F.figure_bytes(fig) == len(fig.to_json())


def test_reduce_matrix_and_envelope_keep_spikes():
    matrix = np.zeros((600, T))
    matrix[417, 2345] = 9.0
    grid = reduce_matrix(matrix, 1000, 256)
    assert grid.z.shape == (256, 1000) and grid.z.max() == 9.0
    assert grid.group == 3 and grid.bucket == 5
    x, y = envelope(np.where(np.arange(T) == 4321, -3.0, 0.0), 2000)
    assert len(x) == 2000 and y.min() == -3.0 and x.max() == T - 1


def test_activation_heatmap_keeps_a_spike_and_labels_steps():
    states = RNG.random((T, N)) * 0.1
    states[3217, 42] = 7.5
    fig = F.activation_heatmap(states, title="l0")
    assert types(fig) == ["heatmap"]
    heat = fig.data[0]
    assert heat.z.shape == (N, MAX_COLUMNS) and heat.z.max() == np.float32(7.5)
    row, col = np.unravel_index(np.argmax(heat.z), heat.z.shape)
    assert row == 42 and heat.x[col] <= 3217 < heat.x[col] + 5
    assert heat.x[0] == 0 and heat.x[-1] == T - 5
    assert fig.layout.xaxis.title.text == "step" and fig.layout.yaxis.title.text == "neuron"
    assert "max per 5 steps" in fig.layout.title.text


def test_activation_heatmap_signed_and_ordered():
    states = RNG.standard_normal((300, 6)) * 0.1
    states[10, 4] = -5.0
    fig = F.activation_heatmap(states, order=[4, 0, 2])
    heat = fig.data[0]
    # One outlier of -5 among values of ~0.1: the colours span the 99.5th percentile of the
    # magnitudes, the data keep -5 (shown on hover) and the colour bar says what was clipped.
    cut = float(np.percentile(np.abs(states[:, [4, 0, 2]]), 99.5))
    assert heat.z.min() == np.float32(-5.0) and heat.zmin == -heat.zmax
    assert heat.zmax == pytest.approx(cut) and heat.zmax < 1.0
    assert "clipped" in heat.colorbar.title.text and "max 5" in heat.colorbar.title.text
    plain = F.activation_heatmap(states[:, [0, 2]]).data[0]
    assert plain.zmax == pytest.approx(np.abs(states[:, [0, 2]]).max(), rel=1e-6)
    assert "clipped" not in plain.colorbar.title.text
    assert list(heat.y) == ["4", "0", "2"] and fig.layout.yaxis.type == "category"
    assert heat.colorscale[0][1] == "rgb(5,48,97)"  # RdBu_r: blue for negative


def test_sortable_heatmap_re_sorts_in_the_browser_without_resending_data():
    states = RNG.random((T, N))
    orders = {"u": list(range(N)), "memory τ": list(range(N))[::-1]}
    fig = F.sortable_heatmap(states, orders, title="l1")
    assert types(fig) == ["heatmap", "scatter"] and fig.data[0].z.shape == (N, MAX_COLUMNS)
    # one handle per row to click, left of the first step, at its neuron's row (top row first)
    handles = fig.data[1]
    assert list(handles.customdata) == list(range(N))
    assert list(handles.y) == list(range(N))[::-1]
    assert max(handles.x) < min(fig.data[0].x) and fig.layout.clickmode == "event+select"
    # top row first: the y axis counts upwards, so the category order is the order reversed
    assert list(fig.layout.yaxis.categoryarray) == [str(n) for n in range(N)][::-1]
    (menu,) = fig.layout.updatemenus
    assert [b.label for b in menu.buttons] == ["u", "memory τ"]
    second = menu.buttons[1]
    assert second.method == "update"
    restyle, relayout, traces = second.args
    assert relayout["yaxis.categoryarray"] == [str(n) for n in range(N)]
    assert relayout["title.text"].startswith("l1: neurons (sorted by memory τ) × steps")
    # only the order travels: the handles' rows, not the map's cells
    assert list(traces) == [1] and [list(y) for y in restyle["y"]] == [list(range(N))]
    assert fig.layout.title.text.startswith("l1: neurons (sorted by u) × steps")


def test_sortable_heatmap_groups_of_a_wide_layer_follow_each_order():
    states = np.zeros((400, 12))
    states[7, 11] = 3.0
    orders = {"a": list(range(12)), "b": [11, *range(11)]}
    fig = F.sortable_heatmap(states, orders, max_rows=4, max_columns=100)
    a, b = fig.layout.updatemenus[0].buttons
    assert a.method == b.method == "update"
    za, zb = np.asarray(a.args[0]["z"][0]), np.asarray(b.args[0]["z"][0])
    assert za.shape == zb.shape == (4, 50)  # columns shared out between the two orders
    assert za[0].max() == 3.0 and zb[-1].max() == 3.0  # neuron 11: bottom, then top group
    with pytest.raises(ValueError, match="orders"):
        F.sortable_heatmap(states, {})


def test_neuron_scatter_customdata_and_infinite_tau():
    u = {"l0": np.array([0.5, 1.0, 0.0, 0.9]), "l1": np.array([0.2, 0.3])}
    tau = {"l0": np.array([1.44, np.inf, 0.0, 9.5]), "l1": np.array([0.62, 0.83])}
    fig = F.neuron_scatter(u, tau, log_y=True, highlight=("l1", 1))
    assert types(fig) == ["scatter"] * 3
    l0, l1, ring = fig.data
    assert [t.mode for t in fig.data] == ["markers"] * 3
    assert list(l0.customdata) == [0, 1, 2, 3] and list(l1.customdata) == [0, 1]
    assert np.isfinite(l0.y).all() and l0.y[1] > 9.5 and 0 < l0.y[2] < 0.62 / 1.5
    assert list(l0.marker.symbol) == ["circle", "triangle-up", "triangle-up", "circle"]
    assert "true value inf" in l0.text[1] and list(ring.customdata) == [1]
    assert fig.layout.yaxis.type == "log" and fig.layout.xaxis.title.text == "u"
    with pytest.raises(ValueError, match="different layers"):
        F.neuron_scatter(u, {"l0": tau["l0"]})


def test_neuron_trace_and_weight_bars():
    h = np.zeros(T)
    h[999] = 4.0
    fig = F.neuron_trace(h, h - 1, max_points=1000)
    assert types(fig) == ["scatter", "scatter"]
    assert len(fig.data[0].x) <= 1000 and fig.data[0].y.max() == 4.0
    w = np.array([0.1, -3.0, 2.0, 0.05, -0.5])
    bars = F.weight_bars(w, names=list("abcde"), top_k=3)
    assert types(bars) == ["bar"] and list(bars.data[0].x) == ["b", "c", "e"]
    assert list(bars.data[0].customdata) == [1, 2, 4]
    assert bars.data[0].marker.color[0] != bars.data[0].marker.color[1]  # sign colours


def test_text_html_escapes_and_has_one_span_per_character():
    text = "x = '<script>alert(1)</script>' & \"q\"\n\tend"
    values = np.linspace(-1, 1, len(text))
    values[3] = np.nan
    out = F.text_html(text, values)
    assert "<script" not in out and "</script" not in out
    assert out.count("<span") == len(text) == out.count("</span>")
    contents = re.findall(r"<span[^>]*>(.*?)</span>", out, flags=re.S)
    assert len(contents) == len(text) and html.unescape("".join(contents)) == text
    escaped = {ch: contents[text.index(ch)] for ch in "<>&\"'"}
    assert escaped == {"<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&#x27;"}
    assert not any(set(c) & set("<>\"'") for c in contents)
    spans = re.findall(r"<span([^>]*)>", out)
    assert "background" not in spans[3] and "background" in spans[0]
    assert spans[0] != spans[-1]  # the two ends of the scale differ
    with pytest.raises(ValueError):
        F.text_html("abc", [1.0, 2.0])


def test_pixel_overlay_puts_each_step_on_its_pixel():
    perm = RNG.permutation(784)
    activation = np.arange(700, dtype=float)
    fig = F.pixel_overlay(RNG.random(784), activation, permutation=perm)
    assert types(fig) == ["heatmap"] * 4
    act = fig.data[1].z
    assert act.shape == (28, 28)
    assert act.reshape(-1)[perm[123]] == 123 and np.isnan(act.reshape(-1)[perm[750]])
    assert fig.layout.yaxis.autorange == "reversed"


def test_firings_table_and_windows():
    text = "ab\ncdefgh"
    firings = [Firing(0, 4, 2.5, 2, 7), Firing(0, 0, 1.0, 0, 2)]
    table = F.firings_table(firings, text)
    assert table[0] == {"rank": 1, "sequence": 0, "step": 4, "value": 2.5,
                        "context": "⏎c[d]ef"}
    assert F.firings_table(firings, text, sequence_ids=[307])[1]["sequence"] == 307
    fig = F.firing_windows(np.arange(len(text), dtype=float), firings, text=text)
    assert types(fig) == ["scatter", "scatter"] and list(fig.data[0].x) == [2, 3, 4, 5, 6]


def test_memory_figures():
    bounds = paper_bounds(1000)
    u = {"l0": np.array([0.0, 0.5, 0.999, 1.2]), "l1": np.array([-0.3, 0.99])}
    strip = F.u_strip(u, bounds=bounds)
    assert types(strip) == ["box", "box"] and list(strip.data[0].customdata) == [0, 1, 2, 3]
    lines = sorted(shape.y0 for shape in strip.layout.shapes)
    assert lines == pytest.approx(sorted([0.0, 1.0, bounds.lower, bounds.upper]))
    hist = F.tau_histogram({"l0": np.array([1.0, 10.0, 100.0, np.inf, 0.0])})
    assert types(hist) == ["histogram"] and "1 never decay, 1 no memory" in hist.data[0].name
    assert list(hist.data[0].x) == pytest.approx([0.0, 1.0, 2.0])
    assert "log" in hist.layout.xaxis.title.text
    flags = F.flag_counts({"l0": neuron_flags(torch.tensor([0.0, -0.5, 1.5]))})
    counts = dict(zip(flags.data[0].x, flags.data[0].y))
    assert counts["sign flipping"] == 1 and counts["exploding"] == 1 and counts["no memory"] == 1


def test_impulse_figure_measured_against_theory():
    lags = torch.arange(50)
    theory = 0.9 ** lags.double()
    linear = lags < 40
    response = ImpulseResponse("l0", 3, 10, "impulse", "preactivation", lags, lags + 10,
                               theory * 0, theory, theory, theory, linear, 0.9)
    fig = F.impulse_figure(response, log_y=True)
    assert types(fig) == ["scatter", "scatter"]
    assert fig.data[1].y == pytest.approx(theory.numpy(), rel=1e-3)
    assert fig.layout.shapes[0].x0 == 40 and fig.layout.yaxis.type == "log"
    assert fig.layout.xaxis.title.text.startswith("lag")


def test_gradient_figures():
    g = RNG.random((N, T)) * 1e-6
    g[7, 4444] = 0.5
    fig = F.gradient_maps({"IndRNN": g, "LSTM": RNG.random((N, T))})
    assert types(fig) == ["heatmap", "heatmap"]
    assert fig.data[0].coloraxis == fig.data[1].coloraxis == "coloraxis"
    assert fig.data[0].z.shape == (N, MAX_COLUMNS // 2)
    assert fig.data[0].z.max() == pytest.approx(np.log10(0.5), abs=1e-3)
    assert fig.layout.xaxis.title.text == "lag (steps back)"
    with pytest.raises(ValueError, match="map\\[b\\]"):
        F.gradient_maps(np.zeros((1, 3, 4)))
    line = F.gradient_over_time({"IndRNN": RNG.random(T), "LSTM": RNG.random(T)})
    assert types(line) == ["scatter", "scatter"] and line.layout.yaxis.type == "log"
    assert line.data[0].line.color != line.data[1].line.color


def test_lstm_comparison_figures():
    gates = {g: RNG.random((T, N)) * 0.5 + 0.5 for g in ("input_gate", "forget_gate")}
    gates["forget_gate"][2500, 9] = 0.01  # a one-step reset
    heat = F.gate_heatmaps(gates)
    assert types(heat) == ["heatmap", "heatmap"] and heat.data[1].z.min() == np.float32(0.01)
    traces = F.gate_traces({g: v[:, 9] for g, v in gates.items()}, unit=9)
    assert [t.name for t in traces.data] == ["input i", "forget f"]
    left, right = RNG.random(N) * 0.5, RNG.random(N) * 0.5
    sat = F.saturation_scatter({"input_gate": (left, right), "forget_gate": (right, left)})
    assert types(sat) == ["scatter"] * 3 and list(sat.data[0].customdata) == list(range(N))
    assert sat.data[0].x == pytest.approx(left, rel=1e-3)
    assert "< 0.1" in sat.layout.xaxis.title.text and "> 0.9" in sat.layout.yaxis.title.text
    # Fractions: both axes 0-1 even when the square aspect leaves room (narrower, not wider).
    assert tuple(sat.layout.xaxis.range) == (-0.02, 1.02) and sat.layout.xaxis.constrain == "domain"
    mem = F.memory_comparison({"l0": np.array([5.0, 50.0])}, np.array([2.0, 3.0]))
    assert [t.name for t in mem.data] == ["IndRNN l0", "LSTM"]


def test_overview_figures():
    activity = {name: LayerActivity(name, torch.zeros(3), torch.zeros(3), torch.zeros(3) > 0,
                                    0.4 + i, 0.3, 0.1 * i) for i, name in enumerate(("l0", "l1"))}
    bars = F.layer_activity_bars(activity)
    assert types(bars) == ["bar"] * 3 and list(bars.data[0].y) == pytest.approx([0.4, 1.4])
    probs = {"IndRNN": np.array([0.1, 0.6, 0.05, 0.25]), "LSTM": np.array([0.7, 0.1, 0.1, 0.1])}
    pred = F.prediction_bars(probs, class_names=["a", "\n", "c", "d"], target=2, top_k=2)
    assert list(pred.data[0].x) == ["a", "\\n", "c ✓"]
    assert list(pred.data[0].customdata) == [0, 1, 2]
    logits = F.prediction_bars(np.array([1.0, 2.0, 3.0]), softmax=True)
    assert sum(logits.data[0].y) == pytest.approx(1.0, rel=1e-4)
    reg = F.regression_bars({"IndRNN": 0.9, "LSTM": 1.2}, target=1.0)
    assert [t.name for t in reg.data] == ["IndRNN", "LSTM", "target"]


def test_ablation_figures():
    bars = F.ablation_bars([0.1, 0.9, 0.5], [0.5, 0.1, 0.5], top_k=2)
    assert types(bars) == ["bar", "bar"] and list(bars.data[0].customdata) == [0, 1]
    over = F.ablation_over_time(np.zeros(T), np.ones(T))
    assert [t.name for t in over.data] == ["original", "ablated", "difference"]
    impact = NeuronImpact("l1", "memory", torch.tensor([5, 2, 9]), torch.tensor([3.0, 1.0, 2.0]))
    ranked = F.impact_bars(impact)
    assert list(ranked.data[0].customdata) == [5, 9, 2]
    assert "l1 (memory)" in ranked.layout.title.text


def test_pattern_figures():
    states = np.zeros((100, 2, 4))
    states[10:15, 0, [1, 2]] = 1.0
    states[50:52, 1, [1, 2]] = 1.0
    matches = [PatternMatch(0, 10, 15, 0.9), PatternMatch(1, 50, 52, 0.9)]
    trace = F.pattern_trace(states[:, 0], [1, 2], matches, threshold=0.5)
    rects = [s for s in trace.layout.shapes if s.type == "rect"]
    assert len(rects) == 1 and rects[0].x0 == 9.5 and rects[0].x1 == 14.5
    assert [t.name for t in trace.data][-1] == "weakest of pattern"
    windows = F.pattern_windows(states, [1, 2], matches, threshold=0.5, context=3)
    assert types(windows) == ["scatter", "scatter"] and list(windows.data[1].x) == list(
        range(47, 55))


def test_discovery_figures():
    correlation = {"column": (np.array([4, 1]), np.array([0.9, -0.5])),
                   "depth": (np.array([2]), np.array([0.3]))}
    bars = F.track_bars(correlation)
    assert types(bars) == ["bar", "bar"] and list(bars.data[0].customdata) == [4, 1]
    trace = F.track_trace(np.arange(T, dtype=float), np.arange(T) % 80, neuron=4,
                          track_name="column", r=0.9)
    assert types(trace) == ["scatter", "scatter"] and trace.data[1].yaxis == "y2"
    assert trace.layout.yaxis2.tickmode == "auto"  # round ticks of its own, not synced ones


def test_figures_take_the_analyses_results():
    """The analysis dataclasses of a real (small) IndRNN and LSTM go straight in."""
    torch.manual_seed(0)
    rnn, lstm, x = IndRNN(2, 8, num_layers=2).eval(), LSTM(2, 8).eval(), torch.randn(40, 3, 2)
    rec, lstm_rec = record(rnn, x), record(lstm, x)
    memory = analysis.indrnn_memory(rnn, seq_len=40, recording=rec)
    figures = [F.u_strip(memory), F.tau_histogram(memory), F.flag_counts(memory),
               F.layer_activity_bars(analysis.activity_summaries(rec)),
               F.saturation_scatter(analysis.gate_saturation(lstm_rec["l0"])),
               F.memory_comparison(memory, {"l0": analysis.lstm_memory(lstm_rec["l0"])}),
               F.track_bars(analysis.correlate_tracks(rec["l0"].hidden,
                                                      {"t": time_track(40, 3)})),
               F.impulse_figure(analysis.impulse_response(rnn, x, "l0", 0, 5))]
    assert [len(f.data) for f in figures] == [2, 2, 2, 3, 4, 3, 1, 2]
    assert figures[0].layout.title.text.endswith("(T = 40)")


def budget_figures() -> dict[str, go.Figure]:
    """Every builder at T = 5,000 on two layers of 128 neurons (random: nothing compresses)."""
    hidden = [RNG.random((T, N)) for _ in range(2)]
    gates = {g: RNG.random((T, N)) for g in ("input_gate", "forget_gate", "output_gate")}
    firings = [Firing(0, t, 1.0, t - 10, t + 11) for t in range(100, 1300, 100)]
    matches = [PatternMatch(0, s, s + 5, 1.0) for s in range(0, T, 20)]
    tau = {f"l{i}": RNG.random(N) * 1e3 for i in range(2)}
    return {
        "heatmap": F.activation_heatmap(hidden[0]),
        "scatter": F.neuron_scatter(tau, tau),
        "trace": F.neuron_trace(hidden[0][:, 0], hidden[0][:, 1]),
        "pixels": F.pixel_overlay(RNG.random(784), RNG.random(784)),
        "windows": F.firing_windows(hidden[0][:, :1], firings),
        "gradient_maps": F.gradient_maps({"IndRNN": hidden[0].T, "LSTM": hidden[1].T}),
        "gradient_line": F.gradient_over_time({"IndRNN": hidden[0][:, 0], "LSTM": hidden[1][:, 0]}),
        "gate_heatmaps": F.gate_heatmaps(gates),
        "gate_traces": F.gate_traces({g: v[:, 0] for g, v in gates.items()}),
        "ablation": F.ablation_over_time(hidden[0][:, 0], hidden[1][:, 0]),
        "pattern": F.pattern_trace(hidden[0], list(range(8)), matches, threshold=0.5),
        "track": F.track_trace(hidden[0][:, 0], hidden[1][:, 0]),
        "u": F.u_strip(tau), "tau": F.tau_histogram(tau),
    }


def test_every_figure_stays_within_budget_at_5000_steps():
    sizes = {name: F.figure_bytes(fig) for name, fig in budget_figures().items()}
    over = {name: size for name, size in sizes.items() if size > F.FIGURE_BUDGET}
    assert not over, f"figures over {F.FIGURE_BUDGET} bytes: {over}"
    neurons_page = 2 * sizes["heatmap"] + sizes["scatter"] + sizes["trace"] + sizes["windows"]
    compare_page = sizes["gate_heatmaps"] + sizes["gate_traces"] + sizes["gradient_maps"]
    assert max(neurons_page, compare_page) < 5_000_000


def test_decay_curves_follow_u_to_the_k():
    from indrnn.figures.memory import decay_curves

    fig = decay_curves((0.5, 1.0), steps=10)
    assert [t.name.split(" (")[0] for t in fig.data] == ["u = 0.5", "u = 1"]
    np.testing.assert_allclose(np.asarray(fig.data[0].y)[:4], [1, 0.5, 0.25, 0.125])
    assert "half-life 1 steps" in fig.data[0].name and "∞" in fig.data[1].name
    assert fig.layout.yaxis.type == "log"


def test_u_near_one_spreads_out_as_its_distance_from_one_on_a_log_axis():
    from indrnn.figures.memory import u_strip

    u = np.array([0.9991, 0.9999, 0.99999, 1.0004, 0.5])
    fig = u_strip({"l1": u}, distance=True)
    assert fig.layout.yaxis.type == "log"
    np.testing.assert_allclose(fig.data[0].y, np.abs(1 - np.abs(u)), rtol=1e-3)
    assert "grows" in fig.data[0].text[3] and "grows" not in fig.data[0].text[0]
    assert u_strip({"l1": u}).layout.yaxis.type != "log"


def test_the_bound_labels_sit_at_their_lines_on_the_log_axis():
    from indrnn.analysis.memory import paper_bounds
    from indrnn.figures.memory import u_strip

    bounds = paper_bounds(1000)
    fig = u_strip({"l1": np.array([0.9995, 1.0001])}, bounds=bounds, distance=True)
    lines = sorted(shape.y0 for shape in fig.layout.shapes)
    labels = sorted(10 ** a.y for a in fig.layout.annotations if "1/T" in a.text)
    np.testing.assert_allclose(labels, lines, rtol=1e-9)
    np.testing.assert_allclose(lines, sorted([abs(1 - bounds.upper), abs(1 - bounds.lower)]))


def test_a_layer_keeps_its_colour_in_every_memory_figure_whichever_layers_are_shown():
    u = {f"body.l{k}": np.array([0.5, 0.9, 0.99]) for k in range(3)}
    every = F.u_strip(u)
    only_last = F.u_strip({"body.l2": u["body.l2"]})
    assert only_last.data[0].line.color == every.data[2].line.color
    assert len({trace.line.color for trace in every.data}) == 3
    hist = F.tau_histogram({"body.l2": np.array([2.0, 20.0]), "LSTM body.l0": np.array([3.0])})
    assert hist.data[0].marker.color == every.data[2].line.color  # IndRNN layer 2, as above
    assert hist.data[1].marker.color not in {trace.line.color for trace in every.data}
    flags = F.flag_counts({"body.l2": neuron_flags(torch.tensor([0.5, 1.5]))})
    assert flags.data[0].marker.color == every.data[2].line.color


def test_many_tau_histograms_are_small_multiples_on_one_x_axis():
    few = F.tau_histogram({f"l{k}": np.array([1.0, 10.0]) for k in range(3)})
    assert {trace.xaxis for trace in few.data} == {"x"}  # three overlaid still read
    many = F.tau_histogram({f"l{k}": np.array([1.0, 10.0 * (k + 1)]) for k in range(7)})
    assert [trace.yaxis for trace in many.data] == ["y"] + [f"y{k}" for k in range(2, 8)]
    assert many.layout.xaxis7.title.text.startswith("τ")  # one x title, under the last row
    assert many.layout.xaxis.matches == "x7" or many.layout.xaxis2.matches == "x7"
