"""The worker's side of the Step Functions protocol, for one job.

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

from scribefleet.contract import CallbackField, InputField, JobField, JobStatus, MessageField, Stage, WorkField, WorkKind
from scribefleet.timestamps import format_timestamp, parse_timestamp

# Step Functions answers these when a token is no longer ours (job timed out, retried, or finished elsewhere).
LOST_TOKEN_ERRORS = {"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"}
# A claim written this long ago whose message is still being delivered was never answered: its worker died between
# the write and SendTaskSuccess (a live one answers within seconds and then deletes the message, which SQS makes
# visible again only after the queue's VisibilityTimeout, 120 s).
STALLED_CLAIM_SECONDS = 60.0


class TokenLost(Exception):
    """The job was taken from this worker: stop work, upload nothing, do not call back."""


class AlreadyClaimed(Exception):
    """Another worker claimed this exact message (at-least-once delivery)."""


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
    job_id: str = ""  # the job's process id; process_id is the work item claimed (the same for a whole file)
    kind: WorkKind = WorkKind.WHOLE
    index: int = 0
    count: int = 1

    @property
    def log_id(self) -> str:
        return self.job_id or self.process_id

    @classmethod
    def from_sqs(cls, message: dict) -> "JobMessage":
        body = json.loads(message["Body"])
        source = body[MessageField.INPUT]
        work = body.get(MessageField.WORK) or {}
        return cls(
            process_id=body[MessageField.PROCESS_ID],
            claim_token=body[MessageField.CLAIM_TOKEN],
            user_id=body[MessageField.USER_ID],
            transcript_id=body[MessageField.TRANSCRIPT_ID],
            file_name=body[MessageField.FILE_NAME],
            bucket=source[InputField.BUCKET],
            key=source[InputField.KEY],
            version_id=source.get(InputField.VERSION_ID) or "",
            etag=source.get(InputField.ETAG) or "",
            audio_seconds=float(body.get(MessageField.AUDIO_SECONDS) or 0),
            options=body.get(MessageField.OPTIONS) or {},
            job_id=body.get(MessageField.JOB_ID) or body[MessageField.PROCESS_ID],
            kind=WorkKind(work.get(WorkField.KIND, WorkKind.WHOLE)),
            index=int(work.get(WorkField.INDEX, 0)),
            count=int(work.get(WorkField.COUNT, 1)),
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
                Key={JobField.PROCESS_ID: job.process_id},
                UpdateExpression=f"SET {JobField.WORKER_ID} = :worker, {JobField.CLAIM_DIGEST} = :digest, "
                f"{JobField.CLAIMED_AT} = :now, {JobField.STAGE} = :stage, "
                f"{JobField.ATTEMPTS} = if_not_exists({JobField.ATTEMPTS}, :zero) + :one",
                ConditionExpression=f"attribute_exists({JobField.PROCESS_ID}) AND #status IN (:queued, :running) "
                f"AND (attribute_not_exists({JobField.CLAIM_DIGEST}) OR {JobField.CLAIM_DIGEST} <> :digest)",
                ExpressionAttributeNames={"#status": JobField.STATUS},
                ExpressionAttributeValues={
                    ":worker": self.worker_id,
                    ":digest": token_digest(job.claim_token),
                    ":now": format_timestamp(),
                    ":stage": str(Stage.CLAIMED),
                    ":zero": 0,
                    ":one": 1,
                    ":queued": str(JobStatus.QUEUED),
                    ":running": str(JobStatus.IN_PROGRESS),
                },
            )
        except ClientError as error:
            if not _is(error, "ConditionalCheckFailedException"):
                raise
            item = self.table.get_item(Key={JobField.PROCESS_ID: job.process_id}, ConsistentRead=True).get("Item", {})
            # A retried claim whose first attempt was applied (DynamoDB answered 500 or timed out after writing) fails
            # its condition against our own write: that is our claim, not another worker's.
            if not (item.get(JobField.WORKER_ID) == self.worker_id and item.get(JobField.CLAIM_DIGEST) == token_digest(job.claim_token)):
                self._answer_stalled_claim(job, item)
                raise AlreadyClaimed(job.process_id) from None
        self._callback(self.sfn.send_task_success, taskToken=job.claim_token, output=json.dumps({CallbackField.WORKER_ID: self.worker_id}))

    def _answer_stalled_claim(self, job: JobMessage, item: dict) -> None:
        """Another worker wrote this message's claim long ago and never answered it (it died in between): answer for
        it, so the job moves on to Transcribe, whose heartbeat timeout then finds that worker gone and retries the
        job (WorkerLost), instead of waiting for a claim that never comes until ClaimTimeoutSeconds (a day)."""
        claimed_at = parse_timestamp(item.get(JobField.CLAIMED_AT))
        if item.get(JobField.CLAIM_DIGEST) != token_digest(job.claim_token) or claimed_at is None:
            return
        if (datetime.now(timezone.utc) - claimed_at).total_seconds() < STALLED_CLAIM_SECONDS:
            return  # its worker may still be answering
        try:
            self._callback(self.sfn.send_task_success, taskToken=job.claim_token,
                           output=json.dumps({CallbackField.WORKER_ID: item.get(JobField.WORKER_ID)}))
        except TokenLost:
            pass  # it was answered after all (or the job has ended): nothing is waiting for it

    def wait_for_work_token(self, job: JobMessage, seen: set[str]) -> tuple[str, dict]:
        """The token Transcribe wrote for this worker (arrives a fraction of a second after the claim), and the item."""
        deadline = time.monotonic() + self.token_wait_seconds
        delay = 0.05
        while time.monotonic() < deadline:
            item = self.table.get_item(Key={JobField.PROCESS_ID: job.process_id}, ConsistentRead=True).get("Item", {})
            token = item.get(JobField.WORK_TOKEN)
            if item.get(JobField.WORK_TOKEN_FOR) == self.worker_id and token and token not in seen:
                seen.add(token)
                return token, item
            if item.get(JobField.WORKER_ID) not in (None, self.worker_id) or item.get(JobField.STATUS) in (JobStatus.COMPLETED, JobStatus.FAILED):
                raise TokenLost(f"job {job.process_id} moved on before this worker got its token")
            if item.get(JobField.SPLIT_CHUNKS):  # PlanSplit split the file at this claim: its chunks are queued
                raise TokenLost(f"job {job.process_id} was split into {item[JobField.SPLIT_CHUNKS]} chunks")
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        raise TokenLost(f"no supervised token for {job.process_id} within {self.token_wait_seconds:.0f} s")

    def heartbeat(self, job: JobMessage, token: str, stage: Stage, progress: float) -> None:
        """Tell Step Functions we are alive and users where we are; raises TokenLost when the job is no longer ours."""
        self._callback(self.sfn.send_task_heartbeat, taskToken=token)
        self._update_if_holding(
            job, token, f"SET {JobField.STAGE} = :stage, {JobField.PROGRESS} = :progress, {JobField.HEARTBEAT_AT} = :now",
            {":stage": str(stage), ":progress": int(progress), ":now": format_timestamp()},
        )

    def commit(self, job: JobMessage, token: str, outputs: dict[str, str]) -> None:
        """Record the outputs only while still holding the token: a worker whose job was retried writes nothing."""
        self._update_if_holding(
            job, token,
            f"SET {JobField.OUTPUTS} = :outputs, {JobField.STAGE} = :stage, {JobField.PROGRESS} = :progress, "
            f"{JobField.HEARTBEAT_AT} = :now",
            {":outputs": outputs, ":stage": str(Stage.UPLOADING), ":progress": 99, ":now": format_timestamp()},
        )

    def succeed(self, token: str, outputs: dict[str, str]) -> None:
        self._callback(self.sfn.send_task_success, taskToken=token, output=json.dumps({CallbackField.OUTPUTS: outputs}))

    def fail(self, token: str, code: str, message: str) -> None:
        try:
            self._callback(self.sfn.send_task_failure, taskToken=token, error=str(code)[:256], cause=message[:32000])
        except TokenLost:
            pass  # nobody is waiting for this answer any more

    def _update_if_holding(self, job: JobMessage, token: str, expression: str, values: dict) -> None:
        try:
            self.table.update_item(
                Key={JobField.PROCESS_ID: job.process_id},
                UpdateExpression=expression,
                ConditionExpression=f"{JobField.WORK_TOKEN} = :token",
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
