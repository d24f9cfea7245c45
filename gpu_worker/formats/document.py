"""A Word script (docx): title, then one paragraph per speaker turn: name in bold, SMPTE timecode, the words."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from docx import Document
from docx.shared import Pt, RGBColor

from gpu_worker.formats.common import FrameRate, clock, speaker_turns
from gpu_worker.result import TranscriptResult

_GREY = RGBColor(0x6B, 0x6B, 0x6B)


def write_docx(result: TranscriptResult, path: Path, options: dict[str, Any], title: str = "") -> None:
    rate = FrameRate.of(options.get("frame_rate"))
    doc = Document()
    doc.core_properties.title = title
    doc.core_properties.language = result.language
    doc.add_heading(title or "Transcript", level=0)
    info = doc.add_paragraph()
    info.add_run(f"Language: {result.language or 'unknown'} · Duration: {clock(result.duration)} · "
                 f"Timecode: {rate.name:g} fps{' drop-frame' if rate.drop_frame else ''}").font.color.rgb = _GREY
    turns = speaker_turns(result)
    if not turns:
        doc.add_paragraph().add_run("No speech was detected.").italic = True
    for turn in turns:
        p = doc.add_paragraph()
        p.paragraph_format.space_after = Pt(10)
        if turn.name:
            p.add_run(turn.name).bold = True
            p.add_run("  ")
        tc = p.add_run(rate.smpte(turn.start))
        tc.font.color.rgb = _GREY
        tc.font.size = Pt(9)
        p.add_run().add_break()
        p.add_run(turn.text)
    doc.save(str(path))
