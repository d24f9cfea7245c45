"""Enrolled voices through the real workflow: a clip under voices/ starts no job, the worker hands the pipeline the
uploading user's voices only (never another user's), and each clip is embedded once and cached beside the clips.

The embedding model is the one stand-in here (a clip's embedding is derived from its length): the model itself is
measured on real voices in tests/worker/test_voice_enrollment.py and benchmarks/bench_voices.py."""
from __future__ import annotations

import json

import numpy as np
import pytest

from gpu_worker.voice_library import VoiceLibrary
from scribefleet.voices import CACHE_FOLDER, cache_key, clip_key
from tests.support.media import wav_bytes
from tests.workflow.conftest import FakePipeline


class LengthEmbedder:
    """Clips of different lengths get different unit embeddings; counts the clips it embeds."""

    model_id = "length-v1"

    def __init__(self):
        self.embedded: list[float] = []

    def embed_clip(self, audio: np.ndarray) -> tuple[np.ndarray, float]:
        seconds = round(len(audio) / 16000, 1)
        self.embedded.append(seconds)
        vector = np.zeros(192, dtype=np.float32)
        vector[0], vector[1] = 1.0, seconds
        return vector / np.linalg.norm(vector), seconds


class VoicesSeen(FakePipeline):
    def __init__(self):
        super().__init__()
        self.voices: list[list[str]] = []

    def run(self, audio_path, options, progress, voices=()):
        self.voices.append(sorted(v.name for v in voices))
        return super().run(audio_path, options, progress)


def executions(stack) -> list[dict]:
    return stack.sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"]


@pytest.mark.security
def test_a_job_gets_its_own_users_voices_embedded_once_and_clips_start_no_job(stack, upload, start_worker):
    embedder, pipeline = LengthEmbedder(), VoicesSeen()
    start_worker(pipeline, voices=VoiceLibrary(stack.s3, embedder=embedder))
    ann = stack.s3.put_object(Bucket=stack.input_bucket, Key=clip_key("u1", "Ann", "ann.wav"), Body=wav_bytes(2.0))
    stack.s3.put_object(Bucket=stack.input_bucket, Key=clip_key("u2", "Bob", "bob.wav"), Body=wav_bytes(3.0))
    assert executions(stack) == []  # the upload rule matches uploads/ only

    for transcript in ("n1", "n2"):
        started = upload(f"uploads/u1/{transcript}/a.wav", wav_bytes(1.0))
        assert stack.wait(started[0]["executionArn"])["status"] == "SUCCEEDED"

    assert pipeline.voices == [["Ann"], ["Ann"]]  # u2's Bob is never offered to u1's jobs
    assert embedder.embedded == [2.0]  # the second job read the cached embedding
    cached = json.loads(stack.s3.get_object(Bucket=stack.input_bucket,
                                            Key=cache_key("u1", clip_key("u1", "Ann", "ann.wav"), ann["ETag"]))["Body"].read())
    assert cached["model"] == "length-v1" and cached["speechSeconds"] == 2.0
    others = stack.s3.list_objects_v2(Bucket=stack.input_bucket, Prefix=f"voices/u2/{CACHE_FOLDER}/")
    assert others.get("KeyCount", 0) == 0  # nothing of another user's was read or written
    assert len(executions(stack)) == 2
