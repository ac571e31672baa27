"""Task models: readouts, token input, nested body specs that save, load and are checked."""

import json

import pytest
import torch

import indrnn
from indrnn.checkpoint import CheckpointError
from indrnn.registry import ConfigError, build
from indrnn.sequence_model import SequenceModel, lstm_spec


def _indrnn_spec(input_size=2, hidden_size=8, num_layers=2):
    return {"architecture": "IndRNN",
            "config": indrnn.IndRNN(input_size, hidden_size, num_layers).config()}


def test_last_readout_takes_each_sequences_own_last_step():
    torch.manual_seed(0)
    model = SequenceModel(_indrnn_spec(), num_outputs=3).eval()
    x = torch.randn(3, 9, 2)
    lengths = torch.tensor([9, 4, 1])
    got, _ = model(x, lengths)
    for i, n in enumerate(lengths.tolist()):
        alone, _ = model(x[i : i + 1, :n])
        torch.testing.assert_close(got[i], alone[0], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="lengths must be"):
        model(x, torch.tensor([10, 1, 1]))


def test_every_step_readout_with_tokens_and_carried_state():
    torch.manual_seed(1)
    model = SequenceModel(lstm_spec(4, 16), num_outputs=11, readout="every", vocab_size=11,
                          embedding_dim=4).eval()
    ids = torch.randint(0, 11, (2, 12))
    whole, _ = model(ids)
    first, state = model(ids[:, :5])
    second, _ = model(ids[:, 5:], state=state)
    assert whole.shape == (2, 12, 11)
    torch.testing.assert_close(torch.cat([first, second], 1), whole, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="token input must be integer ids"):
        model(torch.randn(2, 12, 4))


def test_save_load_round_trip_of_a_nested_model(tmp_path):
    torch.manual_seed(2)
    body = {"architecture": "ResIndRNN",
            "config": indrnn.ResIndRNN(1, 8, num_blocks=2).config()}
    model = SequenceModel(body, num_outputs=4)
    model(torch.randn(5, 20, 1))  # batch-norm statistics move off their start
    model.eval()
    indrnn.save(model, tmp_path / "m", {"task": "test"})
    loaded = indrnn.load(tmp_path / "m")
    x = torch.randn(2, 20, 1)
    torch.testing.assert_close(loaded.model(x)[0], model(x)[0])
    assert loaded.architecture == "SequenceModel" and loaded.card == {"task": "test"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"architecture": "Evil", "config": {}}, r"\['architecture'\]: expected one of"),
        ({"architecture": "IndRNN"}, "a JSON object"),
        ({"architecture": "IndRNN", "config": {"input_size": 2, "hidden_size": "8"}},
         r"config\['hidden_size'\]: expected an int"),
        ({"architecture": "IndRNN", "config": {"input_size": 2, "hidden_size": 10**9}},
         r"config\['hidden_size'\]"),
        ({"architecture": "SequenceModel", "config": {}}, "without a nested body"),
    ],
)
def test_bad_nested_specs_are_named(tmp_path, body, message):
    with pytest.raises(ConfigError, match=message):
        build(body)
    model = SequenceModel(_indrnn_spec(), num_outputs=1)
    indrnn.save(model, tmp_path / "m")
    document = json.loads((tmp_path / "m.json").read_text())
    document["config"]["body"] = body
    (tmp_path / "m.json").write_text(json.dumps(document))
    with pytest.raises(CheckpointError, match=message):
        indrnn.load(tmp_path / "m")


def test_body_must_be_time_major():
    spec = _indrnn_spec()
    spec["config"]["batch_first"] = True
    with pytest.raises(ValueError, match="time-major"):
        SequenceModel(spec, num_outputs=1)
