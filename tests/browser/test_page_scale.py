"""A 3-hour transcript (30,000 words): it opens within the goal and the current word is still found right.

The goal is < 1 s in Chromium on this machine (measured by benchmarks/bench_transcript_page.py, recorded in
docs/benchmarks.md). The bound asserted here is far looser, so a loaded CI machine cannot make it flake; the
measured time is printed.
"""
from __future__ import annotations

import bisect

import pytest

from scribefleet_tools.transcript_samples import long_interview
from tests.browser.page_driver import flat_words, open_page, write_page

pytestmark = pytest.mark.browser
WORDS = 30_000
BOUND_MS = 8_000  # a never-flaking ceiling; the goal (1 s) is checked by the benchmark


@pytest.fixture(scope="module")
def transcript():
    return long_interview(WORDS)


@pytest.fixture(scope="module")
def big_page(tmp_path_factory, transcript):
    return write_page(transcript, tmp_path_factory.mktemp("scale"), title="three hours")


def test_a_30000_word_page_renders_within_the_bound(context, big_page, transcript):
    assert transcript.duration > 2.5 * 3600
    page = open_page(context, big_page)
    stats = page.evaluate("window.scribefleetPage")
    print(f"30,000-word page ready {stats['renderMs']:.0f} ms after navigation (script {stats['scriptMs']:.0f} ms)")
    assert stats["words"] == WORDS == page.locator(".w").count()
    assert stats["renderMs"] < BOUND_MS
    assert page.errors == []


def test_the_current_word_is_found_by_time_across_the_whole_transcript(context, big_page, transcript):
    """Without media the arrows move the play position; the highlighted word is the last one started before it."""
    words = flat_words(transcript)
    starts = [w.start for w in words]
    page = open_page(context, big_page)
    k = len(words) - 40
    page.locator(".w").nth(k).click()
    t = words[k].start
    for _ in range(6):
        page.keyboard.press("ArrowLeft")
        t -= 5
        expected = bisect.bisect_right(starts, t) - 1
        if t > words[expected].end + 1.0:  # in a pause longer than the page's hold, nothing is highlighted
            expected = -1
        index = page.evaluate("Array.from(document.getElementsByClassName('w')).findIndex(e => e.classList.contains('current'))")
        assert index == expected, t
