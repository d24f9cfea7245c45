"""start_job: turn one S3 "Object Created" event into one named Step Functions execution."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone

from botocore.exceptions import ClientError

from scribefleet.contract import INVALID_USER, ScribefleetError, execution_name, parse_event_key, process_id


@dataclass(frozen=True)
class UploadedObject:
    bucket: str
    key: str  # as the event gives it (may be URL-encoded by some producers); probe_media resolves it
    size: int
    etag: str
    version_id: str
    sequencer: str

    @classmethod
    def from_eventbridge(cls, detail: dict) -> "UploadedObject":
        obj = detail["object"]
        return cls(
            bucket=detail["bucket"]["name"],
            key=obj["key"],
            size=int(obj.get("size") or 0),
            etag=obj.get("etag") or "",
            version_id=obj.get("version-id") or "",
            sequencer=obj.get("sequencer") or "",
        )


def identify(key: str) -> dict[str, str]:
    """Ids from the key as given, else from its URL-decoded form; unparseable keys get a stable 'invalid-…' id
    so that the rejection is still recorded as a FAILED job with its reason."""
    try:
        parsed = parse_event_key(key)
    except ScribefleetError:
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        return {"processId": process_id(INVALID_USER, digest), "userId": INVALID_USER, "transcriptId": digest,
                "fileName": key[-200:]}
    return {
        "processId": parsed.process_id,
        "userId": parsed.user_id,
        "transcriptId": parsed.transcript_id,
        "fileName": parsed.file_name,
    }


def execution_input(obj: UploadedObject, now: datetime | None = None) -> dict:
    return {
        **identify(obj.key),
        "input": {
            "bucket": obj.bucket,
            "key": obj.key,
            "size": obj.size,
            "etag": obj.etag,
            "versionId": obj.version_id,
            "sequencer": obj.sequencer,
        },
        "receivedAt": (now or datetime.now(timezone.utc)).isoformat(),
    }


def start_job(obj: UploadedObject, sfn_client, state_machine_arn: str) -> dict:
    """Start the execution; the same event delivered twice maps to the same name and starts nothing new."""
    payload = execution_input(obj)
    name = execution_name(payload["processId"], obj.version_id or obj.sequencer or obj.etag)
    try:
        response = sfn_client.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload))
    except ClientError as error:
        if error.response["Error"]["Code"] != "ExecutionAlreadyExists":
            raise
        return {"processId": payload["processId"], "executionName": name, "started": False, "reason": "duplicate event"}
    return {"processId": payload["processId"], "executionName": name, "started": True, "executionArn": response["executionArn"]}
