"""A user's vocabulary file: checked once with reasons that name the rule, read from S3, added to the job's options."""
from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from scribefleet.contract import ErrorCode, ScribefleetError
from scribefleet.ingest import UploadedObject
from scribefleet.options import parse_options, validate_options
from scribefleet.vocabulary import (
    MAX_VOCABULARY_BYTES,
    check_vocabulary,
    compile_rules,
    job_terms,
    load_user_vocabulary,
    parse_vocabulary,
    vocabulary_key,
    with_user_vocabulary,
)

BUCKET = "input"
GOOD = {
    "terms": ["Veltrista", "Quorvane"],
    "rules": [
        {"phrase": "mel trista", "replacement": "Veltrista"},
        {"pattern": r"(?i)\bquor\s*vane\b", "replacement": "Quorvane"},
        {"pattern": r"(?P<n>\d+) percent", "replacement": r"\g<n> %"},
        {"phrase": "um", "replacement": ""},
    ],
}


def reason(document) -> str:
    with pytest.raises(ScribefleetError) as caught:
        check_vocabulary(document, "settings/u/vocabulary.json")
    assert caught.value.code == ErrorCode.INVALID_OPTIONS
    message = caught.value.message
    assert message.startswith("settings/u/vocabulary.json: ")
    assert "Traceback" not in message and "Error(" not in message and "regex." not in message
    return message


def test_a_good_vocabulary_passes_unchanged():
    assert check_vocabulary(GOOD) == GOOD
    assert [r.kind for r in compile_rules(GOOD)] == ["phrase", "pattern", "pattern", "phrase"]
    assert check_vocabulary({}) == {}


@pytest.mark.parametrize("document, expected", [
    ([], "[] is not of type 'object'"),
    ({"words": []}, "'words' was unexpected"),
    ({"terms": ["ok", "  "]}, "terms[1]: a term must not be blank"),
    ({"terms": ["x" * 65]}, "terms[0]: "),
    ({"rules": [{"phrase": "a", "replacement": "b"}, {"replacement": "b"}]}, "rules[1]: a rule needs 'phrase'"),
    ({"rules": [{"phrase": "a", "pattern": "a", "replacement": "b"}]}, "rules[0]: give either 'phrase' or 'pattern', not both"),
    ({"rules": [{"phrase": "a"}]}, "rules[0]: 'replacement' is a required property"),
    ({"rules": [{"phrase": "...", "replacement": "b"}]}, "rules[0].phrase: the phrase has no letters or digits"),
    ({"rules": [{"phrase": "a", "replacement": 3}]}, "rules[0].replacement: 3 is not of type 'string'"),
])
def test_schema_errors_name_the_rule_and_the_problem(document, expected):
    assert expected in reason(document)


@pytest.mark.parametrize("rule, expected", [
    ({"pattern": "(ab", "replacement": "x"}, "rules[2].pattern: not a valid regular expression (missing ) at position 3)"),
    ({"pattern": "a*", "replacement": "x"}, "rules[2].pattern: matches empty text"),
    ({"pattern": "(ab)", "replacement": r"\2"}, "rules[2].replacement: group 2 does not exist; the pattern has 1 group(s)"),
    ({"pattern": "(ab)", "replacement": r"\g<who>"}, "rules[2].replacement: the pattern has no group named 'who'"),
    ({"pattern": "ab", "replacement": r"\q"}, "rules[2].replacement: '\\q' is not a group reference"),
])
def test_rules_that_cannot_work_are_refused_before_any_audio_is_touched(rule, expected):
    document = {"rules": [{"phrase": "fine", "replacement": "ok"}, {"pattern": "ok", "replacement": "ok"}, rule]}
    assert expected in reason(document)


def test_replacement_templates_expand_groups_and_escaped_backslashes():
    [rule] = compile_rules({"rules": [{"pattern": r"(\w+)-(?P<b>\w+)", "replacement": r"\2\\\g<1>\g<b>!"}]})
    assert rule.expand(rule.compiled.search("take-two")) == "two\\taketwo!"


