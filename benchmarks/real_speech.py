"""Real labelled speech for diarization: fetched from PyPI with pinned checksums, split into DEV and TEST.

    .venv/bin/python benchmarks/real_speech.py          # fetch into .cache/real-speech (what `make real-speech` runs)
    .venv/bin/python benchmarks/real_speech.py --meetings   # which built dialogs hear a speaker from several meetings

Sources (two source archives from PyPI, each pinned by version and sha256; every file taken from them is checked
against benchmarks/real_speech.sha256; nothing is committed, the cache is rebuilt from PyPI where it is missing):
- pyannote.audio 4.0.7 (MIT; sdist): `sample.wav` + `sample.rttm`, a real two-person phone call of 30 s (the same
  bytes as the wheel's pyannote/audio/sample/), and `tests/data`: fourteen 30 s excerpts of the AMI Meeting Corpus
  (CC BY 4.0) with `debug.{train,development,test}.{rttm,uem,lst}`; 1–4 speakers, overlap annotated.
- speakerbox 1.2.0 (MIT; sdist): `speakerbox/tests/data/diarized.zip`, 75 clips of single speakers from five Seattle
  City Council meetings (public meeting recordings), sorted by speaker by hand: 9 council members, 3 men (lewis,
  pedersen, strauss) and 6 women, 110–160 s each, 16 kHz mono. Dialogs with 2–4 speakers are built from them below,
  with known turns (see `build_dialog`), including three men and four women, and short two-person phone calls (the
  same kind of build, ~25 s of speech, passed through `telephone_band`: 8 kHz, 300–3400 Hz, G.711 µ-law), the case
  of sample.wav with other voices.

The split is fixed here, never chosen by results:
- DEV (every threshold, window and method choice): AMI train + development, dialogs and calls built from the clips of
  meetings 01e7f8bb1c03, 2cdf68ae3c2c and 9f55f22d8e61.
- TEST (only reported, and asserted by tests/worker/test_real_speech.py): AMI test, sample.wav, dialogs and calls
  built from meetings 9f581faa5ece and 6d6702d7b820 (other recordings of the same council members: the speakers recur, the
  audio does not).
"""
from __future__ import annotations

import hashlib
import io
import logging
import os
import sys
import tarfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gpu_worker.media import SAMPLE_RATE  # the rate the worker decodes to: what the diarizers are scored at

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("SCRIBEFLEET_REAL_SPEECH_CACHE", ROOT / ".cache" / "real-speech"))
MANIFEST = Path(__file__).with_name("real_speech.sha256")
DEV, TEST = "dev", "test"


@dataclass(frozen=True)
class Archive:
    name: str
    url: str
    sha256: str
    members: tuple[str, ...]  # paths inside the archive that are kept, relative to its top folder


ARCHIVES = (
    Archive(
        "pyannote-audio-4.0.7",
        "https://files.pythonhosted.org/packages/6d/d7/03b1d00d431c7be1d98635fefb99c2da64d9b84b4b8a06d5302666a96c88/"
        "pyannote_audio-4.0.7.tar.gz",
        "3a903dfb5ca711d134cc2522561c9158b186836f5d62e8a57c46c6648e8a8229",
        ("src/pyannote/audio/sample/", "tests/data/", "LICENSE"),
    ),
    Archive(
        "speakerbox-1.2.0",
        "https://files.pythonhosted.org/packages/64/07/e1fd9ad7cd9eea632d4f04a3f143f16ae59ddafe78c298e2f7d3db2f5dcb/"
        "speakerbox-1.2.0.tar.gz",
        "08da93c037108369cd1ac3aca6f418152f897aadd7137836826b312113161316",
        ("speakerbox/tests/data/diarized.zip", "LICENSE"),
    ),
)
AMI_SPLITS = {"train": DEV, "development": DEV, "test": TEST}
MEETING_SPLITS = {"01e7f8bb1c03": DEV, "2cdf68ae3c2c": DEV, "9f55f22d8e61": DEV, "9f581faa5ece": TEST, "6d6702d7b820": TEST}
MEN = ("lewis", "pedersen", "strauss")


