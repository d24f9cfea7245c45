"""An emulated scribefleet stack for in-process tests: moto with real ASL execution and in-process Lambdas.

Resources carry the template's names and settings (JobsTable + ByStatus GSI, JobQueue, buckets, ASG, the two
Lambdas the state machine calls, the state machine with its DefinitionSubstitutions applied).
"""
from __future__ import annotations

import io
import json
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import boto3

from sam import moto_patches

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ASL = REPO / "statemachines" / "transcription.asl.json"


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


@dataclass
class Stack:
    input_bucket: str = "scribefleet-input"
    output_bucket: str = "scribefleet-output"
    table_name: str = "scribefleet-jobs"
    asg_name: str = "scribefleet-workers"
    queue_url: str = ""
    state_machine_arn: str = ""
    limits: dict = field(default_factory=dict)

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


def build_stack(limits: dict | None = None, max_size: int = 10) -> Stack:
    """Create the resources in the active moto mock. limits: env overrides for ProbeMedia (shrunk timeouts)."""
    moto_patches.apply()
    stack = Stack(limits={"HEARTBEAT_SECONDS": "2", "CLAIM_TIMEOUT_SECONDS": "30", "PROCESS_TIMEOUT_BASE_SECONDS": "60", **(limits or {})})
    s3 = stack.s3
    for bucket in (stack.input_bucket, stack.output_bucket):
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=stack.input_bucket, VersioningConfiguration={"Status": "Enabled"})
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName=stack.table_name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("processId", "status", "createdAt")],
        KeySchema=[{"AttributeName": "processId", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[{
            "IndexName": "ByStatus",
            "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}, {"AttributeName": "createdAt", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"},
        }],
    )
    sqs = boto3.client("sqs", region_name=REGION)
    stack.queue_url = sqs.create_queue(QueueName="scribefleet-jobs", Attributes={"VisibilityTimeout": "120"})["QueueUrl"]
    ec2 = boto3.client("ec2", region_name=REGION)
    template = ec2.create_launch_template(LaunchTemplateName="workers", LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "g4dn.xlarge"})
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    boto3.client("autoscaling", region_name=REGION).create_auto_scaling_group(
        AutoScalingGroupName=stack.asg_name, MinSize=0, MaxSize=max_size, DesiredCapacity=0,
        LaunchTemplate={"LaunchTemplateId": template["LaunchTemplate"]["LaunchTemplateId"]},
        VPCZoneIdentifier=subnet, NewInstancesProtectedFromScaleIn=True,
    )
    role = boto3.client("iam", region_name=REGION).create_role(RoleName="lambda", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam = boto3.client("lambda", region_name=REGION)
    environments = {
        "probe_media": stack.limits,
        "scale_fleet": {"JOBS_TABLE": stack.table_name, "STATUS_INDEX": "ByStatus", "ASG_NAME": stack.asg_name, "MAX_SIZE": str(max_size), "SCALER_POLICY": "seed"},
    }
    arns = {}
    for name, env in environments.items():
        arns[name] = lam.create_function(
            FunctionName=f"scribefleet-{name}", Runtime="python3.12", Role=role, Handler="app.handler",
            Code={"ZipFile": _zip()}, Environment={"Variables": env},
        )["FunctionArn"]
        moto_patches.register_handler(f"scribefleet-{name}", moto_patches.load_handler(REPO / "functions" / name))
    definition = ASL.read_text()
    for variable, value in {
        "ProbeMediaFunctionArn": arns["probe_media"], "ScaleFleetFunctionArn": arns["scale_fleet"],
        "JobsTableName": stack.table_name, "JobQueueUrl": stack.queue_url,
    }.items():
        definition = definition.replace("${" + variable + "}", value)
    assert "${" not in definition, "a DefinitionSubstitution is missing"
    stack.state_machine_arn = stack.sfn.create_state_machine(name="Transcription", definition=definition, roleArn=role)["stateMachineArn"]
    return stack


def object_created_event(bucket: str, key: str, head: dict) -> dict:
    """events/s3_object_created.json with this object's bucket, key, size, etag and version."""
    event = json.loads((REPO / "events" / "s3_object_created.json").read_text())
    event["detail"]["bucket"]["name"] = bucket
    event["detail"]["object"].update(
        key=key, size=head["ContentLength"], etag=head["ETag"].strip('"'), **{"version-id": head.get("VersionId", "")}
    )
    event["resources"] = [f"arn:aws:s3:::{bucket}"]
    return event