def test_phrases_ignore_case_and_match_whole_words_only():
    [rule] = compile_rules({"rules": [{"phrase": "mel  trista", "replacement": "Veltrista"}]})
    assert rule.compiled.search("and MEL\nTrista, said") and rule.compiled.search("Mel trista.")
    assert not rule.compiled.search("camel trista") and not rule.compiled.search("mel tristan")
    [literal] = compile_rules({"rules": [{"phrase": "a.b (c)", "replacement": r"\1"}]})
    assert literal.compiled.search("see A.B (C) now") and literal.expand(literal.compiled.search("a.b (c)")) == r"\1"


@pytest.mark.parametrize("raw, expected", [
    (b'{"terms": ["a",]}', "not valid JSON (line 1, column 16: "),
    (b"\xff\xfe{}", "the file is not UTF-8 text"),
    (b" " * (MAX_VOCABULARY_BYTES + 1), f"the file is {MAX_VOCABULARY_BYTES + 1} bytes; the limit is {MAX_VOCABULARY_BYTES}"),
])
def test_unreadable_files_say_why(raw, expected):
    with pytest.raises(ScribefleetError) as caught:
        parse_vocabulary(raw, "settings/u/vocabulary.json")
    assert caught.value.code == ErrorCode.INVALID_OPTIONS and expected in caught.value.message


def test_the_key_is_per_user_and_checks_the_id():
    assert vocabulary_key("me") == "settings/me/vocabulary.json"
    with pytest.raises(ScribefleetError) as caught:
        vocabulary_key("../other")
    assert caught.value.code == ErrorCode.BAD_KEY


def test_job_terms_put_the_users_first_and_each_once():
    options = {"vocabulary": {"terms": ["Veltrista", "Quorvane"]}, "terms": ["quorvane", "Skarrow", " Lumidex "]}
    assert job_terms(options) == ["Veltrista", "Quorvane", "Skarrow", "Lumidex"]
    assert job_terms({}) == []


# ---------------------------------------------------------------- options: job terms, task, confidence threshold
def test_upload_metadata_carries_terms_task_and_threshold():
    options = parse_options({"terms": "Veltrista, Quorvane", "task": "translate", "low-confidence": "0.35"})
    assert options == {"terms": ["Veltrista", "Quorvane"], "task": "translate", "low_confidence": 0.35}


@pytest.mark.parametrize("metadata, expected", [
    ({"task": "summarise"}, "task: 'summarise' is not one of"),
    ({"low-confidence": "nan"}, "option 'low_confidence' must be a number"),
    ({"low-confidence": "1.5"}, "low_confidence: 1.5 is greater than the maximum of 1"),
    ({"vocabulary": '{"terms": ["x"]}'}, "vocabulary is not an upload option"),
])
def test_bad_option_values_are_invalid_options(metadata, expected):
    with pytest.raises(ScribefleetError) as caught:
        parse_options(metadata)
    assert caught.value.code == ErrorCode.INVALID_OPTIONS and expected in caught.value.message


def test_the_options_schema_holds_the_vocabulary_to_the_vocabulary_schema():
    assert validate_options({"vocabulary": GOOD}) == {"vocabulary": GOOD}
    with pytest.raises(ScribefleetError) as caught:
        validate_options({"vocabulary": {"rules": [{"phrase": "a", "replace": "b"}]}})
    assert caught.value.message.startswith("vocabulary.rules.0: ")


# ---------------------------------------------------------------- S3: settings/<userId>/vocabulary.json
@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        yield client


def test_no_file_means_no_vocabulary_and_options_unchanged(s3):
    assert load_user_vocabulary(s3, BUCKET, "me") is None
    assert with_user_vocabulary({"speakers": 2}, s3, BUCKET, "me") == {"speakers": 2}


def test_the_users_file_is_read_checked_and_added_to_the_options(s3):
    s3.put_object(Bucket=BUCKET, Key="settings/me/vocabulary.json", Body=json.dumps(GOOD).encode())
    s3.put_object(Bucket=BUCKET, Key="settings/other/vocabulary.json", Body=b'{"terms": ["Theirs"]}')
    options = with_user_vocabulary({"terms": ["Skarrow"]}, s3, BUCKET, "me")
    assert options == {"terms": ["Skarrow"], "vocabulary": GOOD}
    assert validate_options(options) == options  # what the probe hands on still passes the one options schema


