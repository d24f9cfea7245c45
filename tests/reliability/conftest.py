"""Reliability tier: the real ASL on moto, the real Lambdas in-process and real worker agents whose pipeline is the
real gpu_worker.pipeline.Pipeline (real bounded decode in a child process) with stub models, so hostile media meets
the same code it meets in production while a job still takes well under a second.

Faults are injected at the edges a real failure has: a worker "killed" stops dead in the middle of a stage (no
callback, no heartbeat, exactly what SIGKILL leaves behind), AWS errors are answered by a botocore event hook inside
the client's own retry loop, uploads and their events are delivered by the test in whatever order it wants.
Every test ends with `audit`: each job it started is COMPLETED or FAILED, outputs exist only for COMPLETED jobs,
result.json was written once, nothing is left in the queue; the figures go to the selfcheck line.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import boto3
import numpy as np
import pytest
from aws_lambda_powertools import Logger
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from gpu_worker.agent import CLIENT_CONFIG, Agent, AgentSettings
from gpu_worker.config import WorkerConfig
from gpu_worker.fleet import ProcessFleet
from gpu_worker.media import SAMPLE_RATE
from gpu_worker.pipeline import Pipeline
from gpu_worker.protocol import JobChannel
from gpu_worker.result import SpeakerTurn, Word
from sam import moto_patches
from scribefleet.contract import Stage
from tests.support.aws import REGION, REPO, Stack, build_stack, object_created_event
from tests.support.waiting import wait_until as _wait_until

# Probe limits of this tier (template parameters): small enough that "too large" and "too long" files stay tiny.
MAX_FILE_BYTES = 3 * 1024 * 1024
MAX_AUDIO_SECONDS = 60
# Transcribe's HeartbeatSeconds here. Workers beat every 0.3 s, but with decoding workers, moto and the state
# machine's threads in one process on a loaded 2-core machine, a live worker's first beat of a new token was seen to
# come 4 s after Transcribe began (an extra, kill-less retry). 8 s keeps every kill test strict about attempts.
HEARTBEAT_SECONDS = 8
WORKER_CONFIG = WorkerConfig(model_dir="stub", max_audio_seconds=MAX_AUDIO_SECONDS, decode_timeout=30.0)


# ---------------------------------------------------------------- pipeline: real decode, stub models
class StubTranscriber:
    """One word per second of decoded audio: the transcript's length tells which input version was decoded."""

    name, device = "stub-whisper", "cpu"

    def check_language(self, language):
        return language

    def check_task(self, task):
        return task or "transcribe"

    def transcribe(self, audio, language=None, hotwords=None, initial_prompt=None, progress=None, task=None,
                   span=None, windows=None):
        if progress:
            progress(0.5)
        start, end = span or (0, len(audio) / SAMPLE_RATE)
        seconds = range(int(start), max(int(start) + 1, int(end)))
        return [Word(float(i), i + 0.5, f" word{i}", 0.9) for i in seconds], language or "en"


class StubDiarizer:
    name = "stub-diarizer"

    def diarize(self, audio, *, num_speakers=None, min_speakers=None, max_speakers=None, progress=None):
        if progress:
            progress(0.5)
        return [SpeakerTurn(0.0, len(audio) / SAMPLE_RATE, "SPEAKER_00")]


def decoding_pipeline(config: WorkerConfig = WORKER_CONFIG) -> Pipeline:
    return Pipeline(config, transcriber=StubTranscriber(), diarizer=StubDiarizer())


# ---------------------------------------------------------------- killing a worker mid-stage
class Killed(BaseException):
    """Unwinds a worker thread without any `except Exception` seeing it: no callback, no upload, heartbeat stops."""


STAGES = ("download", "decode", "diarize", "transcribe", "upload")
_STAGE_OF_PROGRESS = {Stage.DECODING: "decode", Stage.DIARIZING: "diarize", Stage.TRANSCRIBING: "transcribe"}


class KillSwitch:
    """Kills its worker when the job reaches `stage` (download: the input GET; upload: after the first output PUT)."""

    def __init__(self, stage: str | None, when: Callable[[], bool] = lambda: True):
        assert stage is None or stage in STAGES
        self.stage, self.when, self.fired = stage, when, threading.Event()
        self.input_keys: list[str] = []  # the upload of every job its worker downloaded, in order

    def reached(self, stage: str) -> None:
        if stage == self.stage and not self.fired.is_set() and self.when():
            self.fired.set()
            raise Killed(stage)


class KillablePipeline:
    def __init__(self, inner, switch: KillSwitch):
        self.inner, self.switch = inner, switch

    def run(self, audio_path, options, progress, voices=()):
        def report(stage: Stage, fraction: float) -> None:
            if stage in _STAGE_OF_PROGRESS:
                self.switch.reached(_STAGE_OF_PROGRESS[stage])
            progress(stage, fraction)

        return self.inner.run(audio_path, options, report)


