"""Job state change events on the real ASL (moto): every ended job is announced once on the default bus, whoever ends
it, and a consumer's rule receives it. The stack here is deployed with JobEventsEmail, so the template's example mail
rule (rule -> SNS topic) runs beside the test's own rule (rule -> SQS queue) and must not stop its delivery.

"Once" is counted after every writer that could announce the job has finished: the execution has ended (its
announcement was put before that) and, for a failed execution, ReconcileJob has handled its status change event.
"""
from __future__ import annotations

import json
import threading
import time

import boto3
import pytest
from moto.events import models as events_models

from sam import moto_patches
from scribefleet.contract import EVENT_SOURCE, ErrorCode, ScribefleetError
from tests.support.aws import REGION, REPO, Stack, build_stack
from tests.support.event_inbox import EventInbox, schema_errors
from tests.support.media import wav_bytes
from tests.support.waiting import wait_until
from tests.workflow.conftest import FakePipeline

MAIL = "ops@example.com"


@pytest.fixture
def stack(aws) -> Stack:
    return build_stack(limits={"MAX_FILE_BYTES": str(1024 * 1024)}, parameters={"JobEventsEmail": MAIL})


@pytest.fixture
def inbox(stack) -> EventInbox:
    return EventInbox()


@pytest.fixture
def mailbox(stack):
    """What the example rule mails: an SQS queue subscribed to its topic beside the e-mail address."""
    sqs, sns = boto3.client("sqs", region_name=REGION), boto3.client("sns", region_name=REGION)
    url = sqs.create_queue(QueueName="mailbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic = stack.deployment.resources["JobEventsTopic"]
    assert [s["Endpoint"] for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]] == [MAIL]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})

    def mails() -> list[str]:
        return [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])]

    return mails


@pytest.fixture
def reconciled(stack):
    """ReconcileJob's answers, per execution, as the deployed rule invokes it (the handler itself runs unchanged)."""
    name = stack.deployment.functions["ReconcileJobFunction"]
    handler = moto_patches.load_handler(REPO / "functions" / "reconcile_job")
    answers: dict[str, list[dict]] = {}

    def recording(event, context):
        answer = handler(event, context)
        answers.setdefault(event["detail"]["executionArn"], []).append(answer)
        return answer

    moto_patches.register_handler(name, recording)
    yield answers
    moto_patches.register_handler(name, handler)


def _announced_once(inbox: EventInbox, process_id: str) -> dict:
    events = inbox.events_for(process_id)
    assert len(events) == 1, f"{len(events)} job state change events for {process_id}: {events}"
    (event,) = events
    assert event["source"] == EVENT_SOURCE and schema_errors(event["detail"]) == []
    return event


@pytest.mark.fault
def test_a_job_retried_after_a_lost_worker_then_completed_is_announced_once(stack, upload, start_worker, inbox, mailbox):
    frozen = threading.Event()  # never set while the job runs: the first worker hangs, as a dead machine would
    dead = start_worker(FakePipeline(gate=frozen), worker_id="i-dead", heartbeat_interval=3600)
    started = upload("uploads/u1/e1/take one.wav", wav_bytes(2.0), {"formats": "srt,json"})
    wait_until(lambda: stack.job("u1-e1").get("workerId") == "i-dead", timeout=20)
    start_worker(worker_id="i-healthy")
    execution_arn = started[0]["executionArn"]
    assert stack.wait(execution_arn, timeout=60)["status"] == "SUCCEEDED"
    frozen.set()
    dead.stop()

    job = stack.job("u1-e1")
    assert job["attempts"] == 2 and job["announcedBy"] == execution_arn
    event = _announced_once(inbox, "u1-e1")  # a SUCCEEDED execution reaches no ReconcileJob: all writers are done
    detail = event["detail"]
    assert detail == {
        "processId": "u1-e1", "userId": "u1", "transcriptId": "e1", "status": "COMPLETED", "fileName": "take one.wav",
        "audioSeconds": float(job["audioSeconds"]), "outputs": job["outputs"], "createdAt": job["createdAt"],
        "claimedAt": job["claimedAt"], "finishedAt": job["finishedAt"], "executionArn": execution_arn,
    }
    assert set(detail["outputs"]) == {"srt", "json", "result"}
    assert {stack.state_machine_arn, execution_arn} <= set(event["resources"])  # appended by the putEvents integration
    assert mailbox() == [f"scribefleet: transcription u1-e1 (take one.wav) ended COMPLETED. Execution: {execution_arn}"]


