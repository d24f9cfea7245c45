"""Template parity: the local stack is template.yaml deployed (sam/deploy.py), resource by resource.

Fails when a template resource has no local counterpart, has another type, or differs in the settings the
product relies on (definition, keys, queue redrive, fleet bounds and protection, function code and environment,
bucket versioning/events, the upload rule).
"""
from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from sam import moto_patches
from sam.deploy import check, condition_values, deploy, expected_resources, load_template, package, translate

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
# Resources that exist only when a parameter turns them on; the local stack runs with the defaults.
OFF_BY_DEFAULT = {
    "ImagePipelineEnabled": {"ImageBuilderInstanceRole", "ImageBuilderInstanceProfile", "ImageBuilderSecurityGroup",
                             "WorkerImageInfrastructure", "WorkerInstallComponent", "WorkerTestComponent", "WorkerImageRecipe",
                             "WorkerImageDistribution", "WorkerImagePipeline"},
    "WarmPoolEnabled": {"WorkerWarmPool"},
    "HasJobEventsEmail": {"JobEventsTopic", "JobEventsTopicPolicy", "JobEventsMailRule"},  # deployed in tests/workflow/test_job_events.py
}


@pytest.fixture(scope="module")
def stack():
    moto_patches.apply()
    with mock_aws(config=moto_patches.MOTO_CONFIG):
        deployment = deploy("parity")
        yield deployment, translate(package(load_template()), {})


def client(name: str):
    return boto3.client(name, region_name=REGION)


def test_every_template_resource_has_a_local_counterpart_of_the_same_type(stack):
    deployment, cfn = stack
    expected = expected_resources(cfn, deployment.parameters)
    assert expected <= set(deployment.resources)
    for logical_id in expected:
        assert deployment.resource_types[logical_id] == cfn["Resources"][logical_id]["Type"], logical_id
    # SAM keeps logical ids, except that a LayerVersion gets a content hash appended (CommonLayer → CommonLayer1a2b…).
    uncovered = {lid for lid in load_template()["Resources"] if not any(e == lid or e.startswith(lid) for e in expected)}
    assert uncovered == set().union(*OFF_BY_DEFAULT.values())


def test_check_fails_when_a_resource_is_missing(stack):
    deployment, cfn = stack
    extra = json.loads(json.dumps(cfn))
    extra["Resources"]["SomethingNew"] = {"Type": "AWS::SQS::Queue", "Properties": {}}
    with pytest.raises(RuntimeError, match="SomethingNew"):
        check(deployment, extra)


def test_conditional_resources_are_off_by_default_and_known():
    cfn = translate(package(load_template()), {})
    values = condition_values(cfn, {})
    for condition, resources in OFF_BY_DEFAULT.items():
        assert values[condition] is False
        assert {lid for lid, r in cfn["Resources"].items() if r.get("Condition") == condition} == resources
    assert condition_values(cfn, {"ArtifactBucketName": "artifacts"})["ImagePipelineEnabled"] is True


def test_state_machine_definition_is_the_asl_file_with_every_substitution_resolved(stack):
    deployment, _ = stack
    definition = client("stepfunctions").describe_state_machine(stateMachineArn=deployment.outputs["StateMachineArn"])["definition"]
    asl = (REPO / "statemachines" / "transcription.asl.json").read_text()
    functions = client("lambda")
    values = {
        "ProbeMediaFunctionArn": functions.get_function(FunctionName=deployment.functions["ProbeMediaFunction"])["Configuration"]["FunctionArn"],
        "ScaleFleetFunctionArn": functions.get_function(FunctionName=deployment.functions["ScaleFleetFunction"])["Configuration"]["FunctionArn"],
        "JobsTableName": deployment.outputs["JobsTableName"],
        "JobQueueUrl": deployment.outputs["JobQueueUrl"],
    }
    for name, value in values.items():
        asl = asl.replace("${" + name + "}", value)
    assert json.loads(definition) == json.loads(asl)
    assert "$$.Task.Token" in definition and "${" not in definition


