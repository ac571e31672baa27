"""Sessions are isolated: one session's upload, selections and ablations never show in another,
and the caches shared by all sessions (pretrained models, their runs over held-out data) are
never changed by any page.

Two parts: Streamlit's AppTest (independent sessions in one process, sharing the process's
``st.cache_resource`` as a server's sessions do), and the real server in Debian's Chromium with
one browser context per user (skipped, as in ``tests/app/test_browser.py``, without Chromium).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from apptest import charts
from browsing import CHROMIUM, require_chromium
from streamlit.testing.v1 import AppTest

from indrnn import catalog

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
OVERVIEW = "pages/0_Overview.py"
EXAMPLES = ROOT / "examples"
TIMEOUT = 180
MODEL = "basicmotions_indrnn"
PAGES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "pages").glob("*.py"))
ABLATION = "pages/4_Ablation.py"
NEURONS = "pages/1_Neurons.py"


def _ui(module: str = "resources") -> Any:
    """``ui.MODULE``, the very module the app's pages use (the repository root on the path)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module(f"ui.{module}")


def _session(model: str = MODEL) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["model"] = model
    return at.run()


def _texts(at: AppTest) -> str:
    """Every text the session shows (main area and sidebar)."""
    parts: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning",
                 "error", "success", "code"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [f"{m.label} {m.value}" for m in at.metric]
    return "\n".join(parts)


def _healthy(at: AppTest) -> None:
    assert not at.exception, at.exception
    assert not [e.value for e in at.error], [e.value for e in at.error]


def _state(at: AppTest, key: str) -> Any:
    try:
        return at.session_state[key]
    except KeyError:
        return None


def _alice_csv() -> bytes:
    """A private sequence: 37 steps of a BasicMotions recording, rescaled."""
    lines = (EXAMPLES / "basicmotions_test0010_running.csv").read_text().splitlines()
    rows = [",".join(f"{float(v) * 1.37 + 0.011:.6f}" for v in line.split(","))
            for line in lines[1:38]]
    return "\n".join([lines[0], *rows]).encode()


def _views(at: AppTest) -> dict[str, Any]:
    """What a session shows on the overview, the Neurons and the Ablation page."""
    at.switch_page(OVERVIEW).run()
    _healthy(at)
    overview = _texts(at)
    at.switch_page(NEURONS).run()
    _healthy(at)
    neurons = (at.selectbox(key="layer_choice").value, at.selectbox(key="neuron_choice").value,
               _texts(at))
    at.switch_page(ABLATION).run()
    _healthy(at)
    return {"overview": overview, "neuron": neurons[:2], "neurons_text": neurons[2],
            "ablation": (at.multiselect(key="ablation_neurons").value,
                         at.radio(key="ablation_mode").value),
            "ablation_text": _texts(at), "charts": len(charts(at))}


def test_one_sessions_upload_selection_and_ablation_never_show_in_another():
    bob = _session()
    before = _views(bob)
    assert "Sequence 0 (100 steps)" in before["overview"]  # bob runs the shipped example

    alice = _session()
    alice.radio(key="input_source").set_value("Upload a file").run()
    alice.file_uploader(key="sequence_upload").set_value(
        ("alice_private.csv", _alice_csv(), "text/csv")).run()
    _healthy(alice)
    assert "Sequence 0 (37 steps)" in _texts(alice)
    alice.switch_page(NEURONS).run()
    alice.selectbox(key="layer_choice").set_value("body.l1").run()
    picked = 7 if before["neuron"] != ("body.l1", 7) else 8
    alice.selectbox(key="neuron_choice").set_value(picked).run()
    _healthy(alice)
    assert "alice_private.csv" in _texts(alice)
    alice.switch_page(ABLATION).run()
    alice.radio(key="ablation_mode").set_value("take memory away (u = 0)").run()
    chosen = [3, 5] if before["ablation"][0] != [3, 5] else [4, 6]
    alice.multiselect(key="ablation_neurons").set_value(chosen).run()
    alice.button(key="rank_neurons").click().run()
    _healthy(alice)
    alice_view = _texts(alice)
    assert "Most impactful" in alice_view and "alice_private.csv" in alice_view
    assert alice.multiselect(key="ablation_neurons").value == chosen

    # Bob's session, re-run on every view after Alice's actions, is exactly as before.
    after = _views(bob)
    assert after["neuron"] == before["neuron"] != ("body.l1", picked)
    assert after["ablation"] == before["ablation"]
    assert after["ablation"][0] != chosen and after["ablation"][1] == "silence (h = 0)"
    assert after["charts"] == before["charts"]
    for key in ("overview", "neurons_text", "ablation_text"):
        assert "alice" not in after[key] and "37 steps" not in after[key]
    assert "Most impactful" not in after["ablation_text"]
    assert _state(bob, "kept_sequence_upload") is None
    assert not _state(bob, "cache_ablation_rankings")
    assert bob.query_params.get("neuron") in (None, str(before["neuron"][1]),
                                              [str(before["neuron"][1])])

    # A third user asking for an upload finds no file: nothing was shared through a cache.
    carol = _session()
    carol.radio(key="input_source").set_value("Upload a file").run()
    _healthy(carol)
    assert carol.file_uploader(key="sequence_upload").value is None
    assert "Choose a model and an input" in _texts(carol)
    assert "alice" not in _texts(carol) and "Sequence 0" not in _texts(carol)


