"""ReconcileJob's rule on the jobs table (moto): which ended executions close their job, and which leave it alone."""
import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import boto3
import pytest
from boto3.dynamodb.conditions import Key
from moto import mock_aws

from scribefleet.contract import ACTIVE_STATUS_ATTRIBUTE, STATUS_INDEX
from scribefleet.reconcile import close_job, close_work_items, process_id_of, reconcile, sweep
from tests.support.event_inbox import EventInbox, schema_errors
from tests.support.jobs_table import create_jobs_table

ARN = "arn:aws:states:us-east-1:123456789012:execution:sm:u1-t1-abc"
JOB = {"processId": "u1-t1", "userId": "u1", "transcriptId": "t1", "fileName": "a.wav", "input": {"bucket": "in", "key": "uploads/u1/t1/a.wav"}}


def detail(status: str, **extra) -> dict:
    return {"executionArn": ARN, "status": status, "stopDate": 1795637702000, "input": json.dumps(JOB), **extra}


@pytest.fixture
def table():
    """The JobsTable of template.yaml (key and indexes: index keys may not be empty strings)."""
    with mock_aws():
        yield create_jobs_table(boto3.resource("dynamodb", region_name="us-east-1"))


@pytest.mark.parametrize("status, code, words", [
    ("ABORTED", "ExecutionAborted", "stopped"),
    ("TIMED_OUT", "ExecutionTimedOut", "time limit"),
    ("FAILED", "ExecutionFailed", "States.Runtime: the JSONPath '$.probe' could not be found"),
])
def test_a_queued_or_running_job_of_the_execution_ends_failed_with_a_reason(table, status, code, words):
    table.put_item(Item={"processId": "u1-t1", "status": "QUEUED", "executionArn": ARN, "workToken": "t", "workTokenFor": "i-1"})
    result = close_job(table, detail(status, error="States.Runtime", cause="the JSONPath '$.probe' could not be found"))
    item = table.get_item(Key={"processId": "u1-t1"})["Item"]
    assert result["closed"] and item["status"] == "FAILED" and item["stage"] == "failed"
    assert item["error"]["code"] == code and words in item["error"]["message"]
    assert "workToken" not in item and "workTokenFor" not in item  # a worker still on it can commit nothing


def test_an_execution_stopped_before_it_recorded_its_job_still_leaves_a_failed_job(table):
    assert close_job(table, detail("ABORTED"))["closed"]
    item = table.get_item(Key={"processId": "u1-t1"})["Item"]
    assert (item["status"], item["userId"], item["transcriptId"], item["inputKey"]) == ("FAILED", "u1", "t1", "uploads/u1/t1/a.wav")


@pytest.mark.parametrize("record", [
    {"status": "COMPLETED", "executionArn": ARN},  # already ended: never overwritten
    {"status": "FAILED", "executionArn": ARN, "error": {"code": "NoAudio", "message": "the file has no audio"}},  # MarkFailed ran
    {"status": "IN_PROGRESS", "executionArn": ARN.replace("abc", "newer")},  # a re-upload's execution owns the job now
])
def test_a_job_that_ended_or_belongs_to_another_execution_is_left_alone(table, record):
    table.put_item(Item={"processId": "u1-t1", **record})
    assert not close_job(table, detail("FAILED", error="TranscriptionFailed"))["closed"]
    assert table.get_item(Key={"processId": "u1-t1"})["Item"] == {"processId": "u1-t1", **record}


def test_succeeded_and_running_executions_and_unreadable_inputs_change_nothing(table):
    assert not close_job(table, detail("SUCCEEDED"))["closed"]
    assert not close_job(table, {**detail("ABORTED"), "input": "not json"})["closed"]
    assert process_id_of({"input": "[1]"}) == "-" and process_id_of(detail("ABORTED")) == "u1-t1"
    assert table.scan()["Items"] == []


def test_a_closed_job_leaves_the_status_index(table):
    table.put_item(Item={"processId": "u1-t1", "userId": "u1", "status": "IN_PROGRESS", ACTIVE_STATUS_ATTRIBUTE: "IN_PROGRESS",
                         "createdAt": "2026-12-02T10:00:00Z", "executionArn": ARN})
    in_index = lambda: table.query(IndexName=STATUS_INDEX, KeyConditionExpression=Key(ACTIVE_STATUS_ATTRIBUTE).eq("IN_PROGRESS"))["Items"]  # noqa: E731
    assert len(in_index()) == 1
    assert close_job(table, detail("TIMED_OUT"))["closed"]
    assert in_index() == [] and ACTIVE_STATUS_ATTRIBUTE not in table.get_item(Key={"processId": "u1-t1"})["Item"]


