"""`scribefleet vocabulary set/show/remove` against a moto bucket: a file is checked before it is stored."""
from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from scribefleet_tools import cli, vocabulary_cli
from scribefleet_tools.target import Target

BUCKET = "input"
KEY = "settings/me/vocabulary.json"


@pytest.fixture
def s3(monkeypatch):
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        monkeypatch.setattr(vocabulary_cli, "resolve_target", lambda args: Target({"InputBucketName": BUCKET}, "test", "us-east-1"))
        yield client


def test_set_stores_a_checked_file_and_show_prints_it(s3, tmp_path, capsys):
    document = {"terms": ["Veltrista"], "rules": [{"phrase": "mel trista", "replacement": "Veltrista"}]}
    path = tmp_path / "vocabulary.json"
    path.write_text(json.dumps(document))
    assert cli.main(["vocabulary", "set", str(path), "--user", "me"]) == 0
    assert f"s3://{BUCKET}/{KEY}: 1 terms, 1 rules" in capsys.readouterr().out
    assert json.loads(s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read()) == document
    assert cli.main(["vocabulary", "show", "--user", "me"]) == 0
    assert json.loads(capsys.readouterr().out) == document


def test_a_broken_file_is_refused_with_the_reason_and_nothing_is_stored(s3, tmp_path, capsys):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"rules": [{"pattern": "(unclosed", "replacement": "x"}]}))
    assert cli.main(["vocabulary", "set", str(path), "--user", "me"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "mine.json: rules[0].pattern: not a valid regular expression (missing ) at position 9)"
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_show_without_a_vocabulary_and_remove(s3, tmp_path, capsys):
    assert cli.main(["vocabulary", "show", "--user", "me"]) == 1
    assert "user me has no vocabulary" in capsys.readouterr().err
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b'{"terms": ["x"]}')
    assert cli.main(["vocabulary", "remove", "--user", "me"]) == 0
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_a_bad_user_id_is_refused(s3, capsys):
    assert cli.main(["vocabulary", "show", "--user", "a/b"]) == 2
    assert "userId 'a/b'" in capsys.readouterr().err


def test_submit_passes_terms_task_and_threshold_as_metadata():
    args = cli.build_parser().parse_args(["submit", "a.wav", "--user", "me", "--terms", "Veltrista,Quorvane",
                                          "--task", "translate", "--low-confidence", "0.4"])
    assert cli.submit_metadata(args) == {"terms": "Veltrista,Quorvane", "task": "translate", "low-confidence": "0.4"}
