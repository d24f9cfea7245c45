"""The workflow's timeout, retry and failure-description paths on the real ASL (moto, with moto patch 9 telling a
heartbeat lapse from a run past TimeoutSeconds, as AWS does): a lost worker is replaced, a job past its process
timeout fails for good with its own code, a throttled callback task is retried, and an error without a Cause still
leaves a FAILED job with a reason."""
from __future__ import annotations

import json
import threading

import boto3
import pytest
from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException
from moto.dynamodb.models import DynamoDBBackend
from moto.sqs.exceptions import SQSException
from moto.sqs.models import SQSBackend
from samtranslator.yaml_helper import yaml_parse

from scribefleet.contract import ErrorCode
from tests.infra.test_asl_semantics import TEMPLATE, filter_matches
from tests.support.aws import HEARTBEAT_SECONDS, build_stack
from tests.support.media import wav_bytes
from tests.support.waiting import wait_until
from tests.workflow.conftest import FakePipeline

PROCESS_TIMEOUT_BASE_SECONDS = 12  # + ceil(0.5 x 1 s of audio) = 13 s for the 1 s files below

pytestmark = pytest.mark.fault


@pytest.fixture
def stack(aws):
    return build_stack(limits={"PROCESS_TIMEOUT_BASE_SECONDS": str(PROCESS_TIMEOUT_BASE_SECONDS)})


def history(stack, execution_arn: str) -> list[dict]:
    return stack.sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]


def timed_out(events: list[dict]) -> list[dict]:
    return [e["taskTimedOutEventDetails"] for e in events if e["type"] == "TaskTimedOut"]


def test_a_worker_that_stops_heartbeating_is_a_heartbeat_timeout_and_the_job_is_retried(stack, upload, start_worker):
    frozen = threading.Event()  # never set before the end: the first worker hangs and stops beating, as a dead one
    start_worker(FakePipeline(gate=frozen), worker_id="i-dead", heartbeat_interval=3600)
    started = upload("uploads/u1/hb/a.wav", wav_bytes(1.0))
    wait_until(lambda: stack.job("u1-hb").get("workerId") == "i-dead", timeout=20)
    start_worker(worker_id="i-healthy")
    execution = stack.wait(started[0]["executionArn"], timeout=90)
    frozen.set()

    assert execution["status"] == "SUCCEEDED", execution
    assert stack.job("u1-hb")["attempts"] == 2
    (lapse,) = timed_out(history(stack, started[0]["executionArn"]))
    assert lapse["error"] == "States.HeartbeatTimeout"
    # the event the HeartbeatTimeouts metric filter counts, in the shape the state machine log carries it
    pattern = yaml_parse(TEMPLATE.read_text())["Resources"]["HeartbeatTimeoutMetricFilter"]["Properties"]["FilterPattern"]
    assert filter_matches(pattern, {"type": "TaskTimedOut", "details": lapse}), lapse


def test_a_job_past_its_process_timeout_fails_with_its_own_code_and_is_not_retried(stack, upload, start_worker):
    """The worker is alive and heartbeating, the job simply takes too long: running it again would take as long."""
    endless = threading.Event()
    slow = start_worker(FakePipeline(gate=endless), worker_id="i-slow")
    started = upload("uploads/u1/slow/a.wav", wav_bytes(1.0))
    execution = stack.wait(started[0]["executionArn"], timeout=90)
    endless.set()

    assert execution["status"] == "FAILED" and execution["error"] == ErrorCode.PROCESS_TIMEOUT, execution
    job = stack.job("u1-slow")
    assert job["status"] == "FAILED" and job["attempts"] == 1
    assert job["error"]["code"] == "ProcessTimeout"
    assert "time limit for this file (13 s)" in job["error"]["message"] and "not retried" in job["error"]["message"]
    assert [t["error"] for t in timed_out(history(stack, started[0]["executionArn"]))] == ["States.Timeout"]
    assert "activeStatus" not in job and "workToken" not in job
    # the released worker finds its token revoked: it abandons the job and commits nothing
    wait_until(lambda: slow.agent.current is None, timeout=30)
    assert slow.agent.completed == 0 and slow.agent.pipeline.runs == 1 and stack.job("u1-slow")["status"] == "FAILED"
    assert "Contents" not in stack.s3.list_objects_v2(Bucket=stack.output_bucket, Prefix="transcripts/u1/slow/")


