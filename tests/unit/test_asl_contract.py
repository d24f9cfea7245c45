"""The state machine speaks the contract's vocabulary: every job status, stage, error code, job-item attribute,
queue-message field and callback field that statemachines/transcription.asl.json writes or matches is one that
scribefleet.contract defines, so the worker, the scaler and the CLI read what the workflow wrote."""
from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from scribefleet.contract import (CallbackField, ErrorCode, InputField, JobField, JobStatus, MessageField, Stage, WorkField,
                                  WorkKind)

ASL = Path(__file__).resolve().parents[2] / "statemachines" / "transcription.asl.json"
# Words of DynamoDB expressions that are not attribute names.
EXPRESSION_WORDS = {"SET", "REMOVE", "ADD", "DELETE", "AND", "OR", "NOT", "IN", "BETWEEN", "attribute_exists",
                    "attribute_not_exists", "attribute_type", "begins_with", "contains", "size", "if_not_exists", "list_append"}
IDENTIFIER = re.compile(r"(?<![:\w#])#?[A-Za-z_]\w*")
CALLBACK_PATH = re.compile(r"\$(?:\[\d+\])?\.(claim|work)\.(\w+)")
# Attributes whose literal values must be enum members.
VALUE_ENUMS = {JobField.STATUS: JobStatus, JobField.ACTIVE_STATUS: JobStatus, JobField.STAGE: Stage}


def states(machine: dict) -> Iterator[tuple[str, dict]]:
    for name, state in machine["States"].items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from states(branch)
        if "ItemProcessor" in state or "Iterator" in state:
            yield from states(state.get("ItemProcessor") or state["Iterator"])


def choice_rules(rules: list[dict]) -> Iterator[dict]:
    for rule in rules:
        yield rule
        yield from choice_rules(rule.get("And", []) + rule.get("Or", []) + ([rule["Not"]] if "Not" in rule else []))


def strings(value) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def field_name(key: str) -> str:
    return key[:-2] if key.endswith(".$") else key


def top_level_assignments(clause: str) -> list[tuple[str, str]]:
    """`a = :x, #b = if_not_exists(b, :y)` → [("a", ":x"), ("#b", "if_not_exists(b, :y)")]."""
    parts, depth, current = [], 0, ""
    for char in clause:
        depth += (char == "(") - (char == ")")
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [tuple(p.strip() for p in part.split("=", 1)) for part in parts if "=" in part]


def set_clause(expression: str) -> str:
    match = re.search(r"\bSET\b(.*?)(?=\b(?:REMOVE|ADD|DELETE)\b|$)", expression, re.S)
    return match.group(1) if match else ""


def literal(value: dict) -> str | None:
    return value.get("S") if isinstance(value, dict) else None


