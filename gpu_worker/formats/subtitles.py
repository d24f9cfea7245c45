"""SubRip and WebVTT from one list of cues built from the words.

Cue rules (the common broadcast/streaming style guides): at most `max_lines` lines of `max_line_chars`
characters (the speaker prefix counts), at most `max_duration` s on screen, at least `min_duration` s when
the next cue leaves room, a new cue at every speaker change, sentence end and long pause, lines balanced,
never two cues on screen at once. Times are whole milliseconds from the start so rounding cannot overlap.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import srt
import webvtt

from gpu_worker.formats.common import clean, segment_words, show_speakers
from gpu_worker.result import TranscriptResult, Word

_SENTENCE_END = re.compile(r"[.!?…。！？]['\"’”»)\]]*$")
_CLAUSE_END = re.compile(r"[,;:–—、，；：]['\"’”»)\]]*$")


@dataclass(frozen=True)
class CueRules:
    max_line_chars: int = 42
    max_lines: int = 2
    max_duration: float = 6.0
    min_duration: float = 0.8  # ~5/6 s, the usual minimum reading time
    pause: float = 1.5  # a silence this long ends a cue

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> "CueRules":
        return cls(max_line_chars=options.get("max_line_chars") or cls.max_line_chars,
                   max_lines=options.get("max_lines") or cls.max_lines)


@dataclass
class Cue:
    start: int  # ms
    end: int  # ms
    speaker: str | None
    name: str  # display name, "" when speakers are not shown
    first_of_turn: bool  # SRT shows the speaker prefix only where the speaker changes
    words: list[Word]
    lines: list[str]


def srt_prefix(name: str) -> str:
    return f"[{name}] " if name else ""


def _layout(tokens: list[str], width: int, indent: int) -> list[str]:
    """Greedy line filling; tokens keep their leading space (none for scripts written without spaces)."""
    lines: list[str] = []
    current = ""
    for token in tokens:
        candidate = (current + token) if current else token.lstrip()
        limit = width - (indent if not lines else 0)
        if current and len(candidate) > limit:
            lines.append(current)
            current = token.lstrip()
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def _balanced(tokens: list[str], width: int, indent: int) -> list[str]:
    """The narrowest layout with as few lines as the greedy one: two even lines instead of a long and a short."""
    best = _layout(tokens, width, indent)
    for narrower in range(width - 1, 0, -1):
        lines = _layout(tokens, narrower, indent)
        if len(lines) > len(best):
            break
        best = lines
    return best


def _runs(result: TranscriptResult, rules: CueRules) -> list[tuple[str | None, list[Word]]]:
    """Words cut at every speaker change, sentence end and long pause: no cue ever spans one of those."""
    runs: list[tuple[str | None, list[Word]]] = []
    for segment in result.segments:
        for word in segment_words(segment):
            if runs and runs[-1][0] == segment.speaker:
                prev = runs[-1][1][-1]
                if not _SENTENCE_END.search(prev.text.strip()) and word.start - prev.end <= rules.pause:
                    runs[-1][1].append(word)
                    continue
            runs.append((segment.speaker, [word]))
    return runs


def _split_run(words: list[Word], rules: CueRules, indent: int) -> list[list[Word]]:
    """The fewest cues that respect the limits, then the most even ones, preferring breaks after commas.

    Dynamic programming over break points; a piece grows only until it breaks a limit, so this is linear in
    practice. A single word that alone breaks a limit (a 50-letter compound) still gets its own cue.
    """
    n, capacity = len(words), rules.max_line_chars * rules.max_lines
    best: list[tuple[float, int]] = [(0.0, 0)] + [(float("inf"), 0)] * n  # (cost, start of the last piece)
    for j in range(n):
        if best[j][0] == float("inf"):
            continue
        first = indent if j == 0 else 0
        for i in range(j + 1, n + 1):
            piece = words[j:i]
            lines = _layout([w.text for w in piece], rules.max_line_chars, first)
            too_long = piece[-1].end - piece[0].start > rules.max_duration
            if i > j + 1 and (len(lines) > rules.max_lines or too_long):
                break
            slack = capacity - first - sum(len(line) for line in lines)
            cost = best[j][0] + 10_000 + slack * slack
            if i < n and _CLAUSE_END.search(piece[-1].text.strip()):
                cost -= 300
            if cost < best[i][0]:
                best[i] = (cost, j)
    pieces, i = [], n
    while i > 0:
        j = best[i][1]
        pieces.append(words[j:i])
        i = j
    return pieces[::-1]


def build_cues(result: TranscriptResult, rules: CueRules) -> list[Cue]:
    labelled = show_speakers(result)
    cues: list[Cue] = []
    for speaker, words in _runs(result, rules):
        name = clean(result.speaker_display(speaker)) if labelled else ""
        new_turn = not cues or cues[-1].speaker != speaker
        for k, piece in enumerate(_split_run(words, rules, len(srt_prefix(name)) if new_turn else 0)):
            first = new_turn and k == 0
            lines = _balanced([w.text for w in piece], rules.max_line_chars, len(srt_prefix(name)) if first else 0)
            start, end = round(piece[0].start * 1000), round(piece[-1].end * 1000)
            cues.append(Cue(start, max(end, start + 1), speaker, name, first, piece, lines))
    _fix_timing(cues, round(rules.min_duration * 1000))
    return cues


def _fix_timing(cues: list[Cue], min_ms: int) -> None:
    """No overlaps (words of different speakers may overlap), then stretch short cues into the free time after them."""
    for prev, cue in zip(cues, cues[1:]):
        if cue.start < prev.end:
            if cue.start > prev.start:
                prev.end = cue.start
            else:
                cue.start = prev.end
                cue.end = max(cue.end, cue.start + 1)
    for i, cue in enumerate(cues):
        limit = cues[i + 1].start if i + 1 < len(cues) else cue.start + min_ms
        cue.end = max(cue.end, min(cue.start + min_ms, limit))


# SRT has no escapes, and players (VLC, YouTube, Premiere) read <b>, <i>, <font …> in it as markup: a name or word
# holding "<" or ">" would vanish or restyle the cue. Single angle quotes keep it readable.
_SRT_MARKUP = str.maketrans({"<": "‹", ">": "›"})


def write_srt(result: TranscriptResult, path: Path, options: dict[str, Any], title: str = "") -> None:
    cues = build_cues(result, CueRules.from_options(options))
    subs = [
        srt.Subtitle(
            index=i,
            start=timedelta(milliseconds=c.start),
            end=timedelta(milliseconds=c.end),
            content="\n".join([(srt_prefix(c.name) if c.first_of_turn else "") + c.lines[0], *c.lines[1:]]).translate(_SRT_MARKUP),
        )
        for i, c in enumerate(cues, 1)
    ]
    path.write_text(srt.compose(subs, reindex=False), encoding="utf-8")


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _vtt_time(ms: int) -> str:
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def write_vtt(result: TranscriptResult, path: Path, options: dict[str, Any], title: str = "") -> None:
    """WebVTT with a voice span on every cue (`<v Anna>`): players style or announce it, text stays clean."""
    vtt = webvtt.WebVTT()
    for cue in build_cues(result, CueRules.from_options(options)):
        lines = [_vtt_escape(line) for line in cue.lines]
        if cue.name:
            lines[0] = f"<v {_vtt_escape(cue.name)}>{lines[0]}"
        vtt.captions.append(webvtt.Caption(_vtt_time(cue.start), _vtt_time(cue.end), lines))
    with path.open("w", encoding="utf-8") as f:
        vtt.write(f)
