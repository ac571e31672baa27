"""Where models run: device choice, and the analyses on a GPU model agree with the CPU."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest
from torch import nn

from indrnn import catalog
from indrnn.analysis import compare_outputs, rank_neurons, saliency
from indrnn.analysis.ablation import Ablation
from indrnn.analysis.impulse import impulse_response
from indrnn.devices import default_device, device_name, model_device, pick_device
from indrnn.run import run_model

APP = str(Path(__file__).resolve().parents[1] / "app.py")
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_auto_picks_the_gpu_exactly_when_one_is_present():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert pick_device("auto").type == expected
    assert pick_device("cpu") == torch.device("cpu")


def test_a_bad_device_name_is_refused_with_what_is_expected():
    with pytest.raises(ValueError, match=r"unknown device 'gpu0'.*auto, cpu, cuda"):
        pick_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            pick_device("cuda")


def test_indrnn_device_overrides_the_default(monkeypatch):
    monkeypatch.setenv("INDRNN_DEVICE", "cpu")
    assert default_device() == torch.device("cpu")
    monkeypatch.setenv("INDRNN_DEVICE", "nonsense")
    with pytest.raises(ValueError, match="nonsense"):
        default_device()


def test_model_device_is_where_the_parameters_are():
    assert model_device(nn.Linear(2, 3)) == torch.device("cpu")
    assert model_device(nn.ReLU()) == torch.device("cpu")  # no parameters: the CPU


def test_naming_the_cpu_runs_no_program(monkeypatch):
    import platform
    import subprocess

    def refuse(*args, **kwargs):
        raise AssertionError(f"a program was run: {args}")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(platform, "_uname_cache", None, raising=False)  # not answered from cache
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        name = device_name(torch.device("cpu"))
        assert name.endswith("CPU, 2 threads") and platform.machine() in name
        torch.set_num_threads(1)
        assert device_name(torch.device("cpu")).endswith("CPU, 1 thread")
    finally:
        torch.set_num_threads(threads)


def test_the_app_says_where_models_run_and_falls_back_to_the_cpu(monkeypatch):
    from ui import resources

    monkeypatch.setenv("INDRNN_DEVICE", "nonsense")
    resources.compute_device.clear()
    try:
        at = AppTest.from_file(APP, default_timeout=120)
        at.query_params["model"] = "adding100_indrnn"
        at.run()
        assert not at.exception and not at.error
        captions = " ".join(c.value for c in at.sidebar.caption)
        assert "INDRNN_DEVICE" in captions and "running on the CPU instead" in captions
        assert any(m.value.startswith("Sequence 0") or "Sequence 0" in m.value
                   for m in at.markdown)
    finally:
        resources.compute_device.clear()


@needs_cuda
@pytest.mark.parametrize("name", ["adding100_indrnn", "basicmotions_lstm"])
def test_every_analysis_of_a_gpu_model_matches_the_cpu_and_returns_cpu_tensors(name):
    cpu = catalog.load_model(name).model.eval()
    gpu = copy.deepcopy(cpu).cuda()
    x = torch.randn(2, 60, catalog.entry(name).card["data"]["input_size"])
    on_cpu, on_gpu = run_model(cpu, x), run_model(gpu, x)
    torch.testing.assert_close(on_gpu.output, on_cpu.output, rtol=1e-4, atol=1e-5)
    for layer in on_cpu.layers:
        assert on_gpu.layers[layer].hidden.device.type == "cpu"
        torch.testing.assert_close(on_gpu.layers[layer].hidden, on_cpu.layers[layer].hidden,
                                   rtol=1e-4, atol=1e-5)
    grad_cpu, grad_gpu = saliency(cpu, x), saliency(gpu, x)
    torch.testing.assert_close(grad_gpu.input_gradient, grad_cpu.input_gradient,
                               rtol=1e-3, atol=1e-5)
    assert grad_gpu.recording.output.device.type == "cpu"
    layer = next(iter(on_cpu.layers))
    if on_cpu.layers[layer].kind != "indrnn":
        return
    ablation = [Ablation(layer, (0, 1), "silence")]
    change_cpu, change_gpu = compare_outputs(cpu, x, ablation), compare_outputs(gpu, x, ablation)
    assert change_gpu.ablated.device.type == "cpu"
    torch.testing.assert_close(change_gpu.difference, change_cpu.difference,
                               rtol=1e-4, atol=1e-5)
    rank_cpu, rank_gpu = rank_neurons(cpu, x, layer), rank_neurons(gpu, x, layer)
    torch.testing.assert_close(rank_gpu.impact, rank_cpu.impact, rtol=1e-3, atol=1e-6)
    kick_cpu = impulse_response(cpu, x, layer, 3, 5)
    kick_gpu = impulse_response(gpu, x, layer, 3, 5)
    torch.testing.assert_close(kick_gpu.response, kick_cpu.response, rtol=1e-4, atol=1e-5)


@needs_cuda
def test_every_page_runs_with_models_on_the_gpu(monkeypatch):
    from ui import resources

    monkeypatch.setenv("INDRNN_DEVICE", "cuda")
    resources.compute_device.clear()
    resources.pretrained.clear()
    try:
        at = AppTest.from_file(APP, default_timeout=180)
        at.query_params["model"] = "adding1000_indrnn"
        at.run()
        assert "Models run on NVIDIA" in " ".join(c.value for c in at.sidebar.caption)
        for page in sorted(Path(APP).parent.glob("pages/[0-9]_*.py")):
            at.switch_page(str(page)).run()
            assert not at.exception, (page.name, at.exception)
            assert not at.error, (page.name, [e.value for e in at.error])
    finally:
        resources.compute_device.clear()
        resources.pretrained.clear()
