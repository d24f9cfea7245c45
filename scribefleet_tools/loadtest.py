"""Load and regression tests against a running stack (local or deployed): real uploads, real completion times.

`run_load` uploads a workload (by default the seed's 37 files, 30 s–30 min, 10 h) with exact durations — espeak
speech tiled to length where espeak-ng is installed, a tone otherwise — waits for every job to end, and reports
makespan and per-job latency. `scale` shrinks every duration (and arrival time) for small machines: the local
stack runs on CPU at a fraction of a GPU's speed.
"""
from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from gpu_worker.media import SAMPLE_RATE
from scribefleet.contract import JobStatus, process_id
from scribefleet.timestamps import parse_timestamp
from scribefleet_tools.samples import encode_wav
from scribefleet_tools.workloads import Upload

REGRESSION_BUDGET_SECONDS = 300  # the seed's post-deploy check: one file COMPLETED within 5 minutes


def speech_audio(seconds: float) -> np.ndarray:
    """`seconds` of speech (espeak sentences, tiled) or of a 220 Hz tone when espeak-ng is not installed."""
    from scribefleet_tools import samples

    length = max(1, int(round(seconds * SAMPLE_RATE)))
    if samples.have_espeak():
        pause = np.zeros(SAMPLE_RATE // 3, dtype=np.float32)
        base = np.concatenate([piece for s in samples.SENTENCES[:4] for piece in (samples.synthesize(s, samples.DISTINCT_VOICES[0]), pause)])
    else:
        base = (0.2 * np.sin(2 * np.pi * 220 * np.arange(SAMPLE_RATE) / SAMPLE_RATE)).astype(np.float32)
    return np.resize(base, length)


@dataclass
class JobOutcome:
    process_id: str
    audio_seconds: float
    uploaded_at: float  # epoch seconds
    status: str = JobStatus.QUEUED
    finished_at: float | None = None
    attempts: int = 0
    error: dict | None = None

    @property
    def latency(self) -> float | None:
        return None if self.finished_at is None else self.finished_at - self.uploaded_at


@dataclass
class LoadReport:
    jobs: list[JobOutcome] = field(default_factory=list)
    started_at: float = 0.0

    @property
    def done(self) -> list[JobOutcome]:
        return [j for j in self.jobs if j.status in (JobStatus.COMPLETED, JobStatus.FAILED)]

    @property
    def makespan(self) -> float | None:
        ends = [j.finished_at for j in self.jobs]
        return None if not ends or None in ends else max(ends) - self.started_at

    def percentile(self, q: float) -> float | None:
        latencies = sorted(j.latency for j in self.jobs if j.latency is not None)
        return latencies[min(len(latencies) - 1, math.ceil(q * len(latencies)) - 1)] if latencies else None

    def lines(self) -> list[str]:
        audio = sum(j.audio_seconds for j in self.jobs)
        completed = sum(j.status == JobStatus.COMPLETED for j in self.jobs)
        out = [f"jobs {len(self.jobs)}, completed {completed}, failed {sum(j.status == JobStatus.FAILED for j in self.jobs)}, "
               f"audio {audio / 60:.1f} min"]
        if self.makespan is not None:
            out.append(f"makespan {self.makespan:.1f} s ({audio / self.makespan:.1f}x real time), "
                       f"latency p50 {self.percentile(0.5):.1f} s, p95 {self.percentile(0.95):.1f} s, "
                       f"attempts max {max(j.attempts for j in self.jobs)}")
        out += [f"  {j.process_id}: {j.status} in {j.latency:.1f} s" + (f" ({j.error['code']}: {j.error['message']})" if j.error else "")
                for j in sorted(self.jobs, key=lambda j: j.latency or 0) if j.latency is not None]
        return out


def _epoch(iso: str | None) -> float | None:
    moment = parse_timestamp(iso)
    return moment.timestamp() if moment else None


def run_load(
    s3, table, input_bucket: str, uploads: list[Upload], scale: float = 1.0, user: str = "loadtest",
    timeout: float = 3600.0, poll: float = 2.0, on_progress: Callable[[LoadReport], None] | None = None,
) -> LoadReport:
    """Upload every file at its (scaled) arrival time, then wait until each job is COMPLETED or FAILED."""
    run = uuid.uuid4().hex[:8]
    report = LoadReport(started_at=time.time())
    pending = sorted(enumerate(uploads), key=lambda item: item[1].at)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        elapsed = time.time() - report.started_at
        while pending and pending[0][1].at * scale <= elapsed:
            index, upload = pending.pop(0)
            seconds = upload.audio_seconds * scale
            transcript = f"{run}-{index:03d}"
            s3.put_object(Bucket=input_bucket, Key=f"uploads/{user}/{transcript}/{upload.name}.wav",
                          Body=encode_wav(speech_audio(seconds)), Metadata={"language": "en", "formats": "json,srt"})
            report.jobs.append(JobOutcome(process_id(user, transcript), seconds, time.time()))
        for job in report.jobs:
            if job.status in (JobStatus.COMPLETED, JobStatus.FAILED):
                continue
            item = table.get_item(Key={"processId": job.process_id}, ConsistentRead=True).get("Item") or {}
            job.status = item.get("status", job.status)
            job.attempts = int(item.get("attempts", 0) or 0)
            if job.status in (JobStatus.COMPLETED, JobStatus.FAILED):
                job.finished_at = _epoch(item.get("finishedAt")) or time.time()
                job.error = item.get("error")
        if on_progress:
            on_progress(report)
        if not pending and len(report.done) == len(report.jobs):
            break
        time.sleep(poll)
    return report


def regression(s3, table, input_bucket: str, budget: float = REGRESSION_BUDGET_SECONDS, audio_seconds: float = 30.0) -> tuple[bool, LoadReport]:
    """One file must be COMPLETED within `budget` seconds of its upload (the seed's post-deploy check)."""
    report = run_load(s3, table, input_bucket, [Upload("regression", audio_seconds)], user="regression", timeout=budget)
    job = report.jobs[0]
    return job.status == JobStatus.COMPLETED and (job.latency or math.inf) <= budget, report
