"""The transcription state machine end to end on moto: every path a job can take ends in a recorded state."""
from __future__ import annotations

import json
import threading
import time

import boto3
import pytest
from boto3.dynamodb.conditions import Attr

from scribefleet.contract import ErrorCode, ScribefleetError
from tests.support.aws import HEARTBEAT_SECONDS
from tests.support.media import wav_bytes
from tests.support.waiting import wait_until
from tests.workflow.conftest import FakePipeline


def test_happy_path_completes_with_outputs_in_item_and_execution(stack, upload, start_worker):
    worker = start_worker()
    started = upload("uploads/u1/t1/take one.wav", wav_bytes(2.0), {"language": "en", "formats": "srt,vtt,json"})
    assert started[0]["started"] is True
    execution = stack.wait(started[0]["executionArn"])

    assert execution["status"] == "SUCCEEDED", execution
    output = json.loads(execution["output"])
    job = stack.job("u1-t1")
    assert job["status"] == "COMPLETED" and job["progress"] == 100 and job["stage"] == "done"
    assert job["workerId"] == worker.agent.channel.worker_id and job["attempts"] == 1
    assert set(output["outputs"]) == {"srt", "vtt", "json", "result"} == set(job["outputs"])
    keys = {o["Key"] for o in stack.s3.list_objects_v2(Bucket=stack.output_bucket)["Contents"]}
    assert keys == {"transcripts/u1/t1/take one.srt", "transcripts/u1/t1/take one.vtt", "transcripts/u1/t1/take one.json", "transcripts/u1/t1/result.json"}
    stored_as = {k.rsplit(".", 1)[1]: stack.s3.head_object(Bucket=stack.output_bucket, Key=k)["ContentType"] for k in keys}
    assert stored_as == {"srt": "application/x-subrip; charset=utf-8", "vtt": "text/vtt; charset=utf-8", "json": "application/json"}


def _history_errors(stack, execution_arn: str) -> list[str]:
    events = stack.sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    return [e.get("taskFailedEventDetails", e.get("executionFailedEventDetails", {})).get("error") for e in events if "Failed" in e["type"]]


@pytest.mark.fault
def test_worker_that_stops_heartbeating_is_replaced_and_second_worker_completes(stack, upload, start_worker):
    frozen = threading.Event()  # never set: the first worker hangs mid-job, as a dead machine would
    dead = start_worker(FakePipeline(gate=frozen), worker_id="i-dead", heartbeat_interval=3600)
    started = upload("uploads/u1/t2/a.wav", wav_bytes(1.0))
    wait_until(lambda: stack.job("u1-t2").get("workerId") == "i-dead", timeout=20)
    healthy = start_worker(worker_id="i-healthy")
    execution = stack.wait(started[0]["executionArn"], timeout=60)

    assert execution["status"] == "SUCCEEDED"
    job = stack.job("u1-t2")
    assert job["status"] == "COMPLETED" and job["workerId"] == "i-healthy" and job["attempts"] == 2
    assert healthy.agent.completed == 1 and dead.agent.completed == 0
    # The dead worker wakes up late: its token was revoked, so it must not overwrite the new result.
    before = stack.s3.get_object(Bucket=stack.output_bucket, Key="transcripts/u1/t2/result.json")["LastModified"]
    frozen.set()
    dead.stop()
    after = stack.s3.get_object(Bucket=stack.output_bucket, Key="transcripts/u1/t2/result.json")["LastModified"]
    assert before == after and stack.job("u1-t2")["status"] == "COMPLETED"


@pytest.mark.fault
def test_three_dead_workers_fail_the_job_with_a_reason_and_nothing_in_progress(stack, upload, start_worker):
    frozen = threading.Event()
    started = upload("uploads/u1/t3/a.wav", wav_bytes(1.0))
    for attempt in range(3):
        start_worker(FakePipeline(gate=frozen), worker_id=f"i-dead-{attempt}", heartbeat_interval=3600)
        wait_until(lambda: stack.job("u1-t3").get("attempts", 0) == attempt + 1, timeout=30)
    execution = stack.wait(started[0]["executionArn"], timeout=60)
    frozen.set()

    assert execution["status"] == "FAILED" and execution["error"] == "WorkerLost"
    job = stack.job("u1-t3")
    assert job["status"] == "FAILED" and job["attempts"] == 3
    assert job["error"]["code"] == "WorkerLost" and "heartbeat" in job["error"]["message"]
    assert not stack.table.scan(FilterExpression=Attr("status").eq("IN_PROGRESS"))["Items"]
    assert "Contents" not in stack.s3.list_objects_v2(Bucket=stack.output_bucket)


