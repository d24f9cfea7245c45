"""The worker's side of the Step Functions protocol (DESIGN §1), for one job.

WaitForWorker puts {processId, claimToken, …} on SQS and waits. A worker claims the job with a conditional write
to the job item (so a message delivered twice is worked on once), then answers the claim token. Transcribe then
writes a fresh supervised token into the item (`workToken`, `workTokenFor` = worker id); the worker picks it up,
heartbeats with it, commits its outputs with a write conditioned on still holding it, and calls back.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from botocore.exceptions import ClientError

from scribefleet.contract import JobStatus, Stage

# Step Functions answers these when a token is no longer ours (job timed out, retried, or finished elsewhere).
LOST_TOKEN_ERRORS = {"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"}


class TokenLost(Exception):
    """The job was taken from this worker: stop work, upload nothing, do not call back."""


class AlreadyClaimed(Exception):
    """Another worker claimed this exact message (at-least-once delivery)."""


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class JobMessage:
    process_id: str
    claim_token: str
    user_id: str
    transcript_id: str
    file_name: str
    bucket: str
    key: str
    version_id: str
    etag: str
    audio_seconds: float
    options: dict[str, Any] = field(default_factory=dict)
    receipt_handle: str = ""

    @classmethod
    def from_sqs(cls, message: dict) -> "JobMessage":
        body = json.loads(message["Body"])
        source = body["input"]
        return cls(
            process_id=body["processId"],
            claim_token=body["claimToken"],
            user_id=body["userId"],
            transcript_id=body["transcriptId"],
            file_name=body["fileName"],
            bucket=source["bucket"],
            key=source["key"],
            version_id=source.get("versionId") or "",
            etag=source.get("etag") or "",
            audio_seconds=float(body.get("audioSeconds") or 0),
            options=body.get("options") or {},
            receipt_handle=message.get("ReceiptHandle", ""),
        )


def _is(error: ClientError, codes: set[str] | str) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    return code in ({codes} if isinstance(codes, str) else codes)


class JobChannel:
    """Claim, supervised token, heartbeat, commit and callbacks for jobs, on behalf of one worker."""

    def __init__(self, sfn, table, worker_id: str, token_wait_seconds: float = 60.0):
        self.sfn, self.table, self.worker_id = sfn, table, worker_id
        self.token_wait_seconds = token_wait_seconds

    def claim(self, job: JobMessage) -> None:
        """Conditional claim keyed on the claim token: the second receiver of the same message gets AlreadyClaimed."""
        try:
            self.table.update_item(
                Key={"processId": job.process_id},
                UpdateExpression="SET workerId = :worker, claimDigest = :digest, claimedAt = :now, stage = :stage, "
                "attempts = if_not_exists(attempts, :zero) + :one",
                ConditionExpression="attribute_exists(processId) AND #status IN (:queued, :running) "
                "AND (attribute_not_exists(claimDigest) OR claimDigest <> :digest)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":worker": self.worker_id,
                    ":digest": token_digest(job.claim_token),
                    ":now": now_iso(),
                    ":stage": str(Stage.CLAIMED),
                    ":zero": 0,
                    ":one": 1,
                    ":queued": str(JobStatus.QUEUED),
                    ":running": str(JobStatus.IN_PROGRESS),
                },
            )
        except ClientError as error:
            if _is(error, "ConditionalCheckFailedException") and not self._claimed_by_me(job):
                raise AlreadyClaimed(job.process_id) from None
            if not _is(error, "ConditionalCheckFailedException"):
                raise
        self._callback(self.sfn.send_task_success, taskToken=job.claim_token, output=json.dumps({"workerId": self.worker_id}))

    def _claimed_by_me(self, job: JobMessage) -> bool:
        """A retried claim whose first attempt was applied (DynamoDB answered 500 or timed out after writing) fails its
        condition against our own write: that is our claim, not another worker's."""
        item = self.table.get_item(Key={"processId": job.process_id}, ConsistentRead=True).get("Item", {})
        return item.get("workerId") == self.worker_id and item.get("claimDigest") == token_digest(job.claim_token)

    def wait_for_work_token(self, job: JobMessage, seen: set[str]) -> tuple[str, dict]:
        """The token Transcribe wrote for this worker (arrives a fraction of a second after the claim), and the item."""
        deadline = time.monotonic() + self.token_wait_seconds
        delay = 0.05
        while time.monotonic() < deadline:
            item = self.table.get_item(Key={"processId": job.process_id}, ConsistentRead=True).get("Item", {})
            token = item.get("workToken")
            if item.get("workTokenFor") == self.worker_id and token and token not in seen:
                seen.add(token)
                return token, item
            if item.get("workerId") not in (None, self.worker_id) or item.get("status") in ("COMPLETED", "FAILED"):
                raise TokenLost(f"job {job.process_id} moved on before this worker got its token")
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        raise TokenLost(f"no supervised token for {job.process_id} within {self.token_wait_seconds:.0f} s")

    def heartbeat(self, job: JobMessage, token: str, stage: Stage, progress: float) -> None:
        """Tell Step Functions we are alive and users where we are; raises TokenLost when the job is no longer ours."""
        self._callback(self.sfn.send_task_heartbeat, taskToken=token)
        self._update_if_holding(
            job, token, "SET stage = :stage, progress = :progress, heartbeatAt = :now",
            {":stage": str(stage), ":progress": int(progress), ":now": now_iso()},
        )

    def commit(self, job: JobMessage, token: str, outputs: dict[str, str]) -> None:
        """Record the outputs only while still holding the token: a worker whose job was retried writes nothing."""
        self._update_if_holding(
            job, token, "SET outputs = :outputs, stage = :stage, progress = :progress, heartbeatAt = :now",
            {":outputs": outputs, ":stage": str(Stage.UPLOADING), ":progress": 99, ":now": now_iso()},
        )

    def succeed(self, token: str, outputs: dict[str, str]) -> None:
        self._callback(self.sfn.send_task_success, taskToken=token, output=json.dumps({"outputs": outputs}))

    def fail(self, token: str, code: str, message: str) -> None:
        try:
            self._callback(self.sfn.send_task_failure, taskToken=token, error=str(code)[:256], cause=message[:32000])
        except TokenLost:
            pass  # nobody is waiting for this answer any more

    def _update_if_holding(self, job: JobMessage, token: str, expression: str, values: dict) -> None:
        try:
            self.table.update_item(
                Key={"processId": job.process_id},
                UpdateExpression=expression,
                ConditionExpression="workToken = :token",
                ExpressionAttributeValues={**values, ":token": token},
            )
        except ClientError as error:
            if _is(error, "ConditionalCheckFailedException"):
                raise TokenLost(f"job {job.process_id} is held by another attempt") from None
            raise

    @staticmethod
    def _callback(call, **kwargs) -> None:
        try:
            call(**kwargs)
        except ClientError as error:
            if _is(error, LOST_TOKEN_ERRORS):
                raise TokenLost(error.response["Error"]["Code"]) from None
            raise
