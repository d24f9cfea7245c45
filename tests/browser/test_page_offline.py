"""The page is self-contained: it opens from file:// and never touches the network, whatever it is used for."""
from __future__ import annotations

import re

import pytest

from gpu_worker.formats.html import SPEAKER_COLOURS
from scribefleet_tools.transcript_samples import FILM_INTERVIEW, FILM_NAMES, dialogue
from tests.browser.page_driver import export, open_page, write_page

pytestmark = pytest.mark.browser


@pytest.fixture
def recorded(context):
    """Every request any page of the context makes; anything that would leave the machine is also aborted."""
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    context.route(re.compile(r"^(https?|wss?|ftp)://"), lambda route: route.abort())
    return requests


def test_the_page_opens_from_a_file_url_without_any_network_request(context, recorded, tmp_path):
    html = write_page(dialogue(FILM_INTERVIEW, FILM_NAMES), tmp_path)
    text = html.read_text(encoding="utf-8")
    assert not re.search(r"""\s(src|href|action|srcset)\s*=|url\(|@import""", text)  # nothing to fetch, even lazily

    page = open_page(context, html)
    page.fill("#search-input", "film")
    page.click("#search-next")
    page.locator(".w").nth(10).click()
    page.locator(".speakers .speaker").first.click()
    page.keyboard.press("Escape")
    for fmt in ("srt", "vtt", "txt", "json"):
        export(page, fmt)
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_function("() => window.innerWidth === 390")

    assert recorded == [html.as_uri()]
    assert page.errors == []


def test_the_header_names_the_file_duration_language_model_and_speakers(context, tmp_path):
    transcript = dialogue(FILM_INTERVIEW, FILM_NAMES)
    page = open_page(context, write_page(transcript, tmp_path))
    assert page.text_content("h1") == "interview take 1"
    assert page.title() == "interview take 1 · transcript"
    meta = dict(zip(page.locator(".meta dt").all_text_contents(), page.locator(".meta dd").all_text_contents()))
    assert meta == {"Duration": "00:01:20", "Language": "en", "Model": "tiny.en", "Words": "168"}
    assert round(transcript.duration) == 80 and sum(len(s.words) for s in transcript.segments) == 168
    assert page.locator(".speakers .speaker").all_text_contents() == ["Anna Keller", "Dr. Bob O'Neil", "SPEAKER_02"]
    swatches = page.eval_on_selector_all(".speakers .swatch", "els => els.map(e => getComputedStyle(e).backgroundColor)")
    assert swatches == [rgb(c) for c in SPEAKER_COLOURS[:3]]
    blocks = page.eval_on_selector_all("#timeline .block", "els => new Set(els.map(e => getComputedStyle(e).backgroundColor)).size")
    assert blocks == 3


def rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


@pytest.mark.security
def test_markup_in_words_and_speaker_names_is_shown_as_text_never_run(context, recorded, tmp_path):
    """Words come from audio and names from upload metadata: neither may inject script or fetch anything."""
    hostile_name = "</script><script>window.pwned = 1</script>"
    hostile_word = '<img src="https://example.com/x.png" onerror="window.pwned = 1">'
    transcript = dialogue([("SPEAKER_00", f"Hello {hostile_word} there."), ("SPEAKER_01", "Fine <!-- and you?")],
                          {"SPEAKER_00": hostile_name})
    html = write_page(transcript, tmp_path, title='a"><script>window.pwned=1</script>')
    page = open_page(context, html)
    assert page.evaluate("window.pwned") is None
    assert page.locator(".speakers .speaker").first.text_content() == hostile_name
    assert "<img" in page.text_content(".turn .text") and page.locator("main img").count() == 0
    assert page.locator(".w").last.text_content() == "you?"
    assert recorded == [html.as_uri()]
