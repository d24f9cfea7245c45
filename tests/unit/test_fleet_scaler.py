"""ScaleFleet's reading of the world: the jobs table (as template.yaml defines it) and the Auto Scaling group."""
from decimal import Decimal
from types import SimpleNamespace

import boto3
import pytest
from moto import mock_aws

from scribefleet.contract import ACTIVE_STATUS_ATTRIBUTE, STATUS_INDEX
from botocore.exceptions import ClientError

from scribefleet.fleet_scaler import count_lifecycle_states, keep_zone_rebalancing_suspended, read_fleet_state, scale_fleet
from tests.support.jobs_table import create_jobs_table


def active(item: dict) -> dict:
    """A job item as the state machine writes a waiting or running one (it carries the sparse index key)."""
    return {**item, ACTIVE_STATUS_ATTRIBUTE: item["status"]}


def make_world(instances: int):
    table = create_jobs_table(boto3.resource("dynamodb"))
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
        table.put_item(Item=active({"processId": "u-dead", "status": "IN_PROGRESS", "createdAt": "1", "workerId": "i-gone", "audioSeconds": Decimal(600)}))
        table.put_item(Item=active({"processId": "u-next", "status": "QUEUED", "createdAt": "2", "audioSeconds": Decimal(600)}))

        state = read_fleet_state(table, STATUS_INDEX, autoscaling, "workers", 10)
        decision = scale_fleet(state, autoscaling, "workers", "seed")

        assert (state.busy_workers, state.in_service, state.queued_files) == (0, 0, 1)
        assert decision.desired == 1
        assert autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=["workers"])["AutoScalingGroups"][0]["DesiredCapacity"] == 1


def test_the_job_just_queued_counts_even_before_the_status_index_shows_it():
    """GSI reads are eventually consistent (DynamoDB Developer Guide, "DynamoDB read consistency"): ScaleFleet runs right
    after RecordJob, so the index may not list the job yet. moto's index is never late, so the late index is an item
    written without its index key; the state machine names the item it has just queued."""
    with mock_aws():
        table, autoscaling = make_world(instances=0)
        table.put_item(Item={"processId": "u-late", "status": "QUEUED", "createdAt": "1", "audioSeconds": Decimal(300)})
        table.put_item(Item=active({"processId": "u-listed", "status": "QUEUED", "createdAt": "2", "audioSeconds": Decimal(60)}))

        unseen = read_fleet_state(table, STATUS_INDEX, autoscaling, "workers", 10)
        late = read_fleet_state(table, STATUS_INDEX, autoscaling, "workers", 10, {"processId": "u-late", "audioSeconds": 300})
        listed = read_fleet_state(table, STATUS_INDEX, autoscaling, "workers", 10, {"processId": "u-listed", "audioSeconds": 60})

        assert (unseen.queued_files, unseen.queued_audio_seconds) == (1, 60)  # what the scaler saw before
        assert (late.queued_files, late.queued_audio_seconds) == (2, 360)
        assert (listed.queued_files, listed.queued_audio_seconds) == (1, 60)  # already listed: counted once


def test_claimed_jobs_count_as_busy_machines_and_queued_audio_is_summed():
    with mock_aws():
        table, autoscaling = make_world(instances=2)
        table.put_item(Item=active({"processId": "u-a", "status": "QUEUED", "createdAt": "1", "workerId": "i-1", "audioSeconds": Decimal(60)}))
        for i, seconds in enumerate((1200, 700)):
            table.put_item(Item=active({"processId": f"u-q{i}", "status": "QUEUED", "createdAt": f"2{i}", "audioSeconds": Decimal(seconds)}))

        state = read_fleet_state(table, STATUS_INDEX, autoscaling, "workers", 10)

        assert (state.busy_workers, state.queued_files, state.queued_audio_seconds, state.queued_longest_seconds) == (1, 2, 1900, 1200)
        assert scale_fleet(state, autoscaling, "workers", "seed").desired == 3  # min(ceil(1900/900), 2) + 1 busy


def test_finished_jobs_are_not_in_the_status_index_so_the_read_stays_the_size_of_the_queue():
    """MarkCompleted/MarkFailed/ReconcileJob remove activeStatus: a year of finished jobs costs the scaler nothing."""
    with mock_aws():
        table, autoscaling = make_world(instances=1)
        for n in range(200):
            status = "COMPLETED" if n % 2 else "FAILED"
            table.put_item(Item={"processId": f"u-old{n}", "userId": "u", "status": status, "createdAt": f"0{n:04d}", "audioSeconds": Decimal(60)})
        table.put_item(Item=active({"processId": "u-waiting", "userId": "u", "status": "QUEUED", "createdAt": "9", "audioSeconds": Decimal(90)}))
        read = []
        query = table.query
        counting = SimpleNamespace(query=lambda **kw: read.append(page := query(**kw)) or page)

        state = read_fleet_state(counting, STATUS_INDEX, autoscaling, "workers", 10)

        assert (state.queued_files, state.queued_audio_seconds) == (1, 90)
        assert sum(page["Count"] for page in read) == 1  # one item read for the whole history


