"""Fixtures of the Chromium tests: one app server and one browser per test module."""

from __future__ import annotations

import pytest
from browsing import CHROMIUM, CHROMIUM_ARGS, app_server, require_chromium


@pytest.fixture(scope="module")
def server():
    require_chromium()
    with app_server() as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    playwright = require_chromium()
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=CHROMIUM_ARGS)
        yield browser
        browser.close()
