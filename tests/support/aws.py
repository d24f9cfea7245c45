"""The scribefleet stack for in-process tests: template.yaml deployed into the active moto mock by sam/deploy.py
(real ASL execution, in-process Lambdas), with the limits tests shrink passed as template parameters.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.exceptions import ClientError

from sam.deploy import Deployment, deploy

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
DEPLOYED: list[Deployment] = []  # every stack build_stack made in this process (tests/conftest.py checks IAM with it)
ASL = REPO / "statemachines" / "transcription.asl.json"
# HeartbeatSeconds of the in-process stacks. Workers beat every 0.3 s, but an attempt's first beat comes only after
# the worker has polled its token out of the job item, and moto's execution thread has to run first: on a loaded
# 2-core machine that gap passed 2 s (a healthy job then finished on attempt 2). A lapse here means a dead worker.
HEARTBEAT_SECONDS = 5
# ProbeMedia environment variable → the template parameter that sets it.
LIMIT_PARAMETERS = {
    "HEARTBEAT_SECONDS": "HeartbeatSeconds",
    "CLAIM_TIMEOUT_SECONDS": "ClaimTimeoutSeconds",
    "PROCESS_TIMEOUT_BASE_SECONDS": "ProcessTimeoutBaseSeconds",
    "PROCESS_TIMEOUT_PER_AUDIO_SECOND": "ProcessTimeoutPerAudioSecond",
    "MAX_FILE_BYTES": "MaxFileBytes",
    "MAX_AUDIO_SECONDS": "MaxAudioSeconds",
}


@dataclass
class Stack:
    input_bucket: str = ""
    output_bucket: str = ""
    table_name: str = ""
    asg_name: str = ""
    queue_url: str = ""
    state_machine_arn: str = ""
    limits: dict = field(default_factory=dict)
    deployment: Deployment | None = None

    @property
    def s3(self):
        return boto3.client("s3", region_name=REGION)

    @property
    def sfn(self):
        return boto3.client("stepfunctions", region_name=REGION)

    @property
    def table(self):
        return boto3.resource("dynamodb", region_name=REGION).Table(self.table_name)

    def job(self, process_id: str) -> dict:
        return self.table.get_item(Key={"processId": process_id}, ConsistentRead=True).get("Item", {})

    def wait(self, execution_arn: str, timeout: float = 60.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described = self.sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.1)
        raise TimeoutError(f"{execution_arn} still RUNNING after {timeout} s")


def build_stack(limits: dict | None = None, max_size: int = 10, parameters: dict | None = None) -> Stack:
    """Deploy template.yaml into the active moto mock. limits: ProbeMedia env overrides (shrunk timeouts), passed
    as the template parameters that set them; parameters: any other template parameters. An upload starts its
    execution through S3 → EventBridge → StartJob."""
    limits = {"HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS), "CLAIM_TIMEOUT_SECONDS": "30", "PROCESS_TIMEOUT_BASE_SECONDS": "60", **(limits or {})}
    limit_parameters = {LIMIT_PARAMETERS[k]: str(v) for k, v in limits.items()}
    deployment = deploy("scribefleet-test", {**limit_parameters, "MaxWorkers": str(max_size), **(parameters or {})}, bridge_events=True)
    DEPLOYED.append(deployment)
    out = deployment.outputs
    return Stack(
        input_bucket=out["InputBucketName"], output_bucket=out["OutputBucketName"], table_name=out["JobsTableName"],
        asg_name=out["WorkerAutoScalingGroupName"], queue_url=out["JobQueueUrl"], state_machine_arn=out["StateMachineArn"],
        limits=limits, deployment=deployment,
    )


def object_created_event(bucket: str, key: str, head: dict) -> dict:
    """events/s3_object_created.json with this object's bucket, key, size, etag and version."""
    event = json.loads((REPO / "events" / "s3_object_created.json").read_text())
    event["detail"]["bucket"]["name"] = bucket
    event["detail"]["object"].update(
        key=key, size=head["ContentLength"], etag=head["ETag"].strip('"'), **{"version-id": head.get("VersionId", "")}
    )
    event["resources"] = [f"arn:aws:s3:::{bucket}"]
    return event


class RevokingStepFunctions:
    """The real client, except that heartbeats answer TaskTimedOut as AWS does for a token that timed out
    (moto answers 200 there, see sam/moto_patches.py)."""

    def __init__(self, real):
        self.real = real

    def send_task_heartbeat(self, **_):
        raise ClientError({"Error": {"Code": "TaskTimedOut", "Message": "Task Timed Out"}}, "SendTaskHeartbeat")

    def __getattr__(self, name):
        return getattr(self.real, name)
