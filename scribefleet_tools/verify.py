"""`scribefleet verify`: acceptance of a stack, run once after `sam deploy` (and in `make test` against the local stack).

One line per check, exit 1 if any fails:
- good file: a short two-voice clip ends COMPLETED within the budget, and every format it asked for reads back with
  the field's own parser;
- bad file: a text file named .wav ends FAILED with its code and a reason a person can read;
- heartbeat loss: verify claims a queued job itself, exactly as a worker does (gpu_worker.protocol.JobChannel),
  beats once, then goes silent; the job must be requeued and completed by the fleet, and the HeartbeatTimeouts
  metric must count it;
- tokens: neither task token of that job (the claim token and the supervised token, both seen by verify as the
  worker it played) appears in any of the stack's log groups, in the completed job item, or in `scribefleet logs`;
- resources: the stack's alarms, dashboard and worker AMI (parameter) exist.

Against the local stack some AWS behaviour is not emulated (moto evaluates no metric filter and writes no
state machine logs); those checks say what they checked instead, on a NOTE line.
"""
from __future__ import annotations

import csv
import io
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from scribefleet.contract import ErrorCode, JobStatus, Stage, output_prefix, process_id

TERMINAL = (JobStatus.COMPLETED, JobStatus.FAILED)
VERIFY_USER = "scribefleet_verify"
BAD_FILE_TEXT = b"Meeting notes, 12 May: not a recording, just text saved with a .wav name.\n" * 40
PYTHON_ERROR_TEXT = re.compile(r"Traceback|Error\b|Exception|errno|codec|\bat 0x[0-9a-f]+")
METRIC_NAMESPACE, HEARTBEAT_METRIC = "Scribefleet", "HeartbeatTimeouts"


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [f"{'PASS' if self.ok else 'FAIL'}  {self.name}: {self.detail}"] + [f"      NOTE {n}" for n in self.notes]


@dataclass
class VerifySettings:
    budget: float = 300.0  # the good file, upload to COMPLETED (the seed's post-deploy regression budget)
    claim_wait: float = 120.0  # how long verify waits to receive its own heartbeat job from the queue
    claim_attempts: int = 3  # new uploads when a fleet worker claims the heartbeat job first
    metric_wait: float = 420.0  # CloudWatch metric filters publish within minutes
    formats: tuple[str, ...] = ("txt", "srt", "vtt", "json", "tsv", "docx", "edl", "avid_markers", "html")
    clip: Path | None = None  # default: a generated two-voice clip


# ---- format readers: each raises on an unreadable file -----------------------------------------------------------
def _read_txt(data: bytes) -> int:
    text = data.decode("utf-8")
    if not text.strip():
        raise ValueError("empty")
    return len(text.split())


def _read_srt(data: bytes) -> int:
    import srt

    return len(list(srt.parse(data.decode("utf-8"))))


def _read_vtt(data: bytes) -> int:
    import webvtt

    return len(webvtt.from_buffer(io.StringIO(data.decode("utf-8"))))


def _read_json(data: bytes) -> int:
    return len(json.loads(data)["segments"])


def _read_tsv(data: bytes) -> int:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8")), delimiter="\t"))
    if len(rows) < 2 or any(len(row) != len(rows[0]) for row in rows):
        raise ValueError("ragged or empty table")
    return len(rows) - 1


def _read_docx(data: bytes) -> int:
    import docx

    return sum(1 for p in docx.Document(io.BytesIO(data)).paragraphs if p.text.strip())


def _read_edl(data: bytes) -> int:
    import opentimelineio as otio

    timeline = otio.adapters.read_from_string(data.decode("utf-8"), adapter_name="cmx_3600", rate=25)
    return sum(1 for _ in timeline.find_clips())


def _read_avid_markers(data: bytes) -> int:
    rows = [line.split("\t") for line in data.decode("utf-8").splitlines() if line.strip()]
    if not rows or any(len(row) < 5 for row in rows):
        raise ValueError("not a tab-separated marker list")
    return len(rows)


def _read_html(data: bytes) -> int:
    from html.parser import HTMLParser

    class Counter(HTMLParser):
        tags = 0

        def handle_starttag(self, tag, attrs):
            self.tags += 1

    parser = Counter()
    parser.feed(data.decode("utf-8"))
    if not parser.tags:
        raise ValueError("no HTML elements")
    return parser.tags


