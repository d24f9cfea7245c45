"""The product's vocabulary, defined once: ids, key layout, job statuses, stages, error codes, message shapes.

Every component (Lambdas, state machine inputs, GPU worker, CLI, tests) imports these names instead of
re-typing strings, so the console graph, the logs and the code read the same.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from enum import StrEnum

ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")  # transcript ids
# A user id has no "-": the process id is `userId-transcriptId`, so with a hyphen allowed on both sides
# uploads/a-b/c/… and uploads/a/b-c/… would share the id a-b-c, and the second upload would be taken for a duplicate
# of the first (RecordJob → DuplicateEvent) and never run. Without it, a process id splits back at its first "-".
USER_ID_PATTERN = re.compile(r"[A-Za-z0-9_]{1,64}")
INVALID_USER = "invalid"  # reserved: the user id of keys that cannot be parsed (ingest.identify)
INPUT_PREFIX = "uploads/"
OUTPUT_PREFIX = "transcripts/"
WORK_PREFIX = "work/"  # output bucket: intermediate results of split jobs (chunk_result_key)
EXECUTION_NAME_MAX = 80  # Step Functions limit for execution names
# The longest audio the service accepts (probe default, worker decode limit, template parameter default): one value,
# so an upload the probe accepts is never one the worker refuses.
MAX_AUDIO_SECONDS = 4 * 3600


class JobStatus(StrEnum):
    QUEUED = "QUEUED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


# The job item carries `activeStatus` (= status) only while the job is QUEUED or IN_PROGRESS: the ByStatus index is
# keyed on it, so that index holds the waiting and running jobs only (a sparse index) and the scaler's read stays the
# same size however many jobs have finished. Whatever ends a job removes the attribute (JobField.ACTIVE_STATUS).
STATUS_INDEX = "ByStatus"
USER_INDEX = "ByUser"  # userId + createdAt: one user's jobs, most recent first, without a table scan

# The event the service puts on the account's default EventBridge bus when a job ends (COMPLETED or FAILED), modelled
# on AWS Transcribe's "Transcribe Job State Change". Its detail's shape is owned by
# scribefleet/schemas/job_state_change.schema.json; scribefleet.job_events puts it.
EVENT_SOURCE = "scribefleet"
JOB_STATE_CHANGE = "Transcription Job State Change"  # the event's detail-type
EVENT_BUS = "default"


class Stage(StrEnum):
    """Where a job is; written to the job item with `progress` (0-100) by the worker's heartbeat."""

    QUEUED = "queued"
    CLAIMED = "claimed"
    DOWNLOADING = "downloading"
    DECODING = "decoding"
    DIARIZING = "diarizing"
    TRANSCRIBING = "transcribing"
    WRITING = "writing"
    UPLOADING = "uploading"
    SPLIT = "split"  # the file was split across workers: its chunks (work items) are queued or in progress
    DONE = "done"
    FAILED = "failed"


class ErrorCode(StrEnum):
    """Error names as they appear in the state machine (Lambda errors, SendTaskFailure, Fail states) and the job item."""

    BAD_KEY = "BadKey"  # key outside uploads/<userId>/<transcriptId>/<file> or ids break USER_ID_PATTERN / ID_PATTERN
    EMPTY_FILE = "EmptyFile"
    FILE_TOO_LARGE = "FileTooLarge"
    UNSUPPORTED_MEDIA = "UnsupportedMedia"  # not audio/video we can read
    NO_AUDIO = "NoAudio"  # container without an audio stream, 0 s, or silence only
    AUDIO_TOO_LONG = "AudioTooLong"
    INVALID_OPTIONS = "InvalidOptions"
    INPUT_CHANGED = "InputChanged"  # object overwritten/deleted between upload and processing
    BAD_INPUT = "BadInput"  # worker-side decode failure of an input that passed the probe
    TRUNCATED_MEDIA = "TruncatedMedia"  # decodes to much less audio than its container states (an interrupted upload)
    WORKER_LOST = "WorkerLost"  # heartbeat lost, worker SIGTERMed, spot notice
    PROCESS_TIMEOUT = "ProcessTimeout"  # the worker kept heartbeating but ran past the job's process timeout: not retried
    NO_WORKER = "NoWorker"  # nobody claimed the job within the claim timeout
    EXECUTION_ABORTED = "ExecutionAborted"  # the execution was stopped (StopExecution) before the job ended
    EXECUTION_TIMED_OUT = "ExecutionTimedOut"  # the execution ran past the state machine's TimeoutSeconds
    EXECUTION_FAILED = "ExecutionFailed"  # the execution failed outside its Catch paths (e.g. States.Runtime)
    INTERNAL = "InternalError"


