"""Voice enrollment without models: key layout, cache keys, matching and the one-to-one assignment."""
from __future__ import annotations

import boto3
import numpy as np
import pytest
from moto import mock_aws

from gpu_worker.result import SpeakerTurn
from gpu_worker.voice_matching import (
    EnrolledVoice,
    clean_turns,
    display_names,
    match_voices,
    mean_embedding,
    windows,
)
from scribefleet.contract import ScribefleetError
from scribefleet.voices import cache_key, check_name, clip_key, list_clips, voice_name, voice_object_prefixes


def unit(*values: float) -> np.ndarray:
    v = np.zeros(192, dtype=np.float32)
    v[: len(values)] = values
    return v / np.linalg.norm(v)


# ---- keys -----------------------------------------------------------------------------------------------


def test_clip_keys_follow_the_documented_layout():
    assert clip_key("u1", "Ann", "interview.WAV") == "voices/u1/Ann.wav"
    assert clip_key("u1", "Ann", "phone.mp3", index=2) == "voices/u1/Ann/2.mp3"
    assert voice_name("u1", "voices/u1/Ann.wav") == "Ann"
    assert voice_name("u1", "voices/u1/Ann/2.mp3") == "Ann"
    assert voice_name("u1", "voices/u1/Mary Jo O'Neil.m4a") == "Mary Jo O'Neil"


@pytest.mark.parametrize("key", [
    "voices/u1/.cache/Ann.wav.abc.json",  # the worker's cache is not a clip
    "voices/u1/Ann",  # no extension, no folder: not a clip
    "voices/u1/",
    "voices/u2/Ann.wav",  # another user's clip is never one of u1's voices
    "voices/u10/Ann.wav",
    "uploads/u1/t1/Ann.wav",
])
def test_keys_that_are_not_clips_of_the_user(key):
    assert voice_name("u1", key) is None


@pytest.mark.parametrize("name", ["", "Ann.Lee", "a/b", " Ann", "Ann ", "-x", "x" * 65, ".cache"])
def test_names_that_would_break_the_prefix_rule_are_refused(name):
    with pytest.raises(ScribefleetError):
        check_name(name)


def test_user_ids_follow_the_contract():
    with pytest.raises(ScribefleetError):
        clip_key("../u2", "Ann", "a.wav")


def test_cache_key_sits_beside_the_clip_and_changes_with_the_etag():
    first = cache_key("u1", "voices/u1/Ann.wav", '"0cc175b9c0f1b6a831c399e269772661"')
    assert first == "voices/u1/.cache/Ann.wav.0cc175b9c0f1b6a831c399e269772661.json"
    assert cache_key("u1", "voices/u1/Ann/2.mp3", "9b2cf535f27731c974343645a3985328-3") == (
        "voices/u1/.cache/Ann/2.mp3.9b2cf535f27731c974343645a3985328-3.json")
    assert cache_key("u1", "voices/u1/Ann.wav", "92eb5ffee6ae2fec3ad71c777531578f") != first
    with pytest.raises(ValueError):
        cache_key("u1", "voices/u2/Ann.wav", "abc")  # never a cache object for another user's clip


def test_a_voice_prefixes_cover_its_clips_and_caches_and_no_other_voice():
    prefixes = voice_object_prefixes("u1", "Ann")
    mine = ["voices/u1/Ann.wav", "voices/u1/Ann/2.mp3", cache_key("u1", "voices/u1/Ann.wav", "e1"),
            cache_key("u1", "voices/u1/Ann/2.mp3", "e2")]
    others = ["voices/u1/Anna.wav", "voices/u1/Ann B.wav", cache_key("u1", "voices/u1/Anna.wav", "e3"), "voices/u2/Ann.wav"]
    assert all(any(k.startswith(p) for p in prefixes) for k in mine)
    assert not any(k.startswith(p) for k in others for p in prefixes)


@mock_aws
def test_listing_reads_only_the_users_prefix():
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="input-bucket")
    for key in ["voices/u1/Ann.wav", "voices/u1/Ann/2.mp3", "voices/u1/Bob.m4a", "voices/u1/.cache/Ann.wav.x.json",
                "voices/u10/Eve.wav", "voices/u2/Eve.wav", "uploads/u1/t/a.wav"]:
        s3.put_object(Bucket="input-bucket", Key=key, Body=b"x")
    clips = list_clips(s3, "input-bucket", "u1")
    assert {name: [c.key for c in cs] for name, cs in clips.items()} == {
        "Ann": ["voices/u1/Ann.wav", "voices/u1/Ann/2.mp3"], "Bob": ["voices/u1/Bob.m4a"]}
    assert all(c.etag and '"' not in c.etag for cs in clips.values() for c in cs)


# ---- matching ---------------------------------------------------------------------------------------------


def test_windows_take_the_longest_speech_first_within_the_budget():
    pieces = windows([(0.0, 0.5), (10.0, 19.0), (30.0, 32.0)], budget=10.0)
    assert pieces[:3] == [(10.0, 13.0), (13.0, 16.0), (16.0, 19.0)]  # 9 s cut evenly, no window over 4 s
    assert pieces[3] == (30.0, 32.0)
    assert all(e - s >= 1.0 for s, e in pieces)  # the 0.5 s blip is left out while longer speech exists
    assert windows([(0.0, 0.5)]) == [(0.0, 0.5)]  # ... but used when it is all there is


