"""A Word script (docx): title, then one paragraph per speaker turn: name in bold, SMPTE timecode, the words."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from docx import Document
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Pt, RGBColor
from docx.text.paragraph import Paragraph

from gpu_worker.formats.common import FrameRate, Turn, clock, confidence_tokens, low_confidence, speaker_turns
from gpu_worker.result import TranscriptResult

_GREY = RGBColor(0x6B, 0x6B, 0x6B)
LOW_CONFIDENCE_FILL = "FFE08A"  # a pale amber shading behind the words to listen to again


def write_docx(result: TranscriptResult, path: Path, options: dict[str, Any], title: str = "") -> None:
    rate = FrameRate.of(options.get("frame_rate"))
    start = rate.start_frames(options.get("start_timecode"))  # the sequence's timecode, as the EDL and markers use
    doc = Document()
    doc.core_properties.title = title
    doc.core_properties.language = result.text_language
    doc.add_heading(title or "Transcript", level=0)
    info = doc.add_paragraph()
    spoken = result.language or "unknown"
    language = f"English, translated from {spoken}" if result.task == "translate" else spoken
    info.add_run(f"Language: {language} · Duration: {clock(result.duration)} · "
                 f"Timecode: {rate.name:g} fps{' drop-frame' if rate.drop_frame else ''}").font.color.rgb = _GREY
    turns = speaker_turns(result)
    threshold = low_confidence(options)
    if any(p is not None and p < threshold for t in turns for s in t.segments for _, p in confidence_tokens(s)):
        legend = doc.add_paragraph()
        legend.add_run("Shaded words").font.color.rgb = _GREY
        _shade(legend.runs[0])
        legend.add_run(f": the model was less than {threshold:.0%} sure of them; listen again.").font.color.rgb = _GREY
    if not turns:
        doc.add_paragraph().add_run("No speech was detected.").italic = True
    for turn in turns:
        p = doc.add_paragraph()
        p.paragraph_format.space_after = Pt(10)
        if turn.name:
            p.add_run(turn.name).bold = True
            p.add_run("  ")
        tc = p.add_run(rate.smpte(turn.start, start))
        tc.font.color.rgb = _GREY
        tc.font.size = Pt(9)
        p.add_run().add_break()
        _add_words(p, turn, threshold)
    doc.save(str(path))


def _add_words(p: Paragraph, turn: Turn, threshold: float) -> None:
    """The turn's text as runs: each stretch of low-confidence words one shaded run, the rest plain; the spaces
    between stretches go into the plain runs, so the shading covers words only."""
    stretches: list[tuple[bool, list[str]]] = []
    for text, probability in (t for s in turn.segments for t in confidence_tokens(s)):
        low = probability is not None and probability < threshold
        if stretches and stretches[-1][0] == low:
            stretches[-1][1].append(text)
        else:
            stretches.append((low, [text]))
    for k, (low, words) in enumerate(stretches):
        text = " ".join(words)
        if not low:
            text = (" " if k > 0 else "") + text + (" " if k < len(stretches) - 1 else "")
        _run(p, text, low)


def _run(p: Paragraph, text: str, low: bool) -> None:
    run = p.add_run(text)
    if low:
        _shade(run)


def _shade(run) -> None:
    """Character shading (w:shd), which Word, LibreOffice and Google Docs all show behind the text."""
    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:color"), "auto")
    shading.set(qn("w:fill"), LOW_CONFIDENCE_FILL)
    run._r.get_or_add_rPr().append(shading)
