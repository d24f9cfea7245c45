"""Debian's Chromium under Playwright, launched one way for the browser tests, the page benchmark and the screenshot.

Browser downloads are not reachable here, so `playwright install` is never run: Playwright drives the system
browser that `make install` installs with apt.
"""
from __future__ import annotations

import shutil
from typing import Any

EXECUTABLE = "/usr/bin/chromium"
ARGS = (
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",  # no update, safe-browsing or metrics traffic during a no-network test
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",  # tests start playback with a key press in a headless page
)


def missing() -> str | None:
    """Why Chromium cannot be launched, or None."""
    if not shutil.which(EXECUTABLE):
        return f"{EXECUTABLE} is missing: `make install` installs Debian's chromium (as root), or apt-get install chromium"
    return None


def launch(playwright: Any) -> Any:
    """A headless Chromium browser from a started sync_playwright()."""
    return playwright.chromium.launch(executable_path=EXECUTABLE, headless=True, args=list(ARGS))
