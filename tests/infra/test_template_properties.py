"""Security and wiring properties of template.yaml, checked without AWS.

Two views of the template: as written (tags parsed by samtranslator's yaml_parse) and as CloudFormation receives it
after the SAM transform (so the IAM statements SAM generates from policy templates, Tracing and event sources are
checked too). Fn::Sub documents embedded in the template (user data, CloudWatch agent config, dashboard) are rendered
with placeholders and parsed.
"""
from __future__ import annotations

import ast
import copy
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

from tests.support.iam_calls import as_list

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
FIXTURES = Path(__file__).parent / "fixtures"

# Actions that have no resource-level permissions in IAM, so Resource must be "*". Each is documented in the
# template where it is granted; anything else with Resource "*" fails.
STAR_RESOURCE_ACTIONS = {
    "states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat",  # act on a task token
    # Auto Scaling's Describe* actions list no resource types in the Service Authorization Reference
    # (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2autoscaling.html)
    "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeWarmPool",
    "cloudwatch:PutMetricData",  # only with a cloudwatch:namespace condition (checked below)
    # Step Functions logging to CloudWatch Logs (vended log delivery)
    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
    # X-Ray (Tracing: Active / Enabled), added by SAM
    "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets",
    "xray:GetSamplingStatisticSummaries",
}
# AWS managed policies allowed, and where. The worker role gets none (CloudWatchAgentServerPolicy has wildcards).
ALLOWED_MANAGED_POLICIES = {
    "AWSLambdaBasicExecutionRole": ("FunctionRole",),  # SAM: the function's own logs
    "AWSXrayWriteOnlyAccess": ("FunctionRole", "StateMachineRole"),  # SAM: Tracing (X-Ray has no resource types)
    "EC2InstanceProfileForImageBuilder": ("ImageBuilderInstanceRole",),  # Image Builder build/test instances only
    "AmazonSSMManagedInstanceCore": ("ImageBuilderInstanceRole",),
}
FIXED_LOGICAL_IDS = [
    "InputBucket", "OutputBucket", "InputBucketPolicy", "OutputBucketPolicy", "JobsTable", "JobQueue",
    "JobDeadLetterQueue", "CommonLayer", "StartJobFunction", "ProbeMediaFunction", "ScaleFleetFunction",
    "TranscriptionStateMachine", "WorkerLaunchTemplate", "WorkerAutoScalingGroup", "WorkerInstanceRole",
    "WorkerInstanceProfile", "WorkerSecurityGroup", "Dashboard", "AlarmTopic",
]
SUBSTITUTIONS = {"ProbeMediaFunctionArn", "ScaleFleetFunctionArn", "JobsTableName", "JobQueueUrl"}
PSEUDO = {"AWS::Region", "AWS::AccountId", "AWS::StackName", "AWS::Partition", "AWS::URLSuffix", "AWS::StackId"}
SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


# ---------------------------------------------------------------- helpers
@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return yaml_parse(TEMPLATE.read_text())


@pytest.fixture(scope="module")
def resources(template) -> dict[str, dict]:
    return template["Resources"]


class _PolicyLoader:
    """samtranslator asks for managed policy ARNs by name; answer the ones SAM may add."""

    def load(self) -> dict[str, str]:
        return {
            "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
            "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
            "AWSXRayDaemonWriteAccess": "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess",
        }


@pytest.fixture(scope="module")
def transformed(template) -> dict[str, Any]:
    """The template after the SAM transform, local paths replaced as `sam package` would (S3 locations)."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    packaged = copy.deepcopy(template)
    for name, res in packaged["Resources"].items():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::Serverless::Function":
            props["CodeUri"] = f"s3://package/{name}.zip"
        elif res["Type"] == "AWS::Serverless::LayerVersion":
            props["ContentUri"] = f"s3://package/{name}.zip"
        elif res["Type"] == "AWS::Serverless::StateMachine":
            props["DefinitionUri"] = {"Bucket": "package", "Key": f"{name}.asl.json"}
    return transform(packaged, {}, _PolicyLoader())


def of_type(resources: dict, kind: str) -> dict[str, dict]:
    return {name: res for name, res in resources.items() if res["Type"] == kind}


def iam_statements(resources: dict) -> Iterator[tuple[str, dict]]:
    """(owner logical id, statement) for every identity-based policy statement (roles and policies)."""
    for name, res in resources.items():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                for st in as_list(policy["PolicyDocument"]["Statement"]):
                    yield name, st
        elif res["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for st in as_list(props["PolicyDocument"]["Statement"]):
                yield name, st


def param_default(template: dict, value: Any) -> Any:
    """Resolve {"Ref": Param} to the parameter's default (values as the template writes them)."""
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in template["Parameters"]:
        return template["Parameters"][value["Ref"]].get("Default")
    return value


def sub_text(value: Any) -> str:
    """The text of a Fn::Sub (short or long form)."""
    sub = value["Fn::Sub"]
    return sub if isinstance(sub, str) else sub[0]


def render_sub(text: str) -> str:
    """Render a Fn::Sub string the way CloudFormation would, with placeholders: ${Name} -> PLACEHOLDER-Name,
    ${!Literal} -> ${Literal}."""
    text = SUB_VAR.sub(lambda m: "PLACEHOLDER-" + m.group(1).replace("::", "-").replace(".", "-"), text)
    return text.replace("${!", "${")


def user_data(resources: dict) -> str:
    data = resources["WorkerLaunchTemplate"]["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"]
    return sub_text(data)


def heredoc(text: str, marker: str) -> str:
    match = re.search(rf"<<'{marker}'\n(.*?)\n{marker}\n", text, re.S)
    assert match, f"heredoc {marker} not found in the user data"
    return match.group(1)


