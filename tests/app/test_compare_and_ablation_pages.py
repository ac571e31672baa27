"""The IndRNN vs LSTM and Ablation pages under AppTest."""

from pathlib import Path

import torch
from apptest import chart_titles, charts
from streamlit.testing.v1 import AppTest

from indrnn import catalog
from indrnn.analysis import neuron_influence

APP = str(Path(__file__).resolve().parents[2] / "app.py")
COMPARE = "pages/3_IndRNN_vs_LSTM.py"
ABLATION = "pages/4_Ablation.py"


def _snapshot(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same(model, snapshot):
    return all(torch.equal(v, snapshot[k]) for k, v in model.state_dict().items())


def _page(model: str, page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["model"] = model
    at.run()
    return at.switch_page(page).run()


def _titles(at: AppTest) -> list[str]:
    return chart_titles(at)


def _ok(at: AppTest) -> None:
    assert not at.exception, at.exception
    assert not [e.value for e in at.error]


def test_ablating_chosen_neurons_changes_the_output_and_the_held_out_metric():
    shared = _snapshot(catalog.load_model("basicmotions_indrnn").model)
    at = _page("basicmotions_indrnn", ABLATION)
    _ok(at)
    assert at.selectbox(key="layer_choice").value == "body.l1"  # the layer the readout reads
    run = next(iter(at.session_state["cache_runs"].values()))
    strongest = neuron_influence(catalog.load_model("basicmotions_indrnn").model, run,
                                 "body.l1").strongest
    assert at.multiselect(key="ablation_neurons").value == [strongest]
    at.multiselect(key="ablation_neurons").set_value(list(range(40))).run()
    at.radio(key="ablation_mode").set_value("silence (h = 0)").run()
    _ok(at)
    assert any("original vs ablated (40 neurons of body.l1, silence" in t for t in _titles(at))
    metrics = {m.label: m for m in at.metric}
    assert set(metrics) == {"accuracy", "loss"}
    assert "original" in metrics["loss"].proto.delta
    assert not metrics["loss"].proto.delta.startswith("+0 ")  # 40 of 64 neurons do matter
    at.radio(key="ablation_mode").set_value("take memory away (u = 0)").run()
    _ok(at)
    assert any("take memory away" in t for t in _titles(at))
    # The page ablated private copies: the model every session shares is as it was.
    from ui.resources import pretrained

    assert _same(pretrained("basicmotions_indrnn").model, shared)


def test_the_rank_button_draws_the_impact_of_every_neuron():
    at = _page("japanesevowels_indrnn", ABLATION)
    _ok(at)
    assert not any("Ablation impact" in t for t in _titles(at))
    at.button(key="rank_neurons").click().run()
    _ok(at)
    titles = _titles(at)
    assert any(t.startswith("Ablation impact") for t in titles)
    assert "Memory against impact, neuron by neuron" in titles
    (ranking,) = at.session_state["cache_ablation_rankings"].values()
    assert sorted(ranking.neurons.tolist()) == list(range(64))
    at.multiselect(key="ablation_neurons").set_value([3]).run()  # kept across reruns
    assert any(t.startswith("Ablation impact") for t in _titles(at))


def test_an_lstm_gets_a_pointer_to_its_indrnn_on_the_ablation_page():
    at = _page("basicmotions_lstm", ABLATION)
    _ok(at)
    assert "basicmotions_indrnn" in " ".join(i.value for i in at.info)
    assert charts(at)


def test_the_comparison_of_an_indrnn_shows_its_lstm_partners_gates_and_saturation():
    at = _page("basicmotions_indrnn", COMPARE)
    _ok(at)
    titles = _titles(at)
    assert any(t.startswith("Gate saturation of body.l0") for t in titles)
    assert "Memory: IndRNN τ from u, LSTM τ from mean forget gate" in titles
    at.selectbox(key="compare_lstm_layer").set_value("body.l1").run()
    at.selectbox(key="lstm_unit").set_value(5).run()
    _ok(at)
    titles = _titles(at)
    assert "LSTM gates, unit 5" in titles and "body.l1: gates of every unit × steps" in titles
    prediction = charts(at)[0]
    assert {t["name"] for t in prediction["data"]} == {"basicmotions_indrnn",
                                                       "basicmotions_lstm"}


def test_the_comparison_of_an_lstm_puts_its_indrnn_partners_memory_beside_it():
    at = _page("japanesevowels_lstm", COMPARE)
    _ok(at)
    memory = next(spec for spec in charts(at) if "Memory" in spec["layout"]["title"]["text"])
    names = " ".join(t["name"] for t in memory["data"])
    assert "IndRNN body.l0" in names and "LSTM body.l1" in names


def test_a_model_without_a_partner_of_its_settings_meets_the_tasks_lstm_named_as_such():
    at = _page("adding5000_indrnn", COMPARE)
    _ok(at)
    said = " ".join(c.value for c in at.caption)
    assert 'adding1000_lstm was trained on the same task with {"seq_len": 1000}' in said
    assert "LSTM gates: adding1000_lstm" in [h.value for h in at.subheader]
    assert "Memory: IndRNN τ from u, LSTM τ from mean forget gate" in _titles(at)


def test_the_comparison_says_what_each_model_does_side_by_side():
    from ui import resources

    at = _page("adding1000_indrnn", COMPARE)
    assert not at.exception, at.exception
    assert "What each model does" in [h.value for h in at.subheader]
    said = " ".join(m.value for m in at.markdown)
    ours = next(f for f in resources.findings("adding1000_indrnn") if f.kind == "marker")
    assert ours.claim in said  # where the IndRNN keeps a marked value, and for how long
    twin = resources.findings("adding1000_lstm")
    assert "**adding1000_lstm**" in said
    assert (twin[0].claim if twin else "No finding") in said
