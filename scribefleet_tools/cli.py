"""`scribefleet`: run the service locally, submit files, watch jobs, fetch transcripts, read logs.

    scribefleet local up                         # emulated AWS (moto) from template.yaml + local GPU fleet
    scribefleet submit meeting.wav --user alice --speakers 2 --formats srt,vtt,json
    scribefleet status --watch                   # live progress bars per job, queue and fleet
    scribefleet fetch alice-meeting-1a2b3c --out transcripts/
    scribefleet view alice-meeting-1a2b3c        # the transcript page, playing the media along
    scribefleet logs alice-meeting-1a2b3c        # every line of that process id: Lambdas, state machine, worker
    scribefleet vocabulary set vocabulary.json --user alice   # names and jargon, replacement rules for later uploads
    scribefleet voices add Ann ann.wav --user alice            # speakers with Ann's voice are named Ann from now on

Every command targets the local stack (found through .scribefleet/local.json) unless --stack-name names a deployed
CloudFormation stack (with --profile/--region); resource names always come from the stack's Outputs.
"""
from __future__ import annotations

import argparse
import os
import re
import secrets
import signal
import sys
import threading
from pathlib import Path

from rich.console import Console

from scribefleet.contract import JobStatus, ScribefleetError, check_user_id, process_id
from scribefleet_tools.process_logs import log_lines
from scribefleet_tools.status_view import show, take_snapshot, watch
from scribefleet_tools.target import RECENT_JOBS, fetch_transcripts, job_item, jobs_to_show, resolve_target


