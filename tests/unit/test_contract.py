"""Ids, key layout and execution names: the vocabulary every component shares."""
import re
from pathlib import Path

import pytest

from scribefleet.contract import (
    ErrorCode, ScribefleetError, execution_name, output_prefix, output_stem, parse_event_key, parse_input_key, process_id,
)
from scribefleet.options import parse_options


def test_key_parses_into_ids_and_process_id():
    key = parse_input_key("uploads/user_1/t-9/My Interview (take 2).mov")
    assert (key.user_id, key.transcript_id, key.file_name) == ("user_1", "t-9", "My Interview (take 2).mov")
    assert key.process_id == process_id("user_1", "t-9") == "user_1-t-9"


@pytest.mark.parametrize(
    "key",
    ["other/u/t/a.wav", "uploads/u/a.wav", "uploads/u/t/", "uploads/u/t/sub/a.wav", "uploads/u.x/t/a.wav",
     "uploads/u/" + "x" * 65 + "/a.wav", "uploads//t/a.wav", "uploads/u/t/..", "uploads/../t/a.wav",
     "uploads/a-b/c/x.wav", "uploads/invalid/0123456789abcdef/x.wav"],
)
def test_bad_keys_are_rejected_with_a_reason(key):
    with pytest.raises(ScribefleetError) as caught:
        parse_input_key(key)
    assert caught.value.code == "BadKey" and len(caught.value.message) > 15


def test_one_process_id_names_one_upload_folder():
    """The process id is `userId-transcriptId` and a transcript id may hold "-", so a user id may not: else
    uploads/a-b/c/ and uploads/a/b-c/ would share a-b-c and the second upload would be taken for a duplicate of the
    first. A process id splits back at its first "-"; `invalid-…` (keys that cannot be parsed) is nobody's."""
    from scribefleet.ingest import identify

    key = parse_input_key("uploads/a/b-c/x.wav")
    assert key.process_id == "a-b-c" and key.process_id.split("-", 1) == [key.user_id, key.transcript_id]
    with pytest.raises(ScribefleetError, match="no '-'"):
        parse_input_key("uploads/a-b/c/x.wav")
    refused = identify("uploads/a-b/c/x.wav")
    assert refused["userId"] == "invalid" and refused["processId"] == process_id("invalid", refused["transcriptId"])
    with pytest.raises(ScribefleetError, match="reserved"):  # so no user's job can take a refused key's id
        parse_input_key(f"uploads/invalid/{refused['transcriptId']}/x.wav")


def test_event_keys_are_tried_raw_then_url_decoded():
    assert parse_event_key("uploads/u/t/a+b.wav").file_name == "a+b.wav"
    assert parse_event_key("uploads/u/t/a%3Ab.wav").file_name == "a%3Ab.wav"  # raw form is valid: kept as given
    assert parse_event_key("uploads%2Fu%2Ft%2Fa.wav").file_name == "a.wav"


def test_ids_that_parse_only_once_decoded_are_refused_when_the_key_has_literal_slashes():
    """`uploads/victim%2Ft1%2Fa.wav` is a real object anyone with write access under uploads/ may create; recorded under
    victim-t1 it would block the victim's own upload of that id."""
    from scribefleet.ingest import identify

    with pytest.raises(ScribefleetError) as caught:
        parse_event_key("uploads/victim%2Ft1%2Fa.wav")
    assert caught.value.code == ErrorCode.BAD_KEY
    assert identify("uploads/victim%2Ft1%2Fa.wav")["processId"].startswith("invalid-")
    assert identify("uploads/victim/t1/a%2Fb.wav")["processId"] == "victim-t1"  # an encoded file name is the user's own


@pytest.mark.parametrize(("name", "stem"), [("a.wav", "a"), ("../../etc/passwd", "passwd"), ("a\\..\\b.wav", "b"), (".hidden", "hidden"),
                                            ("x" * 300 + ".mp3", "x" * 120), ("東京 take.mp4", "東京 take"), ("...", "transcript")])
