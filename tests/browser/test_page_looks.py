"""Readable for everyone: WCAG AA contrast for every piece of text as rendered, laptop and phone widths."""
from __future__ import annotations

import pytest

from gpu_worker.formats.html import SPEAKER_COLOURS, UNLABELLED_COLOUR
from scribefleet_tools.transcript_samples import FILM_INTERVIEW, FILM_NAMES, dialogue
from tests.browser.page_driver import open_page, write_page

pytestmark = pytest.mark.browser
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 667}

# For every visible element with its own text: the contrast of its colour against the first opaque background
# behind it (WCAG 2.x relative luminance), and whether it counts as large text (≥ 24 px, or ≥ 18.66 px bold).
CONTRASTS = """() => {
  const parse = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] >= 0.99)) return c.slice(0, 3);
      if (c.length === 4 && c[3] > 0) { // a translucent layer over white, the page's own background
        return c.slice(0, 3).map((v) => v * c[3] + 255 * (1 - c[3]));
      }
    }
    return [255, 255, 255];
  };
  const out = [];
  for (const el of document.body.querySelectorAll("*")) {
    const own = Array.from(el.childNodes).some((n) => n.nodeType === 3 && n.textContent.trim());
    const text = own ? el.textContent.trim() : (el.tagName === "INPUT" ? el.value : "");
    if (!text || el.closest("[hidden], .visually-hidden, script, style")) continue;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || style.display === "none" || !el.getClientRects().length) continue;
    const fg = parse(style.color).slice(0, 3), bg = background(el);
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const size = parseFloat(style.fontSize), bold = Number(style.fontWeight) >= 700;
    out.push({text: text.slice(0, 40), ratio: (hi + 0.05) / (lo + 0.05), large: size >= 24 || (size >= 18.66 && bold)});
  }
  return out;
}"""


def luminance(hex_colour: str) -> float:
    def channel(v: int) -> float:
        v /= 255
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_every_speaker_colour_reads_as_text_on_the_page_backgrounds():
    for colour in (*SPEAKER_COLOURS, UNLABELLED_COLOUR):
        for background in ("#ffffff", "#f6f7f9"):
            assert contrast(colour, background) >= 4.5, (colour, background)


def assert_aa(page, state: str) -> None:
    found = page.evaluate(CONTRASTS)
    assert len(found) > 50, state
    failing = [(f["text"], round(f["ratio"], 2)) for f in found if f["ratio"] < (3.0 if f["large"] else 4.5)]
    assert failing == [], state


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_all_text_passes_wcag_aa_contrast_in_every_state(browser, tmp_path, viewport):
    names = {**FILM_NAMES, "SPEAKER_03": "Dana", "SPEAKER_04": "Eve"}
    script = FILM_INTERVIEW + [("SPEAKER_03", "One more voice."), ("SPEAKER_04", "And another one, to use the palette.")]
    context = browser.new_context(viewport=viewport)
    page = open_page(context, write_page(dialogue(script, names), tmp_path))
    assert_aa(page, "opened")
    page.fill("#search-input", "the")
    page.click("#search-next")
    page.locator(".w").nth(4).click()  # the current word's highlight
    assert page.locator(".w.current").count() == 1 and page.locator(".w.match-current").count() == 1
    assert_aa(page, "searching, a word highlighted")
    page.locator(".turn .edit-turn").first.click()
    page.locator(".speakers .speaker").first.click()
    assert_aa(page, "editing a paragraph and a name")
    context.close()


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
def test_the_page_fits_the_width_without_sideways_scrolling(browser, tmp_path, viewport):
    long_title = "Interview with the director of the national film archive about restoring nitrate reels, part 2"
    context = browser.new_context(viewport=viewport)
    page = open_page(context, write_page(dialogue(FILM_INTERVIEW, FILM_NAMES), tmp_path, title=long_title))
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    for selector in ("[data-export=json]", "#search-next", ".turn .edit-turn", "label[for=media-file]"):
        box = page.locator(selector).first.bounding_box()
        assert box and 0 <= box["x"] and box["x"] + box["width"] <= viewport["width"], selector
    text_size = page.eval_on_selector(".turn .text", "e => parseFloat(getComputedStyle(e).fontSize)")
    assert text_size >= 15
    context.close()
