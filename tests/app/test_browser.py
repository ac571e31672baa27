"""The app in a real browser: `streamlit run app.py` on a free localhost port, driven by Debian's
Chromium through Playwright. Uploads a file, visits every page, checks charts render and no
error or traceback shows, and saves screenshots to tests/artifacts/."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "tests" / "artifacts"
PAGES = ["", "Neurons", "Memory", *sorted(p.stem.split("_", 1)[1] for p in
                                          (ROOT / "pages").glob("[3-9]_*.py"))]

playwright = pytest.importorskip("playwright.sync_api")
if not CHROMIUM.exists():
    if os.environ.get("CI"):
        pytest.fail("CI must install Debian's chromium (see .ci/run)", pytrace=False)
    pytest.skip("Debian's chromium is not installed here", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
               "--server.port", str(port), "--server.address", "127.0.0.1",
               "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                if reply.read() == b"ok":
                    break
        except OSError:
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail(f"streamlit did not start: {process.stdout.read()[-2000:]}")
    yield url
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"])
        yield browser
        browser.close()


def _settle(page) -> None:
    """Wait until Streamlit has finished running the script."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=60_000)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=90_000)
    page.wait_for_timeout(500)


def _assert_healthy(page, what: str) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, f"exception on {what}"
    assert "Traceback" not in page.inner_text("body"), f"traceback on {what}"
    errors = page.locator('[data-testid="stAlertContentError"]')
    assert errors.count() == 0, f"error on {what}: {errors.all_inner_texts()}"


def test_every_page_renders_charts_without_errors(server, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    for name in PAGES:
        page.goto(f"{server}/{name}?model=basicmotions_indrnn")
        _settle(page)
        _assert_healthy(page, name or "overview")
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)
        assert page.locator(".js-plotly-plot").count() >= 1, f"no chart on {name}"
        page.screenshot(path=str(ARTIFACTS / f"page_{name or 'Overview'}.png"), full_page=True)
    # The page menu names every page by its title, the home page included (not "app").
    menu = page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()
    assert [label.strip() for label in menu] == ["Overview", "Neurons", "Memory",
                                                  "IndRNN vs LSTM", "Ablation", "Patterns",
                                                  "Discovery", "Export"]
    page.close()


def test_upload_in_the_browser(server, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server}/?model=japanesevowels_indrnn")
    _settle(page)
    page.get_by_text("Upload a file", exact=True).click()
    _settle(page)
    example = ROOT / "examples" / "japanesevowels_test0200_speaker-5.csv"
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(example))
    page.wait_for_selector("text=Sequence 0 (9 steps)", timeout=60_000)
    _settle(page)
    _assert_healthy(page, "upload")
    page.screenshot(path=str(ARTIFACTS / "upload.png"), full_page=True)
    bad = ARTIFACTS / "bad.csv"
    bad.write_text("1,2,3\n4,5,6\n")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(bad))
    page.wait_for_selector('[data-testid="stAlertContentError"]', timeout=60_000)
    text = page.locator('[data-testid="stAlertContentError"]').first.inner_text()
    assert "12" in text and "Traceback" not in page.inner_text("body")
    page.close()


def test_the_recording_downloads_as_an_npz_built_on_click(server, browser):
    import numpy as np

    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page.goto(f"{server}/Export?model=japanesevowels_indrnn")
    _settle(page)
    _assert_healthy(page, "export")
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name="Recording (NPZ").click()
    path = ARTIFACTS / "recording.npz"
    download.value.save_as(path)
    with np.load(path, allow_pickle=False) as archive:
        assert {"inputs", "lengths", "outputs", "body.l0/hidden"} <= set(archive.files)
        steps, batch, neurons = archive["body.l0/hidden"].shape
        assert batch == archive["inputs"].shape[0] and neurons == 64
        assert steps == archive["inputs"].shape[1]  # time-major states of batch-first inputs
    page.close()
