"""Name diarized speakers after the user's enrolled voices.

A voice and a speaker cluster are each one CAM++ embedding: the mean of L2-normalised embeddings of speech windows
(the clip's speech for a voice, the cluster's longest clean turns for a speaker), normalised again. Clusters and
voices are paired one-to-one by the Hungarian assignment on cosine similarity, and a pair names the cluster only
above MATCH_THRESHOLD: two clusters can never take one name, and a voice that is absent names nobody.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from gpu_worker.result import SpeakerTurn

log = logging.getLogger(__name__)

# Cosine similarity above which a cluster takes a voice's name. Calibrated by benchmarks/bench_voices.py on DEV
# voices only (docs/benchmarks.md, "Voice enrollment"): the midpoint between the highest impostor and the lowest
# genuine similarity seen there.
MATCH_THRESHOLD = 0.70

WINDOW = 4.0  # seconds per embedding window: long enough for a stable CAM++ embedding, short enough to average
MIN_WINDOW = 1.0  # shorter pieces are left out while longer speech exists
MAX_SPEECH = 30.0  # seconds of a cluster's speech that are embedded: more adds time, not accuracy
MAX_CLIP_SPEECH = 60.0  # seconds of an enrollment clip's speech that are embedded


@dataclass(frozen=True)
class EnrolledVoice:
    name: str
    embedding: np.ndarray  # (192,) L2-normalised


@dataclass(frozen=True)
class VoiceMatch:
    speaker: str  # the diarizer's label
    name: str
    similarity: float


def windows(spans: Sequence[tuple[float, float]], budget: float = MAX_SPEECH) -> list[tuple[float, float]]:
    """Spans, longest first, each cut evenly into windows of at most WINDOW seconds, up to `budget` seconds in
    total; spans shorter than MIN_WINDOW are used only when nothing longer exists."""
    out: list[tuple[float, float]] = []
    short: list[tuple[float, float]] = []
    total = 0.0
    for start, end in sorted(spans, key=lambda s: s[0] - s[1]):
        length = end - start
        if length <= 0 or total >= budget:
            continue
        if length < MIN_WINDOW:
            short.append((start, end))
            continue
        count = math.ceil(length / WINDOW)
        step = length / count
        for i in range(count):
            if total >= budget:
                break
            out.append((start + i * step, start + (i + 1) * step))
            total += step
    return out or short


def clean_turns(turns: Sequence[SpeakerTurn]) -> dict[str, list[tuple[float, float]]]:
    """Speaker → its turns with every stretch that another speaker's turn overlaps cut out (overlapped speech
    mixes two voices and would pull a cluster's embedding towards the other one)."""
    out: dict[str, list[tuple[float, float]]] = {}
    for turn in turns:
        pieces = [(turn.start, turn.end)]
        for other in turns:
            if other.speaker == turn.speaker or other.end <= turn.start or other.start >= turn.end:
                continue
            pieces = [p for s, e in pieces for p in ((s, min(e, other.start)), (max(s, other.end), e)) if p[1] - p[0] > 0]
        out.setdefault(turn.speaker, []).extend(pieces)
    return out


def mean_embedding(embeddings: np.ndarray, weights: Sequence[float] | None = None) -> np.ndarray | None:
    if len(embeddings) == 0:
        return None
    mean = np.average(embeddings, axis=0, weights=weights)
    norm = float(np.linalg.norm(mean))
    return (mean / norm).astype(np.float32) if norm > 0 else None


def embed_speech(
    embedder, audio: np.ndarray, spans: Sequence[tuple[float, float]], budget: float = MAX_SPEECH
) -> np.ndarray | None:
    """One embedding for the speech in `spans` (None when there is none): the duration-weighted mean of its windows."""
    pieces = windows(spans, budget)
    if not pieces:
        return None
    return mean_embedding(embedder.embed(audio, pieces), [e - s for s, e in pieces])


def speaker_embeddings(embedder, audio: np.ndarray, turns: Sequence[SpeakerTurn]) -> dict[str, np.ndarray]:
    out = {}
    for speaker, spans in clean_turns(turns).items():
        embedding = embed_speech(embedder, audio, spans)
        if embedding is not None:
            out[speaker] = embedding
    return out


def similarities(speakers: Mapping[str, np.ndarray], voices: Sequence[EnrolledVoice]) -> np.ndarray:
    """(speakers, voices) cosine similarity of L2-normalised embeddings."""
    if not speakers or not voices:
        return np.zeros((len(speakers), len(voices)), dtype=np.float32)
    a = np.stack(list(speakers.values()))
    b = np.stack([v.embedding for v in voices])
    return a @ b.T


def match_voices(
    speakers: Mapping[str, np.ndarray], voices: Sequence[EnrolledVoice], threshold: float = MATCH_THRESHOLD,
    score=similarities,
) -> list[VoiceMatch]:
    """One-to-one pairs of maximal total similarity, kept where the similarity exceeds `threshold`.

    The assignment is made before the threshold is applied, so a cluster's name is the voice no other cluster fits
    better; a pair below the threshold is dropped rather than re-paired with a worse voice. `score` (speakers,
    voices) → matrix lets a benchmark try another scoring (benchmarks/bench_voices.py --cohort)."""
    scores = score(speakers, voices)
    if scores.size == 0:
        return []
    labels = list(speakers)
    rows, cols = linear_sum_assignment(scores, maximize=True)
    matches = [
        VoiceMatch(labels[r], voices[c].name, round(float(scores[r, c]), 4))
        for r, c in zip(rows, cols)
        if scores[r, c] > threshold
    ]
    return sorted(matches, key=lambda m: m.speaker)


def identify_speakers(
    embedder, audio: np.ndarray, turns: Sequence[SpeakerTurn], voices: Sequence[EnrolledVoice], threshold: float = MATCH_THRESHOLD
) -> list[VoiceMatch]:
    if not voices or not turns:
        return []
    matches = match_voices(speaker_embeddings(embedder, audio, turns), voices, threshold)
    log.info("voices matched: %s", ", ".join(f"{m.speaker}={m.name} ({m.similarity:.2f})" for m in matches) or "none")
    return matches


def display_names(
    labels: Sequence[str], matched: Mapping[str, str], given: Sequence[str] | None
) -> dict[str, str]:
    """Final label → name. Names given with the upload win for the labels they cover (in order of appearance);
    a voice name goes to the other labels, unless the user already gave that name to someone."""
    chosen = {label: name for label, name in zip(labels, given or ())}
    taken = set(chosen.values())
    for label in labels:
        name = matched.get(label)
        if label not in chosen and name and name not in taken:
            chosen[label] = name
            taken.add(name)
    return chosen
