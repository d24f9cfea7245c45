"""probe_media: decide whether an upload can be transcribed, before any GPU time is spent on it.

Reads only what it needs: a HEAD for size/metadata and the few byte ranges mutagen seeks to for the container
headers (an MP4 whose index sits at the end costs two small ranged GETs, not a download).
"""
from __future__ import annotations

import io
import math
from collections import OrderedDict
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import BotoCoreError, ClientError

from scribefleet.container_duration import header_duration
from scribefleet.contract import MAX_AUDIO_SECONDS, ErrorCode, ScribefleetError, parse_event_key, parse_input_key
from scribefleet.options import parse_options
from scribefleet.vocabulary import with_user_vocabulary

# An estimated duration may be somewhat off either way: the probe rejects it as too long only past this factor of
# the limit and leaves the exact check to the worker's decoder, which stops at the limit whatever the headers said.
ESTIMATE_REJECT_FACTOR = 1.25


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 5 * 1024**3
    max_audio_seconds: int = MAX_AUDIO_SECONDS
    heartbeat_seconds: int = 30
    claim_timeout_seconds: int = 6 * 3600
    process_timeout_base_seconds: int = 900
    process_timeout_per_audio_second: float = 1.0

    @classmethod
    def from_env(cls, env: dict[str, str] = os.environ) -> "Limits":
        def pick(name: str, cast, default):
            return cast(env[name]) if env.get(name) else default

        d = cls()
        return cls(
            max_file_bytes=pick("MAX_FILE_BYTES", int, d.max_file_bytes),
            max_audio_seconds=pick("MAX_AUDIO_SECONDS", int, d.max_audio_seconds),
            heartbeat_seconds=pick("HEARTBEAT_SECONDS", int, d.heartbeat_seconds),
            claim_timeout_seconds=pick("CLAIM_TIMEOUT_SECONDS", int, d.claim_timeout_seconds),
            process_timeout_base_seconds=pick("PROCESS_TIMEOUT_BASE_SECONDS", int, d.process_timeout_base_seconds),
            process_timeout_per_audio_second=pick(
                "PROCESS_TIMEOUT_PER_AUDIO_SECOND", float, d.process_timeout_per_audio_second
            ),
        )

    def for_audio(self, audio_seconds: float, estimated: bool = False) -> dict[str, int]:
        """Timeouts handed to the state machine (HeartbeatSecondsPath / TimeoutSecondsPath).

        An estimated duration can be short of the truth, and a process timeout that is too short kills a healthy
        job; so it is budgeted as if the file were as long as the limit, the length at which the worker's decoder
        stops: no job that decodes can need more. (Dead workers are still caught within heartbeatSeconds.)"""
        budgeted = max(audio_seconds, self.max_audio_seconds) if estimated else audio_seconds
        return {
            "heartbeatSeconds": self.heartbeat_seconds,
            "claimTimeoutSeconds": self.claim_timeout_seconds,
            "processTimeoutSeconds": self.process_timeout_base_seconds
            + math.ceil(budgeted * self.process_timeout_per_audio_second),
        }


