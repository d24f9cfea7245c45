"""What the state machine means, checked on statemachines/*.asl.json and template.yaml without AWS.

moto runs the ASL but forgives what AWS does not (error names it never raises, fields AWS may leave out, timeouts it
never reaches in a test). These checks read the definition the way Step Functions does:

- error names: each Retry/Catch name must be one the state's integration can raise, spelled by that integration's
  rule (optimized `dynamodb:` -> `DynamoDB.<Name>Exception`, `aws-sdk:dynamodb` -> `DynamoDb.<Name>Exception`,
  `sqs:` -> `SQS.<Name>Exception`, `lambda:invoke` -> `Lambda.<Name>Exception`, `events:putEvents` ->
  `EventBridge.<Name>Exception` or its own `EventBridge.FailedEntry`, `<Name>` an error of the service's API model),
  a real `States.*` name, or a custom name something in this project raises.
  https://docs.aws.amazon.com/step-functions/latest/dg/supported-services-awssdk.html (ServiceName.ErrorName, both
  PascalCase, always with the Exception suffix), https://docs.aws.amazon.com/step-functions/latest/dg/connect-ddb.html,
  https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html,
  https://docs.aws.amazon.com/step-functions/latest/dg/connect-eventbridge.html (a non-zero FailedEntryCount fails
  the task with EventBridge.FailedEntry),
  https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html (States.* names);
- optional fields: an error output's `Cause` is optional ("will also, usually, contain a field Cause", Amazon States
  Language, Errors), and reading a missing field is a States.Runtime error no Catch sees: it is read only behind a
  Choice that found it;
- timeouts: a heartbeat lapse and a run past TimeoutSeconds end in different error codes, and the execution's own
  TimeoutSeconds exceeds the longest run that any allowed template parameter value permits;
- logs: the state machine writes no execution data (it carries both task tokens) to CloudWatch Logs.
Each checker is also shown a definition it must reject, so a check that cannot fail is caught here too.
"""
from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from samtranslator.yaml_helper import yaml_parse

from scribefleet.contract import ErrorCode
from scribefleet.probe import Limits

ROOT = Path(__file__).resolve().parents[2]
ASL = ROOT / "statemachines" / "transcription.asl.json"
TEMPLATE = ROOT / "template.yaml"

# https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html, "Error names"
STATES_ERRORS = {
    "States.ALL", "States.DataLimitExceeded", "States.ExceedToleratedFailureThreshold", "States.HeartbeatTimeout",
    "States.Http.Socket", "States.IntrinsicFailure", "States.ItemReaderFailed", "States.NoChoiceMatched",
    "States.ParameterPathFailure", "States.Permissions", "States.ResultPathMatchFailure", "States.ResultWriterFailed",
    "States.Runtime", "States.TaskFailed", "States.Timeout", "States.QueryEvaluationError", "States.BranchFailed",
}
STANDARD_MAX_SECONDS = 365 * 24 * 3600  # a Standard workflow runs at most one year


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    return json.loads(ASL.read_text())


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return yaml_parse(TEMPLATE.read_text())


def walk(states: dict[str, dict], parent: str | None = None) -> Iterator[tuple[str, dict, str | None]]:
    """(name, state, enclosing Parallel or Map) for every state, branches and Map item processors included."""
    for name, state in states.items():
        yield name, state, parent
        for branch in state.get("Branches", []):
            yield from walk(branch["States"], name)
        if "ItemProcessor" in state:
            yield from walk(state["ItemProcessor"]["States"], name)


def states_of(definition: dict) -> dict[str, dict]:
    return {name: state for name, state, _ in walk(definition["States"])}


# ---------------------------------------------------------------- error names
def _api_errors(service: str) -> set[str]:
    """The service's error names as Step Functions spells them: the API model's error shapes, Exception-suffixed."""
    model = botocore.session.get_session().get_service_model(service)
    return {e.name if e.name.endswith("Exception") else e.name + "Exception" for e in model.error_shapes}


# Resource prefix -> (error name prefix, API model, the integration's own generic error names)
INTEGRATIONS = {
    # https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html (the transient 500s)
    "arn:aws:states:::lambda:": ("Lambda", "lambda", {"AWSLambdaException", "SdkClientException", "ClientExecutionTimeoutException"}),
    "arn:aws:states:::dynamodb:": ("DynamoDB", "dynamodb", {"AmazonDynamoDBException"}),
    "arn:aws:states:::aws-sdk:dynamodb:": ("DynamoDb", "dynamodb", {"DynamoDbException"}),
    "arn:aws:states:::sqs:": ("SQS", "sqs", {"AmazonSQSException", "SdkClientException"}),
    "arn:aws:states:::events:": ("EventBridge", "events", {"FailedEntry"}),
}


