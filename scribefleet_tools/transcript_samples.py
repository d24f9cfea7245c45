"""Transcripts made without a model, with every word and time known: for the transcript page's tests, its
benchmark and its screenshot (a 3-hour interview is 30,000 words; no test should wait for a model to get one).
"""
from __future__ import annotations

import random
import re

from gpu_worker.result import Segment, TranscriptResult, Word

FILM_INTERVIEW = [
    ("SPEAKER_00", "Welcome back to the show. Today we talk about restoring old film, and why it matters."),
    ("SPEAKER_01", "Thanks for having me. It's a pleasure to be here."),
    ("SPEAKER_00", "So, where does a restoration start?"),
    ("SPEAKER_01", "It starts in the archive, with the negative if we are lucky, and with a print if we are not, "
                   "because every generation of copying loses detail, adds dirt, scratches and warping that we "
                   "then have to remove frame by frame."),
    ("SPEAKER_02", "Right. And that takes months?"),
    ("SPEAKER_01", "Months of careful work by a small team. The sound is a separate story: optical tracks, "
                   "magnetic stems and sometimes nothing at all!"),
    ("SPEAKER_02", "How long did the last one take? Two years? Three?"),
    ("SPEAKER_01", "Almost four years, from the first scan to the premiere in 2023."),
    ("SPEAKER_00", "Incredible. What would you tell someone who finds old reels in an attic?"),
    ("SPEAKER_01", "Keep them cool and dry, do not try to project them, and call your national film archive. "
                   "Most of what we restore was found by people who simply asked."),
    ("SPEAKER_00", "Thank you both."),
]
FILM_NAMES = {"SPEAKER_00": "Anna Keller", "SPEAKER_01": "Dr. Bob O'Neil"}

_VOCABULARY = (
    "the film archive sound scan frame reel print negative colour light restore team question answer story "
    "people time year work copy detail dust scratch studio camera lens music voice director editor picture "
    "festival audience history decade project budget laboratory chemistry silver nitrate safety vault"
).split()


def dialogue(script: list[tuple[str, str]], names: dict[str, str] | None = None, start: float = 0.4,
             gap: float = 0.6, word_gap: float = 0.05, per_letter: float = 0.055) -> TranscriptResult:
    """One segment per sentence, turns back to back; a word lasts 0.12 s + `per_letter` s per letter."""
    segments, t = [], start
    for speaker, text in script:
        for sentence in re.findall(r"[^.!?]+[.!?]*", text):
            words = []
            for token in sentence.split():
                duration = 0.12 + per_letter * len(token)
                words.append(Word(round(t, 3), round(t + duration, 3), " " + token, 0.9, speaker))
                t += duration + word_gap
            if words:
                segments.append(Segment(words[0].start, words[-1].end, "".join(w.text for w in words), speaker, words))
            t += 0.15
        t += gap
    speakers = list(dict.fromkeys(s for s, _ in script))
    return TranscriptResult("en", round(t + 1, 3), segments, speakers, dict(names or {}), "tiny.en", "default",
                            {"transcribe": 1.0})


def long_interview(words: int = 30_000, speakers: int = 3, seed: int = 7) -> TranscriptResult:
    """A conversation of exactly `words` words at ≈ 2.8 words/s (30,000 words ≈ 3 h), reproducible from `seed`."""
    rng = random.Random(seed)
    script: list[tuple[str, str]] = []
    made = 0
    while made < words:
        speaker = f"SPEAKER_{rng.randrange(speakers):02d}"
        sentences = []
        for _ in range(rng.randint(1, 6)):
            n = min(rng.randint(4, 18), words - made - sum(len(s.split()) for s in sentences))
            if n <= 0:
                break
            tokens = [rng.choice(_VOCABULARY) for _ in range(n)]
            if n > 6 and rng.random() < 0.4:
                tokens[n // 2] += ","
            sentences.append(" ".join(tokens).capitalize() + rng.choice(".?!." if n > 1 else "."))
        made += sum(len(s.split()) for s in sentences)
        if sentences:
            script.append((speaker, " ".join(sentences)))
    return dialogue(script, {"SPEAKER_00": "Host"}, word_gap=0.02, gap=0.4, per_letter=0.03)
