"""StartJob: S3 "Object Created" (via EventBridge) → one Step Functions execution named after the process id."""
import os

import boto3
from aws_lambda_powertools.utilities.data_classes import S3EventBridgeNotificationEvent, event_source

from scribefleet.ingest import UploadedObject, identify, start_job
from scribefleet.observability import lambda_tools, tag_process

logger, metrics, tracer = lambda_tools("start_job")
sfn = boto3.client("stepfunctions")


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context
@event_source(data_class=S3EventBridgeNotificationEvent)
def handler(event: S3EventBridgeNotificationEvent, context):
    upload = UploadedObject.from_eventbridge(event.raw_event["detail"])
    tag_process(logger, identify(upload.key)["processId"])
    result = start_job(upload, sfn, os.environ["STATE_MACHINE_ARN"])
    metrics.add_metric(name="UploadsReceived" if result["started"] else "DuplicateEvents", unit="Count", value=1)
    logger.info("execution started" if result["started"] else "duplicate event ignored", extra=result)
    return result