def _digest(tensors: dict[str, torch.Tensor]) -> str:
    hasher = hashlib.sha256()
    for name in sorted(tensors):
        hasher.update(name.encode())
        hasher.update(tensors[name].detach().contiguous().cpu().numpy().tobytes())
    return hasher.hexdigest()


def _run_digest(run: Any) -> str:
    tensors = {"inputs": run.inputs, "lengths": run.lengths, "output": run.output}
    for name, layer in run.layers.items():
        tensors[f"{name}/hidden"] = layer.hidden
        tensors.update({f"{name}/{k}": v for k, v in layer.tensors.items()})
    return _digest(tensors)


@pytest.mark.parametrize("model", [MODEL, "mnist5k_res21"])
def test_shared_models_and_their_data_runs_are_never_modified_by_any_page(model):
    resources = _ui()
    shared = resources.pretrained(model)
    on_disk = _digest(catalog.load_model(model).model.state_dict())
    assert _digest(shared.model.state_dict()) == on_disk
    data_run = resources.held_out_run(model)
    data_before = _run_digest(data_run)

    at = _session(model)
    for page in PAGES:
        at.switch_page(page).run()
        _healthy(at)
    at.switch_page(ABLATION).run()
    layer = at.selectbox(key="layer_choice").value
    for mode in ("silence (h = 0)", "take memory away (u = 0)"):
        at.radio(key="ablation_mode").set_value(mode).run()
        at.multiselect(key="ablation_neurons").set_value([0, 1, 2]).run()
        at.button(key="rank_neurons").click().run()
        _healthy(at)
        assert "Most impactful" in _texts(at), f"no ranking for {layer}, {mode}"
        metrics = [m for m in at.metric if "original" in str(m.delta)]
        assert metrics, "the ablated model was not scored on held-out data"
    for page in PAGES:  # and every page again, after the ablations
        at.switch_page(page).run()
        _healthy(at)

    assert resources.pretrained(model) is shared  # the very object every session uses
    assert _digest(shared.model.state_dict()) == on_disk  # weights and batch-norm buffers
    assert not shared.model.training
    assert not any(p.requires_grad for p in shared.model.parameters())
    assert resources.held_out_run(model) is data_run
    assert _run_digest(data_run) == data_before


def test_the_shared_data_run_keeps_only_hidden_states():
    run = _ui().held_out_run(MODEL)
    assert run.layers and all(layer.hidden.ndim == 3 for layer in run.layers.values())
    assert all(v.ndim < 3 for layer in run.layers.values() for v in layer.tensors.values())


def test_a_sessions_runs_are_bounded_in_count_and_in_bytes(monkeypatch):
    sidebar = _ui("sidebar")
    at = _session()
    at.switch_page("pages/3_IndRNN_vs_LSTM.py").run()  # runs the LSTM partner as well
    examples = list(at.selectbox(key="example_choice").options)
    assert len(examples) >= 4
    for example in examples[:3]:
        at.selectbox(key="example_choice").set_value(example).run()
        _healthy(at)
    runs = at.session_state["cache_runs"]
    assert len(runs) == sidebar.KEPT_RUNS  # 3 inputs x (model, partner): the oldest dropped
    assert len({key[1] for key in runs}) == 2  # the byte budget keeps an earlier input's runs
    monkeypatch.setattr(sidebar, "KEPT_RUN_BYTES", 1)  # now only the current input's runs
    at.selectbox(key="example_choice").set_value(examples[3]).run()
    _healthy(at)
    runs = at.session_state["cache_runs"]
    assert len(runs) == 2 and len({key[1] for key in runs}) == 1
    assert sum(run.nbytes for run in runs.values()) > 1  # kept although over the budget


