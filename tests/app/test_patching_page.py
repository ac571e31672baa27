"""The Patching page runs a sequence while chosen neurons take another input's states, opens on
the neurons a finding names and on the task's marked step, and keeps its choices (AppTest)."""

import re

import pytest
import torch
from apptest import open_page

from indrnn.analysis import interchange
from ui import resources

PAGE = "pages/5_Patching.py"


def _carried(at) -> float:
    line = next(m.value for m in at.markdown if "of the difference" in m.value)
    return float(re.search(r"carr(?:y|ies) (-?\d+)% of the difference", line).group(1)) / 100


def test_it_opens_on_the_findings_neurons_and_the_first_marker_and_says_what_they_carry():
    torch.set_flush_denormal(True)
    at = open_page(PAGE, "adding1000_indrnn")
    assert at.selectbox(key="layer_choice").value == "body.l1"
    assert at.multiselect(key="patch_neurons").value == [0, 44, 43]  # the first-marker finding
    assert at.radio(key="patch_source").value == "edit"
    step = int(at.number_input(key="patch_step").value)
    value = float(at.number_input(key="patch_value").value)
    run = next(iter(at.session_state["cache_runs"].values()))  # the example the page ran
    base = run.sequence_inputs(0)
    assert step == int(torch.nonzero(base[0, :, 1] > 0)[0])  # the first marker
    assert value == pytest.approx(1 - float(base[0, step, 0]), abs=1e-3)
    captions = " ".join(c.value for c in at.caption)
    assert f"step {step} set from" in captions
    # The share it prints is the library's, on the same two inputs.
    carried = _carried(at)
    assert 0.05 < carried < 0.6  # the first-marker holders carry part of the value (finding)
    source = base.clone()
    source[0, step, 0] = value
    model = resources.pretrained("adding1000_indrnn").model
    result = interchange(model, base, source, "body.l1", [0, 44, 43])
    share = float((result.patched - result.base) / (result.source - result.base))
    assert carried == pytest.approx(share, abs=0.006)


def test_more_neurons_carry_more_and_the_choice_is_in_the_link():
    torch.set_flush_denormal(True)
    at = open_page(PAGE, "adding1000_indrnn")
    few = _carried(at)
    at.multiselect(key="patch_neurons").set_value(list(range(128))).run()
    assert not at.exception, at.exception
    assert _carried(at) > few
    assert _carried(at) == pytest.approx(1.0, abs=0.01)  # the whole last layer: all of it
    assert str(at.query_params["patch"]).startswith("0,1,2,")


def test_a_held_out_source_and_a_window_of_steps():
    torch.set_flush_denormal(True)
    at = open_page(PAGE, "mnist5k_indrnn", patch_source="held_out", patch_window="0-392")
    assert at.radio(key="patch_source").value == "held_out"
    assert at.slider(key="patch_window").value == (0, 392)
    captions = " ".join(c.value for c in at.caption)
    assert "steps 0 to 391" in captions and "test sequence" in captions
    assert any("of the difference" in m.value or "same output" in m.value for m in at.markdown)


def test_a_model_without_indrnn_layers_says_what_patching_needs():
    at = open_page(PAGE, "adding1000_lstm")
    assert any("has no IndRNN layer" in i.value for i in at.info)
