"""Voice enrollment on real voices: calibrate the match threshold on DEV voices, report precision/recall on TEST.

    nice .venv/bin/python benchmarks/bench_voices.py              # calibrate (DEV) + evaluate (TEST), print both
    nice .venv/bin/python benchmarks/bench_voices.py --seeds 1    # fewer dialogs per voice set (quicker)

Voices: the nine Seattle City Council members of benchmarks/real_speech.py, split by PERSON (fixed here, never
chosen by results): DEV_VOICES calibrate gpu_worker.voice_matching.MATCH_THRESHOLD; TEST_VOICES are only reported
(and used by tests/worker/test_voice_enrollment.py). Within every voice, the enrollment clip and the dialog never
share a recording: clips are cut from the meetings real_speech marks "dev", dialogs are built by
real_speech.build_dialog from the meetings it marks "test".

What runs is the product's path: the dialog is diarized by the default diarizer (no oracle turns), each cluster is
embedded from its clean turns and paired with the enrolled voices (Hungarian, threshold); clips are embedded by
gpu_worker.voice_library.ClipEmbedder, a phone-quality clip after a real ffmpeg round trip (8 kHz mono mp3, 16 kb/s).

A cluster's true identity is the reference speaker it overlaps most. A trial "2 of 3" passes when both enrolled
voices name a cluster of their own speaker and no cluster gets a wrong name (the third voice stays unnamed); a
trial "none present" enrolls every voice not in the dialog and passes when no name is given.
"""
from __future__ import annotations

import argparse
import itertools
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import real_speech  # noqa: E402
from gpu_worker.media import SAMPLE_RATE, decode_audio  # noqa: E402
from gpu_worker.result import SpeakerTurn  # noqa: E402
from gpu_worker.voice_matching import EnrolledVoice, embed_speech, match_voices, similarities, speaker_embeddings  # noqa: E402

DEV_VOICES = ("lewis", "gonzalez", "morales", "mosqueda")  # one man, three women
TEST_VOICES = ("pedersen", "strauss", "herbold", "juarez", "sawant")  # two men, three women
ENROLL_MEETINGS = real_speech.DEV  # meetings the clips come from
DIALOG_MEETINGS = real_speech.TEST  # meetings the dialogs come from
ENROLL_SECONDS = 30.0
DIALOG_SECONDS = 60.0


def enrollment_clip(speaker: str, seconds: float = ENROLL_SECONDS) -> np.ndarray:
    """About `seconds` of the speaker's phrases from the enrollment meetings, 0.3 s of quiet between them."""
    pieces, total = [], 0.0
    gap = np.zeros(int(0.3 * SAMPLE_RATE), dtype=np.float32)
    for phrase in real_speech.speaker_phrases(speaker, ENROLL_MEETINGS):
        pieces += [phrase.audio, gap]
        total += len(phrase.audio) / SAMPLE_RATE
        if total >= seconds:
            break
    return np.concatenate(pieces).astype(np.float32)


def write_wav(path: Path, audio: np.ndarray) -> Path:
    import soundfile

    soundfile.write(str(path), audio, SAMPLE_RATE, subtype="PCM_16")
    return path


def phone_quality(wav: Path, out: Path) -> Path:
    """A phone-quality mp3 of the clip: 8 kHz mono, 16 kb/s (ffmpeg, as a user's phone export would be)."""
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(wav), "-ac", "1", "-ar", "8000", "-b:a", "16k", str(out)],
        check=True,
    )
    return out


def enroll(embedder, speakers, quality: str, scratch: Path) -> list[EnrolledVoice]:
    """One EnrolledVoice per speaker from a studio wav or its phone-quality mp3, decoded as the worker decodes."""
    voices = []
    for speaker in speakers:
        wav = write_wav(scratch / f"{speaker}.wav", enrollment_clip(speaker))
        path = phone_quality(wav, scratch / f"{speaker}.mp3") if quality == "phone" else wav
        embedding, _ = embedder.embed_clip(decode_audio(path))
        assert embedding is not None, f"no speech in the enrollment clip of {speaker}"
        voices.append(EnrolledVoice(speaker, embedding))
    return voices


def dialog(speakers: tuple[str, ...], seed: int) -> real_speech.Recording:
    spec = real_speech.DialogSpec(f"voices {'+'.join(speakers)} #{seed}", DIALOG_MEETINGS, speakers, 100 + seed, DIALOG_SECONDS)
    return real_speech.build_dialog(spec)


