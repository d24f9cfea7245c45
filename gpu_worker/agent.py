"""The worker loop: long-poll SQS → claim → supervised token → heartbeat thread → process → upload → callback.

Everything that can go wrong with a worker is left to the state machine: if this process dies its heartbeats stop
and Transcribe fails over to a retry; on SIGTERM it answers WorkerLost at once so the retry does not wait for the
heartbeat timeout; when its token is revoked it stops and uploads nothing.
"""
from __future__ import annotations

import json
import math
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from botocore.config import Config
from botocore.exceptions import (BotoCoreError, ClientError, ConnectionClosedError, IncompleteReadError, ReadTimeoutError,
                                 ResponseStreamingError)

from gpu_worker.chunking import ChunkResult
from gpu_worker.fleet import Fleet
from gpu_worker.fleet_board import FleetBoard
from gpu_worker.formats import CONTENT_TYPES, write_formats
from gpu_worker.protocol import AlreadyClaimed, JobChannel, JobMessage, TokenLost
from gpu_worker.result import TranscriptResult
from gpu_worker.voice_library import VoiceLibrary
from scribefleet.contract import (ErrorCode, JobField, MessageField, ScribefleetError, Stage, WorkKind, chunk_result_key,
                                  output_prefix, output_stem)
from scribefleet.options import DEFAULT_FORMATS
from scribefleet.retirement import IdleView, RetireDecision, RetirementParams, should_retire
from scribefleet.scaling import aged_claim_key
from scribefleet.timestamps import parse_timestamp

# Share of overall progress per phase around the pipeline (the pipeline reports its own 0..1 inside PIPELINE).
DOWNLOAD, PIPELINE, DELIVERY = (0.0, 0.05), (0.05, 0.92), (0.92, 1.0)
# Transient DynamoDB/S3/SQS errors and throttling: bounded retries with backoff (botocore "standard" mode: up to
# 6 retries, jittered exponential backoff capped at 20 s; tests/reliability/test_faults.py injects errors into it).
# A GET whose body broke off (the connection dropped or stalled past read_timeout): resumed this many times in all.
BROKEN_STREAM = (ResponseStreamingError, ReadTimeoutError, ConnectionClosedError, IncompleteReadError)
DOWNLOAD_ATTEMPTS = 5
CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 6}, connect_timeout=5, read_timeout=30)


class JobCancelled(Exception):
    """Raised from a progress callback when the heartbeat thread learned that the job is no longer ours."""


class TranscriptionPipeline(Protocol):
    def run(self, audio_path: Any, options: dict, progress: Callable[[Stage, float], None],
            voices: Sequence = ()) -> TranscriptResult: ...

    def run_chunk(self, audio_path: Any, options: dict, index: int, count: int,
                  progress: Callable[[Stage, float], None]) -> ChunkResult: ...

    def merge(self, chunks: Sequence[ChunkResult], options: dict, voices: Sequence = ()) -> TranscriptResult: ...


@dataclass
class AgentSettings:
    queue_url: str
    output_bucket: str
    heartbeat_interval: float = 5.0
    idle_timeout: float = 600.0  # the fixed rule's, when `retirement` is None
    poll_seconds: int = 20
    visibility_timeout: int = 120
    claim_rtf: float = 15.0  # expected speed, to weigh a job's work in the claim order (scaling.aged_claim_key)
    receive_batch: int = 10  # jobs looked at per receive to pick the aged-first one (needs the queue's high maxReceiveCount)
    retirement: RetirementParams | None = None  # None: retire after idle_timeout with an empty queue
    warm_pool: int = 0  # the ASG's warm pool size: a restart is then a warm start

    @property
    def retirement_params(self) -> RetirementParams:
        return self.retirement or RetirementParams(rule="fixed", idle_timeout=self.idle_timeout)