def test_output_stems_never_contain_path_pieces(name, stem):
    assert output_stem(name) == stem and "/" not in output_stem(name)


def test_output_prefix_only_from_valid_ids():
    assert output_prefix("u", "t") == "transcripts/u/t/"
    with pytest.raises(ScribefleetError):
        output_prefix("../u", "t")


def test_execution_names_are_deterministic_short_and_valid():
    long_pid = process_id("u" * 64, "t" * 64)
    name = execution_name(long_pid, "version-1")
    assert len(name) <= 80 and re.fullmatch(r"[A-Za-z0-9_-]+", name)
    assert name == execution_name(long_pid, "version-1") != execution_name(long_pid, "version-2")
    assert execution_name("u-t", "v").startswith("u-t-")


def test_options_from_metadata_are_typed_and_validated():
    assert parse_options({"language": "de", "min-speakers": "2", "max_speakers": "4", "formats": "srt, vtt",
                          "speaker-names": "Ann,Bob", "frame-rate": "29.97"}) == {
        "language": "de", "min_speakers": 2, "max_speakers": 4, "formats": ["srt", "vtt"],
        "speaker_names": ["Ann", "Bob"], "frame_rate": 29.97}


def test_non_ascii_metadata_comes_back_as_the_user_wrote_it():
    """S3 answers a non US-ASCII metadata value as RFC 2047 encoded words (S3 User Guide, Working with object
    metadata); an ASCII value that merely contains "=?", or words that do not decode, are left alone."""
    from email.header import Header

    from scribefleet.options import metadata_text

    encoded = Header("José, Zoë", "utf-8").encode()  # what HeadObject returns for speaker-names "José, Zoë"
    assert encoded.startswith("=?utf-8?b?")
    assert parse_options({"speaker-names": encoded})["speaker_names"] == ["José", "Zoë"]
    assert metadata_text("a=?b") == "a=?b" and metadata_text("=?bogus?X?zz?=") == "=?bogus?X?zz?="


@pytest.mark.parametrize(
    ("metadata", "fragment"),
    [({"min-speakers": "3", "max-speakers": "2"}, "greater"), ({"formats": "pdf"}, "pdf"), ({"frame-rate": "12"}, "frame_rate"),
     ({"language": "zz"}, "zz"), ({"speakers": "0"}, "speakers"), ({"hotwords": "x" * 501}, "hotwords")],
)
def test_bad_options_say_which_option(metadata, fragment):
    with pytest.raises(ScribefleetError) as caught:
        parse_options(metadata)
    assert caught.value.code == "InvalidOptions" and fragment in caught.value.message


def test_start_timecode_option_for_editor_formats():
    assert parse_options({"start-timecode": "01:00:00:00"}) == {"start_timecode": "01:00:00:00"}
    with pytest.raises(ScribefleetError) as caught:
        parse_options({"start-timecode": "1h"})
    assert "start_timecode" in caught.value.message


def test_the_template_deploys_the_code_defaults():
    """A value with a code default and a template parameter has one owner, the code: the parameter's default
    must be that value, so a deployment with default parameters runs what the tests and the simulator ran."""
    from samtranslator.yaml_helper import yaml_parse

    from gpu_worker.config import WorkerConfig
    from scribefleet.contract import MAX_AUDIO_SECONDS
    from scribefleet.probe import Limits
    from scribefleet.scaling import PolicyParams

    template = yaml_parse((Path(__file__).resolve().parents[2] / "template.yaml").read_text())
    default = {name: float(p["Default"]) for name, p in template["Parameters"].items() if p["Type"] == "Number"}
    assert default["MaxAudioSeconds"] == MAX_AUDIO_SECONDS == Limits().max_audio_seconds == WorkerConfig().max_audio_seconds
    assert default["ScalerRealTimeFactor"] == PolicyParams().rtf
    assert default["WorkerBootSeconds"] == PolicyParams().boot_seconds
