# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Inside a trained IndRNN: the adding problem at T = 1000
#
# The IndRNN of Li et al. (CVPR 2018) gives every neuron one recurrent weight:
# `h_t = ReLU(W x_t + b + u ⊙ h_{t-1})`. An active neuron carries its past into the present
# times `u`, so `u` alone says how long it remembers. This notebook loads the shipped model
# `adding1000_indrnn` (two IndRNN layers of 128 neurons, trained on the adding problem with
# sequences of 1,000 steps), runs it on a few held-out sequences, reads `u`, `τ` and the
# half-life of every neuron, prints what `python -m indrnn.explain` found the neurons do, and
# draws three figures.
#
# It runs as a notebook (open it with Jupyter through jupytext, or in VS Code) and as a plain
# script: `python examples/notebook.py`. Figures are written as HTML files into the folder
# named by the environment variable `INDRNN_NOTEBOOK_OUT` (a fresh temporary folder when unset).

# %%
import os
import tempfile
from pathlib import Path

import plotly.graph_objects as go
import torch

from indrnn import catalog, explain, figures
from indrnn.analysis import indrnn_memory, neuron_flags, paper_gamma, saliency
from indrnn.data import load_task
from indrnn.objectives import card_objective
from indrnn.run import run_model

MODEL = "adding1000_indrnn"
HELD_OUT = 8  # sequences of the test split: enough to see the pattern, seconds on a CPU
# A float32 u held at a bound by the clamp lies within ~1e-7 of it; neuron_flags' default
# tolerance (1e-3, relative) is wider than the whole range this model allows (1.4e-3 at T = 1000).
BOUND_TOL = 1e-6
OUT = Path(os.environ.get("INDRNN_NOTEBOOK_OUT") or tempfile.mkdtemp(prefix="indrnn-notebook-"))
OUT.mkdir(parents=True, exist_ok=True)


