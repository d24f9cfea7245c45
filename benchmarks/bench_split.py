"""A recording diarized in chunks (as split across workers) against the same recording whole, on real speech.

    nice .venv/bin/python benchmarks/bench_split.py                 # DEV: sweep the link threshold, then TEST at it
    nice .venv/bin/python benchmarks/bench_split.py --split test    # TEST only, at gpu_worker.speaker_linking's value
    nice .venv/bin/python benchmarks/bench_split.py --split test --kinds "long dialog"   # the five-minute meetings only

The product's path: gpu_worker.chunking cuts each recording at the quietest moments near equal shares, diarizes each
chunk with its context (`diarize_chunk`: the default diarizer, one CAM++ embedding per local speaker), and
`merge_chunks` links the local speakers across chunks. DER (benchmarks/real_speech.score) and the speakers found are
compared with the unsplit run of the same diarizer. The chunk work runs once per recording and layout; the sweep
re-links the same local speakers at each threshold, so it costs no model time.

Layouts: the five-minute meetings in 3 chunks (100 s each, the product's 30 s context) and in 5 chunks (60 s, 15 s
context); the 1-1.5 min dialogs in 2 chunks (10 s context), a harder case than production chunks of ten minutes
and more. DEV chooses LINK_THRESHOLD; TEST is only reported.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")

from benchmarks import real_speech  # noqa: E402
from gpu_worker.chunking import ChunkResult, cut_points, diarize_chunk, merge_chunks  # noqa: E402
from gpu_worker.speaker_linking import LINK_THRESHOLD  # noqa: E402

LAYOUTS = {"long dialog": ((3, 30.0), (5, 15.0)), "council dialog": ((2, 10.0),)}
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.30, 0.81, 0.05))


@dataclass
class Case:
    recording: real_speech.Recording
    chunks: int
    context: float
    whole: real_speech.Score
    results: list[ChunkResult]
    seconds: float

    @property
    def name(self) -> str:
        return f"{self.recording.name} / {self.chunks}"


def identity(recording: real_speech.Recording, turns) -> str:
    """The reference speaker that a set of hypothesis turns overlaps most."""
    overlap: dict[str, float] = {}
    for t in turns:
        for r in recording.turns:
            overlap[r.speaker] = overlap.get(r.speaker, 0.0) + max(0.0, min(t.end, r.end) - max(t.start, r.start))
    return max(overlap, key=overlap.get) if overlap else "?"


def run_cases(split: str, kinds: tuple[str, ...] = tuple(LAYOUTS)) -> list[Case]:
    from gpu_worker.diarization import load_diarizer

    diarizer = load_diarizer("default")
    cases = []
    for recording in real_speech.recordings(split):
        for chunks, context in (LAYOUTS.get(recording.kind, ()) if recording.kind in kinds else ()):
            started = time.perf_counter()
            whole = real_speech.score(recording, diarizer.diarize(recording.audio))
            cuts = cut_points(recording.audio, chunks)
            results = []
            for i in range(chunks):
                turns, speakers = diarize_chunk(diarizer, diarizer.embedder, recording.audio, cuts, i, context=context)
                results.append(ChunkResult(i, cuts[i], cuts[i + 1], [], turns, speakers, "en"))
            cases.append(Case(recording, chunks, context, whole, results, time.perf_counter() - started))
            print(f"  {recording.name} in {chunks}: cuts {', '.join(f'{c:.1f}' for c in cuts[1:-1])}, "
                  f"local speakers {[len(r.speakers) for r in results]} ({cases[-1].seconds:.0f} s)", flush=True)
    return cases


def linked_score(case: Case, threshold: float) -> real_speech.Score:
    return real_speech.score(case.recording, merge_chunks(case.results, threshold).turns)


def similarities(cases: list[Case]) -> tuple[list[float], list[float]]:
    """Cosine similarity of every pair of local speakers from different chunks: same person, different people."""
    genuine, impostor = [], []
    for case in cases:
        local = [(s, identity(case.recording, [t for t in r.turns if t.speaker == s.label]))
                 for r in case.results for s in r.speakers]
        for i, (a, who_a) in enumerate(local):
            for b, who_b in local[i + 1:]:
                if a.chunk != b.chunk:
                    (genuine if who_a == who_b else impostor).append(float(a.embedding @ b.embedding))
    return genuine, impostor


def summary(cases: list[Case], threshold: float) -> tuple[int, float, float]:
    scores = [linked_score(c, threshold) for c in cases]
    right = sum(s.found == s.reference for s in scores)
    return right, float(np.mean([s.der for s in scores])), float(max(s.der for s in scores))


def report(cases: list[Case], threshold: float) -> None:
    print(f"\n| recording / chunks | speakers | whole: found / DER | split: found / DER | chunk work s |\n|---|---|---|---|---|")
    for case in cases:
        split = linked_score(case, threshold)
        print(f"| {case.name} | {case.whole.reference} | {case.whole.found} / {case.whole.der:.1%} | "
              f"{split.found} / {split.der:.1%} | {case.seconds:.0f} |")
    whole_right = sum(c.whole.found == c.whole.reference for c in cases)
    right, mean, worst = summary(cases, threshold)
    print(f"whole: count right {whole_right}/{len(cases)}, mean DER {np.mean([c.whole.der for c in cases]):.1%}; "
          f"split at {threshold}: count right {right}/{len(cases)}, mean DER {mean:.1%}, worst {worst:.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=("dev", "test", "both"), default="both")
    parser.add_argument("--kinds", default=",".join(LAYOUTS), help="recording kinds to split (default: %(default)s)")
    args = parser.parse_args()
    kinds = tuple(k.strip() for k in args.kinds.split(","))
    real_speech.fetch()
    print(f"{date.today()}, {os.cpu_count()} CPU cores ({platform.machine()}), no GPU; default diarizer")
    chosen = LINK_THRESHOLD
    if args.split in ("dev", "both"):
        print("DEV (choices are made here):")
        dev = run_cases(real_speech.DEV, kinds)
        genuine, impostor = similarities(dev)
        print(f"cross-chunk similarity: same person {len(genuine)} pairs, min {min(genuine):.3f}, mean "
              f"{np.mean(genuine):.3f}; different people {len(impostor)} pairs, max {max(impostor):.3f}, mean {np.mean(impostor):.3f}")
        print("\n| threshold | count right | mean DER | worst DER |\n|---|---|---|---|")
        for t in THRESHOLDS:
            right, mean, worst = summary(dev, t)
            print(f"| {t:.2f} | {right}/{len(dev)} | {mean:.1%} | {worst:.1%} |")
        report(dev, chosen)
    if args.split in ("test", "both"):
        print(f"\nTEST (only reported), link threshold {chosen} (gpu_worker/speaker_linking.py):")
        report(run_cases(real_speech.TEST, kinds), chosen)


if __name__ == "__main__":
    main()
