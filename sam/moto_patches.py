"""Every change scribefleet makes to moto's behaviour, in one place, each with the reason it exists.

moto is pinned exactly (constraints.txt) because these patches touch its private methods; `apply()` fails loudly
when a target is missing, and tests/unit/test_moto_patches.py shows each gap the patch covers.

1. In-process Lambda (`LambdaFunction._invoke_lambda`): moto runs Lambda code in Docker, which cannot be pulled
   here, and `use_docker: False` returns canned payloads. We import the real handler and call it with the
   function's environment variables, so Task states run our code. Handlers share os.environ, so invocations are
   serialised with a lock.

2. SendTaskFailure keeps its `cause` (`StepFunctionResponse.send_task_failure`): moto's response layer passes only
   `error` to the backend, so a worker's readable reason ("the audio stream cannot be decoded") would never reach
   the job item. We pass both, as AWS does.

3. A state machine created by CloudFormation can be executed (`StateMachine.create_from_cloudformation_json`):
   moto's CloudFormation puts it into the plain Step Functions backend, while the API (with `execute_state_machine`
   on) reads the executing parser backend, so StartExecution answered StateMachineDoesNotExist. We create, update
   and delete it through the backend the API uses, with the template's tracing configuration. Its logging
   configuration (Level ALL to a log group) is left out on purpose: with it, moto's interpreter answered the first
   SendTaskHeartbeat of a Transcribe token with InvalidToken (tests/workflow/test_worker_protocol.py failed
   reproducibly); the local tools read the execution history instead.

4. EventBridge delivers to Lambda, Step Functions and SNS targets (`events.models.Rule.send_to_targets`): moto
   supports only logs/SQS/event-bus/API-destination targets and raises NotImplementedError for the rest (S3's
   notification path swallows it, so an upload silently started nothing; PutEvents fails, so one rule with an SNS
   target, like the template's job-events mail rule, stopped every job state change event reaching any rule). We
   invoke the function (asynchronously, as EventBridge does), start the execution, or publish to the topic what
   EventBridge would (the event's JSON, or the target's InputTransformer output), and hand every other target to moto.
   A scheduled rule (ScheduleExpression, no EventPattern) receives no event at all: moto matched every event to its
   empty pattern, so ReconcileJob's hourly sweep rule was handed each job state change event.

5. Lambda output reaches CloudWatch Logs: with patch 1 a handler's log lines went to the process's stdout only. When
   `capture_lambda_output()` is on (the local stack), each invocation's output is saved to the function's log
   group `/aws/lambda/<name>` as Lambda does, so `scribefleet logs` reads them the same way locally and on AWS.

6. CloudFormation resource types moto lacks (`cloudformation.parsing.get_model_map`): AWS::CloudWatch::Alarm,
   AWS::Logs::MetricFilter, AWS::S3::BucketPolicy, AWS::SQS::QueuePolicy and AWS::SNS::TopicPolicy were skipped
   with a warning, so they were missing from the stack and `!GetAtt Alarm.Arn` (the dashboard) failed the deploy.
   Each is created through moto's own service backend (describe_alarms, describe_metric_filters,
   get_bucket_policy, the queue's and topic's Policy attribute then show it). AWS::Logs::QueryDefinition (saved
   Logs Insights queries) has no service in moto: it is recorded in the stack with its properties, nothing more.

7. Step Functions emits "Execution Status Change" events (`BaseExecutionWorkerCommunication.terminated`): AWS puts
   one on the default event bus when an execution ends; moto emits nothing, so the ReconcileJob rule (an execution
   aborted, timed out or failed outside its Catch paths leaves its job FAILED, never QUEUED forever) would never
   fire locally. We put the event, with AWS's detail fields, once moto has recorded the final status.

8. DynamoDB requests are serialised (`DynamoHandler.call_action`): moto's DynamoDB backend keeps a table's items in
   plain dicts and iterates them unguarded, so a Scan or Query running while another thread's PutItem/UpdateItem
   adds an item raises "dictionary changed size during iteration" (a 500 to the caller). In these tiers the state
   machine's threads, every worker's heartbeat thread and the tests' own status reads hit one table at once, and
   the race failed about one full run in four on 2 cores. AWS serves each request against a consistent item
   store; one lock around moto's DynamoDB request handling gives the same. No DynamoDB request waits on another
   service, so the lock cannot deadlock.

9. A heartbeat lapse is `States.HeartbeatTimeout` (`StateTask._from_error`): moto reports every timeout of a Task as
   `States.Timeout`, so a Catch on `States.HeartbeatTimeout` never fired locally and a Catch that must tell a lost
   worker (retry) from a job past its TimeoutSeconds (no retry) could not be tested. AWS documents that a heartbeat
   lapse matches both `States.HeartbeatTimeout` and `States.Timeout` (catchers are scanned in order), while a
   TimeoutSeconds expiry matches only `States.Timeout`: the heartbeat error raised here matches both names, its
   error output and TaskTimedOut event say `States.HeartbeatTimeout`, and every other timeout is left to moto.
   https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html (States.HeartbeatTimeout,
   States.Timeout).

10. A heartbeat right after a callback task's token was written is accepted (`CallbackEndpoint.notify_heartbeat`):
   AWS generates the token "in the context object when a workflow enters a task state", so it is the task's from
   then on; moto sets up the task's heartbeat wait only after the integration call (Transcribe's DynamoDB update)
   has returned, and answers InvalidToken to a heartbeat in between. A worker that polls the token out of the job
   item and beats at once then abandons a healthy job (a clean-clone run under load: a fault test's job took a
   third attempt). The beat is accepted; the heartbeat clock starts when moto starts waiting, no earlier than AWS's.
   https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskHeartbeat.html (taskToken)

Known gaps handled elsewhere, not patched (asserted in the tests):
- SendTaskHeartbeat/SendTaskSuccess on a timed-out token answer 200 (AWS: TaskTimedOut): the worker's
  give-up path is tested with a stubbed client error, and the job item's `workToken` condition guards writes.
- `set_desired_capacity` above MaxSize is accepted (AWS rejects it): the scaler clamps.
- StopExecution during a callback wait (WaitForWorker, Transcribe) is unreliable: the execution may stay RUNNING
  until the wait times out, or end FAILED with a States.Runtime error ("Custom Error Names MUST NOT begin with
  'States.'") instead of ABORTED. tests/workflow stops the execution and delivers the status change event AWS
  would emit itself; patch 7's own test uses a Fail state, which moto ends deterministically.
"""
from __future__ import annotations