class Audit:
    """What the ASL writes, and where it strays from the contract."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.seen: dict[str, set[str]] = {"job": set(), "message": set(), "input": set(), "callback": set(),
                                          "status": set(), "stage": set(), "error": set(), "work": set(), "kind": set()}

    def check(self, kind: str, value: str, allowed: type, where: str) -> None:
        self.seen[kind].add(value)
        if value not in {member.value for member in allowed}:
            self.problems.append(f"{where}: {kind} {value!r} is not in scribefleet.contract.{allowed.__name__}")

    def value(self, attribute: str, value: str | None, where: str) -> None:
        enum = VALUE_ENUMS.get(attribute)
        if enum is not None and value is not None:
            self.check("stage" if enum is Stage else "status", value, enum, where)


def audit(machine: dict) -> Audit:
    found = Audit()
    for name, state in states(machine):
        for handler in state.get("Retry", []) + state.get("Catch", []):
            for error in handler["ErrorEquals"]:
                if "." not in error:  # States.*, Lambda.*, DynamoDb.*, SQS.*: the service's names, not ours
                    found.check("error", error, ErrorCode, name)
        if state["Type"] == "Fail" and "Error" in state:
            found.check("error", state["Error"], ErrorCode, name)
        for rule in choice_rules(state.get("Choices", [])):
            if rule.get("Variable", "").endswith(".error.Error") and "StringEquals" in rule:
                found.check("error", rule["StringEquals"], ErrorCode, name)
            if rule.get("Variable", "").endswith(".kind") and "StringEquals" in rule:
                found.check("kind", rule["StringEquals"], WorkKind, name)
        for text in strings({k: v for k, v in state.items() if k in ("Parameters", "ResultSelector", "OutputPath", "InputPath")}):
            for _, field in CALLBACK_PATH.findall(text):
                found.check("callback", field, CallbackField, name)
        parameters = state.get("Parameters", {})
        resource = state.get("Resource", "")
        if state["Type"] == "Pass" and isinstance(parameters.get("status"), str):  # the execution's output
            found.value(JobField.STATUS, parameters["status"], name)
        if state["Type"] == "Pass" and isinstance(parameters.get("kind"), str):  # a round of Work
            found.check("kind", parameters["kind"], WorkKind, name)
        if ":dynamodb:" in resource:
            audit_dynamodb(found, name, parameters)
        if ":sqs:sendMessage" in resource:
            body = parameters["MessageBody"]
            for key, item in body.items():
                found.check("message", field_name(key), MessageField, name)
                if field_name(key) == MessageField.INPUT:
                    for inner in item:
                        found.check("input", field_name(inner), InputField, name)
                if field_name(key) == MessageField.WORK:
                    for inner in item:
                        found.check("work", field_name(inner), WorkField, name)
    return found


def audit_dynamodb(found: Audit, name: str, parameters: dict) -> None:
    aliases = parameters.get("ExpressionAttributeNames", {})
    values = parameters.get("ExpressionAttributeValues", {})
    for key, value in parameters.get("Item", {}).items():
        found.check("job", key, JobField, name)
        found.value(key, literal(value), name)
    for key in parameters.get("Key", {}):
        found.check("job", key, JobField, name)
    for expression in (parameters.get("UpdateExpression", ""), parameters.get("ConditionExpression", "")):
        for word in IDENTIFIER.findall(expression):
            if word not in EXPRESSION_WORDS:
                found.check("job", aliases.get(word, word), JobField, name)
    for attribute, value in top_level_assignments(set_clause(parameters.get("UpdateExpression", ""))):
        if re.fullmatch(r":\w+", value):
            found.value(aliases.get(attribute, attribute), literal(values.get(value, {})), name)


@pytest.fixture(scope="module")
def machine() -> dict:
    return json.loads(ASL.read_text())


def test_everything_the_state_machine_writes_is_in_the_contract(machine):
    found = audit(machine)
    assert found.problems == []


def test_the_audit_sees_the_whole_protocol(machine):
    """A restructured ASL that hid its writes from the audit would pass it emptily: the audit must keep finding
    the item's lifecycle, the queue message and both callbacks."""
    seen = audit(machine).seen
    assert {JobField.PROCESS_ID, JobField.STATUS, JobField.STAGE, JobField.WORKER_ID, JobField.WORK_TOKEN,
            JobField.WORK_TOKEN_FOR, JobField.EXECUTION_ARN, JobField.ERROR, JobField.FINISHED_AT} <= seen["job"]
    assert seen["message"] == {f.value for f in MessageField} and seen["input"] == {f.value for f in InputField}
    assert seen["callback"] == {f.value for f in CallbackField}
    assert {JobStatus.QUEUED, JobStatus.IN_PROGRESS, JobStatus.COMPLETED, JobStatus.FAILED} <= seen["status"]
    assert {Stage.QUEUED, Stage.CLAIMED, Stage.DONE, Stage.FAILED} <= seen["stage"]
    assert {ErrorCode.WORKER_LOST, ErrorCode.NO_WORKER} <= seen["error"]
    assert seen["work"] == {f.value for f in WorkField} and seen["kind"] == {k.value for k in WorkKind}


def _process(machine: dict) -> dict:
    return machine["States"]["Work"]["ItemProcessor"]["States"]["Process"]


def _process_branch(machine: dict) -> dict:
    return _process(machine)["Branches"][0]["States"]


@pytest.mark.parametrize(
    ("mutate", "problem"),
    [
        (lambda m: m["States"]["RecordJob"]["Parameters"]["Item"].update(status={"S": "WAITING"}), "status 'WAITING'"),
        (lambda m: m["States"]["RecordJob"]["Parameters"]["Item"].update(stage={"S": "Queued"}), "stage 'Queued'"),
        (lambda m: m["States"]["RecordJob"]["Parameters"]["Item"].update(uploadedBy={"S.$": "$.userId"}), "job 'uploadedBy'"),
        (lambda m: _process_branch(m)["WaitForWorker"]["Parameters"]["MessageBody"].update({"uploader.$": "$.userId"}), "message 'uploader'"),
        (lambda m: _process_branch(m)["WaitForWorker"]["Parameters"]["MessageBody"]["input"].update({"region": "x"}), "input 'region'"),
        (lambda m: _process_branch(m)["NoWorkerClaimed"].update(Error="NobodyCame"), "error 'NobodyCame'"),
        (lambda m: _process_branch(m)["Transcribe"]["Parameters"].update(
            UpdateExpression=_process_branch(m)["Transcribe"]["Parameters"]["UpdateExpression"] + ", claimedBy = :worker"),
         "job 'claimedBy'"),
        (lambda m: _process(m).update(ResultSelector={"outputs.$": "$[0].work.files"}), "callback 'files'"),
        (lambda m: _process_branch(m)["WaitForWorker"]["Parameters"]["MessageBody"]["work"].update({"part": 1}), "work 'part'"),
        (lambda m: m["States"]["PlanMerge"]["Parameters"].update(kind="stitch"), "kind 'stitch'"),
    ],
    ids=["status", "stage", "item-field", "message-field", "input-field", "fail-error", "update-field", "callback-field",
         "work-field", "work-kind"],
)
def test_a_name_outside_the_contract_is_reported(machine, mutate, problem):
    mutated = copy.deepcopy(machine)
    mutate(mutated)
    assert any(problem in p for p in audit(mutated).problems), audit(mutated).problems
