"""One voice or two? The long-stretch test for short recordings, measured on real speech (DEV chooses, TEST reports).

    .venv/bin/python benchmarks/split_similarity.py [--split dev|test] [--rule 0.78]

A 1.5 s window is a noisy view of a voice; a speaker's whole speech, concatenated, is a much steadier one. For each
short recording (fewer clustered windows than DefaultOptions.ahc_below: the calls and monologues) and each recording
of at most two people (the same pair of voices heard as recorded and over a phone line) this cuts the
default diarizer's window graph into two groups (told 2) and embeds each group's speech in one piece with CAM++: the
cosine of the two says how alike the two halves sound. Printed per recording with the number of people, so one can
see whether a threshold separates one voice from two. `--rule T` also scores the count rule built on it (short
recordings where the shipped rule found one or two: one speaker when the halves' cosine is >= T, else two) beside
the shipped rule, per kind of recording. Not shipped: docs/benchmarks.md, "Fourth pass", says why.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from benchmarks import real_speech  # noqa: E402
from gpu_worker.diarization.default import Analysis, DefaultDiarizer  # noqa: E402
from gpu_worker.media import SAMPLE_RATE  # noqa: E402
from gpu_worker.result import SpeakerTurn  # noqa: E402
from gpu_worker.voice_matching import clean_turns  # noqa: E402

TRIM = 0.2  # seconds left out at each end of a turn: where a change of speaker may sit
CAP = 60.0  # seconds of a speaker's speech embedded


def stretch_embedding(diarizer: DefaultDiarizer, audio: np.ndarray, spans: list[tuple[float, float]]) -> np.ndarray:
    """One CAM++ embedding of the spans' speech concatenated (each span trimmed at both ends), longest spans first."""
    pieces = [(s + TRIM, e - TRIM) for s, e in sorted(spans, key=lambda span: span[0] - span[1]) if e - s - 2 * TRIM >= 0.3]
    pieces = pieces or spans
    speech = np.concatenate([audio[int(s * SAMPLE_RATE):int(e * SAMPLE_RATE)] for s, e in pieces])[: int(CAP * SAMPLE_RATE)]
    return diarizer.embedder.embed(speech, [(0.0, len(speech) / SAMPLE_RATE)])[0]  # the whole stretch, one span


def halves_similarity(diarizer: DefaultDiarizer, audio: np.ndarray, analysis: Analysis) -> float | None:
    """Cosine of the two groups' stretch embeddings when the window graph is cut in two (None: it cannot be)."""
    halves = list(clean_turns(diarizer.assign(analysis, num_speakers=2)).values())
    if len(halves) < 2:
        return None
    a, b = (stretch_embedding(diarizer, audio, spans) for spans in halves)
    return float(a @ b)


def is_short(diarizer: DefaultDiarizer, analysis: Analysis) -> bool:
    return sum(w.end - w.start >= diarizer.options.min_window for w in analysis.segments) < diarizer.options.ahc_below


def with_rule(diarizer: DefaultDiarizer, analysis: Analysis, similarity: float | None, threshold: float) -> list[SpeakerTurn]:
    """The rule on a short recording (`similarity` None: not short, or not cut in two: the shipped rule's turns)."""
    shipped = diarizer.assign(analysis)
    found = len({t.speaker for t in shipped})
    if similarity is None or found > 2:
        return shipped
    if similarity >= threshold:
        return diarizer.assign(analysis, num_speakers=1)
    return shipped if found == 2 else diarizer.assign(analysis, num_speakers=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default=real_speech.DEV, choices=(real_speech.DEV, real_speech.TEST))
    parser.add_argument("--rule", type=float, default=None, help="score the one-or-two rule at this cosine")
    args = parser.parse_args()
    real_speech.fetch()
    diarizer = DefaultDiarizer()
    data = real_speech.recordings(args.split)
    print(f"{args.split} split; the two halves of each short recording, cosine of their stretch embeddings")
    print("| recording | kind | people | shipped rule found | halves' cosine |\n|---|---|---|---|---|")
    shipped, ruled = [], []
    for r in data:
        analysis = diarizer.analyse(r.audio)
        short = is_short(diarizer, analysis)
        similarity = halves_similarity(diarizer, r.audio, analysis) if short or len(r.speakers) <= 2 else None
        shipped.append(real_speech.score(r, diarizer.assign(analysis)))
        if similarity is not None or short:
            print(f"| {r.name} | {r.kind} | {len(r.speakers)} | {shipped[-1].found} | "
                  f"{'-' if similarity is None else f'{similarity:.3f}'} |", flush=True)
        if args.rule is not None:
            ruled.append(real_speech.score(r, with_rule(diarizer, analysis, similarity if short else None, args.rule)))
    if args.rule is not None:
        print("\n| count rule " + real_speech.SUMMARY_HEADER.split("| told")[0] + "|")
        print("|---" * (1 + real_speech.SUMMARY_HEADER.split("| told")[0].count("|")) + "|")
        for label, blind in (("shipped", shipped), (f"one or two at {args.rule:g}", ruled)):
            cells = real_speech.summary_cells(data, blind, blind)  # blind only: the told path is not changed
            print(f"| {label} " + "|".join(cells.split("|")[: 1 + 2 * len(real_speech.KINDS)]) + "|")


if __name__ == "__main__":
    main()
