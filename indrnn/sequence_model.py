"""Task models: a recurrent body from this library with an input layer and a linear readout.

One class covers every task the pretrained models solve, so IndRNNs and LSTMs trained on the same
task differ only in their ``body``:

* regression or classification from the last step (adding problem, pixel-by-pixel images, sensor
  actions): ``SequenceModel(body, num_outputs=k, readout="last")``; with variable lengths the
  readout takes each sequence's own last step;
* a language model (one prediction per step): ``SequenceModel(body, num_outputs=V,
  readout="every", vocab_size=V, embedding_dim=E)``, fed token ids.

``body`` is ``{"architecture": name, "config": {...}}`` for any registered architecture
(``IndRNN``, ``LSTM``, ``PlainIndRNN``, ``ResIndRNN``, ``DenseIndRNN``); the whole model saves
and loads with :mod:`indrnn.checkpoint`. Input is batch-first, ``(B, T, D)`` (or ``(B, T)`` token
ids); the body runs time-major.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from indrnn.registry import build, spec

ModelSpec = dict[str, Any]
READOUTS = ("last", "every")


def body_output_size(body: nn.Module) -> int:
    """Features per step of a body's output."""
    if isinstance(body, nn.LSTM):
        return (body.proj_size or body.hidden_size) * (2 if body.bidirectional else 1)
    if hasattr(body, "output_size"):
        return int(body.output_size)
    return body.hidden_size * (2 if getattr(body, "bidirectional", False) else 1)


def detach_state(state: Any) -> Any:
    """Cut a recurrent state (tensor, tuple or list of tensors) from the graph (truncated BPTT)."""
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, tuple | list):
        return type(state)(detach_state(s) for s in state)
    return state


class SequenceModel(nn.Module):
    """A recurrent body between an optional embedding and a linear readout.

    Parameters
    ----------
    body : dict
        ``{"architecture": name, "config": {...}}``; the body must run time-major (its
        ``batch_first`` false).
    num_outputs : int
        Outputs of the readout: 1 for regression, classes, or vocabulary size.
    readout : {"last", "every"}
        Read the last step (of each sequence's own length) or every step.
    vocab_size, embedding_dim : int, optional
        Give both for token input: ids ``(B, T)`` pass through an ``nn.Embedding`` first.
    """

    def __init__(self, body: ModelSpec, num_outputs: int, readout: str = "last",
                 vocab_size: int | None = None, embedding_dim: int | None = None):
        super().__init__()
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}")
        if (vocab_size is None) != (embedding_dim is None):
            raise ValueError("give both vocab_size and embedding_dim (token input) or neither")
        self.body_spec, self.num_outputs, self.readout = body, num_outputs, readout
        self.vocab_size, self.embedding_dim = vocab_size, embedding_dim
        self.embedding = None if vocab_size is None else nn.Embedding(vocab_size, embedding_dim)
        self.body = build(body)
        if getattr(self.body, "batch_first", False):
            raise ValueError("the body must be time-major: set batch_first=False in its config")
        self.head = nn.Linear(body_output_size(self.body), num_outputs)

    @property
    def input_size(self) -> int:
        """Features per step the model takes (the vocabulary size for token input)."""
        if self.embedding is not None:
            return int(self.vocab_size)
        return int(self.body_spec["config"]["input_size"])

    def config(self) -> dict[str, Any]:
        """Constructor arguments, JSON-safe: ``SequenceModel(**m.config())`` rebuilds it."""
        return {"body": self.body_spec, "num_outputs": self.num_outputs, "readout": self.readout,
                "vocab_size": self.vocab_size, "embedding_dim": self.embedding_dim}

    def features(self, x: Tensor, state: Any = None) -> tuple[Tensor, Any]:
        """The body's output, time-major ``(T, B, F)``, and its final state."""
        if self.embedding is not None:
            if x.dim() != 2 or x.dtype not in (torch.int64, torch.int32):
                raise ValueError(f"token input must be integer ids (B, T), got {x.dtype} "
                                 f"{tuple(x.shape)}")
            x = self.embedding(x)
        elif x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ValueError(f"input must be (B, T, {self.input_size}), got {tuple(x.shape)}")
        output, state = self.body(x.transpose(0, 1), state)
        return output, state

    def forward(self, x: Tensor, lengths: Tensor | None = None,
                state: Any = None) -> tuple[Tensor, Any]:
        """Run the model.

        Parameters
        ----------
        x : Tensor
            ``(B, T, D)`` features, or ``(B, T)`` token ids.
        lengths : Tensor, optional
            ``(B,)`` valid steps of each (right-padded) sequence, for ``readout="last"``.
        state : optional
            The body's initial state (e.g. the last call's, for truncated BPTT).

        Returns
        -------
        (Tensor, state)
            ``(B, num_outputs)`` for ``readout="last"``, ``(B, T, num_outputs)`` for
            ``"every"``; and the body's final state.
        """
        output, state = self.features(x, state)
        if self.readout == "every":
            return self.head(output).transpose(0, 1), state
        if lengths is None:
            last = output[-1]
        else:
            if lengths.shape != (output.shape[1],) or lengths.min() < 1 or (
                    lengths.max() > output.shape[0]):
                raise ValueError(f"lengths must be (B,) = ({output.shape[1]},) values in "
                                 f"[1, {output.shape[0]}], got {lengths.tolist()}")
            index = (lengths.to(output.device) - 1).view(1, -1, 1).expand(1, *output.shape[1:])
            last = output.gather(0, index).squeeze(0)
        return self.head(last), state


def lstm_spec(input_size: int, hidden_size: int, num_layers: int = 1,
              dropout: float = 0.0) -> ModelSpec:
    """The body spec of a time-major :class:`indrnn.LSTM`."""
    return spec("LSTM", input_size=input_size, hidden_size=hidden_size, num_layers=num_layers,
                dropout=dropout)


#: The recurrent bodies :func:`as_sequence_model` wraps: the library's layers and stacks.
BODIES = ("IndRNN", "LSTM", "PlainIndRNN", "ResIndRNN", "DenseIndRNN")


def as_sequence_model(model: nn.Module) -> SequenceModel:
    """``model`` as a :class:`SequenceModel`, so that every view can read it the same way.

    A :class:`SequenceModel` is returned as it is. A bare recurrent body (one of :data:`BODIES`,
    as saved with ``indrnn.save(IndRNN(...), path)``) is wrapped: the same weights, time-major,
    and a readout that is the identity on the body's last step, so the "outputs" are the last
    step's features (``output k`` is feature ``k``) and silencing a neuron of the last layer
    shows as exactly its own output going to 0.

    Raises
    ------
    TypeError
        For any other module, naming what is accepted.
    """
    if isinstance(model, SequenceModel):
        return model
    name = type(model).__name__
    config = getattr(model, "config", None)
    if name not in BODIES or not callable(config):
        raise TypeError(f"a {name} cannot be read as a sequence model: the app reads a "
                        f"SequenceModel or one of the library's recurrent layers "
                        f"({', '.join(BODIES)}); record your own module from Python with "
                        "indrnn.record instead")
    body_config = {**config(), "batch_first": False}
    parameter = next(model.parameters())
    wrapped = SequenceModel(spec(name, **body_config), num_outputs=1)
    features = body_output_size(wrapped.body)
    wrapped.head = nn.Linear(features, features)
    wrapped.num_outputs = features
    wrapped.body.load_state_dict(model.state_dict())
    with torch.no_grad():
        wrapped.head.weight.copy_(torch.eye(features))
        wrapped.head.bias.zero_()
    return wrapped.to(device=parameter.device, dtype=parameter.dtype).eval()