import copy
import importlib.util
import io
import json
import os
import sys
import threading
import traceback
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from moto.awslambda import models as lambda_models
from moto.cloudformation import parsing as cfn_parsing
from moto.core.responses import ActionResult, EmptyResult
from moto.dynamodb import responses as dynamodb_responses
from moto.events import models as events_models
from moto.events.utils import EventTemplateParser
from moto.sns import models as sns_models
from moto.stepfunctions import models as sfn_models
from moto.stepfunctions import responses as sfn_responses
from moto.stepfunctions.parser.backend import execution as sfn_execution
from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task as sfn_state_task
from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint, HeartbeatTimeoutError
from moto.utilities.arns import parse_arn

REPO = Path(__file__).resolve().parent.parent
Handler = Callable[[dict, Any], Any]

_handlers: dict[str, Handler] = {}  # function name → handler
_env_lock = threading.RLock()
_applied = False
_original_invoke = lambda_models.LambdaFunction._invoke_lambda
_original_send_to_targets = events_models.Rule.send_to_targets
_original_terminated = sfn_execution.BaseExecutionWorkerCommunication.terminated
_output = threading.local()  # per-thread capture buffer of the Lambda invocation running on that thread
_invocation = threading.local()  # the function whose handler runs on this thread (None outside a handler)