# ---------------------------------------------------------------- names other components rely on
def test_fixed_logical_ids_exist(resources):
    missing = [name for name in FIXED_LOGICAL_IDS if name not in resources]
    assert not missing, f"logical ids the ASL, Lambdas and local stack use are missing: {missing}"


def test_outputs_name_what_a_user_needs(template):
    needed = {"InputBucketName", "OutputBucketName", "JobsTableName", "JobQueueUrl", "StateMachineArn",
              "WorkerAutoScalingGroupName", "DashboardUrl"}
    assert needed <= set(template["Outputs"])


def test_function_globals(template):
    fn = template["Globals"]["Function"]
    assert fn["Runtime"] == "python3.12" and fn["Tracing"] == "Active" and fn["Timeout"] == 30
    assert fn["Layers"] == [{"Ref": "CommonLayer"}]
    env = fn["Environment"]["Variables"]
    assert env["POWERTOOLS_SERVICE_NAME"] == "scribefleet" and env["POWERTOOLS_METRICS_NAMESPACE"] == "Scribefleet"
    assert "LOG_LEVEL" in env


def test_the_hourly_sweep_has_time_for_a_backlog(resources):
    """One DescribeExecution per old active job, throttled past its burst (Step Functions quotas): not the 30 s global."""
    assert resources["ReconcileJobFunction"]["Properties"]["Timeout"] >= 300


def test_function_environments(resources):
    env = lambda name: resources[name]["Properties"]["Environment"]["Variables"]  # noqa: E731
    assert set(env("StartJobFunction")) == {"STATE_MACHINE_ARN"}
    assert {"MAX_FILE_BYTES", "MAX_AUDIO_SECONDS", "HEARTBEAT_SECONDS", "CLAIM_TIMEOUT_SECONDS",
            "PROCESS_TIMEOUT_BASE_SECONDS", "PROCESS_TIMEOUT_PER_AUDIO_SECOND"} <= set(env("ProbeMediaFunction"))
    scale = env("ScaleFleetFunction")
    assert {"JOBS_TABLE", "STATUS_INDEX", "ASG_NAME", "MAX_SIZE", "SCALER_POLICY"} <= set(scale)
    assert scale["STATUS_INDEX"] == "ByStatus"
    # the scaler, IAM and the worker name the ASG by its fixed name; it must be the ASG's actual name
    asg_name = resources["WorkerAutoScalingGroup"]["Properties"]["AutoScalingGroupName"]
    assert scale["ASG_NAME"] == asg_name == {"Fn::Sub": "${AWS::StackName}-workers"}


def test_upload_event_reaches_start_job(resources):
    events = resources["StartJobFunction"]["Properties"]["Events"]
    (event,) = events.values()
    assert event["Type"] == "EventBridgeRule"
    pattern = event["Properties"]["Pattern"]
    assert pattern["source"] == ["aws.s3"] and pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["bucket"]["name"] == [{"Ref": "InputBucket"}]
    assert pattern["detail"]["object"]["key"] == [{"prefix": "uploads/"}]
    notif = resources["InputBucket"]["Properties"]["NotificationConfiguration"]
    assert notif["EventBridgeConfiguration"]["EventBridgeEnabled"] is True


