"""The deep IndRNN networks of Li et al., "Deep Independently Recurrent Neural Network" (2019).

Sequence-to-sequence feature extractors (task heads are left to the caller), all time-major:

* :class:`TimeBatchNorm`: batch norm of ``(T, B, N)`` sequences, over all steps or per step.
* :class:`PlainIndRNN`: a stack of IndRNN layers, with batch norm before or after the recurrence.
* :class:`ResIndRNN`: pre-activation residual blocks "BN → IndRNN+ReLU → Weight", twice a block.
* :class:`DenseIndRNN`: dense blocks of "Weight–BN–IndRNN+ReLU" layers, with transitions.

Every IndRNN layer is an :class:`~indrnn.layers.IndRNNRecurrence` named ``….recurrence``, so
:func:`indrnn.record` reports each one (``layers.3.recurrence``, ``blocks.2.unit1.recurrence``)
and :func:`indrnn.clamp_recurrent_weights_` clamps each one. Each network's ``forward(input,
hx=None, step_offset=0)`` returns ``(output, h_n)``: ``output`` ``(T, B, output_size)`` (or
``(B, T, output_size)`` with ``batch_first``) and ``h_n`` a list with the last recurrent state
``(B, N_l)`` of every IndRNN layer in the order they run (``depth`` of them; before any batch
norm that follows the recurrence), which ``hx`` accepts back (as may a stacked ``(depth, B, N)``
tensor where all layers have one width); ``step_offset`` (the index of ``input``'s first step)
picks per-step batch statistics when a sequence is continued. ``cls(**net.config())`` rebuilds
a network (``backend`` excepted, a runtime choice).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from indrnn.bounds import Bound, check_bounds, per_layer
from indrnn.layers import IndRNNRecurrence, init_input_weight_
from indrnn.sequences import from_time_major, time_dropout, to_time_major

BATCH_NORMS = (None, "before", "after")


class TimeBatchNorm(nn.Module):
    """Batch norm of ``(T, B, N)`` sequences, with one affine ``(weight, bias)`` for all steps.

    Parameters
    ----------
    num_features : int
        ``N``.
    per_step : bool
        ``False`` (classification, BN after the activation in the paper): statistics over all
        steps and the batch, i.e. ``BatchNorm1d`` on the ``(T·B, N)`` rows. ``True`` (language
        models, BN before the activation): statistics over the batch at each step, with running
        statistics ``(max_steps, N)`` kept per step.
    max_steps : int
        Steps with their own running statistics (``per_step`` only). Training on step indices
        ``≥ max_steps`` raises ``ValueError``; in evaluation such steps use the running
        statistics of the last one, ``max_steps - 1`` (as the official code does).
    eps, momentum : float
        As in ``nn.BatchNorm1d`` (running variance unbiased, batch variance biased).

    ``forward(x, step_offset=0)``: ``x`` ``(T, B, N)``; ``step_offset`` is the index of ``x``'s
    first step in the whole sequence (truncated backpropagation through time, per-step only).
    """

    def __init__(self, num_features: int, per_step: bool = False, max_steps: int = 256,
                 eps: float = 1e-5, momentum: float = 0.1):
        super().__init__()
        if num_features < 1 or max_steps < 1:
            raise ValueError(f"num_features and max_steps must be positive, got {num_features}, "
                             f"{max_steps}")
        self.num_features, self.per_step, self.max_steps = num_features, per_step, max_steps
        self.eps, self.momentum = eps, momentum
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        shape = (max_steps, num_features) if per_step else (num_features,)
        self.register_buffer("running_mean", torch.zeros(shape))
        self.register_buffer("running_var", torch.ones(shape))

    def config(self) -> dict:
        """Constructor arguments: ``TimeBatchNorm(**bn.config())`` rebuilds it."""
        return {"num_features": self.num_features, "per_step": self.per_step,
                "max_steps": self.max_steps, "eps": self.eps, "momentum": self.momentum}

    def forward(self, x: Tensor, step_offset: int = 0) -> Tensor:
        if x.dim() != 3 or x.shape[-1] != self.num_features:
            raise ValueError(f"x must be (T, B, {self.num_features}), got {tuple(x.shape)}")
        steps, batch, features = x.shape
        if not self.per_step:
            return nn.functional.batch_norm(
                x.reshape(-1, features), self.running_mean, self.running_var, self.weight,
                self.bias, self.training, self.momentum, self.eps).view(x.shape)
        end = step_offset + steps
        if self.training:
            if step_offset < 0 or end > self.max_steps:
                raise ValueError(f"per-step batch norm keeps statistics for {self.max_steps} "
                                 f"steps; got steps {step_offset}..{end - 1} (raise max_steps)")
            if batch < 2:
                raise ValueError("per-step batch norm needs a batch of at least 2 in training")
            var, mean = torch.var_mean(x, dim=1, correction=0)
            with torch.no_grad():
                self.running_mean[step_offset:end].lerp_(mean, self.momentum)
                self.running_var[step_offset:end].lerp_(var * (batch / (batch - 1)),
                                                        self.momentum)
        else:
            index = torch.arange(step_offset, end, device=x.device).clamp_(0, self.max_steps - 1)
            mean, var = self.running_mean[index], self.running_var[index]
        scale = self.weight * torch.rsqrt(var + self.eps)
        return torch.addcmul((self.bias - mean * scale).unsqueeze(1), x, scale.unsqueeze(1))

    def extra_repr(self) -> str:
        return f"{self.num_features}, per_step={self.per_step}" + (
            f", max_steps={self.max_steps}" if self.per_step else "")


def _weight(in_features: int, out_features: int, bias: bool, nonlinearity: str) -> nn.Linear:
    """A Weight (input projection) initialised as :class:`~indrnn.IndRNN` initialises ``W``."""
    linear = nn.Linear(in_features, out_features, bias=bias)
    init_input_weight_(linear.weight, nonlinearity)
    if bias:
        nn.init.zeros_(linear.bias)
    return linear


class _Unit(nn.Module):
    """One IndRNN layer with its input weight, batch norm and dropout.

    ``weight="first"``: Weight → BN → IndRNN+σ ("before"), Weight → IndRNN+σ → BN ("after") or
    Weight → IndRNN+σ (``None``), then dropout. ``weight="last"`` (pre-activation): the same
    without the leading Weight, then dropout → Weight; ``"none"``: no Weight. A Weight has a bias
    only where no BN follows it (the BN's own bias replaces it).
    """

    def __init__(self, in_features: int, out_features: int, batch_norm: str | None,
                 settings: dict, bounds: tuple, dropout: float = 0.0, weight: str = "first"):
        super().__init__()
        size = out_features if weight == "first" else in_features
        self.batch_norm, self.dropout, self.weight_at = batch_norm, dropout, weight
        self.weight = None if weight == "none" else _weight(
            in_features, out_features, batch_norm != "before", settings["nonlinearity"])
        self.norm = None if batch_norm is None else TimeBatchNorm(
            size, settings["bn_per_step"], settings["max_steps"])
        self.recurrence = IndRNNRecurrence(size, settings["nonlinearity"], *bounds,
                                           backend=settings["backend"])

    def forward(self, x: Tensor, hx: Tensor | None, step_offset: int) -> tuple[Tensor, Tensor]:
        a = self.weight(x) if self.weight_at == "first" else x
        if self.batch_norm == "before":
            a = self.norm(a, step_offset)
        h, h_n = self.recurrence(a, hx)
        if self.batch_norm == "after":
            h = self.norm(h, step_offset)
        h = time_dropout(h, self.dropout, self.training)
        return (self.weight(h) if self.weight_at == "last" else h), h_n


class _Network(nn.Module):
    """What the three networks share: arguments, bounds per IndRNN layer, input and state."""

    def __init__(self, input_size: int, depth: int, batch_norm: str | None, bn_per_step: bool,
                 max_steps: int, dropout: float, nonlinearity: str, recurrent_min: Bound,
                 recurrent_max: Bound, last_layer_recurrent_min: float | None,
                 batch_first: bool, backend: str):
        super().__init__()
        if batch_norm not in BATCH_NORMS:
            raise ValueError(f"batch_norm must be one of {BATCH_NORMS}, got {batch_norm!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if input_size < 1:
            raise ValueError(f"input_size must be positive, got {input_size}")
        self.input_size, self.depth, self.batch_first = input_size, depth, batch_first
        self.batch_norm, self.bn_per_step, self.max_steps = batch_norm, bn_per_step, max_steps
        self.dropout, self.nonlinearity = dropout, nonlinearity
        self.recurrent_min = per_layer(recurrent_min, depth, "recurrent_min")
        self.recurrent_max = per_layer(recurrent_max, depth, "recurrent_max")
        self.last_layer_recurrent_min = last_layer_recurrent_min
        lows = list(self.recurrent_min)
        if last_layer_recurrent_min is not None:
            lows[-1] = last_layer_recurrent_min
        self._bounds = list(zip(lows, self.recurrent_max))
        for low, high in self._bounds:
            check_bounds(low, high)
        self._settings = {"nonlinearity": nonlinearity, "bn_per_step": bn_per_step,
                          "max_steps": max_steps, "backend": backend}
        self._made = 0

    def _unit(self, in_features: int, out_features: int, dropout: float = 0.0,
              weight: str = "first") -> _Unit:
        """The next IndRNN layer (in running order), with that layer's bounds on u."""
        bounds = self._bounds[self._made]
        self._made += 1
        return _Unit(in_features, out_features, self.batch_norm, self._settings, bounds, dropout,
                     weight)

    def _common_config(self) -> dict:
        return {"batch_norm": self.batch_norm, "bn_per_step": self.bn_per_step,
                "max_steps": self.max_steps, "dropout": self.dropout,
                "nonlinearity": self.nonlinearity, "recurrent_min": self.recurrent_min,
                "recurrent_max": self.recurrent_max,
                "last_layer_recurrent_min": self.last_layer_recurrent_min,
                "batch_first": self.batch_first}

    def forward(self, input: Tensor, hx: Sequence[Tensor] | Tensor | None = None,
                step_offset: int = 0) -> tuple[Tensor, list[Tensor]]:
        if not isinstance(input, Tensor) or input.dim() != 3:
            layout = "(B, T, input_size)" if self.batch_first else "(T, B, input_size)"
            raise ValueError(f"input must be a {layout} tensor")
        weight = next(self.parameters())
        layout = to_time_major(input, self.input_size, self.batch_first, weight.dtype,
                               weight.device)
        states = [None] * self.depth if hx is None else list(hx)
        if len(states) != self.depth:
            raise ValueError(f"hx must hold {self.depth} states (one per IndRNN layer), "
                             f"got {len(states)}")
        h_n: list[Tensor] = []
        output = self._run(layout.data, iter(states), h_n, step_offset)
        return from_time_major(output, layout), h_n


class PlainIndRNN(_Network):
    """A stack of IndRNN layers ("Weight → BN → IndRNN+ReLU" per layer with ``"before"``).

    Parameters
    ----------
    input_size, hidden_size, num_layers : int
    batch_norm : {None, "before", "after"}
        ``"after"``: Weight → IndRNN+ReLU → BN (classification in the paper, with
        ``bn_per_step=False``); ``"before"``: Weight (no bias) → BN → IndRNN+ReLU (language
        models, ``bn_per_step=True``); ``None``: Weight → IndRNN+ReLU.
    bn_per_step, max_steps
        See :class:`TimeBatchNorm`.
    dropout : float
        On the output of every layer but the last, one mask per sequence shared over time.
    nonlinearity : {"relu", "tanh"}
    recurrent_min, recurrent_max : float or sequence of float, optional
        Bounds on ``|u|`` for all layers or one per layer, as in :class:`~indrnn.IndRNN`; u is
        initialised ``U(min or 0, max or 1)``. The paper: ``recurrent_max = γ^{1/T}``.
    last_layer_recurrent_min : float, optional
        Lower bound of the last layer only (``ε^{1/T}``, classification from the last step).
    batch_first : bool
    backend : {"auto", "reference", "cpu", "gpu"}

    ``depth == num_layers``; ``output_size == hidden_size``. Layers: ``layers.{i}``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 2,
                 batch_norm: str | None = None, bn_per_step: bool = False, max_steps: int = 256,
                 dropout: float = 0.0, nonlinearity: str = "relu", recurrent_min: Bound = None,
                 recurrent_max: Bound = None, last_layer_recurrent_min: float | None = None,
                 batch_first: bool = False, backend: str = "auto"):
        if hidden_size < 1 or num_layers < 1:
            raise ValueError(f"hidden_size and num_layers must be positive, got {hidden_size}, "
                             f"{num_layers}")
        super().__init__(input_size, num_layers, batch_norm, bn_per_step, max_steps, dropout,
                         nonlinearity, recurrent_min, recurrent_max, last_layer_recurrent_min,
                         batch_first, backend)
        self.hidden_size, self.num_layers, self.output_size = hidden_size, num_layers, hidden_size
        self.layers = nn.ModuleList(
            self._unit(input_size if i == 0 else hidden_size, hidden_size,
                       dropout if i < num_layers - 1 else 0.0) for i in range(num_layers))

    def config(self) -> dict:
        """Constructor arguments: ``PlainIndRNN(**net.config())`` rebuilds it."""
        return {"input_size": self.input_size, "hidden_size": self.hidden_size,
                "num_layers": self.num_layers, **self._common_config()}

    def _run(self, x: Tensor, states, h_n: list, step_offset: int) -> Tensor:
        for layer in self.layers:
            x, h = layer(x, next(states), step_offset)
            h_n.append(h)
        return x


class ResIndRNN(_Network):
    """Residual IndRNN with pre-activation blocks and identity shortcuts (the official order).

    ``input`` → Weight → ``num_blocks`` × [s + (BN → IndRNN+ReLU → Weight → BN → IndRNN+ReLU →
    Weight)(s)] → BN → IndRNN+ReLU → ``output``. Read along the stream, every IndRNN layer still
    sees "Weight (plus shortcuts) → BN → IndRNN+ReLU", and each branch ends in a Weight, so it
    adds a signed update to the stream. ``depth = 2 · num_blocks + 1`` IndRNN layers (21 by
    default, the paper's char-level PTB network). Parameters as :class:`PlainIndRNN`, except
    ``batch_norm`` (``"before"``, default, or ``"after"``: IndRNN+ReLU → BN → Weight) and
    ``dropout`` (after each IndRNN layer of a branch, before its Weight).

    The official code's last layer, "BN → IndRNN+ReLU", is the final batch norm and counts in
    ``depth``. Modules: ``input`` (the Weight), ``blocks.{i}.unit1`` / ``unit2``, ``last``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_blocks: int = 10,
                 batch_norm: str = "before", bn_per_step: bool = False, max_steps: int = 256,
                 dropout: float = 0.0, nonlinearity: str = "relu", recurrent_min: Bound = None,
                 recurrent_max: Bound = None, last_layer_recurrent_min: float | None = None,
                 batch_first: bool = False, backend: str = "auto"):
        if batch_norm is None or hidden_size < 1 or num_blocks < 0:
            raise ValueError("ResIndRNN needs batch_norm 'before' or 'after', hidden_size >= 1 "
                             f"and num_blocks >= 0, got {batch_norm!r}, {hidden_size}, "
                             f"{num_blocks}")
        super().__init__(input_size, 2 * num_blocks + 1, batch_norm, bn_per_step, max_steps,
                         dropout, nonlinearity, recurrent_min, recurrent_max,
                         last_layer_recurrent_min, batch_first, backend)
        self.hidden_size, self.num_blocks, self.output_size = hidden_size, num_blocks, hidden_size
        self.input = _weight(input_size, hidden_size, batch_norm != "before", nonlinearity)
        self.blocks = nn.ModuleList(nn.ModuleDict({
            "unit1": self._unit(hidden_size, hidden_size, dropout, weight="last"),
            "unit2": self._unit(hidden_size, hidden_size, dropout, weight="last"),
        }) for _ in range(num_blocks))
        self.last = self._unit(hidden_size, hidden_size, weight="none")

    def config(self) -> dict:
        """Constructor arguments: ``ResIndRNN(**net.config())`` rebuilds it."""
        return {"input_size": self.input_size, "hidden_size": self.hidden_size,
                "num_blocks": self.num_blocks, **self._common_config()}

    def _run(self, x: Tensor, states, h_n: list, step_offset: int) -> Tensor:
        x = self.input(x)
        for block in self.blocks:
            branch, h1 = block["unit1"](x, next(states), step_offset)
            branch, h2 = block["unit2"](branch, next(states), step_offset)
            x = x + branch
            h_n += (h1, h2)
        x, h = self.last(x, next(states), step_offset)
        h_n.append(h)
        return x


class DenseIndRNN(_Network):
    """Densely connected IndRNN: every layer is "Weight–BN–IndRNN+ReLU" (with ``"before"``).

    ``input`` → ``first`` (``init_features`` neurons) → dense blocks, with a transition between
    two blocks → ``last`` → ``output``. A dense layer turns its input ``x`` (all features so far)
    into ``cat[x, growth(bottleneck(x))]``: ``bottleneck`` has ``bottleneck · growth_rate``
    neurons, ``growth`` ``growth_rate``. A transition (and ``last``) keeps
    ``int(transition_ratio · F)`` of the ``F`` features. ``depth = 2 · sum(blocks) +
    len(blocks) + last_layer`` IndRNN layers: 40 for the paper's ``(8, 6, 4)``.

    Parameters
    ----------
    input_size, growth_rate : int
    blocks : sequence of int
        Dense layers per block; the paper uses ``(8, 6, 4)``.
    bottleneck : int
        Bottleneck width in units of ``growth_rate`` (4 in the paper).
    transition_ratio : float
        Share of features a transition keeps (0.5 in the paper).
    init_features : int, optional
        Width of the first layer; ``2 · growth_rate`` by default.
    last_layer : bool
        End with a transition layer, so the output is one IndRNN layer's (which
        ``last_layer_recurrent_min`` then bounds), as the official code does for classification
        and weight-tied language models. Without it the output is the last block's features.
    batch_norm : {"before", "after"}
    dropout : float
        After every IndRNN layer but ``last``, one mask per sequence shared over time.
    bn_per_step, max_steps, nonlinearity, recurrent_min, recurrent_max, last_layer_recurrent_min,
    batch_first, backend
        As :class:`PlainIndRNN`, bounds listed per IndRNN layer in running order.

    Modules: ``first``, ``blocks.{b}.{i}.bottleneck`` / ``growth``, ``transitions.{b}``, ``last``.
    """

    def __init__(self, input_size: int, growth_rate: int, blocks: Sequence[int] = (8, 6, 4),
                 bottleneck: int = 4, transition_ratio: float = 0.5,
                 init_features: int | None = None, last_layer: bool = True,
                 batch_norm: str = "before", bn_per_step: bool = False, max_steps: int = 256,
                 dropout: float = 0.0, nonlinearity: str = "relu", recurrent_min: Bound = None,
                 recurrent_max: Bound = None, last_layer_recurrent_min: float | None = None,
                 batch_first: bool = False, backend: str = "auto"):
        blocks = [int(b) for b in blocks]
        init_features = 2 * growth_rate if init_features is None else init_features
        if (batch_norm is None or growth_rate < 1 or bottleneck < 1 or not blocks
                or min(blocks) < 1 or not 0.0 < transition_ratio <= 1.0 or init_features < 1):
            raise ValueError("DenseIndRNN needs batch_norm 'before' or 'after', positive "
                             "growth_rate, bottleneck, init_features and block sizes, and "
                             f"0 < transition_ratio <= 1; got {batch_norm!r}, {growth_rate}, "
                             f"{bottleneck}, {init_features}, {blocks}, {transition_ratio}")
        depth = 2 * sum(blocks) + len(blocks) + int(last_layer)
        super().__init__(input_size, depth, batch_norm, bn_per_step, max_steps, dropout,
                         nonlinearity, recurrent_min, recurrent_max, last_layer_recurrent_min,
                         batch_first, backend)
        self.growth_rate, self.block_sizes, self.bottleneck = growth_rate, blocks, bottleneck
        self.transition_ratio, self.init_features = transition_ratio, init_features
        self.last_layer = last_layer
        self.first = self._unit(input_size, init_features, dropout)
        features = init_features
        self.blocks, self.transitions = nn.ModuleList(), nn.ModuleList()
        for b, size in enumerate(blocks):
            layers = nn.ModuleList()
            for _ in range(size):
                layers.append(nn.ModuleDict({
                    "bottleneck": self._unit(features, bottleneck * growth_rate, dropout),
                    "growth": self._unit(bottleneck * growth_rate, growth_rate, dropout)}))
                features += growth_rate
            self.blocks.append(layers)
            if b < len(blocks) - 1:
                kept = max(1, int(transition_ratio * features))
                self.transitions.append(self._unit(features, kept, dropout))
                features = kept
        self.last = None
        if last_layer:
            kept = max(1, int(transition_ratio * features))
            self.last = self._unit(features, kept)
            features = kept
        self.output_size = features

    def config(self) -> dict:
        """Constructor arguments: ``DenseIndRNN(**net.config())`` rebuilds it."""
        return {"input_size": self.input_size, "growth_rate": self.growth_rate,
                "blocks": list(self.block_sizes), "bottleneck": self.bottleneck,
                "transition_ratio": self.transition_ratio, "init_features": self.init_features,
                "last_layer": self.last_layer, **self._common_config()}

    def _run(self, x: Tensor, states, h_n: list, step_offset: int) -> Tensor:
        x, h = self.first(x, next(states), step_offset)
        h_n.append(h)
        for b, layers in enumerate(self.blocks):
            for layer in layers:
                new, h1 = layer["bottleneck"](x, next(states), step_offset)
                new, h2 = layer["growth"](new, next(states), step_offset)
                x = torch.cat([x, new], dim=-1)
                h_n += (h1, h2)
            if b < len(self.transitions):
                x, h = self.transitions[b](x, next(states), step_offset)
                h_n.append(h)
        if self.last is not None:
            x, h = self.last(x, next(states), step_offset)
            h_n.append(h)
        return x
