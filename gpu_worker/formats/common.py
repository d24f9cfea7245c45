"""What every writer needs from a TranscriptResult: speaker turns, clean text, clock and SMPTE time."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from fractions import Fraction

from timecode import Timecode

from gpu_worker.result import Segment, TranscriptResult, Word
from scribefleet.contract import ErrorCode, ScribefleetError

DEFAULT_FRAME_RATE = 25
# Exact rates behind the NTSC names: frame counts must use these, or long media drifts by a frame per ~17 s.
_EXACT_RATES = {23.976: Fraction(24000, 1001), 29.97: Fraction(30000, 1001), 59.94: Fraction(60000, 1001)}
_LABELS = {rate: str(name) for name, rate in _EXACT_RATES.items()}  # how the timecode library names them
_SPACE = re.compile(r"\s+")


def clean(text: str) -> str:
    """One line of printable text: whitespace runs (tabs, newlines) → one space, control characters dropped.

    Control characters are invalid in docx XML and break tab/line based formats (tsv, EDL, Avid markers).
    """
    text = "".join(ch for ch in text if ch in "\t\n\r" or unicodedata.category(ch) != "Cc")
    return _SPACE.sub(" ", text).strip()


def segment_words(segment: Segment) -> list[Word]:
    """The segment's words with clean text; a segment that carries only text gets words spread over its span by length.

    The fallback keeps subtitles honest for results merged without word timestamps.
    """
    words = [replace(w, text=(" " if w.text[:1].isspace() else "") + clean(w.text)) for w in segment.words if clean(w.text)]
    if words or not clean(segment.text):
        return words
    tokens = re.findall(r"\s*\S+", segment.text)
    total = sum(len(t.strip()) for t in tokens)
    span, at, out = max(segment.end - segment.start, 0.0), segment.start, []
    for token in tokens:
        length = span * len(token.strip()) / total
        out.append(Word(start=at, end=at + length, text=token, speaker=segment.speaker))
        at += length
    return out


def segment_text(segment: Segment) -> str:
    return clean(segment.text) or clean("".join(w.text for w in segment.words))


# Words the model was less sure of than this probability are marked for an editor to listen to again (docx shading).
# Per job: the `low_confidence` option. 0.5 is where whisper's word probability says "more likely wrong than right".
DEFAULT_LOW_CONFIDENCE = 0.5


def low_confidence(options: dict) -> float:
    value = options.get("low_confidence")
    return DEFAULT_LOW_CONFIDENCE if value is None else float(value)


def confidence_tokens(segment: Segment) -> list[tuple[str, float | None]]:
    """segment_text's whitespace-separated words, each with the lowest probability of the model's words it is made
    of (a word written without a leading space, like "'s", belongs to the one before it). None for every word when
    the segment has no word timings or its text no longer reads as its words."""
    tokens: list[list] = []
    for word in segment.words:
        parts = clean(word.text).split(" ")
        if not parts[0]:
            continue
        for k, part in enumerate(parts):
            if tokens and k == 0 and not word.text[:1].isspace():
                tokens[-1] = [tokens[-1][0] + part, min(tokens[-1][1], word.probability)]
            else:
                tokens.append([part, word.probability])
    text = segment_text(segment)
    if " ".join(t for t, _ in tokens) != text:
        return [(t, None) for t in text.split(" ") if t]
    return [(t, float(p)) for t, p in tokens]


@dataclass
class Turn:
    """Consecutive segments of one speaker: one paragraph / script line / marker."""

    speaker: str | None
    name: str  # display name ("" when unlabelled)
    start: float
    end: float
    segments: list[Segment] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(t for t in (segment_text(s) for s in self.segments) if t)

    @property
    def words(self) -> list[Word]:
        return [w for s in self.segments for w in segment_words(s)]


def show_speakers(result: TranscriptResult) -> bool:
    """Label speakers when there is more than one, or when the user named them; one 'SPEAKER_00' is noise."""
    labels = {s.speaker for s in result.segments if s.speaker is not None}
    return len(labels) > 1 or any(label in result.speaker_names for label in labels)


def speaker_turns(result: TranscriptResult) -> list[Turn]:
    labelled = show_speakers(result)
    turns: list[Turn] = []
    for segment in result.segments:
        if not segment_text(segment):
            continue
        if turns and turns[-1].speaker == segment.speaker:
            turns[-1].segments.append(segment)
            turns[-1].end = max(turns[-1].end, segment.end)
            continue
        name = clean(result.speaker_display(segment.speaker)) if labelled else ""
        turns.append(Turn(segment.speaker, name, segment.start, segment.end, [segment]))
    return turns


def clock(seconds: float) -> str:
    """HH:MM:SS for reading, e.g. in plain text."""
    total = max(int(seconds), 0)
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


@dataclass(frozen=True)
class FrameRate:
    """A frame rate as the options name it (25, 29.97, ...) with its exact value and SMPTE timecode rules.

    29.97 and 59.94 use drop-frame timecode (`;` before the frames), the broadcast convention that keeps
    timecode on the wall clock; 23.976 has no drop-frame form and counts 24 frames per timecode second.
    """

    name: float
    exact: Fraction

    @classmethod
    def of(cls, value: float | int | str | None) -> "FrameRate":
        try:
            name = float(value if value is not None else DEFAULT_FRAME_RATE)
        except (TypeError, ValueError):
            raise ScribefleetError(ErrorCode.INVALID_OPTIONS, f"frame_rate must be a number, got {value!r}")
        exact = next((r for n, r in _EXACT_RATES.items() if abs(n - name) < 0.01), None)
        if exact is None:
            if name not in (24, 25, 30, 48, 50, 60):
                raise ScribefleetError(ErrorCode.INVALID_OPTIONS, f"frame_rate {value!r} has no SMPTE timecode")
            exact = Fraction(int(name))
        return cls(name, exact)

    @property
    def drop_frame(self) -> bool:
        return self.exact.denominator == 1001 and self.exact.numerator != 24000

    def frames(self, seconds: float) -> int:
        return max(round(Fraction(seconds) * self.exact), 0)

    def timecode(self, frames: int) -> str:
        label = _LABELS.get(self.exact, str(self.exact))
        return str(Timecode(label, frames=frames + 1))  # the timecode library counts frames from 1

    def smpte(self, seconds: float, start_frames: int = 0) -> str:
        return self.timecode(self.frames(seconds) + start_frames)

    def start_frames(self, start_timecode: str | None) -> int:
        """Frames before media time 0 (the `start_timecode` option, e.g. "01:00:00:00"), read by the same library that
        writes the timecodes: at 29.97 and 59.94 a label is drop-frame whichever separator it is written with, so
        "01:00:00:00" and "01:00:00;00" both name frame 107892 at 29.97 (counted non-drop it would be 108000, 3.6 s
        late on the drop-frame timeline every other timecode here is written on)."""
        if not start_timecode:
            return 0
        try:
            return Timecode(_LABELS.get(self.exact, str(self.exact)), str(start_timecode)).frames - 1
        except (TypeError, ValueError, IndexError) as error:
            raise ScribefleetError(ErrorCode.INVALID_OPTIONS, f"start_timecode {start_timecode!r}: {error}") from error
