"""Hostile and broken uploads, end to end: every one ends FAILED with a specific code and a readable reason (or, for
merely odd names, COMPLETED under the right prefix), the input is untouched and the workers keep working.

Two workers run the real Pipeline (real bounded decode in a child process, stub models) for the whole module.
Cases already proven end to end elsewhere are not repeated here and are counted in the selfcheck line where they are:
tests/workflow/test_workflow.py::test_rejected_uploads_fail_with_reason_and_are_never_queued (zero-byte, text renamed
.mp3, larger than the limit, bad user id, folder marker, min > max speakers, unknown language);
tests/unit/test_probe.py (probe rejections, limits, encoded keys); tests/worker/test_media.py (decoder bounds).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import quote_plus

import pytest

from tests.reliability.conftest import MAX_AUDIO_SECONDS, audit, decoding_pipeline, replace_config, wait_until
from tests.support.aws import REPO
from tests.support.media import wav_bytes

pytestmark = pytest.mark.bad_input


def ffmpeg(out: Path, *args: str) -> bytes:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args, str(out)], check=True)
    return out.read_bytes()


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, bytes]:
    root = tmp_path_factory.mktemp("hostile")
    sine = ["-f", "lavfi", "-i", "sine=frequency=300:duration=3"]
    mp3 = ffmpeg(root / "a.mp3", *sine, "-c:a", "libmp3lame", "-b:a", "32k")
    first_frame = mp3.find(b"\xff\xfb")
    low = ["-ac", "1", "-ar", "8000", "-c:a", "libmp3lame", "-b:a", "8k"]
    one_second = ffmpeg(root / "short.mp3", "-f", "lavfi", "-i", "sine=frequency=300:duration=1", *low)
    # 30 min of frames with no header of their own: appended to a 1 s file, the Xing header still says 1 s.
    body = ffmpeg(root / "long.mp3", "-f", "lavfi", "-i", "sine=frequency=300:duration=1800", *low,
                  "-write_xing", "0", "-id3v2_version", "0")
    return {
        "mp3": mp3,
        # ID3 + the first frame (its Xing header says 3 s): the probe accepts it, the decoder finds no audio frame.
        "truncated_mp3": mp3[: first_frame + 200],
        "header_lies": one_second + body,  # 1 s by its header, 1800 s (16 kHz: 57 MB of PCM) when decoded
        "corrupt_header_wav": b"\x00" * 64 + wav_bytes(1.0)[64:],
        "corrupt_header_mp4": (v := ffmpeg(root / "v.m4a", *sine, "-c:a", "aac"))[:8] + b"\xff" * 40 + v[48:],
        "video_only_mp4": ffmpeg(root / "v.mp4", "-f", "lavfi", "-i", "testsrc=size=32x32:rate=5", "-t", "2", "-pix_fmt", "yuv420p"),
        "zero_seconds_wav": ffmpeg(root / "zero.wav", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "0"),
        "silent_wav": ffmpeg(root / "silent.wav", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "2"),
        "png": ffmpeg(root / "i.png", "-f", "lavfi", "-i", "testsrc=size=64x48", "-frames:v", "1"),
        "too_long_wav": wav_bytes(MAX_AUDIO_SECONDS + 30, rate=1000),  # 180 kB, 90 s
    }


@pytest.fixture(scope="module")
def pool(fleet):
    """Two workers with the real decode for the whole module; each test checks they are still alive after it."""
    pipeline = decoding_pipeline()
    workers = [fleet.start(pipeline, worker_id=f"i-pool-{n}") for n in range(2)]
    yield pipeline, workers
    for worker in workers:
        worker.stop()


def run_case(rel_stack, uploads, pool, job_ledger, key, body, metadata=None, event_key=None):
    _, workers = pool
    started = uploads(key, body, metadata, event_key=event_key)
    item = audit(rel_stack, [started["processId"]], job_ledger)[started["processId"]]
    versions = rel_stack.s3.list_object_versions(Bucket=rel_stack.input_bucket, Prefix=key)
    assert [v["Key"] for v in versions.get("Versions", []) if v["Key"] == key] == [key], "input changed"
    assert not versions.get("DeleteMarkers"), "input deleted"
    assert all(w.alive for w in workers), "a worker is wedged or dead"
    return item


# Rejected before any GPU time (ProbeMedia).
PROBE_REJECTS = [
    ("corrupt_wav_header", "uploads/u2/corrupt1/a.wav", "corrupt_header_wav", {}, "UnsupportedMedia", "not a readable"),
    ("corrupt_mp4_header", "uploads/u2/corrupt2/a.m4a", "corrupt_header_mp4", {}, "UnsupportedMedia", "not a readable"),
    ("image_renamed_mp3", "uploads/u2/image/photo.mp3", "png", {}, "UnsupportedMedia", "is a PNG image, not audio or video"),
    ("video_without_audio", "uploads/u2/video/clip.mp4", "video_only_mp4", {}, "NoAudio", "no audio track"),
    ("zero_seconds", "uploads/u2/zero/a.wav", "zero_seconds_wav", {}, "NoAudio", "duration 0 s"),
    ("longer_than_limit", "uploads/u2/long/a.wav", "too_long_wav", {}, "AudioTooLong", "limit is 1 min"),
    ("unknown_format", "uploads/u2/fmt/a.mp3", "mp3", {"formats": "srt,exe"}, "InvalidOptions", "exe"),
    ("malformed_speakers", "uploads/u2/spk/a.mp3", "mp3", {"speakers": "two"}, "InvalidOptions", "whole number"),
    ("conflicting_speakers", "uploads/u2/spk2/a.mp3", "mp3", {"speakers": "2", "min-speakers": "1"}, "InvalidOptions", "either"),
    ("id_with_dot", "uploads/user.name/t1/a.mp3", "mp3", {}, "BadKey", "userId"),
    ("id_with_space", "uploads/u2/my transcript/a.mp3", "mp3", {}, "BadKey", "transcriptId"),
    ("id_too_long", f"uploads/u2/{'t' * 65}/a.mp3", "mp3", {}, "BadKey", "transcriptId"),
    ("id_unicode", "uploads/ü/t1/a.mp3", "mp3", {}, "BadKey", "userId"),
    ("traversal_in_ids", "uploads/u2/../../etc/passwd", "mp3", {}, "BadKey", "transcriptId"),
    ("traversal_file_name", "uploads/u2/t1/..", "mp3", {}, "BadKey", "'..'"),
    ("absolute_looking_key", "/uploads/u2/t1/a.mp3", "mp3", {}, "BadKey", "must start with"),
    ("nested_folder", "uploads/u2/t1/sub/a.mp3", "mp3", {}, "BadKey", "one file"),
    ("empty_user_id", "uploads//t1/a.mp3", "mp3", {}, "BadKey", "userId"),
]


@pytest.mark.parametrize(("case", "key", "body", "metadata", "code", "words"), PROBE_REJECTS, ids=[c[0] for c in PROBE_REJECTS])
def test_rejected_by_the_probe_with_a_reason(rel_stack, uploads, pool, job_ledger, media, case, key, body, metadata, code, words):
    item = run_case(rel_stack, uploads, pool, job_ledger, key, media[body], metadata)
    assert item["status"] == "FAILED" and item["error"]["code"] == code, item.get("error")
    assert words in item["error"]["message"]
    assert item.get("attempts", 0) == 0 and "workerId" not in item  # never queued, no worker time spent


def test_an_encoded_key_cannot_take_another_users_ids(rel_stack, uploads, pool, job_ledger, media):
    """Anyone who may write under uploads/ can create the literal key `uploads/victim%2Fsquat%2Fa.mp3`. It fails as
    BadKey under an `invalid-…` id, never under victim-squat, so the victim's own upload of that id still runs."""
    forged = run_case(rel_stack, uploads, pool, job_ledger, "uploads/victim%2Fsquat%2Fa.mp3", media["mp3"])
    assert forged["status"] == "FAILED" and forged["error"]["code"] == "BadKey"
    assert forged["processId"].startswith("invalid-") and forged["userId"] == "invalid"
    own = run_case(rel_stack, uploads, pool, job_ledger, "uploads/victim/squat/a.mp3", media["mp3"])
    assert own["processId"] == "victim-squat" and own["status"] == "COMPLETED"