class JobField(StrEnum):
    """Attribute names of the job item (DynamoDB, key `processId`), as the state machine, the worker, the scaler
    and the CLI write and read them."""

    PROCESS_ID = "processId"
    USER_ID = "userId"
    TRANSCRIPT_ID = "transcriptId"
    FILE_NAME = "fileName"
    STATUS = "status"  # a JobStatus
    ACTIVE_STATUS = "activeStatus"  # = status while QUEUED or IN_PROGRESS, absent after: keys the sparse status index
    STAGE = "stage"  # a Stage
    PROGRESS = "progress"  # 0-100
    ATTEMPTS = "attempts"  # claims so far
    AUDIO_SECONDS = "audioSeconds"
    DURATION_ESTIMATED = "durationEstimated"  # no header states the length: limits were budgeted for the longest file
    INPUT_BUCKET = "inputBucket"
    INPUT_KEY = "inputKey"
    INPUT_VERSION = "inputVersion"
    INPUT_ETAG = "inputEtag"
    OPTIONS = "options"  # the validated options, as JSON text
    EXECUTION_ARN = "executionArn"  # the execution that owns the job; a re-upload's execution takes it over
    WORKER_ID = "workerId"  # the claiming worker (instance id)
    CLAIM_DIGEST = "claimDigest"  # digest of the claim token: the same SQS message claimed twice is one claim
    WORK_TOKEN = "workToken"  # the supervised (Transcribe) task token, for workTokenFor only
    WORK_TOKEN_FOR = "workTokenFor"
    OUTPUTS = "outputs"  # format → s3:// URI
    ERROR = "error"  # {code: ErrorCode, message}
    CREATED_AT = "createdAt"  # ISO 8601 UTC, like every *At field
    CLAIMED_AT = "claimedAt"
    HEARTBEAT_AT = "heartbeatAt"
    FINISHED_AT = "finishedAt"
    # Who puts the job's one state change event: the execution's ARN when MarkCompleted or MarkFailed ended the job,
    # `ReconcileJob:<execution ARN>` when ReconcileJob closed it. Set by the same conditional update that ends the job,
    # and no writer sets it over another's: only the writer that set it announces, so a retried, duplicated or
    # reconciled job announces its end once.
    ANNOUNCED_BY = "announcedBy"
    PARENT_ID = "parentId"  # on a chunk's or merge's work item: the job's process id
    SPLIT_CHUNKS = "splitChunks"  # on a split job's item: its chunk count (the work items to read for progress)


class MessageField(StrEnum):
    """Fields of the job message WaitForWorker puts on the SQS queue (read by JobMessage.from_sqs)."""

    PROCESS_ID = "processId"  # the work item's key: the job's process id, or a chunk's or merge's (work_item_id)
    JOB_ID = "jobId"  # the job's process id (logs, output keys)
    WORK = "work"  # a WorkField mapping: what part of the job this message is
    CLAIM_TOKEN = "claimToken"  # answered by the claiming worker (SendTaskSuccess with its workerId)
    EXECUTION_ARN = "executionArn"
    INPUT = "input"  # an InputField mapping: the exact object version to transcribe
    FILE_NAME = "fileName"
    USER_ID = "userId"
    TRANSCRIPT_ID = "transcriptId"
    AUDIO_SECONDS = "audioSeconds"
    OPTIONS = "options"


class WorkKind(StrEnum):
    """What one claim is for. A long file may be split across workers (scribefleet.splitting): its chunks are
    transcribed at once on several workers, then one merge links their speakers and writes the outputs."""

    WHOLE = "whole"
    CHUNK = "chunk"
    MERGE = "merge"