def test_clean_turns_cut_out_overlapped_speech():
    turns = [SpeakerTurn(0.0, 5.0, "A"), SpeakerTurn(4.0, 8.0, "B"), SpeakerTurn(7.5, 9.0, "A")]
    assert clean_turns(turns) == {"A": [(0.0, 4.0), (8.0, 9.0)], "B": [(5.0, 7.5)]}


def test_mean_embedding_is_normalised():
    m = mean_embedding(np.stack([unit(1, 0), unit(0, 1)]))
    assert np.linalg.norm(m) == pytest.approx(1.0) and m[0] == pytest.approx(m[1])
    assert mean_embedding(np.zeros((0, 192))) is None


def test_matches_are_one_to_one_and_maximise_the_total():
    # Greedy would give S0 to Ann (0.95) and leave S1 with Bob at 0.2; the assignment pairs S0-Bob, S1-Ann.
    speakers = {"S0": unit(1, 0.33), "S1": unit(1, -0.9)}
    ann, bob = unit(1, 0), unit(1, 1)
    voices = [EnrolledVoice("Ann", ann), EnrolledVoice("Bob", bob)]
    scores = {(s, v.name): float(e @ v.embedding) for s, e in speakers.items() for v in voices}
    assert scores[("S0", "Ann")] > scores[("S0", "Bob")]
    matches = match_voices(speakers, voices, threshold=0.0)
    assert [(m.speaker, m.name) for m in matches] == [("S0", "Bob"), ("S1", "Ann")]


def test_nobody_is_named_below_the_threshold_and_no_name_is_used_twice():
    speakers = {"S0": unit(1, 0), "S1": unit(0.99, 0.1), "S2": unit(0, 1)}
    voices = [EnrolledVoice("Ann", unit(1, 0))]
    matches = match_voices(speakers, voices, threshold=0.5)
    assert [(m.speaker, m.name) for m in matches] == [("S0", "Ann")]
    assert match_voices(speakers, [EnrolledVoice("Zed", unit(0, 0, 1))], threshold=0.5) == []
    assert match_voices({}, voices) == [] and match_voices(speakers, []) == []


def test_names_given_with_the_upload_win():
    labels = ["SPEAKER_00", "SPEAKER_01", "SPEAKER_02"]
    matched = {"SPEAKER_00": "Ann", "SPEAKER_02": "Bob"}
    assert display_names(labels, matched, None) == {"SPEAKER_00": "Ann", "SPEAKER_02": "Bob"}
    assert display_names(labels, matched, ["Host"]) == {"SPEAKER_00": "Host", "SPEAKER_02": "Bob"}
    # a name the user gave to someone else is not given twice
    assert display_names(labels, matched, ["Bob"]) == {"SPEAKER_00": "Bob"}


# ---- the upload rule -------------------------------------------------------------------------------------


def test_the_upload_rule_starts_no_job_for_voice_clips():
    import json
    from pathlib import Path

    from moto.events.models import EventPattern
    from samtranslator.yaml_helper import yaml_parse

    def object_created(key: str) -> dict:
        return {"source": "aws.s3", "detail-type": "Object Created", "account": "123456789012", "region": "us-east-1",
                "detail": {"bucket": {"name": "input-bucket"}, "object": {"key": key, "size": 10, "etag": "e"}}}

    template = yaml_parse((Path(__file__).resolve().parents[2] / "template.yaml").read_text())
    patterns = [e["Properties"]["Pattern"] for r in template["Resources"].values()
                for e in (r.get("Properties", {}).get("Events") or {}).values()
                if e.get("Type") == "EventBridgeRule" and e["Properties"]["Pattern"].get("detail-type") == ["Object Created"]]
    assert patterns, "no Object Created rule found in template.yaml"
    for pattern in patterns:
        matcher = EventPattern.load(json.dumps(pattern).replace('{"Ref": "InputBucket"}', '"input-bucket"'))
        assert matcher.matches_event(object_created("uploads/u1/t1/talk.mp4"))
        for key in ("voices/u1/Ann.wav", "voices/u1/Ann/2.mp3", "voices/u1/.cache/Ann.wav.e.json"):
            assert not matcher.matches_event(object_created(key)), key


def test_snorm_counts_a_hub_voices_scores_for_less():
    """bench_voices' cohort scoring (an experiment): a cluster exactly as close by cosine to two voices ranks the one
    that is close to every cohort voice (a hub) lower once normalised; the product's match takes the scorer."""
    from benchmarks.bench_voices import SNorm

    cohort = np.stack([unit(1, 0.1 * k, 0.1) for k in range(-3, 4)])  # all near the hub's direction
    voices = [EnrolledVoice("Hub", unit(1, 0, 0)), EnrolledVoice("Plain", unit(0, 0, 1))]
    cluster = {"S0": unit(1, 0, 1)}
    scores = SNorm(cohort)(cluster, voices)[0]
    assert float(cluster["S0"] @ voices[0].embedding) == pytest.approx(float(cluster["S0"] @ voices[1].embedding))
    assert scores[1] > scores[0]
    assert [m.name for m in match_voices(cluster, voices, threshold=-1e9, score=SNorm(cohort))] == ["Plain"]


def test_solo_spans_leave_out_talk_over():
    from benchmarks import real_speech
    from benchmarks.bench_voices import solo_spans

    turns = [real_speech.Turn(0.0, 4.0, "a"), real_speech.Turn(3.0, 6.0, "b")]
    rec = real_speech.Recording("x", real_speech.TEST, "unit", np.zeros(16000), turns, (0.0, 6.0))
    assert solo_spans(rec) == {"a": [(0.0, 3.0)], "b": [(4.0, 6.0)]}
