"""The load and regression tools against the emulated stack with in-process workers."""
from __future__ import annotations

from scribefleet.contract import JobStatus
from scribefleet_tools.loadtest import regression, run_load
from scribefleet_tools.workloads import Upload


def test_load_run_uploads_every_file_and_reports_makespan_and_latencies(stack, start_worker):
    start_worker(worker_id="i-a")
    start_worker(worker_id="i-b")
    uploads = [Upload(f"f{i}", seconds, at) for i, (seconds, at) in enumerate([(200, 0), (100, 0), (300, 50), (100, 100)])]
    report = run_load(stack.s3, stack.table, stack.input_bucket, uploads, scale=0.01, timeout=60, poll=0.2)

    assert [j.status for j in report.jobs] == [JobStatus.COMPLETED] * 4
    assert [round(j.audio_seconds, 2) for j in report.jobs] == [2.0, 1.0, 3.0, 1.0]
    assert report.jobs[3].uploaded_at - report.started_at >= 1.0  # arrival times are scaled, not ignored
    assert 0 < report.percentile(0.5) <= report.percentile(0.95) <= report.makespan
    head = stack.s3.head_object(Bucket=stack.input_bucket, Key=f"uploads/loadtest/{report.jobs[2].process_id.split('-', 1)[1]}/f2.wav")
    assert head["ContentLength"] == 44 + 2 * 3 * 16000  # exact duration: 3 s of 16 kHz 16-bit mono
    assert any("makespan" in line for line in report.lines())


def test_regression_fails_when_no_worker_completes_the_file_in_time(stack):
    ok, report = regression(stack.s3, stack.table, stack.input_bucket, budget=3, audio_seconds=1)
    assert not ok and report.jobs[0].status != JobStatus.COMPLETED


def test_regression_passes_with_a_worker(stack, start_worker):
    start_worker()
    ok, report = regression(stack.s3, stack.table, stack.input_bucket, budget=60, audio_seconds=1)
    assert ok and report.jobs[0].latency < 60