def load_handler(code_dir: str | Path, handler: str = "app.handler") -> Handler:
    """Import functions/<name>/app.py under a unique module name (every function has an app.py)."""
    module_name, attr = handler.rsplit(".", 1)
    path = Path(code_dir) / (module_name.replace(".", "/") + ".py")
    unique = f"scribefleet_lambda_{Path(code_dir).name}_{module_name.replace('.', '_')}"
    module = sys.modules.get(unique)
    if module is None:
        spec = importlib.util.spec_from_file_location(unique, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[unique] = module
        spec.loader.exec_module(module)
    return getattr(module, attr)


def register_handler(function_name: str, handler: Handler) -> None:
    _handlers[function_name] = handler


def invoking_function() -> str | None:
    """The deployed name of the Lambda function whose handler is running on this thread, if any: what a test needs
    to tell which role an AWS call would be made under (tests/support/iam_calls.py)."""
    return getattr(_invocation, "function_name", None)


@contextmanager
def function_environment(variables: dict[str, str]):
    """Run an in-process Lambda with its environment variables set (one invocation at a time).

    Variables that existed before get their old values back; new ones are left set, never removed: other threads
    (moto's executions building boto3 clients) iterate os.environ in urllib's proxy lookup, and a key deleted
    mid-iteration raises KeyError there, which surfaced as a random States.Runtime failure of a WaitForWorker task.
    Every invocation sets all of its function's variables, so a leftover value is never read in place of its own."""
    with _env_lock:
        saved = {k: os.environ[k] for k in variables if k in os.environ}
        os.environ.update({k: str(v) for k, v in variables.items()})
        try:
            yield
        finally:
            os.environ.update(saved)


def lambda_context_for(function_name: str, arn: str = "", memory_mb: int = 128, timeout_s: int = 30) -> SimpleNamespace:
    """What the Lambda runtime passes as `context` (the fields Powertools reads)."""
    return SimpleNamespace(
        function_name=function_name,
        function_version="$LATEST",
        invoked_function_arn=arn or f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}",
        memory_limit_in_mb=memory_mb,
        aws_request_id=str(uuid.uuid4()),
        log_group_name=f"/aws/lambda/{function_name}",
        log_stream_name="local",
        get_remaining_time_in_millis=lambda: timeout_s * 1000,
    )


def lambda_context(fn: lambda_models.LambdaFunction) -> SimpleNamespace:
    return lambda_context_for(fn.function_name, fn.function_arn, int(fn.memory_size or 128), int(fn.timeout or 3))


class _ThreadRoutedStream(io.TextIOBase):
    """sys.stdout stand-in: text written on a thread that runs a Lambda invocation goes to that invocation's buffer
    (Powertools' handlers hold the stream object they were created with, so it must be installed before the
    handlers are imported); everything else goes to the real stream."""

    def __init__(self, real):
        self.real = real

    def write(self, text: str) -> int:
        buffer = getattr(_output, "buffer", None)
        return (buffer if buffer is not None else self.real).write(text)

    def flush(self) -> None:
        self.real.flush()

    def isatty(self) -> bool:
        return self.real.isatty()

    def fileno(self) -> int:
        return self.real.fileno()


def capture_lambda_output() -> None:
    """Route Lambda handlers' stdout into CloudWatch Logs (patch 5). Call before handlers are loaded."""
    if not isinstance(sys.stdout, _ThreadRoutedStream):
        sys.stdout = _ThreadRoutedStream(sys.stdout)


def _save_logs(fn: lambda_models.LambdaFunction, text: str) -> None:
    if text.strip():
        fn.logs_backend.ensure_log_group(fn.logs_group_name)
        fn.save_logs(text)


