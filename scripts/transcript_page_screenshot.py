"""The README's picture of the transcript page: docs/transcript-page.png, made from the sample interview.

    .venv/bin/python scripts/transcript_page_screenshot.py [--out docs/transcript-page.png]

The page is the worker's html output for scribefleet_tools.transcript_samples.FILM_INTERVIEW, opened from file://
in Chromium with a generated tone as its media, paused mid-sentence (so a word is highlighted) while a search
shows its matches: what a person sees a minute into using it.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from playwright.sync_api import sync_playwright  # noqa: E402

from gpu_worker.formats.html import write_html  # noqa: E402
from scribefleet_tools import chromium  # noqa: E402
from scribefleet_tools.samples import encode_wav  # noqa: E402
from scribefleet_tools.transcript_samples import FILM_INTERVIEW, FILM_NAMES, dialogue  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "transcript-page.png")
    args = parser.parse_args()
    if chromium.missing():
        print(chromium.missing(), file=sys.stderr)
        return 2
    result = dialogue(FILM_INTERVIEW, FILM_NAMES)
    with tempfile.TemporaryDirectory() as tmp:
        page_path, media = Path(tmp) / "page.html", Path(tmp) / "Interview, take 1.wav"
        write_html(result, page_path, {}, "Restoring old film — interview, take 1")
        rate = 8000
        t = np.arange(int(result.duration * rate)) / rate
        media.write_bytes(encode_wav(0.1 * np.sin(2 * np.pi * 220 * t), rate))
        with sync_playwright() as playwright:
            browser = chromium.launch(playwright)
            page = browser.new_page(viewport={"width": 1100, "height": 760})
            page.goto(page_path.as_uri())
            page.wait_for_selector("html[data-ready=true]")
            page.set_input_files("#media-file", str(media))
            page.wait_for_function("() => document.getElementById('media').readyState >= 2")
            page.fill("#search-input", "frame")
            word = page.locator(".w").filter(has_text="negative").first
            word.click()
            page.wait_for_function("() => document.querySelector('.w.current') !== null")
            page.evaluate("() => window.scrollTo(0, 0)")
            page.mouse.move(0, 0)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out))
            browser.close()
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
