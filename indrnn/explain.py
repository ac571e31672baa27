"""What the neurons of a trained IndRNN do, in sentences a researcher can check.

``python -m indrnn.explain models/NAME`` prints them. :func:`explain` returns them as
:class:`Finding` objects, ranked by effect. Every finding is *discovered* on the task's validation
split and *reported* on its test split (a claim is never scored on the data that suggested it),
and every finding carries an intervention: the test metric with the model intact and with exactly
the named neurons silenced (``h = 0``). A finding whose effect does not hold on the test split is
left out.

What findings are made of:

* **effect**: the smallest set of neurons of a layer whose silencing does most of the layer's
  damage (:func:`indrnn.analysis.causal.smallest_group`), with their memory (u, τ, half-life,
  how much of a value they keep over the task's length);
* **the adding problem's markers**: the neurons whose last state holds the first (or second)
  marked value, with a linear probe's R² on test sequences against a misaligned baseline
  (:func:`indrnn.analysis.probes.probe`) and how long after the marker they hold it;
* **code**: the neurons that follow a property of the source text (in a string, in a comment,
  bracket depth, indentation, column), with the same probe and baseline.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from indrnn.analysis.causal import (
    GroupEffect,
    group_effect,
    smallest_group,
    split_inputs,
    spread_objective,
)
from indrnn.analysis.discovery import pearson
from indrnn.analysis.locate import indrnn_layers, lstm_layers
from indrnn.analysis.patching import interchange_groups, slope_through_origin
from indrnn.analysis.probes import probe
from indrnn.checkpoint import Checkpoint, load
from indrnn.data import load_task
from indrnn.data.tracks import code_tracks
from indrnn.objectives import LanguageModel, Objective, Regression, card_objective
from indrnn.record import record
from indrnn.run import run_model

#: A finding is kept when silencing its neurons makes the test metric this much worse: a
#: relative rise for an error (MSE, bits per character), an absolute drop for accuracy.
MIN_RELATIVE_DAMAGE = 0.05
MIN_ACCURACY_DROP = 0.01
#: A probe finding is kept when its R² beats the misaligned baseline by this much.
MIN_R2_ABOVE_CHANCE = 0.1
#: ...and at least this R² itself: a probe far above a very negative chance level can still
#: explain nothing (R² -0.01 against -0.26 on a model that does not learn the task).
MIN_PROBE_R2 = 0.1
#: Layers explained at most (first, middle and last of a deeper model).
MAX_LAYERS = 3
PROBED_NEURONS = 3


@dataclass(frozen=True)
class Finding:
    """One thing some neurons of a layer do, with its numbers and its causal test.

    Attributes
    ----------
    layer : str
        A layer name as :func:`indrnn.record` gives it.
    neurons : tuple of int
    claim : str
        One plain sentence with the key numbers.
    evidence : dict of str to float
        Named numbers behind the claim (u, τ, half-life, probe R², its chance level, ...).
    metric : str
        The task's held-out metric.
    intact, silenced : float
        That metric on the test split, with the model intact and with ``neurons`` silenced.
    kind : str
        ``"effect"``, ``"marker"`` or ``"code"``.
    """

    layer: str
    neurons: tuple[int, ...]
    claim: str
    evidence: dict[str, float] = field(default_factory=dict)
    metric: str = ""
    intact: float = float("nan")
    silenced: float = float("nan")
    kind: str = "effect"

    def as_dict(self) -> dict:
        """Plain JSON-ready values (for a model card)."""
        found = asdict(self)
        found["neurons"] = list(self.neurons)
        found["evidence"] = {k: _rounded(v) for k, v in self.evidence.items()}
        found["intact"], found["silenced"] = _rounded(self.intact), _rounded(self.silenced)
        return found

    @classmethod
    def from_dict(cls, data: dict) -> Finding:
        return cls(str(data["layer"]), tuple(int(n) for n in data["neurons"]),
                   str(data["claim"]), {str(k): float(v) for k, v in data["evidence"].items()},
                   str(data["metric"]), float(data["intact"]), float(data["silenced"]),
                   str(data.get("kind", "effect")))


def _rounded(value: float) -> float | str:
    """Five significant digits; ``"inf"``/``"nan"`` as text (card JSON has no infinities)."""
    return float(f"{value:.5g}") if math.isfinite(value) else str(value)


def card_findings(card: dict) -> list[Finding] | None:
    """The findings stored in a model card (``python -m indrnn.explain --write``), or ``None``."""
    stored = card.get("findings")
    return None if stored is None else [Finding.from_dict(f) for f in stored]


@dataclass(frozen=True)
class Budget:
    """How much data each step reads: steps of the validation split to discover findings and
    of the test split to report them (at least ``min_sequences`` sequences each), characters of
    text for a language model, and steps of test sequences for each interchange test."""

    discover_steps: int = 50_000
    verify_steps: int = 200_000
    min_sequences: int = 32
    max_sequences: int = 200  #: to discover; twice as many to report
    text_chars: int = 4096
    interchange_steps: int = 64_000
    max_interchange_sequences: int = 64

    def interchange_sequences(self, objective: Objective) -> int:
        """Test sequences an interchange test reads (each costs a few runs of the model)."""
        wanted = self.interchange_steps // max(1, objective.info.seq_len or 1)
        return min(self.max_interchange_sequences, max(self.min_sequences, wanted))

    def sequences(self, objective: Objective, part: str) -> int:
        """Sequences read to ``"discover"`` (or ``"valid"``) and to ``"verify"`` (``"test"``)."""
        steps, most = ((self.discover_steps, self.max_sequences)
                       if part in ("discover", "valid") else
                       (self.verify_steps, 2 * self.max_sequences))
        wanted = steps // max(1, objective.info.seq_len or 1)
        return min(most, max(self.min_sequences, wanted))


def explain(checkpoint: Checkpoint | str | Path, *, data: Objective | None = None,
            budget: Budget = Budget(),
            progress: Callable[[int, int, str], None] | None = None) -> list[Finding]:
    """The findings of a trained model with IndRNN (or LSTM) layers, largest effect first.

    Parameters
    ----------
    checkpoint : Checkpoint or path
        A loaded checkpoint or its path (``models/NAME``); its card names the task.
    data : Objective, optional
        The task's objective, when already built (else from the card).
    budget : Budget
        Samples read to discover findings (validation split) and to report them (test split).
    progress : callable, optional
        ``progress(done, total, line)`` before each step (for a progress bar).

    Returns
    -------
    list of Finding
        Empty for a model without IndRNN or LSTM layers. An LSTM unit is silenced by shutting
        its output gate and loses its memory with its forget gate shut
        (:mod:`indrnn.analysis.ablation`); its memory is read from its mean forget gate.
    """
    if not isinstance(checkpoint, Checkpoint):
        checkpoint = load(checkpoint)
    card = checkpoint.card
    objective = data if data is not None else card_objective(
        load_task(card["task"], **card.get("task_kwargs", {})), card)
    return explain_model(checkpoint.model, objective, budget=budget, progress=progress)


def explain_model(model: nn.Module, objective: Objective, *, budget: Budget = Budget(),
                  progress: Callable[[int, int, str], None] | None = None) -> list[Finding]:
    """:func:`explain` for a model and its task's objective. ``progress(done, total, line)``
    is called before each step."""
    model = model.eval()
    torch.set_flush_denormal(True)
    objective = spread_objective(objective, {part: budget.sequences(objective, part)
                                             for part in ("valid", "test")})
    steps: list[tuple[str, Callable[[], list[Finding]]]] = []
    for layer in _explained_layers(model):
        steps.append((f"{layer}: the neurons it cannot do without",
                      lambda layer=layer: _effect_findings(model, objective, layer, budget)))
        if isinstance(objective, Regression) and "marker" in (objective.info.channel_names or ()):
            steps.append((f"{layer}: the neurons that hold the marked values",
                          lambda layer=layer: _marker_findings(model, objective, layer, budget)))
        if isinstance(objective, LanguageModel):
            steps.append((f"{layer}: the neurons that follow the code",
                          lambda layer=layer: _code_findings(model, objective, layer, budget)))
    findings: list[Finding] = []
    for done, (line, step) in enumerate(steps):
        if progress is not None:
            progress(done, len(steps), line)
        findings += step()
    return sorted(findings, key=lambda f: -_relative_damage(f))


def _explained_layers(model: nn.Module) -> list[str]:
    names = list(indrnn_layers(model)) + list(lstm_layers(model))
    if len(names) <= MAX_LAYERS:
        return names
    return [names[0], names[len(names) // 2], names[-1]]


def _relative_damage(finding: Finding) -> float:
    if finding.metric == "accuracy":
        return finding.intact - finding.silenced
    return (finding.silenced - finding.intact) / max(abs(finding.intact), 1e-12)


def _holds(effect: GroupEffect) -> bool:
    if effect.metric == "accuracy":
        return effect.damage >= MIN_ACCURACY_DROP
    return effect.damage >= MIN_RELATIVE_DAMAGE * max(abs(effect.intact), 1e-12)


def _limit(objective: Objective, budget: Budget, part: str) -> int:
    if isinstance(objective, LanguageModel):
        return budget.text_chars
    return budget.sequences(objective, part)


#: Test sequences an LSTM's forget gates are averaged over (:func:`_lstm_memory`).
FORGET_GATE_SEQUENCES = 16


def _memory(model: nn.Module, layer: str, neurons: tuple[int, ...], steps: int,
            objective: Objective) -> tuple[str, dict[str, float]]:
    """The neurons' memory in words and numbers: u, τ, half-life, what is kept over ``steps``
    (LSTM units: from their forget gates, :func:`_lstm_memory`)."""
    if layer in lstm_layers(model):
        return _lstm_memory(model, layer, neurons, steps, objective)
    u = indrnn_layers(model)[layer].u.detach().double().cpu()[list(neurons)].numpy()
    size = np.abs(u)
    with np.errstate(divide="ignore"):
        tau = np.where(size < 1, -1 / np.log(np.where(size > 0, size, 1e-300)), np.inf)
    half = tau * math.log(2)
    kept = float(np.median(np.minimum(size, 1.0) ** steps))
    evidence = {"u_min": float(u.min()), "u_max": float(u.max()),
                "tau_median": float(np.median(tau)), "half_life_median": float(np.median(half)),
                f"kept_over_{steps}_steps": kept}
    one = len(u) == 1
    low, high = _u(u.min()), _u(u.max())
    alike = low == high  # the same to the digits shown
    span = f"u {low}" if alike else f"u {low} to {high}"
    # A group's memory is that of its longest-lived neuron: the one that can carry a value.
    longest = float(size.max())
    who = ("it" if one else "each" if alike else
           f"the longest-lived (u {_u(u[size.argmax()])})")
    if longest >= 1:
        words = f"{span}: {who} loses nothing of a value (|u| ≥ 1: it grows while on)"
    elif longest ** steps >= 0.01:
        words = f"{span}: {who} keeps {longest ** steps:.0%} of a value over {steps:,} steps"
    elif longest == 0:
        words = f"{span}: no memory (each step forgets the last)"
    else:
        words = (f"{span}: short memory (half-life {math.log(0.5) / math.log(longest):.3g} "
                 f"steps at most; a value is gone long before {steps:,} steps)")
    return words, evidence


def _lstm_memory(model: nn.Module, layer: str, units: tuple[int, ...], steps: int,
                 objective: Objective) -> tuple[str, dict[str, float]]:
    """An LSTM unit's memory from its forget gate f, averaged over test steps: a cell keeps
    ``f̄^k`` of a value over k steps where the input gate stays shut, so τ = −1/ln f̄."""
    x = split_inputs(objective, "test", FORGET_GATE_SEQUENCES, text_chars=2000)
    with torch.no_grad():
        gates = record(model.eval(), x)[layer].tensors["forget_gate"]
    f = gates.double().mean(dim=(0, 1))[list(units)].numpy()
    with np.errstate(divide="ignore"):
        tau = np.where(f < 1, -1 / np.log(np.where(f > 0, f, 1e-300)), np.inf)
    longest = float(f.max())
    kept = longest ** steps
    evidence = {"forget_mean_min": float(f.min()), "forget_mean_max": longest,
                "tau_median": float(np.median(tau)),
                "half_life_median": float(np.median(tau) * math.log(2)),
                f"kept_over_{steps}_steps": float(np.median(f ** steps))}
    span = (f"forget gate {f.min():.4g}" if len(f) == 1 or f"{f.min():.4g}" == f"{longest:.4g}"
            else f"forget gate {f.min():.4g} to {longest:.4g}")
    if kept >= 0.01:
        words = f"{span} on average: a cell keeps {kept:.0%} of a value over {steps:,} steps"
    else:
        half = math.log(0.5) / math.log(longest) if longest > 0 else 0.0
        words = (f"{span} on average: short memory (half-life {half:.3g} steps at most, where "
                 "the input gate stays shut)")
    return words, evidence


def _u(value: float) -> str:
    """u with the digits that tell it from 1 where it is close to 1."""
    return f"{value:.6g}" if abs(1 - abs(value)) < 0.01 else f"{value:.4g}"


def _neurons(neurons: tuple[int, ...], model: nn.Module | None = None,
             layer: str = "") -> str:
    """"neurons 3, 7" (an LSTM layer's: "units 3, 7")."""
    listed = ", ".join(str(n) for n in neurons)
    word = "unit" if model is not None and layer in lstm_layers(model) else "neuron"
    return f"{word} {listed}" if len(neurons) == 1 else f"{word}s {listed}"


#: How a metric is named in a claim.
METRIC_NAMES = {"mse": "MSE", "bits_per_char": "bits per character"}


def effect_words(effect: GroupEffect) -> str:
    """What an edit does to the metric, in words: "the test MSE from 0.005 to 0.31 (62×)"."""
    if effect.metric == "accuracy":
        return (f"the test accuracy from {effect.intact:.1%} to {effect.edited:.1%}")
    if not math.isfinite(effect.ratio):
        change = ""
    elif effect.ratio >= 1000:  # three significant digits, without an exponent
        change = f" ({float(f'{effect.ratio:.3g}'):,.0f}×)"
    elif effect.ratio >= 1.5:
        change = f" ({effect.ratio:.3g}×)"
    else:  # a small change reads better as a share
        change = f" ({effect.ratio - 1:+.1%})"
    name = METRIC_NAMES.get(effect.metric, effect.metric)
    return f"the test {name} from {effect.intact:.4g} to {effect.edited:.4g}{change}"


#: How each edit of :func:`measured_effects` is named.
EDIT_NAMES = {"silence": "Silenced (h = 0)", "memory": "Memory removed (u = 0)"}


def measured_effects(model: nn.Module, objective: Objective, layer: str,
                     neurons: Sequence[int], *, budget: Budget = Budget(),
                     progress: Callable[[int, int, str], None] | None = None,
                     ) -> list[GroupEffect]:
    """The task's test metric with ``neurons`` of ``layer`` silenced (h = 0) and with their
    memory removed (u = 0), each against the model as trained, on the test sequences (or text)
    a finding is reported on. ``model`` is not changed."""
    model = model.eval()
    torch.set_flush_denormal(True)
    spread = spread_objective(objective, {"test": budget.sequences(objective, "test")})
    effects = []
    for done, mode in enumerate(EDIT_NAMES):
        if progress is not None:
            progress(done, len(EDIT_NAMES), EDIT_NAMES[mode])
        effects.append(group_effect(model, spread, layer, neurons, mode, split="test",
                                    limit=_limit(spread, budget, "verify")))
    return effects


def _steps(objective: Objective) -> int:
    return int(getattr(objective, "window", 0) or objective.info.seq_len or 1)


def _effect_findings(model: nn.Module, objective: Objective, layer: str,
                     budget: Budget) -> list[Finding]:
    found = smallest_group(model, objective, layer, split="valid",
                           limit=_limit(objective, budget, "discover"))
    if not found.neurons:
        return []
    effect = group_effect(model, objective, layer, found.neurons, split="test",
                          limit=_limit(objective, budget, "verify"))
    if not _holds(effect):
        return []
    words, evidence = _memory(model, layer, effect.neurons, _steps(objective), objective)
    evidence["discovered_silenced"] = found.edited
    claim = (f"Silencing {_neurons(effect.neurons, model, layer)} of {layer} takes "
             f"{effect_words(effect)}; {words}.")
    return [Finding(layer, effect.neurons, claim, evidence, effect.metric, effect.intact,
                    effect.edited, "effect")]


def _layer_states(model: nn.Module, objective: Objective, inputs: torch.Tensor,
                  lengths: torch.Tensor | None, layer: str) -> np.ndarray:
    """``(T, B, N)`` the layer's states on ``inputs``."""
    run = run_model(model, inputs, lengths, objective)
    return run.layers[layer].hidden.double().numpy()


def _marker_findings(model: nn.Module, objective: Objective, layer: str,
                     budget: Budget) -> list[Finding]:
    """The neurons whose last state holds each marked value of the adding problem."""
    parts = {}
    for split, part in (("valid", "discover"), ("test", "verify")):
        count = _limit(objective, budget, part)
        x = split_inputs(objective, split, count)
        marks = [torch.nonzero(row[:, 1] > 0).flatten() for row in x]
        if any(len(m) < 2 for m in marks):
            return []
        first = torch.stack([m[0] for m in marks])
        second = torch.stack([m[-1] for m in marks])
        rows = torch.arange(len(x))
        parts[split] = (_layer_states(model, objective, x, None, layer)[-1],
                        {"first": (x[rows, first, 0].double().numpy(), first.double().numpy()),
                         "second": (x[rows, second, 0].double().numpy(),
                                    second.double().numpy())}, x.shape[1])
        marked = {"first": first, "second": second}
    (fit_states, fit_values, _), (test_states, test_values, steps) = parts["valid"], parts["test"]
    findings = []
    for which in ("first", "second"):
        r = pearson(fit_states, fit_values[which][0])
        neurons = tuple(int(n) for n in np.argsort(-np.abs(r))[:PROBED_NEURONS])
        held = probe(fit_states[:, neurons], fit_values[which][0],
                     test_states[:, neurons], test_values[which][0])
        if not (held.above_chance >= MIN_R2_ABOVE_CHANCE and held.r2 >= MIN_PROBE_R2):
            continue
        effect = group_effect(model, objective, layer, neurons, split="test",
                              limit=_limit(objective, budget, "verify"))
        words, evidence = _memory(model, layer, neurons, steps, objective)
        later = float(np.mean(steps - 1 - test_values[which][1]))
        evidence.update({"probe_r2": held.r2, "probe_r2_chance": held.chance,
                         "steps_held_mean": later,
                         "r_discovery_max": float(np.abs(r[list(neurons)]).max())})
        patched, patch_words = {}, ""
        if layer in indrnn_layers(model):  # state patches run inside IndRNN layers only
            patched, patch_words = _marker_interchange(
                model, objective, layer, which, [int(n) for n in np.argsort(-np.abs(r))],
                len(neurons), marked[which], budget)
        evidence.update(patched)
        who = _neurons(neurons, model, layer).capitalize()
        claim = (f"{who} of {layer} hold the {which} marked value to the last step, "
                 f"{later:,.0f} steps after its marker on average: their last "
                 f"states give it with R² {held.r2:.2f} on test sequences (misaligned: "
                 f"{held.chance:.2f}); {words}. Silencing them takes {effect_words(effect)}. "
                 f"{patch_words}").rstrip()
        findings.append(Finding(layer, neurons, claim, evidence, effect.metric, effect.intact,
                                effect.edited, "marker"))
    return findings


#: The share of a marked value's effect that a patched group must carry to be named as the
#: neurons that carry it (:func:`_marker_interchange`).
CARRIED_SHARE = 0.8


def _marker_interchange(model: nn.Module, objective: Objective, layer: str, which: str,
                        ranked: list[int], size: int, marked: torch.Tensor,
                        budget: Budget) -> tuple[dict[str, float], str]:
    """Interchange test of a marker claim, on test sequences: give the ``size`` best-ranked
    neurons (and then twice, four times... as many) the states they have on the same sequences
    with the ``which`` marked value taken from another sequence, and fit how far the prediction
    moves per unit of change (1: it follows the value as a sum does)."""
    count = min(len(marked), budget.interchange_sequences(objective))
    base = split_inputs(objective, "test", len(marked))[:count]
    positions, rows = marked[:count], torch.arange(count)
    source = base.clone()
    source[rows, positions, 0] = base[rows.roll(1), positions.roll(1), 0]
    change = source[rows, positions, 0] - base[rows, positions, 0]
    sizes = [size]
    while sizes[-1] < len(ranked):
        sizes.append(min(len(ranked), 2 * sizes[-1]))
    results = interchange_groups(model, base, source, layer, [ranked[:k] for k in sizes])
    network = slope_through_origin(results[0].source - results[0].base, change)
    shares = [slope_through_origin(result.moved, change) for result in results]
    evidence = {"interchange_share": shares[0], "interchange_share_network": network,
                "interchange_sequences": float(count)}
    words = (f"Given the states they have on the same sequences with another {which} value, "
             f"they move the predicted sum by {shares[0]:.0%} of the change (the whole network "
             f"on that input: {network:.0%})")
    carried = next((k for k, share in zip(sizes, shares)
                    if share >= CARRIED_SHARE * network), None)
    if carried is not None and carried > size:
        share = shares[sizes.index(carried)]
        evidence.update({"interchange_carriers": float(carried),
                         "interchange_carriers_share": share})
        words += (f"; the value is spread: the {carried} neurons of {layer} that follow it most "
                  f"carry {share:.0%}")
    return evidence, words + "."


#: What each code track means, for the claim.
CODE_TRACKS = {"in_string": "whether the character is inside a string",
               "in_comment": "whether the character is inside a comment",
               "bracket_depth": "how many brackets are open",
               "indentation": "the indentation of the line",
               "column": "the position in the line"}


def _code_states(model: nn.Module, objective: LanguageModel, split: str, chars: int,
                 layer: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The layer's states over ``chars`` characters of ``split`` in 8 lanes, and the code
    tracks of those characters, one row per character."""
    inputs = split_inputs(objective, split, 0, text_chars=chars)
    states = _layer_states(model, objective, inputs, None, layer)  # (T, B, N)
    texts = objective.texts(inputs)
    tracks = [code_tracks(text) for text in texts]
    rows = states.transpose(1, 0, 2).reshape(inputs.numel(), -1)
    return rows, {name: np.concatenate([t[name] for t in tracks]) for name in CODE_TRACKS}


def _code_findings(model: nn.Module, objective: LanguageModel, layer: str,
                   budget: Budget) -> list[Finding]:
    fit_states, fit_tracks = _code_states(model, objective, "valid", budget.text_chars, layer)
    test_states, test_tracks = _code_states(model, objective, "test", budget.text_chars, layer)
    findings = []
    for name, meaning in CODE_TRACKS.items():
        r = pearson(fit_states, fit_tracks[name])
        neurons = tuple(int(n) for n in np.argsort(-np.abs(r))[:PROBED_NEURONS])
        held = probe(fit_states[:, neurons], fit_tracks[name], test_states[:, neurons],
                     test_tracks[name])
        if not (held.above_chance >= MIN_R2_ABOVE_CHANCE and held.r2 >= MIN_PROBE_R2):
            continue
        effect = group_effect(model, objective, layer, neurons, split="test",
                              limit=budget.text_chars)
        words, evidence = _memory(model, layer, neurons, _steps(objective), objective)
        evidence.update({"probe_r2": held.r2, "probe_r2_chance": held.chance,
                         "r_discovery_max": float(np.abs(r[list(neurons)]).max())})
        claim = (f"{_neurons(neurons, model, layer).capitalize()} of {layer} follow {meaning} "
                 f"(`{name}`): R² {held.r2:.2f} on test code (misaligned: {held.chance:.2f}); "
                 f"{words}. Silencing them takes {effect_words(effect)}.")
        findings.append(Finding(layer, neurons, claim, evidence, effect.metric, effect.intact,
                                effect.edited, "code"))
    return findings


def write_findings(path: str | Path, findings: list[Finding]) -> Path:
    """Store ``findings`` in the checkpoint's card (its JSON file; the weights are untouched)."""
    card_file = Path(path).with_suffix(".json")
    stored = json.loads(card_file.read_text())
    stored["card"]["findings"] = [f.as_dict() for f in findings]
    stored["card"]["findings_command"] = f"python -m indrnn.explain {card_file.with_suffix('')}"
    card_file.write_text(json.dumps(stored, indent=1, allow_nan=False) + "\n")
    return card_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="indrnn explain",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", help="models/NAME (with or without .json)")
    parser.add_argument("--top", type=int, default=None, help="print only the first N findings")
    parser.add_argument("--write", action="store_true",
                        help="store the findings in the checkpoint's card")
    args = parser.parse_args(argv)
    bar = tqdm(total=1, desc="explaining", file=sys.stderr, leave=False)

    def progress(done: int, total: int, line: str) -> None:
        bar.total = total
        bar.n = done
        bar.set_description(line)
        bar.refresh()

    findings = explain(args.checkpoint, progress=progress)
    bar.close()
    if not findings:
        print("No finding holds on the test split (or the model has no IndRNN or LSTM layer).")
    for number, finding in enumerate(findings[: args.top], 1):
        print(f"{number}. {finding.claim}")
    if args.write:
        print(f"written to {write_findings(args.checkpoint, findings)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
