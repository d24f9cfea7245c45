"""Each Lambda handler invoked with its sample event from events/ (the same files `sam local invoke -e` takes)."""
from __future__ import annotations

import json
import logging
from decimal import Decimal

import boto3
import pytest
from moto import mock_aws

from sam import moto_patches
from tests.support.aws import HEARTBEAT_SECONDS, REPO, build_stack
from tests.support.event_inbox import EventInbox
from tests.support.media import wav_bytes


def event(name: str) -> dict:
    return json.loads((REPO / "events" / name).read_text())


def invoke(stack, function: str, payload: dict, **overrides: str):
    """Call functions/<function>/app.py's handler with the deployed function's environment, as Lambda would (a partial
    environment would let another in-process function's leftover variables stand in for the missing ones)."""
    deployed = stack.deployment.functions["".join(part.title() for part in function.split("_")) + "Function"]
    env = boto3.client("lambda").get_function_configuration(FunctionName=deployed)["Environment"]["Variables"]
    handler = moto_patches.load_handler(REPO / "functions" / function)
    with moto_patches.function_environment({**env, **overrides}):
        return handler(payload, moto_patches.lambda_context_for(function))


@pytest.fixture
def stack():
    with mock_aws(config=moto_patches.MOTO_CONFIG):
        yield build_stack()


def formatted_lines(caplog, service: str) -> list[dict]:
    """The JSON lines Powertools writes for this service's records (its formatter holds the appended keys)."""
    formatter = logging.getLogger(service).handlers[0].formatter
    return [json.loads(formatter.format(r)) for r in caplog.records if r.name == service]


def test_start_job_names_the_execution_after_the_process_id_and_ignores_repeats(stack, caplog):
    sample = event("s3_object_created.json")
    first, second = invoke(stack, "start_job", sample), invoke(stack, "start_job", sample)

    assert first["started"] and not second["started"] and second["reason"] == "duplicate event"
    assert first["executionName"].startswith("user42-interview_01-")
    described = stack.sfn.describe_execution(executionArn=first["executionArn"])
    execution_input = json.loads(described["input"])
    assert execution_input["processId"] == "user42-interview_01"
    assert execution_input["input"]["key"] == sample["detail"]["object"]["key"]
    log_lines = formatted_lines(caplog, "start_job")
    assert len(log_lines) == 2 and all(line["process_id"] == "user42-interview_01" for line in log_lines)


def test_start_job_records_unparseable_keys_under_a_stable_invalid_id(stack):
    sample = event("s3_object_created.json")
    sample["detail"]["object"]["key"] = "uploads/not a user/x/a.wav"
    result = invoke(stack, "start_job", sample)
    assert result["started"] and result["processId"].startswith("invalid-")


def test_probe_media_accepts_the_sample_upload(stack):
    sample = event("probe_media.json")
    sample["input"]["bucket"] = stack.input_bucket  # the deployed bucket's generated name
    stack.s3.put_object(Bucket=sample["input"]["bucket"], Key=sample["input"]["key"], Body=wav_bytes(10.0), Metadata={"speakers": "2"})
    result = invoke(stack, "probe_media", sample)
    assert result["accepted"] and result["media"]["audioSeconds"] == pytest.approx(10.0)
    assert result["options"] == {"speakers": 2}
    # Transcribe timeout = base 60 s (test stack) + 0.5 s per audio second (the template default) x 10 s
    assert result["limits"] == {"heartbeatSeconds": HEARTBEAT_SECONDS, "claimTimeoutSeconds": 30, "processTimeoutSeconds": 65}


