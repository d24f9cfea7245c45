"""Why each patch in sam/moto_patches.py exists: every test shows the gap with the patch undone, then the fix.

If moto is upgraded and a gap closes, the "without" half of a test fails: drop the patch then. If a patch target
disappears, test_apply_fails_loudly_when_a_target_is_gone's mechanism makes apply() raise.
"""
from __future__ import annotations

import io
import json
import sys
import threading
import time
import zipfile
from importlib.metadata import version
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from sam import moto_patches

REGION = "us-east-1"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def aws():
    moto_patches.apply()
    with mock_aws(config=moto_patches.MOTO_CONFIG):
        yield


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def _function(name: str = "echo") -> str:
    role = boto3.client("iam", region_name=REGION).create_role(RoleName=f"r-{name}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    return boto3.client("lambda", region_name=REGION).create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler="app.handler", Code={"ZipFile": _zip()},
        Environment={"Variables": {"GREETING": "hello"}},
    )["FunctionArn"]


def _wait(condition, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    return condition()


def test_moto_is_pinned_to_the_version_the_patches_were_written_for():
    pinned = [line for line in (REPO / "constraints.txt").read_text().splitlines() if line.startswith("moto==")]
    assert pinned == [f"moto=={version('moto')}"] == ["moto==5.2.5"]


def test_apply_fails_loudly_when_a_target_is_gone(monkeypatch):
    class Empty:
        pass

    monkeypatch.setitem(moto_patches.TARGETS, "gone", (Empty, "vanished", lambda: None))
    monkeypatch.setattr(moto_patches, "_applied", False)
    with pytest.raises(RuntimeError, match="vanished"):
        moto_patches.apply()


# 1 ---------------------------------------------------------------------------------------------------------------
def test_lambda_runs_the_registered_handler_in_process_with_the_function_environment(aws):
    import os

    _function("echo")
    seen = {}
    moto_patches.register_handler("echo", lambda event, context: seen.update(event=event, greeting=os.environ["GREETING"]) or {"ok": True})
    lam = boto3.client("lambda", region_name=REGION)
    with moto_patches.without("lambda in-process"):
        try:
            answer = lam.invoke(FunctionName="echo", Payload=b'{"x": 1}')["Payload"].read()
        except Exception as error:  # no Docker here: moto's own invoke cannot run the code
            answer = repr(error).encode()
    assert b'"ok": true' not in answer and not seen

    answer = json.loads(lam.invoke(FunctionName="echo", Payload=b'{"x": 1}')["Payload"].read())
    assert answer == {"ok": True} and seen == {"event": {"x": 1}, "greeting": "hello"}


def test_function_environment_is_safe_for_threads_that_read_os_environ_meanwhile():
    """moto's executions build boto3 clients on their own threads, and urllib's proxy lookup iterates os.environ:
    an invocation's environment must never vanish under it (a KeyError there failed a WaitForWorker task in CI)."""
    import os
    import threading

    errors, stop = [], threading.Event()

    def read_environment():
        while not stop.is_set():
            try:
                dict(os.environ.items())
            except KeyError as error:
                errors.append(error)

    reader = threading.Thread(target=read_environment)
    reader.start()
    try:
        for n in range(3000):
            with moto_patches.function_environment({"SCRIBEFLEET_TEST_VARIABLE": str(n), "PATH": "/nowhere"}):
                assert os.environ["SCRIBEFLEET_TEST_VARIABLE"] == str(n)
    finally:
        stop.set()
        reader.join()
    assert not errors and os.environ["PATH"] != "/nowhere"  # values that existed before come back


# 2 ---------------------------------------------------------------------------------------------------------------
def _token_machine() -> tuple[str, str]:
    queue = boto3.client("sqs", region_name=REGION).create_queue(QueueName="tokens")["QueueUrl"]
    definition = {"StartAt": "Wait", "States": {"Wait": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token"}}, "End": True}}}
    arn = boto3.client("stepfunctions", region_name=REGION).create_state_machine(
        name="tokens", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/sfn")["stateMachineArn"]
    return arn, queue


def _failure_cause(name: str) -> str | None:
    sfn, sqs = boto3.client("stepfunctions", region_name=REGION), boto3.client("sqs", region_name=REGION)
    machine, queue = _token_machine() if not sfn.list_state_machines()["stateMachines"] else (
        sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"], sqs.get_queue_url(QueueName="tokens")["QueueUrl"])
    execution = sfn.start_execution(stateMachineArn=machine, name=name, input="{}")["executionArn"]
    message = _wait(lambda: sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages"))[0]
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    sfn.send_task_failure(taskToken=json.loads(message["Body"])["token"], error="BadInput", cause="the audio stream cannot be decoded")
    described = _wait(lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d)
    assert described["status"] == "FAILED" and described["error"] == "BadInput"
    return described.get("cause")


def test_send_task_failure_keeps_its_cause(aws):
    with moto_patches.without("SendTaskFailure cause"):
        assert _failure_cause("without") != "the audio stream cannot be decoded"
    assert _failure_cause("with") == "the audio stream cannot be decoded"


# 3 ---------------------------------------------------------------------------------------------------------------
def _stack_with_state_machine(name: str) -> str:
    cfn = boto3.client("cloudformation", region_name=REGION)
    template = {"Resources": {"Machine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
        "DefinitionString": json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}),
        "RoleArn": "arn:aws:iam::123456789012:role/sfn"}}}}
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))
    resources = cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
    return resources[0]["PhysicalResourceId"]