def test_ended_executions_reach_reconcile_job(resources):
    """Stopped, timed-out and uncaught-failed executions of our state machine close their job (scribefleet/reconcile.py);
    the function may only read and update jobs (a split job's work items are read before they are closed) and
    announce the end of one it closed."""
    function = resources["ReconcileJobFunction"]["Properties"]
    event, sweep = function["Events"]["ExecutionEnded"], function["Events"]["LostStatusChangeSweep"]
    # the status change event is best effort (EventBridge reference): an hourly sweep closes what a lost one left open
    assert sweep == {"Type": "Schedule", "Properties": {"Schedule": "rate(1 hour)", "Description": sweep["Properties"]["Description"]}}
    pattern = event["Properties"]["Pattern"]
    assert event["Type"] == "EventBridgeRule" and pattern["source"] == ["aws.states"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert sorted(pattern["detail"]["status"]) == ["ABORTED", "FAILED", "TIMED_OUT"]
    assert pattern["detail"]["stateMachineArn"] == [{"Ref": "TranscriptionStateMachine"}]
    assert event["Properties"]["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["EventDeadLetterQueue", "Arn"]}
    statements = {st["Sid"]: st for st in function["Policies"][0]["Statement"]}
    assert set(statements) == {"CloseJob", "AnnounceJobEnds", "FindActiveJobs", "ReadExecutionStatus"}
    assert statements["CloseJob"]["Action"] == ["dynamodb:UpdateItem", "dynamodb:GetItem"]
    assert statements["CloseJob"]["Resource"] == {"Fn::GetAtt": ["JobsTable", "Arn"]}


@pytest.mark.parametrize("function", ["StartJobFunction", "ReconcileJobFunction"])
def test_an_event_its_function_failed_on_is_kept_not_discarded(transformed, function):
    """EventBridge invokes Lambda asynchronously: the rule's dead-letter queue keeps only events it could not deliver,
    and an event whose handler failed (Lambda retries twice) is discarded unless the function has a dead-letter queue
    of its own. Both land in the one alarmed EventDeadLetterQueue, the original event as the body (the role's grant
    to send there is checked with each role's other grants in tests/reliability/test_security.py)."""
    function_properties = transformed["Resources"][function]["Properties"]
    assert function_properties["DeadLetterConfig"] == {"TargetArn": {"Fn::GetAtt": ["EventDeadLetterQueue", "Arn"]}}


@pytest.mark.security
def test_only_the_writers_that_end_jobs_put_events_and_only_ours_on_the_default_bus(transformed):
    """events:PutEvents on the default bus alone, for our source and detail-type alone (AWS's condition keys for it:
    events:source, multivalued, and events:detail-type), granted to the state machine and ReconcileJob only."""
    from scribefleet.contract import EVENT_SOURCE, JOB_STATE_CHANGE

    granted = {}
    for owner, st in iam_statements(transformed["Resources"]):
        if st["Effect"] == "Allow" and "events:PutEvents" in as_list(st["Action"]):
            granted[owner] = st
            assert as_list(st["Action"]) == ["events:PutEvents"], owner
            assert st["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default"}, owner
            assert st["Condition"] == {"ForAllValues:StringEquals": {"events:source": [EVENT_SOURCE]},
                                       "StringEquals": {"events:detail-type": JOB_STATE_CHANGE}}, owner
    assert set(granted) == {"TranscriptionStateMachineRole", "ReconcileJobFunctionRole"}


def test_the_example_job_events_rule_mails_ended_jobs_only_when_an_address_is_given(template, resources):
    """The documented consumer: rule (our event, COMPLETED or FAILED) -> SNS topic -> e-mail, all three resources under
    one Condition that holds only when JobEventsEmail is set; only that rule may publish to the topic."""
    from scribefleet import schemas
    from scribefleet.contract import EVENT_BUS, EVENT_SOURCE, JOB_STATE_CHANGE

    assert template["Parameters"]["JobEventsEmail"]["Default"] == ""
    assert template["Conditions"]["HasJobEventsEmail"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "JobEventsEmail"}, ""]}]}
    example = {name: res for name, res in resources.items() if name.startswith("JobEvents")}
    assert set(example) == {"JobEventsTopic", "JobEventsTopicPolicy", "JobEventsMailRule"}
    assert all(res.get("Condition") == "HasJobEventsEmail" for res in example.values())
    rule = example["JobEventsMailRule"]["Properties"]
    assert rule["EventBusName"] == EVENT_BUS and rule["State"] == "ENABLED"
    assert rule["EventPattern"] == {"source": [EVENT_SOURCE], "detail-type": [JOB_STATE_CHANGE], "detail": {"status": ["COMPLETED", "FAILED"]}}
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Ref": "JobEventsTopic"}
    required = set(schemas.load("job_state_change.schema.json")["required"])  # the mail never shows an empty slot
    transformer = target["InputTransformer"]
    assert {path.removeprefix("$.detail.") for path in transformer["InputPathsMap"].values()} <= required
    assert set(re.findall(r"<(\w+)>", transformer["InputTemplate"])) == set(transformer["InputPathsMap"])
    assert example["JobEventsTopic"]["Properties"]["Subscription"] == [{"Protocol": "email", "Endpoint": {"Ref": "JobEventsEmail"}}]
    (grant,) = example["JobEventsTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert grant["Principal"] == {"Service": "events.amazonaws.com"} and grant["Action"] == "sns:Publish"
    assert grant["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["JobEventsMailRule", "Arn"]}}}


def test_every_function_code_uri_has_an_app_handler(resources):
    """functions/<name>/app.py must define `handler` (parsed, not imported: no AWS clients at import time here)."""
    for name, res in of_type(resources, "AWS::Serverless::Function").items():
        props = res["Properties"]
        assert props["Handler"] == "app.handler", name
        app = ROOT / props["CodeUri"] / "app.py"
        assert app.is_file(), f"{name}: {app.relative_to(ROOT)} does not exist"
        tree = ast.parse(app.read_text())
        defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        defined |= {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
        assert "handler" in defined, f"{name}: {app.relative_to(ROOT)} defines no top-level `handler`"


def test_layer_ships_shared_package_and_pinned_deps(resources):
    layer = resources["CommonLayer"]
    assert layer["Properties"]["ContentUri"] == "layers/common"
    assert layer["Metadata"]["BuildMethod"] == "python3.12"
    # BuildMethod python3.x copies ContentUri into the layer's python/ folder, so the link sits at the root
    link = ROOT / "layers/common/scribefleet"
    assert link.is_symlink() and link.resolve() == (ROOT / "scribefleet").resolve()
    assert (link / "contract.py").is_file() and (link / "schemas/options.schema.json").is_file()
    pins = [l.strip() for l in (ROOT / "layers/common/requirements.txt").read_text().splitlines()
            if l.strip() and not l.startswith("#")]
    assert {p.split("==")[0] for p in pins} >= {"aws-lambda-powertools[tracer]", "jsonschema", "mutagen"}
    assert all("==" in p for p in pins), "the layer pins exact versions (sam build resolves them anew)"
    assert "-r layers/common/requirements.txt" in (ROOT / "requirements.txt").read_text(), \
        "the tests must run with what the layer ships (requirements.txt includes the layer's set)"


# ---------------------------------------------------------------- state machine
def asl_files() -> list[Path]:
    real = sorted((ROOT / "statemachines").glob("*.asl.json"))
    return real or sorted(FIXTURES.glob("*.asl.json"))


def test_state_machine_definition_and_observability(resources):
    props = resources["TranscriptionStateMachine"]["Properties"]
    assert props["Type"] == "STANDARD"
    assert (ROOT / props["DefinitionUri"]).is_file(), f"{props['DefinitionUri']} does not exist"
    assert set(props["DefinitionSubstitutions"]) == SUBSTITUTIONS
    assert props["Logging"]["Level"] == "ALL" and props["Logging"]["Destinations"]
    assert props["Tracing"]["Enabled"] is True


@pytest.mark.parametrize("asl", asl_files(), ids=lambda p: p.name)
def test_every_asl_substitution_is_provided(resources, asl):
    used = set(re.findall(r"\$\{([^}]+)\}", asl.read_text()))
    provided = set(resources["TranscriptionStateMachine"]["Properties"]["DefinitionSubstitutions"])
    assert used, f"{asl.name} uses no substitutions: ARNs and names must come from the template"
    assert used <= provided, f"{asl.name} uses substitutions the template does not provide: {sorted(used - provided)}"
    json.loads(asl.read_text())  # and it is JSON


@pytest.mark.security
def test_state_machine_permissions_are_exact(transformed):
    role = transformed["Resources"]["TranscriptionStateMachineRole"]["Properties"]
    actions: dict[str, Any] = {}
    for policy in role["Policies"]:
        for st in as_list(policy["PolicyDocument"]["Statement"]):
            for action in as_list(st["Action"]):
                actions.setdefault(action, []).append(st["Resource"])
    assert {"dynamodb:PutItem", "dynamodb:UpdateItem"} <= set(actions) and "dynamodb:GetItem" not in actions
    assert actions["dynamodb:PutItem"] == [{"Fn::GetAtt": ["JobsTable", "Arn"]}]
    assert actions["sqs:SendMessage"] == [{"Fn::GetAtt": ["JobQueue", "Arn"]}]
    assert "lambda:InvokeFunction" in actions
    assert not {a for a in actions if a.startswith(("s3:", "ec2:", "iam:", "autoscaling:"))}


# ---------------------------------------------------------------- IAM
@pytest.mark.security
def test_no_wildcard_actions_in_any_allow(transformed):
    for owner, st in iam_statements(transformed["Resources"]):
        assert "NotAction" not in st and "NotResource" not in st, owner
        if st["Effect"] == "Allow":
            wild = [a for a in as_list(st["Action"]) if "*" in a]
            assert not wild, f"{owner}: wildcard actions {wild} in {st}"


@pytest.mark.security
def test_resource_star_only_where_iam_has_no_resource_types(transformed):
    for owner, st in iam_statements(transformed["Resources"]):
        if st["Effect"] != "Allow" or "*" not in as_list(st["Resource"]):
            continue
        actions = set(as_list(st["Action"]))
        assert actions <= STAR_RESOURCE_ACTIONS, f"{owner}: Resource * for {sorted(actions - STAR_RESOURCE_ACTIONS)}"
        if "cloudwatch:PutMetricData" in actions:
            assert st["Condition"]["StringEquals"]["cloudwatch:namespace"] == "Scribefleet", owner


def test_managed_policies_are_the_documented_ones(transformed):
    for name, role in of_type(transformed["Resources"], "AWS::IAM::Role").items():
        for arn in role["Properties"].get("ManagedPolicyArns", []):
            text = arn if isinstance(arn, str) else sub_text(arn)
            policy = text.rsplit("/", 1)[-1]
            assert policy in ALLOWED_MANAGED_POLICIES, f"{name}: managed policy {policy} is not allowed"
            assert name.endswith(ALLOWED_MANAGED_POLICIES[policy]), f"{name} may not have {policy}"


@pytest.mark.security
def test_worker_role_is_least_privilege(resources):
    role = resources["WorkerInstanceRole"]["Properties"]
    assert "ManagedPolicyArns" not in role, "no managed policies (CloudWatchAgentServerPolicy has wildcards)"
    grants = {}
    for _, st in iam_statements({"WorkerInstanceRole": resources["WorkerInstanceRole"]}):
        assert st["Effect"] == "Allow"
        for action in as_list(st["Action"]):
            grants[action] = st
    assert set(grants) == {
        "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility",
        "states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat",
        "dynamodb:GetItem", "dynamodb:UpdateItem",
        "s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "s3:PutObject", "s3:AbortMultipartUpload",
        "autoscaling:TerminateInstanceInAutoScalingGroup",
        "autoscaling:CompleteLifecycleAction",
        "cloudwatch:PutMetricData", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams",
    }
    assert grants["sqs:ReceiveMessage"]["Resource"] == {"Fn::GetAtt": ["JobQueue", "Arn"]}
    assert grants["dynamodb:UpdateItem"]["Resource"] == {"Fn::GetAtt": ["JobsTable", "Arn"]}
    resources_of = lambda action: [st["Resource"] for _, st in iam_statements({"WorkerInstanceRole": resources["WorkerInstanceRole"]})  # noqa: E731
                                   if action in as_list(st["Action"])]
    assert resources_of("s3:GetObject") == [{"Fn::Sub": "${InputBucket.Arn}/uploads/*"}, {"Fn::Sub": "${InputBucket.Arn}/voices/*"},
                                            {"Fn::Sub": "${OutputBucket.Arn}/work/*"}]  # a split file's chunks, for its merge
    # the one write into the input bucket: the embedding cache beside the enrolled clips, never an upload
    assert resources_of("s3:PutObject") == [{"Fn::Sub": "${InputBucket.Arn}/voices/*/.cache/*"},
                                            {"Fn::Sub": "${OutputBucket.Arn}/transcripts/*"},
                                            {"Fn::Sub": "${OutputBucket.Arn}/work/*"}]
    # a deleted or replaced upload must read as 404 NoSuchKey (InputChanged), which S3 answers only with ListBucket
    assert grants["s3:ListBucket"]["Resource"] == {"Fn::GetAtt": ["InputBucket", "Arn"]}
    asg_arn = sub_text(grants["autoscaling:TerminateInstanceInAutoScalingGroup"]["Resource"])
    assert asg_arn.endswith(":autoScalingGroupName/${AWS::StackName}-workers"), asg_arn
    log_groups = grants["logs:PutLogEvents"]["Resource"]
    assert log_groups == [{"Fn::GetAtt": [g, "Arn"]} for g in ("WorkerInitLogGroup", "WorkerStartupLogGroup",
                                                                  "WorkerLogGroup")]


@pytest.mark.security
def test_scaler_may_only_set_capacity_and_suspend_processes_of_its_asg(resources):
    statements = resources["ScaleFleetFunction"]["Properties"]["Policies"][0]["Statement"]
    by_action = {a: st for st in statements for a in as_list(st["Action"])}
    assert set(by_action) == {"dynamodb:Query", "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeWarmPool",
                              "autoscaling:SetDesiredCapacity", "autoscaling:SuspendProcesses"}
    for action in ("autoscaling:SetDesiredCapacity", "autoscaling:SuspendProcesses"):  # AZRebalance: fleet_scaler.py
        assert sub_text(by_action[action]["Resource"]).endswith("autoScalingGroupName/${AWS::StackName}-workers")
    assert by_action["dynamodb:Query"]["Resource"] == {"Fn::Sub": "${JobsTable.Arn}/index/ByStatus"}  # not the table


# ---------------------------------------------------------------- data at rest and in transit
@pytest.mark.security
def test_buckets_block_public_access_encrypt_and_require_tls(resources):
    buckets = of_type(resources, "AWS::S3::Bucket")
    assert set(buckets) == {"InputBucket", "OutputBucket"}
    policies = {p["Properties"]["Bucket"]["Ref"]: p for p in of_type(resources, "AWS::S3::BucketPolicy").values()}
    for name, bucket in buckets.items():
        props = bucket["Properties"]
        block = props["PublicAccessBlockConfiguration"]
        assert all(block[k] is True for k in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls",
                                               "RestrictPublicBuckets")), name
        (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms"), name
        statements = policies[name]["Properties"]["PolicyDocument"]["Statement"]
        tls = [st for st in statements if st["Effect"] == "Deny"
               and st.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"]
        assert tls, f"{name}: no TLS-only statement"
        assert tls[0]["Principal"] == "*" and tls[0]["Action"] == "s3:*"
        assert {"Fn::GetAtt": [name, "Arn"]} in tls[0]["Resource"]
        assert {"Fn::Sub": f"${{{name}.Arn}}/*"} in tls[0]["Resource"]


@pytest.mark.security  # the user index projects no task token
def test_table_encrypted_with_pitr_a_sparse_status_index_and_a_user_index(resources):
    from scribefleet.contract import ACTIVE_STATUS_ATTRIBUTE, STATUS_INDEX, USER_INDEX

    props = resources["JobsTable"]["Properties"]
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["KeySchema"] == [{"AttributeName": "processId", "KeyType": "HASH"}]
    indexes = {i["IndexName"]: i for i in props["GlobalSecondaryIndexes"]}
    assert set(indexes) == {STATUS_INDEX, USER_INDEX}
    # keyed on the attribute only waiting and running jobs carry: finished jobs are not in it
    assert indexes[STATUS_INDEX]["KeySchema"] == [{"AttributeName": ACTIVE_STATUS_ATTRIBUTE, "KeyType": "HASH"},
                                                  {"AttributeName": "createdAt", "KeyType": "RANGE"}]
    assert indexes[STATUS_INDEX]["Projection"] == {"ProjectionType": "ALL"}
    assert indexes[USER_INDEX]["KeySchema"] == [{"AttributeName": "userId", "KeyType": "HASH"},
                                                {"AttributeName": "createdAt", "KeyType": "RANGE"}]
    projection = indexes[USER_INDEX]["Projection"]
    assert projection["ProjectionType"] == "INCLUDE" and not {"workToken", "claimDigest"} & set(projection["NonKeyAttributes"])
    types = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
    assert types == {"processId": "S", ACTIVE_STATUS_ATTRIBUTE: "S", "userId": "S", "createdAt": "S"}


def test_every_write_that_ends_a_job_takes_it_out_of_the_status_index():
    """The ASL's job and work-item writes keep activeStatus = status while waiting/running and remove it at the end
    (for a split job, when its chunks take its place in the index, and for each chunk and merge when it ends)."""
    from scribefleet.contract import ACTIVE_STATUS_ATTRIBUTE

    def flatten(machine: dict) -> dict:
        found = {}
        for name, state in machine["States"].items():
            found[name] = state
            for inner in [*state.get("Branches", []), *([state["ItemProcessor"]] if "ItemProcessor" in state else [])]:
                found.update(flatten(inner))
        return found

    states = flatten(json.loads((ROOT / "statemachines/transcription.asl.json").read_text()))
    for name in ("RecordJob", "RecordWorkItem"):
        assert states[name]["Parameters"]["Item"][ACTIVE_STATUS_ATTRIBUTE] == {"S": "QUEUED"}, name
    for name, value in (("Transcribe", ":inProgress"), ("RequeueJob", ":queued")):
        assert f"{ACTIVE_STATUS_ATTRIBUTE} = {value}" in states[name]["Parameters"]["UpdateExpression"], name
    for name in ("MarkCompleted", "MarkFailed", "ReleaseClaim", "CloseWorkItem", "CloseOpenItem"):
        removed = states[name]["Parameters"]["UpdateExpression"].split(" REMOVE ", 1)[1]
        assert ACTIVE_STATUS_ATTRIBUTE in [a.strip() for a in removed.split(",")], name


def test_every_queue_is_encrypted(transformed):
    queues = of_type(transformed["Resources"], "AWS::SQS::Queue")
    assert {"JobQueue", "JobDeadLetterQueue"} <= set(queues)
    for name, queue in queues.items():
        props = queue.get("Properties", {})
        assert props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props, f"{name} is not encrypted"


def test_job_queue_redrive_and_visibility(resources):
    props = resources["JobQueue"]["Properties"]
    assert props["VisibilityTimeout"] == 120
    assert props["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": ["JobDeadLetterQueue", "Arn"]},
                                      "maxReceiveCount": 100}


def test_dead_letter_alarm_and_deploy_guide_state_the_real_receive_count(resources):
    count = resources["JobQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"]
    described = resources["JobDeadLetterQueueAlarm"]["Properties"]["AlarmDescription"]
    assert re.findall(r"\b(\d+) times", described) == [str(count)], described
    deploy_guide = (ROOT / "docs/deploy.md").read_text()
    stated = {int(n) for n in re.findall(r"(\d+) receives", deploy_guide)}
    assert stated == {count}, f"docs/deploy.md says {stated} receives; the queue has maxReceiveCount {count}"


# ---------------------------------------------------------------- GPU fleet
@pytest.mark.security
def test_launch_template_imdsv2_no_ssh_fast_gp3(template, resources):
    data = resources["WorkerLaunchTemplate"]["Properties"]["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["MetadataOptions"]["HttpPutResponseHopLimit"] in (1, 2)
    assert "KeyName" not in data
    (root,) = data["BlockDeviceMappings"]
    ebs = root["Ebs"]
    assert ebs["VolumeType"] == "gp3" and ebs["Encrypted"] is True
    assert int(param_default(template, ebs["Iops"])) >= 6000
    assert int(param_default(template, ebs["Throughput"])) >= 500
    # any pair the parameters accept must be one EC2 launches: gp3 throughput <= 0.25 MiB/s per IOPS
    params = template["Parameters"]
    assert params["RootVolumeThroughput"]["MaxValue"] <= 0.25 * params["RootVolumeIops"]["MinValue"]
    assert param_default(template, data["InstanceType"]) == "g4dn.xlarge"
    allowed = template["Parameters"]["WorkerInstanceType"]["AllowedValues"]
    assert {t.split(".")[0] for t in allowed} == {"g4dn", "g5", "g6"}


@pytest.mark.security
def test_no_ingress_anywhere(transformed):
    resources = transformed["Resources"]
    assert not of_type(resources, "AWS::EC2::SecurityGroupIngress")
    for name, sg in of_type(resources, "AWS::EC2::SecurityGroup").items():
        assert not sg["Properties"].get("SecurityGroupIngress"), f"{name} has ingress rules"
    for name, lt in of_type(resources, "AWS::EC2::LaunchTemplate").items():
        assert "KeyName" not in lt["Properties"]["LaunchTemplateData"], f"{name} has an SSH key"


def test_asg_scales_from_zero_protected_and_keeps_desired(template, resources):
    props = resources["WorkerAutoScalingGroup"]["Properties"]
    assert props["MinSize"] in (0, "0") and props["MaxSize"] == {"Ref": "MaxWorkers"}
    assert template["Parameters"]["MaxWorkers"]["Default"] == 10
    assert "DesiredCapacity" not in props, "a deploy must not reset the scaler's desired capacity"
    assert props["NewInstancesProtectedFromScaleIn"] is True
    assert "CapacityRebalance" in props
    pool = resources["WorkerWarmPool"]
    assert pool["Condition"] == "WarmPoolEnabled" and pool["Properties"]["PoolState"] == "Stopped"
    metrics = props["MetricsCollection"][0]["Metrics"]
    assert {"GroupDesiredCapacity", "GroupInServiceInstances"} <= set(metrics)  # the dashboard and an alarm use them


def test_user_data_references_only_known_names(template, resources):
    sub = resources["WorkerLaunchTemplate"]["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"]["Fn::Sub"]
    local_names = set(sub[1]) if isinstance(sub, list) else set()
    known = set(template["Parameters"]) | set(resources) | PSEUDO | local_names
    for var in SUB_VAR.findall(user_data(resources)):
        assert var.split(".")[0] in known, f"user data substitutes unknown ${{{var}}}"


def test_user_data_is_valid_bash(resources, tmp_path):
    script = tmp_path / "user-data.sh"
    script.write_text(render_sub(user_data(resources)))
    proc = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    # ${VAR} would be taken by Fn::Sub: bash variables must be written $VAR in the template
    assert not re.findall(r"\$\{[a-z_]+\}", user_data(resources))


def test_user_data_writes_worker_environment(resources):
    env_text = heredoc(user_data(resources), "SCRIBEFLEET_ENV")
    lines = [line for line in env_text.splitlines() if line and not line.startswith("#")]
    env = dict(line.split("=", 1) for line in lines)
    assert len(env) == len(lines), "a variable is written twice"
    assert env["SCRIBEFLEET_MODEL_DIR"] == "/opt/models/faster-whisper-${WhisperModel}"
    assert env["SCRIBEFLEET_DIARIZER_MODEL_DIR"] == "/opt/models/pyannote"
    assert env["SCRIBEFLEET_HEARTBEAT_INTERVAL"] == "5"
    assert env["SCRIBEFLEET_LOG_FILE"] == "/var/log/scribefleet/worker.log"
    assert env["SCRIBEFLEET_QUEUE_URL"] == "${JobQueue}" and env["SCRIBEFLEET_TABLE_NAME"] == "${JobsTable}"
    # the retirement rule prices a restart with the fleet's own boot time and warm pool
    assert env["SCRIBEFLEET_BOOT_SECONDS"] == "${WorkerBootSeconds}" and env["SCRIBEFLEET_WARM_POOL"] == "${WarmPoolInstances}"
    sub = resources["WorkerLaunchTemplate"]["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"]["Fn::Sub"]
    assert sub[1]["WarmPoolInstances"] == {"Fn::If": ["WarmPoolEnabled", {"Ref": "WarmPoolSize"}, 0]}
    for key in ("AWS_REGION", "SCRIBEFLEET_OUTPUT_BUCKET", "SCRIBEFLEET_ASG_NAME", "SCRIBEFLEET_DIARIZER", "SCRIBEFLEET_IDLE_TIMEOUT"):
        assert env.get(key), key


def test_user_data_names_each_worker_setting_once(resources):
    """Every value the user data hands the worker goes under one name: the SCRIBEFLEET_<field> WorkerConfig reads
    (plus the library switches and the hook name the pre-start script reads); no second name can drift."""
    from dataclasses import fields

    from gpu_worker.config import PREFIX, WorkerConfig

    env_text = heredoc(user_data(resources), "SCRIBEFLEET_ENV")
    names = [line.split("=", 1)[0] for line in env_text.splitlines() if line and not line.startswith("#")]
    config_names = {PREFIX + f.name.upper() for f in fields(WorkerConfig)}
    others = {"AWS_REGION", "AWS_DEFAULT_REGION", "HF_HUB_OFFLINE", "PYANNOTE_METRICS_ENABLED", PREFIX + "LIFECYCLE_HOOK_NAME"}
    assert set(names) <= config_names | others, set(names) - config_names - others
    stack_values = [line.split("=", 1)[1] for line in env_text.splitlines() if line.startswith(PREFIX) and "${" in line]
    assert len(stack_values) == len(set(stack_values)), "a stack value is written under two names"


def test_worker_reads_its_configuration_from_the_user_data_environment(template, resources):
    """The env file, rendered with the parameter defaults, is a complete configuration for gpu_worker's job loop."""
    from gpu_worker.config import WorkerConfig

    defaults = {name: str(p.get("Default", "")) for name, p in template["Parameters"].items()}
    assert defaults["EnableWarmPool"] == "false"
    defaults["WarmPoolInstances"] = "0"  # the Sub's own variable, as its Fn::If renders with the warm pool off
    text = SUB_VAR.sub(lambda m: defaults.get(m.group(1), "PLACEHOLDER-" + m.group(1)),
                       heredoc(user_data(resources), "SCRIBEFLEET_ENV"))
    env = dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    config = WorkerConfig.from_env(env)
    assert config.missing_for_jobs() == []
    assert config.model_dir == "/opt/models/faster-whisper-large-v3-turbo"
    assert config.diarizer == "pyannote" and config.diarizer_model_dir == "/opt/models/pyannote"
    assert config.heartbeat_interval == 5 and config.idle_timeout == 300
    assert config.log_file == "/var/log/scribefleet/worker.log" and config.log_level == "INFO"
    assert config.boot_seconds == float(defaults["WorkerBootSeconds"]) and config.warm_pool == 0


def test_user_data_cloudwatch_agent_config(resources):
    config = json.loads(render_sub(heredoc(user_data(resources), "SCRIBEFLEET_CWAGENT")))
    files = config["logs"]["logs_collected"]["files"]["collect_list"]
    groups = {f["file_path"]: f["log_group_name"] for f in files}
    assert groups == {
        "/var/log/scribefleet/init.log": "PLACEHOLDER-WorkerInitLogGroup",
        "/var/log/scribefleet/startup.log": "PLACEHOLDER-WorkerStartupLogGroup",
        "/var/log/scribefleet/worker.log": "PLACEHOLDER-WorkerLogGroup",
    }
    gpu = config["metrics"]["metrics_collected"]["nvidia_gpu"]
    assert {"utilization_gpu", "utilization_memory", "memory_used"} <= set(gpu["measurement"])
    assert gpu["metrics_collection_interval"] == 10
    assert config["metrics"]["namespace"] == "Scribefleet"  # the instance role may only publish there


def test_user_data_starts_the_worker_unit(resources):
    text = user_data(resources)
    assert "amazon-cloudwatch-agent-ctl -a fetch-config" in text
    assert "systemctl enable scribefleet-worker.service" in text
    assert "systemctl start --no-block scribefleet-worker.service" in text
    assert "exec >>/var/log/scribefleet/init.log" in text


def test_worker_unit_restarts_and_runs_the_agent():
    unit = (ROOT / "infra/worker/scribefleet-worker.service").read_text()
    assert "Restart=always" in unit
    assert "EnvironmentFile=/etc/scribefleet/worker.env" in unit
    assert re.search(r"^ExecStart=\S*python -m gpu_worker run$", unit, re.M)
    assert "ExecStartPre=/opt/scribefleet/bin/worker-prestart.sh" in unit
    # EMF metrics printed on stdout must reach the shipped log file, or CloudWatch never sees them; as they are
    # printed, not when a block buffer fills or the worker exits
    assert "StandardOutput=append:/var/log/scribefleet/worker.log" in unit
    assert "Environment=PYTHONUNBUFFERED=1" in unit.splitlines()


def test_worker_and_its_self_test_get_a_writable_matplotlib_dir(resources):
    """pyannote imports matplotlib; the worker's home is root-owned, so MPLCONFIGDIR must name a directory the
    scribefleet user owns: the unit's CacheDirectory= (created by systemd, owned by User=), and the same directory,
    created for that user, in the AMI pipeline's self-test, which runs as scribefleet too."""
    unit = (ROOT / "infra/worker/scribefleet-worker.service").read_text()
    settings = [line.split("=", 1) for line in unit.splitlines() if "=" in line and not line.startswith("#")]
    assert ["User", "scribefleet"] in settings
    (cache,) = [value for key, value in settings if key == "CacheDirectory"]
    mpl = f"/var/cache/{cache}"  # system units: CacheDirectory= names a directory below /var/cache
    assert ["Environment", f"MPLCONFIGDIR={mpl}"] in settings
    # worker.env (EnvironmentFile=, read after Environment=) must not point it elsewhere
    assert "MPLCONFIGDIR" not in heredoc(user_data(resources), "SCRIBEFLEET_ENV")

    test = yaml.safe_load((ROOT / "infra/imagebuilder/test-worker.yaml").read_text())
    (step,) = [s for phase in test["phases"] for s in phase["steps"] if s["name"] == "SelfTest"]
    commands = step["inputs"]["commands"]
    run_as_worker = next(i for i, c in enumerate(commands) if "-u scribefleet" in c and "--self-test" in c)
    before = commands[:run_as_worker]
    assert f"install -d -o scribefleet -g scribefleet {mpl}" in before
    assert f"export MPLCONFIGDIR={mpl}" in before
    assert "--preserve-env" in commands[run_as_worker]  # sudo hands the exported setting on


# ---------------------------------------------------------------- operations
def test_dashboard_body_is_json_with_the_promised_widgets(resources):
    body = json.loads(render_sub(sub_text(resources["Dashboard"]["Properties"]["DashboardBody"])))
    text = json.dumps(body)
    for metric in ("ApproximateNumberOfMessagesVisible", "QueuedAudioSeconds", "GroupDesiredCapacity",
                   "GroupInServiceInstances", "nvidia_smi_utilization_gpu", "nvidia_smi_memory_used",
                   "ExecutionsStarted", "ExecutionsSucceeded", "ExecutionsFailed", "ExecutionTime", "Errors",
                   "Duration"):
        assert metric in text, metric


def test_alarms_notify_the_topic(resources):
    alarms = of_type(resources, "AWS::CloudWatch::Alarm")
    assert {"FailedExecutionsAlarm", "JobDeadLetterQueueAlarm", "QueuedWithoutWorkersAlarm",
            "HeartbeatTimeoutAlarm"} <= set(alarms)
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], name


def test_queued_without_workers_alarm_is_n_out_of_n_plus_one(template, resources):
    """Its metric math FILLs missing points; with a late newest minute an N-of-N alarm could never fire (CloudWatch User
    Guide, "Using metric math": use an M out of N alarm)."""
    alarm = resources["QueuedWithoutWorkersAlarm"]["Properties"]
    assert "FILL(" in alarm["Metrics"][0]["Expression"]
    assert alarm["DatapointsToAlarm"] == {"Ref": "NoWorkerAlarmMinutes"}
    assert alarm["EvaluationPeriods"] == {"Fn::FindInMap": ["NoWorkerAlarm", {"Ref": "NoWorkerAlarmMinutes"}, "EvaluationPeriods"]}
    allowed = template["Parameters"]["NoWorkerAlarmMinutes"]["AllowedValues"]
    table = template["Mappings"]["NoWorkerAlarm"]
    assert sorted(table, key=int) == sorted(allowed, key=int)  # every allowed value has its row
    assert all(table[n]["EvaluationPeriods"] == int(n) + 1 for n in allowed)
    assert str(template["Parameters"]["NoWorkerAlarmMinutes"]["Default"]) in table


def test_saved_queries(resources):
    names = {sub_text(q["Properties"]["Name"]).rsplit("/", 1)[-1]
             for q in of_type(resources, "AWS::Logs::QueryDefinition").values()}
    assert {"by-process-id", "by-user", "failures"} <= names


def test_image_builder_components(resources):
    install = yaml.safe_load((ROOT / "infra/imagebuilder/install-worker.yaml").read_text())
    test = yaml.safe_load((ROOT / "infra/imagebuilder/test-worker.yaml").read_text())
    for doc in (install, test):
        assert doc["schemaVersion"] == 1.0 and doc["phases"]
    install_text = json.dumps(install)
    assert "/opt/models" in install_text and "{{ ModelPrefix }}" in install_text
    assert "scribefleet-worker.service" in install_text
    test_text = json.dumps(test)
    assert "-m gpu_worker --self-test" in test_text and "pytest tests/worker" in test_text
    # recipe parameters match the documents' declared parameters
    declared = {n for doc in (install, test) for p in doc.get("parameters", []) for n in p}
    passed = {p["Name"] for c in resources["WorkerImageRecipe"]["Properties"]["Components"]
              for p in c.get("Parameters", [])}
    assert passed <= declared
    dist = resources["WorkerImageDistribution"]["Properties"]["Distributions"][0]
    assert dist["LaunchTemplateConfigurations"][0]["LaunchTemplateId"] == {"Ref": "WorkerLaunchTemplate"}


def test_ami_parameter_is_one_image_builder_may_write(template, resources):
    """The distribution runs with Image Builder's service-linked role, which may put SSM parameters only under
    /imagebuilder/ (otherwise the pipeline fails at its last step); no other execution role is configured."""
    distribution = resources["WorkerImageDistribution"]["Properties"]
    assert "ExecutionRole" not in distribution and "ExecutionRole" not in resources["WorkerImagePipeline"]["Properties"]
    (ssm,) = distribution["Distributions"][0]["SsmParameterConfigurations"]
    name = sub_text(ssm["ParameterName"])
    assert name.startswith("/imagebuilder/") and ssm["DataType"] == "aws:ec2:image"
    assert sub_text(template["Outputs"]["WorkerAmiParameter"]["Value"]) == name
    assert name.replace("${AWS::StackName}", "<stack>") in (ROOT / "docs/deploy.md").read_text()


def test_the_split_work_area_expires_and_nothing_else_does(resources):
    """Chunk results (work/) are needed until the merge: they expire after 7 days; transcripts never expire."""
    rules = resources["OutputBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    expiring = [r for r in rules if "ExpirationInDays" in r]
    assert [(r["Prefix"], r["ExpirationInDays"], r["Status"]) for r in expiring] == [("work/", 7, "Enabled")]
