"""What neurons do to the task: the held-out metric with a set of neurons silenced (h = 0) or
without memory (u = 0), and the smallest set that carries most of a layer's effect.

Neurons of an IndRNN layer are independent, so silencing a set is exact: the set's states are 0,
every other neuron's states are what they were, and only what reads the layer sees the change.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from indrnn.analysis.ablation import Ablation, ablations_applied, rank_neurons
from indrnn.data.base import SequenceSplit
from indrnn.objectives import LanguageModel, Objective


@dataclass(frozen=True)
class GroupEffect:
    """The task's metric with a layer's neurons intact and with ``neurons`` edited.

    Attributes
    ----------
    layer : str
    neurons : tuple of int
    mode : {"silence", "memory"}
    metric : str
        The objective's metric (``"mse"``, ``"accuracy"``, ``"bpc"``).
    intact, edited : float
        Its value with the model as trained and with the neurons edited.
    higher_is_better : bool
    """

    layer: str
    neurons: tuple[int, ...]
    mode: str
    metric: str
    intact: float
    edited: float
    higher_is_better: bool

    @property
    def damage(self) -> float:
        """How much worse the metric gets (positive: worse), in the metric's own units."""
        change = self.edited - self.intact
        return -change if self.higher_is_better else change

    @property
    def ratio(self) -> float:
        """``edited / intact`` (``inf`` when intact is 0)."""
        return self.edited / self.intact if self.intact else float("inf")


class _SpreadTask:
    """A task whose named splits are evenly spread subsets of its own (everything else is the
    task's): the first samples of a split stored class by class would be one class."""

    def __init__(self, task: object, splits: dict[str, SequenceSplit]):
        self._task, self._splits = task, splits

    def __getattr__(self, name: str) -> object:
        splits = self.__dict__.get("_splits", {})
        return splits[name] if name in splits else getattr(self.__dict__["_task"], name)


def spread_objective(objective: Objective, sizes: dict[str, int]) -> Objective:
    """A copy of ``objective`` whose splits (``{"valid": 100, "test": 200}``) hold that many
    samples spread evenly over the original split; a language model's text stays contiguous
    (its objective is returned as it is)."""
    if isinstance(objective, LanguageModel):
        return objective
    splits = {}
    for name, count in sizes.items():
        split: SequenceSplit = getattr(objective.task, name)
        index = torch.linspace(0, len(split) - 1, min(count, len(split))).round().long()
        splits[name] = SequenceSplit(split.inputs[index], split.targets[index],
                                     None if split.lengths is None else split.lengths[index])
    spread = copy.copy(objective)
    spread.task = _SpreadTask(objective.task, splits)
    return spread


def split_inputs(objective: Objective, split: str, count: int, *, text_chars: int = 4096,
                 lanes: int = 8) -> torch.Tensor:
    """The model's input for the first ``count`` sequences of ``split``; for a language model,
    its first ``text_chars`` characters in ``lanes`` lanes."""
    data = getattr(objective.task, split)
    if isinstance(objective, LanguageModel):
        width = max(1, min(text_chars, len(data) - 1) // lanes)
        return data[: lanes * width].view(lanes, width)
    return data.inputs[:count]


def metric_with(model: nn.Module, objective: Objective, layer: str, neurons: Sequence[int],
                mode: str = "silence", *, split: str = "valid",
                limit: int | None = None) -> float:
    """The objective's held-out metric with exactly ``neurons`` of ``layer`` edited (none: the
    model as trained), on the first ``limit`` samples of ``split``. ``model`` is not changed."""
    private = copy.deepcopy(model)
    edits = [Ablation(layer, tuple(int(n) for n in neurons), mode)] if len(neurons) else []
    with ablations_applied(private, edits):
        return float(objective.evaluate(private, split, limit)[objective.metric])


def group_effect(model: nn.Module, objective: Objective, layer: str, neurons: Sequence[int],
                 mode: str = "silence", *, split: str = "valid",
                 limit: int | None = None) -> GroupEffect:
    """:class:`GroupEffect` of ``neurons`` on ``split``."""
    intact = metric_with(model, objective, layer, (), split=split, limit=limit)
    edited = metric_with(model, objective, layer, neurons, mode, split=split, limit=limit)
    return GroupEffect(layer, tuple(int(n) for n in neurons), mode, objective.metric, intact,
                       edited, objective.higher_is_better)


def smallest_group(model: nn.Module, objective: Objective, layer: str, *, mode: str = "silence",
                   candidates: int = 8, most: int = 6, share: float = 0.9,
                   split: str = "valid", limit: int | None = None, rank_on: int = 16,
                   progress: Callable[[int, int], None] | None = None) -> GroupEffect:
    """The smallest set of neurons of ``layer`` whose silencing does most of the damage.

    The ``candidates`` neurons that move the output most when silenced alone (batched runs on
    ``rank_on`` sequences of ``split``, the data it is scored on) are the pool. Neurons are then
    added greedily, each time the one whose addition hurts the metric most, until the set does
    ``share`` of the damage of silencing the whole pool, or holds ``most`` neurons.

    Returns
    -------
    GroupEffect
        Scored on ``split`` (``limit`` samples): rescore it on other data before reporting it.
    """
    inputs = split_inputs(objective, split, rank_on, text_chars=2000)
    pool = rank_neurons(model, inputs, layer, mode=mode).neurons[:candidates].tolist()
    private = copy.deepcopy(model)

    def score(neurons: Sequence[int]) -> float:
        edits = [Ablation(layer, tuple(neurons), mode)] if neurons else []
        with ablations_applied(private, edits):
            value = float(objective.evaluate(private, split, limit)[objective.metric])
        return -value if objective.higher_is_better else value  # higher: worse

    intact, whole = score(()), score(pool)
    group: list[int] = []
    worst = intact
    steps = min(most, len(pool))
    for step in range(steps):
        if group and worst - intact >= share * (whole - intact):
            break
        tried = {n: score([*group, n]) for n in pool if n not in group}
        best = max(tried, key=tried.__getitem__)
        if group and tried[best] <= worst:  # adding anything no longer hurts
            break
        group.append(best)
        worst = tried[best]
        if progress is not None:
            progress(step + 1, steps)
    sign = -1.0 if objective.higher_is_better else 1.0
    return GroupEffect(layer, tuple(group), mode, objective.metric, sign * intact, sign * worst,
                       objective.higher_is_better)


@torch.no_grad()
def single_effects(model: nn.Module, objective: Objective, layer: str,
                   neurons: Sequence[int], mode: str = "silence", *, split: str = "valid",
                   limit: int | None = None) -> list[GroupEffect]:
    """:class:`GroupEffect` of each neuron alone."""
    return [group_effect(model, objective, layer, (n,), mode, split=split, limit=limit)
            for n in neurons]
