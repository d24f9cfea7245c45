"""A long file split across workers, on the real ASL (moto): PlanSplit at the claim, the chunks' Map, a chunk's retry,
the merge, and the work items closed on every path.

The stack splits small files here (SplitMinChunkSeconds 10, ScalerRealTimeFactor 1: a 30 s file is 30 s of work,
worth three chunks on an idle fleet); the workers' pipeline is a stand-in whose chunks answer known words and
speaker embeddings, so what is tested is the workflow and the agent, with the real merge (gpu_worker.chunking).
"""
from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from gpu_worker.chunking import ChunkResult, merge_chunks
from gpu_worker.result import Segment, SpeakerTurn, TranscriptResult, Word
from gpu_worker.speaker_linking import LocalSpeaker
from scribefleet.contract import ErrorCode, ScribefleetError, Stage, chunk_result_key, work_item_id
from tests.support.aws import build_stack
from tests.support.media import wav_bytes
from tests.support.waiting import wait_until
from tests.workflow.conftest import FakePipeline

SECONDS = 30.0
VOICES = {name: np.eye(8, dtype=np.float32)[i] for i, name in enumerate("AB")}


class ChunkingPipeline(FakePipeline):
    """Chunk i of n spans [i, i+1) x 30/n s; its two local speakers are voices A and B, numbered in opposite order in
    odd chunks, so only linking by embedding gives one label per voice. `hold`: chunk indexes whose work waits on
    `gate` (a worker that never finishes them, as a dead machine)."""

    def __init__(self, hold: set[int] = frozenset(), gate: threading.Event | None = None, error: Exception | None = None,
                 together: threading.Barrier | None = None):
        super().__init__()
        self.hold, self.chunk_gate, self.chunk_error, self.together = hold, gate, error, together
        self.chunks_run: list[int] = []
        self.merged: list[int] = []

    def run_chunk(self, audio_path, options, index, count, progress):
        self.chunks_run.append(index)
        progress(Stage.DIARIZING, 0.5)
        if index in self.hold and self.chunk_gate is not None:
            self.chunk_gate.wait()
        if self.chunk_error is not None:
            raise self.chunk_error
        if self.together is not None:  # every chunk waits until all are running: proof that they run at once
            self.together.wait(timeout=30)
        start, end = SECONDS * index / count, SECONDS * (index + 1) / count
        first, second = ("SPEAKER_00", "SPEAKER_01") if index % 2 == 0 else ("SPEAKER_01", "SPEAKER_00")
        words = [Word(start + 1, start + 2, f" a{index}", 0.9, first), Word(end - 2, end - 1, f" b{index}", 0.9, second)]
        turns = [SpeakerTurn(w.start, w.end, w.speaker) for w in words]
        speakers = [LocalSpeaker(index, first, VOICES["A"], 5.0), LocalSpeaker(index, second, VOICES["B"], 5.0)]
        return ChunkResult(index, start, end, words, turns, speakers, "en", {"diarize": 0.1})

    def merge(self, chunks, options, voices=()):
        self.merged.append(len(chunks))
        merged = merge_chunks(chunks)
        segments = [Segment(w.start, w.end, w.text.strip(), w.speaker, [w]) for w in merged.words]
        return TranscriptResult(language=merged.language, duration=max(c.end for c in chunks), segments=segments,
                                speakers=sorted(merged.speakers), model="fake", diarizer="fake")


@pytest.fixture
def stack(aws):
    return build_stack(limits={"MAX_FILE_BYTES": str(2 * 1024 * 1024)},
                       parameters={"SplitMinChunkSeconds": "10", "ScalerRealTimeFactor": "1"})


def work_items(stack, pid: str, chunks: int) -> dict[str, dict]:
    ids = [work_item_id(pid, "chunk", i) for i in range(chunks)] + [work_item_id(pid, "merge")]
    return {i: stack.job(i) for i in ids}