# Pass the probe (headers look fine), fail in the worker's bounded decode.
def test_truncated_mp3_passes_the_probe_and_fails_in_the_decoder(rel_stack, uploads, pool, job_ledger, media):
    item = run_case(rel_stack, uploads, pool, job_ledger, "uploads/u2/trunc/a.mp3", media["truncated_mp3"])
    assert item["status"] == "FAILED" and item["error"]["code"] == "BadInput" and item["attempts"] == 1
    assert "not audio or video we can read" in item["error"]["message"]
    assert float(item["audioSeconds"]) == pytest.approx(3.0, abs=0.1)  # what the header claimed


def test_silence_passes_the_probe_and_is_no_audio_in_the_decoder(rel_stack, uploads, pool, job_ledger, media):
    item = run_case(rel_stack, uploads, pool, job_ledger, "uploads/u2/silent/a.wav", media["silent_wav"])
    assert item["status"] == "FAILED" and item["error"]["code"] == "NoAudio" and "silent" in item["error"]["message"]


def test_file_whose_header_lies_about_its_length_stops_decoding_at_the_limit(rel_stack, uploads, pool, job_ledger, media):
    """1 s by its header (the probe accepts it), 30 min of audio inside: the decoder stops at the worker's limit
    instead of expanding 1.8 MB into 57 MB of samples (float32: 115 MB) in the worker."""
    item = run_case(rel_stack, uploads, pool, job_ledger, "uploads/u2/liar/a.mp3", media["header_lies"])
    assert float(item["audioSeconds"]) < 2
    assert item["status"] == "FAILED" and item["error"]["code"] == "AudioTooLong" and "limit" in item["error"]["message"]