def integration_of(resource: str) -> tuple[str, set[str]]:
    for prefix, (error_prefix, service, generic) in INTEGRATIONS.items():
        if resource.startswith(prefix):
            return error_prefix, _api_errors(service) | generic
    raise AssertionError(f"no error naming rule for {resource}: add its integration to INTEGRATIONS")


def fail_errors(states: dict[str, dict]) -> set[str]:
    return {s["Error"] for _, s, _ in walk(states) if s["Type"] == "Fail" and "Error" in s}


def name_problems(definition: dict) -> list[str]:
    """Every Retry/Catch error name that the state cannot raise or that is spelled against its integration's rule."""
    problems = []
    for name, state, _ in walk(definition["States"]):
        matchers = [("Retry", m) for m in state.get("Retry", [])] + [("Catch", m) for m in state.get("Catch", [])]
        for kind in ("Retry", "Catch"):
            listed = [m for k, m in matchers if k == kind]
            for i, matcher in enumerate(listed):
                if "States.ALL" in matcher["ErrorEquals"] and (len(matcher["ErrorEquals"]) > 1 or i != len(listed) - 1):
                    problems.append(f"{name}.{kind}: States.ALL must stand alone in the last matcher")
        for kind, matcher in matchers:
            for error in matcher["ErrorEquals"]:
                where = f"{name}.{kind} {error!r}"
                if error.startswith("States."):
                    if error not in STATES_ERRORS:
                        problems.append(f"{where}: not a Step Functions error name")
                    elif error == "States.HeartbeatTimeout" and not {"HeartbeatSeconds", "HeartbeatSecondsPath"} & set(state):
                        problems.append(f"{where}: the state has no heartbeat")
                elif "." in error:
                    if state["Type"] != "Task":
                        problems.append(f"{where}: a {state['Type']} state raises no service errors")
                        continue
                    prefix, known = integration_of(state["Resource"])
                    service, _, exception = error.partition(".")
                    if service != prefix:
                        problems.append(f"{where}: {state['Resource']} names its errors {prefix}.<Name>")
                    elif exception not in known:
                        problems.append(f"{where}: {exception} is not an error of this integration")
                elif state["Type"] == "Parallel":
                    if error not in fail_errors({b: s for br in state["Branches"] for b, s in br["States"].items()}):
                        problems.append(f"{where}: no Fail state in the branches raises it")
                elif state["Type"] == "Task" and state["Resource"].endswith(".waitForTaskToken"):
                    if error not in {str(code) for code in ErrorCode}:
                        problems.append(f"{where}: the worker's SendTaskFailure sends only contract.ErrorCode names")
                else:
                    problems.append(f"{where}: nothing raises a custom error here")
    return problems


def test_every_error_name_is_one_its_state_can_raise_spelled_by_its_integration(definition):
    assert name_problems(definition) == []


def test_probe_media_retries_the_lambda_service_errors_aws_names_transient(definition):
    """AWS's best practice retries ClientExecutionTimeout, Service, AWSLambda and SdkClient exceptions of a Lambda
    invoke (bp-lambda-serviceexception.html); otherwise one such blip fails the upload as an internal error."""
    retried = {name for rule in states_of(definition)["ProbeMedia"]["Retry"] for name in rule["ErrorEquals"]}
    assert {f"Lambda.{e}" for e in ("ClientExecutionTimeoutException", "ServiceException", "AWSLambdaException",
                                    "SdkClientException", "TooManyRequestsException")} <= retried


def _with_names(definition: dict, state: str, names: list[str], kind: str = "Retry") -> dict:
    broken = copy.deepcopy(definition)
    states_of(broken)[state].setdefault(kind, []).insert(0, {"ErrorEquals": names})
    return broken