def test_a_long_file_is_split_across_idle_workers_and_merged(stack, upload, start_worker):
    together = threading.Barrier(3)  # a worker runs one chunk at a time: three chunks at once need three workers
    pipelines = [ChunkingPipeline(together=together) for _ in range(3)]
    workers = [start_worker(p) for p in pipelines]
    started = upload("uploads/u1/long/interview.wav", wav_bytes(SECONDS, rate=16000))
    execution = stack.wait(started[0]["executionArn"], timeout=90)
    assert execution["status"] == "SUCCEEDED", execution

    job = stack.job("u1-long")
    assert job["status"] == "COMPLETED" and job["splitChunks"] == 3 and "activeStatus" not in job
    items = work_items(stack, "u1-long", 3)
    assert all(i["status"] == "COMPLETED" and "activeStatus" not in i and i["parentId"] == "u1-long" for i in items.values())
    assert all("userId" not in i for i in items.values())  # internal items stay out of the user's list
    assert sorted(c for p in pipelines for c in p.chunks_run) == [0, 1, 2] and sum(len(p.merged) for p in pipelines) == 1
    assert len({items[work_item_id("u1-long", "chunk", i)]["workerId"] for i in range(3)}) == 3  # at once, three workers
    # the file was claimed whole first, then released: its worker took a chunk instead
    assert sum(w.agent.completed for w in workers) == 4

    keys = {o["Key"] for o in stack.s3.list_objects_v2(Bucket=stack.output_bucket)["Contents"]}
    assert {chunk_result_key("u1", "long", i) for i in range(3)} <= keys
    result = json.loads(stack.s3.get_object(Bucket=stack.output_bucket, Key="transcripts/u1/long/result.json")["Body"].read())
    words = [(w["text"].strip(), w["speaker"]) for s in result["segments"] for w in s["words"]]
    assert [t for t, _ in words] == ["a0", "b0", "a1", "b1", "a2", "b2"]
    voice_a = {s for t, s in words if t.startswith("a")}
    voice_b = {s for t, s in words if t.startswith("b")}
    assert len(voice_a) == 1 and len(voice_b) == 1 and voice_a != voice_b  # one label per voice across the chunks
    assert set(json.loads(execution["output"])["outputs"]) >= {"srt", "result"}


@pytest.mark.fault
def test_a_dead_chunk_worker_retries_that_chunk_only(stack, upload, start_worker):
    """The first worker, alone, claims the file (released by the split) and then one of its chunks, on which it stops
    dead; workers started after that take the other chunks and, once its heartbeat has lapsed, that one."""
    frozen = threading.Event()  # never set while the job runs
    stuck = ChunkingPipeline(hold={0, 1, 2}, gate=frozen)
    dead = start_worker(stuck, worker_id="i-dead", heartbeat_interval=3600)
    started = upload("uploads/u1/long2/a.wav", wav_bytes(SECONDS))
    held = wait_until(lambda: stuck.chunks_run[:1], timeout=30, what="the dying worker holding a chunk")[0]
    dead.agent.stopping.set()  # it takes nothing more; its one heartbeat is its last
    others = [start_worker(ChunkingPipeline(), worker_id=f"i-live{i}") for i in range(2)]
    execution = stack.wait(started[0]["executionArn"], timeout=120)
    assert execution["status"] == "SUCCEEDED", execution
    items = work_items(stack, "u1-long2", 3)
    attempts = {key: int(item["attempts"]) for key, item in items.items()}
    retried = work_item_id("u1-long2", "chunk", held)
    assert attempts[retried] == 2 and all(n == 1 for key, n in attempts.items() if key != retried), attempts
    assert items[retried]["workerId"] != "i-dead" and stack.job("u1-long2")["status"] == "COMPLETED"
    frozen.set()
    dead.stop()
    assert sum(w.agent.completed for w in others) == 4  # the two other chunks, the retried one, the merge


@pytest.mark.bad_input
def test_a_chunk_that_cannot_be_read_fails_the_job_and_closes_every_work_item(stack, upload, start_worker):
    bad = ScribefleetError(ErrorCode.BAD_INPUT, "the audio stream cannot be decoded at 00:10")
    for _ in range(3):
        start_worker(ChunkingPipeline(error=bad))
    started = upload("uploads/u1/long3/a.wav", wav_bytes(SECONDS))
    execution = stack.wait(started[0]["executionArn"], timeout=90)
    assert execution["status"] == "FAILED"
    job = stack.job("u1-long3")
    assert job["status"] == "FAILED" and job["error"]["code"] == "BadInput" and "00:10" in job["error"]["message"]
    # closed before the execution ended (CloseOpenWorkItems follows MarkFailed)
    open_items = {k: i.get("status") for k, i in work_items(stack, "u1-long3", 3).items() if "activeStatus" in i}
    assert open_items == {}, "work items left in the status index: the scaler would start machines for them"