def test_one_throttled_send_and_one_throttled_token_hand_over_are_retried(stack, upload, start_worker, monkeypatch):
    """A single throttle on WaitForWorker's SQS send or on Transcribe's DynamoDB update must not fail the job."""
    failed = {"sqs": 0, "dynamodb": 0}
    send, update = SQSBackend.send_message, DynamoDBBackend.update_item

    def throttled_send(self, queue_name, message_body, *args, **kwargs):
        if "claimToken" in message_body and not failed["sqs"]:
            failed["sqs"] += 1
            raise SQSException("RequestThrottled", "Rate exceeded")
        return send(self, queue_name, message_body, *args, **kwargs)

    def throttled_update(self, table_name, key, update_expression, *args, **kwargs):
        if "workToken = :token" in (update_expression or "") and not failed["dynamodb"]:
            failed["dynamodb"] += 1
            raise DynamodbException(ERROR_TYPE_PREFIX + "ProvisionedThroughputExceededException", "Throughput exceeds the limit")
        return update(self, table_name, key, update_expression, *args, **kwargs)

    monkeypatch.setattr(SQSBackend, "send_message", throttled_send)
    monkeypatch.setattr(DynamoDBBackend, "update_item", throttled_update)
    start_worker()
    started = upload("uploads/u1/busy/a.wav", wav_bytes(1.0))
    execution = stack.wait(started[0]["executionArn"], timeout=60)

    assert execution["status"] == "SUCCEEDED", execution
    assert failed == {"sqs": 1, "dynamodb": 1}
    errors = [e["taskFailedEventDetails"]["error"] for e in history(stack, started[0]["executionArn"]) if e["type"] == "TaskFailed"]
    assert sorted(errors) == ["DynamoDb.ProvisionedThroughputExceededException", "SQS.SdkClientException"]
    assert stack.job("u1-busy")["attempts"] == 1


NO_REASON = "The transcription workflow stopped with States.Timeout and gave no further reason. (States.Timeout)"


@pytest.mark.parametrize(("error", "code", "message"), [
    ({"Error": "States.Timeout"}, "InternalError", NO_REASON),
    ({"Error": "States.Timeout", "Cause": ""}, "InternalError", NO_REASON),
    ({"Error": "NoWorker"}, "NoWorker", "The transcription workflow stopped with NoWorker and gave no further reason."),
    ({"Error": "NoWorker", "Cause": "No worker claimed the job within the claim timeout."}, "NoWorker",
     "No worker claimed the job within the claim timeout."),
])
def test_a_failure_without_a_cause_still_records_the_job_failed_with_a_reason(stack, error, code, message):
    """AWS leaves Cause out of some error outputs (timeouts among them); moto always fills it in, so the failure path
    is run from DescribeFailure on the deployed definition with the error output as AWS may give it."""
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    described = sfn.describe_state_machine(stateMachineArn=stack.state_machine_arn)
    from_failure = {**json.loads(described["definition"]), "StartAt": "DescribeFailure"}
    machine = sfn.create_state_machine(name="from-describe-failure", definition=json.dumps(from_failure), roleArn=described["roleArn"])
    job_input = {"processId": "u1-nc", "userId": "u1", "transcriptId": "nc", "fileName": "a.wav",
                 "input": {"bucket": stack.input_bucket, "key": "uploads/u1/nc/a.wav"}, "error": error}
    execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="no-cause", input=json.dumps(job_input))
    ended = stack.wait(execution["executionArn"], timeout=30)

    assert (ended["status"], ended["error"], ended.get("cause")) == ("FAILED", code, message)
    job = stack.job("u1-nc")
    assert job["status"] == "FAILED" and job["error"] == {"code": code, "message": message}