class KillableS3:
    def __init__(self, real, switch: KillSwitch):
        self.real, self.switch, self.uploads = real, switch, 0

    def get_object(self, **kwargs):
        self.switch.input_keys.append(kwargs["Key"])
        self.switch.reached("download")
        return self.real.get_object(**kwargs)

    def upload_file(self, *args, **kwargs):
        if self.uploads:
            self.switch.reached("upload")
        self.uploads += 1
        return self.real.upload_file(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.real, name)


# ---------------------------------------------------------------- AWS errors inside botocore's retry loop
class _Raw:
    def __init__(self, body: bytes):
        self.body = body

    def stream(self, **_):
        yield self.body


ERRORS = {  # (HTTP status, body) as the services send them
    "s3-throttle": (503, b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"),
    "s3-internal": (500, b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>"),
    "ddb-throttle": (400, b'{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"Rate exceeded"}'),
    "ddb-internal": (500, b'{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"Internal server error"}'),
}


@dataclass
class InjectedErrors:
    """A before-send hook (registered first, so it answers before moto does) failing `failures` calls of one operation;
    botocore's standard retry mode then sees a real throttling/5xx response and backs off as it would on AWS."""

    kind: str
    failures: int  # -1: every call
    applied: bool = False  # True: the service did the work and the answer was lost (a 500 or timeout after the write)
    calls: int = 0
    injected: int = 0
    called_at: list[float] = field(default_factory=list)  # time.monotonic() of each call: how long retries took

    def __call__(self, request, **_):
        self.calls += 1
        self.called_at.append(time.monotonic())
        if self.failures < 0 or self.injected < self.failures:
            self.injected += 1
            status, body = ERRORS[self.kind]
            url = request.url
            if not self.applied:  # moto's stub runs after this hook: point it at a host it ignores, so nothing happens
                request.url = "https://not-sent.invalid/"
            return AWSResponse(url, status, {}, _Raw(body))
        return None

    def attach(self, client, operation: str) -> "InjectedErrors":
        client.meta.events.register_first(f"before-send.{client.meta.service_model.service_id.hyphenize()}.{operation}", self)
        return self


# ---------------------------------------------------------------- workers
@dataclass
class Worker:
    agent: Agent
    thread: threading.Thread
    outcome: list = field(default_factory=list)
    switch: KillSwitch | None = None

    @property
    def alive(self) -> bool:
        return self.thread.is_alive()

    def stop(self) -> None:
        self.agent.stopping.set()
        self.thread.join(timeout=15)


class LogCapture(logging.Handler):
    """Every line the workers and the Lambdas log, formatted by their own (Powertools JSON) formatter, so extra
    fields and appended keys are in the text exactly as CloudWatch would get them."""

    def __init__(self):
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        owner = logging.getLogger(record.name.split(".")[0])
        formatter = next((h.formatter for h in owner.handlers if h is not self and h.formatter), None)
        try:
            text = (formatter or logging.Formatter("%(message)s")).format(record)
        except Exception:  # noqa: BLE001 a record that cannot be formatted still counts, raw
            text = f"{record.msg} {record.args} {record.__dict__}"
        self.lines.append(text)


class Fleet:
    """Worker agents on threads, each with its own clients (as separate processes would have)."""

    def __init__(self, stack: Stack, logs: LogCapture):
        self.stack, self.logs, self.workers = stack, logs, []
        self.claim_tokens: list[str] = []  # every claim token a worker received (for the token-leak check)

    def start(self, pipeline=None, worker_id: str | None = None, *, kill: KillSwitch | None = None,
              heartbeat_interval: float = 0.3, idle_timeout: float = 600.0, fleet=None,
              s3=None, table=None, sfn=None) -> Worker:
        worker_id = worker_id or f"i-{len(self.workers):04d}"
        settings = AgentSettings(queue_url=self.stack.queue_url, output_bucket=self.stack.output_bucket,
                                 heartbeat_interval=heartbeat_interval, idle_timeout=idle_timeout, poll_seconds=1)
        s3 = s3 or boto3.client("s3", region_name=REGION, config=CLIENT_CONFIG)
        table = table or boto3.resource("dynamodb", region_name=REGION, config=CLIENT_CONFIG).Table(self.stack.table_name)
        sfn = sfn or boto3.client("stepfunctions", region_name=REGION, config=CLIENT_CONFIG)
        pipeline = pipeline or decoding_pipeline()
        if kill is not None:
            pipeline, s3 = KillablePipeline(pipeline, kill), KillableS3(s3, kill)
        logger = Logger(service="gpu_worker", process_id="-")
        channel = JobChannel(sfn, table, worker_id, token_wait_seconds=10)
        agent = Agent(settings, _RecordingSQS(boto3.client("sqs", region_name=REGION, config=CLIENT_CONFIG), self.claim_tokens),
                      s3, channel, fleet or ProcessFleet(worker_id), pipeline, logger)
        worker = Worker(agent, threading.Thread(name=worker_id, daemon=True), switch=kill)

        def body() -> None:
            try:
                worker.outcome.append(agent.run())
            except Killed as killed:
                worker.outcome.append(f"killed in {killed}")

        worker.thread._target = body  # noqa: SLF001 (Thread(target=...) would need the worker first)
        worker.thread.start()
        self.workers.append(worker)
        return worker

    def stop_all(self) -> None:
        for worker in self.workers:
            worker.agent.stopping.set()
        for worker in self.workers:
            worker.thread.join(timeout=15)
        self.workers = [w for w in self.workers if w.alive]

    @property
    def work_tokens(self) -> set[str]:
        return {t for w in self.workers for t in w.agent._seen_tokens}  # noqa: SLF001


class _RecordingSQS:
    """The worker's SQS client, remembering the claim tokens it was handed (to look for them in logs later)."""

    def __init__(self, real, tokens: list[str]):
        self.real, self.tokens = real, tokens

    def receive_message(self, **kwargs):
        import json

        answer = self.real.receive_message(**kwargs)
        for message in answer.get("Messages", []):
            try:
                self.tokens.append(json.loads(message["Body"])["claimToken"])
            except (ValueError, KeyError, TypeError):
                pass
        return answer

    def __getattr__(self, name):
        return getattr(self.real, name)


# ---------------------------------------------------------------- uploads and events
class Uploads:
    def __init__(self, stack: Stack):
        self.stack = stack
        self.start_job = moto_patches.load_handler(REPO / "functions" / "start_job")
        self.started: dict[str, list[dict]] = {}  # process id → start_job answers

    def put(self, key: str, body: bytes, metadata: dict | None = None) -> dict:
        """Upload only (no event yet); returns the HEAD of the version written."""
        version = self.stack.s3.put_object(Bucket=self.stack.input_bucket, Key=key, Body=body, Metadata=metadata or {})["VersionId"]
        return self.stack.s3.head_object(Bucket=self.stack.input_bucket, Key=key, VersionId=version)

    def event(self, key: str, head: dict, event_key: str | None = None) -> dict:
        """Deliver the EventBridge "Object Created" event of that version to StartJob, as AWS would."""
        event = object_created_event(self.stack.input_bucket, event_key or key, head)
        with moto_patches.function_environment({"STATE_MACHINE_ARN": self.stack.state_machine_arn}):
            answer = self.start_job(event, moto_patches.lambda_context_for("start_job"))
        self.started.setdefault(answer["processId"], []).append(answer)
        return answer

    def __call__(self, key: str, body: bytes, metadata: dict | None = None, event_key: str | None = None) -> dict:
        return self.event(key, self.put(key, body, metadata), event_key)


# ---------------------------------------------------------------- the end-state audit
def _details(event: dict) -> dict:
    """A history event's one `…EventDetails` member (its name depends on the event type)."""
    return next((v for k, v in event.items() if k.endswith("EventDetails")), {})


def retry_causes(stack: Stack, execution_arn: str) -> list[str]:
    """Why an execution's attempts failed (heartbeat time-outs, WorkerLost), for assertion messages."""
    events = stack.sfn.get_execution_history(executionArn=execution_arn)["events"]
    return [f"{e['type']} {_details(e).get('error')}" for e in events if e["type"] in ("TaskTimedOut", "TaskFailed")]


def execution_story(stack: Stack, execution_arn: str | None, last: int = 8) -> str:
    """The execution's status and its last history events, so that a lost job in a CI log says where it stopped."""
    if not execution_arn:
        return "no execution recorded"
    status = stack.sfn.describe_execution(executionArn=execution_arn)["status"]
    events = stack.sfn.get_execution_history(executionArn=execution_arn, reverseOrder=True)["events"][:last]
    steps = []
    for event in reversed(events):
        details = _details(event)
        steps.append(" ".join(filter(None, (event["type"], details.get("name"), details.get("error"), str(details.get("cause", ""))[:200]))))
    return f"execution {status}: " + " → ".join(steps)


def audit(stack: Stack, process_ids: Iterable[str], ledger, timeout: float = 60.0) -> dict[str, dict]:
    """Wait for every job's execution to end, then check (and record for the selfcheck line) that nothing was lost
    or written twice: each job COMPLETED with its result.json written exactly once and every output it names
    present, or FAILED with a code and a reason and no result.json; no message left in the queue."""
    process_ids = sorted(set(process_ids))
    deadline = time.monotonic() + timeout
    running = lambda: [e for e in stack.sfn.list_executions(stateMachineArn=stack.state_machine_arn, statusFilter="RUNNING")["executions"]]  # noqa: E731
    while running() and time.monotonic() < deadline:
        time.sleep(0.2)
    lost, duplicates, items = [], [], {}
    for pid in process_ids:
        item = items[pid] = stack.job(pid)
        status = item.get("status")
        prefix = f"transcripts/{item.get('userId')}/{item.get('transcriptId')}/"
        versions = stack.s3.list_object_versions(Bucket=stack.output_bucket, Prefix=prefix).get("Versions", [])
        results = [v for v in versions if v["Key"] == prefix + "result.json"]
        if status == "COMPLETED":
            present = {v["Key"] for v in versions}
            missing = [uri for uri in item.get("outputs", {}).values() if uri.split("/", 3)[3] not in present]
            if not results or missing or not item.get("outputs"):
                lost.append(f"{pid}: COMPLETED but outputs missing {missing or 'result.json'}")
            elif len(results) > 1:
                duplicates.append(f"{pid}: result.json written {len(results)} times")
        elif status == "FAILED":
            if results:
                duplicates.append(f"{pid}: FAILED but result.json exists")
            if not (item.get("error", {}).get("code") and len(item["error"].get("message", "")) > 10):
                lost.append(f"{pid}: FAILED without a code and a readable reason: {item.get('error')}")
        else:
            lost.append(f"{pid}: ended {status or 'unrecorded'} ({execution_story(stack, item.get('executionArn'))})")
    ledger.record(len(process_ids), lost, duplicates)
    assert not running(), "executions still RUNNING"
    attributes = boto3.client("sqs", region_name=REGION).get_queue_attributes(
        QueueUrl=stack.queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    assert attributes == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}, attributes
    sqs = boto3.client("sqs", region_name=REGION)
    redrive = json.loads(sqs.get_queue_attributes(QueueUrl=stack.queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"])
    dead = sqs.get_queue_url(QueueName=redrive["deadLetterTargetArn"].rsplit(":", 1)[-1])["QueueUrl"]
    dead_count = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    assert dead_count == {"ApproximateNumberOfMessages": "0"}, f"job messages dead-lettered: {dead_count}"
    assert not lost and not duplicates, lost + duplicates
    return items



def tone(seconds: float, rate: int = 16000, freq: float = 300.0) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * freq * np.arange(int(seconds * rate)) / rate)).astype(np.float32)


# ---------------------------------------------------------------- fixtures (one stack per module: deploying costs ~4 s)
@pytest.fixture(scope="module")
def rel_stack() -> Stack:
    with mock_aws(config=moto_patches.MOTO_CONFIG):
        stack = build_stack(limits={"MAX_FILE_BYTES": str(MAX_FILE_BYTES), "MAX_AUDIO_SECONDS": str(MAX_AUDIO_SECONDS),
                                    "HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS)})
        # This tier delivers each "Object Created" event itself (Uploads.event), so that it can repeat, reorder or
        # hold them back; the S3 → EventBridge → StartJob bridge itself is exercised by tests/workflow.
        stack.s3.put_bucket_notification_configuration(Bucket=stack.input_bucket, NotificationConfiguration={})
        yield stack


@pytest.fixture(scope="module")
def logs() -> LogCapture:
    """Worker lines (their Logger writes here) and the Lambdas' and pipeline modules' lines (handler added)."""
    capture = LogCapture()
    names = ("start_job", "probe_media", "scale_fleet", "gpu_worker")  # Powertools loggers are named by service
    for name in names:
        Logger(service=name)  # configure it first: Powertools leaves a logger that already has a handler unformatted
        logging.getLogger(name).addHandler(capture)
    yield capture
    for name in names:
        logging.getLogger(name).removeHandler(capture)


@pytest.fixture(scope="module")
def fleet(rel_stack, logs) -> Fleet:
    workers = Fleet(rel_stack, logs)
    yield workers
    workers.stop_all()


@pytest.fixture(scope="module")
def uploads(rel_stack) -> Uploads:
    return Uploads(rel_stack)


def replace_config(pipeline: Pipeline, **changes) -> WorkerConfig:
    """Swap a running pipeline's limits (decode timeout, max length); returns the old config to put back."""
    old = pipeline.config
    pipeline.config = dataclasses.replace(old, **changes)
    return old


def log_text(logs: LogCapture) -> str:
    return "\n".join(logs.lines)


# Reliability cases run real decodes and several workers: allow them longer by default.
wait_until = functools.partial(_wait_until, timeout=20.0)