@pytest.mark.bad_input
def test_bad_input_reported_by_worker_fails_at_once_without_retry(stack, upload, start_worker):
    start_worker(FakePipeline(error=ScribefleetError(ErrorCode.BAD_INPUT, "the audio stream cannot be decoded")))
    started = upload("uploads/u1/t4/a.wav", wav_bytes(1.0))
    execution = stack.wait(started[0]["executionArn"])

    assert execution["status"] == "FAILED" and execution["error"] == "BadInput"
    job = stack.job("u1-t4")
    assert job["attempts"] == 1
    assert job["error"] == {"code": "BadInput", "message": "the audio stream cannot be decoded"}


@pytest.mark.fault
def test_same_event_twice_gives_one_job_and_one_execution(stack, upload, start_worker):
    worker = start_worker()
    started = upload("uploads/u1/t5/a.wav", wav_bytes(1.0), deliver=2)
    assert [s["started"] for s in started] == [True, False]
    assert started[0]["executionName"] == started[1]["executionName"]
    assert stack.wait(started[0]["executionArn"])["status"] == "SUCCEEDED"
    assert len(stack.sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"]) == 1
    assert worker.agent.completed == 1 and worker.agent.pipeline.runs == 1


@pytest.mark.fault
def test_reupload_to_same_transcript_id_records_no_second_job(stack, upload, start_worker):
    start_worker()
    first = upload("uploads/u1/t6/a.wav", wav_bytes(1.0))
    assert stack.wait(first[0]["executionArn"])["status"] == "SUCCEEDED"
    second = upload("uploads/u1/t6/b.wav", wav_bytes(1.0))
    execution = stack.wait(second[0]["executionArn"])
    assert execution["status"] == "SUCCEEDED"  # ended in DuplicateEvent
    job = stack.job("u1-t6")
    assert job["status"] == "COMPLETED" and job["fileName"] == "a.wav" and job["executionArn"] == first[0]["executionArn"]


@pytest.mark.parametrize(
    ("key", "body", "metadata", "code"),
    [
        ("uploads/u1/empty/a.wav", b"", {}, "EmptyFile"),
        ("uploads/u1/text/notes.mp3", b"these are meeting notes, not audio\n" * 20, {}, "UnsupportedMedia"),
        ("uploads/u1/big/a.wav", None, {}, "FileTooLarge"),
        ("uploads/bad.user/t/a.wav", None, {}, "BadKey"),
        ("uploads/u1/t/folder/", b"", {}, "BadKey"),
        ("uploads/u1/opts/a.wav", None, {"min-speakers": "3", "max-speakers": "2"}, "InvalidOptions"),
        ("uploads/u1/lang/a.wav", None, {"language": "xx"}, "InvalidOptions"),
    ],
)
@pytest.mark.bad_input
def test_rejected_uploads_fail_with_reason_and_are_never_queued(stack, upload, key, body, metadata, code):
    body = wav_bytes(1.0) if body is None else body
    if code == "FileTooLarge":
        body = wav_bytes(40.0)  # 1.28 MB against the 1 MB limit set below
    started = upload(key, body, metadata)
    execution = stack.wait(started[0]["executionArn"])

    assert execution["status"] == "FAILED" and execution["error"] == code
    job = stack.job(started[0]["processId"])
    assert job["status"] == "FAILED" and job["error"]["code"] == code and len(job["error"]["message"]) > 10
    assert "Messages" not in boto3.client("sqs").receive_message(QueueUrl=stack.queue_url, WaitTimeSeconds=0)
    versions = stack.s3.list_object_versions(Bucket=stack.input_bucket)["Versions"]
    assert [v["Key"] for v in versions] == [key]  # the input is untouched


@pytest.mark.fault
def test_job_waiting_longer_than_heartbeat_interval_still_completes(stack, upload, start_worker):
    started = upload("uploads/u1/t7/a.wav", wav_bytes(1.0))
    wait_until(lambda: stack.job("u1-t7").get("status") == "QUEUED", timeout=10)
    time.sleep(HEARTBEAT_SECONDS * 1.5)  # no worker at all for longer than a heartbeat window: nothing times out
    assert stack.sfn.describe_execution(executionArn=started[0]["executionArn"])["status"] == "RUNNING"
    start_worker()
    assert stack.wait(started[0]["executionArn"])["status"] == "SUCCEEDED"
    assert stack.job("u1-t7")["attempts"] == 1


def test_scale_fleet_raised_desired_capacity_for_the_queued_job(stack, upload):
    upload("uploads/u1/t8/a.wav", wav_bytes(1.0))
    wait_until(lambda: stack.job("u1-t8").get("status") == "QUEUED", timeout=10)
    wait_until(lambda: _desired(stack) >= 1, timeout=10)
    assert _desired(stack) == 1


def _desired(stack) -> int:
    group = boto3.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[stack.asg_name])
    return group["AutoScalingGroups"][0]["DesiredCapacity"]


