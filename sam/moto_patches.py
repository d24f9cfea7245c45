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

Known gaps handled elsewhere, not patched (asserted in the tests):
- a heartbeat timeout surfaces as `States.Timeout` (AWS: `States.HeartbeatTimeout`): the ASL catches both.
- SendTaskHeartbeat/SendTaskSuccess on a timed-out token answer 200 (AWS: TaskTimedOut): the worker's
  give-up path is tested with a stubbed client error, and the job item's `workToken` condition guards writes.
- `set_desired_capacity` above MaxSize is accepted (AWS rejects it): the scaler clamps.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
import traceback
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

from moto.awslambda import models as lambda_models
from moto.core.responses import ActionResult, EmptyResult
from moto.stepfunctions import responses as sfn_responses

REPO = Path(__file__).resolve().parent.parent
Handler = Callable[[dict, Any], Any]

_handlers: dict[str, Handler] = {}  # function name → handler
_env_lock = threading.RLock()
_applied = False
_original_invoke = lambda_models.LambdaFunction._invoke_lambda


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


@contextmanager
def function_environment(variables: dict[str, str]):
    with _env_lock:
        saved = dict(os.environ)
        os.environ.update({k: str(v) for k, v in variables.items()})
        try:
            yield
        finally:
            os.environ.clear()
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


def _invoke_in_process(self: lambda_models.LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
    handler = _handlers.get(self.function_name)
    if handler is None:
        return _original_invoke(self, event)
    payload = json.loads(event) if isinstance(event, (str, bytes)) else (event or {})
    with function_environment({**self.environment_vars, "AWS_LAMBDA_FUNCTION_NAME": self.function_name}):
        try:
            result = handler(payload, lambda_context(self))
            return json.dumps(result), False, ""
        except Exception as error:  # the Lambda runtime's error shape: Step Functions reads errorType
            body = {"errorType": type(error).__name__, "errorMessage": str(error), "stackTrace": traceback.format_tb(error.__traceback__)}
            return json.dumps(body), True, traceback.format_exc()


def _send_task_failure_with_cause(self) -> ActionResult:
    self.stepfunction_backend.send_task_failure(
        self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
    )
    return EmptyResult()


def apply() -> None:
    """Install the patches (idempotent). Raises if moto no longer has what we patch."""
    global _applied
    if _applied:
        return
    if not callable(getattr(lambda_models.LambdaFunction, "_invoke_lambda", None)):
        raise RuntimeError("moto.awslambda LambdaFunction._invoke_lambda is gone: re-check sam/moto_patches.py for this moto version")
    if not callable(getattr(sfn_responses.StepFunctionResponse, "send_task_failure", None)):
        raise RuntimeError("moto StepFunctionResponse.send_task_failure is gone: re-check sam/moto_patches.py")
    lambda_models.LambdaFunction._invoke_lambda = _invoke_in_process
    sfn_responses.StepFunctionResponse.send_task_failure = _send_task_failure_with_cause
    _applied = True


# Lambda keeps moto's default (Docker) backend: patch 1 replaces its invoke; the "simple" backend would bypass it.
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}}