@pytest.mark.parametrize("how", ["rejected by the probe", "refused by the worker"])
@pytest.mark.bad_input
def test_a_failed_job_is_announced_once_though_reconcile_job_hears_of_its_failed_execution(
        stack, upload, start_worker, inbox, mailbox, reconciled, how):
    if how == "refused by the worker":
        start_worker(FakePipeline(error=ScribefleetError(ErrorCode.BAD_INPUT, "the audio stream cannot be decoded")))
    started = upload("uploads/u1/e2/a.wav", b"" if how == "rejected by the probe" else wav_bytes(1.0))
    execution_arn = started[0]["executionArn"]
    assert stack.wait(execution_arn)["status"] == "FAILED"
    # The execution's FAILED status change reaches ReconcileJob after MarkFailed announced the job: it must find the
    # job ended and put nothing.
    (late,) = wait_until(lambda: reconciled.get(execution_arn), timeout=20, what="ReconcileJob's answer")
    assert not late["closed"]

    event = _announced_once(inbox, "u1-e2")
    job = stack.job("u1-e2")
    code, seconds = ("EmptyFile", None) if how == "rejected by the probe" else ("BadInput", float(job["audioSeconds"]))
    assert event["detail"]["status"] == "FAILED" and event["detail"]["error"] == job["error"] and job["error"]["code"] == code
    assert event["detail"]["audioSeconds"] == seconds and "outputs" not in event["detail"]
    assert (event["detail"]["createdAt"], event["detail"]["finishedAt"]) == (job["createdAt"], job["finishedAt"])
    assert job["announcedBy"] == execution_arn
    assert mailbox() == [f"scribefleet: transcription u1-e2 (a.wav) ended FAILED. Execution: {execution_arn}"]


@pytest.mark.fault
def test_an_execution_stopped_while_queued_is_announced_once_by_reconcile_job(stack, upload, inbox, reconciled):
    """No Catch sees a stop: ReconcileJob closes the job and announces it; the same status change delivered again (as
    EventBridge may) finds the job announced. The stop's event is delivered by the test (moto's stop during a
    callback wait is unreliable, see test_workflow.py)."""
    started = upload("uploads/u1/e3/a.wav", wav_bytes(1.0))
    execution_arn = started[0]["executionArn"]
    wait_until(lambda: stack.job("u1-e3").get("status") == "QUEUED", timeout=20)
    stack.sfn.stop_execution(executionArn=execution_arn, error="Operator", cause="stopped by support")
    described = stack.sfn.describe_execution(executionArn=execution_arn)
    stopped_ms = int(time.time() * 1000)
    detail = {"executionArn": execution_arn, "stateMachineArn": stack.state_machine_arn, "name": described["name"],
              "status": "ABORTED", "startDate": int(described["startDate"].timestamp() * 1000), "stopDate": stopped_ms,
              "input": described["input"]}
    entry = {"Source": "aws.states", "DetailType": "Step Functions Execution Status Change", "Detail": json.dumps(detail)}
    events = boto3.client("events", region_name=REGION)
    for _ in range(2):
        assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0
    answers = wait_until(lambda: len(reconciled.get(execution_arn, [])) >= 2 and reconciled[execution_arn], timeout=20)

    assert sum(answer["closed"] for answer in answers) == 1
    event = _announced_once(inbox, "u1-e3")
    assert event["detail"]["status"] == "FAILED" and event["detail"]["audioSeconds"] == 1.0
    # Usually the delivered ABORTED event closes the job; sometimes moto ends the stopped execution FAILED itself first.
    assert event["detail"]["error"]["code"] in ("ExecutionAborted", "ExecutionFailed")
    assert event["detail"]["createdAt"] <= event["detail"]["finishedAt"]
    assert stack.job("u1-e3")["announcedBy"] == f"ReconcileJob:{execution_arn}"


def test_a_failure_to_announce_leaves_the_completed_job_completed(stack, upload, start_worker, inbox, monkeypatch):
    """EventBridge refusing the entry (FailedEntryCount > 0, the state's EventBridge.FailedEntry) is retried, then
    caught: the execution still succeeds and the job stays COMPLETED."""
    original, refused = events_models.EventsBackend.put_events, []

    def refusing(self, entries):
        if any(e.get("Source") == EVENT_SOURCE for e in entries):
            refused.append(entries)
            return [{"ErrorCode": "InternalFailure", "ErrorMessage": "EventBridge is having a bad day"} for _ in entries]
        return original(self, entries)

    monkeypatch.setattr(events_models.EventsBackend, "put_events", refusing)
    start_worker()
    started = upload("uploads/u1/e4/a.wav", wav_bytes(1.0))
    execution = stack.wait(started[0]["executionArn"])

    assert execution["status"] == "SUCCEEDED" and stack.job("u1-e4")["status"] == "COMPLETED"
    history = stack.sfn.get_execution_history(executionArn=started[0]["executionArn"], maxResults=1000)["events"]
    failures = [e["taskFailedEventDetails"]["error"] for e in history
                if e["type"] == "TaskFailed" and e["taskFailedEventDetails"].get("resourceType") == "events"]
    assert failures == ["EventBridge.FailedEntry"] * 3 and len(refused) == 3  # the first try and its 2 retries
    assert inbox.events_for("u1-e4") == []
