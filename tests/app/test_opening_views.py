"""Pages open on what matters: the readout layer's most influential neuron that is not silent,
with a line saying why; silent neurons hidden until asked for; widgets whose options change
start over; every choice that shapes a view is in the URL (AppTest)."""

import json

import torch
from apptest import APP, charts, open_page
from streamlit.testing.v1 import AppTest

from indrnn.analysis import neuron_influence
from ui import resources


def _query(at: AppTest, key: str) -> str:
    value = at.query_params[key]
    return value[0] if isinstance(value, list) else value


def _influence(at: AppTest, model: str, layer: str):
    run = next(iter(at.session_state["cache_runs"].values()))
    return neuron_influence(resources.pretrained(model).model, run, layer)


def test_neurons_opens_on_the_readout_layers_strongest_living_neuron_and_says_why():
    torch.set_flush_denormal(True)
    at = open_page("pages/1_Neurons.py", "adding1000_indrnn")
    assert at.selectbox(key="layer_choice").value == "body.l1"  # the layer the readout reads
    found = _influence(at, "adding1000_indrnn", "body.l1")
    neuron = at.selectbox(key="neuron_choice").value
    assert neuron == found.strongest and not found.silent[neuron]
    assert float(found.influence[neuron]) == float(found.influence.max())
    said = " ".join(c.value for c in at.caption)
    assert f"Showing neuron {neuron} of body.l1" in said and "silent here" in said, said
    options = at.selectbox(key="neuron_choice").options
    silent = int(found.silent.sum())
    assert silent > 0 and len(options) == 128 - silent  # silent ones hidden...
    at.toggle(key="show_silent").set_value(True).run()
    assert len(at.selectbox(key="neuron_choice").options) == 128  # ...until asked for
    assert any("silent here" in o for o in at.selectbox(key="neuron_choice").options)
    assert _query(at, "neuron") == str(neuron)


def test_a_neuron_chosen_in_the_link_is_kept_and_compared_with_the_strongest():
    at = open_page("pages/1_Neurons.py", "adding1000_indrnn", layer="body.l1", neuron="3")
    assert at.selectbox(key="neuron_choice").value == 3
    said = " ".join(c.value for c in at.caption)
    assert "Neuron 3: influence" in said and "the strongest on this input is" in said, said


def test_ablation_opens_on_the_strongest_neuron_and_keeps_the_set_in_the_url():
    at = open_page("pages/4_Ablation.py", "adding1000_indrnn", layer="body.l1")
    strongest = _influence(at, "adding1000_indrnn", "body.l1").strongest
    assert at.multiselect(key="ablation_neurons").value == [strongest]
    assert _query(at, "ablate") == str(strongest)
    again = open_page("pages/4_Ablation.py", "adding1000_indrnn", layer="body.l1",
                      ablate="5,17,999")
    assert again.multiselect(key="ablation_neurons").value == [5, 17]  # 999 is no neuron
    changed = " ".join(c.value for c in again.caption)
    assert "Largest change" in changed


def test_discovery_reopens_the_neuron_box_on_the_new_tracks_strongest():
    at = open_page("pages/7_Discovery.py", "adding100_indrnn")
    correlations = next(iter(at.session_state["cache_discovery"].values()))
    first, second = list(correlations)[:2]
    at.selectbox(key="discovery_track").set_value(first).run()
    at.selectbox(key="discovery_neuron").set_value(
        correlations[first].neurons.tolist()[3]).run()  # the user looks at a weaker one
    at.selectbox(key="discovery_track").set_value(second).run()
    assert not at.exception
    assert at.selectbox(key="discovery_neuron").value == correlations[second].neurons.tolist()[0]


def test_discovery_keeps_its_track_and_neuron_in_the_link_and_reopens_them():
    at = open_page("pages/7_Discovery.py", "adding100_indrnn")
    correlations = next(iter(at.session_state["cache_discovery"].values()))
    track = list(correlations)[1]
    neuron = correlations[track].neurons.tolist()[2]
    at.selectbox(key="discovery_track").set_value(track).run()
    at.selectbox(key="discovery_neuron").set_value(neuron).run()
    shared = at.session_state["shared_choices"]
    assert shared["track"] == track and shared["track_neuron"] == str(neuron)
    again = open_page("pages/7_Discovery.py", "adding100_indrnn", track=track,
                      track_neuron=str(neuron))
    assert not again.exception
    assert again.selectbox(key="discovery_track").value == track
    assert again.selectbox(key="discovery_neuron").value == neuron


def test_the_shipped_deep_lstm_at_chance_is_flagged_in_the_menu_and_on_the_overview():
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["model"] = "mnist5k_lstm21"
    at.run()
    assert not at.exception
    assert any("At chance" in w.value for w in at.warning), [w.value for w in at.warning]
    shown = at.selectbox(key="model_choice").options  # as the menu shows them
    assert any(s.startswith("mnist5k_lstm21") and "⚠ at chance" in s for s in shown), shown
    assert not any(s.startswith("mnist5k_indrnn ") and "⚠" in s for s in shown), shown


def test_the_u_axis_opens_as_distance_from_one_where_u_crowd_at_one_and_switches():
    at = open_page("pages/1_Neurons.py", "adding1000_indrnn", layer="body.l1")
    radio = at.radio(key="u_axis_body.l1")
    assert radio.value == "1 − |u| (log)"  # adding1000's memory neurons sit at u ≈ 1

    def scatter_axis(app: AppTest) -> dict:
        spec = next(s for s in charts(app) if "Click a neuron" in json.dumps(s))
        return spec["layout"]["xaxis"]

    assert scatter_axis(at).get("type") == "log"
    radio.set_value("u").run()
    assert not at.exception and scatter_axis(at).get("type") != "log"


def test_every_neuron_picker_marks_the_neurons_silent_on_this_input():
    # adding1000's layer 0: 127 of 128 neurons never fire on the example
    at = open_page("pages/4_Ablation.py", "adding1000_indrnn", layer="body.l0")
    options = at.multiselect(key="ablation_neurons").options
    silent = [o for o in options if o.endswith("(silent here)")]
    assert len(options) == 128 and 100 < len(silent) < 128, options[:5]
    patching = open_page("pages/5_Patching.py", "adding1000_indrnn", layer="body.l0")
    assert sum(o.endswith("(silent here)") for o in
               patching.multiselect(key="patch_neurons").options) == len(silent)