class Progress:
    """What the main thread is doing, read by the heartbeat thread (the seed used a JSON file for this)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.stage, self.percent = Stage.CLAIMED, 0.0
        self.cancelled = threading.Event()

    def set(self, stage: Stage, span: tuple[float, float], fraction: float) -> None:
        if self.cancelled.is_set():
            raise JobCancelled()
        low, high = span
        with self._lock:
            self.stage = stage
            self.percent = max(self.percent, 100 * (low + (high - low) * min(max(fraction, 0.0), 1.0)))

    def snapshot(self) -> tuple[Stage, float]:
        with self._lock:
            return self.stage, self.percent


class Heartbeat(threading.Thread):
    """Every `interval` s: SendTaskHeartbeat + stage/progress in the job item. Revoked token → cancel the job."""

    def __init__(self, channel: JobChannel, job: JobMessage, token: str, progress: Progress, interval: float, log):
        super().__init__(name=f"heartbeat-{job.process_id}", daemon=True)
        self.channel, self.job, self.token, self.progress, self.interval, self.log = channel, job, token, progress, interval, log
        self.stopped = threading.Event()
        self.beats = 0

    def run(self) -> None:
        while True:
            try:
                stage, percent = self.progress.snapshot()
                self.channel.heartbeat(self.job, self.token, stage, percent)
                self.beats += 1
            except TokenLost as lost:
                self.log.warning("job taken from this worker; abandoning it", extra={"reason": str(lost)})
                self.progress.cancelled.set()
                return
            except Exception:  # a transient failure must not kill the heartbeat; the next beat may pass
                self.log.exception("heartbeat failed")
            if self.stopped.wait(self.interval):
                return


def publish_job_metrics(job: JobMessage, item: dict, processing_seconds: float) -> None:
    """Per-job figures as CloudWatch EMF (Powertools Metrics; the agent ships the worker's stdout/log file)."""
    from aws_lambda_powertools import Metrics

    from scribefleet.observability import NAMESPACE
    from scribefleet.scaling import job_metrics

    claimed = job_metrics({JobField.CREATED_AT: item.get(JobField.CREATED_AT), JobField.CLAIMED_AT: item.get(JobField.CLAIMED_AT)})
    metrics = Metrics(namespace=NAMESPACE, service="gpu_worker")
    metrics.add_metric(name="ProcessingSeconds", unit="Seconds", value=processing_seconds)
    metrics.add_metric(name="Attempts", unit="Count", value=int(item.get(JobField.ATTEMPTS, 1) or 1))
    if claimed.queue_wait_seconds is not None:
        metrics.add_metric(name="QueueWaitSeconds", unit="Seconds", value=claimed.queue_wait_seconds)
    if job.audio_seconds and processing_seconds > 0:
        metrics.add_metric(name="RealTimeFactor", unit="None", value=job.audio_seconds / processing_seconds)
    metrics.add_metadata(key="process_id", value=job.process_id)
    metrics.flush_metrics()


class Agent:
    def __init__(
        self,
        settings: AgentSettings,
        sqs,
        s3,
        channel: JobChannel,
        fleet: Fleet,
        pipeline: TranscriptionPipeline,
        logger,
        work_dir: str | None = None,
        board: FleetBoard | None = None,
        clock=time.time,
        voices: VoiceLibrary | None = None,
    ):
        self.settings, self.sqs, self.s3, self.channel, self.fleet = settings, sqs, s3, channel, fleet
        self.pipeline, self.log, self.work_dir = pipeline, logger, work_dir
        self.board, self.clock = board, clock  # the board: what the cost rule knows of the fleet (None: nothing)
        self.voices = voices or VoiceLibrary(s3)
        self.stopping = threading.Event()
        self.current: tuple[JobMessage, str] | None = None  # (job, token answerable right now)
        self._seen_tokens: set[str] = set()
        self.completed = 0

    # ---- the loop -------------------------------------------------------------------------------------------
    def run(self) -> str:
        """Work until the retirement rule says to leave (then retire) or stopped. Returns why it ended."""
        idle_since, ask_in = self.clock(), 0.0
        while not self.stopping.is_set():
            # Never a short poll (WaitTimeSeconds=0), not even on start, after a job or when the rule says "ask again
            # now": a short poll samples only some of SQS's servers and may answer empty while jobs wait, which would
            # count as idle time towards retirement (and spin when the board sees jobs queued). Any wait >= 1 s queries
            # all of them and still returns as soon as a message is there ("Setting-up long polling in Amazon SQS",
            # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/best-practices-setting-up-long-polling.html).
            wait = max(1, min(self.settings.poll_seconds, math.ceil(ask_in)))
            # Every receive counts towards the job queue's maxReceiveCount: with 5 (the old setting) receiving 10 and
            # handing 9 back dead-lettered queued jobs within seconds (chaos run: 4 of 12 lost). The template sets
            # 100; a message is received about once per claim made while it waits, so that leaves a wide margin.
            messages = self.sqs.receive_message(
                QueueUrl=self.settings.queue_url, MaxNumberOfMessages=self.settings.receive_batch, WaitTimeSeconds=wait,
                VisibilityTimeout=self.settings.visibility_timeout, MessageSystemAttributeNames=["SentTimestamp"],
            ).get("Messages", [])
            if messages:
                self.handle(self._take_one(messages))
                idle_since, ask_in = self.clock(), 0.0
                continue
            decision = self._retirement(idle_since)
            if decision.retire:
                self.log.info("idle; retiring this instance", extra={
                    "idle_seconds": round(self.clock() - idle_since, 1), "instance": self.fleet.instance_id,
                    "reason": decision.reason})
                self._leave_board()
                try:
                    self.fleet.retire()
                except (BotoCoreError, ClientError) as error:
                    # TerminateInstanceInAutoScalingGroup answers ScalingActivityInProgress or ResourceContention
                    # while the group is busy (API reference), which botocore's retries do not cover: stay, work on
                    # and ask again after the next empty receive rather than crash and start the idle wait anew.
                    self.log.warning("could not retire; staying in the fleet", extra={
                        "instance": self.fleet.instance_id, "error": str(error)})
                    ask_in = self.settings.poll_seconds
                    continue
                if not self.fleet.await_termination(self.stopping):
                    self.log.warning("retired, but no shutdown came; exiting", extra={"instance": self.fleet.instance_id})
                return "retired"
            ask_in = decision.recheck_in
        return "stopped"

    def _retirement(self, idle_since: float) -> RetireDecision:
        """Asked after an empty receive (so nothing is queued for this worker). Without the board (or when it cannot
        be read) the rule knows only this worker's idle time, which makes the cost rule plain ski rental."""
        params = self.settings.retirement_params
        view = IdleView(now=self.clock(), idle_since=idle_since, worker_id=self.fleet.instance_id,
                        warm_available=self.settings.warm_pool)
        if self.board is not None and params.rule == "cost":
            try:
                view = self.board.idle(idle_since, warm_available=self.settings.warm_pool)
            except Exception:
                self.log.warning("fleet board unreadable; deciding on this worker's idle time alone", exc_info=True)
        return should_retire(view, params)

    def _board_busy(self, job: JobMessage, item: dict) -> None:
        if self.board is None:
            return
        now = self.clock()
        created = parse_timestamp(item.get(JobField.CREATED_AT))
        work = job.audio_seconds / self.settings.claim_rtf
        try:
            self.board.busy(now + work, job.process_id, created.timestamp() if created else now, job.audio_seconds)
        except Exception:  # the board informs retirement; a job must never fail for it
            self.log.warning("fleet board not updated", exc_info=True)

    def _leave_board(self) -> None:
        if self.board is None:
            return
        try:
            self.board.leave()
        except Exception:  # a stale entry is ignored by the others and removed by the next reader
            self.log.warning("fleet board entry not removed", exc_info=True)

    def _take_one(self, messages: list[dict]) -> dict:
        """SQS has no order: of the (up to 10) jobs received, take the first in the aged claim order the simulator
        settled on (long files uploaded together go first; older uploads are not starved) and hand the rest back."""
        def key(message: dict) -> float:
            try:
                audio = float(json.loads(message["Body"]).get(MessageField.AUDIO_SECONDS) or 0)
            except (ValueError, TypeError, AttributeError):
                audio = 0.0
            sent = int(message.get("Attributes", {}).get("SentTimestamp", 0)) / 1000
            return aged_claim_key(sent, audio / self.settings.claim_rtf)

        chosen, *rest = sorted(messages, key=key)
        for message in rest:
            self.sqs.change_message_visibility(
                QueueUrl=self.settings.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
        return chosen

    def handle(self, message: dict) -> None:
        try:
            job = JobMessage.from_sqs(message)
        except (KeyError, ValueError, TypeError):
            # The body may hold a task token (a bearer credential): log its size, never its content.
            self.log.error("unreadable job message dropped", extra={"body_bytes": len(message.get("Body", ""))})
            self._delete(message)
            return
        self.log.append_keys(process_id=job.log_id)
        if job.kind is not WorkKind.WHOLE:
            self.log.append_keys(work=f"{job.kind} {job.index + 1}/{job.count}" if job.kind is WorkKind.CHUNK else str(job.kind))
        try:
            self._claim_and_process(job, message)
        finally:
            self.current = None
            self.log.append_keys(process_id="-")  # worker-level lines between jobs
            self.log.remove_keys(["work"])

    def _claim_and_process(self, job: JobMessage, message: dict) -> None:
        try:
            self.channel.claim(job)
        except AlreadyClaimed:
            self.log.info("job already claimed by another worker (duplicate delivery); backing off")
            self._delete(message)
            return
        except TokenLost as lost:
            self.log.warning("claim token no longer valid; dropping message", extra={"reason": str(lost)})
            self._delete(message)
            return
        # Claimed: from here on the state machine supervises the job, the message has done its work.
        self._delete(message)
        self.current = (job, job.claim_token)
        try:
            token, item = self.channel.wait_for_work_token(job, self._seen_tokens)
        except TokenLost as lost:
            self.log.warning("never received the supervised token", extra={"reason": str(lost)})
            return
        self.current = (job, token)
        self.log.info("job claimed", extra={"worker": self.channel.worker_id, "audio_seconds": job.audio_seconds})
        self._board_busy(job, item or {})
        self.process(job, token, item)

    # ---- one job --------------------------------------------------------------------------------------------
    def process(self, job: JobMessage, token: str, item: dict | None = None) -> None:
        progress = Progress()
        heartbeat = Heartbeat(self.channel, job, token, progress, self.settings.heartbeat_interval, self.log)
        heartbeat.start()
        scratch = Path(tempfile.mkdtemp(prefix="scribefleet-", dir=self.work_dir))
        started = time.monotonic()
        try:
            outputs = self._transcribe(job, token, progress, scratch)
            progress.set(Stage.UPLOADING, DELIVERY, 1.0)
            self.channel.succeed(token, outputs)
            self.completed += 1
            seconds = time.monotonic() - started
            self.log.info("job completed", extra={"seconds": round(seconds, 2), "outputs": len(outputs)})
            publish_job_metrics(job, item or {}, seconds)
        except (JobCancelled, TokenLost) as lost:
            self.log.warning("job abandoned; nothing uploaded", extra={"reason": str(lost) or "token revoked"})
        except ScribefleetError as error:
            self.log.warning("job failed", extra={"error": error.as_dict()})
            self.channel.fail(token, str(error.code), error.message)
        except Exception as error:
            self.log.exception("job crashed")
            self.channel.fail(token, str(ErrorCode.INTERNAL), f"{type(error).__name__}: {error}"[:2000])
        finally:
            heartbeat.stopped.set()
            heartbeat.join(timeout=self.settings.heartbeat_interval + 5)
            shutil.rmtree(scratch, ignore_errors=True)

    def _transcribe(self, job: JobMessage, token: str, progress: Progress, scratch: Path) -> dict[str, str]:
        report = lambda stage, fraction: progress.set(stage, PIPELINE, fraction)  # noqa: E731
        progress.set(Stage.DOWNLOADING, DOWNLOAD, 0.0)
        if job.kind is WorkKind.MERGE:  # reads the chunks' results, not the media
            result = self.pipeline.merge(self._chunk_results(job), job.options, self._enrolled_voices(job))
        else:
            source = self._download(job, scratch)
            progress.set(Stage.DECODING, DOWNLOAD, 1.0)
            if job.kind is WorkKind.CHUNK:
                chunk = self.pipeline.run_chunk(source, job.options, job.index, job.count, report)
                return self._deliver_chunk(job, token, chunk, progress)
            result = self.pipeline.run(source, job.options, report, self._enrolled_voices(job))
        progress.set(Stage.WRITING, DELIVERY, 0.0)
        stem = output_stem(job.file_name)
        files = write_formats(result, job.options.get("formats") or DEFAULT_FORMATS, scratch / "out", stem, job.options)
        return self._deliver(job, token, result, files, stem, progress)

    def _chunk_results(self, job: JobMessage) -> list[ChunkResult]:
        """The merge reads what every chunk left in the work area (each written before its chunk succeeded)."""
        bucket = self.settings.output_bucket
        return [ChunkResult.from_dict(json.loads(self.s3.get_object(
                    Bucket=bucket, Key=chunk_result_key(job.user_id, job.transcript_id, i))["Body"].read()))
                for i in range(job.count)]

    def _deliver_chunk(self, job: JobMessage, token: str, chunk: ChunkResult, progress: Progress) -> dict[str, str]:
        """A chunk's result goes to the work area, committed like a whole file's outputs (only while holding the
        token), so a replaced chunk worker that wakes up overwrites nothing."""
        key = chunk_result_key(job.user_id, job.transcript_id, job.index)
        outputs = {"chunk": f"s3://{self.settings.output_bucket}/{key}"}
        progress.set(Stage.UPLOADING, DELIVERY, 0.0)
        self.channel.commit(job, token, outputs)
        self.s3.put_object(Bucket=self.settings.output_bucket, Key=key, Body=json.dumps(chunk.to_dict()).encode(),
                           ContentType="application/json")
        return outputs

    def _enrolled_voices(self, job: JobMessage) -> list:
        """The uploading user's voices (never another user's). Unreadable voices leave speakers unnamed; they
        never fail the transcription the user asked for."""
        try:
            voices = self.voices.load(job.bucket, job.user_id)
        except (ClientError, ScribefleetError) as error:
            self.log.warning("enrolled voices not loaded", extra={"error": str(error)[:500]})
            return []
        if voices:
            self.log.info("enrolled voices loaded", extra={"voices": len(voices)})
        return voices

    def _download(self, job: JobMessage, scratch: Path) -> Path:
        """The exact version that was probed: by version id, or by ETag when the bucket is unversioned.

        botocore retries a GET that fails, not a body that breaks off after the 200 ("socket errors and read timeouts
        that occur after receiving an OK response", boto3's S3 customization reference): a dropped connection
        mid-file resumes with a Range GET of the same version from the bytes already written."""
        target = scratch / "input" / "media"
        target.parent.mkdir(parents=True)
        extra = {"VersionId": job.version_id} if job.version_id else ({"IfMatch": job.etag} if job.etag else {})
        with open(target, "wb") as out:
            for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
                resume = {"Range": f"bytes={out.tell()}-"} if out.tell() else {}
                try:
                    body = self.s3.get_object(Bucket=job.bucket, Key=job.key, **extra, **resume)["Body"]
                    shutil.copyfileobj(body, out, length=1024 * 1024)
                    return target
                except BROKEN_STREAM as error:
                    if attempt == DOWNLOAD_ATTEMPTS:
                        raise
                    self.log.warning("input download broke off; resuming", extra={"bytes": out.tell(), "error": str(error)[:200]})
                except ClientError as error:
                    code = error.response["Error"]["Code"]
                    # 405: the version is now a delete marker (S3 API reference, GetObject)
                    if code in ("PreconditionFailed", "412", "NoSuchKey", "404", "NoSuchVersion", "MethodNotAllowed", "405"):
                        raise ScribefleetError(
                            ErrorCode.INPUT_CHANGED, f"the uploaded file was replaced or deleted before processing ({code})"
                        ) from None
                    raise
        return target

    def _deliver(self, job, token, result: TranscriptResult, files: dict[str, Path], stem: str, progress: Progress) -> dict[str, str]:
        """Commit (only while holding the token), then upload; result.json last so its presence means complete."""
        prefix = output_prefix(job.user_id, job.transcript_id)
        bucket = self.settings.output_bucket
        outputs = {fmt: f"s3://{bucket}/{prefix}{path.name}" for fmt, path in files.items()}
        outputs["result"] = f"s3://{bucket}/{prefix}result.json"
        self.channel.commit(job, token, outputs)
        for done, (fmt, path) in enumerate(files.items()):
            progress.set(Stage.UPLOADING, DELIVERY, (done + 1) / (len(files) + 1))
            self.s3.upload_file(str(path), bucket, prefix + path.name, ExtraArgs={"ContentType": CONTENT_TYPES[fmt]})
        summary = {"processId": job.log_id, "outputs": outputs, **result.to_dict()}
        self.s3.put_object(Bucket=bucket, Key=prefix + "result.json", Body=json.dumps(summary).encode(), ContentType="application/json")
        return outputs

    # ---- termination ----------------------------------------------------------------------------------------
    def on_terminate(self, *_: Any) -> None:
        """SIGTERM (scale-in, spot notice, systemd stop): hand the job back at once so the retry starts now."""
        self.stopping.set()
        current = self.current
        if current is not None:
            job, token = current
            self.log.warning("terminating mid-job; reporting WorkerLost", extra={"process_id": job.process_id})
            self.channel.fail(token, str(ErrorCode.WORKER_LOST), "the worker was shut down (scale-in or spot interruption)")
        raise SystemExit(0)

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.on_terminate)

    def _delete(self, message: dict) -> None:
        self.sqs.delete_message(QueueUrl=self.settings.queue_url, ReceiptHandle=message["ReceiptHandle"])


# ---- process entry point (`python -m gpu_worker run`) ----------------------------------------------------------
def worker_logger(log_file: str, level: str):
    """JSON lines (Powertools Logger) to stdout and, on EC2, to the file the CloudWatch agent ships.
    The stdlib loggers of the pipeline modules get the same handlers, so their lines carry the process id too; so do
    the warnings of the libraries under them (faster-whisper, pyannote, torch) and Python's `warnings`, through the
    root logger (WARNING and up), which would otherwise print them as plain text without it."""
    import logging

    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.logging import utils as logging_utils

    handler = logging.FileHandler(log_file) if log_file else logging.StreamHandler()
    logger = Logger(service="gpu_worker", logger_handler=handler, level=level, process_id="-")
    logging_utils.copy_config_to_registered_loggers(source_logger=logger, include={"gpu_worker"})
    logging.getLogger().addHandler(handler)  # the Powertools formatter, with the keys the worker appends per job
    logging.getLogger("gpu_worker").propagate = False  # its lines (and its modules') are written once, by its handler
    logging.captureWarnings(True)
    return logger


def main(config) -> int:
    """Build the real clients, fleet and pipeline from WorkerConfig and work until retired or terminated."""
    import boto3

    from gpu_worker.fleet import AutoScalingFleet
    from gpu_worker.pipeline import Pipeline

    missing = config.missing_for_jobs()
    if missing:
        raise SystemExit(f"missing configuration: {', '.join(missing)}")
    log = worker_logger(config.log_file, config.log_level)
    client = lambda name: boto3.client(name, config=CLIENT_CONFIG)  # noqa: E731
    fleet = AutoScalingFleet(client("autoscaling"), instance_id=config.instance_id or None)
    table = boto3.resource("dynamodb", config=CLIENT_CONFIG).Table(config.table_name)
    log.info("loading models", extra={"instance": fleet.instance_id, "model_dir": config.model_dir, "diarizer": config.diarizer})
    pipeline = Pipeline(config)
    settings = AgentSettings(
        queue_url=config.queue_url, output_bucket=config.output_bucket,
        heartbeat_interval=config.heartbeat_interval, idle_timeout=config.idle_timeout, warm_pool=config.warm_pool,
    )
    settings.retirement = RetirementParams(
        rule=config.retirement, idle_timeout=config.idle_timeout, boot_seconds=config.boot_seconds,
        warm_start_seconds=config.warm_start_seconds, rtf=settings.claim_rtf, latency_weight=config.latency_weight,
    )
    # Only the cost rule reads the board. An idle entry is stale after three missed check-ins (one per empty poll).
    board = FleetBoard(table, fleet.instance_id, stale_seconds=3 * settings.poll_seconds) if config.retirement == "cost" else None
    channel = JobChannel(client("stepfunctions"), table, fleet.instance_id)
    agent = Agent(settings, client("sqs"), client("s3"), channel, fleet, pipeline, log, board=board)
    agent.install_signal_handlers()
    log.info("worker ready", extra={"instance": fleet.instance_id})
    outcome = agent.run()
    log.info("worker exiting", extra={"outcome": outcome, "jobs_completed": agent.completed})
    return 0
