"""The Overview says what the model's neurons do (its findings, measured on the test split) and
each named neuron opens on the Neurons page (AppTest)."""

import torch
from apptest import APP
from streamlit.testing.v1 import AppTest

import indrnn
from indrnn.explain import card_findings
from ui import resources


def _overview(model: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params["model"] = model
    at.run()
    assert not at.exception, at.exception
    return at


def test_the_overview_lists_the_findings_with_what_their_neurons_do_on_this_input():
    torch.set_flush_denormal(True)
    at = _overview("adding1000_indrnn")
    assert "What this model does" in [h.value for h in at.subheader]
    found = resources.findings("adding1000_indrnn")
    assert found and found == card_findings(resources.pretrained("adding1000_indrnn").card)
    said = [m.value for m in at.markdown]
    assert any(found[0].claim in line for line in said), said
    captions = " ".join(c.value for c in at.caption)
    assert "On this input" in captions and "marker:" in captions  # the markers of this input


def test_a_neuron_named_by_a_finding_opens_on_the_neurons_page():
    torch.set_flush_denormal(True)
    at = _overview("adding1000_indrnn")
    top = resources.findings("adding1000_indrnn")[0]
    neuron = top.neurons[-1]
    at.button(key=f"finding_1_{neuron}").click().run()
    assert not at.exception, at.exception
    assert at.selectbox(key="layer_choice").value == top.layer
    assert at.selectbox(key="neuron_choice").value == neuron
    # the neuron's own page says what the findings say of it, and measures it on a click
    said = [m.value for m in at.markdown]
    assert any(top.claim in line for line in said), said
    at.button(key="measure_neuron").click().run()
    assert not at.exception, at.exception
    said = [m.value for m in at.markdown]
    assert any(line.startswith("- Silenced (h = 0): takes the test MSE from") for line in said)
    assert any(line.startswith("- Memory removed (u = 0): takes the test MSE") for line in said)


def test_a_neuron_no_finding_names_says_so_and_which_ones_they_name():
    found = resources.findings("adding1000_indrnn")
    layer = found[0].layer
    named = {n for f in found if f.layer == layer for n in f.neurons}
    other = next(n for n in range(128) if n not in named)
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params.update(model="adding1000_indrnn", layer=layer, neuron=str(other))
    at.run()
    at.switch_page("pages/1_Neurons.py").run()
    assert not at.exception, at.exception
    captions = " ".join(c.value for c in at.caption)
    assert f"No finding names neuron {other}; on {layer} they name" in captions, captions


def test_an_lstm_twin_has_findings_about_its_units_that_open_them():
    at = _overview("basicmotions_lstm")
    found = resources.findings("basicmotions_lstm")
    assert found and found[0].claim.startswith("Silencing units ")
    said = [m.value for m in at.markdown]
    assert any(found[0].claim in line for line in said), said
    unit = found[0].neurons[0]
    assert not any(b.key == "finding_1_patch" for b in at.button)  # patches run in IndRNNs
    at.button(key=f"finding_1_{unit}").click().run()
    assert not at.exception, at.exception
    assert at.selectbox(key="neuron_choice").value == unit


def test_an_uploaded_model_is_explained_when_the_user_asks(tmp_path):
    """An upload whose card stores no findings gets a button, not a minute's wait on opening;
    the findings it makes are the same as those of the listed model it is a copy of."""
    torch.set_flush_denormal(True)
    checkpoint = resources.pretrained("adding100_indrnn")
    card = {k: v for k, v in checkpoint.card.items() if k not in ("findings", "findings_command")}
    indrnn.save(checkpoint.model, tmp_path / "mine", card=card)
    at = _overview("adding100_indrnn")
    at.selectbox(key="model_choice").set_value("Upload a checkpoint…").run()
    at.file_uploader(key="checkpoint_upload").set_value(
        [("mine.json", (tmp_path / "mine.json").read_bytes(), "application/json"),
         ("mine.safetensors", (tmp_path / "mine.safetensors").read_bytes(),
          "application/octet-stream")]).run()
    assert not at.exception, at.exception
    assert not any(m.value.startswith("**1.**") for m in at.markdown)  # nothing made yet
    at.button(key="make_findings").click().run()
    assert not at.exception, at.exception
    said = [m.value for m in at.markdown]
    top = card_findings(checkpoint.card)[0]
    assert any(top.claim in line for line in said), said


def test_a_finding_opens_the_patching_page_on_its_neurons():
    torch.set_flush_denormal(True)
    at = _overview("adding1000_indrnn")
    second = resources.findings("adding1000_indrnn")[1]  # not the page's own default
    at.button(key="finding_2_patch").click().run()
    assert not at.exception, at.exception
    assert at.selectbox(key="layer_choice").value == second.layer
    assert at.multiselect(key="patch_neurons").value == list(second.neurons)