# ------------------------------------------------------------------------------------------------ fetch


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest() -> dict[str, str]:
    """relative path in the cache → sha256, from benchmarks/real_speech.sha256 (sha256sum format)."""
    out = {}
    for line in MANIFEST.read_text().splitlines():
        if line.strip():
            digest, path = line.split(maxsplit=1)
            out[path.lstrip("*")] = digest
    return out


def _download(archive: Archive) -> bytes:
    log.info("downloading %s", archive.url)
    with urllib.request.urlopen(archive.url, timeout=300) as response:
        data = response.read()
    if _sha256(data) != archive.sha256:
        raise RuntimeError(f"{archive.name}: sha256 {_sha256(data)} != pinned {archive.sha256}")
    return data


def _extract(archive: Archive, data: bytes, cache: Path) -> None:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar.getmembers():
            inner = member.name.split("/", 1)[1] if "/" in member.name else ""
            if not member.isfile() or not any(inner == m or (m.endswith("/") and inner.startswith(m)) for m in archive.members):
                continue
            target = cache / archive.name / inner
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(tar.extractfile(member).read())  # type: ignore[union-attr]
    zipped = cache / archive.name / "speakerbox/tests/data/diarized.zip"
    if zipped.exists():
        with zipfile.ZipFile(zipped) as z:
            for name in z.namelist():
                if name.endswith(".wav"):
                    target = cache / archive.name / "diarized" / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(z.read(name))


def verify(cache: Path = CACHE) -> list[str]:
    """Paths of the manifest that are missing or differ in the cache (empty when all is in place)."""
    bad = []
    for path, digest in manifest().items():
        file = cache / path
        if not file.is_file() or _sha256(file.read_bytes()) != digest:
            bad.append(path)
    return bad


def fetch(cache: Path = CACHE) -> Path:
    """Make the cache complete and verified; downloads only the archives whose files are missing or differ."""
    bad = verify(cache)
    for archive in ARCHIVES:
        if any(p.startswith(archive.name + "/") for p in bad):
            _extract(archive, _download(archive), cache)
    bad = verify(cache)
    if bad:
        raise RuntimeError(f"real speech cache {cache}: {len(bad)} files fail their sha256, e.g. {bad[:3]}")
    return cache


def available(cache: Path = CACHE) -> bool:
    return MANIFEST.exists() and not verify(cache)


# ------------------------------------------------------------------------------------------------ recordings


@dataclass(frozen=True)
class Turn:
    start: float
    end: float
    speaker: str
    meeting: str = ""  # a built dialog's turn: the council meeting its phrase was recorded in (a room, a microphone)


@dataclass
class Recording:
    name: str
    split: str
    kind: str  # one of KINDS
    audio: np.ndarray  # float32, 16 kHz mono
    turns: list[Turn]  # reference; may overlap
    uem: tuple[float, float]  # scored region

    @property
    def duration(self) -> float:
        return len(self.audio) / SAMPLE_RATE

    @property
    def speakers(self) -> list[str]:
        return sorted({t.speaker for t in self.turns})


def read_wav(path: Path) -> np.ndarray:
    import soundfile

    audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    if rate != SAMPLE_RATE:
        raise ValueError(f"{path}: {rate} Hz, expected {SAMPLE_RATE}")
    return np.ascontiguousarray(audio.mean(axis=1))


def read_rttm(path: Path) -> dict[str, list[Turn]]:
    out: dict[str, list[Turn]] = {}
    for line in path.read_text().splitlines():
        f = line.split()
        if f and f[0] == "SPEAKER":
            start, length = float(f[3]), float(f[4])
            out.setdefault(f[1], []).append(Turn(start, start + length, f[7]))
    return out


def read_uem(path: Path) -> dict[str, tuple[float, float]]:
    return {f[0]: (float(f[2]), float(f[3])) for f in (line.split() for line in path.read_text().splitlines()) if f}


