"""The job state change event: the one notice, on the account's default EventBridge bus, that a job ended.

The state machine puts it itself (AnnounceCompleted / AnnounceFailed, an `events:putEvents` task) after the update
that ended the job; ReconcileJob puts it through `announce` after closing a job no Catch saw end. Either way the writer
is the one whose conditional update set the job's `announcedBy` (scribefleet.contract.JobField.ANNOUNCED_BY), so a
job announces its end once. The detail's shape is scribefleet/schemas/job_state_change.schema.json.
"""
from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from scribefleet.contract import EVENT_BUS, EVENT_SOURCE, JOB_STATE_CHANGE, JobField, JobStatus


class AnnouncementFailed(RuntimeError):
    """EventBridge did not accept the event (its entry came back with an error code)."""


def detail_from_item(item: dict[str, Any]) -> dict[str, Any]:
    """The event detail for an ended job, from its job item (as DynamoDB returns it after the update that ended it)."""
    status = item[JobField.STATUS]
    if status not in (JobStatus.COMPLETED, JobStatus.FAILED):
        raise ValueError(f"job {item.get(JobField.PROCESS_ID)} has not ended (status {status})")
    seconds = item.get(JobField.AUDIO_SECONDS)
    detail = {
        "processId": item[JobField.PROCESS_ID],
        "userId": item.get(JobField.USER_ID, ""),
        "transcriptId": item.get(JobField.TRANSCRIPT_ID, ""),
        "status": status,
        "fileName": item.get(JobField.FILE_NAME, ""),
        "audioSeconds": float(seconds) if isinstance(seconds, (int, float, Decimal)) else None,
        "createdAt": item[JobField.CREATED_AT],
        "finishedAt": item[JobField.FINISHED_AT],
        "executionArn": item[JobField.EXECUTION_ARN],
    }
    if status == JobStatus.COMPLETED:
        detail.update(outputs=dict(item[JobField.OUTPUTS]), claimedAt=item[JobField.CLAIMED_AT])
    else:
        error = item[JobField.ERROR]
        detail["error"] = {"code": error["code"], "message": error["message"]}
    return detail


def announce(events, detail: dict[str, Any]) -> str:
    """Put the event on the default bus; returns its id. Raises AnnouncementFailed if EventBridge refused the entry
    (throttled requests are retried by the client; a refused entry comes back in a 200 answer, so it is checked here)."""
    answer = events.put_events(Entries=[{
        "EventBusName": EVENT_BUS,
        "Source": EVENT_SOURCE,
        "DetailType": JOB_STATE_CHANGE,
        "Detail": json.dumps(detail),
        "Resources": [detail["executionArn"]],
    }])
    (entry,) = answer["Entries"]
    if answer.get("FailedEntryCount") or "EventId" not in entry:
        raise AnnouncementFailed(f"{entry.get('ErrorCode')}: {entry.get('ErrorMessage')}")
    return entry["EventId"]
