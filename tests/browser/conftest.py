"""The transcript page in a real Chromium: Debian's /usr/bin/chromium driven by Playwright for Python.

One browser per test module (launching costs about a second), a fresh context per test (its own localStorage,
so edits never leak between tests). Tests wait on page state (`html[data-ready]`, media events), never on sleeps.
"""
from __future__ import annotations

from typing import Any, Iterator

import pytest
from playwright.sync_api import sync_playwright

from scribefleet_tools import chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    why = chromium.missing()
    if why:
        pytest.fail(why)
    with sync_playwright() as playwright:
        browser = chromium.launch(playwright)
        yield browser
        browser.close()


@pytest.fixture
def context(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    yield context
    context.close()
