"""The page's own exports follow the worker's line rules: unedited, they equal the worker's files byte for byte."""
from __future__ import annotations

import json

import pytest

from gpu_worker.formats import write_formats
from gpu_worker.formats.common import segment_text
from gpu_worker.result import Segment, TranscriptResult, Word
from scribefleet_tools.transcript_samples import FILM_INTERVIEW, FILM_NAMES, dialogue, long_interview
from tests.browser.page_driver import export, open_page, write_page

pytestmark = pytest.mark.browser


def awkward() -> TranscriptResult:
    """What breaks naive cue code: one unnamed speaker (no labels), a 52-letter word, long pauses, markup
    characters, accents and CJK, words overlapping a neighbour's, and a segment that has text but no words."""
    timed = [(0.5, 0.9, " Bonjour"), (0.95, 1.4, " <tout>"), (1.4, 1.9, " &"), (1.9, 2.3, " à"),
             (2.3, 6.1, " Donaudampfschifffahrtsgesellschaftskapitänsmützenband"), (6.0, 6.4, " ok,"),
             (8.5, 8.9, " später."), (9.0, 9.2, " 東京"), (9.2, 9.25, "タワー"), (9.3, 9.5, " fin")]
    words = [Word(start, end, text, 0.8, "SPEAKER_00") for start, end, text in timed]
    segments = [Segment(0.5, 6.4, "".join(w.text for w in words[:6]), "SPEAKER_00", words[:6]),
                Segment(8.5, 9.5, "".join(w.text for w in words[6:]), "SPEAKER_00", words[6:]),
                Segment(10.0, 13.0, " Words without their own times, spread by length.", "SPEAKER_00", [])]
    return TranscriptResult("fr", 14.0, segments, ["SPEAKER_00"], {}, "tiny", "default", {})


def overlapping() -> TranscriptResult:
    """Two speakers talking over each other: cues must never overlap on screen."""
    a = [Word(1.0, 1.5, " We", 0.9, "SPEAKER_00"), Word(1.5, 2.0, " should", 0.9, "SPEAKER_00"),
         Word(2.0, 2.6, " start", 0.9, "SPEAKER_00"), Word(2.6, 3.2, " now.", 0.9, "SPEAKER_00")]
    b = [Word(2.2, 2.8, " Wait,", 0.9, "SPEAKER_01"), Word(2.8, 3.3, " not", 0.4, "SPEAKER_01"),
         Word(3.3, 3.9, " yet!", 0.9, "SPEAKER_01")]
    segments = [Segment(1.0, 3.2, " We should start now.", "SPEAKER_00", a),
                Segment(2.2, 3.9, " Wait, not yet!", "SPEAKER_01", b)]
    return TranscriptResult("en", 5.0, segments, ["SPEAKER_00", "SPEAKER_01"], {"SPEAKER_01": "Zoë"}, "tiny.en", "", {})


CASES = {
    "interview": (lambda: dialogue(FILM_INTERVIEW, FILM_NAMES), {}),
    "one short line": (lambda: dialogue(FILM_INTERVIEW, FILM_NAMES), {"max_line_chars": 24, "max_lines": 1}),
    "three wide lines": (lambda: dialogue(FILM_INTERVIEW), {"max_line_chars": 80, "max_lines": 3}),
    "awkward": (awkward, {}),
    "overlapping": (overlapping, {}),
    "2,000 random words": (lambda: long_interview(2000, speakers=4, seed=3), {}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_unedited_exports_equal_the_workers_files(context, tmp_path, case):
    make, options = CASES[case]
    result = make()
    worker = write_formats(result, ["srt", "vtt", "txt", "json"], tmp_path / "worker", "interview take 1", options)
    page = open_page(context, write_page(result, tmp_path / "page", **options))
    for fmt in ("srt", "vtt", "txt"):
        assert export(page, fmt) == worker[fmt].read_text(encoding="utf-8"), fmt
    expected = json.loads(worker["json"].read_text(encoding="utf-8"))
    for segment, original in zip(expected["segments"], result.segments):
        segment["text"] = segment_text(original)  # the page writes text as every other writer does: cleaned
    assert json.loads(export(page, "json")) == expected
    assert page.errors == []


def test_words_below_the_jobs_low_confidence_are_marked_as_the_docx_shades_them(context, tmp_path):
    """The threshold is the job's `low_confidence` option, passed in from Python; 0.849 must not round up past 0.85."""
    probabilities = [0.99, 0.849, 0.851, 0.85, 0.2, 0.6]
    words = [Word(1 + k, 1.5 + k, f" w{k}", p, "SPEAKER_00") for k, p in enumerate(probabilities)]
    result = TranscriptResult("en", 8.0, [Segment(1, 6.5, "".join(w.text for w in words), "SPEAKER_00", words)],
                              ["SPEAKER_00"])
    for threshold, expected in ((0.85, ["w1", "w4", "w5"]), (None, ["w4"])):
        options = {} if threshold is None else {"low_confidence": threshold}
        page = open_page(context, write_page(result, tmp_path / str(threshold), **options))
        assert page.locator(".w.unsure").all_text_contents() == expected
