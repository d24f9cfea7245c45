"""Voice enrollment with the real CAM++ model on real recorded voices (TEST voices of benchmarks/bench_voices.py).

The threshold was calibrated on DEV voices only; these voices never took part. Clips come from other recordings of
the same people than the dialog (bench_voices.enrollment_clip / dialog). The speaker turns are the dialog's
reference turns, so these tests check enrollment and matching, not the clustering (tests/worker/test_diarization.py
and test_real_speech.py do that); the goals over diarized dialogs are measured by benchmarks/bench_voices.py.
"""
from __future__ import annotations

import boto3
import numpy as np
import pytest
from moto import mock_aws

from benchmarks import bench_voices, real_speech
from gpu_worker.config import WorkerConfig
from gpu_worker.pipeline import Pipeline
from gpu_worker.result import SpeakerTurn, Word
from gpu_worker.voice_library import ClipEmbedder, VoiceLibrary
from scribefleet.voices import cache_key

pytestmark = pytest.mark.models

BUCKET = "input-bucket"
ENROLLED, ABSENT = ("pedersen", "herbold"), "sawant"
assert set(ENROLLED + (ABSENT,)) <= set(bench_voices.TEST_VOICES)


class CountingEmbedder(ClipEmbedder):
    def __init__(self):
        super().__init__()
        self.clips = 0

    def embed_clip(self, audio):
        self.clips += 1
        return super().embed_clip(audio)


@pytest.fixture(scope="module")
def embedder() -> CountingEmbedder:
    real_speech.fetch()
    return CountingEmbedder()


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, bytes]:
    """Pedersen as a studio wav, Herbold as a phone-quality mp3 (8 kHz, 16 kb/s), Sawant as a wav (of another user)."""
    scratch = tmp_path_factory.mktemp("clips")
    out = {}
    for speaker in (*ENROLLED, ABSENT):
        wav = bench_voices.write_wav(scratch / f"{speaker}.wav", bench_voices.enrollment_clip(speaker, seconds=20.0))
        path = bench_voices.phone_quality(wav, scratch / f"{speaker}.mp3") if speaker == "herbold" else wav
        out[speaker] = path.read_bytes()
    return out


@pytest.fixture
def s3(clips):
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_object(Bucket=BUCKET, Key="voices/u1/Pedersen.wav", Body=clips["pedersen"])
        client.put_object(Bucket=BUCKET, Key="voices/u1/Herbold.mp3", Body=clips["herbold"])
        client.put_object(Bucket=BUCKET, Key="voices/u2/Sawant.wav", Body=clips[ABSENT])  # another user's voice
        yield client


def test_each_clip_is_embedded_once_and_again_only_when_it_changes(s3, embedder, clips):
    library = VoiceLibrary(s3, embedder=embedder)
    before = embedder.clips
    voices = library.load(BUCKET, "u1")
    assert sorted(v.name for v in voices) == ["Herbold", "Pedersen"]  # never u2's Sawant
    assert embedder.clips - before == 2
    etag = s3.head_object(Bucket=BUCKET, Key="voices/u1/Pedersen.wav")["ETag"]
    assert s3.head_object(Bucket=BUCKET, Key=cache_key("u1", "voices/u1/Pedersen.wav", etag))["ContentLength"] > 0

    again = library.load(BUCKET, "u1")
    assert embedder.clips - before == 2  # both from the cache
    for a, b in zip(sorted(voices, key=lambda v: v.name), sorted(again, key=lambda v: v.name)):
        assert np.allclose(a.embedding, b.embedding, atol=1e-5)  # the cache keeps 6 decimals

    s3.put_object(Bucket=BUCKET, Key="voices/u1/Pedersen.wav", Body=clips[ABSENT])  # the clip is replaced
    library.load(BUCKET, "u1")
    assert embedder.clips - before == 3


class ReferenceDiarizer:
    """The dialog's own turns, under anonymous labels in an order unrelated to the speakers."""

    name = "reference"

    def __init__(self, turns):
        self.turns = turns

    def diarize(self, audio, **_):
        return self.turns


class OneWordPerTurn:
    """Stands in for whisper: one word in the middle of every reference turn, spelling the true speaker."""

    name, device = "one-word-per-turn", "cpu"

    def __init__(self, reference):
        self.reference = reference

    def check_language(self, language):
        return language

    def check_task(self, task):
        return task or "transcribe"

    def transcribe(self, audio, **_):
        words = [Word(round((t.start + t.end) / 2 - 0.05, 3), round((t.start + t.end) / 2 + 0.05, 3), f" {t.speaker}")
                 for t in self.reference]
        return sorted(words, key=lambda w: w.start), "en"


@pytest.fixture(scope="module")
def dialog():
    return bench_voices.dialog((*ENROLLED, ABSENT), seed=0)


def run_pipeline(s3, embedder, dialog, tmp_path, options=None):
    labels = {s: f"cluster_{i}" for i, s in enumerate(reversed(dialog.speakers))}
    turns = [SpeakerTurn(t.start, t.end, labels[t.speaker]) for t in dialog.turns]
    pipeline = Pipeline(WorkerConfig(model_dir="unused"), transcriber=OneWordPerTurn(dialog.turns), diarizer=ReferenceDiarizer(turns))
    pipeline.voice_embedder = embedder
    audio = bench_voices.write_wav(tmp_path / "dialog.wav", dialog.audio)
    result = pipeline.run(audio, options or {}, voices=VoiceLibrary(s3, embedder=embedder).load(BUCKET, "u1"))
    truth = {}  # final label → the speaker its words spell
    for segment in result.segments:
        for word in segment.words:
            truth.setdefault(word.speaker, set()).add(word.text.strip())
    return result, {label: next(iter(spoken)) for label, spoken in truth.items() if len(spoken) == 1}


@pytest.mark.xfail(strict=True, reason="phone-quality enrollment is not recognised in the studio recording: Herbold "
                   "from an 8 kHz 16 kb/s mp3 stays unnamed at MATCH_THRESHOLD 0.70 (bench_voices TEST: phone-enrolled "
                   "recall 0.70, 14/30 trials passed; docs/benchmarks.md). Scoring her against the speech heard through the "
                   "same 8 kHz band recognises every phone-enrolled voice but gives 18 false names in 10 none-present "
                   "trials (bench_voices --band matched, 2026-12-04)")
def test_enrolled_voices_name_their_speakers_and_the_third_stays_unnamed(s3, embedder, dialog, tmp_path):
    result, truth = run_pipeline(s3, embedder, dialog, tmp_path)
    named = {truth[label]: name for label, name in result.speaker_names.items()}
    # Herbold was enrolled from a phone-quality mp3 and is recognised in the studio recording
    assert named == {"pedersen": "Pedersen", "herbold": "Herbold"}
    assert len(result.speakers) == 3


def test_speaker_names_given_with_the_upload_win(s3, embedder, dialog, tmp_path):
    result, truth = run_pipeline(s3, embedder, dialog, tmp_path, {"speaker_names": ["Host"]})
    first = result.speakers[0]
    assert result.speaker_names[first] == "Host"
    others = {truth[label]: name for label, name in result.speaker_names.items() if label != first}
    right = {"pedersen": "Pedersen", "herbold": "Herbold"}
    assert all(right.get(speaker) == name for speaker, name in others.items())  # no wrong name, none given twice
    if truth[first] != "pedersen":
        assert others.get("pedersen") == "Pedersen"  # the studio-enrolled voice still names its speaker
