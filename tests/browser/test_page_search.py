"""Search: every occurrence is found and highlighted; next/previous visit them in reading order and wrap."""
from __future__ import annotations

import pytest

from scribefleet_tools.transcript_samples import FILM_INTERVIEW, FILM_NAMES, dialogue, long_interview
from tests.browser.page_driver import flat_words, open_page, write_page

pytestmark = pytest.mark.browser

MATCHED = "Array.from(document.getElementsByClassName('w')).flatMap((e, i) => e.classList.contains('{}') ? [i] : [])"


def matched(page, css_class: str = "match") -> list[int]:
    return page.evaluate(MATCHED.format(css_class))


def search(page, query: str) -> None:
    page.fill("#search-input", query)


def in_viewport(page, index: int) -> bool:
    return page.evaluate("""(i) => { const r = document.getElementsByClassName('w')[i].getBoundingClientRect();
                                     return r.top >= 0 && r.bottom <= window.innerHeight; }""", index)


def test_search_finds_every_occurrence_of_a_word(context, tmp_path):
    transcript = long_interview(3000, speakers=3, seed=11)
    words = [w.text.strip().lower() for w in flat_words(transcript)]
    expected = [i for i, w in enumerate(words) if "archive" in w]
    assert len(expected) > 20
    page = open_page(context, write_page(transcript, tmp_path))
    search(page, "ARCHIVE")
    assert page.text_content("#search-count") == f"{len(expected)} matches"
    assert matched(page) == expected

    visited = []
    for _ in expected:
        page.click("#search-next")
        current = matched(page, "match-current")
        assert len(current) == 1 and in_viewport(page, current[0])
        visited.append(current[0])
    assert visited == expected
    page.click("#search-next")
    assert matched(page, "match-current") == expected[:1]  # wraps to the first
    assert page.text_content("#search-count") == f"1 of {len(expected)}"
    page.click("#search-prev")
    assert matched(page, "match-current") == expected[-1:]


def test_search_matches_phrases_across_words_and_punctuation(context, tmp_path):
    transcript = dialogue(FILM_INTERVIEW, FILM_NAMES)
    words = [w.text.strip() for w in flat_words(transcript)]
    page = open_page(context, write_page(transcript, tmp_path))

    search(page, "frame by frame")
    start = words.index("frame")
    assert words[start:start + 3] == ["frame", "by", "frame."]
    assert matched(page) == [start, start + 1, start + 2]
    assert page.text_content("#search-count") == "1 match"
    page.keyboard.press("Enter")  # Enter in the search box goes to the next match
    assert matched(page, "match-current") == [start, start + 1, start + 2]

    search(page, "years")
    assert [words[i] for i in matched(page)] == ["years?", "years,"]

    search(page, "telescope")
    assert matched(page) == [] and page.text_content("#search-count") == "no matches"
    search(page, "")
    assert matched(page) == [] and page.text_content("#search-count") == ""