def test_a_state_machine_created_by_cloudformation_can_be_executed(aws):
    sfn = boto3.client("stepfunctions", region_name=REGION)
    with moto_patches.without("CloudFormation state machine (create)"):
        arn = _stack_with_state_machine("without")
        with pytest.raises(ClientError, match="StateMachineDoesNotExist"):
            sfn.start_execution(stateMachineArn=arn, name="x", input="{}")
    arn = _stack_with_state_machine("with")
    execution = sfn.start_execution(stateMachineArn=arn, name="x", input="{}")["executionArn"]
    assert _wait(lambda: sfn.describe_execution(executionArn=execution)["status"] == "SUCCEEDED")


# 4 ---------------------------------------------------------------------------------------------------------------
def test_eventbridge_delivers_to_lambda_targets(aws):
    arn = _function("on-event")
    calls = []
    moto_patches.register_handler("on-event", lambda event, context: calls.append(event) or {})
    events = boto3.client("events", region_name=REGION)
    events.put_rule(Name="uploads", EventPattern=json.dumps({"source": ["aws.s3"]}))
    events.put_targets(Rule="uploads", Targets=[{"Id": "fn", "Arn": arn}])
    entry = {"Source": "aws.s3", "DetailType": "Object Created", "Detail": json.dumps({"bucket": {"name": "b"}})}
    with moto_patches.without("EventBridge Lambda/Step Functions/SNS targets"):
        with pytest.raises(NotImplementedError):  # in-process; a moto server answers PutEvents with 500
            events.put_events(Entries=[entry])
        time.sleep(0.5)
        assert calls == []
    events.put_events(Entries=[entry])
    assert _wait(lambda: calls) and calls[0]["detail"] == {"bucket": {"name": "b"}}


def test_a_scheduled_rule_receives_no_event(aws):
    """A rule with a schedule and no pattern is run by its schedule only; moto matched every event to its empty
    pattern. A pattern rule beside it still gets the event (the proof that the event was put at all)."""
    arn = _function("on-schedule")
    calls = []
    moto_patches.register_handler("on-schedule", lambda event, context: calls.append(event["detail-type"]) or {})
    events = boto3.client("events", region_name=REGION)
    events.put_rule(Name="hourly", ScheduleExpression="rate(1 hour)")
    events.put_targets(Rule="hourly", Targets=[{"Id": "fn", "Arn": arn}])
    events.put_rule(Name="jobs", EventPattern=json.dumps({"source": ["scribefleet"]}))
    events.put_targets(Rule="jobs", Targets=[{"Id": "fn", "Arn": arn}])
    events.put_events(Entries=[{"Source": "scribefleet", "DetailType": "Transcription Job State Change", "Detail": "{}"}])
    assert _wait(lambda: calls)
    time.sleep(0.5)  # a second delivery, through the scheduled rule, would have arrived by now (both start at once)
    assert calls == ["Transcription Job State Change"]


