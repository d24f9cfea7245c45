"""The whole service on one machine: S3 upload → EventBridge → Step Functions → local fleet → real worker processes.

The tests share one local stack (a session fixture) and run in file order; each leaves the fleet working or idle,
never broken, and the last one waits for the fleet to retire to zero.
"""
from __future__ import annotations

import json
import os
import signal
import time

import pytest
import srt
import webvtt

from tests.support.event_inbox import EventInbox, schema_errors
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.models]
WORKING_STAGES = ("downloading", "decoding", "diarizing", "transcribing")


def submit(local, clip, transcript_id: str, *extra: str) -> str:
    result = local.cli("submit", str(clip), "--user", "e2e", "--transcript-id", transcript_id, *extra)
    assert result.returncode == 0, result.stderr
    return result.stdout.split("\t")[0]


def assert_valid_transcripts(files: dict[str, bytes], stem: str) -> dict:
    cues = list(srt.parse(files[f"{stem}.srt"].decode()))
    assert cues and all(c.end > c.start for c in cues) and any(c.content.strip() for c in cues)
    captions = webvtt.from_string(files[f"{stem}.vtt"].decode())
    assert len(captions) > 0 and captions[0].text.strip()
    document = json.loads(files[f"{stem}.json"])
    assert document and json.loads(files["result.json"])["segments"]
    return document


def test_two_uploads_both_complete_with_valid_srt_vtt_json(local, clips):
    pids = [submit(local, clips["short-1"], "two-a", "--formats", "srt,vtt,json", "--speakers", "2"),
            submit(local, clips["short-2"], "two-b", "--formats", "srt,vtt,json")]
    wait_until(lambda: all(local.job(p).get("status") in ("COMPLETED", "FAILED") for p in pids), timeout=150, what="both jobs done")

    for pid, stem in zip(pids, ("short-1", "short-2")):
        job = local.job(pid)
        assert job["status"] == "COMPLETED", job.get("error")
        files = local.outputs_of(pid)
        assert set(files) == {f"{stem}.srt", f"{stem}.vtt", f"{stem}.json", "result.json"}
        assert_valid_transcripts(files, stem)
    text = b" ".join(local.outputs_of(pids[0]).values()).decode(errors="replace").lower()
    assert sum(word in text for word in ("quick", "lazy", "studio", "tomorrow", "morning")) >= 3  # words of the dialog


@pytest.mark.bad_input
def test_bad_file_fails_with_its_reason_visible_in_status(local, clips):
    pid = submit(local, clips["bad"], "bad")
    wait_until(lambda: local.job(pid).get("status") == "FAILED", timeout=30, what="bad upload FAILED")
    status = local.cli("status", "--user", "e2e")  # a finished job is listed with its user's jobs (ByUser index)
    assert status.returncode == 0, status.stderr
    assert "UnsupportedMedia" in status.stdout and "notes.wav" in status.stdout, status.stdout
    assert "e2e-bad" in local.cli("jobs", "--user", "e2e").stdout



@pytest.mark.bad_input
def test_an_ended_job_reaches_a_users_eventbridge_rule(local, clips):
    """The job state change event on the local stack's default bus, received as a user would: rule -> SQS queue."""
    inbox = EventInbox(sqs=local.target.client("sqs"), events=local.target.client("events"))
    pid = submit(local, clips["bad"], "announced")
    event = inbox.wait_for(pid, timeout=30)
    assert event["detail-type"] == "Transcription Job State Change" and schema_errors(event["detail"]) == []
    assert event["detail"]["status"] == "FAILED" and event["detail"]["error"] == local.job(pid)["error"]


@pytest.mark.fault
def test_worker_killed_mid_job_is_replaced_and_the_job_completes_without_partial_outputs(local, clips):
    pid = submit(local, clips["long"], "killed", "--formats", "srt,vtt,json")
    # The bound covers a worker process starting and loading its models on a loaded machine (a CI run with another
    # suite beside it passed 90 s); the wait ends as soon as the job is being worked on.
    job = wait_until(lambda: (j := local.job(pid)).get("stage") in WORKING_STAGES and j.get("workerId") and j, timeout=240,
                     interval=0.1, what="job in progress")
    victim = job["workerId"]
    pid_of_victim = local.fleet()["workers"][victim]["pid"]
    os.kill(pid_of_victim, signal.SIGKILL)
    assert local.outputs_of(pid) == {}  # killed before uploading: nothing under the prefix

    wait_until(lambda: local.job(pid).get("status") in ("COMPLETED", "FAILED"), timeout=300, what="retried job done")
    job = local.job(pid)
    assert job["status"] == "COMPLETED", job.get("error")
    assert job["attempts"] >= 2 and job["workerId"] != victim
    files = local.outputs_of(pid)
    assert set(files) == {"long.srt", "long.vtt", "long.json", "result.json"}
    assert_valid_transcripts(files, "long")
    assert any(h["instance"] == victim and h.get("exitCode") == -signal.SIGKILL for h in local.fleet()["history"])
    logs = local.cli("logs", pid)
    assert "WorkerLost" in logs.stdout or "States.HeartbeatTimeout" in logs.stdout


