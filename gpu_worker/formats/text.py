"""Plain-text formats: readable paragraphs (txt), a table per segment (tsv), the full result (json)."""
from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from gpu_worker.formats.common import clean, clock, confidence_tokens, segment_text, show_speakers, speaker_turns
from gpu_worker.result import TranscriptResult

JSON_FORMAT_VERSION = 1
# start/end in milliseconds, like whisper's own tsv; word_probabilities: one per word of text (split at spaces),
# two decimals, empty when the segment has no word-level result
TSV_COLUMNS = ("start", "end", "speaker", "text", "word_probabilities")


def write_txt(result: TranscriptResult, path: Path, options: dict[str, Any], title: str = "") -> None:
    """One paragraph per speaker turn under a heading line `Anna [00:01:23]`; nothing at all when nothing was said."""
    blocks = [f"{turn.name} [{clock(turn.start)}]".lstrip() + f"\n{turn.text}\n" for turn in speaker_turns(result)]
    path.write_text("\n".join(blocks), encoding="utf-8")


def write_tsv(result: TranscriptResult, path: Path, options: dict[str, Any], title: str = "") -> None:
    """Tab-separated, header row; fields are cleaned of tabs and newlines (IANA TSV). A field holding a `"` is quoted
    the way the readers researchers use expect (Excel, pandas, R, Python's excel-tab): unquoted, a text beginning with
    `"` opened a quoted field there and swallowed the rows after it."""
    labelled = show_speakers(result)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, dialect="excel-tab", lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow(TSV_COLUMNS)
        for s in result.segments:
            text = segment_text(s)
            if text:
                speaker = clean(result.speaker_display(s.speaker)) if labelled else ""
                probabilities = [p for _, p in confidence_tokens(s)]
                column = " ".join(f"{p:.2f}" for p in probabilities) if None not in probabilities else ""
                writer.writerow((round(s.start * 1000), round(s.end * 1000), speaker, text, column))


def write_json(result: TranscriptResult, path: Path, options: dict[str, Any], title: str = "") -> None:
    """The whole result (TranscriptResult.to_dict) plus `format_version`, so readers can tell future layouts apart."""
    data = {"format_version": JSON_FORMAT_VERSION, **result.to_dict()}
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