def test_table_queue_and_fleet_match_the_template(stack):
    deployment, _ = stack
    table = client("dynamodb").describe_table(TableName=deployment.outputs["JobsTableName"])["Table"]
    assert table["KeySchema"] == [{"AttributeName": "processId", "KeyType": "HASH"}]
    indexes = {i["IndexName"]: [k["AttributeName"] for k in i["KeySchema"]] for i in table["GlobalSecondaryIndexes"]}
    assert indexes == {"ByStatus": ["activeStatus", "createdAt"], "ByUser": ["userId", "createdAt"]}

    sqs = client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=deployment.outputs["JobQueueUrl"], AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "120"
    redrive = json.loads(attributes["RedrivePolicy"])
    dlq = sqs.get_queue_attributes(QueueUrl=deployment.outputs["JobDeadLetterQueueUrl"], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert redrive["deadLetterTargetArn"] == dlq and int(redrive["maxReceiveCount"]) == 100

    group = client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[deployment.outputs["WorkerAutoScalingGroupName"]])["AutoScalingGroups"][0]
    assert (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]) == (0, int(deployment.parameters["MaxWorkers"]), 0)
    assert group["NewInstancesProtectedFromScaleIn"] is True


def test_functions_run_their_own_code_with_the_template_environment(stack):
    deployment, _ = stack
    template = load_template()
    shared = set(template["Globals"]["Function"]["Environment"]["Variables"])
    for logical_id, name in deployment.functions.items():
        props = template["Resources"][logical_id]["Properties"]
        config = client("lambda").get_function(FunctionName=name)["Configuration"]
        assert config["Handler"] == props["Handler"] and config["Runtime"] == "python3.12"
        assert set(config["Environment"]["Variables"]) == shared | set(props.get("Environment", {}).get("Variables", {}))
        assert moto_patches._handlers[name].__module__.endswith(Path(props["CodeUri"]).name + "_app")


def test_buckets_version_and_the_input_bucket_notifies_eventbridge_which_starts_jobs(stack):
    deployment, _ = stack
    s3 = client("s3")
    for bucket in (deployment.outputs["InputBucketName"], deployment.outputs["OutputBucketName"]):
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]  # moto's GetBucketNotificationConfiguration omits EventBridge
    assert backend.get_bucket(deployment.outputs["InputBucketName"]).notification_configuration.event_bridge is not None
    assert backend.get_bucket(deployment.outputs["OutputBucketName"]).notification_configuration is None
    events = client("events")
    rules = [r for r in events.list_rules()["Rules"] if "ObjectCreated" in r["Name"] or "StartJob" in r["Name"]]
    assert len(rules) == 1
    pattern = json.loads(rules[0]["EventPattern"])
    assert pattern["detail"]["bucket"]["name"] == [deployment.outputs["InputBucketName"]]
    targets = events.list_targets_by_rule(Rule=rules[0]["Name"])["Targets"]
    assert [t["Arn"].rsplit(":", 1)[-1] for t in targets] == [deployment.functions["StartJobFunction"]]


def test_env_json_gives_every_function_exactly_the_variables_the_template_sets():
    """sam/env.json is for `sam local invoke --env-vars sam/env.json`: same functions, same variable names."""
    env = json.loads((REPO / "sam" / "env.json").read_text())
    template = load_template()
    shared = set(template["Globals"]["Function"]["Environment"]["Variables"])
    functions = {lid: r for lid, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"}
    assert set(env) == set(functions)
    for logical_id, resource in functions.items():
        assert set(env[logical_id]) == shared | set(resource["Properties"].get("Environment", {}).get("Variables", {})), logical_id


def test_lifecycle_rules_reach_the_local_bucket_in_the_s3_apis_shape():
    """moto's CloudFormation leaves lifecycle rules out; deploy sets them through the S3 API, whose names differ."""
    from sam.deploy import lifecycle_rule

    cfn = {"Id": "expire-split-work-area", "Status": "Enabled", "Prefix": "work/", "ExpirationInDays": 7,
           "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}
    assert lifecycle_rule(cfn) == {"ID": "expire-split-work-area", "Status": "Enabled", "Filter": {"Prefix": "work/"},
                                   "Expiration": {"Days": 7}, "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}
