"""ScaleFleet: set the GPU Auto Scaling group's desired capacity for the queue as it is now."""
import os
from dataclasses import asdict

import boto3

from scribefleet.fleet_scaler import (decision_report, keep_zone_rebalancing_suspended, plan_file_split, policy_params,
                                      read_fleet_state, scale_fleet)
from scribefleet.observability import PROCESS_ID_KEY, lambda_tools

logger, metrics, tracer = lambda_tools("scale_fleet")
dynamodb = boto3.resource("dynamodb")
autoscaling = boto3.client("autoscaling")


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(correlation_id_path="processId")
def handler(event: dict, context):
    logger.append_keys(**{PROCESS_ID_KEY: event.get("processId", "-")})
    asg, policy = os.environ["ASG_NAME"], os.environ["SCALER_POLICY"]  # the template's ScalerPolicy chooses
    table = dynamodb.Table(os.environ["JOBS_TABLE"])
    just_queued = {"processId": event["workItem"], "audioSeconds": event.get("audioSeconds", 0)} if event.get("workItem") else None
    state = read_fleet_state(table, os.environ.get("STATUS_INDEX", "ByStatus"), autoscaling, asg, int(os.environ["MAX_SIZE"]),
                             just_queued)
    if event.get("trigger") == "plan-split":  # PlanSplit: a worker has claimed a whole file
        plan = plan_file_split(state, float(event["audioSeconds"]), policy_params())
        logger.info("split planned" if plan["chunks"] > 1 else "not split", extra={**plan, "state": asdict(state)})
        return plan
    decision = scale_fleet(state, autoscaling, asg, policy, policy_params(), queued=event)
    metrics.add_metric(name="QueuedFiles", unit="Count", value=state.queued_files)
    metrics.add_metric(name="QueuedAudioSeconds", unit="Seconds", value=state.queued_audio_seconds)
    metrics.add_metric(name="DesiredWorkers", unit="Count", value=decision.desired)
    report = {**decision_report(state, decision, policy), "trigger": event.get("trigger", "")}
    scaled = decision.desired > state.desired
    if scaled:  # machines are coming whose retirements could unbalance the zones
        report["zoneRebalancing"] = keep_zone_rebalancing_suspended(autoscaling, asg)
    logger.info("fleet scaled" if scaled else "fleet unchanged", extra=report)
    return report
