"""ReconcileJob: an execution that was stopped, timed out or failed outside its Catch paths → its job FAILED, announced.
Its status change event is best effort, so an hourly scheduled event also sweeps for jobs whose execution has ended."""
import os
from datetime import datetime, timezone

import boto3
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source

from scribefleet.observability import lambda_tools, tag_process
from scribefleet.reconcile import process_id_of, reconcile, sweep

logger, metrics, tracer = lambda_tools("reconcile_job")
dynamodb = boto3.resource("dynamodb")
events = boto3.client("events")
sfn = boto3.client("stepfunctions")


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context):
    table = dynamodb.Table(os.environ["JOBS_TABLE"])
    if event.detail_type == "Scheduled Event":
        results = sweep(table, sfn, events, datetime.now(timezone.utc))
        for result in results:
            tag_process(logger, result.get("processId") or "-")
            logger.warning("job of an ended execution whose status change event never came: marked FAILED"
                           if result["closed"] else "nothing to reconcile", extra={"reconciled": result})
        tag_process(logger, "-")
        closed = sum(r["closed"] for r in results)
        metrics.add_metric(name="JobsReconciled", unit="Count", value=closed)
        return {"swept": len(results), "closed": closed}
    tag_process(logger, process_id_of(event.detail))
    result = reconcile(table, events, event.detail)
    if result["closed"]:
        metrics.add_metric(name="JobsReconciled", unit="Count", value=1)
    logger.info("job marked FAILED" if result["closed"] else "nothing to reconcile",
                extra={"executionStatus": event.detail.get("status"), "reconciled": result})
    return result