@pytest.mark.parametrize(("state", "name"), [
    ("Transcribe", "DynamoDB.ThrottlingException"),  # the optimized integration's spelling on an aws-sdk task
    ("RecordJob", "DynamoDb.ThrottlingException"),  # the SDK's spelling on an optimized task
    ("RecordJob", "DynamoDB.Throttling"),  # without the Exception suffix
    ("WaitForWorker", "SQS.NoSuchThing"),  # not in the SQS API
    ("ProbeMedia", "States.HeartbeatTimeout"),  # no heartbeat on that task
    ("ProbeMedia", "States.TimeOut"),  # not a States name
    ("Process", "ProcessTimedOut"),  # a Parallel re-raises only its branches' Fail errors
    ("Transcribe", "WorkerGone"),  # not a code the worker sends
    ("AnnounceCompleted", "Events.ThrottlingException"),  # the optimized EventBridge integration says EventBridge.*
    ("AnnounceFailed", "EventBridge.FailedEntries"),  # its own error is EventBridge.FailedEntry
])
def test_the_name_check_rejects_misspelled_and_impossible_names(definition, state, name):
    assert name_problems(_with_names(definition, state, [name]))


# ---------------------------------------------------------------- distinct codes per timeout kind
HEARTBEAT_LAPSE = {"States.HeartbeatTimeout", "States.Timeout", "States.ALL"}  # AWS: a lapse matches both names
RUN_TOO_LONG = {"States.Timeout", "States.ALL"}


def first_catcher(state: dict, matches: set[str]) -> dict | None:
    return next((c for c in state.get("Catch", []) if matches & set(c["ErrorEquals"])), None)


def fail_codes_from(states: dict[str, dict], start: str) -> set[str]:
    """The Fail errors reachable from a state inside the same branch (Next, Default and Choice branches)."""
    seen, todo, codes = set(), [start], set()
    while todo:
        name = todo.pop()
        if name in seen or name not in states:
            continue
        seen.add(name)
        state = states[name]
        if state["Type"] == "Fail":
            codes.add(state.get("Error", "<ErrorPath>"))
        todo += [state[k] for k in ("Next", "Default") if k in state]
        todo += [c["Next"] for c in state.get("Choices", [])]
        todo += [c["Next"] for c in state.get("Catch", [])]
    return codes


def timeout_problems(definition: dict) -> list[str]:
    """For every task with a heartbeat: a lapse and a run past TimeoutSeconds must end in different codes, the lapse
    retried by the enclosing Parallel, the long run not."""
    problems = []
    for parallel_name, parallel, _ in walk(definition["States"]):
        for branch in parallel.get("Branches", []):
            states = branch["States"]
            retried = {e for r in parallel.get("Retry", []) for e in r["ErrorEquals"]}
            for name, state in states.items():
                if not {"HeartbeatSeconds", "HeartbeatSecondsPath"} & set(state):
                    continue
                lapse, too_long = first_catcher(state, HEARTBEAT_LAPSE), first_catcher(state, RUN_TOO_LONG)
                if lapse is None or too_long is None:
                    problems.append(f"{name}: both a heartbeat lapse and a run past TimeoutSeconds must be caught")
                    continue
                lapse_codes, long_codes = fail_codes_from(states, lapse["Next"]), fail_codes_from(states, too_long["Next"])
                if lapse_codes & long_codes or not lapse_codes or not long_codes:
                    problems.append(f"{name}: a heartbeat lapse ends in {lapse_codes}, a run too long in {long_codes}")
                if not lapse_codes <= retried or "States.ALL" in retried:
                    problems.append(f"{parallel_name}: a heartbeat lapse ({lapse_codes}) must be retried, nothing else")
                if long_codes & retried:
                    problems.append(f"{parallel_name}: a run past its timeout ({long_codes}) would run as long again")
    return problems


def test_heartbeat_loss_and_process_timeout_end_in_different_codes(definition):
    assert timeout_problems(definition) == []
    transcribe = states_of(definition)["Transcribe"]
    branch = states_of(definition)["Process"]["Branches"][0]["States"]
    assert fail_codes_from(branch, first_catcher(transcribe, HEARTBEAT_LAPSE)["Next"]) == {ErrorCode.WORKER_LOST}
    assert fail_codes_from(branch, first_catcher(transcribe, RUN_TOO_LONG)["Next"]) == {ErrorCode.PROCESS_TIMEOUT}


def test_the_timeout_check_rejects_one_catcher_for_both_kinds(definition):
    broken = copy.deepcopy(definition)
    transcribe = states_of(broken)["Transcribe"]
    transcribe["Catch"] = [{"ErrorEquals": ["States.HeartbeatTimeout", "States.Timeout", "WorkerLost"], "ResultPath": "$.error",
                            "Next": "RequeueJob"}]
    assert timeout_problems(broken)


# ---------------------------------------------------------------- optional fields
PATH = re.compile(r"\$(?:\.[A-Za-z_][\w-]*)+")


