"""Write ``models/README.md``: a table of every pretrained model, from the checkpoint cards.

Usage: ``python scripts/models_table.py [--models DIR] [--out FILE]``. Reads every
``DIR/*.json`` checkpoint (the JSON that :func:`indrnn.checkpoint.save` writes; the model card is
under ``"card"``) with :mod:`json` only, so it needs neither torch nor the weights, and writes
``DIR/README.md`` (or ``FILE``): one table of all models (name, task, body architecture and
depth, parameters, test metric, the paper's figure), then one short section per model (training
command, steps, wall time, hardware, why the recipe is what it is). With no cards it writes the
table's header and a note.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: the metric reported in the table, by the task's output kind (first one found otherwise)
PRIMARY = {"regression": "mse", "classification_last_step": "accuracy",
           "per_step_lm": "bits_per_char"}
TASK_ORDER = ("adding", "mnist5k", "permuted_mnist5k", "fashion_mnist", "permuted_fashion_mnist",
              "cpython_chars", "basicmotions", "japanesevowels")
NO_CARDS = "_No model cards in this folder yet: train models with `bash scripts/train_all.sh`._"


def read_cards(folder: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The cards of ``folder/*.json``, sorted by task then name, and the files skipped (why)."""
    cards, skipped = [], []
    for path in sorted(folder.glob("*.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            skipped.append(f"{path.name}: not readable JSON ({error})")
            continue
        card = document.get("card") if isinstance(document, dict) else None
        if not isinstance(card, dict):
            skipped.append(f"{path.name}: no \"card\" object")
            continue
        card = dict(card)
        card.setdefault("name", path.stem)
        card["_file"] = path.name
        cards.append(card)

    def order(card: dict[str, Any]) -> tuple[int, str]:
        task = card.get("task")
        return (TASK_ORDER.index(task) if task in TASK_ORDER else len(TASK_ORDER),
                str(card["name"]))

    return sorted(cards, key=order), skipped


def cell(value: Any) -> str:
    """Text safe inside a Markdown table cell."""
    return str(value).replace("|", "\\|").replace("\n", " ").strip() or "—"


def architecture(card: dict[str, Any]) -> str:
    """``"IndRNN 2 × 128"``, ``"ResIndRNN 21 layers × 64 (10 blocks)"``, ``"LSTM 1 × 128"``..."""
    body = card.get("recipe", {}).get("model", {}).get("body", {})
    name = body.get("architecture")
    if not name:
        return "—"
    config = body.get("config", {}) or {}
    width = config.get("hidden_size")
    try:
        if name in ("IndRNN", "PlainIndRNN", "LSTM") and "num_layers" in config:
            text = f"{name} {config['num_layers']} × {width}"
            norm = config.get("batch_norm")
            if name == "PlainIndRNN" and norm:
                text += f", BN {norm}"
            return text
        if name == "ResIndRNN" and "num_blocks" in config:
            blocks = int(config["num_blocks"])
            return f"{name} {2 * blocks + 1} layers × {width} ({blocks} blocks)"
        if name == "DenseIndRNN" and "blocks" in config:
            blocks = [int(b) for b in config["blocks"]]
            depth = 2 * sum(blocks) + len(blocks) + int(bool(config.get("last_layer", True)))
            return (f"{name} {depth} layers, blocks {tuple(blocks)}, "
                    f"growth {config.get('growth_rate')}")
    except (TypeError, ValueError):
        pass
    return str(name)


def primary_metric(card: dict[str, Any]) -> tuple[str, float | None]:
    """(metric name, value) of the card's test metrics; ``("", None)`` if there are none."""
    test = card.get("metrics", {}).get("test", {}) or {}
    kind = card.get("data", {}).get("output_kind")
    name = PRIMARY.get(kind)
    if name not in test:
        name = next((k for k in PRIMARY.values() if k in test), next(iter(test), ""))
    value = test.get(name)
    return name, value if isinstance(value, (int, float)) else None


def metric_text(name: str, value: float | None) -> str:
    if value is None:
        return "—"
    if name == "accuracy":
        return f"accuracy {100 * value:.1f}%"
    if name == "mse":
        return f"MSE {value:.3g}"
    if name == "bits_per_char":
        return f"{value:.3f} bits/char"
    return f"{name} {value:.4g}"


def duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return "—"
    minutes, secs = divmod(round(float(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def _better(name: str, a: float, b: float) -> bool:
    return a > b if name == "accuracy" else a < b


def seed_spread(card: dict[str, Any], metric: str) -> list[float] | None:
    """The test figures of ``metric`` over training seeds (``scripts/seed_spread.py --write``),
    or ``None`` when the card has fewer than two."""
    spread = card.get("metrics", {}).get("seed_spread") or {}
    values = spread.get("test") if spread.get("metric") == metric else None
    if not isinstance(values, list) or len(values) < 2:
        return None
    return [float(v) for v in values]


def _seed_gap(metric: str, ours: list[float], theirs: list[float]) -> tuple[str, bool | None]:
    """Text of two seed spreads and who is ahead: ``True``/``False`` when the means differ by
    more than twice the standard error of their difference, ``None`` (a tie) otherwise."""
    mean_ours, mean_theirs = statistics.mean(ours), statistics.mean(theirs)
    error = math.sqrt(statistics.variance(ours) / len(ours)
                      + statistics.variance(theirs) / len(theirs))
    scale, unit = (100, "%") if metric == "accuracy" else (1, "")

    def shown(values: list[float]) -> str:
        return (f"{scale * statistics.mean(values):.1f} ± {scale * statistics.stdev(values):.1f}"
                f"{unit}")

    ahead = (None if abs(mean_ours - mean_theirs) <= 2 * error
             else _better(metric, mean_ours, mean_theirs))
    verdict = {None: "a tie", True: "ahead", False: "behind"}[ahead]
    seeds = min(len(ours), len(theirs))
    return f"over {seeds} training seeds {shown(ours)} vs {shown(theirs)}, {verdict}", ahead


def _twin_rows(by_name: dict[str, dict[str, Any]], mine: str, theirs: str,
               labels: tuple[str, str] = ("", "")) -> list[tuple[str, bool | None]]:
    """``prefix: ours vs theirs`` for every model ``prefix_mine`` with a ``prefix_theirs``,
    each figure after its label, and whether ours is better. Where both cards hold a seed
    spread, the spread decides (``None``: the gap is within seed noise)."""
    rows = []
    for name, card in by_name.items():
        prefix, _, kind = name.rpartition("_")
        other = by_name.get(f"{prefix}_{theirs}")
        if kind != mine or other is None:
            continue
        metric, ours = primary_metric(card)
        _, their = primary_metric(other)
        if ours is None or their is None:
            continue
        text = (f"{prefix}: {labels[0]}{metric_text(metric, ours)} vs "
                f"{labels[1]}{metric_text(metric, their)}")
        spreads = seed_spread(card, metric), seed_spread(other, metric)
        if spreads[0] and spreads[1]:
            words, wins = _seed_gap(metric, *spreads)
            text += f" ({words})"
        else:
            wins = _better(metric, ours, their)
        rows.append((f"{text} {'=' if wins is None else '✓' if wins else '✗'}", wins))
    return rows


def claims_table(cards: list[dict[str, Any]]) -> list[str]:
    """The paper's claims, each with what the shipped models show, as Markdown lines."""
    by_name = {str(card["name"]): card for card in cards}
    rows = []
    long = by_name.get("adding5000_indrnn")
    if long is not None:
        metric, value = primary_metric(long)
        refit = (long.get("training") or {}).get("readout_refit")
        text = metric_text(metric, value)
        if refit:
            text += (f", after a least-squares refit of the readout (the network alone: MSE "
                     f"{refit['mse_before']:.3g})")
        else:
            text += ", from the trained network alone (no readout refit)"
        alone = refit["mse_before"] if refit else value
        rows.append(("IndRNN learns over 5,000 steps (adding, T = 5000)", text,
                     "yes" if alone is not None and alone < 0.01 else "partly"))
    beats = _twin_rows(by_name, "indrnn", "lstm")
    if beats:
        wins = sum(w is True for _, w in beats)
        ties = sum(w is None for _, w in beats)
        tied = f"; {ties} within seed noise" if ties else ""
        rows.append(("IndRNN beats an LSTM trained on the same task (IndRNN vs LSTM)",
                     "; ".join(t for t, _ in beats),
                     "yes" if wins == len(beats) else f"partly ({wins} of {len(beats)}{tied})"))
    shallower = _twin_rows(by_name, "res21", "indrnn", ("res-IndRNN 21 layers ", "IndRNN "))
    deep = shallower + _twin_rows(by_name, "res21", "lstm21",
                                  ("res-IndRNN 21 layers ", "LSTM 21 layers "))
    if deep:
        helps = [w for _, w in shallower]
        rows.append(("deep IndRNNs (> 20 layers) train, and depth helps",
                     "; ".join(t for t, _ in deep),
                     "yes" if all(helps) else "partly (trains; below the shallow model)"))
    def lead(prefix: str) -> float | None:
        """The IndRNN's accuracy minus its LSTM twin's on one task, in points."""
        twins = [by_name.get(f"{prefix}_{kind}") for kind in ("indrnn", "lstm")]
        if None in twins:
            return None
        (_, ours), (_, theirs) = (primary_metric(card) for card in twins)
        return None if ours is None or theirs is None else 100 * (ours - theirs)

    plain, shuffled = lead("fmnist"), lead("pfmnist")
    full_size = ("partly (no IndRNN and LSTM pair yet)" if plain is None else "yes" if plain > 0
                 else f"no (the LSTM leads by {-plain:.1f} points)")
    permuted = ("partly (needs IndRNN and LSTM on both pixel orders)"
                if plain is None or shuffled is None else
                f"{'yes' if shuffled > plain else 'no'} (the IndRNN's lead: {shuffled:+.1f} "
                f"points permuted, {plain:+.1f} in order)")
    for claim, task, verdict in (
            ("full-size pixel tasks (Fashion-MNIST 60k/10k, 784 steps), IndRNN above its LSTM",
             "fashion_mnist", full_size),
            ("permuted pixels, where LSTMs suffer most: the IndRNN's lead grows",
             "permuted_fashion_mnist", permuted)):
        found = [card for card in cards if card.get("task") == task]
        shown = "; ".join(f"{card['name']}: {metric_text(*primary_metric(card))}"
                          for card in found)
        rows.append((claim, shown or "not trained yet", verdict if found else "no"))
    lines = ["## The paper's claims, and what these models show", "",
             "| claim (Li et al. 2018/2019) | shipped models | shows it? |", "|---|---|---|"]
    lines += [f"| {cell(claim)} | {cell(shown)} | {cell(verdict)} |"
              for claim, shown, verdict in rows]
    if any("training seeds" in shown for _, shown, _ in rows):
        lines += ["", "Where both twins' cards hold test figures over several training seeds "
                  "(`python scripts/seed_spread.py RECIPE ... --write`: each seed trained "
                  "afresh, weights chosen on validation), the row gives mean ± standard "
                  "deviation, and a gap counts only when it exceeds twice its standard error; "
                  "`=` marks a tie. The shipped weights are an earlier run, not necessarily "
                  "one of these (a seed retrained on another machine or library version can "
                  "end elsewhere)."]
    return lines


def render(cards: list[dict[str, Any]], skipped: list[str]) -> str:
    lines = [
        "# Pretrained models",
        "",
        "Written by `python scripts/models_table.py` from the cards in this folder "
        "(`NAME.json`, next to the weights `NAME.safetensors`); do not edit by hand. Load one "
        "with `indrnn.load(\"models/NAME\")`; recheck its metric with "
        "`python -m indrnn.evaluate models/NAME`.",
        "",
        "| model | task | body | parameters | test metric | paper |",
        "|---|---|---|---:|---|---|",
    ]
    for card in cards:
        name, value = primary_metric(card)
        parameters = card.get("parameters")
        lines.append(
            f"| [{cell(card['name'])}](#{anchor(card['name'])}) | {cell(card.get('task', '—'))} "
            f"| {cell(architecture(card))} "
            f"| {f'{parameters:,}' if isinstance(parameters, int) else '—'} "
            f"| {cell(metric_text(name, value))} | {cell(card.get('paper', ''))} |")
    if not cards:
        lines += ["", NO_CARDS]
    else:
        lines += ["", *claims_table(cards)]
    for card in cards:
        recipe, training = card.get("recipe", {}) or {}, card.get("training", {}) or {}
        test = card.get("metrics", {}).get("test", {}) or {}
        lines += [
            "",
            f"## {card['name']}",
            "",
            f"- task: `{card.get('task', '—')}`"
            + (f" with `{json.dumps(card['task_kwargs'])}`" if card.get("task_kwargs") else "")
            + f"; recipe `{recipe.get('name', '—')}`; file `{card['_file']}`",
            "- test: " + (", ".join(f"{k} {v:.4g}" if isinstance(v, (int, float)) else f"{k} {v}"
                                    for k, v in test.items()) or "—"),
            f"- trained: {training.get('steps', '—')} steps"
            + (f" of batch {training['batch_size']}" if "batch_size" in training else "")
            + f", {duration(training.get('wall_time_s'))}"
            + f" on {training.get('hardware', '—')}"
            + (f", seed {training['seed']}" if "seed" in training else ""),
        ]
        if training.get("initialised_from"):
            start = training["initialised_from"]
            lines.append(f"- started from `{start.get('path')}` "
                         f"(trained with `{json.dumps(start.get('task_kwargs'))}`)")
        if training.get("readout_refit"):
            refit = training["readout_refit"]
            lines.append(f"- readout refitted by least squares after training, on "
                         f"{refit['sequences']:,} training sequences: MSE "
                         f"{refit['mse_before']:.4g} before, {refit['mse_after']:.4g} after")
        lines += [
            "",
            "```bash",
            str(training.get("command", "—")),
            "```",
        ]
        if recipe.get("why"):
            lines += ["", f"Why: {recipe['why']}"]
        if card.get("findings"):
            who = "units" if architecture(card).startswith("LSTM") else "neurons"
            lines += ["", f"What its {who} do (`python -m indrnn.explain`; discovered on the "
                      "validation split, measured on the test split):", ""]
            lines += [f"{k}. {finding['claim']}" for k, finding in
                      enumerate(card["findings"][:3], 1)]
        if card.get("paper"):
            lines += ["", f"Paper: {card['paper']}"]
    if skipped:
        lines += ["", "Skipped files:", ""] + [f"- {s}" for s in skipped]
    lines.append("")
    return "\n".join(lines)


def anchor(name: Any) -> str:
    """GitHub's heading anchor of ``## name``."""
    text = str(name).strip().lower()
    return "".join(c for c in text.replace(" ", "-") if c.isalnum() or c in "-_")


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=ROOT / "models",
                        help="folder of checkpoint cards (default: models/)")
    parser.add_argument("--out", type=Path, help="output file (default: MODELS/README.md)")
    args = parser.parse_args(argv)
    if not args.models.is_dir():
        parser.error(f"{args.models} is not a folder")
    cards, skipped = read_cards(args.models)
    out = args.out or args.models / "README.md"
    out.write_text(render(cards, skipped), encoding="utf-8")
    for line in skipped:
        print(f"skipped {line}", file=sys.stderr)
    print(f"wrote {out}: {len(cards)} models")
    return out


if __name__ == "__main__":
    main()