class S3RangeFile(io.RawIOBase):
    """A seekable read-only view of one S3 object version that fetches 256 KiB blocks on demand."""

    BLOCK = 256 * 1024

    ATTEMPTS = 3  # per block, for a body that breaks off after the 200, which botocore does not retry
    # Blocks kept (16 MiB): the parsers go back and forth near the head and the tail, but a huge ID3 tag (up to 256 MiB,
    # read in one go) must not stay cached beside its own copies in a 512 MB function.
    CACHED_BLOCKS = 64

    def __init__(self, s3, bucket: str, key: str, size: int, version_id: str = ""):
        self._s3, self._bucket, self._key, self._size, self._version = s3, bucket, key, size, version_id
        self._pos = 0
        self._blocks: OrderedDict[int, bytes] = OrderedDict()  # least recently used first
        self.requests = 0
        # The parsers catch every exception a hostile header raises; an S3 read that failed is kept here, so that the
        # caller raises it as what it is instead of calling the file damaged (read_failure).
        self.failure: Exception | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def _block(self, index: int) -> bytes:
        if index in self._blocks:
            self._blocks.move_to_end(index)
        else:
            start = index * self.BLOCK
            end = min(self._size, start + self.BLOCK) - 1
            extra = {"VersionId": self._version} if self._version else {}
            for attempt in range(1, self.ATTEMPTS + 1):
                try:
                    body = self._s3.get_object(Bucket=self._bucket, Key=self._key, Range=f"bytes={start}-{end}", **extra)
                    self.requests += 1
                    self._blocks[index] = body["Body"].read()
                    if len(self._blocks) > self.CACHED_BLOCKS:
                        self._blocks.popitem(last=False)
                    break
                except (BotoCoreError, ClientError) as error:  # botocore has already retried what it retries
                    if attempt == self.ATTEMPTS or isinstance(error, ClientError):
                        self.failure = error
                        raise
        return self._blocks[index]

    def read(self, size: int = -1) -> bytes:
        end = self._size if size is None or size < 0 else min(self._size, self._pos + size)
        chunks = []
        while self._pos < end:
            index, offset = divmod(self._pos, self.BLOCK)
            chunk = self._block(index)[offset : offset + (end - self._pos)]
            if not chunk:
                break
            chunks.append(chunk)
            self._pos += len(chunk)
        return b"".join(chunks)

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def resolve_object(s3, bucket: str, key: str, version_id: str = "") -> tuple[str, dict[str, Any]]:
    """HEAD the key as the event gave it, then its URL-decoded form (S3 notifications to SQS/SNS/Lambda encode
    keys; AWS does not say whether EventBridge does, so we do not guess). With a version id, the uploaded version is the one probed."""
    extra = {"VersionId": version_id} if version_id else {}
    for candidate in dict.fromkeys((key, unquote_plus(key))):
        try:
            return candidate, s3.head_object(Bucket=bucket, Key=candidate, **extra)
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("404", "NoSuchKey", "NotFound", "NoSuchVersion", "400"):
                raise
    raise ScribefleetError(ErrorCode.INPUT_CHANGED, f"the uploaded object {key!r} no longer exists (deleted or replaced)")


def probe_media(execution_input: dict[str, Any], s3, limits: Limits) -> dict[str, Any]:
    """The ProbeMedia state: {"accepted": True, media, options, limits} or {"accepted": False, error}."""
    source = execution_input["input"]
    try:
        parse_event_key(source["key"])  # a malformed key is rejected before anything is read
        key, head = resolve_object(s3, source["bucket"], source["key"], source.get("versionId", ""))
        parsed = parse_input_key(key)
        size = int(head["ContentLength"])
        if size == 0:
            raise ScribefleetError(ErrorCode.EMPTY_FILE, f"{parsed.file_name!r} is empty (0 bytes)")
        if size > limits.max_file_bytes:
            raise ScribefleetError(
                ErrorCode.FILE_TOO_LARGE, f"{parsed.file_name!r} is {size} bytes; the limit is {limits.max_file_bytes}"
            )
        options = with_user_vocabulary(parse_options(head.get("Metadata", {})), s3, source["bucket"], parsed.user_id)
        reader = S3RangeFile(s3, source["bucket"], key, size, source.get("versionId", ""))
        try:
            seconds, container, estimated = header_duration(reader, size, parsed.file_name)
        except ScribefleetError:
            if reader.failure is not None:  # S3 failed, not the file: raised as itself, never "damaged header"
                raise reader.failure from None
            raise
        if seconds > limits.max_audio_seconds * (ESTIMATE_REJECT_FACTOR if estimated else 1):
            raise ScribefleetError(
                ErrorCode.AUDIO_TOO_LONG,
                f"{parsed.file_name!r} is {seconds / 60:.0f} min long; the limit is {limits.max_audio_seconds / 60:.0f} min",
            )
    except ScribefleetError as error:
        return {"accepted": False, "error": error.as_dict()}
    audio_seconds = round(seconds, 3)
    return {
        "accepted": True,
        "media": {
            "key": key,
            "fileName": parsed.file_name,  # from the resolved key: an URL-encoded event key must not name the outputs
            "versionId": head.get("VersionId") or source.get("versionId") or "",
            "etag": head.get("ETag", "").strip('"'),
            "size": size,
            "audioSeconds": audio_seconds,
            "container": container,
            "durationEstimated": estimated,
            "rangeRequests": reader.requests,
        },
        "options": options,
        "limits": limits.for_audio(audio_seconds, estimated),
    }