READERS: dict[str, tuple[str, Callable[[bytes], int]]] = {
    "txt": (".txt", _read_txt), "srt": (".srt", _read_srt), "vtt": (".vtt", _read_vtt), "json": (".json", _read_json),
    "tsv": (".tsv", _read_tsv), "docx": (".docx", _read_docx), "edl": (".edl", _read_edl),
    "avid_markers": (".avid.txt", _read_avid_markers), "html": (".html", _read_html),
}


# ---- the run -----------------------------------------------------------------------------------------------------
class Verifier:
    """Drives one verification against a scribefleet_tools.target.Target (local or deployed)."""

    def __init__(self, target, settings: VerifySettings, say: Callable[[str], None] = print):
        self.target, self.settings, self.say = target, settings, say
        self.run_id = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S") + "-" + secrets.token_hex(2)
        self.started = datetime.now(timezone.utc)
        self.local = bool(target.endpoint)
        self.s3, self.sqs, self.sfn = target.client("s3"), target.client("sqs"), target.client("stepfunctions")
        self.table = target.table()
        self.checks: list[Check] = []
        self.tokens: dict[str, str] = {}  # what verify saw as the worker: claim and supervised token

    # ---- helpers ---------------------------------------------------------------------------------------------
    def record(self, check: Check) -> Check:
        self.checks.append(check)
        for line in check.lines():
            self.say(line)
        return check

    def upload(self, name: str, transcript: str, body: bytes, metadata: dict[str, str] | None = None) -> str:
        key = f"uploads/{VERIFY_USER}/{transcript}/{name}"
        self.s3.put_object(Bucket=self.target.outputs["InputBucketName"], Key=key, Body=body, Metadata=metadata or {})
        return process_id(VERIFY_USER, transcript)

    def job(self, pid: str) -> dict[str, Any]:
        return self.table.get_item(Key={"processId": pid}, ConsistentRead=True).get("Item", {})

    def wait_for(self, pid: str, done: Callable[[dict], bool], timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            item = self.job(pid)
            if done(item) or time.monotonic() > deadline:
                return item
            time.sleep(1.0)

    def clip(self) -> tuple[str, bytes]:
        if self.settings.clip:
            return self.settings.clip.name, self.settings.clip.read_bytes()
        from scribefleet_tools.samples import DISTINCT_VOICES, encode_wav, make_dialog, round_robin_lines

        dialog = make_dialog(round_robin_lines(["A", "B"], 2), {"A": DISTINCT_VOICES[0], "B": DISTINCT_VOICES[1]})
        return "verify-dialog.wav", encode_wav(dialog.audio)

    # ---- checks ----------------------------------------------------------------------------------------------
    def run(self) -> list[Check]:
        name, clip = self.clip()
        heartbeat_pid, lost_to_fleet = self.claim_and_abandon(name, clip)
        good_pid = self.upload(name, f"{self.run_id}-good", clip, {"formats": ",".join(self.settings.formats)})
        uploaded_good = time.monotonic()
        bad_pid = self.upload("notes.wav", f"{self.run_id}-bad", BAD_FILE_TEXT)
        self.check_bad_file(bad_pid)
        self.check_good_file(good_pid, name, uploaded_good)
        if heartbeat_pid:
            self.check_heartbeat_loss(heartbeat_pid, lost_to_fleet)
            self.check_tokens(heartbeat_pid)
        self.check_resources()
        return self.checks

    def claim_and_abandon(self, name: str, clip: bytes) -> tuple[str | None, int]:
        """Upload a job, receive it from the queue before the fleet does, claim it with the workers' own protocol,
        take the supervised token, beat once, and go silent: to Step Functions, a worker that died mid-job."""
        from gpu_worker.protocol import AlreadyClaimed, JobChannel, JobMessage, TokenLost

        worker_id = f"verify-{self.run_id}"
        channel = JobChannel(self.sfn, self.table, worker_id, token_wait_seconds=60.0)
        queue = self.target.outputs["JobQueueUrl"]
        for attempt in range(1, self.settings.claim_attempts + 1):
            pid = self.upload(name, f"{self.run_id}-heartbeat-{attempt}", clip, {"formats": "txt"})
            deadline = time.monotonic() + self.settings.claim_wait
            while time.monotonic() < deadline:
                if self.job(pid).get("workerId") not in (None, worker_id):
                    break  # a fleet worker was first: try again with a new upload
                messages = self.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=2,
                                                    VisibilityTimeout=60).get("Messages", [])
                mine = None
                for message in messages:
                    if json.loads(message["Body"]).get("processId") == pid:
                        mine = message
                    else:  # someone else's job: hand it straight back to the fleet
                        self.sqs.change_message_visibility(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
                if mine is None:
                    continue
                job = JobMessage.from_sqs(mine)
                try:
                    channel.claim(job)
                    self.sqs.delete_message(QueueUrl=queue, ReceiptHandle=mine["ReceiptHandle"])
                    token, _ = channel.wait_for_work_token(job, set())
                    channel.heartbeat(job, token, Stage.DECODING, 1)
                except (AlreadyClaimed, TokenLost):
                    break
                self.tokens = {"claim token": job.claim_token, "supervised token": token}
                self.say(f"      claimed {pid} as worker {worker_id}, beat once, now silent")
                return pid, attempt - 1
        self.record(Check("heartbeat loss (job requeued, completed by the fleet)", False, f"the fleet claimed each of {self.settings.claim_attempts} test jobs "
                          "before verify could: nothing to test (run verify again when the fleet is idle)"))
        return None, self.settings.claim_attempts

    def check_bad_file(self, pid: str) -> None:
        item = self.wait_for(pid, lambda j: j.get("status") in TERMINAL, timeout=120)
        error = item.get("error") or {}
        message = str(error.get("message", ""))
        ok = (item.get("status") == JobStatus.FAILED and error.get("code") == ErrorCode.UNSUPPORTED_MEDIA
              and "text file" in message and not PYTHON_ERROR_TEXT.search(message))
        shown = f"{item.get('status', 'no job item')} {error.get('code', '')}: {message}".strip()
        self.record(Check("bad file", ok, shown if ok else f"expected FAILED UnsupportedMedia naming a text file, got {shown}"))

    def check_good_file(self, pid: str, name: str, uploaded: float) -> None:
        budget = self.settings.budget
        item = self.wait_for(pid, lambda j: j.get("status") in TERMINAL, timeout=budget)
        took = time.monotonic() - uploaded
        if item.get("status") != JobStatus.COMPLETED:
            error = item.get("error") or {}
            self.record(Check("good file", False, f"{item.get('status', 'no job item')} after {took:.0f} s (budget {budget:.0f} s) "
                              f"{error.get('code', '')} {error.get('message', '')}".rstrip()))
            return
        prefix = output_prefix(VERIFY_USER, item["transcriptId"])
        stem = Path(name).stem
        bucket = self.target.outputs["OutputBucketName"]
        readable, problems = [], []
        for fmt in self.settings.formats:
            extension, reader = READERS[fmt]
            try:
                data = self.s3.get_object(Bucket=bucket, Key=f"{prefix}{stem}{extension}")["Body"].read()
                readable.append(f"{fmt}({reader(data)})")
            except Exception as error:  # noqa: BLE001  any failure to fetch or parse is this format's failure
                problems.append(f"{fmt}: {type(error).__name__}")
        ok = took <= budget and not problems
        detail = f"COMPLETED in {took:.0f} s (budget {budget:.0f} s); readable: {' '.join(readable)}"
        self.record(Check("good file", ok, detail + (f"; unreadable: {', '.join(problems)}" if problems else "")))

    def check_heartbeat_loss(self, pid: str, lost_to_fleet: int) -> None:
        limits = self.heartbeat_seconds()
        item = self.wait_for(pid, lambda j: j.get("status") in TERMINAL, timeout=limits + self.settings.budget)
        attempts, worker = int(item.get("attempts", 0) or 0), str(item.get("workerId", ""))
        ok = item.get("status") == JobStatus.COMPLETED and attempts >= 2 and not worker.startswith("verify-")
        detail = (f"{item.get('status')} after {attempts} attempts, completed by {worker or '-'} "
                  f"(heartbeat {limits} s)" + (f"; {lost_to_fleet} earlier test job(s) went to the fleet first" if lost_to_fleet else ""))
        self.record(Check("heartbeat loss (job requeued, completed by the fleet)", ok, detail))
        self.check_heartbeat_metric(item)

    def heartbeat_seconds(self) -> int:
        parameters = self.stack_parameters()
        return int(parameters.get("HeartbeatSeconds") or 30)

    def stack_parameters(self) -> dict[str, str]:
        if self.local:
            from sam.stack import LocalInfo

            return dict(LocalInfo.load(self.target_home()).parameters)
        stack = self.target.client("cloudformation").describe_stacks(StackName=self.target.stack_name)["Stacks"][0]
        return {p["ParameterKey"]: p.get("ResolvedValue") or p.get("ParameterValue", "") for p in stack.get("Parameters", [])}

    def target_home(self) -> Path:
        return Path(getattr(self.target, "home", None) or Path(self.target.log_dir).parent)

    def history(self, item: dict[str, Any]) -> list[dict[str, Any]]:
        from scribefleet_tools.process_logs import execution_history

        return execution_history(self.sfn, item["executionArn"])

    def check_heartbeat_metric(self, item: dict[str, Any]) -> None:
        name = f"{HEARTBEAT_METRIC} metric counts the lapse"
        if not item.get("executionArn"):
            self.record(Check(name, False, "the job item names no execution"))
            return
        timed_out = [e for e in self.history(item) if e["type"] == "TaskTimedOut"]
        filters = self.target.client("logs").describe_metric_filters(metricName=HEARTBEAT_METRIC, metricNamespace=METRIC_NAMESPACE)["metricFilters"]
        if self.local:
            # moto evaluates no metric filter: apply the deployed filter's own pattern to the history event that
            # the state machine's log group would receive (type + details), which is what AWS counts.
            pattern = filters[0]["filterPattern"] if filters else None
            matched = [e for e in timed_out if pattern and matches_json_pattern(pattern, log_record(e))]
            ok = bool(matched)
            detail = (f"{len(matched)} TaskTimedOut event(s) of Transcribe match the metric filter's pattern"
                      if ok else f"{len(timed_out)} TaskTimedOut event(s); metric filter {'found' if filters else 'missing'}; none matched")
            self.record(Check(name + " (local equivalent)", ok, detail, notes=[
                "moto does not evaluate CloudWatch Logs metric filters nor write state machine logs: the metric itself "
                "is only checked against a deployed stack"]))
            return
        deadline = time.monotonic() + self.settings.metric_wait
        total = 0.0
        cloudwatch = self.target.client("cloudwatch")
        while time.monotonic() < deadline:
            points = cloudwatch.get_metric_statistics(
                Namespace=METRIC_NAMESPACE, MetricName=HEARTBEAT_METRIC, StartTime=self.started - timedelta(minutes=1),
                EndTime=datetime.now(timezone.utc) + timedelta(minutes=1), Period=60, Statistics=["Sum"])["Datapoints"]
            total = sum(p["Sum"] for p in points)
            if total >= 1:
                break
            time.sleep(15)
        self.record(Check(name, total >= 1, f"{total:.0f} counted since verify started ({len(timed_out)} TaskTimedOut in the history)"))

    def check_tokens(self, pid: str) -> None:
        tokens = {label: token for label, token in self.tokens.items() if token}
        if len(tokens) < 2:
            self.record(Check("task tokens kept out of logs", False, "verify did not see both tokens"))
            return
        found = []
        groups = self.log_groups()
        for group in groups:
            for text in self.log_messages(group):
                found += [f"{label} in {group}" for label, token in tokens.items() if token in text]
        worker_files = sorted(Path(self.target.log_dir).glob("*.log")) if self.local and self.target.log_dir else []
        for path in worker_files:
            text = path.read_text(errors="replace")
            found += [f"{label} in worker log {path.name}" for label, token in tokens.items() if token in text]
        described = f"{len(groups)} log groups" + (f" and {len(worker_files)} local worker log files" if worker_files else "")
        notes = []
        logging_config = self.sfn.describe_state_machine(stateMachineArn=self.target.outputs["StateMachineArn"]).get("loggingConfiguration", {})
        if logging_config.get("includeExecutionData"):
            found.append("the state machine logs execution data (includeExecutionData is on): every token reaches its log group")
        if self.local:
            notes.append("moto writes no state machine execution logs; its logging configuration was checked instead "
                         f"(includeExecutionData {bool(logging_config.get('includeExecutionData'))})")
        self.record(Check("task tokens absent from log groups", not found, "; ".join(found) or f"neither token in {described}", notes))

        item = json.dumps(self.job(pid), default=str)
        leaks = [label for label, token in tokens.items() if token in item]
        self.record(Check("task tokens absent from the completed job item", not leaks, ", ".join(leaks) or "neither token present"))

        from scribefleet_tools.process_logs import log_lines

        history = json.dumps([e for e in self.history(self.job(pid))], default=str)
        kept = [label for label, token in tokens.items() if token in history]
        view = "\n".join(text for _, _, text in log_lines(self.target, pid))
        shown = [label for label, token in tokens.items() if token in view]
        self.record(Check("`scribefleet logs` redacts both tokens", not shown,
                          ", ".join(f"{s} shown" for s in shown) or f"neither shown (the raw execution history holds: {', '.join(kept) or 'neither'})"))

    def log_groups(self) -> list[str]:
        from scribefleet_tools.process_logs import stack_resources

        groups = []
        for kind, physical in stack_resources(self.target).values():
            if kind == "AWS::Logs::LogGroup":
                groups.append(physical)
            elif kind == "AWS::Lambda::Function":
                groups.append(f"/aws/lambda/{physical}")
        return sorted(set(groups))

    def log_messages(self, group: str):
        logs = self.target.client("logs")
        start = int((self.started - timedelta(minutes=1)).timestamp() * 1000)
        try:
            for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group, startTime=start):
                for event in page["events"]:
                    yield event["message"]
        except logs.exceptions.ResourceNotFoundException:
            return

    def check_resources(self) -> None:
        from scribefleet_tools.process_logs import stack_resources

        resources = stack_resources(self.target)
        alarms = sorted(physical for kind, physical in resources.values() if kind == "AWS::CloudWatch::Alarm")
        cloudwatch = self.target.client("cloudwatch")
        found = {a["AlarmName"] for a in cloudwatch.describe_alarms(AlarmNames=alarms)["MetricAlarms"]} if alarms else set()
        missing = [a for a in alarms if a not in found]
        self.record(Check("alarms exist", bool(alarms) and not missing,
                          f"{len(found)} of {len(alarms)}" + (f"; missing {', '.join(missing)}" if missing else "")))
        dashboards = [physical for kind, physical in resources.values() if kind == "AWS::CloudWatch::Dashboard"]
        present = []
        for name in dashboards:
            try:
                cloudwatch.get_dashboard(DashboardName=name)
                present.append(name)
            except cloudwatch.exceptions.ResourceNotFound:
                pass
        self.record(Check("dashboard exists", bool(dashboards) and present == dashboards, ", ".join(present) or "none"))
        self.check_ami()

    def check_ami(self) -> None:
        parameter = self.target.outputs.get("WorkerAmiParameter")
        notes, problems, seen = [], [], []
        if parameter:
            try:
                value = self.target.client("ssm").get_parameter(Name=parameter)["Parameter"]["Value"]
                seen.append(f"{parameter} = {value}")
            except Exception as error:  # noqa: BLE001  ParameterNotFound and access errors alike
                problems.append(f"{parameter} unreadable ({type(error).__name__}): has the image pipeline run once?")
        else:
            notes.append("the image pipeline is off in this stack (no ArtifactBucketName): no AMI parameter to check")
        ami = self.stack_parameters().get("WorkerAmiId", "")
        try:
            images = self.target.client("ec2").describe_images(ImageIds=[ami])["Images"] if ami else []
        except Exception:  # noqa: BLE001
            images = []
        (seen if images else problems).append(f"WorkerAmiId {ami or '(unset)'} {'exists' if images else 'not found'}")
        self.record(Check("worker AMI", not problems, "; ".join(problems or seen), notes))