def test_scale_fleet_applies_the_seed_rule_to_the_queue(stack):
    jobs = boto3.resource("dynamodb").Table(stack.table_name)
    # 60 min queued in 3 files → min(ceil(3600/900), 3) = 3; the last is the event's own job (counted once)
    for i, (pid, seconds) in enumerate([("u-0", 1800), ("u-1", 1200), ("user42-interview_01", 600)]):
        # as RecordJob writes a queued job: activeStatus keys the sparse ByStatus index the scaler reads
        jobs.put_item(Item={"processId": pid, "status": "QUEUED", "activeStatus": "QUEUED", "createdAt": f"2026-01-01T00:00:0{i}",
                            "audioSeconds": Decimal(seconds)})
    report = invoke(stack, "scale_fleet", event("scale_fleet.json"), SCALER_POLICY="seed")

    assert report["desired"] == 3 and report["previousDesired"] == 0 and report["reason"]
    assert report["state"]["queued_files"] == 3 and report["state"]["queued_audio_seconds"] == 3600
    group = boto3.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[stack.asg_name])["AutoScalingGroups"][0]
    assert group["DesiredCapacity"] == 3
    # with the scale-out, zone rebalancing is suspended (rebalancing after a retirement could terminate a busy machine)
    assert report["zoneRebalancing"] == "suspended now"
    assert [p["ProcessName"] for p in group["SuspendedProcesses"]] == ["AZRebalance"]


def test_reconcile_job_sweeps_on_its_schedule(stack):
    """The hourly scheduled event (events/reconcile_sweep.json) runs the sweep for lost status change events; with no
    job waiting or running there is nothing to ask Step Functions about."""
    assert invoke(stack, "reconcile_job", event("reconcile_sweep.json")) == {"swept": 0, "closed": 0}


def test_reconcile_job_fails_the_job_of_a_stopped_execution_once(stack, caplog):
    sample = event("execution_aborted.json")
    inbox = EventInbox()
    jobs = boto3.resource("dynamodb").Table(stack.table_name)
    jobs.put_item(Item={"processId": "user42-interview_01", "status": "IN_PROGRESS", "workToken": "secret",
                        "executionArn": sample["detail"]["executionArn"], "createdAt": "2026-11-25T20:15:00Z"})
    first, again = invoke(stack, "reconcile_job", sample), invoke(stack, "reconcile_job", sample)

    assert first == {"closed": True, "processId": "user42-interview_01", "code": "ExecutionAborted",
                     "message": "The transcription workflow was stopped before the job finished.", "eventId": first["eventId"]}
    (announced,) = inbox.events_for("user42-interview_01")  # one job state change event, from the first call only
    assert announced["id"] == first["eventId"] and announced["detail"]["error"]["code"] == "ExecutionAborted"
    assert not again["closed"] and again["reason"] == "the job already ended or belongs to another execution"
    item = jobs.get_item(Key={"processId": "user42-interview_01"})["Item"]
    assert item["status"] == "FAILED" and item["error"]["code"] == "ExecutionAborted" and "workToken" not in item
    assert item["finishedAt"] == "2026-11-25T20:15:02.000Z" and item["createdAt"] == "2026-11-25T20:15:00Z"
    log_lines = formatted_lines(caplog, "reconcile_job")
    assert len(log_lines) == 2 and all(line["process_id"] == "user42-interview_01" for line in log_lines)


def test_plan_split_splits_a_claimed_3_hour_file_over_the_idle_fleet(stack):
    """PlanSplit's call: the file is claimed (QUEUED with a workerId: a busy worker in the table), nothing else is
    queued, so every machine up to MaxSize (10) can take a chunk of 18 minutes."""
    jobs = boto3.resource("dynamodb").Table(stack.table_name)
    jobs.put_item(Item={"processId": "user42-interview_01", "status": "QUEUED", "activeStatus": "QUEUED", "workerId": "i-1",
                        "createdAt": "2026-01-01T00:00:00", "audioSeconds": Decimal(10800)})
    plan = invoke(stack, "scale_fleet", event("scale_fleet_plan_split.json"))
    assert (plan["chunks"], plan["chunkSeconds"], plan["indexes"]) == (10, 1080.0, list(range(10))), plan
    off = invoke(stack, "scale_fleet", event("scale_fleet_plan_split.json"), SPLIT_MIN_CHUNK_SECONDS="0")
    assert off["chunks"] == 1 and off["indexes"] == [0] and "off" in off["reason"]
    group = boto3.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[stack.asg_name])["AutoScalingGroups"][0]
    assert group["DesiredCapacity"] == 0  # planning changes no capacity: the chunks' ScaleFleet calls do