def test_file_that_decodes_too_slowly_is_stopped_and_the_worker_carries_on(rel_stack, uploads, pool, job_ledger, media):
    """With the length limit out of the way, decoding the 30 min inside takes about a second here; a 0.3 s decode
    budget (a small clip takes ~0.05 s in the pre-started child) stops it: the child is killed, the job fails with
    the reason, and the same workers take the next job."""
    pipeline, workers = pool
    old = replace_config(pipeline, max_audio_seconds=4 * 3600.0, decode_timeout=0.3)
    try:
        item = run_case(rel_stack, uploads, pool, job_ledger, "uploads/u2/slow/a.mp3", media["header_lies"])
    finally:
        pipeline.config = old
    assert item["status"] == "FAILED" and item["error"]["code"] == "BadInput"
    assert "took longer than" in item["error"]["message"]
    after = run_case(rel_stack, uploads, pool, job_ledger, "uploads/u2/after-slow/a.mp3", media["mp3"])
    assert after["status"] == "COMPLETED"


# Odd but legitimate names: must succeed, with every output under transcripts/<user>/<transcript>/.
ODD_NAMES = [
    ("unicode_spaces_plus_percent", "Ünïcødé take+1 100% (final) 東京.mp3", False, "Ünïcødé take_1 100_ (final) 東京"),
    ("url_encoded_event_key", "my take+2 50%.mp3", True, "my take_2 50"),
    ("backslash_traversal", "..\\..\\..\\etc\\passwd.mp3", False, "passwd"),
    ("encoded_traversal", "..%2F..%2Fescape.mp3", False, "2F.._2Fescape"),
    ("windows_absolute", "C:\\Users\\x\\a.mp3", False, "a"),
]