def in_ipython() -> bool:
    """Whether this runs inside IPython (Jupyter, VS Code), where figures can be shown inline.

    Returns
    -------
    bool
        ``True`` under an IPython kernel or shell, ``False`` under plain ``python``.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    return get_ipython() is not None


def save_figure(fig: go.Figure, name: str) -> Path:
    """Write ``fig`` to ``OUT/name.html`` (plotly.js inlined: the file opens offline) and show
    it when running in a notebook.

    Parameters
    ----------
    fig : plotly.graph_objects.Figure
        A figure from :mod:`indrnn.figures`.
    name : str
        File name without the ``.html``.

    Returns
    -------
    Path
        The file written.
    """
    path = OUT / f"{name}.html"
    fig.write_html(path, include_plotlyjs=True, full_html=True)
    print(f"figure: {path}")
    if in_ipython():
        fig.show()
    return path


# %% [markdown]
# ## The model and its data
#
# `catalog.load_model` accepts only names listed in `models/` and loads them through
# `indrnn.load`, which checks the JSON card and the safetensors weights before building anything
# (no pickle). `indrnn.load("models/adding1000_indrnn")` does the same for any path. The card
# names the task and its settings, so `load_task` rebuilds exactly the held-out data the model
# was scored on: 1,000 test sequences of 1,000 steps, each step a value drawn from U(0, 1) and
# a marker (0 or 1); the target is the sum of the two marked values.

# %%
checkpoint = catalog.load_model(MODEL)
model, card = checkpoint.model, checkpoint.card
# checkpoint is an indrnn.Checkpoint: .model (eval mode), .card, .architecture, .config
print(f"{MODEL}: {checkpoint.architecture}, {card['parameters']:,} parameters")
print(f"task {card['task']} {card['task_kwargs']}; test MSE {card['metrics']['test']['mse']:.4g} "
      f"(baseline: {card['data']['baseline']})")

task = load_task(card["task"], **card["task_kwargs"])
objective = card_objective(task, card)
seq_len = task.info.seq_len
held_out = objective.held_out(HELD_OUT)  # spread over the test split, not its first rows
print(f"held-out batch: {tuple(held_out.inputs.shape)} (sequences, steps, channels "
      f"{task.info.channel_names})")

# %% [markdown]
# ## One run, every layer recorded
#
# `run_model` (built on `indrnn.record`) runs the model once and keeps each IndRNN layer's
# states `h`, its pre-activations and `u`, time-major `(T, B, N)`, without hooks. The
# prediction is the readout of the last step; the adding problem's error is the squared
# difference from the true sum.

# %%
run = run_model(model, held_out.inputs, held_out.lengths, objective)
targets = task.test.targets[held_out.source_indices].reshape(-1)
predicted = run.output.reshape(-1)
for index, guess, truth in zip(held_out.source_indices.tolist(), predicted.tolist(),
                               targets.tolist()):
    print(f"test sequence {index:4d}: predicted {guess:.4f}, true sum {truth:.4f}")
print(f"MSE on these {HELD_OUT}: {float(((predicted - targets) ** 2).mean()):.4g}")
print("layers recorded:", ", ".join(f"{name} {tuple(layer.hidden.shape)}"
                                    for name, layer in run.layers.items()))
for warning in run.warnings:
    print("warning:", warning)

# %% [markdown]
# ## Memory per neuron: u, τ and half-life
#
# For an active neuron a trace decays as `u^k`: its time constant is `τ = -1/ln|u|` steps
# (decay to 1/e) and its half-life `ln 0.5 / ln|u|` steps; `|u| ≥ 1` never decays (`inf`).
# The paper keeps `|u|` between `ε^{1/T}` (a neuron must keep at least ε of a value over T
# steps) and `γ^{1/T}` (a gradient may grow at most γ-fold over T steps); `paper_gamma` reads γ
# off the model's clamp (γ = 2 here). The clamp is printed as its bounds and as what they allow
# over T steps (`bound^T`). Flags: `exploding` is `|u| > 1` (grows while active), `saturating`
# is `|u|` pressed against the clamp's upper bound (`at_lower_bound` against its lower one),
# `dead` a neuron never active on this batch.


# %%
def clamp_words(low: float | None, high: float | None, steps: int) -> str:
    """The clamp on ``|u|`` and what it allows a value over ``steps`` steps.

    Parameters
    ----------
    low, high : float or None
        The layer's ``recurrent_min`` and ``recurrent_max`` (``None``: no bound).
    steps : int
        T.

    Returns
    -------
    str
        E.g. ``"|u| in [0.999307, 1.000693]: keeps ≥ 50%, grows ≤ 2× over 1000 steps"``.
    """
    parts = [f"keeps ≥ {low ** steps:.0%}" if low else "may forget at once",
             f"grows ≤ {high ** steps:.3g}×" if high else "unbounded"]
    shown = [f"{bound:.6f}" if bound is not None else "none" for bound in (low, high)]
    return f"|u| in [{shown[0]}, {shown[1]}]: {', '.join(parts)} over {steps} steps"


gamma = paper_gamma(model, seq_len)
memory = indrnn_memory(model, seq_len=seq_len, gamma=gamma, recording=run.recording)
for name, layer in memory.items():
    tight = neuron_flags(layer.u, hidden=run.layers[name].hidden,
                         recurrent_min=layer.recurrent_min, recurrent_max=layer.recurrent_max,
                         bound_tol=BOUND_TOL)
    flags = {flag: int(values.sum()) for flag, values in tight.as_dict().items()}
    active = (~tight.dead).nonzero().reshape(-1).tolist()
    print(f"{name}: u from {float(layer.u.min()):.6f} to {float(layer.u.max()):.6f}, median "
          f"half-life {float(layer.half_life.median()):.4g} steps")
    print(f"  clamp {clamp_words(layer.recurrent_min, layer.recurrent_max, seq_len)}; paper "
          f"bounds at T = {seq_len}: [{layer.bounds.lower:.6f}, {layer.bounds.upper:.6f}] "
          f"(γ = {gamma:g}, ε = {layer.bounds.epsilon:g})")
    print(f"  active on this batch: {len(active)} of {layer.u.numel()}"
          + (f" (neurons {active})" if len(active) <= 5 else "") + f"; flags {flags}")

# %% [markdown]
# ## What the neurons do: the findings stored in the card
#
# `python -m indrnn.explain models/adding1000_indrnn --write` stores its findings in the card.
# Each one is discovered on the validation split and reported on the test split, and carries
# an intervention: the test metric intact and with exactly the named neurons silenced
# (`h = 0`). Below each finding, the memory of its neurons read off this model's `u`.

# %%
findings = explain.card_findings(card)
if findings is None:  # a card written before findings were stored: compute them (minutes)
    findings = explain.explain(checkpoint)
for number, finding in enumerate(findings, 1):
    print(f"finding {number} ({finding.kind}, {finding.layer}, neurons "
          f"{list(finding.neurons)}): {finding.claim}")
    print(f"  test {finding.metric}: {finding.intact:.4g} intact, {finding.silenced:.4g} "
          "silenced")
    layer = memory[finding.layer]
    for neuron in finding.neurons:
        print(f"  {finding.layer} neuron {neuron}: u = {float(layer.u[neuron]):.6f}, "
              f"τ = {float(layer.tau[neuron]):.4g} steps, half-life "
              f"{float(layer.half_life[neuron]):.4g} steps")

# %% [markdown]
# ## Figure 1: the second layer's neurons over one sequence
#
# Neuron × step heatmap of `body.l1` on the first held-out sequence: the neurons active on it,
# sorted by `τ` (the longest memory at the top), with the two marker steps as dashed lines.
# Between markers the first layer is silent (its one active neuron fires at the markers), so
# `body.l1` sees only its bias: the top rows (`|u| ≥ 1`, `τ = inf`) climb through the whole
# sequence as a constant drive times `u^t`. The marked values enter as steps at the dashed
# lines, small against that climb; the findings' probes read them off the last states.

# %%
LAYER = "body.l1"
sequence = 0
states = run.states(LAYER, sequence)
markers = torch.nonzero(held_out.inputs[sequence, :, 1]).reshape(-1).tolist()
active = torch.nonzero(states.abs().amax(0) > 0).reshape(-1)
# A category axis draws its first row at the bottom: ascending τ puts the longest on top.
order = active[torch.argsort(memory[LAYER].tau[active], stable=True)].tolist()
heatmap = figures.activation_heatmap(
    states, order=order,
    title=f"{LAYER} on test sequence {int(held_out.source_indices[sequence])}: "
          f"{len(order)} active neurons by τ")
for step in markers:
    heatmap.add_vline(x=step, line={"dash": "dash", "color": "#555555"})
save_figure(heatmap, "activations")
print(f"markers at steps {markers}")

# %% [markdown]
# ## Figure 2: u of every neuron against the paper's bounds
#
# One strip per layer; the dashed lines are the paper's `γ^{1/T}` and `ε^{1/T}` at T = 1000.
# The first layer spreads over (0, 1) (median half-life 1.2 steps). The second layer's neurons
# all lie within 0.0007 of 1 and sit on one line here; `u_strip(memory, distance=True)` spreads
# them by `|1 − |u||` on a log axis. The hover names each neuron and its u.

# %%
save_figure(figures.u_strip(memory), "memory_u")

# %% [markdown]
# ## Figure 3: the gradient over time
#
# `‖∂y/∂x_t‖`: how much the prediction moves with each input step, from one backward pass
# (`saliency`; the model's parameters get no gradient). It does not vanish over 1,000 steps,
# and here it is exactly zero everywhere but at the marked steps: nothing else reaches the
# output through the first layer's one active neuron.

# %%
gradient = saliency(model, held_out.inputs[sequence: sequence + 1])
norms = gradient.input_norm[0]
nonzero = torch.nonzero(norms).reshape(-1).tolist()
print(f"‖∂y/∂x_t‖ > 0 at steps {nonzero[:10]}{' ...' if len(nonzero) > 10 else ''} "
      f"({len(nonzero)} of {norms.numel()}; markers at {markers}), largest "
      f"{float(norms.max()):.3g}")
# Linear axis: on a log one the zero steps would vanish from the plot.
save_figure(figures.gradient_over_time({MODEL: norms}, log_y=False), "gradient_over_time")
print(f"outputs in {OUT}")
