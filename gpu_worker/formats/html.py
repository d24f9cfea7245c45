"""The transcript page: one self-contained HTML file for people (listen, read, fix names and words, export).

The page (gpu_worker/formats/page/: page.html, page.css, page.js) is inlined into the output with the transcript
as JSON, so it opens from file://, from S3 or from `scribefleet view` and makes no network request.
Everything the page must agree on with the other writers is handed to it from here, so each rule has one owner:
the subtitle cue rules and sentence/clause patterns (subtitles.py), the json format version (text.py), the
low-confidence threshold (common.low_confidence, as docx shades) and the words as every writer sees them
(common.segment_words / segment_text). The page rebuilds srt, vtt, txt and json
from the edited words with those rules; tests/browser checks its unedited exports equal the worker's files.
"""
from __future__ import annotations

import hashlib
import html
import json
import re
from dataclasses import asdict
from importlib import resources
from pathlib import Path
from typing import Any

from gpu_worker.formats.common import low_confidence, segment_text, segment_words
from gpu_worker.formats.subtitles import _CLAUSE_END, _SENTENCE_END, CueRules
from gpu_worker.formats.text import JSON_FORMAT_VERSION
from gpu_worker.result import TranscriptResult

PAGE_FORMAT_VERSION = 1
# Speaker colours, in order of first appearance: each has ≥ 4.5:1 contrast on the page's white and light grey
# (WCAG AA for normal text), so a name can be written in its own colour (tests/browser/test_page_looks.py).
SPEAKER_COLOURS = ("#1d5fa6", "#b02a1e", "#2b7a34", "#8a2ca3", "#9a4b00", "#00726a",
                   "#b0175a", "#5b4a3c", "#3a45a8", "#5f6a00", "#6b5fa0", "#007a99")
UNLABELLED_COLOUR = "#57606a"
_PAGE = resources.files("gpu_worker.formats") / "page"
_MARKER = re.compile(r"\{\{(\w+)\}\}")


def speaker_colour(index: int) -> str:
    return SPEAKER_COLOURS[index % len(SPEAKER_COLOURS)]


def _page_probability(probability: float, threshold: float) -> float:
    """Two decimals keep 3-hour pages small; a word whose rounding would cross the low_confidence threshold keeps
    its exact value, so the page marks the same words as the docx does."""
    rounded = round(probability, 2)
    return rounded if (rounded < threshold) == (probability < threshold) else probability


def page_data(result: TranscriptResult, options: dict[str, Any], title: str) -> dict[str, Any]:
    """What the page needs, in one JSON object; words as [start, end, text, probability] to keep 3-hour pages small."""
    threshold = low_confidence(options)
    segments = [
        {
            "start": s.start,
            "end": s.end,
            "speaker": s.speaker,
            "text": segment_text(s),
            "words": [[w.start, w.end, w.text, _page_probability(w.probability, threshold)] for w in segment_words(s)],
            "timed": bool(s.words),  # False: the words were spread over the segment by length (no word times)
        }
        for s in result.segments
    ]
    labels = list(dict.fromkeys([*result.speakers, *(s.speaker for s in result.segments if s.speaker is not None)]))
    # Edits in the browser are keyed by this: the same transcript opened from anywhere finds its edits, a re-run
    # with different words does not inherit edits whose word positions no longer mean anything.
    identity = hashlib.sha256(json.dumps([title, segments], sort_keys=True).encode()).hexdigest()[:20]
    return {
        "page_format_version": PAGE_FORMAT_VERSION,
        "id": identity,
        "title": title,
        # everything but the segments, as result.json has it: the page's json export rebuilds only what edits change
        "result": {k: v for k, v in result.to_dict().items() if k != "segments"},
        "speakers": [{"label": label, "colour": speaker_colour(i)} for i, label in enumerate(labels)],
        "unlabelled_colour": UNLABELLED_COLOUR,
        "segments": segments,
        "cue_rules": asdict(CueRules.from_options(options)),
        "patterns": {"sentence_end": _SENTENCE_END.pattern, "clause_end": _CLAUSE_END.pattern},
        "low_confidence": threshold,
        "json_format_version": JSON_FORMAT_VERSION,
    }


def _script_json(data: dict[str, Any]) -> str:
    """JSON safe inside <script>: no `</script>` or `<!--` can end the element early, whatever the words say."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def render_page(result: TranscriptResult, options: dict[str, Any], title: str) -> str:
    values = {
        "title": html.escape(title or "Transcript"),
        "style": (_PAGE / "page.css").read_text(encoding="utf-8"),
        "data": _script_json(page_data(result, options, title)),
        "script": (_PAGE / "page.js").read_text(encoding="utf-8"),
    }
    # Split first, then fill: a value (the CSS, the words) is never scanned for markers itself.
    pieces = _MARKER.split((_PAGE / "page.html").read_text(encoding="utf-8"))
    markers = pieces[1::2]
    if sorted(markers) != sorted(values):
        raise RuntimeError(f"page.html must hold each of {sorted(values)} once, holds {markers}")
    return "".join(values[p] if i % 2 else p for i, p in enumerate(pieces))


def write_html(result: TranscriptResult, path: Path, options: dict[str, Any], title: str = "") -> None:
    path.write_text(render_page(result, options, title), encoding="utf-8")