def test_a_long_upload_is_split_across_the_fleet_and_each_voice_keeps_one_label(local, split_dialog):
    """Real workers, real models: PlanSplit splits the 4-minute dialog at the claim (SplitMinChunkSeconds 80), its
    chunks are claimed and transcribed, the merge links the chunks' speakers; status shows the one job's progress."""
    dialog, path = split_dialog
    pid = submit(local, path, "split", "--formats", "srt,json")
    wait_until(lambda: local.job(pid).get("splitChunks") or local.job(pid).get("status") in ("COMPLETED", "FAILED"),
               timeout=120, what="the upload claimed and split")
    assert local.job(pid).get("splitChunks") == 3, local.job(pid)
    row = wait_until(lambda: next((line for line in local.cli("status").stdout.splitlines() if pid in line
                                   and ("split:" in line or "merging" in line)), None), timeout=120, interval=0.5,
                     what="the split job in status")
    print(f"\nstatus while split: {row}")
    wait_until(lambda: local.job(pid).get("status") in ("COMPLETED", "FAILED"), timeout=300, interval=0.5, what="split job done")
    job = local.job(pid)
    assert job["status"] == "COMPLETED", job.get("error")
    parts = [local.job(f"{pid}.chunk{i}") for i in range(3)] + [local.job(f"{pid}.merge")]
    assert all(p["status"] == "COMPLETED" and "activeStatus" not in p for p in parts)
    print(f"chunks and merge on workers {[p['workerId'] for p in parts]}")

    result = json.loads(local.outputs_of(pid)["result.json"])
    words = [w for s in result["segments"] for w in s["words"]]
    assert len(words) >= 0.8 * len(dialog.text.split())
    labels_of: dict[str, list[str]] = {}
    for turn in dialog.turns:
        inside = [w["speaker"] for w in words if turn.start <= (w["start"] + w["end"]) / 2 <= turn.end]
        if inside:
            labels_of.setdefault(turn.speaker, []).extend(inside)
    majority = {speaker: max(set(labels), key=labels.count) for speaker, labels in labels_of.items()}
    agree = sum(label == majority[s] for s, labels in labels_of.items() for label in labels) / sum(map(len, labels_of.values()))
    print(f"voices -> labels {majority}, {agree:.1%} of words agree across the 3 chunks")
    assert len(set(majority.values())) == 3 and agree >= 0.9


def test_queued_uploads_scale_the_fleet_out_and_idle_workers_retire_to_zero(local, clips):
    wait_until(lambda: not local.fleet()["workers"] and local.group()["DesiredCapacity"] == 0, timeout=60, what="idle fleet at 0")
    started = len(local.fleet()["history"])
    peak = [0]

    def sample() -> None:  # every poll of every wait, so a capacity that rose and fell between two waits is seen
        peak[0] = max(peak[0], local.group()["DesiredCapacity"], len(local.fleet()["workers"]))

    pids = []
    for i, clip in enumerate(("longest", "short-3", "short-4")):
        pids.append(submit(local, clips[clip], f"scale-{i}", "--formats", "json"))
        # The next upload arrives while this one is being worked on: the scaler then counts a busy worker. The first
        # clip must outlast the next upload's whole submit path (CLI, S3, StartJob, probe, ScaleFleet): with a 10-line
        # clip a quiet machine finished it in 4.5 s, before that path had run (peak 1); 40 lines take ~4x as long,
        # and a loaded machine slows both sides alike.
        wait_until(lambda: sample() or local.job(pids[-1]).get("workerId") or local.job(pids[-1]).get("status") == "COMPLETED",
                   timeout=90, what="claimed")
    while not all(local.job(p).get("status") in ("COMPLETED", "FAILED") for p in pids):
        sample()
        time.sleep(0.25)
    assert [local.job(p)["status"] for p in pids] == ["COMPLETED"] * 3
    assert peak[0] > 1, "the fleet never scaled out beyond one worker"
    assert len({local.job(p)["workerId"] for p in pids}) > 1 or len(local.fleet()["history"]) - started > 1

    wait_until(lambda: local.group()["DesiredCapacity"] == 0 and not local.group()["Instances"] and not local.fleet()["workers"],
               timeout=60, what="fleet retired to 0")
    retired = [h for h in local.fleet()["history"][started:] if "exitCode" in h]
    assert retired and all(h["exitCode"] == 0 for h in retired)  # they retired themselves, nobody killed them
    status = local.cli("status").stdout
    assert "fleet desired 0 / in service 0" in status
