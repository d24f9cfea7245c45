"""reconcile_job: an execution that ended without recording its job's end leaves the job FAILED with a reason.

The state machine records every failure it can catch (MarkFailed). What no Catch sees: an operator's StopExecution,
the execution's own time limit, and States.Runtime errors (AWS never lets Catch handle those). Step Functions reports
each on EventBridge ("Execution Status Change"); this turns such an event into a FAILED job, so no job stays QUEUED
or IN_PROGRESS forever. The update is conditional: a job that already ended, or that belongs to a newer execution
(a re-upload), is left alone, so the event of an execution that failed through MarkFailed changes nothing.
The same update records the execution as the one whose end is announced (JobField.ANNOUNCED_BY), and only a close
that won it puts the job state change event (scribefleet.job_events): a late or repeated status change event
announces nothing a second time.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

from botocore.exceptions import ClientError

from scribefleet.contract import ACTIVE_STATUS_ATTRIBUTE, STATUS_INDEX, ErrorCode, JobField, JobStatus, Stage, work_item_ids
from scribefleet.job_events import announce, detail_from_item
from scribefleet.job_queries import jobs_with_status
from scribefleet.timestamps import format_timestamp, parse_timestamp

ENDED_WITHOUT_RECORD = ("ABORTED", "TIMED_OUT", "FAILED")


def failure_of(detail: dict) -> tuple[ErrorCode, str]:
    """The job's error code and a reason a user can read, from the status change event's detail."""
    status = detail["status"]
    if status == "ABORTED":
        return ErrorCode.EXECUTION_ABORTED, "The transcription workflow was stopped before the job finished."
    if status == "TIMED_OUT":
        return ErrorCode.EXECUTION_TIMED_OUT, "The transcription workflow ran past its time limit before the job finished."
    error, cause = detail.get("error") or "unknown error", str(detail.get("cause") or "no cause given")[:500]
    return ErrorCode.EXECUTION_FAILED, f"The transcription workflow failed unexpectedly ({error}: {cause})."


def process_id_of(detail: dict) -> str:
    """The execution input carries the job's ids (scribefleet.ingest.execution_input)."""
    return _job_of(detail).get("processId") or "-"


def _job_of(detail: dict) -> dict:
    try:
        job = json.loads(detail.get("input") or "{}")
    except ValueError:
        return {}
    return job if isinstance(job, dict) else {}


def announcer(execution_arn: str) -> str:
    """ReconcileJob's mark in JobField.ANNOUNCED_BY: not the execution's own ARN, so that an execution still running
    after its job was closed (AWS ends it first; moto may not) finds the job announced by another writer."""
    return f"ReconcileJob:{execution_arn}"