def cluster_identity(turns: list[SpeakerTurn], reference: list[real_speech.Turn]) -> dict[str, str]:
    """Cluster label → the reference speaker it overlaps most."""
    overlap: dict[str, dict[str, float]] = {}
    for t in turns:
        for r in reference:
            o = min(t.end, r.end) - max(t.start, r.start)
            if o > 0:
                overlap.setdefault(t.speaker, {}).setdefault(r.speaker, 0.0)
                overlap[t.speaker][r.speaker] += o
    return {label: max(by, key=by.get) for label, by in overlap.items()}


@dataclass
class Diarized:
    recording: real_speech.Recording
    turns: list[SpeakerTurn]
    embeddings: dict[str, np.ndarray]
    identity: dict[str, str]
    narrow: dict[str, np.ndarray] = field(default_factory=dict)  # the clusters heard through 8 kHz (--band matched)


def add_narrow_band(dialogs: list[Diarized], embedder) -> None:
    for d in dialogs:
        if not d.narrow:
            d.narrow = speaker_embeddings(embedder, narrow_band(d.recording.audio), d.turns)


def diarize_all(diarizer, embedder, voice_sets, seeds) -> list[Diarized]:
    """diarizer None: the dialog's reference turns stand in for diarization (isolates matching from clustering)."""
    out = []
    for speakers in voice_sets:
        for seed in seeds:
            rec = dialog(speakers, seed)
            if diarizer is None:
                turns = [SpeakerTurn(t.start, t.end, f"cluster {t.speaker}") for t in rec.turns]
            else:
                turns = diarizer.diarize(rec.audio)
            out.append(Diarized(rec, turns, speaker_embeddings(embedder, rec.audio, turns), cluster_identity(turns, rec.turns)))
            print(f"  diarized {rec.name}: {len(rec.speakers)} voices, {len(out[-1].embeddings)} clusters", flush=True)
    return out


# ------------------------------------------------------------------------------------------------ calibration


def calibrate(dialogs: list[Diarized], voices: list[EnrolledVoice], scoring=similarities) -> tuple[float, list[float], list[float]]:
    """Threshold from genuine (cluster vs its own speaker's voice) and impostor (vs any other voice) similarities:
    the midpoint of the gap when they separate, else just above the highest impostor (no false name on DEV)."""
    genuine, impostor = [], []
    for d in dialogs:
        main = _main_clusters(d)
        scores = scoring(d.embeddings, voices)
        for row, label in enumerate(d.embeddings):
            for col, v in enumerate(voices):
                score = float(scores[row, col])
                if v.name == d.identity.get(label) and main.get(v.name) == label:
                    genuine.append(score)
                elif v.name != d.identity.get(label):
                    impostor.append(score)
    top, bottom = max(impostor), min(genuine)
    threshold = (top + bottom) / 2 if bottom > top else top + 0.01
    return round(threshold, 3), genuine, impostor


def _main_clusters(d: Diarized) -> dict[str, str]:
    """Reference speaker → the cluster holding most of their speech (split-off fragments are not 'genuine')."""
    seconds: dict[tuple[str, str], float] = {}
    for t in d.turns:
        if d.identity.get(t.speaker):
            key = (d.identity[t.speaker], t.speaker)
            seconds[key] = seconds.get(key, 0.0) + t.end - t.start
    best: dict[str, tuple[float, str]] = {}
    for (speaker, label), s in seconds.items():
        if s > best.get(speaker, (0.0, ""))[0]:
            best[speaker] = (s, label)
    return {speaker: label for speaker, (_, label) in best.items()}


# ------------------------------------------------------------------------------------------------ cohort scoring


def solo_spans(recording: real_speech.Recording, shortest: float = 0.3) -> dict[str, list[tuple[float, float]]]:
    """Each reference speaker's speech where nobody else talks (pieces shorter than `shortest` left out)."""
    out: dict[str, list[tuple[float, float]]] = {}
    for turn in recording.turns:
        pieces = [(turn.start, turn.end)]
        for other in recording.turns:
            if other.speaker != turn.speaker:
                pieces = [p for s, e in pieces for p in ((s, min(e, other.start)), (max(s, other.end), e)) if p[1] > p[0]]
        out.setdefault(turn.speaker, []).extend(p for p in pieces if p[1] - p[0] >= shortest)
    return out