def test_eventbridge_publishes_to_sns_targets_what_eventbridge_would(aws):
    """The job-events mail rule (template.yaml) targets an SNS topic: without the patch its PutEvents fails, so no rule
    at all receives the event. With it the topic gets the event's JSON, or the InputTransformer's text."""
    sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="job-events")["TopicArn"]
    queue = sqs.create_queue(QueueName="mailbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    events = boto3.client("events", region_name=REGION)
    events.put_rule(Name="mail", EventPattern=json.dumps({"source": ["scribefleet"]}))
    events.put_targets(Rule="mail", Targets=[
        {"Id": "raw", "Arn": topic},
        {"Id": "text", "Arn": topic, "InputTransformer": {"InputPathsMap": {"id": "$.detail.processId"}, "InputTemplate": '"Job <id> ended."'}},
    ])
    entry = {"Source": "scribefleet", "DetailType": "Transcription Job State Change", "Detail": json.dumps({"processId": "u1-t1"})}
    with moto_patches.without("EventBridge Lambda/Step Functions/SNS targets"):
        with pytest.raises(NotImplementedError):
            events.put_events(Entries=[entry])
    assert "Messages" not in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0)
    events.put_events(Entries=[entry])
    bodies = [m["Body"] for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)["Messages"]]
    assert len(bodies) == 2 and "Job u1-t1 ended." in bodies
    (raw,) = [json.loads(b) for b in bodies if b != "Job u1-t1 ended."]
    assert raw["source"] == "scribefleet" and raw["detail"] == {"processId": "u1-t1"}


# 5 ---------------------------------------------------------------------------------------------------------------
def test_lambda_output_reaches_its_cloudwatch_log_group_when_captured(aws):
    _function("talker")
    moto_patches.register_handler("talker", lambda event, context: print('{"message": "hello from talker"}') or {})
    lam, logs = boto3.client("lambda", region_name=REGION), boto3.client("logs", region_name=REGION)

    def logged() -> list[str]:
        try:
            return [e["message"] for e in logs.filter_log_events(logGroupName="/aws/lambda/talker")["events"]]
        except logs.exceptions.ResourceNotFoundException:
            return []

    lam.invoke(FunctionName="talker", Payload=b"{}")
    assert not any("hello from talker" in m for m in logged())
    real = sys.stdout
    try:
        moto_patches.capture_lambda_output()
        lam.invoke(FunctionName="talker", Payload=b"{}")
    finally:
        sys.stdout = real
    assert any("hello from talker" in m for m in logged())


# 6 ---------------------------------------------------------------------------------------------------------------
ALARM_TEMPLATE = {"Resources": {
    "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmName": "failures", "Namespace": "AWS/States", "MetricName": "ExecutionsFailed", "Statistic": "Sum",
        "Period": 300, "EvaluationPeriods": 1, "Threshold": 1, "ComparisonOperator": "GreaterThanOrEqualToThreshold"}},
    "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"Tags": [{"Key": "alarm", "Value": {"Fn::GetAtt": ["Alarm", "Arn"]}}]}},
}}


def test_cloudformation_creates_the_resource_types_moto_lacks(aws):
    cfn, cloudwatch = boto3.client("cloudformation", region_name=REGION), boto3.client("cloudwatch", region_name=REGION)
    with moto_patches.without("CloudFormation types moto lacks"):
        with pytest.raises(ClientError, match="Fn::GetAtt references undefined resource Alarm"):
            cfn.create_stack(StackName="without", TemplateBody=json.dumps(ALARM_TEMPLATE))
    cfn.create_stack(StackName="with", TemplateBody=json.dumps(ALARM_TEMPLATE))
    assert [a["AlarmName"] for a in cloudwatch.describe_alarms()["MetricAlarms"]] == ["failures"]
    types = {r["ResourceType"] for r in cfn.list_stack_resources(StackName="with")["StackResourceSummaries"]}
    assert types == {"AWS::CloudWatch::Alarm", "AWS::SNS::Topic"}