def log_record(event: dict[str, Any]) -> dict[str, Any]:
    """A history event as the state machine's CloudWatch log group records it: {type, details: {...}}."""
    details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
    return {"type": event["type"], "details": details}


_TERM = re.compile(r'\(\s*\$\.([\w.]+)\s*=\s*"([^"]*)"\s*\)')


def matches_json_pattern(pattern: str, record: dict[str, Any]) -> bool:
    """CloudWatch Logs' JSON filter syntax, for the subset our template uses: `{ (term) && (term) ... }` with
    `($.a.b = "value")` terms. Anything else raises ValueError rather than guessing."""
    body = pattern.strip()
    if not (body.startswith("{") and body.endswith("}")):
        raise ValueError(f"not a JSON filter pattern: {pattern!r}")
    terms = _TERM.findall(body)
    if not terms or _TERM.sub("", body[1:-1]).replace("&&", "").strip():
        raise ValueError(f"filter pattern beyond the supported subset: {pattern!r}")
    for path, expected in terms:
        value: Any = record
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value != expected:
            return False
    return True


def main(target, settings: VerifySettings, say: Callable[[str], None] = print) -> int:
    say(f"scribefleet verify: {'local stack' if target.endpoint else 'stack'} {target.stack_name} ({target.region})")
    checks = Verifier(target, settings, say).run()
    failed = [c for c in checks if not c.ok]
    say(f"verify {'PASSED' if not failed else 'FAILED'}: {len(checks) - len(failed)}/{len(checks)} checks passed")
    return 1 if failed else 0