def sample_call(cache: Path = CACHE) -> Recording:
    folder = cache / "pyannote-audio-4.0.7/src/pyannote/audio/sample"
    audio = read_wav(folder / "sample.wav")
    turns = read_rttm(folder / "sample.rttm")["sample"]
    return Recording("sample.wav", TEST, "phone call", audio, turns, (0.0, len(audio) / SAMPLE_RATE))


def ami_excerpts(split: str, cache: Path = CACHE) -> list[Recording]:
    folder = cache / "pyannote-audio-4.0.7/tests/data"
    out = []
    for subset, which in AMI_SPLITS.items():
        if which != split:
            continue
        rttm, uem = read_rttm(folder / f"debug.{subset}.rttm"), read_uem(folder / f"debug.{subset}.uem")
        for uri in (folder / f"debug.{subset}.lst").read_text().split():
            key = uri.replace("ñ", "n")  # trñ00.wav is annotated as trn00 (pyannote tests a non-ASCII file name)
            out.append(Recording(f"AMI {key}", split, "AMI meeting", read_wav(folder / f"{uri}.wav"), rttm[key], uem[key]))
    return out


# ------------------------------------------------------------------------------------------------ dialogs


def speech_runs(audio: np.ndarray, min_pause: float = 0.3, min_run: float = 0.2) -> list[tuple[float, float]]:
    """Where a single-speaker clip has speech: 30 ms frames louder than halfway (in dB) between the clip's noise
    floor (5th percentile frame energy) and its loud level (95th percentile), pauses shorter than `min_pause`
    bridged, runs shorter than `min_run` dropped.

    An energy gate, not a neural VAD, so that the reference does not come from a model the diarizers also use;
    the clips are close-talk meeting audio, 30–40 dB above their noise floor, where such a gate is reliable.
    """
    frame = int(0.03 * SAMPLE_RATE)
    n = len(audio) // frame
    if n == 0:
        return []
    energy = 10 * np.log10(np.mean(audio[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
    floor, loud = np.percentile(energy, [5, 95])
    active = energy > 0.5 * (floor + loud)
    runs: list[list[float]] = []
    for i, on in enumerate(active):
        t = i * frame / SAMPLE_RATE
        if on and runs and t - runs[-1][1] < min_pause:
            runs[-1][1] = t + frame / SAMPLE_RATE
        elif on:
            runs.append([t, t + frame / SAMPLE_RATE])
    return [(s, e) for s, e in runs if e - s >= min_run]


LONG = 240.0  # seconds of speech from which a built dialog is a "long dialog"


@dataclass(frozen=True)
class DialogSpec:
    name: str
    split: str
    speakers: tuple[str, ...]
    seed: int
    length: float = 60.0  # seconds of speech, roughly
    channel: str = "close-talk"  # or "phone": the finished dialog goes through `telephone_band` (short calls)


DIALOGS = (
    # DEV: every choice is made on these (and AMI train + development)
    DialogSpec("dev 2 m+f", DEV, ("lewis", "mosqueda"), 1),
    DialogSpec("dev 2 f+f", DEV, ("gonzalez", "morales"), 2),
    DialogSpec("dev 2 m+m", DEV, ("pedersen", "strauss"), 3),
    DialogSpec("dev 3 m+m+m", DEV, ("lewis", "pedersen", "strauss"), 4),
    DialogSpec("dev 3 f+f+f", DEV, ("herbold", "sawant", "mosqueda"), 5),
    DialogSpec("dev 3 m+f+f", DEV, ("strauss", "juarez", "herbold"), 6),
    DialogSpec("dev 4 f+f+f+f", DEV, ("gonzalez", "herbold", "juarez", "morales"), 7, 80.0),
    DialogSpec("dev 4 m+m+f+f", DEV, ("lewis", "pedersen", "juarez", "sawant"), 8, 80.0),
    # short phone calls (about 25 s of speech, narrowband): the case of pyannote's sample.wav, with other voices
    DialogSpec("dev call m+f", DEV, ("pedersen", "morales"), 31, 25.0, "phone"),
    DialogSpec("dev call f+f", DEV, ("sawant", "herbold"), 32, 25.0, "phone"),
    DialogSpec("dev call m+m", DEV, ("lewis", "strauss"), 33, 25.0, "phone"),
    DialogSpec("dev call f+f b", DEV, ("gonzalez", "juarez"), 34, 25.0, "phone"),
    DialogSpec("dev call m+f b", DEV, ("lewis", "sawant"), 35, 25.0, "phone"),
    DialogSpec("dev call m+m b", DEV, ("pedersen", "lewis"), 36, 25.0, "phone"),
    # one voice: a blind count must not split a person (voice memos, lectures, a narrator)
    DialogSpec("dev solo m", DEV, ("strauss",), 51, 25.0),
    DialogSpec("dev solo f", DEV, ("herbold",), 52, 60.0),
    DialogSpec("dev solo m call", DEV, ("pedersen",), 53, 25.0, "phone"),
    DialogSpec("dev solo f call", DEV, ("mosqueda",), 54, 25.0, "phone"),
    DialogSpec("dev long 3 m+m+f", DEV, ("lewis", "strauss", "sawant"), 79, 300.0),
    DialogSpec("dev long 4 m+f+f+f", DEV, ("pedersen", "gonzalez", "morales", "mosqueda"), 80, 300.0),
    # added 2026-12-03, after TEST showed a phone-band monologue split in two by segmentation-3.0 regions: four DEV
    # monologues were too few to choose a speech detector on (docs/benchmarks.md, "Third pass")
    DialogSpec("dev solo m b", DEV, ("lewis",), 71, 60.0),
    DialogSpec("dev solo f b", DEV, ("juarez",), 72, 25.0),
    DialogSpec("dev solo f c", DEV, ("sawant",), 73, 60.0),
    DialogSpec("dev solo m c", DEV, ("pedersen",), 74, 25.0),
    DialogSpec("dev solo m call b", DEV, ("lewis",), 75, 25.0, "phone"),
    DialogSpec("dev solo f call b", DEV, ("gonzalez",), 76, 25.0, "phone"),
    DialogSpec("dev solo m call c", DEV, ("strauss",), 77, 60.0, "phone"),
    DialogSpec("dev solo f call c", DEV, ("morales",), 78, 25.0, "phone"),
    # TEST: only ever reported
    DialogSpec("test 2 m+f", TEST, ("strauss", "gonzalez"), 11),
    DialogSpec("test 2 f+f", TEST, ("herbold", "juarez"), 12),
    DialogSpec("test 2 m+m", TEST, ("lewis", "pedersen"), 13),
    DialogSpec("test 2 m+f b", TEST, ("pedersen", "sawant"), 14),
    DialogSpec("test 3 m+m+m", TEST, ("lewis", "pedersen", "strauss"), 15),
    DialogSpec("test 3 f+f+f", TEST, ("morales", "mosqueda", "sawant"), 16),
    DialogSpec("test 3 m+f+f", TEST, ("lewis", "gonzalez", "sawant"), 17),
    DialogSpec("test 4 f+f+f+f", TEST, ("gonzalez", "herbold", "juarez", "mosqueda"), 18, 80.0),
    DialogSpec("test 4 m+m+f+f", TEST, ("pedersen", "strauss", "morales", "sawant"), 19, 80.0),
    DialogSpec("test 4 m+m+m+f", TEST, ("lewis", "pedersen", "strauss", "herbold"), 20, 80.0),
    DialogSpec("test call m+f", TEST, ("strauss", "mosqueda"), 41, 25.0, "phone"),
    DialogSpec("test call f+f", TEST, ("gonzalez", "juarez"), 42, 25.0, "phone"),
    DialogSpec("test call m+m", TEST, ("pedersen", "lewis"), 43, 25.0, "phone"),
    # long: five minutes of a meeting (the dialogs above are 1–1.5 min); the speakers' phrases recur once a pool is
    # used up, as a person's voice does
    DialogSpec("test long 3 m+f+f", TEST, ("pedersen", "herbold", "mosqueda"), 81, 300.0),
    DialogSpec("test long 4 m+m+f+f", TEST, ("lewis", "strauss", "gonzalez", "juarez"), 82, 300.0),
    DialogSpec("test solo m", TEST, ("lewis",), 61, 25.0),
    DialogSpec("test solo f", TEST, ("sawant",), 62, 60.0),
    DialogSpec("test solo m call", TEST, ("strauss",), 63, 25.0, "phone"),
    DialogSpec("test solo f call", TEST, ("gonzalez",), 64, 25.0, "phone"),
)


@dataclass
class Phrase:
    audio: np.ndarray
    runs: list[tuple[float, float]]  # speech inside the phrase, seconds from its start
    meeting: str = ""  # the council meeting it was recorded in


def speaker_phrases(speaker: str, split: str, cache: Path = CACHE) -> list[Phrase]:
    """The speaker's clips of that split's meetings, cut at pauses ≥ 0.3 s into phrases, at a common speech level."""
    root = cache / "speakerbox-1.2.0/diarized"
    phrases = []
    for meeting, which in MEETING_SPLITS.items():
        if which != split:
            continue
        for clip in sorted((root / meeting / speaker).glob("*.wav"), key=lambda p: int(p.stem.split("-")[0])):
            audio = read_wav(clip)
            runs = speech_runs(audio)
            if not runs:
                continue
            level = np.sqrt(np.mean(np.concatenate([audio[int(s * SAMPLE_RATE) : int(e * SAMPLE_RATE)] for s, e in runs]) ** 2))
            audio = audio * (0.05 / max(level, 1e-6))  # −26 dBFS speech: loudness is no speaker cue
            for s, e in runs:
                a, b = int(s * SAMPLE_RATE), int(e * SAMPLE_RATE)
                phrases.append(Phrase(audio[a:b], [(0.0, (b - a) / SAMPLE_RATE)], meeting))
    return phrases


def build_dialog(spec: DialogSpec, cache: Path = CACHE) -> Recording:
    """Turns of phrases (about 1–6 s) by speakers in random order (never the same twice in a row), as in
    conversation: the next turn starts 0.4 s before (overlap, the two voices summed) to 0.8 s after the previous one
    ends, over a −60 dBFS noise floor. Each speaker's phrases are used in recorded order from a seeded offset.
    The reference is each phrase's speech run; pauses between the phrases of one turn are non-speech."""
    rng = np.random.default_rng(spec.seed)
    pools = {s: speaker_phrases(s, spec.split, cache) for s in spec.speakers}
    cursor = {s: int(rng.integers(len(p))) for s, p in pools.items()}
    placed: list[tuple[float, np.ndarray]] = []
    turns: list[Turn] = []
    t, previous, spoken = 0.5, None, 0.0
    order: list[str] = list(rng.permutation(spec.speakers))  # everyone speaks early
    while spoken < spec.length or order:
        others = [s for s in spec.speakers if s != previous] or list(spec.speakers)  # one voice: its next turn
        speaker = order.pop(0) if order else str(rng.choice(others))
        if previous is not None:
            gap = float(rng.uniform(-0.4, 0.8)) if speaker != previous else float(rng.uniform(0.3, 0.8))  # no self-overlap
            t = max(turns[-1].start + 0.5, t + gap)  # overlap never swallows a phrase
        target, took = float(rng.uniform(1.0, 6.0)), 0.0
        while took < target:
            pool = pools[speaker]
            phrase = pool[cursor[speaker] % len(pool)]
            cursor[speaker] += 1
            if took > 0:  # a pause inside the turn
                t += float(rng.uniform(0.3, 0.5))
            for s, e in phrase.runs:
                turns.append(Turn(round(t + s, 3), round(t + e, 3), speaker, phrase.meeting))
            placed.append((t, phrase.audio))
            length = len(phrase.audio) / SAMPLE_RATE
            t += length
            took += length
            spoken += length
        previous = speaker
    audio = (1e-3 * rng.standard_normal(int((t + 0.5) * SAMPLE_RATE))).astype(np.float32)
    for start, piece in placed:
        a = int(round(start * SAMPLE_RATE))
        audio[a : a + len(piece)] += piece
    if spec.channel == "phone":
        audio = telephone_band(audio)
    kind = ("monologue" if len(spec.speakers) == 1 else "phone call" if spec.channel == "phone"
            else "long dialog" if spec.length >= LONG else "council dialog")
    return Recording(spec.name, spec.split, kind, audio, sorted(turns, key=lambda x: x.start), (0.0, len(audio) / SAMPLE_RATE))


def telephone_band(audio: np.ndarray) -> np.ndarray:
    """What a phone line leaves of 16 kHz audio: 8 kHz sampling, 300–3400 Hz, 8-bit µ-law (G.711), back to 16 kHz."""
    from scipy.signal import butter, resample_poly, sosfiltfilt

    narrow = resample_poly(audio, 1, 2)
    narrow = sosfiltfilt(butter(4, (300, 3400), btype="bandpass", fs=SAMPLE_RATE // 2, output="sos"), narrow)
    mu = 255.0
    companded = np.sign(narrow) * np.log1p(mu * np.minimum(np.abs(narrow), 1.0)) / np.log1p(mu)
    quantised = np.round(companded * 127) / 127
    narrow = np.sign(quantised) * np.expm1(np.abs(quantised) * np.log1p(mu)) / mu
    return resample_poly(narrow, 2, 1).astype(np.float32)[: len(audio)]


def recordings(split: str, cache: Path = CACHE) -> list[Recording]:
    """Everything of one split: AMI excerpts, sample.wav (test), the council dialogs."""
    out = ami_excerpts(split, cache)
    if split == TEST:
        out.append(sample_call(cache))
    out += [build_dialog(spec, cache) for spec in DIALOGS if spec.split == split]
    return out


# ------------------------------------------------------------------------------------------------ scoring


@dataclass(frozen=True)
class Score:
    der: float
    missed: float
    false_alarm: float
    confusion: float
    found: int
    reference: int


COLLAR = 0.5  # pyannote.metrics collar: 0.5 s in total, ±0.25 s around each reference boundary


def score(recording: Recording, turns, collar: float = COLLAR) -> Score:
    """DER of hypothesis turns (anything with start/end/speaker) with pyannote.metrics; overlap scored."""
    os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")
    from pyannote.core import Annotation, Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    reference, hypothesis = Annotation(), Annotation()
    for i, t in enumerate(recording.turns):
        reference[Segment(t.start, t.end), i] = t.speaker
    for i, t in enumerate(turns):
        hypothesis[Segment(t.start, t.end), i] = t.speaker
    metric = DiarizationErrorRate(collar=collar, skip_overlap=False)
    parts = metric(reference, hypothesis, uem=Timeline([Segment(*recording.uem)]), detailed=True)
    total = max(parts["total"], 1e-9)
    return Score(
        parts["diarization error rate"],
        parts["missed detection"] / total,
        parts["false alarm"] / total,
        parts["confusion"] / total,
        len({t.speaker for t in turns}),
        len(recording.speakers),
    )


def one_voice_oracle(recording: Recording, step: float = 0.01) -> list[Turn]:
    """The reference as the best output that names one speaker per instant: where people talk at once, the one whose
    turn began first keeps the time. Its DER is the floor for any diarizer that never outputs overlap (ours)."""
    frames = int(np.ceil(max(t.end for t in recording.turns) / step))
    owner = np.full(frames, -1)
    ordered = sorted(recording.turns, key=lambda t: t.start)
    for i, t in reversed(list(enumerate(ordered))):  # earlier turns written last, so they win
        owner[int(round(t.start / step)):int(round(t.end / step))] = i
    turns, start = [], 0
    for k in range(1, frames + 1):
        if k == frames or owner[k] != owner[start]:
            if owner[start] >= 0:
                turns.append(Turn(start * step, k * step, ordered[owner[start]].speaker))
            start = k
    return turns


KINDS = ("council dialog", "phone call", "monologue", "long dialog", "AMI meeting")  # calibration tables: columns per kind
SUMMARY_HEADER = ("| dialogs: count right | dialogs: DER | calls: count right | calls: DER | solo: count right "
                  "| solo: DER | long: count right | long: DER | AMI: within ±1 | AMI: DER | told: dialogs DER "
                  "| told: calls DER | told: solo DER | told: long DER | told: AMI DER |")


def summary_cells(recordings_: list[Recording], blind: list[Score], told: list[Score]) -> str:
    """The SUMMARY_HEADER cells of one setting: blind counts (exact for dialogs and calls, ±1 for AMI) and mean DER
    per kind of recording, then the mean DER told the count; '-' where the split has no recording of a kind."""
    cells, told_cells = [], []
    for kind in KINDS:
        idx = [i for i, r in enumerate(recordings_) if r.kind == kind]
        if not idx:
            cells += ["-", "-"]
            told_cells.append("-")
            continue
        slack = 1 if kind == "AMI meeting" else 0
        right = sum(abs(blind[i].found - blind[i].reference) <= slack for i in idx)
        cells += [f"{right}/{len(idx)}", f"{np.mean([blind[i].der for i in idx]):.1%}"]
        told_cells.append(f"{np.mean([told[i].der for i in idx]):.1%}")
    return "| " + " | ".join(cells + told_cells) + " |"


def write_manifest(cache: Path = CACHE) -> None:
    """Record the sha256 of every file kept in the cache (run once when a source is added or pinned anew)."""
    lines = []
    for archive in ARCHIVES:
        for file in sorted((cache / archive.name).rglob("*")):
            if file.is_file():
                lines.append(f"{_sha256(file.read_bytes())}  {file.relative_to(cache).as_posix()}")
    MANIFEST.write_text("\n".join(lines) + "\n")


def meetings_per_speaker(recording: Recording) -> dict[str, dict[str, float]]:
    """A built dialog's speakers → seconds of their speech from each council meeting. A speaker heard from two
    meetings is two rooms and microphones in one recording, which no real recording has (a harder case)."""
    out: dict[str, dict[str, float]] = {}
    for t in recording.turns:
        seconds = out.setdefault(t.speaker, {})
        seconds[t.meeting] = seconds.get(t.meeting, 0.0) + t.end - t.start
    return out


def print_meeting_mix(cache: Path = CACHE) -> None:
    """`--meetings`: which built dialogs hear a speaker from more than one meeting, and how much of each."""
    mixed = 0
    for spec in DIALOGS:
        several = {s: m for s, m in meetings_per_speaker(build_dialog(spec, cache)).items() if len(m) > 1}
        mixed += bool(several)
        print(f"{spec.name:22} " + ("; ".join(f"{s} " + " + ".join(f"{v:.0f} s" for v in sorted(m.values(), reverse=True))
                                            for s, m in several.items()) or "each speaker from one meeting"))
    print(f"{mixed} of {len(DIALOGS)} built recordings hear a speaker from more than one meeting")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if "--meetings" in sys.argv:
        fetch(CACHE)
        print_meeting_mix(CACHE)
        return
    if "--write-manifest" in sys.argv:
        for archive in ARCHIVES:
            _extract(archive, _download(archive), CACHE)
        write_manifest(CACHE)
        print(f"wrote {MANIFEST}")
        return
    fetch(CACHE)
    print(f"real speech in {CACHE}: {len(manifest())} files, sha256 verified")


if __name__ == "__main__":
    main()