# ---- local up ---------------------------------------------------------------------------------------------------
def cmd_local_up(args: argparse.Namespace) -> int:
    import logging

    from sam.stack import up

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    for noisy in ("moto", "werkzeug", "botocore", "samtranslator"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    import warnings

    warnings.simplefilter("ignore")
    parameters = dict(p.split("=", 1) for p in args.parameter)
    if args.max_workers:
        parameters["MaxWorkers"] = str(args.max_workers)
    if args.heartbeat_seconds:
        parameters["HeartbeatSeconds"] = str(args.heartbeat_seconds)
    stack = up(
        Path(args.home), port=args.port, parameters=parameters, with_fleet=not args.no_fleet, idle_timeout=args.idle_timeout,
        boot_delay=args.boot_delay, heartbeat_interval=args.heartbeat_interval, cpu_threads=args.cpu_threads,
    )
    print(f"scribefleet local stack up at {stack.info.endpoint} (stack {stack.info.stack_name})", flush=True)
    print(f"  input bucket : {stack.info.outputs['InputBucketName']}", flush=True)
    print(f"  output bucket: {stack.info.outputs['OutputBucketName']}", flush=True)
    print(f"  worker logs  : {stack.info.log_dir}", flush=True)
    if stack.fleet is not None:
        print(f"  workers      : {stack.fleet.capacity.describe()}", flush=True)
    print("Ctrl-C stops everything.", flush=True)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    stopping.wait()
    print("stopping workers and the stack...", flush=True)
    stack.stop()
    return 0


# ---- submit -----------------------------------------------------------------------------------------------------
def default_transcript_id(path: Path) -> str:
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", path.stem).strip("-")[:50] or "file"
    return f"{stem}-{secrets.token_hex(3)}"


def submit_metadata(args: argparse.Namespace) -> dict[str, str]:
    options = {
        "language": args.language, "speakers": args.speakers, "min-speakers": args.min_speakers,
        "max-speakers": args.max_speakers, "formats": args.formats, "speaker-names": args.speaker_names,
        "terms": args.terms, "task": args.task, "low-confidence": args.low_confidence,
    }
    return {k: str(v) for k, v in options.items() if v is not None}


def cmd_submit(args: argparse.Namespace) -> int:
    target = resolve_target(args)
    try:
        check_user_id(args.user)
    except ScribefleetError as error:
        print(f"--user: {error.message}", file=sys.stderr)
        return 2
    if args.transcript_id and len(args.files) > 1:
        print("--transcript-id names one file's job: give one file", file=sys.stderr)
        return 2
    s3 = target.client("s3")
    metadata = submit_metadata(args)
    for name in args.files:
        path = Path(name)
        transcript = args.transcript_id or default_transcript_id(path)
        key = f"uploads/{args.user}/{transcript}/{path.name}"
        s3.upload_file(str(path), target.outputs["InputBucketName"], key, ExtraArgs={"Metadata": metadata})
        print(f"{process_id(args.user, transcript)}\ts3://{target.outputs['InputBucketName']}/{key}", flush=True)
    return 0


# ---- status / jobs ----------------------------------------------------------------------------------------------
def cmd_status(args: argparse.Namespace) -> int:
    target = resolve_target(args)
    console = Console()
    source = lambda: take_snapshot(target, user=args.user)  # noqa: E731
    if not args.watch:
        show(source(), console)
        return 0
    try:
        last = watch(source, console, interval=args.interval, until_done=args.until_done)
    except KeyboardInterrupt:
        return 0
    failed = any(job.status == JobStatus.FAILED for job in last.jobs)
    return 1 if args.until_done and args.fail_on_failed and failed else 0


def cmd_jobs(args: argparse.Namespace) -> int:
    """One user's most recent jobs (--user), or the jobs waiting or running now; read by index, never a scan."""
    target = resolve_target(args)
    for job in jobs_to_show(target, user=args.user, limit=args.limit):
        error = job.get("error") or {}
        print("\t".join([job["processId"], str(job.get("status")), str(job.get("fileName", "")), str(job.get("audioSeconds", "")),
                         str(job.get("createdAt", "")), str(job.get("finishedAt", "")), str(error.get("code", ""))]))
    return 0


# ---- fetch ------------------------------------------------------------------------------------------------------
def cmd_fetch(args: argparse.Namespace) -> int:
    target = resolve_target(args)
    job = job_item(target, args.id)
    if job.get("status") != JobStatus.COMPLETED:
        print(f"{args.id} is {job.get('status')}; nothing to fetch" + (f" ({job['error'].get('message')})" if job.get("error") else ""), file=sys.stderr)
        return 1
    for path in fetch_transcripts(target, job, Path(args.out)):
        print(path)
    return 0


# ---- logs -------------------------------------------------------------------------------------------------------
def cmd_logs(args: argparse.Namespace) -> int:
    target = resolve_target(args)
    lines = log_lines(target, args.id)
    for stamp, source, text in lines:
        print(f"{stamp} [{source}] {text}")
    return 0 if lines else 1


# ---- demo -------------------------------------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    from scribefleet_tools.demo import run_demo

    return run_demo(args)


def cmd_loadtest(args: argparse.Namespace) -> int:
    """The seed's load test (37 files, 10 h) scaled by --scale, or the 1-file post-deploy regression check."""
    from scribefleet_tools import loadtest
    from scribefleet_tools.workloads import make_workload

    target = resolve_target(args)
    s3, table, bucket = target.client("s3"), target.table(), target.outputs["InputBucketName"]
    if args.regression:
        ok, report = loadtest.regression(s3, table, bucket, budget=args.budget, audio_seconds=args.regression_seconds)
        print("\n".join(report.lines()))
        print(f"regression {'PASSED' if ok else 'FAILED'}: 1 file, budget {args.budget:.0f} s")
        return 0 if ok else 1
    uploads = make_workload(args.workload)[: args.files or None]
    progress = lambda r: print(f"\r{len(r.done)}/{len(r.jobs)} done", end="", flush=True)  # noqa: E731
    report = loadtest.run_load(s3, table, bucket, uploads, scale=args.scale, timeout=args.timeout, on_progress=progress)
    print()
    print("\n".join(report.lines()))
    return 0 if all(j.status == JobStatus.COMPLETED for j in report.jobs) and len(report.jobs) == len(uploads) else 1


def cmd_verify(args: argparse.Namespace) -> int:
    """Acceptance of a stack after deploy: one line per check, exit 1 if any fails (scribefleet_tools/verify.py)."""
    from scribefleet_tools.verify import VerifySettings, main as verify

    settings = VerifySettings(budget=args.budget, metric_wait=args.metric_wait, claim_wait=args.claim_wait,
                              clip=Path(args.clip) if args.clip else None)
    return verify(resolve_target(args), settings, say=lambda line: print(line, flush=True))


def cmd_selfcheck(args: argparse.Namespace) -> int:
    from scribefleet_tools.selfcheck import main as selfcheck

    return selfcheck([])


# ---- parser -----------------------------------------------------------------------------------------------------
def _target_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("target (default: the local stack)")
    group.add_argument("--stack-name", help="a deployed CloudFormation stack (reads its Outputs)")
    group.add_argument("--profile", help="AWS profile for --stack-name")
    group.add_argument("--region", help="AWS region for --stack-name")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scribefleet", description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", default=os.environ.get("SCRIBEFLEET_HOME", ".scribefleet"), help="local state directory (default .scribefleet)")
    commands = parser.add_subparsers(dest="command", required=True)

    local = commands.add_parser("local", help="the local stack").add_subparsers(dest="local_command", required=True)
    up = local.add_parser("up", help="start moto + template.yaml + the local fleet; runs until Ctrl-C")
    up.add_argument("--port", type=int, default=0, help="moto server port on 127.0.0.1 (default: any free port)")
    up.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE", help="template parameter override (repeatable)")
    up.add_argument("--max-workers", type=int, help="MaxWorkers (default 3)")
    up.add_argument("--heartbeat-seconds", type=int, help="HeartbeatSeconds of the Transcribe state (default 10)")
    up.add_argument("--idle-timeout", type=float, default=20.0, help="seconds a worker waits on an empty queue before retiring")
    up.add_argument("--boot-delay", type=float, default=0.0, help="seconds an instance 'boots' before its worker starts")
    up.add_argument("--heartbeat-interval", type=float, default=1.0, help="worker heartbeat interval in seconds")
    up.add_argument("--cpu-threads", type=int, default=0, help="threads per worker for every model pool (0 = its share of the cores)")
    up.add_argument("--no-fleet", action="store_true", help="stack only; run workers yourself")
    up.set_defaults(func=cmd_local_up)

    submit = commands.add_parser("submit", help="upload files (an ordinary S3 put with x-amz-meta-* options)")
    submit.add_argument("files", nargs="+")
    submit.add_argument("--user", required=True)
    submit.add_argument("--transcript-id", help="default: the file name + a random suffix")
    submit.add_argument("--language")
    submit.add_argument("--speakers", type=int)
    submit.add_argument("--min-speakers", type=int)
    submit.add_argument("--max-speakers", type=int)
    submit.add_argument("--formats", help="comma-separated: txt,srt,vtt,json,tsv,docx,edl,avid_markers,html")
    submit.add_argument("--speaker-names", help="comma-separated names, in order of first appearance")
    submit.add_argument("--terms", help="comma-separated names and jargon for this upload (added to the user's vocabulary)")
    submit.add_argument("--task", choices=["transcribe", "translate"], help="translate: English words from any language")
    submit.add_argument("--low-confidence", type=float, help="shade docx words the model is less sure of (default 0.5)")
    _target_options(submit)
    submit.set_defaults(func=cmd_submit)

    status = commands.add_parser("status", help="progress per job, queue and fleet")
    status.add_argument("--watch", action="store_true", help="redraw until Ctrl-C")
    status.add_argument("--interval", type=float, default=1.0)
    status.add_argument("--until-done", action="store_true", help="with --watch: stop when every job is COMPLETED or FAILED")
    status.add_argument("--fail-on-failed", action="store_true", help="with --until-done: exit 1 if a job FAILED")
    status.add_argument("--user", help="this user's most recent jobs (default: the jobs waiting or running now)")
    _target_options(status)
    status.set_defaults(func=cmd_status)

    jobs = commands.add_parser("jobs", help="one line per job (tab-separated): a user's recent jobs, or those waiting or running")
    jobs.add_argument("--user", help="this user's most recent jobs, oldest of them first (default: jobs waiting or running)")
    jobs.add_argument("--limit", type=int, default=RECENT_JOBS, help="with --user: how many recent jobs (default %(default)s)")
    _target_options(jobs)
    jobs.set_defaults(func=cmd_jobs)

    fetch = commands.add_parser("fetch", help="download a completed job's transcripts")
    fetch.add_argument("id", help="process id (<userId>-<transcriptId>)")
    fetch.add_argument("--out", required=True)
    _target_options(fetch)
    fetch.set_defaults(func=cmd_fetch)

    from scribefleet_tools import view

    viewer = commands.add_parser("view", help="open a completed job's transcript page (served locally, media linked)")
    view.add_arguments(viewer)
    _target_options(viewer)
    viewer.set_defaults(func=view.run)

    logs = commands.add_parser("logs", help="every log line of one process id across components")
    logs.add_argument("id", help="process id (<userId>-<transcriptId>)")
    _target_options(logs)
    logs.set_defaults(func=cmd_logs)

    from scribefleet_tools import vocabulary_cli

    vocabulary = commands.add_parser("vocabulary", help="a user's terms and replacement rules: set, show, remove")
    vocabulary_cli.add_arguments(vocabulary, _target_options)
    vocabulary.set_defaults(func=vocabulary_cli.run)

    from scribefleet_tools import voices_cli

    voices = commands.add_parser("voices", help="a user's enrolled voices, named in later transcripts: add, list, remove")
    voices_cli.add_arguments(voices, _target_options)
    voices.set_defaults(func=voices_cli.run)

    demo = commands.add_parser("demo", help="local stack + a short multi-speaker sample, end to end, then shut down")
    demo.set_defaults(func=cmd_demo)

    load = commands.add_parser("loadtest", help="upload a workload and measure makespan/latency; --regression: 1 file within 5 min")
    load.add_argument("--workload", default="seed", help="seed (37 files, 10 h), trickle, burst or huge (default %(default)s)")
    load.add_argument("--scale", type=float, default=1.0, help="multiply every duration and arrival time (e.g. 0.02 locally)")
    load.add_argument("--files", type=int, default=0, help="only the first N files of the workload")
    load.add_argument("--timeout", type=float, default=3600.0, help="give up after this many seconds")
    load.add_argument("--regression", action="store_true", help="the post-deploy check: one file COMPLETED within --budget")
    load.add_argument("--budget", type=float, default=300.0, help="regression budget in seconds (default 300)")
    load.add_argument("--regression-seconds", type=float, default=30.0, help="audio length of the regression file")
    _target_options(load)
    load.set_defaults(func=cmd_loadtest)

    verify = commands.add_parser("verify", help="after deploy: good file, bad file, heartbeat loss, no leaked tokens, alarms/dashboard/AMI")
    verify.add_argument("--budget", type=float, default=300.0, help="seconds the good file may take, upload to COMPLETED (default 300)")
    verify.add_argument("--clip", help="audio/video file to use as the good file (default: a generated two-voice clip)")
    verify.add_argument("--claim-wait", type=float, default=120.0, help="seconds to wait for the heartbeat test job on the queue")
    verify.add_argument("--metric-wait", type=float, default=420.0, help="seconds to wait for the HeartbeatTimeouts metric (deployed stacks)")
    _target_options(verify)
    verify.set_defaults(func=cmd_verify)

    check = commands.add_parser("selfcheck", help="run the fault, bad-input and security suites; one line a category")
    check.set_defaults(func=cmd_selfcheck)

    from scribefleet_tools import simulate_cli

    simulate = commands.add_parser("simulate", help="the fleet simulator (scaler policies, claim orders)")
    simulate_cli.add_arguments(simulate)
    simulate.set_defaults(func=simulate_cli.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit-time flush
        return code
    except FileNotFoundError as missing:
        print(missing, file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader (head, a pager) has all it wanted: stop quietly, with the status a tool killed by SIGPIPE has.
        # stdout is pointed at /dev/null so that the exit-time flush of what is still buffered cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
