"""The `html` format without a browser: requested like any format, self-contained, data the page can trust."""
from __future__ import annotations

import json
import re

from gpu_worker.formats import FORMAT_EXTENSIONS, write_formats
from gpu_worker.formats.html import page_data, render_page
from gpu_worker.formats.subtitles import CueRules
from scribefleet.options import parse_options
from scribefleet_tools.transcript_samples import FILM_INTERVIEW, FILM_NAMES, dialogue

DATA = re.compile(r'<script type="application/json" id="transcript-data">(.*?)</script>', re.S)


def test_html_is_a_format_users_can_ask_for():
    assert parse_options({"x-amz-meta-formats": "srt,html"})["formats"] == ["srt", "html"]
    assert FORMAT_EXTENSIONS["html"] == ".html"


def test_the_worker_writes_one_self_contained_page(tmp_path):
    paths = write_formats(dialogue(FILM_INTERVIEW, FILM_NAMES), ["html"], tmp_path, "interview take 1", {})
    page = paths["html"].read_text(encoding="utf-8")
    assert paths["html"].name == "interview take 1.html"
    assert "{{" not in page and "<style>" in page and page.count("<script") == 2
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_the_page_carries_the_jobs_cue_rules_from_the_subtitle_writer():
    data = page_data(dialogue(FILM_INTERVIEW), {"max_line_chars": 30, "max_lines": 1}, "t")
    rules = CueRules.from_options({"max_line_chars": 30, "max_lines": 1})
    assert data["cue_rules"] == {"max_line_chars": 30, "max_lines": 1, "max_duration": rules.max_duration,
                                 "min_duration": rules.min_duration, "pause": rules.pause}


def test_words_that_look_like_markup_cannot_end_the_data_script():
    hostile = dialogue([("SPEAKER_00", "Say </script><script>alert(1)</script> & <b>bold</b> twice.")])
    page = render_page(hostile, {}, "t")
    match = DATA.search(page)
    assert match and "<" not in match.group(1) and ">" not in match.group(1)
    words = [w[2] for s in json.loads(match.group(1))["segments"] for w in s["words"]]
    assert " </script><script>alert(1)</script>" in words and " <b>bold</b>" in words


def test_edits_are_keyed_by_the_transcript_not_by_where_it_is_opened():
    one = page_data(dialogue(FILM_INTERVIEW, FILM_NAMES), {}, "interview")
    assert page_data(dialogue(FILM_INTERVIEW, FILM_NAMES), {"max_lines": 1}, "interview")["id"] == one["id"]
    assert page_data(dialogue(FILM_INTERVIEW[:-1], FILM_NAMES), {}, "interview")["id"] != one["id"]
