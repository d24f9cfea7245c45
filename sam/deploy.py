"""Deploy template.yaml into moto, the way `sam build && sam deploy` deploys it into AWS.

    template.yaml ──yaml_parse──▶ package (zip each CodeUri/ContentUri into a moto bucket; DefinitionUri → Definition)
                  ──samtranslator──▶ plain CloudFormation ──definition pieces──▶ cloudformation.create_stack (moto)
                  ──adapters──▶ what moto's CloudFormation leaves out (see below) ──checks──▶ Deployment

Single source of truth: nothing here names a resource of ours; every bucket, table, queue, function, role, rule and
the ASG come from the template. The adapters fill moto's gaps after the stack exists:
- the state machine's definition: moto ignores DefinitionSubstitutions and its Fn::Sub turns `$$.` into `$.`, so
  the translated DefinitionString is rebuilt as Fn::Join of text and the substitutions' Ref/GetAtt pieces;
- bucket settings moto's CloudFormation drops: versioning, public access block, ownership, lifecycle and the
  EventBridge notifications (S3 → EventBridge → StartJob; off with bridge_events=False, tests then deliver events);
- in-process handlers for every deployed function (logical id → CodeUri → functions/<name>/app.py).
The state machine's backend and the EventBridge → Lambda delivery are patches (sam/moto_patches.py, 3 and 4).

Works in-process (inside `mock_aws`, for fast tests) and against a moto server (`endpoint_url`).
"""
from __future__ import annotations

import copy
import functools
import io
import json
import os
import re
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

from sam import moto_patches

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = REPO / "template.yaml"
REGION = "us-east-1"
ARTIFACT_BUCKET = "scribefleet-local-artifacts"
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
_SUBSTITUTION = re.compile(r"\$\{([A-Za-z0-9_.]+)\}")

# What the local stack runs with unless told otherwise: the CPU model, the fast diarizer, short clocks.
LOCAL_PARAMETERS = {
    "WhisperModel": "tiny.en",
    "DiarizerBackend": "default",
    "MaxWorkers": "3",
    "HeartbeatSeconds": "10",
    "ClaimTimeoutSeconds": "600",
    "ProcessTimeoutBaseSeconds": "120",
    "IdleRetireSeconds": "30",
    "LogRetentionDays": "1",
}


@dataclass
class Deployment:
    stack_name: str
    region: str
    endpoint_url: str | None
    outputs: dict[str, str]
    resources: dict[str, str]  # logical id → physical id (as list_stack_resources reports it)
    resource_types: dict[str, str]  # logical id → resource type
    functions: dict[str, str] = field(default_factory=dict)  # logical id → deployed function name
    parameters: dict[str, str] = field(default_factory=dict)
    cfn_template: dict[str, Any] = field(default_factory=dict, repr=False)  # as CloudFormation got it (SAM transformed)


class _PolicyLoader:
    """samtranslator asks IAM for the ARNs of AWS managed policies; moto has them, but the translator only needs
    names → ARNs for the ones it references, so a static map is enough (no credentials, no IAM call)."""

    def load(self) -> dict[str, str]:
        names = ("AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess", "AWSLambdaRole", "AWSXRayDaemonWriteAccess")
        return {name: f"arn:aws:iam::aws:policy/service-role/{name}" for name in names}


def client(service: str, endpoint_url: str | None = None, region: str = REGION):
    return boto3.client(service, region_name=region, endpoint_url=endpoint_url)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    return copy.deepcopy(_parsed(path.read_text()))


@functools.lru_cache(maxsize=4)
def _parsed(text: str) -> dict[str, Any]:
    return yaml_parse(text)  # pure-Python YAML: ~1 s for our template, so parsed once per process and text


