"""The pure parts of `scribefleet verify` and `scribefleet logs`: token redaction of execution history events and
the metric filter pattern evaluated locally. Event shapes are those the local stack's history holds."""
from __future__ import annotations

import json

import pytest

from scribefleet_tools.redaction import REDACTED, history_event_text, redact_tokens
from scribefleet_tools.verify import log_record, matches_json_pattern

CLAIM_TOKEN, WORK_TOKEN = "3ee3ad89-846e-409f-b24e-3d74607e77c5", "305aa5d1-1702-4de1-8ac5-c9998a6a562c"
# The template's HeartbeatTimeoutMetricFilter pattern.
HEARTBEAT_PATTERN = ('{ ($.type = "TaskTimedOut") && ($.details.resourceType = "aws-sdk:dynamodb") && '
                     '($.details.resource = "updateItem.waitForTaskToken") }')


def scheduled(resource_type: str, resource: str, parameters: dict) -> dict:
    return {"type": "TaskScheduled", "id": 7, "taskScheduledEventDetails": {
        "resourceType": resource_type, "resource": resource, "region": "us-east-1", "parameters": json.dumps(parameters)}}


WAIT_FOR_WORKER = scheduled("sqs", "sendMessage.waitForTaskToken", {"QueueUrl": "q", "MessageBody": {
    "processId": "u-t", "claimToken": CLAIM_TOKEN, "input": {"bucket": "b", "key": "uploads/u/t/a.wav"}}})
TRANSCRIBE = scheduled("aws-sdk:dynamodb", "updateItem.waitForTaskToken", {
    "ConditionExpression": "workerId = :worker", "Key": {"processId": {"S": "u-t"}},
    "ExpressionAttributeValues": {":claimed": {"S": "claimed"}, ":token": {"S": WORK_TOKEN}, ":worker": {"S": "i-1"}},
    "UpdateExpression": "SET workToken = :token, workTokenFor = :worker"})


@pytest.mark.security
@pytest.mark.parametrize(("event", "token"), [(WAIT_FOR_WORKER, CLAIM_TOKEN), (TRANSCRIBE, WORK_TOKEN)], ids=["claim", "supervised"])
def test_history_events_show_no_task_token(event, token):
    text = history_event_text(event)
    assert token not in text and REDACTED in text
    assert "u-t" in text and ("updateItem" in text or "sendMessage" in text)  # the rest of the event is still readable


@pytest.mark.security
def test_tokens_are_redacted_however_deep_and_however_encoded():
    nested = {"output": json.dumps({"Payload": {"taskToken": "secret-1", "items": [{"TaskToken": "secret-2"}]}}),
              "plain": "not a token", "list": ["[1, 2]", "{broken json"]}
    text = json.dumps(redact_tokens(nested))
    assert "secret-1" not in text and "secret-2" not in text
    assert redact_tokens(nested)["plain"] == "not a token" and redact_tokens(nested)["list"][1] == "{broken json"


def timed_out(resource_type: str, resource: str, error: str = "States.Timeout") -> dict:
    return {"type": "TaskTimedOut", "taskTimedOutEventDetails": {"resourceType": resource_type, "resource": resource, "error": error}}


@pytest.mark.parametrize(
    ("event", "counted"),
    [(timed_out("aws-sdk:dynamodb", "updateItem.waitForTaskToken"), True),
     (timed_out("aws-sdk:dynamodb", "updateItem.waitForTaskToken", "States.HeartbeatTimeout"), True),
     (timed_out("sqs", "sendMessage.waitForTaskToken"), False),  # a claim wait that timed out is not a lost worker
     (timed_out("lambda", "invoke"), False),
     ({"type": "TaskFailed", "taskFailedEventDetails": {"resourceType": "aws-sdk:dynamodb", "resource": "updateItem.waitForTaskToken"}}, False)],
)
def test_the_heartbeat_metric_filter_pattern_evaluated_on_history_events(event, counted):
    assert matches_json_pattern(HEARTBEAT_PATTERN, log_record(event)) is counted


@pytest.mark.parametrize("pattern", ['{ ($.type = "TaskTimedOut") || ($.type = "TaskFailed") }', '{ $.latency > 5 }', '"TaskTimedOut"'])
def test_patterns_outside_the_supported_subset_are_refused_not_guessed(pattern):
    with pytest.raises(ValueError):
        matches_json_pattern(pattern, {"type": "TaskTimedOut"})