class WorkField(StrEnum):
    """The job message's `work` (and the state machine's Map items)."""

    KIND = "kind"  # a WorkKind
    INDEX = "index"  # the chunk's position, 0-based (0 for whole and merge)
    COUNT = "count"  # how many chunks the file was split into (1 when whole)


def work_item_id(pid: str, kind: WorkKind | str, index: int = 0) -> str:
    """The key of the item a claim is made on: the job's own for a whole file; `<pid>.chunk<i>` and `<pid>.merge`
    for a split one ('.' never occurs in a process id, so no job's key is ever a work item's)."""
    kind = WorkKind(kind)
    return pid if kind is WorkKind.WHOLE else f"{pid}.chunk{index}" if kind is WorkKind.CHUNK else f"{pid}.merge"


def work_item_ids(pid: str, chunks: int) -> list[str]:
    """Every work item of a job split into `chunks`: its chunks', then its merge's."""
    return [work_item_id(pid, WorkKind.CHUNK, i) for i in range(chunks)] + [work_item_id(pid, WorkKind.MERGE)]


def chunk_result_key(user_id: str, transcript_id: str, index: int) -> str:
    """Where chunk `index` of a split job leaves its words, turns and speaker embeddings for the merge: a work area
    of the output bucket beside, never inside, the user's transcripts."""
    return f"{WORK_PREFIX}{output_prefix(user_id, transcript_id)[len(OUTPUT_PREFIX):]}chunk-{index}.json"


class InputField(StrEnum):
    """The uploaded object, in the job message's `input`."""

    BUCKET = "bucket"
    KEY = "key"
    VERSION_ID = "versionId"
    ETAG = "etag"


ACTIVE_STATUS_ATTRIBUTE = JobField.ACTIVE_STATUS  # the ByStatus index's key


class CallbackField(StrEnum):
    """Fields of the worker's SendTaskSuccess outputs: the claim answers with its worker id, the work with its outputs;
    and the one field the state machine adds to a work item's result: how many chunks the file became."""

    WORKER_ID = "workerId"
    OUTPUTS = "outputs"
    SPLIT = "split"  # Transcribe's ResultSelector adds {"chunks": 1}; SplitPlanned puts PlanSplit's plan


# Errors that are the user's input's fault: never retried.
INPUT_ERRORS = frozenset(
    {
        ErrorCode.BAD_KEY,
        ErrorCode.EMPTY_FILE,
        ErrorCode.FILE_TOO_LARGE,
        ErrorCode.UNSUPPORTED_MEDIA,
        ErrorCode.NO_AUDIO,
        ErrorCode.AUDIO_TOO_LONG,
        ErrorCode.INVALID_OPTIONS,
        ErrorCode.INPUT_CHANGED,
        ErrorCode.BAD_INPUT,
        ErrorCode.TRUNCATED_MEDIA,
    }
)


class ScribefleetError(Exception):
    """An error with a product error code and a message a user can read."""

    def __init__(self, code: ErrorCode, message: str):
        super().__init__(message)
        self.code = ErrorCode(code)
        self.message = message

    def as_dict(self) -> dict[str, str]:
        return {"code": str(self.code), "message": self.message}


@dataclass(frozen=True)
class InputKey:
    user_id: str
    transcript_id: str
    file_name: str

    @property
    def process_id(self) -> str:
        return process_id(self.user_id, self.transcript_id)


def process_id(user_id: str, transcript_id: str) -> str:
    """The one id of a transcription everywhere (logs, job item, execution name): `userId-transcriptId`."""
    return f"{user_id}-{transcript_id}"


def check_user_id(user_id: str | None) -> str:
    """The user id, or ScribefleetError(BadKey) saying what is wrong with it."""
    if not USER_ID_PATTERN.fullmatch(user_id or ""):
        raise ScribefleetError(ErrorCode.BAD_KEY, f"userId {user_id!r} must match {USER_ID_PATTERN.pattern} "
                               "(letters, digits and _; no '-', which separates it from the transcript id)")
    if user_id == INVALID_USER:
        raise ScribefleetError(ErrorCode.BAD_KEY, f"userId {user_id!r} is reserved")
    return user_id


