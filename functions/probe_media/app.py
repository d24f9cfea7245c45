"""ProbeMedia: validate the upload (key, ids, size, container, options) and measure its duration."""
import boto3

from scribefleet.observability import PROCESS_ID_KEY, lambda_tools
from scribefleet.probe import Limits, probe_media

logger, metrics, tracer = lambda_tools("probe_media")
s3 = boto3.client("s3")


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(correlation_id_path="processId")
def handler(event: dict, context):
    logger.append_keys(**{PROCESS_ID_KEY: event["processId"]})
    result = probe_media(event, s3, Limits.from_env())
    if result["accepted"]:
        metrics.add_metric(name="AcceptedAudioSeconds", unit="Seconds", value=result["media"]["audioSeconds"])
        logger.info("upload accepted", extra={"media": result["media"]})
    else:
        metrics.add_metric(name="RejectedUploads", unit="Count", value=1)
        logger.warning("upload rejected", extra={"error": result["error"]})
    return result
