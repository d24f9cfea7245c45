"""Editing in the page: renaming a speaker, correcting a word or a paragraph, keeping edits, exporting them."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pysubs2
import pytest

from gpu_worker.formats import write_formats
from gpu_worker.formats.common import speaker_turns
from gpu_worker.result import TranscriptResult
from scribefleet_tools.transcript_samples import FILM_INTERVIEW, FILM_NAMES, dialogue
from tests.browser.page_driver import export, flat_words, open_page, write_page

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def transcript() -> TranscriptResult:
    return dialogue(FILM_INTERVIEW, FILM_NAMES)


@pytest.fixture
def html(tmp_path, transcript) -> Path:
    return write_page(transcript, tmp_path)


def worker_files(result: TranscriptResult, directory: Path) -> dict[str, str]:
    paths = write_formats(result, ["srt", "vtt", "txt"], directory, "interview take 1", {})
    return {fmt: path.read_text(encoding="utf-8") for fmt, path in paths.items()}


def events(srt_text: str) -> list[tuple[int, int, str]]:
    return [(e.start, e.end, e.text) for e in pysubs2.SSAFile.from_string(srt_text, format_="srt")]


def exported_result(page) -> TranscriptResult:
    data = json.loads(export(page, "json"))
    data.pop("format_version")
    return TranscriptResult.from_dict(data)


def assert_exports_follow_the_worker_rules(page, tmp_path: Path) -> None:
    """Whatever was edited: the page's srt/vtt/txt are what the worker writes for the page's own json export."""
    expected = worker_files(exported_result(page), tmp_path / "from-page-json")
    for fmt, text in expected.items():
        assert export(page, fmt) == text, fmt


def rename(page, button, name: str) -> None:
    button.click()
    page.fill("input.rename", name)
    page.keyboard.press("Enter")


def test_renaming_a_speaker_renames_every_turn(context, html, transcript, tmp_path):
    page = open_page(context, html)
    bob_turns = [t for t in speaker_turns(transcript) if t.speaker == "SPEAKER_01"]
    assert len(bob_turns) >= 4
    rename(page, page.locator(".turn .speaker[data-speaker=SPEAKER_01]").nth(2), "Robert O'Neil")

    names = page.locator(".turn .speaker[data-speaker=SPEAKER_01]").all_text_contents()
    assert names == ["Robert O'Neil"] * len(bob_turns)
    assert page.locator(".speakers .speaker[data-speaker=SPEAKER_01]").text_content() == "Robert O'Neil"
    others = page.locator(".turn .speaker:not([data-speaker=SPEAKER_01])").all_text_contents()
    assert set(others) == {"Anna Keller", "SPEAKER_02"}

    renamed = replace(transcript, speaker_names={**FILM_NAMES, "SPEAKER_01": "Robert O'Neil"})
    assert export(page, "srt") == worker_files(renamed, tmp_path / "renamed")["srt"]
    assert "[Robert O'Neil] " in export(page, "srt")


def test_an_unnamed_speaker_can_be_named_from_the_header(context, html, transcript, tmp_path):
    page = open_page(context, html)
    rename(page, page.locator(".speakers .speaker[data-speaker=SPEAKER_02]"), "Chloé")
    turns = [t for t in speaker_turns(transcript) if t.speaker == "SPEAKER_02"]
    assert page.locator(".turn .speaker[data-speaker=SPEAKER_02]").all_text_contents() == ["Chloé"] * len(turns)
    renamed = replace(transcript, speaker_names={**FILM_NAMES, "SPEAKER_02": "Chloé"})
    assert export(page, "vtt") == worker_files(renamed, tmp_path / "renamed")["vtt"]


def test_an_inline_word_edit_round_trips_through_srt(context, html, transcript, tmp_path):
    page = open_page(context, html)
    words = flat_words(transcript)
    k = next(i for i, w in enumerate(words) if w.text == " restoration")
    page.locator(".w").nth(k).dblclick()
    page.keyboard.type("restauration")  # the double click selected the word: typing replaces it
    page.keyboard.press("Enter")
    assert page.locator(".w").nth(k).text_content() == "restauration"

    edited = TranscriptResult.from_dict(transcript.to_dict())
    for segment in edited.segments:
        for word in segment.words:
            if word.start == words[k].start:
                word.text = " restauration"
                segment.text = "".join(w.text for w in segment.words)
    page_srt = export(page, "srt")
    assert events(page_srt) == events(worker_files(edited, tmp_path / "edited")["srt"])
    assert any("restauration" in text for _, _, text in events(page_srt))
    assert page.errors == []


def test_escape_cancels_a_word_edit(context, html, transcript, tmp_path):
    page = open_page(context, html)
    page.locator(".w").nth(3).dblclick()
    page.keyboard.type("nonsense")
    page.keyboard.press("Escape")
    assert page.locator(".w").nth(3).text_content() == flat_words(transcript)[3].text.strip()
    assert export(page, "srt") == worker_files(transcript, tmp_path)["srt"]


def test_a_word_edited_into_two_words_shares_its_time(context, html, transcript, tmp_path):
    page = open_page(context, html)
    words = flat_words(transcript)
    k = next(i for i, w in enumerate(words) if w.text == " pleasure")
    page.locator(".w").nth(k).dblclick()
    page.keyboard.type("great joy")
    page.keyboard.press("Enter")
    after = [w for s in exported_result(page).segments for w in s.words]
    assert [w.text for w in after[k:k + 2]] == [" great", " joy"]
    assert after[k].start == words[k].start and after[k + 1].end == pytest.approx(words[k].end)
    assert after[k].end == pytest.approx(after[k + 1].start) and after[k].start < after[k].end < after[k + 1].end
    assert_exports_follow_the_worker_rules(page, tmp_path)


def test_a_paragraph_edit_keeps_the_times_of_unchanged_words(context, html, transcript, tmp_path):
    page = open_page(context, html)
    turn = speaker_turns(transcript)[3]  # "It starts in the archive, with the negative if we are lucky, ..."
    old = turn.words
    index = [t.start for t in speaker_turns(transcript)].index(turn.start)
    page.locator(".turn").nth(index).locator(".edit-turn").click()
    text = page.input_value("textarea.editor")
    assert text == " ".join(w.text.strip() for w in old)
    new_text = (text.replace("archive,", "film archive,")  # an insertion
                .replace("lucky,", "fortunate,")  # a replacement
                .replace(" frame by frame.", " frame by frame, by hand."))  # an insertion at the end
    page.fill("textarea.editor", new_text)
    page.click("button[data-act=save]")
    page.wait_for_selector("textarea.editor", state="detached")

    assert page.locator(".turn").nth(index).locator(".text").text_content() == new_text
    result = exported_result(page)
    new = [w for s in result.segments if turn.start <= s.start <= turn.end and s.speaker == turn.speaker for w in s.words]
    assert " ".join(w.text.strip() for w in new) == new_text
    unchanged = {(w.text, w.start, w.end) for w in old if w.text not in (" lucky,", " frame.")}
    assert unchanged <= {(w.text, w.start, w.end) for w in new}  # every word not edited keeps its exact times
    fortunate = next(w for w in new if w.text == " fortunate,")
    lucky = next(w for w in old if w.text == " lucky,")
    assert (fortunate.start, fortunate.end) == (lucky.start, lucky.end)
    starts = [w.start for w in new]
    assert starts == sorted(starts)
    assert all(turn.start <= w.start <= w.end <= turn.end for w in new)
    assert_exports_follow_the_worker_rules(page, tmp_path)


def test_edits_persist_in_the_browser_per_transcript(context, html, tmp_path):
    page = open_page(context, html)
    rename(page, page.locator(".speakers .speaker[data-speaker=SPEAKER_00]"), "Host")
    page.locator(".w").nth(0).dblclick()
    page.keyboard.type("Hello")
    page.keyboard.press("Enter")
    assert "2 edits" in page.text_content("#edit-state")
    page.close()

    again = open_page(context, html)
    assert again.locator(".speakers .speaker[data-speaker=SPEAKER_00]").text_content() == "Host"
    assert again.locator(".w").nth(0).text_content() == "Hello"

    other = open_page(context, write_page(dialogue(FILM_INTERVIEW[:3], FILM_NAMES), tmp_path / "other"))
    assert other.locator(".speakers .speaker[data-speaker=SPEAKER_00]").text_content() == "Anna Keller"
    assert other.locator(".w").nth(0).text_content() == "Welcome"

    again.once("dialog", lambda dialog: dialog.accept())
    with again.expect_navigation():
        again.click("#discard")
    again.wait_for_selector("html[data-ready=true]")
    assert again.locator(".w").nth(0).text_content() == "Welcome"
    assert again.text_content("#edit-state") == ""