def zip_directory(directory: Path) -> bytes:
    """A deterministic zip of a code directory, following symlinks (layers/common/python/scribefleet is one)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for root, dirs, files in os.walk(directory, followlinks=True):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith(".pyc"):
                    continue
                path = Path(root) / name
                info = zipfile.ZipInfo(str(path.relative_to(directory)), date_time=(2020, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def package(template: dict[str, Any], s3=None, bucket: str = ARTIFACT_BUCKET, repo: Path = REPO) -> dict[str, Any]:
    """`sam package` locally: code directories → zips in `bucket`; DefinitionUri → an inline Definition.
    Without an s3 client only the template is rewritten (for translating it, e.g. in tests)."""
    packaged = copy.deepcopy(template)
    for logical_id, resource in packaged["Resources"].items():
        kind, props = resource["Type"], resource.get("Properties", {})
        for prop in ("CodeUri", "ContentUri"):
            if kind in ("AWS::Serverless::Function", "AWS::Serverless::LayerVersion") and isinstance(props.get(prop), str):
                key = f"{logical_id}.zip"
                if s3 is not None:
                    s3.put_object(Bucket=bucket, Key=key, Body=zip_directory(repo / props[prop]))
                props[prop] = {"Bucket": bucket, "Key": key} if prop == "CodeUri" else f"s3://{bucket}/{key}"
        if kind == "AWS::Serverless::StateMachine" and isinstance(props.get("DefinitionUri"), str):
            props["Definition"] = json.loads((repo / props.pop("DefinitionUri")).read_text())
    return packaged


def definition_pieces(definition: str, substitutions: dict[str, Any]) -> dict[str, Any]:
    """ASL text with ${Name} placeholders → Fn::Join ["", [text, {Ref|GetAtt}, text, ...]] (not Fn::Sub: see above)."""
    pieces: list[Any] = []
    position = 0
    for match in _SUBSTITUTION.finditer(definition):
        name = match.group(1)
        if name not in substitutions:
            raise ValueError(f"${{{name}}} in the state machine definition has no DefinitionSubstitution")
        pieces += [definition[position : match.start()], substitutions[name]]
        position = match.end()
    pieces.append(definition[position:])
    return {"Fn::Join": ["", [p for p in pieces if p != ""]]}


def translate(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    """SAM → CloudFormation, then every state machine's definition rebuilt with its substitutions inlined."""
    return copy.deepcopy(_translated(json.dumps(template, sort_keys=True), json.dumps(parameters, sort_keys=True)))


@functools.lru_cache(maxsize=8)
def _translated(template_json: str, parameters_json: str) -> dict[str, Any]:
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    cfn = transform(json.loads(template_json), json.loads(parameters_json), _PolicyLoader())
    for resource in cfn["Resources"].values():
        if resource["Type"] != "AWS::StepFunctions::StateMachine":
            continue
        props = resource["Properties"]
        text = props["DefinitionString"]
        if isinstance(text, dict) and "Fn::Join" in text:  # the translator's pretty-printed lines
            separator, lines = text["Fn::Join"]
            text = separator.join(lines)
        props["DefinitionString"] = definition_pieces(text, props.pop("DefinitionSubstitutions", {}))
    return cfn


LOCAL_AMI = "ami-12c6146b"  # one of the images moto ships (listing them all costs seconds)


def local_network(ec2) -> dict[str, str]:
    """Values for the template's network/AMI parameters from moto's default VPC."""
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]]
    return {"VpcId": vpc["VpcId"], "SubnetIds": ",".join(subnets[:2]), "WorkerAmiId": LOCAL_AMI}


def _wait_for_stack(cfn, stack_name: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS"):
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{stack_name} still {stack['StackStatus']}")
        time.sleep(0.2)
    if stack["StackStatus"] != "CREATE_COMPLETE":
        events = cfn.describe_stack_events(StackName=stack_name)["StackEvents"]
        reasons = [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason')}" for e in events if "FAILED" in e["ResourceStatus"]]
        raise RuntimeError(f"{stack_name}: {stack['StackStatus']} {reasons}")
    return stack


def deploy(
    stack_name: str = "scribefleet-local",
    parameters: dict[str, str] | None = None,
    *,
    endpoint_url: str | None = None,
    region: str = REGION,
    bridge_events: bool = True,
    template_path: Path = TEMPLATE,
) -> Deployment:
    """Create the whole stack in moto (the active mock_aws, or the server at endpoint_url) and wire the gaps."""
    moto_patches.apply()
    s3, ec2, cfn = (client(name, endpoint_url, region) for name in ("s3", "ec2", "cloudformation"))
    params = {**LOCAL_PARAMETERS, **local_network(ec2), **(parameters or {})}
    s3.create_bucket(Bucket=ARTIFACT_BUCKET)
    template = load_template(template_path)
    cfn_template = translate(package(template, s3), {})  # parameters stay intrinsic: CloudFormation resolves them
    cfn.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(cfn_template),
        Parameters=[{"ParameterKey": k, "ParameterValue": str(v)} for k, v in params.items() if k in cfn_template.get("Parameters", {})],
        Capabilities=CAPABILITIES,
    )
    described = _wait_for_stack(cfn, stack_name)
    listed = _list_resources(cfn, stack_name)
    deployment = Deployment(
        stack_name=stack_name,
        region=region,
        endpoint_url=endpoint_url,
        outputs={o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])},
        resources={r["LogicalResourceId"]: r["PhysicalResourceId"] for r in listed},
        resource_types={r["LogicalResourceId"]: r["ResourceType"] for r in listed},
        parameters=params,
        cfn_template=cfn_template,
    )
    _adapt(deployment, template, cfn_template, bridge_events)
    check(deployment, cfn_template)
    return deployment


