"""`scribefleet demo` (`make demo`): the whole service on this machine, once, end to end.

Makes two short espeak dialogs (cached in .scribefleet/demo/), starts the local stack (moto from template.yaml, the
local fleet of real worker processes), uploads both files the way a user would, shows the live status view of
`scribefleet status --watch`, fetches one job's transcripts as `scribefleet fetch` does and prints their first
lines, then shuts everything down.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from pathlib import Path

from rich.console import Console

from scribefleet.contract import JobStatus
from scribefleet_tools.status_view import take_snapshot, watch
from scribefleet_tools.target import Target, fetch_transcripts, job_item

WATCH_TIMEOUT_SECONDS = 300

DIALOGS = {  # file name → (speakers, lines, offset into the sample sentences)
    "standup.wav": (["A", "B"], 4, 0),
    "interview.wav": (["A", "B", "C"], 5, 3),
}


def make_samples(directory: Path) -> list[Path]:
    from scribefleet_tools.samples import DISTINCT_VOICES, have_espeak, make_dialog, round_robin_lines

    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, (speakers, count, offset) in DIALOGS.items():
        path = directory / name
        if not path.exists():
            if not have_espeak():
                raise SystemExit("the demo makes its sample with espeak-ng: apt-get install espeak-ng")
            voices = dict(zip(speakers, DISTINCT_VOICES))
            make_dialog(round_robin_lines(speakers, count, offset), voices).write_wav(path)
        paths.append(path)
    return paths


def run_demo(args: argparse.Namespace) -> int:
    from sam.stack import up

    warnings.simplefilter("ignore")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    for noisy in ("werkzeug", "moto", "botocore", "samtranslator"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    home = Path(args.home)
    began = time.monotonic()
    samples = make_samples(home / "demo")
    print(f"1/5 samples: {', '.join(str(p) for p in samples)} (espeak-ng, {len(DIALOGS)} multi-speaker dialogs)", flush=True)
    stack = up(home, idle_timeout=10, heartbeat_interval=1.0)
    try:
        info = stack.info
        target = Target.local(info)
        print(f"2/5 local stack up at {info.endpoint} in {time.monotonic() - began:.0f} s "
              f"(template.yaml in moto; input bucket {info.outputs['InputBucketName']})", flush=True)
        if stack.fleet is not None:
            print(f"   {stack.fleet.capacity.describe()}", flush=True)
        s3, run = target.client("s3"), f"{int(time.time()) % 100000:05d}"
        pids = []
        for path in samples:
            transcript = f"{path.stem}-{run}"
            key = f"uploads/demo/{transcript}/{path.name}"
            speakers = str(len(DIALOGS[path.name][0]))
            s3.upload_file(str(path), info.outputs["InputBucketName"], key,
                           ExtraArgs={"Metadata": {"language": "en", "speakers": speakers, "formats": "txt,srt,vtt,json,docx,edl"}})
            pids.append(f"demo-{transcript}")
        print(f"3/5 submitted {len(pids)} uploads (S3 put → EventBridge → Step Functions); progress:", flush=True)
        last = watch(lambda: take_snapshot(target, only=pids), Console(), interval=0.5, until_done=True, timeout=WATCH_TIMEOUT_SECONDS)
        done = [job for job in last.jobs if job.status == JobStatus.COMPLETED]
        print(f"4/5 {len(done)}/{len(pids)} completed", flush=True)
        for job in last.jobs:
            if job.status != JobStatus.COMPLETED:
                print(f"   {job.process_id}: {job.status} {job.reason}", flush=True)
        for pid in sorted(set(pids) - {job.process_id for job in last.jobs}):
            print(f"   {pid}: no job recorded", flush=True)
        if done:
            show(target, job_item(target, done[0].process_id), home / "demo" / "transcripts")
        print(f"5/5 shutting down (total {time.monotonic() - began:.0f} s)", flush=True)
        return 0 if len(done) == len(pids) else 1
    finally:
        stack.stop()


def show(target: Target, job: dict, out: Path) -> None:
    folder = out / job["transcriptId"]
    files = fetch_transcripts(target, job, folder)
    print(f"   transcripts of {job['processId']} ({', '.join(sorted(f.name for f in files))})", flush=True)
    print(f"   downloaded to {folder}/", flush=True)
    txt = next((f for f in files if f.suffix == ".txt"), None)
    if txt is not None:
        print("   first lines:", flush=True)
        for line in txt.read_text().splitlines()[:6]:
            print(f"     {line}", flush=True)
