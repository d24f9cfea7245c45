"""The transcript page at 3-hour scale in Chromium: time to open, and how closely the highlight follows playback.

    .venv/bin/python benchmarks/bench_transcript_page.py [--words 30000] [--rounds 5] [--play 8]

Opening: a 30,000-word page (scribefleet_tools.transcript_samples.long_interview, ≈ 2.9 h) is written by the worker's
writer and opened from file:// in a fresh browser context per round; "ready" is the page's own mark after the
first frame with the transcript on screen, in ms since navigation started (file read, HTML parse, JSON, DOM,
layout, paint). The goal is < 1 s. Playback: a silent WAV as long as the transcript is loaded, playback starts
near the end (where a scan from the start would hurt most) and every highlight change is recorded with the
media time at that moment; the lag is media time minus the word's start.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import wave
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from playwright.sync_api import sync_playwright  # noqa: E402

from gpu_worker.formats.common import segment_words  # noqa: E402
from gpu_worker.formats.html import write_html  # noqa: E402
from scribefleet_tools import chromium  # noqa: E402
from scribefleet_tools.transcript_samples import long_interview  # noqa: E402
from tests.browser.page_driver import RECORD_HIGHLIGHTS  # noqa: E402

def silent_wav(path: Path, seconds: float, rate: int = 4000) -> None:
    """8-bit mono silence: 4 kB per second, so a 3-hour file stays small enough to write in a moment."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(rate)
        out.writeframes(b"\x80" * int(seconds * rate))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--words", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--play", type=float, default=8.0, help="seconds of playback to follow")
    args = parser.parse_args()
    if chromium.missing():
        print(chromium.missing(), file=sys.stderr)
        return 2

    result = long_interview(args.words)
    words = [w for s in result.segments for w in segment_words(s)]
    with tempfile.TemporaryDirectory() as tmp:
        page_path, media_path = Path(tmp) / "page.html", Path(tmp) / "media.wav"
        started = time.perf_counter()
        write_html(result, page_path, {}, "three hours")
        write_s = time.perf_counter() - started
        size = page_path.stat().st_size
        silent_wav(media_path, result.duration)
        with sync_playwright() as playwright:
            browser = chromium.launch(playwright)
            ready, script = [], []
            for _ in range(args.rounds):
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                page = context.new_page()
                page.goto(page_path.as_uri())
                page.wait_for_selector("html[data-ready=true]")
                stats = page.evaluate("window.scribefleetPage")
                ready.append(stats["renderMs"])
                script.append(stats["scriptMs"])
                context.close()

            context = browser.new_context(viewport={"width": 1280, "height": 800})
            page = context.new_page()
            page.goto(page_path.as_uri() + "?media=media.wav")
            page.wait_for_selector("html[data-ready=true]")
            page.wait_for_function("() => document.getElementById('media').readyState >= 1")
            start_at = result.duration - args.play - 30
            page.evaluate(RECORD_HIGHLIGHTS)
            page.evaluate("(t) => { const m = document.getElementById('media'); m.currentTime = t; return m.play(); }", start_at)
            page.wait_for_function("(t) => document.getElementById('media').currentTime > t", arg=start_at + args.play,
                                   timeout=(args.play + 60) * 1000)
            page.evaluate("() => document.getElementById('media').pause()")
            events = [(i, t) for i, t, _ in page.evaluate("window.highlights") if t > start_at + 0.05]
            context.close()
            version = browser.version
            browser.close()

    lags = sorted(t - words[i].start for i, t in events)
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    print(f"transcript page benchmark, {when}, Chromium {version}, {platform.machine()}, {os.cpu_count()} CPUs")
    print(f"  page: {len(words):,} words, {result.duration / 3600:.2f} h of media, {size / 1e6:.1f} MB, written in {write_s:.2f} s")
    print(f"  ready after navigation (ms, {args.rounds} rounds): median {statistics.median(ready):.0f}, "
          f"min {min(ready):.0f}, max {max(ready):.0f}; page script alone median {statistics.median(script):.0f}")
    if lags:
        print(f"  playback near the end: {len(lags)} highlight changes in {args.play:.0f} s, lag behind the word start "
              f"median {1000 * lags[len(lags) // 2]:.0f} ms, max {1000 * lags[-1]:.0f} ms")
    else:
        print("  playback near the end: no highlight change recorded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