def test_tls_only_bucket_policy_is_recorded_not_enforced_because_moto_ignores_conditions(aws):
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="tls-only")
    deny_plain_http = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                       "Resource": ["arn:aws:s3:::tls-only", "arn:aws:s3:::tls-only/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}
    s3.put_bucket_policy(Bucket="tls-only", Policy=json.dumps(deny_plain_http))
    with pytest.raises(ClientError, match="Forbidden|AccessDenied"):  # the gap: the condition is ignored, all denied
        s3.put_object(Bucket="tls-only", Key="k", Body=b"x")
    s3.delete_bucket_policy(Bucket="tls-only")
    template = {"Resources": {"Policy": {"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": "tls-only", "PolicyDocument": deny_plain_http}}}}
    boto3.client("cloudformation", region_name=REGION).create_stack(StackName="policy", TemplateBody=json.dumps(template))
    s3.put_object(Bucket="tls-only", Key="k", Body=b"x")
    assert moto_patches.EXTRA_RESOURCES["AWS::S3::BucketPolicy"].recorded["tls-only"] == deny_plain_http


# 7 ---------------------------------------------------------------------------------------------------------------
def test_an_ended_execution_puts_its_status_change_event_on_eventbridge(aws):
    arn = _function("on-ended")
    seen = []
    moto_patches.register_handler("on-ended", lambda event, context: seen.append(event) or {})
    events = boto3.client("events", region_name=REGION)
    events.put_rule(Name="ended", EventPattern=json.dumps({"source": ["aws.states"], "detail-type": ["Step Functions Execution Status Change"]}))
    events.put_targets(Rule="ended", Targets=[{"Id": "fn", "Arn": arn}])
    sfn = boto3.client("stepfunctions", region_name=REGION)
    definition = {"StartAt": "Break", "States": {"Break": {"Type": "Fail", "Error": "Broken", "Cause": "on purpose"}}}
    machine = sfn.create_state_machine(name="breaks", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/sfn")["stateMachineArn"]

    with moto_patches.without("Step Functions status change events"):
        quiet = sfn.start_execution(stateMachineArn=machine, name="quiet", input="{}")["executionArn"]
        _wait(lambda: sfn.describe_execution(executionArn=quiet)["status"] == "FAILED")
        time.sleep(0.5)
        assert seen == []

    failed = sfn.start_execution(stateMachineArn=machine, name="failed", input='{"processId": "u1-t1"}')["executionArn"]
    (event,) = _wait(lambda: seen)
    assert event["detail"]["executionArn"] == failed and event["detail"]["stateMachineArn"] == machine
    assert (event["detail"]["status"], event["detail"]["error"], event["detail"]["cause"]) == ("FAILED", "Broken", "on purpose")
    assert json.loads(event["detail"]["input"]) == {"processId": "u1-t1"}
    assert event["detail"]["stopDate"] >= event["detail"]["startDate"] > 0 and event["resources"] == [failed]


def _scan_blocked_while_a_put_runs(monkeypatch, put_may_finish_within: float) -> tuple[bool, bool]:
    """Hold a Scan inside moto's DynamoDB backend, try a PutItem from another thread, report whether it finished
    while the Scan was held and whether it finished after the Scan was let go."""
    from moto.dynamodb.models import DynamoDBBackend

    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(TableName="jobs", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    scanning, release = threading.Event(), threading.Event()
    original_scan = DynamoDBBackend.scan

    def held_scan(self, *args, **kwargs):
        scanning.set()
        release.wait(30)
        return original_scan(self, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "scan", held_scan)
    put_done = threading.Event()
    scanner = threading.Thread(target=lambda: client.scan(TableName="jobs"))
    writer = threading.Thread(target=lambda: (client.put_item(TableName="jobs", Item={"pk": {"S": "a"}}), put_done.set()))
    scanner.start()
    assert scanning.wait(30)
    writer.start()
    finished_during_scan = put_done.wait(put_may_finish_within)
    release.set()
    scanner.join(30)
    writer.join(30)
    return finished_during_scan, put_done.is_set()


def test_dynamodb_requests_are_serialised_so_a_scan_never_sees_a_table_change_under_it(aws, monkeypatch):
    with moto_patches.without("DynamoDB requests serialised"):
        interleaved, _ = _scan_blocked_while_a_put_runs(monkeypatch, put_may_finish_within=30)
    assert interleaved, "without the patch a PutItem runs while a Scan is inside the backend (the race)"


def test_a_put_waits_for_a_running_scan_with_the_patch(aws, monkeypatch):
    interleaved, finished_after = _scan_blocked_while_a_put_runs(monkeypatch, put_may_finish_within=1.0)
    assert not interleaved and finished_after


# 9 ---------------------------------------------------------------------------------------------------------------
def _timeout_machine(name: str, timeouts: dict, catchers: list[list[str]]) -> str:
    """A callback task that nobody answers, with the given HeartbeatSeconds/TimeoutSeconds; each catcher leads to a
    Pass state that records which catcher fired and the error output it received."""
    queue = boto3.client("sqs", region_name=REGION).create_queue(QueueName=f"q-{name}")["QueueUrl"]
    states = {"Wait": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token"}}, **timeouts,
        "Catch": [{"ErrorEquals": names, "ResultPath": "$.error", "Next": f"Caught{n}"} for n, names in enumerate(catchers)],
        "End": True}}
    for n in range(len(catchers)):
        states[f"Caught{n}"] = {"Type": "Pass", "Parameters": {"catcher": n, "error.$": "$.error.Error"}, "End": True}
    return boto3.client("stepfunctions", region_name=REGION).create_state_machine(
        name=name, definition=json.dumps({"StartAt": "Wait", "States": states}),
        roleArn="arn:aws:iam::123456789012:role/sfn")["stateMachineArn"]


def _caught(machine: str, name: str) -> dict:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    execution = sfn.start_execution(stateMachineArn=machine, name=name, input="{}")["executionArn"]
    described = _wait(lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d, timeout=30)
    assert described["status"] == "SUCCEEDED", described
    timed_out = [e["taskTimedOutEventDetails"] for e in sfn.get_execution_history(executionArn=execution)["events"]
                 if e["type"] == "TaskTimedOut"]
    return {**json.loads(described["output"]), "event": timed_out[0]["error"]}


HEARTBEAT_FIRST = [["States.HeartbeatTimeout"], ["States.Timeout"]]


def test_a_heartbeat_lapse_is_a_heartbeat_timeout_and_a_task_timeout_is_not(aws):
    lapse = _timeout_machine("lapse", {"HeartbeatSeconds": 1, "TimeoutSeconds": 60}, HEARTBEAT_FIRST)
    with moto_patches.without("heartbeat lapse is States.HeartbeatTimeout"):
        # the gap: a lost worker looks like a job past its time limit
        assert _caught(lapse, "without") == {"catcher": 1, "error": "States.Timeout", "event": "States.Timeout"}
    assert _caught(lapse, "with") == {"catcher": 0, "error": "States.HeartbeatTimeout", "event": "States.HeartbeatTimeout"}

    too_long = _timeout_machine("too-long", {"TimeoutSeconds": 1}, HEARTBEAT_FIRST)
    assert _caught(too_long, "with") == {"catcher": 1, "error": "States.Timeout", "event": "States.Timeout"}


def test_a_heartbeat_lapse_also_matches_a_catcher_of_states_timeout_as_in_aws(aws):
    only_timeout = _timeout_machine("only-timeout", {"HeartbeatSeconds": 1, "TimeoutSeconds": 60}, [["States.Timeout"]])
    assert _caught(only_timeout, "lapse") == {"catcher": 0, "error": "States.HeartbeatTimeout", "event": "States.HeartbeatTimeout"}


def test_a_heartbeat_between_the_token_write_and_the_wait_is_accepted():
    """Patch 10. A callback task's token is live from the task's start; moto sets up the heartbeat wait only after the
    integration call returns. In between, unpatched, the beat is refused (SendTaskHeartbeat then answers InvalidToken);
    patched it is accepted. Once the wait is set up, beats go to it as before."""
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint

    endpoint = CallbackEndpoint(callback_id="token")
    with moto_patches.without("heartbeat before the task waits"):
        assert endpoint.notify_heartbeat() is False
    assert endpoint.notify_heartbeat() is True
    waiting = endpoint.setup_heartbeat_endpoint(heartbeat_seconds=5)
    assert endpoint.notify_heartbeat() is True and waiting is not None