def _invoke_in_process(self: lambda_models.LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
    handler = _handlers.get(self.function_name)
    if handler is None:
        return _original_invoke(self, event)
    payload = json.loads(event) if isinstance(event, (str, bytes)) else (event or {})
    capturing = isinstance(sys.stdout, _ThreadRoutedStream)
    _output.buffer = io.StringIO() if capturing else None
    _invocation.function_name = self.function_name
    with function_environment({**self.environment_vars, "AWS_LAMBDA_FUNCTION_NAME": self.function_name}):
        try:
            result = handler(payload, lambda_context(self))
            answer = json.dumps(result), False, ""
        except Exception as error:  # the Lambda runtime's error shape: Step Functions reads errorType
            body = {"errorType": type(error).__name__, "errorMessage": str(error), "stackTrace": traceback.format_tb(error.__traceback__)}
            print(traceback.format_exc())
            answer = json.dumps(body), True, traceback.format_exc()
        finally:
            text = _output.buffer.getvalue() if capturing else ""
            _output.buffer = None
            _invocation.function_name = None
    if capturing:
        _save_logs(self, text)
    return answer


def _send_task_failure_with_cause(self) -> ActionResult:
    self.stepfunction_backend.send_task_failure(
        self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
    )
    return EmptyResult()


def _executing_backend(account_id: str, region_name: str):
    return sfn_responses.get_backend(account_id, region_name)


def _state_machine_from_cloudformation(cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any):
    props = cloudformation_json["Properties"]
    return _executing_backend(account_id, region_name).create_state_machine(
        name=props.get("StateMachineName") or resource_name,
        definition=props.get("DefinitionString", ""),
        roleArn=props.get("RoleArn", ""),
        tags=sfn_models.cfn_to_api_tags(props.get("Tags", [])),
        tracingConfiguration=props.get("TracingConfiguration"),
    )


def _state_machine_delete_from_cloudformation(cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str) -> None:
    _executing_backend(account_id, region_name).delete_state_machine(resource_name)


def _state_machine_update_from_cloudformation(cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str, region_name: str):
    props = cloudformation_json.get("Properties", {})
    return _executing_backend(account_id, region_name).update_state_machine(
        original_resource.arn, definition=props.get("DefinitionString"), role_arn=props.get("RoleArn")
    )


def _deliver(target_arn: str, event: dict) -> None:
    arn = parse_arn(target_arn)
    if arn.service == "lambda":
        function = lambda_models.lambda_backends[arn.account][arn.region].get_function(target_arn)
        function._invoke_lambda(event=json.dumps(event))
    else:
        _executing_backend(arn.account, arn.region).start_execution(
            target_arn, name=str(uuid.uuid4()), execution_input=json.dumps(event)
        )


def _publish_to_topic(target: dict, event: dict) -> None:
    transformer = target.get("InputTransformer")
    message = EventTemplateParser.parse(
        input_template=transformer.get("InputTemplate"), input_paths_map=transformer.get("InputPathsMap", {}), event=event
    ) if transformer else event
    arn = parse_arn(target["Arn"])
    sns_models.sns_backends[arn.account][arn.region].publish(message if isinstance(message, str) else json.dumps(message), arn=target["Arn"])


def _send_to_targets(self, original_event: dict, transform_input: bool = True) -> None:
    if self.scheduled_expression and not self.event_pattern.get_pattern():
        return  # a scheduled rule is run by its schedule; moto's empty pattern would match every event
    ours = [t for t in self.targets if parse_arn(t["Arn"]).service in ("lambda", "states", "sns")]
    if ours and self.event_pattern.matches_event(original_event):
        for target in ours:
            if parse_arn(target["Arn"]).service == "sns":  # a publish runs none of our code: it may run on the caller's thread
                _publish_to_topic(target, copy.deepcopy(original_event))
                continue
            # asynchronous, as EventBridge is: the caller (S3 PutObject, PutEvents) does not wait
            threading.Thread(target=_deliver, args=(target["Arn"], copy.deepcopy(original_event)), daemon=True).start()
    if len(ours) < len(self.targets):
        rest = copy.copy(self)
        rest.targets = [t for t in self.targets if t not in ours]
        _original_send_to_targets(rest, original_event, transform_input)


def _epoch_ms(moment) -> int | None:
    return int(moment.timestamp() * 1000) if moment else None


def _emit_execution_status_change(self) -> None:
    _original_terminated(self)
    execution = self.execution
    detail = {
        "executionArn": execution.exec_arn,
        "stateMachineArn": execution.state_machine.arn,
        "name": execution.name,
        "status": str(execution.exec_status.value if hasattr(execution.exec_status, "value") else execution.exec_status),
        "startDate": _epoch_ms(execution.start_date),
        "stopDate": _epoch_ms(execution.stop_date),
        "input": json.dumps(execution.input_data),
        "output": json.dumps(execution.output) if execution.output is not None else None,
        "error": execution.error,
        "cause": execution.cause,
    }
    events_models.events_backends[execution.account_id][execution.region_name].put_events([{
        "Source": "aws.states", "DetailType": "Step Functions Execution Status Change",
        "Detail": json.dumps(detail), "Resources": [execution.exec_arn],
    }])


class _ExtraResource:
    """A CloudFormation resource of a type moto lacks (patch 6), created through the service's moto backend."""

    TYPE = ""
    ATTRIBUTES: tuple[str, ...] = ()

    def __init__(self, physical_resource_id: str, attributes: dict[str, str] | None = None):
        self.physical_resource_id, self.attributes = physical_resource_id, attributes or {}

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.TYPE

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES

    def get_cfn_attribute(self, name: str) -> str:
        return self.attributes[name]

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any):
        return cls.create(resource_name, cloudformation_json.get("Properties", {}), account_id, region_name)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str, region_name: str):
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str) -> None:
        return None

    def delete(self, account_id: str, region_name: str) -> None:
        return None

    def is_created(self) -> bool:
        return True


