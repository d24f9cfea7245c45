"""`scribefleet demo` (`make demo`): the whole service on this machine, once, end to end.

Makes two short espeak dialogs (cached in .scribefleet/demo/), starts the local stack (moto from template.yaml, the
local fleet of real worker processes), uploads both files the way a user would, shows the live progress bars,
prints where the transcripts are and the first lines of one, then shuts everything down.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from pathlib import Path

from scribefleet.contract import JobStatus

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
    from scribefleet_tools.cli import Target, render_status

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
        target = Target(info.outputs, info.stack_name, info.region, endpoint=info.endpoint, log_dir=Path(info.log_dir))
        print(f"2/5 local stack up at {info.endpoint} in {time.monotonic() - began:.0f} s "
              f"(template.yaml in moto; input bucket {info.outputs['InputBucketName']})", flush=True)
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
        jobs = watch(target, pids, render_status, timeout=args_timeout(args))
        done = [j for j in jobs if j.get("status") == JobStatus.COMPLETED]
        print(f"4/5 {len(done)}/{len(pids)} completed", flush=True)
        for job in jobs:
            if job.get("status") != JobStatus.COMPLETED:
                print(f"   {job['processId']}: {job.get('status')} {job.get('error')}", flush=True)
        if done:
            show(target, done[0], home / "demo" / "transcripts")
        print(f"5/5 shutting down (total {time.monotonic() - began:.0f} s)", flush=True)
        return 0 if len(done) == len(pids) else 1
    finally:
        stack.stop()


def args_timeout(args: argparse.Namespace) -> float:
    return float(getattr(args, "timeout", 0) or 300)


def watch(target, pids: list[str], render_status, timeout: float) -> list[dict]:
    """Progress bars until every demo job is COMPLETED or FAILED (redrawn in place on a terminal)."""
    interactive = sys.stdout.isatty()
    deadline, last, drawn = time.monotonic() + timeout, "", 0
    while True:
        text, jobs = render_status(target, user="demo")
        jobs = [j for j in jobs if j["processId"] in pids]
        finished = len(jobs) == len(pids) and all(j.get("status") in (JobStatus.COMPLETED, JobStatus.FAILED) for j in jobs)
        lines = [line for line in text.splitlines() if not line.startswith("demo-") or line.split()[0] in pids]
        text = "\n".join(lines)
        if interactive:
            if drawn:
                sys.stdout.write(f"\x1b[{drawn}F\x1b[J")  # back to the first line of the last frame
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
            drawn = text.count("\n") + 1
        else:  # in a log: print a frame only when a job moved (status, stage or progress)
            moved = repr([(j.get("status"), j.get("stage"), j.get("progress")) for j in jobs])
            if moved != last:
                print(text, flush=True)
                last = moved
        if finished or time.monotonic() > deadline:
            return jobs
        time.sleep(0.5)


def show(target, job: dict, out: Path) -> None:
    from scribefleet.contract import output_prefix

    s3, bucket = target.client("s3"), target.outputs["OutputBucketName"]
    prefix = output_prefix(job["userId"], job["transcriptId"])
    folder = out / job["transcriptId"]
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for obj in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
        name = obj["Key"][len(prefix):]
        s3.download_file(bucket, obj["Key"], str(folder / name))
        names.append(name)
    print(f"   transcripts of {job['processId']}: s3://{bucket}/{prefix} ({', '.join(sorted(names))})", flush=True)
    print(f"   downloaded to {folder}/", flush=True)
    txt = next((folder / n for n in names if n.endswith(".txt")), None)
    if txt is not None:
        print("   first lines:", flush=True)
        for line in txt.read_text().splitlines()[:6]:
            print(f"     {line}", flush=True)
