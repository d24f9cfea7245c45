"""`scribefleet voices add/list/remove` against a moto bucket with versioning on, as the template makes it."""
from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from scribefleet.voices import cache_key
from scribefleet_tools import cli, voices_cli
from scribefleet_tools.target import Target
from tests.support.media import wav_bytes

BUCKET = "input-bucket"


@pytest.fixture
def s3(monkeypatch):
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        monkeypatch.setattr(voices_cli, "resolve_target", lambda args: Target({"InputBucketName": BUCKET}, "test", "us-east-1"))
        yield client


def keys(s3) -> list[str]:
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_add_stores_the_first_clip_and_then_further_ones(s3, tmp_path, capsys):
    first, second = tmp_path / "ann.wav", tmp_path / "phone.MP3"
    first.write_bytes(wav_bytes(1.0))
    second.write_bytes(wav_bytes(1.0))
    assert cli.main(["voices", "add", "Ann", str(first), "--user", "me"]) == 0
    assert cli.main(["voices", "add", "Ann", str(second), "--user", "me"]) == 0
    assert cli.main(["voices", "add", "Ann", str(first), "--user", "me"]) == 0
    assert keys(s3) == ["voices/me/Ann.wav", "voices/me/Ann/1.mp3", "voices/me/Ann/2.wav"]
    assert "clip 3 of Ann" in capsys.readouterr().out


def test_add_refuses_bad_names_and_files_that_are_not_media(s3, tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not audio\n" * 20)
    assert cli.main(["voices", "add", "Ann", str(text), "--user", "me"]) == 2
    assert "not usable as a voice clip" in capsys.readouterr().err
    clip = tmp_path / "a.wav"
    clip.write_bytes(wav_bytes(1.0))
    assert cli.main(["voices", "add", "Dr. Ann", str(clip), "--user", "me"]) == 2
    assert "no dots" in capsys.readouterr().err
    assert cli.main(["voices", "add", "Ann", str(clip), "--user", "../other"]) == 2
    assert keys(s3) == []


def test_list_shows_clips_and_whether_the_worker_embedded_them(s3, capsys):
    etag = s3.put_object(Bucket=BUCKET, Key="voices/me/Ann.wav", Body=b"a")["ETag"]
    s3.put_object(Bucket=BUCKET, Key="voices/me/Bob.m4a", Body=b"b")
    s3.put_object(Bucket=BUCKET, Key=cache_key("me", "voices/me/Ann.wav", etag), Body=b"{}")
    s3.put_object(Bucket=BUCKET, Key="voices/other/Eve.wav", Body=b"e")
    assert cli.main(["voices", "list", "--user", "me"]) == 0
    out = capsys.readouterr().out
    assert "Ann: 1 clip" in out and "voices/me/Ann.wav  1 bytes  embedded" in out
    assert "voices/me/Bob.m4a  1 bytes  not yet embedded" in out and "Eve" not in out
    assert cli.main(["voices", "list", "--user", "nobody"]) == 1


def test_remove_deletes_every_version_of_clips_and_caches_and_nothing_else(s3, capsys):
    for body in (b"old", b"new"):  # two versions: the old one must not survive either
        etag = s3.put_object(Bucket=BUCKET, Key="voices/me/Ann.wav", Body=body)["ETag"]
        s3.put_object(Bucket=BUCKET, Key=cache_key("me", "voices/me/Ann.wav", etag), Body=b"{}")
    s3.put_object(Bucket=BUCKET, Key="voices/me/Ann/1.mp3", Body=b"x")
    s3.put_object(Bucket=BUCKET, Key="voices/me/Anna.wav", Body=b"y")
    s3.put_object(Bucket=BUCKET, Key="voices/other/Ann.wav", Body=b"z")
    assert cli.main(["voices", "remove", "Ann", "--user", "me"]) == 0
    assert "5 object versions" in capsys.readouterr().out
    versions = s3.list_object_versions(Bucket=BUCKET)
    left = sorted({v["Key"] for v in versions.get("Versions", []) + versions.get("DeleteMarkers", [])})
    assert left == ["voices/me/Anna.wav", "voices/other/Ann.wav"]
    assert cli.main(["voices", "remove", "Ann", "--user", "me"]) == 1