@pytest.mark.parametrize(("case", "name", "encode", "stem"), ODD_NAMES, ids=[c[0] for c in ODD_NAMES])
def test_odd_file_names_succeed_inside_the_users_prefix(rel_stack, uploads, pool, job_ledger, media, case, name, encode, stem):
    transcript = case.replace("_", "-")
    key = f"uploads/u3/{transcript}/{name}"
    event_key = "/".join(quote_plus(part) for part in key.split("/")) if encode else None
    item = run_case(rel_stack, uploads, pool, job_ledger, key, media["mp3"], {"formats": "txt,srt"}, event_key=event_key)
    assert item["status"] == "COMPLETED" and item["fileName"] == name
    prefix = f"transcripts/u3/{transcript}/"
    written = {v["Key"] for v in rel_stack.s3.list_object_versions(Bucket=rel_stack.output_bucket, Prefix="transcripts/u3/").get("Versions", [])
               if v["Key"].startswith(prefix)}
    assert written == {f"{prefix}{stem}.txt", f"{prefix}{stem}.srt", f"{prefix}result.json"}
    for written_key in written:
        rest = written_key[len(prefix):]
        assert "/" not in rest and "\\" not in rest and ".." not in rest.replace("2F..", "")


def test_every_output_of_the_module_is_under_its_own_users_prefix(rel_stack):
    """Across every case above: no object outside transcripts/<valid user>/<valid transcript>/<name>."""
    import re

    keys = [v["Key"] for v in rel_stack.s3.list_object_versions(Bucket=rel_stack.output_bucket).get("Versions", [])]
    assert keys
    pattern = re.compile(r"transcripts/[A-Za-z0-9_]{1,64}/[A-Za-z0-9_-]{1,64}/[^/\\]+")
    assert all(pattern.fullmatch(k) for k in keys), [k for k in keys if not pattern.fullmatch(k)]
    assert not any(k.startswith("uploads/") for k in keys)
    inputs = rel_stack.s3.list_object_versions(Bucket=rel_stack.input_bucket)
    assert not inputs.get("DeleteMarkers") and all(v["IsLatest"] for v in inputs["Versions"])  # nothing rewritten


def test_workers_are_still_working_after_the_whole_suite(rel_stack, uploads, pool, job_ledger, media):
    _, workers = pool
    assert all(w.alive and not w.outcome for w in workers)
    item = run_case(rel_stack, uploads, pool, job_ledger, "uploads/u2/final/a.mp3", media["mp3"])
    assert item["status"] == "COMPLETED" and item["attempts"] == 1
    assert wait_until(lambda: all(w.agent.current is None for w in workers), timeout=5)


def test_decoder_child_memory_does_not_grow_with_what_the_file_expands_to(media, tmp_path):
    """The 1.8 MB file that expands to 30 min (58 MB of PCM): the decoder child streams samples to disk, so its peak
    memory is the same as for a 3 s file (PyAV's baseline), not baseline + output (it is also capped at 3 GiB of
    address space, tests/worker/test_media.py). Each decode runs in a fresh interpreter whose only child is the decoder."""
    script = ("import resource, sys; from gpu_worker.media import decode_audio; "
              "a = decode_audio(sys.argv[1], max_seconds=4 * 3600.0); "
              "print(len(a) / 16000, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)")
    peaks = {}
    for name in ("mp3", "header_lies"):
        path = tmp_path / f"{name}.mp3"
        path.write_bytes(media[name])
        out = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True, cwd=REPO)
        seconds, peak_mb = map(float, out.stdout.split()[-2:])
        peaks[name] = (seconds, peak_mb)
    (short_s, short_mb), (long_s, long_mb) = peaks["mp3"], peaks["header_lies"]
    print(f"decoder child peak RSS {short_mb:.0f} MB for {short_s:.0f} s, {long_mb:.0f} MB for {long_s:.0f} s "
          f"({long_s * 16000 * 2 / 1e6:.0f} MB of PCM written)")
    assert long_s == pytest.approx(1801, abs=2) and long_mb < short_mb + 20
