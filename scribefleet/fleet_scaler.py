"""scale_fleet: read the queue from the jobs table and the fleet from the ASG, let the policy decide, apply it."""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict

from botocore.exceptions import BotoCoreError, ClientError

from scribefleet.contract import JobField, JobStatus, WorkKind
from scribefleet.job_queries import jobs_with_status
from scribefleet.scaling import Decision, FleetState, PolicyParams, decide, queue_metrics
from scribefleet.splitting import SplitPlan, as_chunks, at_claim, plan_report, plan_split, split_params



def count_lifecycle_states(states: list[str]) -> tuple[int, int, int]:
    """(in service, booting, warm) from the Auto Scaling lifecycle states of a group's instances.

    With a launch lifecycle hook (the warm pool's) a launching instance sits in Pending:Wait, then Pending:Proceed:
    it is booting in every Pending* state. Warm-pool instances are Warmed:<state>; those being terminated
    (Warmed:Terminating*, Warmed:Terminated) will not come into service and count as nothing.
    https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_Instance.html (LifecycleState)"""
    in_service = sum(1 for s in states if s == "InService")
    booting = sum(1 for s in states if s.startswith("Pending"))
    warm = sum(1 for s in states if s.startswith("Warmed:") and not s.startswith("Warmed:Terminat"))
    return in_service, booting, warm


def warm_pool_states(autoscaling, asg_name: str) -> list[str]:
    """Lifecycle states of the warm pool's instances. AWS lists them only through DescribeWarmPool ("the instances
    that are currently in the warm pool"), not among the group's Instances.
    https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DescribeWarmPool.html"""
    pages = autoscaling.get_paginator("describe_warm_pool").paginate(AutoScalingGroupName=asg_name)
    return [i["LifecycleState"] for page in pages for i in page.get("Instances", [])]


def read_fleet_state(table, index: str, autoscaling, asg_name: str, max_size: int,
                     just_queued: Mapping | None = None) -> FleetState:
    """Queue from the ByStatus index (a QUEUED job with a workerId is claimed: a busy worker), fleet from the ASG.
    Only InService instances count as ready; every Pending* one is still booting (count_lifecycle_states).

    `just_queued`: the work item the caller has just written as QUEUED ({processId, audioSeconds}), counted as waiting
    if the index does not show it yet. Reads of a global secondary index are eventually consistent ("the responses
    may not reflect the results of a recently completed write operation", DynamoDB Developer Guide, "DynamoDB read
    consistency"): a lone upload the scaler missed would wait, with no machine started, until its claim timeout."""
    queued, in_progress = jobs_with_status(table, JobStatus.QUEUED, index), jobs_with_status(table, JobStatus.IN_PROGRESS, index)
    seen = {item.get(JobField.PROCESS_ID) for item in (*queued, *in_progress)}
    if just_queued and just_queued.get(JobField.PROCESS_ID) and just_queued[JobField.PROCESS_ID] not in seen:
        queued.append({JobField.PROCESS_ID: just_queued[JobField.PROCESS_ID], "audioSeconds": just_queued.get("audioSeconds", 0)})
    queue = queue_metrics(queued, in_progress)
    group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[asg_name])["AutoScalingGroups"][0]
    states = [i["LifecycleState"] for i in group["Instances"]]
    if group.get("WarmPoolConfiguration"):
        states += warm_pool_states(autoscaling, asg_name)
    in_service, booting, warm = count_lifecycle_states(states)
    return FleetState(
        queued_files=queue.queued_files,
        queued_audio_seconds=queue.queued_audio_seconds,
        # A job can still read as claimed after its machine is gone (until its heartbeat timeout requeues it):
        # the ASG, not the table, says how many machines are busy.
        busy_workers=min(queue.busy_workers, in_service),
        in_service=in_service,
        desired=int(group["DesiredCapacity"]),
        max_size=min(max_size, int(group["MaxSize"])),
        booting=booting,
        warm_available=warm,
        busy_remaining_seconds=queue.busy_remaining_seconds,
        queued_longest_seconds=queue.queued_longest_seconds,
    )


ZONE_REBALANCING = "AZRebalance"


def keep_zone_rebalancing_suspended(autoscaling, asg_name: str) -> str:
    """Suspend the group's Availability Zone rebalancing unless it already is; returns what it found or did.

    Workers leave one at a time by TerminateInstanceInAutoScalingGroup with a decrement, and "your Auto Scaling group
    can become unbalanced between Availability Zones. Amazon EC2 Auto Scaling tries to rebalance the group, and
    rebalancing might terminate instances in other zones" (API reference, TerminateInstanceInAutoScalingGroup): a
    machine nobody asked for is launched and another, perhaps mid-job, is terminated. CloudFormation has no property
    for suspended processes (aws-cloudformation/cloudformation-coverage-roadmap#2429), so the scaler suspends it when
    it raises capacity. A failure is reported, never raised: scaling out matters more."""
    group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[asg_name])["AutoScalingGroups"][0]
    if any(p["ProcessName"] == ZONE_REBALANCING for p in group.get("SuspendedProcesses", [])):
        return "suspended"
    try:
        autoscaling.suspend_processes(AutoScalingGroupName=asg_name, ScalingProcesses=[ZONE_REBALANCING])
    except (BotoCoreError, ClientError) as error:
        return f"not suspended: {error}"
    return "suspended now"


def policy_params(env=os.environ) -> PolicyParams:
    """Measured speed and boot time for the planned policy (template parameters → Lambda environment)."""
    defaults = PolicyParams()
    return PolicyParams(
        rtf=float(env.get("SCALER_RTF") or defaults.rtf),
        boot_seconds=float(env.get("SCALER_BOOT_SECONDS") or defaults.boot_seconds),
    )


def scale_fleet(state: FleetState, autoscaling, asg_name: str, policy: str, params: PolicyParams | None = None,
                queued: dict | None = None, env=os.environ) -> Decision:
    """Apply the decision; the scaler only ever raises capacity (idle workers retire themselves). `queued`: the work
    just queued (the state machine's payload); a whole file that the split rule would split now is counted as its
    chunks, so their machines start booting before a worker claims it (PlanSplit decides then, for good)."""
    splitting = split_params(env)
    if splitting and queued and queued.get("kind") == WorkKind.WHOLE and queued.get("audioSeconds"):
        audio = float(queued["audioSeconds"])
        state = as_chunks(state, audio, plan_split(audio, state, params, splitting))
    decision = decide(state, policy, params)
    if decision.desired > state.desired:
        autoscaling.set_desired_capacity(AutoScalingGroupName=asg_name, DesiredCapacity=decision.desired, HonorCooldown=False)
    return decision


def plan_file_split(state: FleetState, audio_seconds: float, params: PolicyParams | None = None, env=os.environ) -> dict:
    """PlanSplit's answer for a file a worker has just claimed (scribefleet.splitting)."""
    splitting = split_params(env)
    if splitting is None:
        return plan_report(SplitPlan(1, "splitting is off (SplitMinChunkSeconds 0)"), audio_seconds)
    return plan_report(plan_split(audio_seconds, at_claim(state, audio_seconds), params, splitting), audio_seconds)


def decision_report(state: FleetState, decision: Decision, policy: str) -> dict:
    return {"policy": policy, "desired": decision.desired, "previousDesired": state.desired, "reason": decision.reason, "state": asdict(state)}
