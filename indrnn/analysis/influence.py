"""Which neurons of a layer matter on an input, read off one run without re-running the model.

A neuron's *influence* is its mean absolute state over the run's valid steps times the norm of
its outgoing weights: its column of the readout for the layer that feeds it, else its column of
the next recorded layer's input weights. A ReLU neuron whose state is 0 at every valid step is
*silent* on that input: nothing downstream can read it, so views should not open on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from indrnn.analysis.locate import indrnn_layers
from indrnn.run import Run
from indrnn.sequences import valid_steps


@dataclass(frozen=True)
class NeuronInfluence:
    """Per-neuron influence of one recorded layer on one run.

    Attributes
    ----------
    layer : str
    influence : Tensor
        ``(N,)`` mean ``|h|`` over valid steps × ``‖outgoing weights‖`` (see :attr:`basis`).
    silent : Tensor
        ``(N,)`` bool: the state is exactly 0 at every valid step of every sequence.
    basis : str
        What the outgoing weights are, in words ("the readout", "body.l2's input weights") or
        "activity alone" where the layer has no outgoing weight matrix of its width.
    """

    layer: str
    influence: Tensor
    silent: Tensor
    basis: str

    @property
    def strongest(self) -> int:
        """The most influential neuron that is not silent (0 if every neuron is silent)."""
        if bool(self.silent.all()):
            return 0
        return int(self.influence.masked_fill(self.silent, -1.0).argmax())

    def reason(self, neuron: int) -> str:
        """One line on why ``neuron`` is the one shown first."""
        quiet = int(self.silent.sum())
        silent = (f"; {quiet} of the layer's {self.silent.numel()} neurons are silent here"
                  if quiet else "")
        measure = ("mean |state|" if self.basis == "activity alone"
                   else f"mean |state| × norm of its weights into {self.basis}")
        return (f"Showing neuron {neuron} of {self.layer}, the one with the largest {measure} "
                f"on this input ({float(self.influence[neuron]):.3g}){silent}.")


def readout_norms(model: nn.Module, run: Run, layer: str) -> Tensor | None:
    """``‖head.weight[:, n]‖`` of each neuron of ``layer`` if it is the layer the readout reads
    (the last recorded one, of the readout's width); else ``None``."""
    head = getattr(model, "head", None)
    width = run.layers[layer].hidden.shape[-1]
    if layer == list(run.layers)[-1] and isinstance(head, nn.Linear) and (
            head.in_features == width):
        return head.weight.detach().cpu().float().norm(dim=0)
    return None


def _outgoing_norms(model: nn.Module, run: Run, layer: str, width: int) -> tuple[Tensor, str]:
    readout = readout_norms(model, run, layer)
    if readout is not None:
        return readout, "the readout"
    names = list(run.layers)
    following = names[names.index(layer) + 1:]
    refs = indrnn_layers(model)
    if following and following[0] in refs:
        weight = refs[following[0]].weight_ih
        if weight is not None and weight.dim() == 2 and weight.shape[1] == width:
            return weight.detach().cpu().float().norm(dim=0), f"{following[0]}'s input weights"
    return torch.ones(width), "activity alone"


def neuron_influence(model: nn.Module, run: Run, layer: str) -> NeuronInfluence:
    """How much each neuron of ``layer`` can move what reads it, on this run.

    Parameters
    ----------
    model : nn.Module
        The model that made ``run`` (its weights are read, never changed).
    run : Run
        From :func:`indrnn.run.run_model`.
    layer : str
        A recorded layer name (IndRNN or LSTM).
    """
    hidden = run.layers[layer].hidden.float()
    valid = valid_steps(run.lengths, hidden.shape[0]).unsqueeze(-1)
    magnitude = (hidden.abs() * valid)
    mean = magnitude.sum((0, 1)) / valid.sum().clamp(min=1)
    silent = magnitude.amax((0, 1)) == 0
    norms, basis = _outgoing_norms(model, run, layer, hidden.shape[-1])
    return NeuronInfluence(layer, mean * norms, silent, basis)


def readout_layer(run: Run, kinds: tuple[str, ...] = ("indrnn", "lstm")) -> str | None:
    """The last recorded layer of ``kinds``: in this library's models, the one the readout reads."""
    layers = [name for name, record in run.layers.items() if record.kind in kinds]
    return layers[-1] if layers else None
