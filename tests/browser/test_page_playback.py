"""Playing the media along: the highlight follows playback, words and the timeline seek, keys work.

The media is a tone generated at test time, as long as the transcript: what is heard does not matter here,
only the media clock the page follows.
"""
from __future__ import annotations

import base64

import pytest

from scribefleet_tools.transcript_samples import FILM_INTERVIEW, FILM_NAMES, dialogue
from tests.browser.page_driver import RECORD_HIGHLIGHTS, flat_words, open_page, until, write_page
from tests.support.media import wav_bytes

pytestmark = pytest.mark.browser
LAG_S = 0.3  # the goal: the highlight reaches a word within 0.3 s of media time
PLAYED_S = 7.0


@pytest.fixture(scope="module")
def transcript():
    return dialogue(FILM_INTERVIEW, FILM_NAMES)


@pytest.fixture(scope="module")
def files(tmp_path_factory, transcript):
    directory = tmp_path_factory.mktemp("playback")
    media = directory / "interview take 1.wav"
    media.write_bytes(wav_bytes(transcript.duration, rate=8000))
    return write_page(transcript, directory), media


@pytest.fixture
def playing_page(context, files):
    """The page with the media picked through its file input, loaded and ready to play from 0."""
    html, media = files
    page = open_page(context, html)
    page.set_input_files("#media-file", str(media))
    until(page, "media.readyState >= 2")
    return page


def media_time(page) -> float:
    return page.evaluate("document.getElementById('media').currentTime")


def current_word_index(page) -> int:
    return page.evaluate("Array.from(document.getElementsByClassName('w')).findIndex(e => e.classList.contains('current'))")


def test_playback_moves_the_highlight_to_the_word_being_spoken(playing_page, transcript):
    page = playing_page
    words = flat_words(transcript)
    page.evaluate(RECORD_HIGHLIGHTS)
    page.keyboard.press("Space")
    until(page, "media.currentTime > arg", PLAYED_S, timeout=60_000)
    page.keyboard.press("Space")
    until(page, "media.paused")
    events = [(i, t) for i, t, paused in page.evaluate("window.highlights") if not paused]
    assert events, "no word was highlighted during playback"
    for i, t in events:
        following = words[i + 1].start if i + 1 < len(words) else float("inf")
        # never early, and the word was the one being spoken at most LAG_S before this moment
        assert words[i].start <= t + 1e-3 and following > t - LAG_S, (words[i], t)
    lags = [t - words[i].start for i, t in events]
    print(f"{len(events)} highlights, lag behind the word start: median {sorted(lags)[len(lags) // 2]:.3f} s, max {max(lags):.3f} s")
    highlighted = {i for i, _ in events}
    due = [k for k, w in enumerate(words[:-1]) if w.start < PLAYED_S - LAG_S and words[k + 1].start - w.start >= LAG_S]
    assert len(due) > 10
    assert [k for k in due if k not in highlighted] == [], "words skipped by the highlight"
    assert page.errors == []


def test_clicking_a_word_seeks_the_media_there(playing_page, transcript):
    page = playing_page
    words = flat_words(transcript)
    for k in (57, 12, len(words) - 1):
        page.locator(".w").nth(k).click()
        until(page, "Math.abs(media.currentTime - arg) < 0.01", words[k].start)
        assert current_word_index(page) == k


def test_space_plays_and_pauses_and_arrows_step_five_seconds(playing_page):
    page = playing_page
    page.locator(".w").nth(40).click()
    start = media_time(page)
    page.keyboard.press("ArrowRight")
    until(page, "Math.abs(media.currentTime - arg) < 0.01", start + 5)
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    until(page, "Math.abs(media.currentTime - arg) < 0.01", start - 5)
    page.keyboard.press("Space")
    until(page, "media.currentTime > arg", start - 5 + 0.2)
    page.keyboard.press("Space")
    until(page, "media.paused")


def test_clicking_the_speaker_timeline_seeks_proportionally(playing_page, transcript):
    page = playing_page
    box = page.locator("#timeline").bounding_box()
    for fraction in (0.25, 0.8):
        page.mouse.click(box["x"] + fraction * box["width"], box["y"] + box["height"] / 2)
        one_pixel = transcript.duration / box["width"]
        until(page, "Math.abs(media.currentTime - arg[0]) <= arg[1]", [fraction * transcript.duration, one_pixel])


def test_media_linked_by_query_parameter_plays_from_a_file_url(context, files, transcript):
    html, media = files
    page = open_page(context, html, f"?media={media.name.replace(' ', '%20')}")
    until(page, "media.readyState >= 1")
    assert page.evaluate("document.getElementById('media').duration") == pytest.approx(transcript.duration, abs=0.01)
    assert media.name in page.text_content("#media-hint")
    page.locator(".w").nth(5).click()
    until(page, "Math.abs(media.currentTime - arg) < 0.01", flat_words(transcript)[5].start)


DROP = """([name, b64]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, {type: "audio/wav"}));
  window.dispatchEvent(new DragEvent("dragover", {dataTransfer: transfer, bubbles: true, cancelable: true}));
  const overlayShown = !document.getElementById("drop").hidden;
  window.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true, cancelable: true}));
  return overlayShown;
}"""


def test_a_dropped_file_plays_and_a_wrong_length_is_questioned(context, files):
    html, _ = files
    page = open_page(context, html)
    short = base64.b64encode(wav_bytes(3.0, rate=8000)).decode()
    assert page.evaluate(DROP, ["other take.wav", short]) is True  # the drop overlay showed while dragging
    until(page, "media.readyState >= 1")
    assert page.is_hidden("#drop")
    assert page.evaluate("document.getElementById('media').src").startswith("blob:")
    assert page.text_content("#media-hint") == \
        "This media is 00:00:03 long, the transcript 00:01:20: is it the right file?"