def test_an_execution_input_without_a_user_still_closes_its_job(table):
    """userId keys the ByUser index, which rejects an empty string: a hand-started execution without one must not
    turn the reconciliation into a ValidationException."""
    anonymous = {k: v for k, v in JOB.items() if k != "userId"}
    assert close_job(table, {**detail("ABORTED"), "input": json.dumps(anonymous)})["closed"]
    item = table.get_item(Key={"processId": "u1-t1"})["Item"]
    assert item["status"] == "FAILED" and "userId" not in item


def test_a_close_announces_the_jobs_end_once_however_often_the_status_change_arrives(table):
    """EventBridge delivers at least once: a repeated status change event finds the job ended and announces nothing."""
    inbox, events = EventInbox(), boto3.client("events", region_name="us-east-1")
    table.put_item(Item={"processId": "u1-t1", "userId": "u1", "transcriptId": "t1", "fileName": "a.wav", "status": "IN_PROGRESS",
                         "executionArn": ARN, "createdAt": "2026-12-02T10:00:00Z", "audioSeconds": Decimal("12.5")})
    first, again = reconcile(table, events, detail("ABORTED")), reconcile(table, events, detail("ABORTED"))

    assert first["closed"] and not again["closed"] and "eventId" not in again
    (event,) = inbox.events_for("u1-t1")
    assert event["id"] == first["eventId"] and schema_errors(event["detail"]) == []
    assert event["detail"]["status"] == "FAILED" and event["detail"]["error"]["code"] == "ExecutionAborted"
    assert event["detail"]["audioSeconds"] == 12.5 and event["detail"]["executionArn"] == ARN
    assert table.get_item(Key={"processId": "u1-t1"})["Item"]["announcedBy"] == f"ReconcileJob:{ARN}"


def test_a_job_markfailed_ended_and_announced_is_not_announced_again_by_a_late_reconcile(table):
    inbox, events = EventInbox(), boto3.client("events", region_name="us-east-1")
    ended = {"processId": "u1-t1", "status": "FAILED", "executionArn": ARN, "announcedBy": ARN,
             "error": {"code": "NoAudio", "message": "the file has no audio"}}
    table.put_item(Item=ended)
    assert not reconcile(table, events, detail("FAILED", error="NoAudio", cause="the file has no audio"))["closed"]
    assert inbox.events_for("u1-t1") == [] and table.get_item(Key={"processId": "u1-t1"})["Item"] == ended


def test_a_stopped_split_job_closes_the_work_items_its_execution_left_open(table):
    """Chunks queued or running when the execution was stopped would stay in the status index, and the scaler would
    keep starting machines for them; a chunk already done, or one of another execution, is left as it is."""
    table.put_item(Item={"processId": "u1-t1", "status": "IN_PROGRESS", "executionArn": ARN, "splitChunks": 3})
    table.put_item(Item={"processId": "u1-t1.chunk0", "status": "COMPLETED", "executionArn": ARN})
    table.put_item(Item={"processId": "u1-t1.chunk1", "status": "IN_PROGRESS", ACTIVE_STATUS_ATTRIBUTE: "IN_PROGRESS",
                         "executionArn": ARN, "workToken": "t"})
    table.put_item(Item={"processId": "u1-t1.chunk2", "status": "QUEUED", ACTIVE_STATUS_ATTRIBUTE: "QUEUED", "executionArn": "other"})
    assert close_job(table, detail("ABORTED"))["closed"] and close_work_items(table, "u1-t1", ARN) == 1
    items = {i: table.get_item(Key={"processId": i})["Item"] for i in ("u1-t1.chunk0", "u1-t1.chunk1", "u1-t1.chunk2")}
    assert items["u1-t1.chunk1"]["status"] == "FAILED" and ACTIVE_STATUS_ATTRIBUTE not in items["u1-t1.chunk1"]
    assert "workToken" not in items["u1-t1.chunk1"]
    assert items["u1-t1.chunk0"]["status"] == "COMPLETED"
    assert items["u1-t1.chunk2"][ACTIVE_STATUS_ATTRIBUTE] == "QUEUED"  # another execution's: not ours to close
    assert close_work_items(table, "u1-t1", ARN) == 0


