"""Transcript writers: one file per requested format, named <stem><extension> in the output directory.

    paths = write_formats(result, ["srt", "docx"], Path(tmp), "interview", options)

Writers take plain data (a TranscriptResult and the validated options) and only write files; every format
can be read back by the field's own tools (see tests/worker/test_formats.py). All text is UTF-8.

  txt           a paragraph per speaker turn under `Name [HH:MM:SS]` (text.py)
  tsv           start<TAB>end<TAB>speaker<TAB>text per segment, times in ms, header row, a field with `"` quoted as Excel/pandas read it (text.py)
  json          TranscriptResult.to_dict() + format_version (text.py)
  srt, vtt      cues built once from the words (subtitles.py): max_line_chars (42), max_lines (2), ≤ 6 s,
                ≥ 0.8 s where there is room, split at speaker change / sentence end / 1.5 s pause, no overlaps;
                SRT puts `[Name] ` where the speaker changes, VTT a `<v Name>` span on every cue
  docx          title, then per turn: name (bold), SMPTE timecode, text (document.py, python-docx)
  edl           CMX 3600 via OpenTimelineIO's adapter: one event per turn on reel AX, a locator with the
                speaker, the words as comment lines, FCM line for drop-frame (editorial.py). CMX 3600 stops at
                999 events; a transcript with more turns (a long interview) numbers on past 999, which a strict
                CMX reader may refuse: avid_markers has no such limit
  avid_markers  Media Composer marker list: user, TC, track, colour, comment, duration (frames) (editorial.py)
  html          the transcript page: one self-contained file that plays the media along, edits names and
                words, searches, and exports srt/vtt/txt/json with the rules above (html.py, page/)

Speakers are labelled when there are two or more, or when the user named them (speaker_names).
Timecodes use `frame_rate` (default 25; 29.97/59.94 drop-frame, 23.976 non-drop) from media time 0, or from
`start_timecode` (e.g. "01:00:00:00") when that key is present in the options dict.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

from gpu_worker.formats.common import FrameRate
from gpu_worker.formats.document import write_docx
from gpu_worker.formats.editorial import write_avid_markers, write_edl
from gpu_worker.formats.html import write_html
from gpu_worker.formats.subtitles import write_srt, write_vtt
from gpu_worker.formats.text import write_json, write_tsv, write_txt
from gpu_worker.result import TranscriptResult
from scribefleet.contract import ErrorCode, ScribefleetError

logger = logging.getLogger(__name__)

FORMAT_EXTENSIONS: dict[str, str] = {
    "txt": ".txt",
    "srt": ".srt",
    "vtt": ".vtt",
    "json": ".json",
    "tsv": ".tsv",
    "docx": ".docx",
    "edl": ".edl",
    "avid_markers": ".avid.txt",
    "html": ".html",
}
# What S3 stores with each output, so a browser opening it from S3 (or a presigned link) shows the page or text
# instead of downloading a binary/octet-stream blob.
CONTENT_TYPES: dict[str, str] = {
    "txt": "text/plain; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
    "json": "application/json",
    "tsv": "text/tab-separated-values; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "edl": "text/plain; charset=utf-8",
    "avid_markers": "text/plain; charset=utf-8",
    "html": "text/html; charset=utf-8",
}
Writer = Callable[[TranscriptResult, Path, dict[str, Any], str], None]
_WRITERS: dict[str, Writer] = {
    "txt": write_txt,
    "srt": write_srt,
    "vtt": write_vtt,
    "json": write_json,
    "tsv": write_tsv,
    "docx": write_docx,
    "edl": write_edl,
    "avid_markers": write_avid_markers,
    "html": write_html,
}


def write_formats(
    result: TranscriptResult, formats: list[str], out_dir: Path, stem: str, options: dict[str, Any]
) -> dict[str, Path]:
    """Write each format once; unknown names fail before anything is written (InvalidOptions)."""
    unknown = [f for f in formats if f not in _WRITERS]
    if unknown:
        raise ScribefleetError(ErrorCode.INVALID_OPTIONS, f"unknown format(s): {', '.join(map(str, unknown))}; "
                               f"known: {', '.join(FORMAT_EXTENSIONS)}")
    FrameRate.of(options.get("frame_rate"))  # a bad rate fails before any file exists, like an unknown format
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for fmt in dict.fromkeys(formats):
        path = out_dir / f"{stem}{FORMAT_EXTENSIONS[fmt]}"
        _WRITERS[fmt](result, path, options, stem)
        logger.info("wrote %s (%d bytes)", path.name, path.stat().st_size)
        paths[fmt] = path
    return paths
