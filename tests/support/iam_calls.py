"""The AWS actions each component calls on the emulated stack, checked against what its IAM role grants.

moto does not evaluate IAM: a call that its role does not allow passes every local test and fails with AccessDenied on
AWS (ReconcileJob's GetItem did, found in review). So every botocore call made while a test runs is attributed to the
component whose code made it, and each component's calls must be granted by its role in template.yaml as SAM
transforms it:
- a Lambda function: its handler runs on the calling thread (`moto_patches.invoking_function`) → `<LogicalId>Role`;
- the worker: a frame of gpu_worker/ on the stack → WorkerInstanceRole;
- the state machine: moto's ASL interpreter calling a service integration → TranscriptionStateMachineRole.
The test's own calls (uploads, reads of the table) belong to no component and are not checked. Only actions are
compared, not resources: the resources are asserted per role in tests/infra/test_template_properties.py.
"""
from __future__ import annotations

import fnmatch
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from botocore.client import BaseClient

from sam import moto_patches

REPO = Path(__file__).resolve().parents[2]
WORKER_CODE = str(REPO / "gpu_worker") + "/"
ASL_INTERPRETER = "/moto/stepfunctions/parser/"
WORKER_ROLE, STATE_MACHINE_ROLE = "WorkerInstanceRole", "TranscriptionStateMachineRole"

# IAM's service prefix where it differs from botocore's signing name.
PREFIXES = {"monitoring": "cloudwatch"}
# The API operations whose IAM action has another name (Service Authorization Reference, "Actions defined by ...":
# https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html, list_awslambda.html).
ACTIONS = {
    "s3:HeadObject": "s3:GetObject",
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:ListObjectVersions": "s3:ListBucketVersions",
    "s3:CreateMultipartUpload": "s3:PutObject",
    "s3:UploadPart": "s3:PutObject",
    "s3:CompleteMultipartUpload": "s3:PutObject",
    "lambda:Invoke": "lambda:InvokeFunction",
}
VERSIONED = {"s3:GetObject": "s3:GetObjectVersion"}  # the same call with a VersionId needs the *Version action


def iam_action(client: BaseClient, operation: str, params: dict[str, Any]) -> str:
    prefix = client.meta.service_model.signing_name
    action = f"{PREFIXES.get(prefix, prefix)}:{operation}"
    action = ACTIONS.get(action, action)
    return VERSIONED.get(action, action) if params.get("VersionId") else action


def component() -> str | None:
    """Who makes the current call: a Lambda function's deployed name, a role, or None for the test's own calls."""
    function = moto_patches.invoking_function()
    if function is not None:
        return function
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith(WORKER_CODE):
            return WORKER_ROLE
        if ASL_INTERPRETER in name:
            return STATE_MACHINE_ROLE
        frame = frame.f_back
    return None


def as_list(value: Any) -> list:
    """An IAM policy field that may hold one value or a list of them, as a list."""
    return value if isinstance(value, list) else [value]


def granted_actions(cfn_template: dict[str, Any], role: str) -> set[str]:
    """Every action an Allow statement gives the role: its inline policies and policies attached to it (AWS managed
    policies are SAM's logs and X-Ray ones, which our code never calls through the SDK)."""
    resources = cfn_template["Resources"]
    documents = [p["PolicyDocument"] for p in resources[role]["Properties"].get("Policies", [])]
    documents += [r["Properties"]["PolicyDocument"] for r in resources.values()
                  if r["Type"] == "AWS::IAM::Policy" and {"Ref": role} in r["Properties"].get("Roles", [])]
    actions = set()
    for document in documents:
        for st in as_list(document["Statement"]):
            if st["Effect"] == "Allow":
                actions |= set(as_list(st["Action"]))
    return actions


class CallRecorder:
    def __init__(self):
        self.calls: dict[str, set[str]] = {}  # function name or role → actions called
        self._lock = threading.Lock()

    def record(self, client: BaseClient, operation: str, params: dict[str, Any]) -> None:
        caller = component()
        if caller is not None:
            with self._lock:
                self.calls.setdefault(caller, set()).add(iam_action(client, operation, params))

    def ungranted(self, deployments: list) -> dict[str, list[str]]:
        """role → the actions it called that no statement of it allows, for the stacks deployed (sam.deploy)."""
        if not deployments:
            return {}
        roles = {name: f"{logical}Role" for d in deployments for logical, name in d.functions.items()}
        missing = {}
        for caller, actions in self.calls.items():
            role = roles.get(caller, caller if caller in (WORKER_ROLE, STATE_MACHINE_ROLE) else None)
            if role is None:  # a handler a test registered itself, not one of the template's functions
                continue
            grants = granted_actions(deployments[-1].cfn_template, role)
            lacking = sorted(a for a in actions if not any(fnmatch.fnmatchcase(a, g) for g in grants))
            if lacking:
                missing.setdefault(role, []).extend(lacking)
        return missing


@contextmanager
def recording_calls() -> Iterator[CallRecorder]:
    """Record, while the block runs, which component called which action (see the module's docstring)."""
    recorder = CallRecorder()
    original = BaseClient._make_api_call

    def make_api_call(client, operation, params):
        recorder.record(client, operation, params)
        return original(client, operation, params)

    BaseClient._make_api_call = make_api_call
    try:
        yield recorder
    finally:
        BaseClient._make_api_call = original
