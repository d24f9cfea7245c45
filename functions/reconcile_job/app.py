"""ReconcileJob: an execution that was stopped, timed out or failed outside its Catch paths → its job FAILED, announced."""
import os

import boto3
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source

from scribefleet.observability import lambda_tools, tag_process
from scribefleet.reconcile import process_id_of, reconcile

logger, metrics, tracer = lambda_tools("reconcile_job")
dynamodb = boto3.resource("dynamodb")
events = boto3.client("events")


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context):
    tag_process(logger, process_id_of(event.detail))
    result = reconcile(dynamodb.Table(os.environ["JOBS_TABLE"]), events, event.detail)
    if result["closed"]:
        metrics.add_metric(name="JobsReconciled", unit="Count", value=1)
    logger.info("job marked FAILED" if result["closed"] else "nothing to reconcile",
                extra={"executionStatus": event.detail.get("status"), "reconciled": result})
    return result
