"""ScaleFleet's reading of the world: the jobs table and the Auto Scaling group, as moto serves them."""
from decimal import Decimal

import boto3
from moto import mock_aws

from scribefleet.fleet_scaler import read_fleet_state, scale_fleet


def make_world(instances: int):
    dynamodb = boto3.resource("dynamodb")
    table = dynamodb.create_table(
        TableName="jobs", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("processId", "status", "createdAt")],
        KeySchema=[{"AttributeName": "processId", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[{"IndexName": "ByStatus", "Projection": {"ProjectionType": "ALL"},
                                 "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"}, {"AttributeName": "createdAt", "KeyType": "RANGE"}]}],
    )
    ec2 = boto3.client("ec2")
    template = ec2.create_launch_template(LaunchTemplateName="w", LaunchTemplateData={"ImageId": "ami-12c6146b"})["LaunchTemplate"]
    autoscaling = boto3.client("autoscaling")
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="workers", MinSize=0, MaxSize=10, DesiredCapacity=instances,
        LaunchTemplate={"LaunchTemplateId": template["LaunchTemplateId"]}, VPCZoneIdentifier=ec2.describe_subnets()["Subnets"][0]["SubnetId"],
        NewInstancesProtectedFromScaleIn=True,
    )
    return table, autoscaling


def test_a_job_still_marked_busy_after_its_machine_died_does_not_break_scaling():
    with mock_aws():
        table, autoscaling = make_world(instances=0)
        table.put_item(Item={"processId": "u-dead", "status": "IN_PROGRESS", "createdAt": "1", "workerId": "i-gone", "audioSeconds": Decimal(600)})
        table.put_item(Item={"processId": "u-next", "status": "QUEUED", "createdAt": "2", "audioSeconds": Decimal(600)})

        state = read_fleet_state(table, "ByStatus", autoscaling, "workers", 10)
        decision = scale_fleet(state, autoscaling, "workers", "seed")

        assert (state.busy_workers, state.in_service, state.queued_files) == (0, 0, 1)
        assert decision.desired == 1
        assert autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["workers"])["AutoScalingGroups"][0]["DesiredCapacity"] == 1


def test_claimed_jobs_count_as_busy_machines_and_queued_audio_is_summed():
    with mock_aws():
        table, autoscaling = make_world(instances=2)
        table.put_item(Item={"processId": "u-a", "status": "QUEUED", "createdAt": "1", "workerId": "i-1", "audioSeconds": Decimal(60)})
        for i, seconds in enumerate((1200, 700)):
            table.put_item(Item={"processId": f"u-q{i}", "status": "QUEUED", "createdAt": f"2{i}", "audioSeconds": Decimal(seconds)})

        state = read_fleet_state(table, "ByStatus", autoscaling, "workers", 10)

        assert (state.busy_workers, state.queued_files, state.queued_audio_seconds, state.queued_longest_seconds) == (1, 2, 1900, 1200)
        assert scale_fleet(state, autoscaling, "workers", "seed").desired == 3  # min(ceil(1900/900), 2) + 1 busy
