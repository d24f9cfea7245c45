"""probe_media against real containers in a moto bucket: duration from headers via ranged reads, clear rejections."""
from __future__ import annotations

import math
import subprocess
from pathlib import Path

import boto3
from botocore.exceptions import ClientError, ResponseStreamingError
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
CORPUS_SECONDS = 32.9  # the length of the .mkv a new user saw probed as 19.0 s
# Loud and quiet stretches, so a VBR encoder's frame sizes vary as they do on speech.
SOUND = ["-f", "lavfi", "-i", f"sine=frequency=300:duration={CORPUS_SECONDS}"]
VARYING = ["-af", "volume='if(lt(mod(t,5),2),1,0.02)':eval=frame"]
# A picture track for the video containers: its input goes with the sound's, its output options after the filter
# (an option written before an input applies to that input).
PICTURE_INPUT = ["-f", "lavfi", "-i", f"testsrc=duration={CORPUS_SECONDS}:size=32x32:rate=5"]
PICTURE = ["-pix_fmt", "yuv420p", "-shortest"]
# Every container the worker accepts, as ffmpeg writes them; `estimated`: no header states the length.
CORPUS = [
    ("wav", "a.wav", [], False),
    ("flac", "a.flac", [], False),
    ("mp3 cbr", "cbr.mp3", ["-c:a", "libmp3lame", "-b:a", "128k"], False),
    ("mp3 vbr", "vbr.mp3", ["-c:a", "libmp3lame", "-q:a", "4"], False),
    ("mp3 vbr without xing header", "vbr-noxing.mp3", ["-c:a", "libmp3lame", "-q:a", "4", "-write_xing", "0"], True),
    ("m4a aac", "a.m4a", ["-c:a", "aac"], False),
    ("m4a aac faststart", "fast.m4a", ["-c:a", "aac", "-movflags", "+faststart"], False),
    ("adts aac", "a.aac", ["-c:a", "aac"], True),
    ("ogg vorbis", "a.ogg", ["-c:a", "libvorbis"], False),
    ("opus", "a.opus", ["-c:a", "libopus"], False),
    ("webm", "a.webm", ["-c:a", "libopus"], False),
    ("mkv", "a.mkv", ["-c:a", "libopus"], False),
    ("mkv aac", "aac.mkv", ["-c:a", "aac"], False),
    ("webm recorded live (no duration header)", "live.webm", ["-c:a", "libopus", "-f", "webm", "-live", "1"], True),
    # fragmented (OBS's "fragmented MP4", browsers' MediaRecorder): no sample in the moov; the last fragment's end
    ("fragmented m4a", "frag.m4a", ["-c:a", "aac", "-movflags", "frag_keyframe+empty_moov"], True),
    ("fragmented mp4 with video", "frag-video.mp4", [*PICTURE, "-c:a", "aac", "-movflags", "frag_keyframe+empty_moov"], True),
    ("mp4 with video", "v.mp4", [*PICTURE, "-c:a", "aac"], False),
    ("mov with video", "v.mov", [*PICTURE, "-c:a", "aac"], False),
    ("webm with video", "v.webm", [*PICTURE, "-c:a", "libvorbis", "-c:v", "libvpx"], False),
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, tuple[bytes, float | None, float]]:
    """name → (file, ffprobe's duration or None where it states none, seconds of audio that actually decode)."""
    root = tmp_path_factory.mktemp("corpus")
    files = {}
    for _, name, args, _ in CORPUS:
        picture = PICTURE_INPUT if args[: len(PICTURE)] == PICTURE else []
        body = ffmpeg(root, name, *SOUND, *picture, *VARYING, *args)
        stated = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(root / name)],
                                capture_output=True, text=True, check=True).stdout.strip()
        pcm = subprocess.run(["ffmpeg", "-v", "error", "-i", str(root / name), "-map", "0:a", "-f", "s16le", "-ac", "1", "-ar", "16000", "-"],
                             capture_output=True, check=True).stdout
        files[name] = (body, None if stated in ("", "N/A") else float(stated), len(pcm) / 2 / 16000)
    return files