def test_a_broken_file_fails_with_its_key_and_the_rule(s3):
    s3.put_object(Bucket=BUCKET, Key="settings/me/vocabulary.json", Body=b'{"rules": [{"pattern": "[a-", "replacement": "x"}]}')
    with pytest.raises(ScribefleetError) as caught:
        with_user_vocabulary({}, s3, BUCKET, "me")
    assert caught.value.code == ErrorCode.INVALID_OPTIONS
    assert caught.value.message.startswith("settings/me/vocabulary.json: rules[0].pattern: not a valid regular expression")


def test_an_oversized_file_is_refused_from_its_length(s3):
    s3.put_object(Bucket=BUCKET, Key="settings/me/vocabulary.json", Body=b" " * (MAX_VOCABULARY_BYTES + 10))
    with pytest.raises(ScribefleetError) as caught:
        load_user_vocabulary(s3, BUCKET, "me")
    assert "the limit is" in caught.value.message


# ---------------------------------------------------------------- settings/ uploads start no job
def object_created(key: str) -> dict:
    return {"source": "aws.s3", "detail-type": "Object Created", "account": "123456789012", "region": "us-east-1",
            "detail": {"bucket": {"name": BUCKET}, "object": {"key": key, "size": 10, "etag": "e"}}}


def test_the_upload_rule_starts_jobs_for_uploads_only_not_for_settings():
    from moto.events.models import EventPattern
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse((Path(__file__).resolve().parents[2] / "template.yaml").read_text())
    rules = [e["Properties"]["Pattern"] for r in template["Resources"].values()
             for e in (r.get("Properties", {}).get("Events") or {}).values() if e.get("Type") == "EventBridgeRule"]
    uploads = [p for p in rules if p.get("detail-type") == ["Object Created"]]
    assert uploads, "no Object Created rule found in template.yaml"
    for pattern in uploads:
        pattern = json.loads(json.dumps(pattern).replace('{"Ref": "InputBucket"}', f'"{BUCKET}"'))
        matcher = EventPattern.load(json.dumps(pattern))
        assert matcher.matches_event(object_created("uploads/me/t1/talk.mp4"))
        assert not matcher.matches_event(object_created("settings/me/vocabulary.json"))
    # and were such an event delivered anyway, StartJob would not read it as an upload of a user's media
    assert UploadedObject.from_eventbridge(object_created("settings/me/vocabulary.json")["detail"]).key.startswith("settings/")


# ---------------------------------------------------------------- the probe: the job carries the vocabulary, or fails
def probe_upload(s3):
    from scribefleet.probe import Limits, probe_media
    from tests.support.media import wav_bytes

    version = s3.put_object(Bucket=BUCKET, Key="uploads/me/t1/talk.wav", Body=wav_bytes(2.0))["VersionId"]
    return probe_media({"processId": "me-t1", "input": {"bucket": BUCKET, "key": "uploads/me/t1/talk.wav",
                                                         "versionId": version}}, s3, Limits())


def test_the_probe_puts_the_users_vocabulary_into_the_jobs_options(s3):
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=BUCKET, Key="settings/me/vocabulary.json", Body=json.dumps(GOOD).encode())
    result = probe_upload(s3)
    assert result["accepted"] and result["options"] == {"vocabulary": GOOD}


def test_the_probe_fails_the_job_on_a_broken_vocabulary_naming_the_rule(s3):
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=BUCKET, Key="settings/me/vocabulary.json",
                  Body=b'{"rules": [{"phrase": "ok", "replacement": "OK"}, {"pattern": "(x", "replacement": "y"}]}')
    result = probe_upload(s3)
    assert result == {"accepted": False, "error": {
        "code": "InvalidOptions",
        "message": "settings/me/vocabulary.json: rules[1].pattern: not a valid regular expression (missing ) at position 2)"}}
