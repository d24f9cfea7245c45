"""The job record says when its duration is only estimated (no header states it), so a reader of the job knows the
limits were budgeted with a margin rather than from a measured length."""
from __future__ import annotations

import subprocess

import pytest

from tests.support.media import wav_bytes


def live_webm(tmp_path) -> bytes:
    """What a browser's MediaRecorder leaves: WebM with no Duration in its Segment Info."""
    out = tmp_path / "live.webm"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=300:duration=2",
                    "-c:a", "libopus", "-f", "webm", "-live", "1", str(out)], check=True)
    return out.read_bytes()


@pytest.mark.parametrize(("name", "estimated"), [("take.wav", False), ("take.webm", True)])
def test_job_item_records_whether_the_duration_is_estimated(stack, upload, start_worker, tmp_path, name, estimated):
    start_worker()
    body = wav_bytes(2.0) if name.endswith(".wav") else live_webm(tmp_path)
    started = upload(f"uploads/u1/est-{estimated}/{name}", body, {"formats": "txt"})
    assert stack.wait(started[0]["executionArn"])["status"] == "SUCCEEDED"
    job = stack.job(f"u1-est-{estimated}")
    assert job["durationEstimated"] is estimated
    assert float(job["audioSeconds"]) == pytest.approx(2.0, abs=0.1)
