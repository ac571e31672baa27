"""A researcher's own models, as the tests of "bring your own model" make them: trained for a few
steps on a real task here, saved with ``indrnn.save`` and cards that name no task of ours."""

from __future__ import annotations

from pathlib import Path

import torch

import indrnn
from indrnn.data import load_task
from indrnn.sequence_model import SequenceModel

#: What a user types for the own classifier: 20 steps of its 6 channels.
TYPED_ROWS = "\n".join(",".join(f"{(t * 7 + c) % 10 / 10:.1f}" for c in range(6))
                       for t in range(20))
CLASSES = ["standing", "running", "walking", "badminton"]
CHANNELS = ["ax", "ay", "az", "gx", "gy", "gz"]


def train_own_classifier(steps: int = 30, seed: int = 0) -> SequenceModel:
    """A 2-layer plain IndRNN trained for ``steps`` Adam steps on BasicMotions (real data)."""
    torch.manual_seed(seed)
    task = load_task("basicmotions")
    body = {"architecture": "PlainIndRNN",
            "config": indrnn.PlainIndRNN(6, 16, num_layers=2).config()}
    model = SequenceModel(body, num_outputs=4)
    optimiser = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(model(task.train.inputs)[0],
                                                 task.train.targets)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model.eval()


def write_own_models(folder: Path) -> dict[str, Path]:
    """Into ``folder``: ``own_classifier`` (a trained model whose card names classes and
    channels, no task), ``bare_indrnn`` (an ``indrnn.IndRNN`` saved alone, no card), and two files
    that are no checkpoint (``broken.json``, ``lonely.json`` without weights)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {
        "own_classifier": indrnn.save(train_own_classifier(), folder / "own_classifier", {
            "class_names": CLASSES, "channel_names": CHANNELS, "seq_len": 100,
            "description": "my BasicMotions classifier, 30 Adam steps"}),
        "bare_indrnn": indrnn.save(indrnn.IndRNN(3, 8, num_layers=2), folder / "bare_indrnn"),
    }
    (folder / "broken.json").write_text("{not json")
    (folder / "lonely.json").write_text(written["bare_indrnn"].read_text())
    return written