def described_error(stack, execution_arn: str) -> str:
    described = stack.sfn.describe_execution(executionArn=execution_arn)
    return f"{described.get('error')}: {described.get('cause')}"


# moto 5.2.5 is unreliable at ending an execution stopped inside a callback wait: it may stay RUNNING until the wait
# times out, or end FAILED (States.Runtime). So the test stops the execution (nothing of it may run on) and then
# delivers, through the deployed EventBridge rule, the "Execution Status Change" event AWS emits for a stop.
@pytest.mark.parametrize("while_", ["queued", "in progress"])
def test_a_stopped_execution_leaves_its_job_failed_and_nothing_written(stack, upload, start_worker, while_):
    """No Catch sees StopExecution: its status change event reaches ReconcileJob, which closes the job and revokes its
    token, so the worker on it commits nothing and a later worker leaves the stale message alone."""
    gate = threading.Event()
    busy = start_worker(FakePipeline(gate=gate), worker_id="i-busy") if while_ == "in progress" else None
    busy_completed = lambda: busy.agent.completed if busy else 0  # noqa: E731
    started = upload("uploads/u1/t9/a.wav", wav_bytes(1.0))
    execution_arn = started[0]["executionArn"]
    wanted = "IN_PROGRESS" if while_ == "in progress" else "QUEUED"
    wait_until(lambda: stack.job("u1-t9").get("status") == wanted, timeout=20)
    stack.sfn.stop_execution(executionArn=execution_arn, error="Operator", cause="bad upload, stopped by support")
    described = stack.sfn.describe_execution(executionArn=execution_arn)
    detail = {"executionArn": execution_arn, "stateMachineArn": stack.state_machine_arn, "name": described["name"],
              "status": "ABORTED", "startDate": 1795637700000, "stopDate": 1795637702000, "input": described["input"]}
    entry = {"Source": "aws.states", "DetailType": "Step Functions Execution Status Change", "Detail": json.dumps(detail)}
    assert boto3.client("events", region_name="us-east-1").put_events(Entries=[entry])["FailedEntryCount"] == 0

    wait_until(lambda: stack.job("u1-t9").get("status") == "FAILED", timeout=20)
    job = stack.job("u1-t9")
    # The first status change event closes the job; any later one changes nothing. Sometimes moto ends the stopped
    # execution FAILED itself (see above) and its own event wins: then the code says so.
    assert job["error"] in (
        {"code": "ExecutionAborted", "message": "The transcription workflow was stopped before the job finished."},
        {"code": "ExecutionFailed", "message": f"The transcription workflow failed unexpectedly ({described_error(stack, execution_arn)})."},
    ), job["error"]
    assert "workToken" not in job
    gate.set()
    late = start_worker(worker_id="i-late")  # the stale queue message (queued case) must not revive the job
    sqs = boto3.client("sqs", region_name="us-east-1")
    depth = lambda: sqs.get_queue_attributes(QueueUrl=stack.queue_url, AttributeNames=["All"])["Attributes"]  # noqa: E731
    wait_until(lambda: depth()["ApproximateNumberOfMessages"] == depth()["ApproximateNumberOfMessagesNotVisible"] == "0", timeout=20)
    time.sleep(1.0)
    assert stack.job("u1-t9")["status"] == "FAILED" and late.agent.completed == 0 and busy_completed() == 0
    assert "Contents" not in stack.s3.list_objects_v2(Bucket=stack.output_bucket, Prefix="transcripts/u1/t9/")
