"""The job state change event: one shape (scribefleet/schemas/job_state_change.schema.json) for every writer.

The state machine builds its detail in ASL (AnnounceCompleted, AnnounceFailed) and ReconcileJob in Python
(scribefleet.job_events): both are checked here against the schema and the contract's source and detail-type; the
workflow tier (tests/workflow/test_job_events.py) receives the real events through a rule.
"""
from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from scribefleet import schemas
from scribefleet.contract import EVENT_BUS, EVENT_SOURCE, JOB_STATE_CHANGE, ErrorCode, JobStatus
from scribefleet.job_events import AnnouncementFailed, announce, detail_from_item
from tests.support.event_inbox import EventInbox, schema_errors

ASL = Path(__file__).resolve().parents[2] / "statemachines" / "transcription.asl.json"
SCHEMA = schemas.load("job_state_change.schema.json")
ARN = "arn:aws:states:us-east-1:123456789012:execution:Transcription:u1-t1-0123456789"
ENDED = {"processId": "u1-t1", "userId": "u1", "transcriptId": "t1", "fileName": "take one.wav", "executionArn": ARN,
         "createdAt": "2026-12-02T10:00:00.000Z", "finishedAt": "2026-12-02T10:03:00.000Z", "announcedBy": ARN}
COMPLETED = {**ENDED, "status": "COMPLETED", "audioSeconds": Decimal("62.5"), "claimedAt": "2026-12-02T10:01:00.000Z",
             "outputs": {"srt": "s3://out/transcripts/u1/t1/take one.srt", "result": "s3://out/transcripts/u1/t1/result.json"}}
FAILED = {**ENDED, "status": "FAILED", "error": {"code": "NoAudio", "message": "The file has no audio stream."}}


# ---------------------------------------------------------------- the schema and the contract
def test_the_schema_names_the_contracts_statuses_and_error_codes():
    assert set(SCHEMA["properties"]["status"]["enum"]) == {JobStatus.COMPLETED, JobStatus.FAILED}
    assert set(SCHEMA["properties"]["error"]["properties"]["code"]["enum"]) == {c.value for c in ErrorCode}


# ---------------------------------------------------------------- ReconcileJob's detail
def test_details_built_from_ended_job_items_follow_the_schema():
    completed, failed = detail_from_item(COMPLETED), detail_from_item(FAILED)
    assert schema_errors(completed) == [] and schema_errors(failed) == []
    assert completed["audioSeconds"] == 62.5 and completed["outputs"] == COMPLETED["outputs"]
    assert failed["audioSeconds"] is None and failed["error"] == FAILED["error"] and "outputs" not in failed
    with pytest.raises(ValueError):
        detail_from_item({**ENDED, "status": "IN_PROGRESS"})


@pytest.mark.parametrize(("broken", "complaint"), [
    (lambda d: d.pop("outputs"), "'outputs' is a required property"),
    (lambda d: d.update(error={"code": "NoAudio", "message": "x"}), "does not allow {'code'"),
    (lambda d: d.update(status="DONE"), "status"),
    (lambda d: d.update(audioSeconds=None), "audioSeconds"),
    (lambda d: d.update(jobId="u1-t1"), "jobId"),
], ids=["completed-without-outputs", "completed-with-error", "unknown-status", "completed-without-length", "unknown-field"])
def test_the_schema_rejects_a_detail_that_breaks_the_shape(broken, complaint):
    detail = detail_from_item(COMPLETED)
    broken(detail)
    assert any(complaint in error for error in schema_errors(detail)), schema_errors(detail)


# ---------------------------------------------------------------- the state machine's details
def announce_states(machine: dict) -> dict[str, dict]:
    return {name: s for name, s in machine["States"].items() if s.get("Resource", "").endswith(":events:putEvents")}