def error_output_paths(definition: dict) -> set[str]:
    """Where Catch puts error outputs ($.error ...); their Cause is optional."""
    return {c["ResultPath"] for _, s, _ in walk(definition["States"]) for c in s.get("Catch", []) if c.get("ResultPath")}


def _paths_in(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            if key.endswith(".$") and isinstance(inner, str):
                yield from PATH.findall(inner)
            else:
                yield from _paths_in(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _paths_in(inner)


def reads(state: dict) -> set[str]:
    """Paths a state reads, except in Choice rules (checked rule by rule)."""
    found = set(_paths_in(state.get("Parameters", {}))) | set(_paths_in(state.get("ResultSelector", {})))
    found |= {state[k] for k in ("CausePath", "ErrorPath", "InputPath", "TimeoutSecondsPath", "HeartbeatSecondsPath") if k in state}
    return found


def _guarded(rule: dict, path: str) -> bool:
    """The rule only holds when `path` is present (IsPresent: true at the top or in an And)."""
    if rule.get("Variable") == path and rule.get("IsPresent") is True:
        return True
    return any(_guarded(r, path) for r in rule.get("And", []))


def _rule_reads_unguarded(rule: dict, path: str, guarded: bool = False) -> bool:
    guarded = guarded or _guarded(rule, path)
    if rule.get("Variable") == path and "IsPresent" not in rule and not guarded:
        return True
    return any(_rule_reads_unguarded(r, path, guarded) for r in rule.get("And", []) + rule.get("Or", []) + ([rule["Not"]] if "Not" in rule else []))


def optional_field_problems(definition: dict) -> list[str]:
    optional = {f"{p}.Cause" for p in error_output_paths(definition)}
    problems = []
    for states in [definition["States"]] + [b["States"] for _, s, _ in walk(definition["States"]) for b in s.get("Branches", [])]:
        incoming: dict[str, list[tuple[str, dict | None]]] = {}
        for name, state in states.items():
            for key in ("Next", "Default"):
                if key in state:
                    incoming.setdefault(state[key], []).append((name, None))
            for rule in state.get("Choices", []):
                incoming.setdefault(rule["Next"], []).append((name, rule))
            for catcher in state.get("Catch", []):
                incoming.setdefault(catcher["Next"], []).append((name, None))
        for name, state in states.items():
            for path in optional:
                for rule in state.get("Choices", []):
                    if _rule_reads_unguarded(rule, path):
                        problems.append(f"{name}: a Choice rule reads {path} without IsPresent")
                if path in reads(state) or any(path in arg for arg in reads(state)):
                    if not incoming.get(name) or any(rule is None or not _guarded(rule, path) for _, rule in incoming[name]):
                        problems.append(f"{name} reads {path}, which may be missing, without a Choice that found it")
    return problems


def test_optional_error_fields_are_read_only_where_a_choice_found_them(definition):
    assert "$.error" in error_output_paths(definition)
    assert optional_field_problems(definition) == []


def test_the_optional_field_check_rejects_an_unguarded_cause(definition):
    broken = copy.deepcopy(definition)
    broken["States"]["DescribeFailure"] = {"Type": "Pass", "Parameters": {"code.$": "$.error.Error", "message.$": "$.error.Cause"},
                                           "ResultPath": "$.failure", "Next": "MarkFailed"}
    assert optional_field_problems(broken)


# ---------------------------------------------------------------- timeout arithmetic
def parameter(template: dict, name: str) -> dict:
    return template["Parameters"][name]


def largest_limits(template: dict) -> dict[str, float]:
    """The largest value ProbeMedia can hand the state machine for each limit, over every allowed parameter value
    (the probe's own Limits.for_audio does the arithmetic, estimated durations included)."""
    from scribefleet import probe

    top = lambda name: float(parameter(template, name)["MaxValue"])  # noqa: E731
    limits = Limits(
        max_file_bytes=int(parameter(template, "MaxFileBytes")["Default"]), max_audio_seconds=int(top("MaxAudioSeconds")),
        heartbeat_seconds=int(top("HeartbeatSeconds")), claim_timeout_seconds=int(top("ClaimTimeoutSeconds")),
        process_timeout_base_seconds=int(top("ProcessTimeoutBaseSeconds")),
        process_timeout_per_audio_second=top("ProcessTimeoutPerAudioSecond"),
    )
    longest_accepted = limits.max_audio_seconds * getattr(probe, "ESTIMATE_REJECT_FACTOR", 1.0)
    answers = [limits.for_audio(longest_accepted, estimated) for estimated in (False, True)]
    return {key: max(a[key] for a in answers) for key in answers[0]}


def retry_budget(retriers: list[dict]) -> tuple[int, float]:
    """(most attempts, most seconds spent waiting between them) over a state's Retry."""
    attempts, waiting = 1, 0.0
    for retrier in retriers:
        tries = retrier.get("MaxAttempts", 3)
        attempts += tries
        interval, rate, cap = retrier.get("IntervalSeconds", 1), retrier.get("BackoffRate", 2.0), retrier.get("MaxDelaySeconds", math.inf)
        waiting += sum(min(interval * rate**k, cap) for k in range(tries))
    return attempts, waiting


def longest_run(states: dict[str, dict], start: str, limits: dict[str, float]) -> float:
    """An upper bound of a run from `start`: the sum over every state once (each runs at most once per attempt of its
    enclosing Parallel, which the check of acyclicity below makes sure of), each state's attempts x its timeout plus
    its retry waits."""
    total = 0.0
    for name, state in states.items():
        if state["Type"] == "Task":
            if "TimeoutSeconds" in state:
                once = state["TimeoutSeconds"]
            elif "TimeoutSecondsPath" in state:
                once = limits[state["TimeoutSecondsPath"].rsplit(".", 1)[-1]]
            else:
                raise AssertionError(f"{name} has no TimeoutSeconds: a Task without one may wait 99999999 s")
        elif state["Type"] == "Parallel":
            once = max(longest_run(b["States"], b["StartAt"], limits) for b in state["Branches"])
        elif state["Type"] == "Map":  # its items run at once: one item's longest run, times the rounds of a loop
            processor = state["ItemProcessor"]
            once = longest_run(processor["States"], processor["StartAt"], limits) * ROUNDS.get(name, 1)
        elif state["Type"] == "Wait":
            once = state.get("Seconds", math.inf)
        else:
            once = 0
        retriers = state.get("Retry", [])
        if state.get("Resource", "").endswith(".waitForTaskToken"):
            # A service error of a callback task comes from its API call, before the wait for the token begins:
            # an attempt ended by one costs that call, not the task's timeout.
            at_submit = [r for r in retriers if all(_is_service_error(e) for e in r["ErrorEquals"])]
            retriers = [r for r in retriers if r not in at_submit]
            tries, waits = retry_budget(at_submit)
            total += (tries - 1) * SUBMIT_SECONDS + waits
        attempts, waiting = retry_budget(retriers)
        total += once * attempts + waiting
    return total


SUBMIT_SECONDS = 60  # one service API call that fails, timeouts of the SDK's own retries included


def _is_service_error(name: str) -> bool:
    return "." in name and not name.startswith("States.")


# The one loop: Work runs the whole file; if PlanSplit split it, WhatNext runs Work again over its chunks, then once
# more for the merge (a whole or merged round goes on to NoteResult). So Work runs at most 3 times, re-entered only by
# these edges; has_cycle ignores them and longest_run counts Work 3 times.
ROUNDS = {"Work": 3}
REENTRIES = {("PlanChunks", "Work"), ("PlanMerge", "Work")}


def has_cycle(states: dict[str, dict]) -> bool:
    edges = {n: {s[k] for k in ("Next", "Default") if k in s} | {c["Next"] for c in s.get("Choices", []) + s.get("Catch", [])}
             for n, s in states.items()}
    edges = {n: {m for m in nexts if (n, m) not in REENTRIES} for n, nexts in edges.items()}
    visiting, done = set(), set()

    def visit(node: str) -> bool:
        if node in done:
            return False
        if node in visiting:
            return True
        visiting.add(node)
        cyclic = any(visit(n) for n in edges.get(node, ()))
        visiting.discard(node)
        done.add(node)
        return cyclic

    return any(visit(n) for n in states)


def test_every_limit_parameter_is_bounded_above(template):
    for name in ("HeartbeatSeconds", "ClaimTimeoutSeconds", "ProcessTimeoutBaseSeconds", "ProcessTimeoutPerAudioSecond", "MaxAudioSeconds"):
        assert "MaxValue" in parameter(template, name), f"{name} has no MaxValue: no execution timeout can cover it"


def test_execution_timeout_exceeds_the_longest_run_every_allowed_parameter_value_permits(definition, template):
    assert not has_cycle(definition["States"]) and not any(
        has_cycle(b["States"]) for _, s, _ in walk(definition["States"]) for b in [*s.get("Branches", []), *([s["ItemProcessor"]] if "ItemProcessor" in s else [])])
    limits = largest_limits(template)
    longest = longest_run(definition["States"], definition["StartAt"], limits)
    # the claim timeouts alone are in it (3 attempts of a whole file, its chunks, its merge): a job that waits that
    # long ends NoWorker, not ExecutionTimedOut
    assert longest > 3 * 3 * (limits["claimTimeoutSeconds"] + limits["processTimeoutSeconds"])
    assert longest < definition["TimeoutSeconds"] <= STANDARD_MAX_SECONDS, (
        f"execution TimeoutSeconds {definition['TimeoutSeconds']} s; the longest run allowed is {longest:.0f} s")


def test_the_arithmetic_sees_the_claim_timeout_maximum(definition, template):
    """The 2-day execution timeout this replaced fails against the 4-day ClaimTimeoutSeconds maximum."""
    old = {**definition, "TimeoutSeconds": 172800}
    limits = largest_limits(template)
    assert longest_run(old["States"], old["StartAt"], limits) > old["TimeoutSeconds"]


def test_heartbeat_stays_below_every_process_timeout(template):
    """Step Functions needs HeartbeatSeconds < TimeoutSeconds; the process timeout is at least its base."""
    assert parameter(template, "HeartbeatSeconds")["MaxValue"] < parameter(template, "ProcessTimeoutBaseSeconds")["MinValue"]


def test_a_queued_message_outlives_the_claim_timeout(template):
    """A job message must still be in the queue when its WaitForWorker task gives up (each attempt sends a new one)."""
    retention = template["Resources"]["JobQueue"]["Properties"]["MessageRetentionPeriod"]
    assert parameter(template, "ClaimTimeoutSeconds")["MaxValue"] <= retention <= 1209600  # SQS keeps 14 days at most


# ---------------------------------------------------------------- no token-bearing data in logs
@pytest.mark.security
def test_task_tokens_travel_in_task_parameters(definition):
    """Why the logging setting below matters: both tokens are task parameters (SQS body, DynamoDB update)."""
    carriers = [n for n, s, _ in walk(definition["States"]) if "$$.Task.Token" in json.dumps(s.get("Parameters", {}))]
    assert sorted(carriers) == ["Transcribe", "WaitForWorker"]


@pytest.mark.security
def test_state_machine_logs_carry_no_execution_data(template):
    logging = template["Resources"]["TranscriptionStateMachine"]["Properties"]["Logging"]
    assert logging["Level"] == "OFF" or logging["IncludeExecutionData"] is False


# ---------------------------------------------------------------- the heartbeat-timeout metric
def filter_matches(pattern: str, event: dict) -> bool:
    """CloudWatch Logs JSON filter patterns of the form { ($.a.b = "x") && ($.c = "y") } (all this template uses)."""
    body = pattern.strip()
    assert body.startswith("{") and body.endswith("}"), pattern
    terms = [t.strip() for t in body[1:-1].split("&&")]
    for term in terms:
        match = re.fullmatch(r'\(\s*\$\.([\w.]+)\s*=\s*"([^"]*)"\s*\)', term)
        assert match, f"unsupported term {term!r}"
        value: Any = event
        for key in match.group(1).split("."):
            value = value.get(key) if isinstance(value, dict) else None
        if value != match.group(2):
            return False
    return True


def timed_out_record(resource_arn: str, error: str) -> dict:
    """The log record of a TaskTimedOut history event: its details are the event's taskTimedOutEventDetails
    (resourceType and resource as the history names an integration: aws-sdk:dynamodb / updateItem.waitForTaskToken)."""
    service_action = resource_arn.split(":::", 1)[1]
    resource_type, _, resource = service_action.rpartition(":")
    return {"type": "TaskTimedOut", "details": {"resourceType": resource_type, "resource": resource, "error": error}}


def test_heartbeat_metric_counts_the_transcribe_timeout_whatever_its_error_says(template, definition):
    pattern = template["Resources"]["HeartbeatTimeoutMetricFilter"]["Properties"]["FilterPattern"]
    tasks = {name: s["Resource"] for name, s, _ in walk(definition["States"]) if s["Type"] == "Task"}
    for error in ("States.HeartbeatTimeout", "States.Timeout"):
        assert filter_matches(pattern, timed_out_record(tasks["Transcribe"], error)), error
    for name, resource in tasks.items():
        if name != "Transcribe":
            assert not filter_matches(pattern, timed_out_record(resource, "States.Timeout")), name