LIFECYCLE_TABLE = [
    # (lifecycle states of the group's instances, (in service, booting, warm))
    (["InService", "InService"], (2, 0, 0)),
    (["Pending"], (0, 1, 0)),
    (["Pending:Wait", "Pending:Proceed", "InService"], (1, 2, 0)),  # a launch lifecycle hook (warm pool)
    (["Warmed:Stopped", "Warmed:Running", "Warmed:Hibernated", "Warmed:Pending", "Warmed:Pending:Wait"], (0, 0, 5)),
    (["Warmed:Terminating", "Warmed:Terminating:Wait", "Warmed:Terminated"], (0, 0, 0)),
    (["Terminating", "Terminating:Wait", "Terminated", "Standby", "Detaching"], (0, 0, 0)),
]


@pytest.mark.parametrize(("states", "counts"), LIFECYCLE_TABLE)
def test_lifecycle_states_are_counted_by_prefix(states, counts):
    assert count_lifecycle_states(states) == counts


class _Group:
    """describe_auto_scaling_groups answering a group in the given lifecycle states (moto's instances are always
    InService, so hook states are fed here)."""

    def __init__(self, states: list[str], desired: int):
        self.states, self.desired = states, desired

    def describe_auto_scaling_groups(self, **_):
        instances = [{"InstanceId": f"i-{n}", "LifecycleState": s} for n, s in enumerate(self.states)]
        return {"AutoScalingGroups": [{"Instances": instances, "DesiredCapacity": self.desired, "MaxSize": 10}]}


def test_instances_waiting_on_the_launch_hook_count_as_booting_and_no_more_are_launched_for_them():
    with mock_aws():
        table, _ = make_world(instances=0)
        for n in range(2):
            table.put_item(Item=active({"processId": f"u-q{n}", "status": "QUEUED", "createdAt": f"{n}", "audioSeconds": Decimal(600)}))
        group = _Group(["Pending:Wait", "Pending:Proceed", "Warmed:Stopped"], desired=2)

        state = read_fleet_state(table, STATUS_INDEX, group, "workers", 10)

        assert (state.in_service, state.booting, state.warm_available) == (0, 2, 1)
        assert scale_fleet(state, group, "workers", "seed").desired == 2  # the two booting machines are the two jobs'


def test_warm_pool_instances_are_read_from_describe_warm_pool_across_pages():
    """AWS lists warm-pool instances only through DescribeWarmPool, in pages; moto's DescribeWarmPool returns no
    instances, so a real client answers from botocore's Stubber (which checks the calls against the API model)."""
    import boto3
    from botocore.stub import Stubber

    def instance(n: int, state: str) -> dict:
        return {"InstanceId": f"i-{n}", "InstanceType": "g4dn.xlarge", "AvailabilityZone": "us-east-1a", "LifecycleState": state,
                "HealthStatus": "Healthy", "ProtectedFromScaleIn": True}

    autoscaling = boto3.client("autoscaling", region_name="us-east-1")
    group = {"AutoScalingGroupName": "workers", "MinSize": 0, "MaxSize": 10, "DesiredCapacity": 1, "DefaultCooldown": 300,
             "AvailabilityZones": ["us-east-1a"], "HealthCheckType": "EC2", "CreatedTime": "2026-12-02T00:00:00Z",
             "Instances": [instance(0, "InService")], "WarmPoolConfiguration": {"MinSize": 3, "PoolState": "Stopped"}}
    with Stubber(autoscaling) as stub, mock_aws():
        stub.add_response("describe_auto_scaling_groups", {"AutoScalingGroups": [group]}, {"AutoScalingGroupNames": ["workers"]})
        stub.add_response("describe_warm_pool", {"Instances": [instance(1, "Warmed:Stopped")], "NextToken": "p2"},
                          {"AutoScalingGroupName": "workers"})
        stub.add_response("describe_warm_pool", {"Instances": [instance(2, "Warmed:Running")], "NextToken": "p3"},
                          {"AutoScalingGroupName": "workers", "NextToken": "p2"})
        stub.add_response("describe_warm_pool", {"Instances": [instance(3, "Warmed:Terminating")]},
                          {"AutoScalingGroupName": "workers", "NextToken": "p3"})
        table, _ = make_world(instances=0)

        state = read_fleet_state(table, STATUS_INDEX, autoscaling, "workers", 10)

        assert (state.in_service, state.booting, state.warm_available) == (1, 0, 2)
        stub.assert_no_pending_responses()


def test_zone_rebalancing_is_suspended_once_and_a_refusal_is_reported_not_raised():
    """AZRebalance would launch a machine nobody asked for and terminate another, perhaps mid-job, after each
    self-retirement unbalances the zones; CloudFormation cannot suspend it, so the scaler does."""
    with mock_aws():
        _, autoscaling = make_world(instances=0)
        suspended = lambda: [p["ProcessName"] for p in autoscaling.describe_auto_scaling_groups(  # noqa: E731
            AutoScalingGroupNames=["workers"])["AutoScalingGroups"][0].get("SuspendedProcesses", [])]
        assert suspended() == []
        assert keep_zone_rebalancing_suspended(autoscaling, "workers") == "suspended now"
        assert suspended() == ["AZRebalance"]
        assert keep_zone_rebalancing_suspended(autoscaling, "workers") == "suspended"

        class Denied:
            def describe_auto_scaling_groups(self, **kwargs):
                return {"AutoScalingGroups": [{"SuspendedProcesses": []}]}

            def suspend_processes(self, **kwargs):
                raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not authorized"}}, "SuspendProcesses")

        assert keep_zone_rebalancing_suspended(Denied(), "workers").startswith("not suspended: ")
