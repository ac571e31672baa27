"""The app in a real browser: `streamlit run app.py` on a free localhost port, driven by Debian's
Chromium through Playwright. Uploads a file, visits every page, checks charts render and no
error or traceback shows, and saves screenshots to tests/artifacts/."""

import pytest
from browsing import ARTIFACTS, ROOT, VIEWPORT, assert_healthy, settle

PAGES = ["", "Neurons", "Memory", *sorted(p.stem.split("_", 1)[1] for p in
                                          (ROOT / "pages").glob("[3-9]_*.py"))]


#: One model of each kind of input: a series with events, text, an image, sensor channels.
SCREENSHOT_MODELS = ("adding1000_indrnn", "chars_indrnn", "mnist5k_indrnn", "basicmotions_indrnn")
#: Tall enough that a page's charts are all on the screenshot (Streamlit scrolls inside it).
SCREENSHOT_VIEWPORT = {"width": 1400, "height": 4000}


@pytest.mark.parametrize("model", SCREENSHOT_MODELS)
def test_every_page_renders_charts_without_errors(server, browser, model):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport=SCREENSHOT_VIEWPORT)
    for name in PAGES:
        page.goto(f"{server}/{name}?model={model}")
        settle(page)
        assert_healthy(page, f"{name or 'overview'} of {model}")
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)
        assert page.locator(".js-plotly-plot").count() >= 1, f"no chart on {name} of {model}"
        page.wait_for_timeout(500)  # the charts' own drawing
        page.screenshot(path=str(ARTIFACTS / f"{model}_{name or 'Overview'}.png"))
    # The page menu names every page by its title, the home page included (not "app").
    menu = page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()
    assert [label.strip() for label in menu] == ["Overview", "Neurons", "Memory", "IndRNN vs LSTM",
                                                  "Ablation", "Patching", "Patterns", "Discovery",
                                                  "Export"]
    page.close()


def test_upload_in_the_browser(server, browser):
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(f"{server}/?model=japanesevowels_indrnn")
    settle(page)
    page.get_by_text("Upload a file", exact=True).click()
    settle(page)
    example = ROOT / "examples" / "japanesevowels_test0200_speaker-5.csv"
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(example))
    page.wait_for_selector("text=Sequence 0 (9 steps)", timeout=60_000)
    settle(page)
    assert_healthy(page, "upload")
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

    page = browser.new_page(viewport=VIEWPORT, accept_downloads=True)
    page.goto(f"{server}/Export?model=japanesevowels_indrnn")
    settle(page)
    assert_healthy(page, "export")
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
