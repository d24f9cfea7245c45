"""Workflow tier: the real ASL executed by moto, real Lambdas in-process, real worker agents with a fake pipeline."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import boto3
import pytest
from aws_lambda_powertools import Logger
from moto import mock_aws

from gpu_worker.agent import Agent, AgentSettings
from gpu_worker.fleet import ProcessFleet
from gpu_worker.fleet_board import FleetBoard
from gpu_worker.protocol import JobChannel
from gpu_worker.result import Segment, TranscriptResult, Word
from sam import moto_patches
from scribefleet.contract import Stage, execution_name
from scribefleet.ingest import identify
from tests.support.aws import REGION, REPO, Stack, build_stack, object_created_event


class FakePipeline:
    """Stands in for diarization + transcription: takes `seconds`, reports progress, returns a fixed transcript."""

    def __init__(self, seconds: float = 0.3, error: Exception | None = None, gate: threading.Event | None = None):
        self.seconds, self.error, self.gate = seconds, error, gate
        self.runs = 0

    def run(self, audio_path, options, progress, voices=()):
        self.runs += 1
        steps = 6
        for i in range(steps):
            progress(Stage.TRANSCRIBING if i > 2 else Stage.DIARIZING, i / steps)
            if self.gate is not None:
                self.gate.wait()
            time.sleep(self.seconds / steps)
        if self.error is not None:
            raise self.error
        words = [Word(0.0, 0.4, " Hello", 0.9, "SPEAKER_00"), Word(0.5, 0.9, " world.", 0.9, "SPEAKER_00")]
        return TranscriptResult(
            language="en", duration=1.0, segments=[Segment(0.0, 0.9, "Hello world.", "SPEAKER_00", words)],
            speakers=["SPEAKER_00"], model="fake", diarizer="fake",
        )


@dataclass
class Worker:
    agent: Agent
    thread: threading.Thread
    outcome: list = field(default_factory=list)

    def stop(self) -> None:
        self.agent.stopping.set()
        self.thread.join(timeout=10)


@pytest.fixture
def aws():
    with mock_aws(config=moto_patches.MOTO_CONFIG):
        yield


@pytest.fixture
def stack(aws) -> Stack:
    return build_stack(limits={"MAX_FILE_BYTES": str(1024 * 1024)})


@pytest.fixture
def start_worker(stack):
    workers: list[Worker] = []

    def start(pipeline=None, worker_id: str | None = None, heartbeat_interval: float = 0.3, idle_timeout: float = 300.0,
              retirement=None, fleet=None, voices=None) -> Worker:
        """`retirement` (RetirementParams) with rule "cost" also gives the worker the fleet board."""
        worker_id = worker_id or f"i-{len(workers):04d}"
        settings = AgentSettings(queue_url=stack.queue_url, output_bucket=stack.output_bucket, heartbeat_interval=heartbeat_interval,
                                 idle_timeout=idle_timeout, poll_seconds=1, retirement=retirement)
        board = FleetBoard(stack.table, worker_id, stale_seconds=3) if retirement is not None and retirement.rule == "cost" else None
        channel = JobChannel(boto3.client("stepfunctions", region_name=REGION), stack.table, worker_id, token_wait_seconds=10)
        agent = Agent(settings, boto3.client("sqs", region_name=REGION), boto3.client("s3", region_name=REGION), channel,
                      fleet or ProcessFleet(worker_id), pipeline or FakePipeline(), Logger(service="gpu_worker"), board=board,
                      voices=voices)
        worker = Worker(agent, threading.Thread(target=lambda: worker.outcome.append(agent.run()), daemon=True))
        worker.thread.start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.agent.stopping.set()
    for worker in workers:
        worker.thread.join(timeout=10)


@pytest.fixture
def upload(stack):
    """Put an object into the input bucket: S3 → EventBridge → StartJob starts the execution, as in AWS (the local
    stack's bridge). `deliver` > 1 delivers the same event again to StartJob, as EventBridge may."""
    start_job = moto_patches.load_handler(REPO / "functions" / "start_job")

    def put(key: str, body: bytes, metadata: dict | None = None, deliver: int = 1) -> list[dict]:
        head = stack.s3.put_object(Bucket=stack.input_bucket, Key=key, Body=body, Metadata=metadata or {})
        head = stack.s3.head_object(Bucket=stack.input_bucket, Key=key, VersionId=head["VersionId"])
        ids = identify(key)
        name = execution_name(ids["processId"], head["VersionId"])
        arn = stack.state_machine_arn.replace(":stateMachine:", ":execution:") + ":" + name
        _wait_for_execution(stack, arn)
        results = [{"processId": ids["processId"], "executionName": name, "started": True, "executionArn": arn}]
        event = object_created_event(stack.input_bucket, key, head)
        with moto_patches.function_environment({"STATE_MACHINE_ARN": stack.state_machine_arn}):
            results += [start_job(event, moto_patches.lambda_context_for("start_job")) for _ in range(deliver - 1)]
        return results

    return put


def _wait_for_execution(stack: Stack, arn: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            stack.sfn.describe_execution(executionArn=arn)
            return
        except stack.sfn.exceptions.ExecutionDoesNotExist:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the upload's event started no execution {arn} within {timeout} s") from None
            time.sleep(0.05)