class _Alarm(_ExtraResource):
    TYPE, ATTRIBUTES = "AWS::CloudWatch::Alarm", ("Arn",)

    @classmethod
    def create(cls, name: str, props: dict, account_id: str, region_name: str):
        from moto.cloudwatch.models import cloudwatch_backends

        alarm = cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=props.get("AlarmName") or name, namespace=props.get("Namespace", ""), metric_name=props.get("MetricName", ""),
            comparison_operator=props["ComparisonOperator"], evaluation_periods=int(props["EvaluationPeriods"]),
            period=int(props.get("Period") or 60), threshold=float(props.get("Threshold") or 0), statistic=props.get("Statistic", ""),
            description=props.get("AlarmDescription", ""), dimensions=props.get("Dimensions", []),
            alarm_actions=props.get("AlarmActions", []), datapoints_to_alarm=props.get("DatapointsToAlarm"),
            treat_missing_data=props.get("TreatMissingData"),
        )
        return cls(alarm.name, {"Arn": alarm.alarm_arn})


class _MetricFilter(_ExtraResource):
    TYPE = "AWS::Logs::MetricFilter"

    @classmethod
    def create(cls, name: str, props: dict, account_id: str, region_name: str):
        from moto.logs.models import logs_backends

        transformations = [{k[0].lower() + k[1:]: v for k, v in t.items()} for t in props.get("MetricTransformations", [])]
        filter_name = props.get("FilterName") or name
        logs_backends[account_id][region_name].put_metric_filter(filter_name, props.get("FilterPattern", ""), props["LogGroupName"], transformations)
        return cls(filter_name)


class _BucketPolicy(_ExtraResource):
    """moto enforces bucket policies but ignores their Conditions, so our TLS-only Deny statements (conditioned on
    aws:SecureTransport / s3:TlsVersion) would deny every request. Statements with a Condition are recorded, not
    enforced; unconditional ones go into the bucket."""

    TYPE = "AWS::S3::BucketPolicy"
    recorded: dict[str, dict] = {}  # bucket → the template's policy document

    @classmethod
    def create(cls, name: str, props: dict, account_id: str, region_name: str):
        from moto.s3.models import s3_backends

        document = props["PolicyDocument"]
        cls.recorded[props["Bucket"]] = document
        enforceable = [st for st in document.get("Statement", []) if "Condition" not in st]
        if enforceable:
            policy = json.dumps({**document, "Statement": enforceable}).encode()
            s3_backends[account_id]["aws"].put_bucket_policy(props["Bucket"], policy)
        return cls(props["Bucket"])


class _QueuePolicy(_ExtraResource):
    TYPE = "AWS::SQS::QueuePolicy"

    @classmethod
    def create(cls, name: str, props: dict, account_id: str, region_name: str):
        from moto.sqs.models import sqs_backends

        for url in props["Queues"]:
            sqs_backends[account_id][region_name].set_queue_attributes(url.rsplit("/", 1)[-1], {"Policy": json.dumps(props["PolicyDocument"])})
        return cls(name)


class _TopicPolicy(_ExtraResource):
    TYPE = "AWS::SNS::TopicPolicy"

    @classmethod
    def create(cls, name: str, props: dict, account_id: str, region_name: str):
        from moto.sns.models import sns_backends

        for arn in props["Topics"]:
            sns_backends[account_id][region_name].set_topic_attribute(arn, "Policy", json.dumps(props["PolicyDocument"]))
        return cls(name)


class _QueryDefinition(_ExtraResource):
    TYPE = "AWS::Logs::QueryDefinition"
    recorded: dict[str, dict] = {}  # name → properties (moto has no Logs Insights to hold them)

    @classmethod
    def create(cls, name: str, props: dict, account_id: str, region_name: str):
        cls.recorded[props.get("Name") or name] = props
        return cls(props.get("Name") or name)


EXTRA_RESOURCES = {cls.TYPE: cls for cls in (_Alarm, _MetricFilter, _BucketPolicy, _QueuePolicy, _TopicPolicy, _QueryDefinition)}
_original_model_map = cfn_parsing.get_model_map


_DYNAMODB_LOCK = threading.RLock()
_original_dynamodb_call_action = dynamodb_responses.DynamoHandler.call_action


def _dynamodb_call_action_serialised(self):
    with _DYNAMODB_LOCK:
        return _original_dynamodb_call_action(self)