def test_importing_ui_loads_pandas_and_plotly_fully_before_any_page_draws():
    """Concurrent first sessions otherwise see a half-imported pandas (bench/load_test.py)."""
    code = ("import sys, ui; assert all(m in sys.modules for m in "
            "('pandas', 'plotly.io', 'plotly.tools')); import pandas; pandas.Series")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120)


# --- the real server, in Chromium ---------------------------------------------------------------

def _bench_server() -> Any:
    """``bench/server.py`` (starts the app on a free loopback port), shared with the benchmarks."""
    if "bench_server" not in sys.modules:
        spec = importlib.util.spec_from_file_location("bench_server",
                                                      ROOT / "bench" / "server.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["bench_server"] = module  # dataclasses look their module up here
        spec.loader.exec_module(module)
    return sys.modules["bench_server"]


@pytest.fixture(scope="module")
def browser():
    require_chromium()
    from playwright.sync_api import sync_playwright

    bench = _bench_server()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=bench.CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def fresh_server():
    """A new ``streamlit run app.py`` (nothing imported yet), file watcher off."""
    require_chromium()
    server = _bench_server().start_server(["--server.fileWatcherType", "none"])
    yield server.url
    server.stop()


def _settle(page: Any) -> None:
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]',
                           timeout=180_000)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=180_000)
    page.wait_for_timeout(300)


def _no_errors(page: Any, what: str) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, \
        f"exception on {what}: {page.locator('[data-testid=stException]').first.inner_text()}"
    assert "Traceback" not in page.inner_text("body"), f"traceback on {what}"


def test_two_users_on_one_server_never_see_each_others_upload(fresh_server, browser, tmp_path):
    # Several users arrive at once on a fresh server (the first figures are drawn concurrently).
    url = f"{fresh_server}/?model=japanesevowels_indrnn&source=Upload+a+file"
    contexts = [browser.new_context(viewport={"width": 1280, "height": 900}) for _ in range(4)]
    pages = [context.new_page() for context in contexts]
    for page in pages:
        page.goto(url, wait_until="commit")
    for index, page in enumerate(pages):
        page.wait_for_selector('[data-testid="stApp"]', timeout=120_000)
        _settle(page)
        _no_errors(page, f"first load of user {index}")
    alice, bob = pages[:2]

    alice_file = tmp_path / "alicefile.csv"
    alice_file.write_bytes((EXAMPLES / "japanesevowels_test0200_speaker-5.csv").read_bytes())
    alice.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(alice_file))
    alice.wait_for_selector("text=Sequence 0 (9 steps)", timeout=120_000)
    _settle(alice)
    _no_errors(alice, "alice's upload")
    assert "alicefile" in alice.inner_text("body")

    bob.reload()
    _settle(bob)
    bob_text = bob.inner_text("body")
    assert "alicefile" not in bob_text and "Sequence 0 (" not in bob_text
    assert bob.locator('[data-testid="stFileUploaderFile"]').count() == 0
    assert bob.locator('[data-testid="stFileUploaderDropzoneInput"]').count() == 1

    bob_file = tmp_path / "bobfile.csv"
    bob_file.write_bytes((EXAMPLES / "japanesevowels_test0007_speaker-1.csv").read_bytes())
    bob.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(bob_file))
    bob.wait_for_selector("text=Sequence 0 (29 steps)", timeout=120_000)
    _settle(bob)
    assert "alicefile" not in bob.inner_text("body")

    # Both move to another page of their own session: each keeps its own file, only its own.
    for page, mine, theirs, steps in ((alice, "alicefile", "bobfile", 9),
                                      (bob, "bobfile", "alicefile", 29)):
        page.locator('[data-testid="stSidebarNav"] a[href$="/Neurons"]').click()
        page.wait_for_selector("h1:has-text('Neurons')", timeout=120_000)
        _settle(page)
        _no_errors(page, f"Neurons for {mine}")
        text = page.inner_text("body")
        assert f"Using the uploaded file {mine}" in text and theirs not in text
        assert f"({steps} steps)" in text or f"{steps} steps" in text
    for context in contexts:
        context.close()
