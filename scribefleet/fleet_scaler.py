"""scale_fleet: read the queue from the jobs table and the fleet from the ASG, let the policy decide, apply it."""
from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal

from boto3.dynamodb.conditions import Key

from scribefleet.contract import JobStatus
from scribefleet.scaling import Decision, FleetState, decide


def _jobs_with_status(table, index: str, status: JobStatus) -> list[dict]:
    items, kwargs = [], {"IndexName": index, "KeyConditionExpression": Key("status").eq(str(status))}
    while True:
        page = table.query(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def read_fleet_state(table, index: str, autoscaling, asg_name: str, max_size: int) -> FleetState:
    """Queued = QUEUED and not yet claimed; busy = claimed or IN_PROGRESS (a claimed job is a busy worker)."""
    queued = _jobs_with_status(table, index, JobStatus.QUEUED)
    in_progress = _jobs_with_status(table, index, JobStatus.IN_PROGRESS)
    waiting = [job for job in queued if not job.get("workerId")]
    busy = len(in_progress) + len(queued) - len(waiting)
    group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[asg_name])["AutoScalingGroups"][0]
    in_service = sum(1 for i in group["Instances"] if i["LifecycleState"] in ("InService", "Pending"))
    remaining = sum(
        float(job.get("audioSeconds", 0)) * (1 - float(job.get("progress", 0)) / 100) for job in in_progress
    )
    return FleetState(
        queued_files=len(waiting),
        queued_audio_seconds=float(sum(Decimal(str(job.get("audioSeconds", 0))) for job in waiting)),
        busy_workers=busy,
        in_service=in_service,
        desired=int(group["DesiredCapacity"]),
        max_size=min(max_size, int(group["MaxSize"])),
        booting=max(0, int(group["DesiredCapacity"]) - in_service),
        busy_remaining_seconds=remaining,
    )


def scale_fleet(state: FleetState, autoscaling, asg_name: str, policy: str) -> Decision:
    """Apply the decision; the scaler only ever raises capacity (idle workers retire themselves)."""
    decision = decide(state, policy)
    if decision.desired > state.desired:
        autoscaling.set_desired_capacity(AutoScalingGroupName=asg_name, DesiredCapacity=decision.desired, HonorCooldown=False)
    return decision


def decision_report(state: FleetState, decision: Decision, policy: str) -> dict:
    return {"policy": policy, "desired": decision.desired, "previousDesired": state.desired, "reason": decision.reason, "state": asdict(state)}
