"""probe_media against real containers in a moto bucket: duration from headers via ranged reads, clear rejections."""
from __future__ import annotations

import math
import subprocess
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from scribefleet.probe import Limits, S3RangeFile, probe_media
from tests.support.media import wav_bytes

BUCKET = "input"


def ffmpeg(tmp_path: Path, name: str, *args: str) -> bytes:
    out = tmp_path / name
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args, str(out)], check=True)
    return out.read_bytes()


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        yield client


def probe(s3, key: str, body: bytes, metadata: dict | None = None, limits: Limits = Limits(), event_key: str | None = None):
    version = s3.put_object(Bucket=BUCKET, Key=key, Body=body, Metadata=metadata or {})["VersionId"]
    execution_input = {"processId": "u-t", "input": {"bucket": BUCKET, "key": event_key or key, "versionId": version}}
    return probe_media(execution_input, s3, limits)


SINE = ["-f", "lavfi", "-i", "sine=frequency=300:duration=3"]


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("a.mp3", [*SINE]),
        ("a.m4a", [*SINE, "-c:a", "aac"]),  # ffmpeg writes the moov index at the END: needs a second range
        ("a.flac", [*SINE]),
        ("a.ogg", [*SINE, "-c:a", "libopus"]),
        ("a.mov", [*SINE, "-f", "lavfi", "-i", "testsrc=duration=3:size=32x32:rate=5", "-pix_fmt", "yuv420p", "-shortest"]),
    ],
)
def test_durations_of_real_containers_from_headers(s3, tmp_path, name, args):
    result = probe(s3, f"uploads/u/t/{name}", ffmpeg(tmp_path, name, *args))
    assert result["accepted"], result
    assert result["media"]["audioSeconds"] == pytest.approx(3.0, abs=0.15)
    assert result["limits"]["processTimeoutSeconds"] == Limits().process_timeout_base_seconds + math.ceil(result["media"]["audioSeconds"])


def test_large_file_is_probed_with_few_ranged_reads_not_a_download(s3):
    result = probe(s3, "uploads/u/t/long.wav", wav_bytes(120.0, rate=8000))  # 1.9 MB
    assert result["accepted"] and result["media"]["audioSeconds"] == pytest.approx(120.0)
    assert result["media"]["rangeRequests"] <= 2


def test_matroska_is_accepted_with_an_estimated_duration(s3, tmp_path):
    body = ffmpeg(tmp_path, "a.mkv", *SINE, "-c:a", "libopus")
    result = probe(s3, "uploads/u/t/a.mkv", body)
    assert result["accepted"] and result["media"]["durationEstimated"] is True and result["media"]["container"] == "matroska"


@pytest.mark.parametrize(
    ("key", "body", "metadata", "code", "words"),
    [
        ("uploads/u/t/a.wav", b"", {}, "EmptyFile", "empty"),
        ("uploads/u/t/notes.mp3", b"plain text, renamed\n" * 50, {}, "UnsupportedMedia", "not"),
        ("uploads/u/t/pic.wav", b"\x89PNG\r\n\x1a\n" + b"\x00" * 500, {}, "UnsupportedMedia", "not"),
        ("uploads/u/t/a.wav", None, {"formats": "srt,mp4"}, "InvalidOptions", "mp4"),
        ("uploads/u/t/a.wav", None, {"speakers": "two"}, "InvalidOptions", "whole number"),
        ("uploads/u/t/a.wav", None, {"speakers": "2", "max-speakers": "3"}, "InvalidOptions", "either"),
        ("uploads/u/t/a.wav", None, {"colour": "red"}, "InvalidOptions", "colour"),
        ("uploads/u/t/a.wav", None, {"language": "klingon"}, "InvalidOptions", "language"),
        ("uploads/u/t/", b"", {}, "BadKey", "file"),
        ("uploads/u/../a.wav", None, {}, "BadKey", "transcriptId"),
        ("uploads/u%00/t/a.wav", None, {}, "BadKey", "userId"),
    ],
)
def test_rejections_name_the_problem(s3, key, body, metadata, code, words):
    result = probe(s3, key, wav_bytes(1.0) if body is None else body, metadata)
    assert result == {"accepted": False, "error": {"code": code, "message": result["error"]["message"]}}
    assert words in result["error"]["message"]


def test_video_without_audio_track_is_no_audio(s3, tmp_path):
    body = ffmpeg(tmp_path, "v.mp4", "-f", "lavfi", "-i", "testsrc=duration=2:size=32x32:rate=5", "-pix_fmt", "yuv420p")
    assert probe(s3, "uploads/u/t/v.mp4", body)["error"]["code"] == "NoAudio"


def test_limits_on_size_and_duration(s3):
    limits = Limits(max_file_bytes=50_000, max_audio_seconds=60)
    assert probe(s3, "uploads/u/t/big.wav", wav_bytes(2.0), limits=limits)["error"]["code"] == "FileTooLarge"
    long = probe(s3, "uploads/u/t/long.wav", wav_bytes(61.0, rate=400), limits=limits)
    assert long["error"]["code"] == "AudioTooLong" and "limit is 1 min" in long["error"]["message"]


@pytest.mark.parametrize("name", ["my take+1 (final).wav", "Ünïcødé interview 東京.wav", "100% take: 2.wav"])
def test_url_encoded_event_keys_resolve_to_the_real_object(s3, name):
    from urllib.parse import quote_plus

    key = f"uploads/u/t/{name}"
    encoded = "/".join(quote_plus(part) for part in key.split("/"))
    for event_key in (key, encoded):
        result = probe(s3, key, wav_bytes(1.0), event_key=event_key)
        assert result["accepted"] and result["media"]["key"] == key


def test_deleted_object_is_input_changed(s3):
    execution_input = {"processId": "u-t", "input": {"bucket": BUCKET, "key": "uploads/u/t/gone.wav", "versionId": ""}}
    assert probe_media(execution_input, s3, Limits())["error"]["code"] == "InputChanged"


def test_probe_reads_the_uploaded_version_even_after_overwrite(s3):
    first = s3.put_object(Bucket=BUCKET, Key="uploads/u/t/a.wav", Body=wav_bytes(2.0))["VersionId"]
    s3.put_object(Bucket=BUCKET, Key="uploads/u/t/a.wav", Body=wav_bytes(5.0))
    execution_input = {"processId": "u-t", "input": {"bucket": BUCKET, "key": "uploads/u/t/a.wav", "versionId": first}}
    result = probe_media(execution_input, s3, Limits())
    assert result["media"]["versionId"] == first and result["media"]["audioSeconds"] == pytest.approx(2.0)


def test_range_file_reads_like_a_file(s3):
    body = bytes(range(256)) * 4000
    s3.put_object(Bucket=BUCKET, Key="k", Body=body)
    view = S3RangeFile(s3, BUCKET, "k", len(body))
    view.seek(300_000)
    assert view.read(10) == body[300_000:300_010]
    view.seek(-5, 2)
    assert view.read() == body[-5:]
    assert view.tell() == len(body) and view.read(10) == b""
