"""One long recording transcribed by several workers at once: where it is cut, what one chunk returns, the merge.

With batched decoding, cuts sit between the transcriber's speech windows (gpu_worker.transcription.speech_windows), at
the boundary nearest each equal share of the file, so that each window is decoded by one chunk exactly as the whole
file decodes it; without windows (the sequential decoder), at the quietest moment near each share. Every chunk worker
decodes the same file the same way and computes all the cuts from the same samples, so the workers on either side of
a boundary agree on it without talking to each other. A chunk transcribes exactly [its cut, the next cut): no word is
written twice and none is lost. It diarizes a wider span (`context` seconds more each side) so that a speaker who says
little inside the chunk still has enough speech for an embedding. The merge links the chunks' local speakers into one
set of labels (gpu_worker.speaker_linking) and joins the words in time order.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gpu_worker.media import SAMPLE_RATE
from gpu_worker.result import SpeakerTurn, Word
from gpu_worker.speaker_linking import LINK_THRESHOLD, LocalSpeaker, link_speakers
from gpu_worker.voice_matching import clean_turns, mean_embedding, speaker_embeddings

PAUSE_SEARCH = 15.0  # seconds either side of an equal share's boundary searched for the quietest moment
QUIET_WINDOW = 0.5  # the quietness of a moment: RMS over this many seconds around it, in FRAME steps
FRAME = 0.05
CONTEXT = 30.0  # seconds diarized beyond each cut, for the chunk's speaker embeddings


def quietest_moment(audio: np.ndarray, around: float, search: float = PAUSE_SEARCH) -> float:
    """The centre of the quietest QUIET_WINDOW within ±`search` s of `around`, in seconds. Pauses about as quiet as
    the quietest (within 3 dB, or 30 dB below the search span's median) count as equal, and the one nearest
    `around` wins: chunks stay near equal shares."""
    frame = round(FRAME * SAMPLE_RATE)
    lo = max(0, round((around - search) * SAMPLE_RATE) // frame * frame)
    hi = min(len(audio), round((around + search) * SAMPLE_RATE))
    frames = (hi - lo) // frame
    if frames <= 0:
        return round(min(max(around, 0.0), len(audio) / SAMPLE_RATE), 3)
    energy = np.square(audio[lo : lo + frames * frame].astype(np.float64)).reshape(frames, frame).mean(axis=1)
    span = max(1, round(QUIET_WINDOW / FRAME))
    smoothed = np.convolve(energy, np.ones(span) / span, mode="same")
    centres = (lo + (np.arange(frames) + 0.5) * frame) / SAMPLE_RATE
    quiet = np.flatnonzero(smoothed <= max(2.0 * smoothed.min(), 1e-3 * float(np.median(smoothed))) + 1e-12)
    best = quiet[np.argmin(np.abs(centres[quiet] - around))]
    return round(float(centres[best]), 3)


def cut_points(audio: np.ndarray, chunks: int, search: float = PAUSE_SEARCH,
               windows: Sequence[tuple[float, float]] = ()) -> list[float]:
    """[0, cut 1, …, duration]: `chunks` spans, each boundary between two speech `windows` (the middle of the gap
    between them), the one nearest an equal share; where none is left after the previous cut, or without windows,
    the quietest moment near the share."""
    duration = len(audio) / SAMPLE_RATE
    search = min(search, duration / (2 * chunks))  # neighbouring searches never overlap, so cuts stay in order
    between = [round(0.5 * (a[1] + b[0]), 3) for a, b in zip(windows, windows[1:])]
    inner: list[float] = []
    for i in range(1, chunks):
        share, previous = duration * i / chunks, inner[-1] if inner else 0.0
        later = [b for b in between if b > previous]
        inner.append(min(later, key=lambda b: abs(b - share)) if later else quietest_moment(audio, share, search))
    return [0.0, *inner, round(duration, 3)]


def context_span(cuts: Sequence[float], index: int, context: float = CONTEXT) -> tuple[float, float]:
    """What chunk `index` diarizes: its own span and up to `context` seconds of each neighbour."""
    return max(cuts[0], cuts[index] - context), min(cuts[-1], cuts[index + 1] + context)


def diarize_chunk(
    diarizer, embedder, audio: np.ndarray, cuts: Sequence[float], index: int, options: dict | None = None,
    context: float = CONTEXT,
) -> tuple[list[SpeakerTurn], list[LocalSpeaker]]:
    """Chunk `index`'s turns (file time, clipped to its span) and one embedding per local speaker, taken over the
    whole context. A count the user gave is the most any chunk may find (a chunk can miss someone); the merge
    then links to exactly that count."""
    options = options or {}
    lo, hi = context_span(cuts, index, context)
    piece = audio[round(lo * SAMPLE_RATE) : round(hi * SAMPLE_RATE)]
    most = options.get("speakers") or options.get("max_speakers")
    local = diarizer.diarize(piece, max_speakers=most)
    seconds = {label: sum(e - s for s, e in spans) for label, spans in clean_turns(local).items()}
    speakers = [LocalSpeaker(index, label, embedding, seconds[label])
                for label, embedding in sorted(speaker_embeddings(embedder, piece, local).items())]
    shifted = [SpeakerTurn(round(t.start + lo, 3), round(t.end + lo, 3), t.speaker) for t in local]
    return clip_turns(shifted, cuts[index], cuts[index + 1]), speakers


@dataclass
class ChunkResult:
    """What one chunk worker returns (as JSON in the output bucket's work area): words and turns in the file's
    time, labelled with the chunk's own speaker labels, and one embedding per local speaker."""

    index: int
    start: float  # this chunk's cut
    end: float  # the next cut
    words: list[Word]
    turns: list[SpeakerTurn]  # clipped to [start, end)
    speakers: list[LocalSpeaker]
    language: str
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index, "start": self.start, "end": self.end, "language": self.language,
            "timings": self.timings,
            "words": [vars(w) for w in self.words],
            "turns": [vars(t) for t in self.turns],
            "speakers": [{"label": s.label, "seconds": round(s.seconds, 3),
                          "embedding": [round(float(x), 6) for x in s.embedding]} for s in self.speakers],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChunkResult:
        index = int(data["index"])
        return cls(
            index=index, start=float(data["start"]), end=float(data["end"]), language=data["language"],
            timings=dict(data.get("timings", {})),
            words=[Word(**w) for w in data["words"]],
            turns=[SpeakerTurn(**t) for t in data["turns"]],
            speakers=[LocalSpeaker(index, s["label"], np.asarray(s["embedding"], dtype=np.float32), float(s["seconds"]))
                      for s in data["speakers"]],
        )


def clip_turns(turns: Sequence[SpeakerTurn], start: float, end: float) -> list[SpeakerTurn]:
    return [SpeakerTurn(max(t.start, start), min(t.end, end), t.speaker) for t in turns if t.end > start and t.start < end]


@dataclass(frozen=True)
class Merged:
    words: list[Word]  # time order, speakers "G00", "G01", … (global, not yet relabelled by appearance)
    turns: list[SpeakerTurn]
    speakers: dict[str, np.ndarray]  # global label → duration-weighted mean embedding of its local speakers
    language: str


def merge_chunks(
    results: Sequence[ChunkResult], threshold: float = LINK_THRESHOLD, num_speakers: int | None = None,
    max_speakers: int | None = None,
) -> Merged:
    """The chunks' words and turns under one set of speaker labels. Chunks may arrive in any order."""
    ordered = sorted(results, key=lambda r: r.index)
    local = [s for r in ordered for s in r.speakers]
    linked = link_speakers(local, threshold, num_speakers=num_speakers, max_speakers=max_speakers)

    def name(chunk: int, label: str | None) -> str | None:
        return None if label is None or (chunk, label) not in linked else f"G{linked[(chunk, label)]:02d}"

    words = [Word(w.start, w.end, w.text, w.probability, name(r.index, w.speaker)) for r in ordered for w in r.words]
    turns = [SpeakerTurn(t.start, t.end, name(r.index, t.speaker) or t.speaker) for r in ordered for t in r.turns]
    speakers: dict[str, np.ndarray] = {}
    for label in sorted({name(s.chunk, s.label) for s in local}):
        members = [s for s in local if name(s.chunk, s.label) == label]
        embedding = mean_embedding(np.stack([m.embedding for m in members]), [max(m.seconds, 1e-3) for m in members])
        if embedding is not None:
            speakers[label] = embedding
    languages = [r.language for r in ordered if r.words]
    language = max(languages, key=languages.count) if languages else (ordered[0].language if ordered else "")
    return Merged(words, turns, speakers, language)