HEARTBEAT_TIMEOUT, TIMEOUT = "States.HeartbeatTimeout", "States.Timeout"
_original_task_from_error = sfn_state_task.StateTask._from_error


class _HeartbeatTimeoutName(StatesErrorName):
    """States.HeartbeatTimeout that a `States.Timeout` retrier or catcher also matches, as in AWS (patch 9)."""

    def __init__(self):
        super().__init__(typ=StatesErrorNameType.StatesHeartbeatTimeout)

    def matches(self, error_name: str | None) -> bool:
        return error_name in (HEARTBEAT_TIMEOUT, TIMEOUT)

    def __eq__(self, other):  # list membership may ask the declared name first; the subclass answers for both
        return isinstance(other, ErrorName) and self.matches(other.error_name)

    __hash__ = None


def _task_error_telling_heartbeat_lapses_apart(self, env, ex: Exception):
    failure = _original_task_from_error(self, env, ex)
    if isinstance(ex, HeartbeatTimeoutError):
        failure.error_name = _HeartbeatTimeoutName()
        details = (failure.event_details or {}).get("taskTimedOutEventDetails")
        if details is not None:
            details["error"] = HEARTBEAT_TIMEOUT
    return failure


def _model_map_with_extras() -> dict[str, Any]:
    return {**EXTRA_RESOURCES, **_original_model_map()}


_original_notify_heartbeat = CallbackEndpoint.notify_heartbeat


def _notify_heartbeat_before_the_wait(self) -> bool:
    """A known token whose task has not started its heartbeat wait yet is still the task's: accept the beat."""
    return _original_notify_heartbeat(self) or self._heartbeat_endpoint is None


TARGETS: dict[str, tuple[Any, str, Any]] = {
    "lambda in-process": (lambda_models.LambdaFunction, "_invoke_lambda", _invoke_in_process),
    "SendTaskFailure cause": (sfn_responses.StepFunctionResponse, "send_task_failure", _send_task_failure_with_cause),
    "CloudFormation state machine (create)": (sfn_models.StateMachine, "create_from_cloudformation_json", classmethod(_state_machine_from_cloudformation)),
    "CloudFormation state machine (delete)": (sfn_models.StateMachine, "delete_from_cloudformation_json", classmethod(_state_machine_delete_from_cloudformation)),
    "CloudFormation state machine (update)": (sfn_models.StateMachine, "update_from_cloudformation_json", classmethod(_state_machine_update_from_cloudformation)),
    "EventBridge Lambda/Step Functions/SNS targets": (events_models.Rule, "send_to_targets", _send_to_targets),
    "CloudFormation types moto lacks": (cfn_parsing, "get_model_map", _model_map_with_extras),
    "Step Functions status change events": (sfn_execution.BaseExecutionWorkerCommunication, "terminated", _emit_execution_status_change),
    "DynamoDB requests serialised": (dynamodb_responses.DynamoHandler, "call_action", _dynamodb_call_action_serialised),
    "heartbeat lapse is States.HeartbeatTimeout": (sfn_state_task.StateTask, "_from_error", _task_error_telling_heartbeat_lapses_apart),
    "heartbeat before the task waits": (CallbackEndpoint, "notify_heartbeat", _notify_heartbeat_before_the_wait),
}


ORIGINALS = {name: getattr(owner, attribute) for name, (owner, attribute, _) in TARGETS.items()}


@contextmanager
def without(name: str):
    """Run with one patch undone (tests show the gap each patch covers)."""
    owner, attribute, replacement = TARGETS[name]
    setattr(owner, attribute, ORIGINALS[name])
    try:
        yield
    finally:
        setattr(owner, attribute, replacement if _applied else ORIGINALS[name])


def apply() -> None:
    """Install the patches (idempotent). Raises if moto no longer has what we patch."""
    global _applied
    if _applied:
        return
    for name, (owner, attribute, _) in TARGETS.items():
        if not callable(getattr(owner, attribute, None)):
            raise RuntimeError(f"moto {owner.__name__}.{attribute} is gone ({name}): re-check sam/moto_patches.py for this moto version")
    for owner, attribute, replacement in TARGETS.values():
        setattr(owner, attribute, replacement)
    _applied = True


# Lambda keeps moto's default (Docker) backend: patch 1 replaces its invoke; the "simple" backend would bypass it.
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}}