def ami_cohort(embedder, min_speech: float = 3.0) -> np.ndarray:
    """Impostor voices for score normalisation: every DEV-split AMI speaker with >= `min_speech` s of solo speech,
    as recorded and in telephone band (the enrollments come in both)."""
    rows = []
    for rec in real_speech.ami_excerpts(real_speech.DEV):
        for audio in (rec.audio, real_speech.telephone_band(rec.audio)):
            for spans in solo_spans(rec).values():
                embedding = embed_speech(embedder, audio, spans) if sum(e - s for s, e in spans) >= min_speech else None
                if embedding is not None:
                    rows.append(embedding)
    return np.stack(rows)


class SNorm:
    """Symmetric score normalisation: a similarity, z-scored against the cohort's similarities to the cluster and to
    the voice, averaged. A "hub" voice close to everyone has a high cohort mean, so its raw scores count for less."""

    def __init__(self, cohort: np.ndarray):
        self.cohort = cohort

    def _stats(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = x @ self.cohort.T
        return s.mean(axis=1), s.std(axis=1)

    def __call__(self, speakers, voices) -> np.ndarray:
        raw = similarities(speakers, voices)
        if raw.size == 0:
            return raw
        (ma, sa), (mb, sb) = self._stats(np.stack(list(speakers.values()))), self._stats(np.stack([v.embedding for v in voices]))
        return 0.5 * ((raw - ma[:, None]) / sa[:, None] + (raw - mb[None]) / sb[None])


def narrow_band(audio: np.ndarray) -> np.ndarray:
    """16 kHz → 8 kHz → 16 kHz: the band an 8 kHz enrollment clip keeps once the worker has decoded it."""
    from scipy.signal import resample_poly

    return resample_poly(resample_poly(audio, 1, 2), 2, 1).astype(np.float32)[: len(audio)]


class MatchedBand:
    """Scores a phone-enrolled voice against the cluster's speech heard through the same 8 kHz band, a studio one
    against the cluster as recorded (an experiment: docs/benchmarks.md, "Voice enrollment")."""

    def __init__(self, dialogs: list[Diarized], phone_voices: list[EnrolledVoice]):
        self.narrow = {id(d.embeddings): d.narrow for d in dialogs}
        self.phone = {id(v) for v in phone_voices}

    def __call__(self, speakers, voices) -> np.ndarray:
        narrow = self.narrow[id(speakers)]
        return np.array([[float((narrow if id(v) in self.phone else speakers)[label] @ v.embedding) for v in voices]
                         for label in speakers], dtype=np.float32).reshape(len(speakers), len(voices))


# ------------------------------------------------------------------------------------------------ evaluation


@dataclass
class Tally:
    trials: int = 0
    passed: int = 0
    names_given: int = 0
    names_right: int = 0
    names_expected: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.names_right / self.names_given if self.names_given else 1.0

    @property
    def recall(self) -> float:
        return self.names_right / self.names_expected if self.names_expected else 1.0

    def line(self, label: str) -> str:
        return (f"{label}: passed {self.passed}/{self.trials} ({100 * self.passed / max(1, self.trials):.1f} %), "
                f"names given {self.names_given}, right {self.names_right}, precision {self.precision:.3f}, "
                f"recall {self.recall:.3f}")


def trial(d: Diarized, enrolled: list[EnrolledVoice], threshold: float, tally: Tally, scoring=similarities) -> bool:
    matches = match_voices(d.embeddings, enrolled, threshold, scoring)
    present = {v.name for v in enrolled} & set(d.recording.speakers)
    right = {m.name for m in matches if d.identity.get(m.speaker) == m.name}
    ok = right == present and len(right) == len(matches)
    tally.trials += 1
    tally.passed += ok
    tally.names_given += len(matches)
    tally.names_right += len(right)
    tally.names_expected += len(present)
    if not ok:
        tally.failures.append(f"{d.recording.name} enrolled {sorted(v.name for v in enrolled)}: "
                              + ", ".join(f"{m.speaker}({d.identity.get(m.speaker)})={m.name} {m.similarity:.2f}" for m in matches))
    return ok


def evaluate(dialogs: list[Diarized], library: dict[str, EnrolledVoice], threshold: float,
             scoring=similarities) -> tuple[Tally, Tally]:
    """(2 of 3 enrolled, none present) over every dialog of three voices."""
    two_of_three, none_present = Tally(), Tally()
    for d in dialogs:
        speakers = d.recording.speakers
        for pair in itertools.combinations(speakers, 2):
            trial(d, [library[s] for s in pair], threshold, two_of_three, scoring)
        absent = [v for name, v in library.items() if name not in speakers]
        trial(d, absent, threshold, none_present, scoring)
    return two_of_three, none_present


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=2, help="dialogs per set of three voices")
    parser.add_argument("--turns", choices=("diarizer", "reference"), default="diarizer",
                        help="speaker turns from the default diarizer (the product's path) or the dialog's reference")
    parser.add_argument("--cohort", choices=("none", "ami"), default="none",
                        help="ami: S-norm scores against a cohort of DEV AMI speakers, threshold calibrated on DEV in "
                        "those units (an experiment; the product scores raw cosine)")
    parser.add_argument("--band", choices=("as-recorded", "matched"), default="as-recorded",
                        help="matched: a phone-enrolled voice is scored against the cluster's speech through an 8 kHz "
                        "band (an experiment; the product compares every voice with the speech as recorded)")
    args = parser.parse_args(argv)
    if args.band == "matched" and args.cohort != "none":
        parser.error("--band matched and --cohort are separate experiments")
    os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")
    from gpu_worker.diarization import load_diarizer
    from gpu_worker.voice_library import ClipEmbedder
    from gpu_worker.voice_matching import MATCH_THRESHOLD

    real_speech.fetch()
    started = time.perf_counter()
    diarizer = load_diarizer("default") if args.turns == "diarizer" else None
    embedder = ClipEmbedder()
    seeds = range(args.seeds)
    print(f"# bench_voices {date.today()} on {platform.node()} ({os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}), "
          f"turns from the {args.turns}, {args.seeds} dialog(s) per set of three voices")
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        print("DEV: dialogs of three of", ", ".join(DEV_VOICES))
        dev = diarize_all(diarizer, embedder, list(itertools.combinations(DEV_VOICES, 3)), seeds)
        dev_voices = {q: enroll(embedder, DEV_VOICES, q, scratch) for q in ("studio", "phone")}
        scoring = similarities
        if args.cohort == "ami":
            scoring = SNorm(ami_cohort(embedder))
            print(f"scores: S-norm against {len(scoring.cohort)} cohort embeddings (DEV AMI speakers, as recorded and phone band)")
        if args.band == "matched":
            add_narrow_band(dev, embedder)
            scoring = MatchedBand(dev, dev_voices["phone"])
            print("scores: phone-enrolled voices against the clusters heard through an 8 kHz band")
        threshold, genuine, impostor = calibrate(dev, dev_voices["studio"] + dev_voices["phone"], scoring)
        print(f"DEV genuine similarity min {min(genuine):.3f} mean {np.mean(genuine):.3f} (n={len(genuine)}); "
              f"impostor max {max(impostor):.3f} mean {np.mean(impostor):.3f} (n={len(impostor)})")
        print(f"DEV calibrated threshold {threshold:.3f} (gpu_worker.voice_matching.MATCH_THRESHOLD = {MATCH_THRESHOLD})")
        used = threshold if scoring is not similarities else MATCH_THRESHOLD  # an experiment's DEV threshold, or the shipped one

        print("TEST: dialogs of three of", ", ".join(TEST_VOICES))
        test = diarize_all(diarizer, embedder, list(itertools.combinations(TEST_VOICES, 3)), seeds)
        for quality in ("studio", "phone"):
            library = {v.name: v for v in enroll(embedder, TEST_VOICES + DEV_VOICES, quality, scratch)}
            if args.band == "matched":
                add_narrow_band(test, embedder)
                scoring = MatchedBand(test, list(library.values()) if quality == "phone" else [])
            two, none = evaluate(test, library, used, scoring)
            print(two.line(f"TEST {quality} enrollment, 2 of 3 enrolled"))
            print(none.line(f"TEST {quality} enrollment, none present ({len(library) - 3} absent voices enrolled)"))
            for failure in (two.failures + none.failures)[:10]:
                print("   failed:", failure)
    print(f"wall {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