def test_the_sweep_closes_once_the_job_of_an_ended_execution_whose_event_never_came(table):
    """Step Functions' status change events are best effort: the hourly sweep asks DescribeExecution for every active
    job older than 15 minutes and closes those whose execution ended; running ones and young ones are left alone."""
    sfn, events = boto3.client("stepfunctions", region_name="us-east-1"), boto3.client("events", region_name="us-east-1")
    machine = sfn.create_state_machine(name="sm", roleArn="arn:aws:iam::123456789012:role/sm", definition=json.dumps(
        {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": True}}}))["stateMachineArn"]
    inbox = EventInbox()
    now = datetime.now(timezone.utc)
    old, young = (now - timedelta(hours=2)).isoformat(), (now - timedelta(minutes=5)).isoformat()
    jobs = {}
    for pid, status, created in (("u1-lost", "QUEUED", old), ("u1-running", "IN_PROGRESS", old), ("u1-young", "QUEUED", young)):
        arn = sfn.start_execution(stateMachineArn=machine, name=pid, input=json.dumps({**JOB, "processId": pid}))["executionArn"]
        table.put_item(Item={"processId": pid, "status": status, ACTIVE_STATUS_ATTRIBUTE: status, "executionArn": arn,
                             "createdAt": created})
        jobs[pid] = arn
    for pid in ("u1-lost", "u1-young"):
        sfn.stop_execution(executionArn=jobs[pid])  # ABORTED, and (here) no status change event reaches anyone

    (result,) = sweep(table, sfn, events, now)
    assert result["closed"] and result["processId"] == "u1-lost" and result["code"] == "ExecutionAborted"
    status = {pid: table.get_item(Key={"processId": pid})["Item"]["status"] for pid in jobs}
    assert status == {"u1-lost": "FAILED", "u1-running": "IN_PROGRESS", "u1-young": "QUEUED"}
    assert len(inbox.events_for("u1-lost")) == 1
    assert sweep(table, sfn, events, now) == []  # the closed job left the status index: nothing twice
    assert len(inbox.events_for("u1-lost")) == 1


def test_the_sweep_closes_a_split_job_through_its_work_items_once(table):
    """A split job leaves the status index when its whole-file claim is released; only its chunks stay there. If the
    status change event of its stopped execution is lost, the sweep finds the execution through the chunks, closes the
    job and its open work items, and asks Step Functions once for the two chunks."""
    sfn, events = boto3.client("stepfunctions", region_name="us-east-1"), boto3.client("events", region_name="us-east-1")
    machine = sfn.create_state_machine(name="sm", roleArn="arn:aws:iam::123456789012:role/sm", definition=json.dumps(
        {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": True}}}))["stateMachineArn"]
    inbox = EventInbox()
    now = datetime.now(timezone.utc)
    old = (now - timedelta(hours=2)).isoformat()
    arn = sfn.start_execution(stateMachineArn=machine, name="u1-split", input=json.dumps({**JOB, "processId": "u1-split"}))["executionArn"]
    table.put_item(Item={"processId": "u1-split", "status": "IN_PROGRESS", "executionArn": arn, "createdAt": old,
                         "splitChunks": 2})  # no activeStatus: released when the job was split
    for i, status in enumerate(("IN_PROGRESS", "QUEUED")):
        table.put_item(Item={"processId": f"u1-split.chunk{i}", "parentId": "u1-split", "status": status,
                             ACTIVE_STATUS_ATTRIBUTE: status, "executionArn": arn, "createdAt": old})
    sfn.stop_execution(executionArn=arn)
    asked = []
    describe = sfn.describe_execution
    sfn.describe_execution = lambda **kw: asked.append(kw) or describe(**kw)

    (result,) = sweep(table, sfn, events, now)
    assert result["closed"] and result["processId"] == "u1-split" and result["workItemsClosed"] == 2
    assert len(asked) == 1 and len(inbox.events_for("u1-split")) == 1
    assert table.get_item(Key={"processId": "u1-split"})["Item"]["status"] == "FAILED"
    assert not table.query(IndexName=STATUS_INDEX, KeyConditionExpression=Key(ACTIVE_STATUS_ATTRIBUTE).eq("QUEUED"))["Items"]
    assert sweep(table, sfn, events, now) == []