@pytest.mark.parametrize(("case", "name", "estimated"), [(c[0], c[1], c[3]) for c in CORPUS], ids=[c[0] for c in CORPUS])
def test_durations_match_ffprobe_for_every_accepted_container(s3, corpus, case, name, estimated):
    body, ffprobe_seconds, decoded_seconds = corpus[name]
    result = probe(s3, f"uploads/u/t/{name}", body)
    assert result["accepted"], result
    media = result["media"]
    assert media["durationEstimated"] is estimated
    if not estimated:
        assert ffprobe_seconds is not None
        assert media["audioSeconds"] == pytest.approx(ffprobe_seconds, rel=0.02)
        assert result["limits"]["processTimeoutSeconds"] == Limits().process_timeout_base_seconds + math.ceil(media["audioSeconds"])
    else:
        # Close enough for the scaler's queued audio; the limits leave room for the file to be as long as allowed.
        assert media["audioSeconds"] == pytest.approx(decoded_seconds, rel=0.10)
        limits = Limits()
        assert result["limits"]["processTimeoutSeconds"] >= limits.process_timeout_base_seconds + limits.max_audio_seconds


def test_estimated_duration_is_rejected_as_too_long_only_well_past_the_limit(s3, corpus):
    """An estimate may be a little long: the worker's decoder, which stops at the exact limit, has the last word."""
    body, _, decoded = corpus["live.webm"]
    near = probe(s3, "uploads/u/t/near.webm", body, limits=Limits(max_audio_seconds=int(decoded) - 1))
    assert near["accepted"] and near["limits"]["processTimeoutSeconds"] >= 900 + int(decoded) - 1
    far = probe(s3, "uploads/u/t/far.webm", body, limits=Limits(max_audio_seconds=int(decoded / 2)))
    assert far["error"]["code"] == "AudioTooLong"


def test_matroska_without_an_audio_track_is_no_audio(s3, tmp_path):
    body = ffmpeg(tmp_path, "v.mkv", "-f", "lavfi", "-i", "testsrc=duration=2:size=32x32:rate=5", "-pix_fmt", "yuv420p")
    assert probe(s3, "uploads/u/t/v.mkv", body)["error"] == {"code": "NoAudio", "message": "'v.mkv' has no audio track"}


def test_damaged_matroska_header_is_unsupported_with_a_reason(s3, corpus):
    body = corpus["a.mkv"][0]
    result = probe(s3, "uploads/u/t/a.mkv", body[:4] + b"\xff" * 60)
    assert result["error"] == {"code": "UnsupportedMedia", "message": "'a.mkv' has a damaged Matroska/WebM header"}


def test_large_file_is_probed_with_few_ranged_reads_not_a_download(s3):
    result = probe(s3, "uploads/u/t/long.wav", wav_bytes(120.0, rate=8000))  # 1.9 MB
    assert result["accepted"] and result["media"]["audioSeconds"] == pytest.approx(120.0)
    assert result["media"]["rangeRequests"] <= 2