def close_job(table, detail: dict) -> dict:
    """Mark the execution's job FAILED unless it already ended or belongs to another execution. Returns what it did;
    a close returns the job item as it left it under "job"."""
    if detail.get("status") not in ENDED_WITHOUT_RECORD:
        return {"closed": False, "reason": f"execution {detail.get('status')}: nothing to reconcile"}
    job = _job_of(detail)
    process_id = job.get("processId")
    if not process_id:
        return {"closed": False, "reason": "the execution input has no process id"}
    code, message = failure_of(detail)
    stopped = detail.get("stopDate")  # epoch milliseconds
    now = format_timestamp(datetime.fromtimestamp(stopped / 1000, timezone.utc) if stopped else None)
    user = job.get("userId")
    # userId keys the ByUser index, where an empty string is rejected: an input without one leaves it unset.
    set_user = "userId = if_not_exists(userId, :user), " if user else ""
    try:
        closed = table.update_item(
            Key={"processId": process_id},
            # Upsert, as MarkFailed does: an execution stopped before RecordJob still leaves a FAILED job to find.
            UpdateExpression=(
                "SET #status = :failed, stage = :stage, #error = :error, executionArn = :execution, "
                f"{set_user}transcriptId = if_not_exists(transcriptId, :transcript), "
                "fileName = if_not_exists(fileName, :file), inputBucket = if_not_exists(inputBucket, :bucket), "
                "inputKey = if_not_exists(inputKey, :key), createdAt = if_not_exists(createdAt, :now), finishedAt = :now, "
                f"{JobField.ANNOUNCED_BY} = :announcer "
                # revoked: a worker still on it can commit nothing; and the job leaves the ByStatus index
                f"REMOVE workToken, workTokenFor, {ACTIVE_STATUS_ATTRIBUTE}"
            ),
            ConditionExpression=(
                "attribute_not_exists(processId) OR "
                f"(executionArn = :execution AND #status IN (:queued, :running) AND attribute_not_exists({JobField.ANNOUNCED_BY}))"
            ),
            ReturnValues="ALL_NEW",
            ExpressionAttributeNames={"#status": "status", "#error": "error"},
            ExpressionAttributeValues={
                ":failed": JobStatus.FAILED.value, ":stage": Stage.FAILED.value,
                ":error": {"code": code.value, "message": message},
                ":execution": detail["executionArn"], ":announcer": announcer(detail["executionArn"]),
                **({":user": user} if user else {}), ":transcript": job.get("transcriptId", ""), ":file": job.get("fileName", ""),
                ":bucket": job.get("input", {}).get("bucket", ""), ":key": job.get("input", {}).get("key", ""),
                ":now": now, ":queued": JobStatus.QUEUED.value, ":running": JobStatus.IN_PROGRESS.value,
            },
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return {"closed": False, "processId": process_id, "reason": "the job already ended or belongs to another execution"}
    return {"closed": True, "processId": process_id, "code": code.value, "message": message, "job": closed["Attributes"]}


def close_work_items(table, process_id: str, execution_arn: str) -> int:
    """A split job's chunk and merge items that this execution left open leave the status index (or the scaler would
    keep starting machines for them). Conditional on the execution and on being open: idempotent. Returns how many."""
    job = table.get_item(Key={"processId": process_id}, ConsistentRead=True).get("Item", {})
    chunks = int(job.get(JobField.SPLIT_CHUNKS, 0) or 0)
    closed = 0
    for key in work_item_ids(process_id, chunks) if chunks else []:
        try:
            table.update_item(
                Key={"processId": key},
                UpdateExpression=f"SET #status = :failed, stage = :stage REMOVE workToken, workTokenFor, {ACTIVE_STATUS_ATTRIBUTE}",
                ConditionExpression=f"executionArn = :execution AND attribute_exists({ACTIVE_STATUS_ATTRIBUTE})",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":failed": JobStatus.FAILED.value, ":stage": Stage.FAILED.value, ":execution": execution_arn},
            )
            closed += 1
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
    return closed


def reconcile(table, events, detail: dict) -> dict:
    """close_job, then announce the job's end if this close is what ended it; a split job's open work items are
    closed too. Returns what it did (and the event id)."""
    result = close_job(table, detail)
    if result.get("processId") and detail.get("status") in ENDED_WITHOUT_RECORD:
        closed_items = close_work_items(table, result["processId"], detail["executionArn"])
        if closed_items:
            result["workItemsClosed"] = closed_items
    if result["closed"]:
        result["eventId"] = announce(events, detail_from_item(result.pop("job")))
    return result


SWEEP_MIN_AGE_SECONDS = 900  # a younger job's execution is surely running, or its status change event is on its way


def sweep(table, sfn, events, now: datetime, index: str = STATUS_INDEX, min_age: float = SWEEP_MIN_AGE_SECONDS) -> list[dict]:
    """Reconcile every waiting or running job whose execution has ended, as its status change event would have.

    Step Functions sends "Execution Status Change" events with "Delivery type: Best effort", which "means that the
    service attempts to send all events to EventBridge, but in some rare cases an event might not be delivered"
    (EventBridge reference: AWS Step Functions events; user guide: Event delivery from AWS services). A lost one
    would leave its job QUEUED or IN_PROGRESS for ever, and ScaleFleet starting machines for it. ReconcileJob runs this
    on a schedule; jobs younger than `min_age` are skipped (one DescribeExecution per execution is the cost). A split
    job is in the index only through its work items (ReleaseClaim takes the job itself out): reconciling their
    execution, whose input names the job, closes the job and them, once per execution. Returns what reconcile did for
    each ended execution."""
    results, asked = [], set()
    for status in (JobStatus.QUEUED, JobStatus.IN_PROGRESS):
        for item in jobs_with_status(table, status, index):
            created = parse_timestamp(item.get(JobField.CREATED_AT))
            arn = item.get(JobField.EXECUTION_ARN)
            if not arn or arn in asked or (created and (now - created).total_seconds() < min_age):
                continue
            asked.add(arn)
            execution = sfn.describe_execution(executionArn=arn)
            if execution["status"] not in ENDED_WITHOUT_RECORD:
                continue
            stopped = execution.get("stopDate")
            results.append(reconcile(table, events, {
                "executionArn": arn, "status": execution["status"], "input": execution.get("input"),
                "stopDate": int(stopped.timestamp() * 1000) if stopped else None,
                "error": execution.get("error"), "cause": execution.get("cause"),
            }))
    return results