def check_transcript_id(transcript_id: str) -> str:
    """The transcript id, or ScribefleetError(BadKey) saying what is wrong with it."""
    if not ID_PATTERN.fullmatch(transcript_id or ""):
        raise ScribefleetError(ErrorCode.BAD_KEY, f"transcriptId {transcript_id!r} must match {ID_PATTERN.pattern}")
    return transcript_id


def parse_input_key(key: str) -> InputKey:
    """`uploads/<userId>/<transcriptId>/<file name>` → InputKey, or ScribefleetError(BadKey) with the reason."""
    if not key.startswith(INPUT_PREFIX):
        raise ScribefleetError(ErrorCode.BAD_KEY, f"key must start with {INPUT_PREFIX!r}: {key!r}")
    parts = key[len(INPUT_PREFIX):].split("/", 2)
    if len(parts) != 3:
        raise ScribefleetError(ErrorCode.BAD_KEY, f"key must be {INPUT_PREFIX}<userId>/<transcriptId>/<file>: {key!r}")
    user_id, transcript_id, file_name = parts
    check_user_id(user_id)
    check_transcript_id(transcript_id)
    if not file_name or file_name.endswith("/") or "/" in file_name:
        raise ScribefleetError(ErrorCode.BAD_KEY, f"key must name one file directly under the transcript folder: {key!r}")
    if file_name in (".", ".."):
        raise ScribefleetError(ErrorCode.BAD_KEY, f"file name {file_name!r} is not allowed")
    return InputKey(user_id, transcript_id, file_name)


_STEM_UNSAFE = re.compile(r"[^\w.\- ()]+", re.UNICODE)


def output_stem(file_name: str) -> str:
    """Base name for output files: the upload's name without extension, with anything path-like removed."""
    name = file_name.replace("\\", "/").rsplit("/", 1)[-1]  # a name, never a path
    stem, dot, _ = name.rpartition(".")
    stem = stem if dot and stem.strip(".") else name
    return _STEM_UNSAFE.sub("_", stem).strip(" ._")[:120] or "transcript"


def output_prefix(user_id: str, transcript_id: str) -> str:
    """Where a job's outputs go. Built only from validated ids, so it can never escape the user's prefix."""
    return f"{OUTPUT_PREFIX}{check_user_id(user_id)}/{check_transcript_id(transcript_id)}/"


def execution_name(pid: str, object_marker: str) -> str:
    """Deterministic Step Functions execution name: process id + a short digest of the object version/sequencer.

    The same S3 event delivered twice yields the same name (StartExecution then answers ExecutionAlreadyExists);
    a re-upload yields a new name. Always ≤ 80 characters of [A-Za-z0-9_-].
    """
    digest = hashlib.sha256(f"{pid}|{object_marker}".encode()).hexdigest()[:10]
    head = pid[: EXECUTION_NAME_MAX - len(digest) - 1]
    return f"{head}-{digest}"


def parse_event_key(key: str) -> InputKey:
    """parse_input_key on the key as an event gives it; only a key with no literal '/' (every separator encoded,
    `uploads%2Fu%2Ft%2Fa.wav`) is parsed in its URL-decoded form. The deployed rule matches the literal prefix
    `uploads/`, so that form reaches StartJob only when invoked directly (e.g. `sam local invoke` with an encoded
    sample event); AWS does not document whether EventBridge encodes keys (docs/architecture.md).

    Which form is the real object is decided later against the bucket (probe_media.resolve_object). A key with a
    literal '/' whose ids parse only once decoded (`uploads/victim%2Ft1%2Fa.wav`) is refused: no encoder writes some
    slashes and encodes others (valid ids hold no character an encoder changes), and taking the ids from the decoded
    form would let anyone who may write under uploads/ record a FAILED job under another user's ids and so block
    that user's own upload of them (DuplicateEvent). It gets an `invalid-…` id instead (ingest.identify)."""
    from urllib.parse import unquote_plus

    try:
        return parse_input_key(key)
    except ScribefleetError:
        decoded = unquote_plus(key)
        if decoded == key or "/" in key:
            raise
        return parse_input_key(decoded)