class RangeFaults:
    """moto's S3 whose ranged GETs fail as `fail(n)` says for the n-th one (an exception to raise, or None)."""

    def __init__(self, real, fail):
        self.real, self.fail, self.ranged = real, fail, 0

    def get_object(self, **kwargs):
        if "Range" in kwargs:
            self.ranged += 1
            error = self.fail(self.ranged)
            if error is not None:
                raise error
        return self.real.get_object(**kwargs)

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_an_s3_read_that_fails_is_raised_as_itself_never_as_a_damaged_file(s3):
    """The parsers catch whatever a hostile header raises; an S3 failure inside them (SlowDown after botocore's own
    retries) must not become a permanent UnsupportedMedia rejection of a good file."""
    slow = ClientError({"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}, "GetObject")
    faulty = RangeFaults(s3, lambda n: slow if n > 1 else None)  # the first block read, then inside the parser
    with pytest.raises(ClientError, match="SlowDown"):
        probe(faulty, "uploads/u/t/long.wav", wav_bytes(120.0, rate=8000))
    assert faulty.ranged == 2


def test_a_ranged_read_whose_body_broke_off_is_read_again(s3):
    broken = ResponseStreamingError(error="Connection broken: IncompleteRead")
    faulty = RangeFaults(s3, lambda n: broken if n == 1 else None)
    result = probe(faulty, "uploads/u/t/a.wav", wav_bytes(3.0))
    assert result["accepted"] and result["media"]["audioSeconds"] == pytest.approx(3.0) and faulty.ranged == 2


def test_a_long_fragmented_recording_is_probed_from_its_head_and_tail(s3, tmp_path):
    """Ten minutes of fragmented m4a: mutagen walked every fragment (one ranged read each on S3) and then said 0 s
    (NoAudio); the probe reads the moov and the last fragment instead."""
    body = ffmpeg(tmp_path, "long.m4a", "-f", "lavfi", "-i", "sine=frequency=300:duration=600", "-c:a", "aac",
                  "-movflags", "frag_keyframe+empty_moov+default_base_moof")
    result = probe(s3, "uploads/u/t/long.m4a", body)
    assert result["accepted"], result
    assert result["media"]["audioSeconds"] == pytest.approx(600.0, rel=0.01) and result["media"]["durationEstimated"]
    assert result["media"]["rangeRequests"] <= 4


@pytest.mark.parametrize(
    ("key", "body", "metadata", "code", "words"),
    [
        ("uploads/u/t/a.wav", b"", {}, "EmptyFile", "empty"),
        ("uploads/u/t/notes.mp3", b"plain text, renamed\n" * 50, {}, "UnsupportedMedia", "'notes.mp3' is a text file, not audio"),
        # mutagen's own reason for this one was "('ascii' codec can't decode byte 0x89 in position 0 ...)"
        ("uploads/u/t/pic.wav", b"\x89PNG\r\n\x1a\n" + b"\x00" * 500, {}, "UnsupportedMedia", "'pic.wav' is a PNG image, not audio or video"),
        ("uploads/u/t/page.m4a", b"<!doctype html><title>404</title>" + b" " * 200, {}, "UnsupportedMedia", "an HTML page"),
        ("uploads/u/t/junk.wav", b"RIFF\x10\x00\x00\x00WAVEjunk" + bytes(range(256)), {}, "UnsupportedMedia", "expected WAV, MP3"),
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
@pytest.mark.bad_input
def test_rejections_name_the_problem(s3, key, body, metadata, code, words):
    result = probe(s3, key, wav_bytes(1.0) if body is None else body, metadata)
    assert result == {"accepted": False, "error": {"code": code, "message": result["error"]["message"]}}
    assert words in result["error"]["message"]
    assert not any(leak in result["error"]["message"] for leak in ("codec", "Error", "errno", "Traceback"))


@pytest.mark.bad_input
def test_video_without_audio_track_is_no_audio(s3, tmp_path):
    body = ffmpeg(tmp_path, "v.mp4", "-f", "lavfi", "-i", "testsrc=duration=2:size=32x32:rate=5", "-pix_fmt", "yuv420p")
    assert probe(s3, "uploads/u/t/v.mp4", body)["error"]["code"] == "NoAudio"


@pytest.mark.bad_input
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


@pytest.mark.bad_input
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


def test_range_file_keeps_a_bounded_cache_of_blocks(s3):
    """A parser reading a whole huge tag must not leave it all cached in a 512 MB function: recent blocks are kept,
    the oldest dropped, and a block read again is fetched again."""
    body = bytes(range(256)) * (S3RangeFile.BLOCK // 256) * (S3RangeFile.CACHED_BLOCKS + 6)  # 70 blocks, 17.5 MiB
    s3.put_object(Bucket=BUCKET, Key="k", Body=body)
    view = S3RangeFile(s3, BUCKET, "k", len(body))
    assert view.read() == body and view.requests == S3RangeFile.CACHED_BLOCKS + 6
    assert len(view._blocks) == S3RangeFile.CACHED_BLOCKS
    view.seek(-10, 2)
    assert view.read() == body[-10:] and view.requests == S3RangeFile.CACHED_BLOCKS + 6  # the tail is still cached
    view.seek(0)
    assert view.read(10) == body[:10] and view.requests == S3RangeFile.CACHED_BLOCKS + 7  # the head was dropped


def test_amr_voice_memos_are_measured_frame_by_frame(s3):
    """AMR (RFC 4867 storage format) is what many phones' voice recorders write; mutagen cannot read it."""
    narrow = b"#!AMR\n" + (bytes([7 << 3 | 4]) + bytes(31)) * 500  # 500 frames of 12.2 kbit/s, 20 ms each
    wide = b"#!AMR-WB\n" + (bytes([8 << 3 | 4]) + bytes(60)) * 250  # 250 frames of 23.85 kbit/s
    for name, body, seconds in (("memo.amr", narrow, 10.0), ("memo_wb.amr", wide, 5.0)):
        result = probe(s3, f"uploads/u/t/{name}", body)
        assert result["accepted"], result
        assert result["media"]["audioSeconds"] == pytest.approx(seconds) and not result["media"]["durationEstimated"]
