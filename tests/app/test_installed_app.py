"""Bring your own model, as a researcher does it: ``pip install .`` into a fresh virtual
environment outside the checkout, a model trained and saved a moment before, ``indrnn app
--models DIR``, and the model opened in Chromium."""

from __future__ import annotations

import urllib.request

import pytest
from browsing import ARTIFACTS, VIEWPORT, app_server, assert_healthy, chart_titles, settle
from installed import build_wheel, fresh_venv
from own_models import CLASSES, TYPED_ROWS, write_own_models


@pytest.fixture(scope="module")
def installed_app(tmp_path_factory):
    """The ``indrnn`` command of a fresh venv, and a folder with a model just trained."""
    where = tmp_path_factory.mktemp("installed")
    bin_dir = fresh_venv(build_wheel(where), where / "venv")
    folder = where / "my models"
    write_own_models(folder)
    return bin_dir / "indrnn", folder


def test_indrnn_app_from_a_fresh_install_opens_a_model_saved_a_moment_before(
        installed_app, browser):
    command, folder = installed_app
    env = {"PATH": f"{command.parent}:/usr/bin:/bin", "HOME": str(folder.parent)}
    with app_server([str(command), "app", "--models", str(folder), "--host", "127.0.0.1"],
                    env=env, cwd=folder.parent) as url:
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(f"{url}/?model=own_classifier&source=Type+or+paste")
        settle(page)
        sidebar = page.locator('[data-testid="stSidebar"]')
        # the files of the folder that are no checkpoint are named, the model still opens
        sidebar.get_by_text("not listed").click()
        assert "broken.json: not valid JSON" in sidebar.inner_text()
        box = sidebar.locator("textarea")
        box.fill(TYPED_ROWS)
        box.press("Control+Enter")
        settle(page)
        page.wait_for_selector(".js-plotly-plot", timeout=60_000)
        assert_healthy(page, "the Overview of an own model")
        body = page.inner_text("body")
        assert "own_classifier" in body, body[:3000]
        assert "none named in the card" in body and "my BasicMotions classifier" in body
        assert any(title.startswith("Prediction") for title in chart_titles(page))
        assert any(name in body for name in CLASSES)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "own_model_Overview.png"), full_page=True)
        # another page of the same session, through the menu as a user goes there
        sidebar.get_by_role("link", name="Neurons").click()
        settle(page)
        assert_healthy(page, "the Neurons page of an own model")
        page.wait_for_selector(".js-plotly-plot", timeout=60_000)
        assert "Choose a model and an input" not in page.inner_text("body")
        page.close()
    # app_server has sent `indrnn app` a SIGTERM: the server it started stops with it
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
