"""Plain typed data for one transcript: what the pipeline produces and every format writer consumes."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class SpeakerTurn:
    start: float
    end: float
    speaker: str  # label such as "SPEAKER_00"


@dataclass
class Word:
    start: float
    end: float
    text: str  # as whisper emits it, usually with a leading space
    probability: float = 1.0
    speaker: str | None = None


@dataclass
class Segment:
    """A run of words by one speaker (after merging); start/end in seconds from the start of the media."""

    start: float
    end: float
    text: str
    speaker: str | None = None
    words: list[Word] = field(default_factory=list)


@dataclass
class TranscriptResult:
    language: str
    duration: float
    segments: list[Segment]
    speakers: list[str] = field(default_factory=list)  # labels in order of first appearance
    speaker_names: dict[str, str] = field(default_factory=dict)  # label → display name (from options)
    model: str = ""
    diarizer: str = ""
    timings: dict[str, float] = field(default_factory=dict)  # stage → seconds
    task: str = "transcribe"  # or "translate": the words are then English, `language` is still the one spoken
    vocabulary: dict[str, Any] = field(default_factory=dict)  # terms given to the model, rules and what each replaced

    @property
    def text_language(self) -> str:
        """The language the words are written in."""
        return "en" if self.task == "translate" else self.language

    def speaker_display(self, label: str | None) -> str:
        if label is None:
            return ""
        return self.speaker_names.get(label, label)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TranscriptResult":
        segments = [
            Segment(**{**s, "words": [Word(**w) for w in s.get("words", [])]}) for s in data.get("segments", [])
        ]
        return cls(**{**data, "segments": segments})