def announcement_problems(machine: dict) -> list[str]:
    """Where an events:putEvents state of the ASL strays from the contract or the schema, or could fail its job."""
    problems, statuses = [], set()
    for name, state in announce_states(machine).items():
        (entry,) = state["Parameters"]["Entries"]
        if (entry.get("EventBusName"), entry.get("Source"), entry.get("DetailType")) != (EVENT_BUS, EVENT_SOURCE, JOB_STATE_CHANGE):
            problems.append(f"{name}: not the contract's bus, source and detail-type")
        detail = {key.removesuffix(".$"): value for key, value in entry["Detail"].items()}
        status = detail.get("status")
        statuses.add(status)
        required = set(SCHEMA["required"])
        forbidden = set()
        for rule in SCHEMA["allOf"]:
            if rule["if"]["properties"]["status"]["const"] == status:
                required |= set(rule["then"].get("required", []))
                forbidden |= {k for k, v in rule["then"].get("properties", {}).items() if v is False}
        problems += [f"{name}: {field} is not in the schema" for field in set(detail) - set(SCHEMA["properties"])]
        problems += [f"{name}: {field} is missing for {status}" for field in required - set(detail)]
        problems += [f"{name}: {field} must not be there for {status}" for field in forbidden & set(detail)]
        catch = state.get("Catch", [])
        if not catch or catch[-1]["ErrorEquals"] != ["States.ALL"] or catch[-1]["Next"] != state.get("Next"):
            problems.append(f"{name}: a failure to announce must go on as success would (Catch States.ALL -> Next)")
    if statuses != {"COMPLETED", "FAILED"}:
        problems.append(f"announced statuses {sorted(map(str, statuses))}, not COMPLETED and FAILED")
    return problems


@pytest.fixture(scope="module")
def machine() -> dict:
    return json.loads(ASL.read_text())


def test_the_state_machine_announces_both_ends_in_the_schemas_shape_and_never_fails_a_job_for_it(machine):
    assert announcement_problems(machine) == []


@pytest.mark.parametrize("mutate", [
    lambda m: m["States"]["AnnounceCompleted"]["Parameters"]["Entries"][0].update(Source="scribefleet.jobs"),
    lambda m: m["States"]["AnnounceFailed"]["Parameters"]["Entries"][0]["Detail"].pop("error"),
    lambda m: m["States"]["AnnounceFailed"]["Parameters"]["Entries"][0]["Detail"].update({"outputs.$": "$.result.outputs"}),
    lambda m: m["States"]["AnnounceCompleted"]["Parameters"]["Entries"][0]["Detail"].update({"worker.$": "$.result.workerId"}),
    lambda m: m["States"]["AnnounceCompleted"].pop("Catch"),
    lambda m: m["States"].pop("AnnounceFailed"),
], ids=["source", "failed-without-error", "failed-with-outputs", "unknown-field", "uncaught", "one-end-unannounced"])
def test_the_announcement_check_rejects_a_state_that_strays(machine, mutate):
    broken = copy.deepcopy(machine)
    mutate(broken)
    assert announcement_problems(broken)


def test_only_the_updates_that_end_a_job_lead_to_an_announcement(machine):
    """Each announcement follows the conditional update that made this execution the job's announcer."""
    states = machine["States"]
    into = {name: [n for n, s in states.items() if s.get("Next") == name or s.get("Default") == name
                   or any(c.get("Next") == name for c in s.get("Choices", []))] for name in announce_states(machine)}
    assert into["AnnounceCompleted"] == ["MarkCompleted"]
    assert sorted(into["AnnounceFailed"]) == ["NoteAudioLength", "NoteAudioLengthUnknown"]
    # MarkFailed first closes a split job's open work items, then announces
    assert states["MarkFailed"]["Next"] == "WereWorkItemsOpen"
    assert {states["WereWorkItemsOpen"]["Default"], states["CloseOpenWorkItems"]["Next"]} == {"IsAudioLengthKnown"}
    for mark in ("MarkCompleted", "MarkFailed"):
        parameters = states[mark]["Parameters"]
        assert "announcedBy = :execution" in parameters["UpdateExpression"], mark
        guard, condition = "attribute_not_exists(announcedBy) OR announcedBy = :execution", parameters["ConditionExpression"]
        assert condition == guard or condition.endswith(f" AND ({guard})"), mark
        assert parameters["ExpressionAttributeValues"][":execution"] == {"S.$": "$$.Execution.Id"}, mark


# ---------------------------------------------------------------- putting it
@pytest.fixture
def aws():
    with mock_aws():
        yield


def test_announce_puts_the_event_where_a_rule_on_the_default_bus_receives_it(aws):
    inbox = EventInbox()
    detail = detail_from_item(COMPLETED)
    event_id = announce(boto3.client("events", region_name="us-east-1"), detail)
    (event,) = inbox.events_for("u1-t1")
    assert event["id"] == event_id and event["source"] == EVENT_SOURCE and event["detail-type"] == JOB_STATE_CHANGE
    assert event["detail"] == detail and event["resources"] == [ARN]


def test_an_entry_eventbridge_refused_is_an_error_not_a_silent_success():
    """A refused entry comes back in a 200 answer (FailedEntryCount): announce must not take it for delivered."""
    events = boto3.client("events", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(events) as stub:
        stub.add_response("put_events", {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}]})
        with pytest.raises(AnnouncementFailed, match="InternalFailure"):
            announce(events, detail_from_item(FAILED))
