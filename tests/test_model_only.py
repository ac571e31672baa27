"""Models saved without one of our tasks: read as sequence models, sized from the model, named
from the card, and no held-out data anywhere."""

from __future__ import annotations

import pytest
import torch

import indrnn
from indrnn.data import NO_TASK, ModelOnlyTask, NoTaskDataError, has_task_data, task_for
from indrnn.objectives import card_objective
from indrnn.sequence_model import SequenceModel, as_sequence_model


@pytest.mark.parametrize("body", [
    indrnn.IndRNN(3, 8, num_layers=2, batch_first=True),
    indrnn.IndRNN(3, 4, bidirectional=True),
    indrnn.LSTM(3, 5, num_layers=2),
    indrnn.PlainIndRNN(3, 6, num_layers=2, batch_norm="after"),
    indrnn.ResIndRNN(3, 6, num_blocks=2),
])
def test_a_bare_body_reads_as_its_last_step_through_an_identity_readout(body):
    torch.manual_seed(0)
    body.eval()
    x = torch.randn(2, 9, 3)
    wrapped = as_sequence_model(body)
    time_major = not getattr(body, "batch_first", False)
    expected = body(x.transpose(0, 1) if time_major else x)[0]
    expected = expected[-1] if time_major else expected[:, -1]
    assert torch.allclose(wrapped(x)[0], expected, atol=1e-6)
    assert wrapped.num_outputs == expected.shape[-1] and not wrapped.training
    # the wrapper copies: the user's module is not changed
    assert next(wrapped.body.parameters()).data_ptr() != next(body.parameters()).data_ptr()


def test_a_sequence_model_is_returned_as_it_is_and_other_modules_are_refused():
    model = SequenceModel({"architecture": "IndRNN", "config": indrnn.IndRNN(2, 4).config()}, 1)
    assert as_sequence_model(model) is model
    with pytest.raises(TypeError, match="a GRU cannot be read as a sequence model"):
        as_sequence_model(torch.nn.GRU(2, 4))


def _classifier() -> SequenceModel:
    return SequenceModel({"architecture": "IndRNN", "config": indrnn.IndRNN(3, 4).config()}, 2)


def test_a_card_without_a_task_gives_a_model_only_task_named_from_the_card():
    task = task_for({"class_names": ["no", "yes"], "channel_names": ["a", "b", "c"],
                     "seq_len": 50}, _classifier())
    assert isinstance(task, ModelOnlyTask) and not has_task_data(task)
    info = task.info
    assert (info.name, info.output_kind, info.input_size, info.num_classes, info.seq_len) == (
        NO_TASK, "classification_last_step", 3, 2, 50)
    objective = card_objective(task, {})
    assert objective.describe(torch.tensor([0.0, 3.0])).text.startswith("class yes")
    assert objective.held_out_labels(None, 4) is None
    tracks = task.annotation_tracks(torch.zeros(2, 7, 3))
    assert list(tracks) == ["time step", "input a", "input b", "input c"]
    with pytest.raises(NoTaskDataError, match="no held-out data"):
        objective.held_out()


def test_without_names_the_outputs_are_numbered_regression_outputs():
    task = task_for({}, _classifier())
    objective = card_objective(task, {})
    assert task.info.output_kind == "regression"
    assert objective.output_labels(2) == ("output 0", "output 1")


def test_a_known_task_is_loaded_as_before():
    task = task_for({"task": "adding", "task_kwargs": {"seq_len": 100}}, _classifier())
    assert has_task_data(task) and task.info.seq_len == 100


@pytest.mark.parametrize(("card", "message"), [
    ({"class_names": ["one"]}, r"card\['class_names'\] names 1, but the model has 2"),
    ({"channel_names": "abc"}, r"card\['channel_names'\] must be a list of strings"),
    ({"output_kind": "per_step_lm"}, r"card\['output_kind'\] must be 'regression' or"),
    ({"seq_len": -3}, r"card\['seq_len'\] must be a positive integer"),
    ({"output_range": [0]}, r"card\['output_range'\] must be \[low, high\]"),
])
def test_card_fields_of_the_wrong_type_or_length_are_named(card, message):
    with pytest.raises(ValueError, match=message):
        task_for(card, _classifier())


def test_a_token_model_needs_its_task():
    body = {"architecture": "IndRNN", "config": indrnn.IndRNN(8, 4).config()}
    model = SequenceModel(body, 10, readout="every", vocab_size=10, embedding_dim=8)
    with pytest.raises(ValueError, match="reads token ids: it needs its task's vocabulary"):
        task_for({}, model)


class _OwnModel(torch.nn.Module):
    """A user's own class, registered nowhere: an nn.LSTM feeding an indrnn.IndRNN."""

    def __init__(self):
        super().__init__()
        self.encoder = torch.nn.LSTM(3, 5, batch_first=True)
        self.memory = indrnn.IndRNN(5, 4)
        self.out = torch.nn.Linear(4, 2)

    def forward(self, x):
        h, _ = self.encoder(x)
        states, _ = self.memory(h.transpose(0, 1))
        return self.out(states[-1])


def test_a_users_own_module_is_recorded_with_its_torch_lstm_gates():
    torch.manual_seed(1)
    model = _OwnModel().eval()
    x = torch.randn(2, 6, 3)
    recording = indrnn.record(model, x)
    assert list(recording.layers) == ["encoder.l0", "memory.l0"]
    lstm = recording["encoder.l0"]
    assert lstm.kind == "lstm" and set(lstm.tensors) >= {"forget_gate", "cell", "output_gate"}
    expected, _ = torch.nn.LSTM.forward(model.encoder, x)
    assert torch.allclose(lstm.hidden, expected.transpose(0, 1), atol=1e-6)
    assert torch.allclose(recording.output, model(x), atol=1e-6)
    # h = o ⊙ tanh(c), from the recorded gates
    assert torch.allclose(lstm.hidden, lstm["output_gate"] * torch.tanh(lstm["cell"]), atol=1e-6)
    assert type(model.encoder) is torch.nn.LSTM  # the class is given back after the run