def _list_resources(cfn, stack_name: str) -> list[dict[str, Any]]:
    pages = cfn.get_paginator("list_stack_resources").paginate(StackName=stack_name)
    return [r for page in pages for r in page["StackResourceSummaries"]]


def _adapt(deployment: Deployment, template: dict[str, Any], cfn_template: dict[str, Any], bridge_events: bool) -> None:
    s3 = client("s3", deployment.endpoint_url, deployment.region)
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            name = deployment.resources[logical_id]
            deployment.functions[logical_id] = name
            moto_patches.register_handler(name, moto_patches.load_handler(REPO / props["CodeUri"], props.get("Handler", "app.handler")))
        if resource["Type"] == "AWS::S3::Bucket":
            apply_bucket_properties(s3, deployment.resources[logical_id], props, bridge_events)


def apply_bucket_properties(s3, bucket: str, props: dict[str, Any], bridge_events: bool = True) -> None:
    """moto's CloudFormation applies only BucketEncryption and Tags of an AWS::S3::Bucket: set the rest through
    the S3 API (versioning matters: jobs pin the probed version; EventBridge matters: uploads start jobs)."""
    if "VersioningConfiguration" in props:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": props["VersioningConfiguration"]["Status"]})
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"])
    if "OwnershipControls" in props:
        s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=props["OwnershipControls"])
    if "LifecycleConfiguration" in props:
        rules = [lifecycle_rule(r) for r in props["LifecycleConfiguration"]["Rules"]]
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    notifications = props.get("NotificationConfiguration", {})
    if bridge_events and notifications.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled"):
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}})


def lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule (AWS::S3::Bucket Rule) in the S3 API's shape: Id -> ID, Prefix -> Filter,
    ExpirationInDays -> Expiration.Days; the other properties used here have the same names in both."""
    api: dict[str, Any] = {"Filter": {"Prefix": rule.get("Prefix", "")}}
    for key, value in rule.items():
        if key == "ExpirationInDays":
            api["Expiration"] = {"Days": value}
        elif key != "Prefix":
            api["ID" if key == "Id" else key] = value
    return api


def condition_values(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, bool]:
    """The template's Conditions evaluated for these parameters (Fn::Equals/Not/And/Or, Condition, Ref)."""
    defaults = {k: str(v.get("Default", "")) for k, v in template.get("Parameters", {}).items()}
    values = {**defaults, **{k: str(v) for k, v in parameters.items()}}
    conditions = template.get("Conditions", {})

    def evaluate(node: Any) -> Any:
        if isinstance(node, dict):
            (name, arg), = node.items()
            if name == "Ref":
                return values.get(arg, arg)
            if name == "Condition":
                return evaluate(conditions[arg])
            if name == "Fn::Equals":
                return str(evaluate(arg[0])) == str(evaluate(arg[1]))
            if name == "Fn::Not":
                return not evaluate(arg[0])
            if name == "Fn::And":
                return all(evaluate(a) for a in arg)
            if name == "Fn::Or":
                return any(evaluate(a) for a in arg)
            raise ValueError(f"unsupported condition function {name}")
        return node

    return {name: bool(evaluate(body)) for name, body in conditions.items()}


def expected_resources(cfn_template: dict[str, Any], parameters: dict[str, str]) -> set[str]:
    """Logical ids the stack must contain: every resource whose Condition holds for these parameters."""
    conditions = condition_values(cfn_template, parameters)
    return {lid for lid, r in cfn_template["Resources"].items() if conditions.get(r.get("Condition"), True)}


def check(deployment: Deployment, cfn_template: dict[str, Any]) -> None:
    """Every resource of the translated template exists in the stack, and no definition kept a `${`."""
    missing = sorted(expected_resources(cfn_template, deployment.parameters) - set(deployment.resources))
    if missing:
        raise RuntimeError(f"resources of template.yaml missing from the local stack: {missing}")
    sfn = client("stepfunctions", deployment.endpoint_url, deployment.region)
    for logical_id, kind in deployment.resource_types.items():
        if kind == "AWS::StepFunctions::StateMachine":
            definition = sfn.describe_state_machine(stateMachineArn=deployment.resources[logical_id])["definition"]
            if "${" in definition:
                raise RuntimeError(f"{logical_id}: unresolved substitution left in the definition")
            json.loads(definition)
