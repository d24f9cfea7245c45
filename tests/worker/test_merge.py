"""Merging words with speaker turns: table-driven, pure functions."""
from __future__ import annotations

import pytest

from gpu_worker.merge import (
    assign_speakers,
    group_segments,
    relabel_by_appearance,
    snap_changes_to_sentence_ends,
    speaker_names,
)
from gpu_worker.result import SpeakerTurn, Word


def w(start: float, end: float, text: str = " w", speaker: str | None = None) -> Word:
    return Word(start, end, text, 0.9, speaker)


T = SpeakerTurn
TWO = [T(0.0, 2.0, "A"), T(2.5, 5.0, "B")]


@pytest.mark.parametrize(
    "word, turns, expected",
    [
        (w(0.5, 0.9), TWO, "A"),  # inside a turn
        (w(3.0, 3.4), TWO, "B"),
        (w(1.75, 2.75), TWO, "A"),  # 0.25 s in A and 0.25 s in B: a tie goes to the earlier turn
        (w(1.9, 2.9), TWO, "B"),  # 0.1 s in A, 0.4 s in B
        (w(2.1, 2.3), TWO, "A"),  # in the gap, 0.1 s from A and 0.2 s from B → nearest
        (w(2.3, 2.45), TWO, "B"),  # in the gap, nearer B
        (w(6.0, 6.5), TWO, "B"),  # after every turn
        (w(-0.5, -0.1), [T(0.2, 1.0, "A"), T(1.0, 2.0, "B")], "A"),  # before every turn
        (w(1.0, 2.0), [T(0.0, 3.0, "A"), T(1.2, 1.8, "B")], "A"),  # overlapped speech: largest overlap wins
        (w(1.0, 2.0), [T(0.0, 1.1, "A"), T(0.5, 3.0, "B"), T(1.5, 1.6, "C")], "B"),  # long earlier turn still found
        (w(1.0, 2.0), [T(1.5, 3.0, "B"), T(0.0, 1.6, "A")], "A"),  # unsorted turns
    ],
)
def test_assign_speakers_by_largest_overlap_else_nearest(word, turns, expected):
    assert assign_speakers([word], turns)[0].speaker == expected


def test_assign_speakers_keeps_words_and_does_not_mutate():
    words = [w(0.1, 0.5, " Hello"), w(2.6, 3.0, " there")]
    labelled = assign_speakers(words, TWO)
    assert [(x.start, x.end, x.text, x.speaker) for x in labelled] == [(0.1, 0.5, " Hello", "A"), (2.6, 3.0, " there", "B")]
    assert all(x.speaker is None for x in words)


def test_assign_speakers_without_turns_leaves_speaker_unknown():
    assert [x.speaker for x in assign_speakers([w(0, 1, speaker="X")], [])] == [None]


def test_assign_speakers_scales_to_long_meetings():
    turns = [T(i * 2.0, i * 2.0 + 1.9, f"S{i % 4}") for i in range(2000)]
    words = [w(i * 0.5, i * 0.5 + 0.3) for i in range(8000)]
    labelled = assign_speakers(words, turns)
    assert [x.speaker for x in labelled[:8]] == ["S0"] * 4 + ["S1"] * 4


def said(text: str) -> list[Word]:
    """'Thank you. A|Yes B' → words 0.5 s apart, each labelled with the speaker after its bar."""
    out = []
    for i, token in enumerate(text.split()):
        word, speaker = token.split("|")
        out.append(w(i * 0.5, i * 0.5 + 0.4, f" {word}", speaker))
    return out


@pytest.mark.parametrize(
    "text, expected",
    [
        # a turn's last word stretched into the next turn (the commonest slip): back to its sentence
        ("Thank|A you.|B Yes|B", "AAB"),
        # the next turn's first word pulled into the previous one: forward to the sentence that starts there
        ("Thank|A you.|A Yes|A sir|B", "AABB"),
        ("Thank|A you.|A Yes|B", "AAB"),  # already at a sentence end: untouched
        ("one|A two|A three|B four|B", "AABB"),  # no sentence end near: untouched
        ("one.|A two|A three|A four|B five|B", "AAABB"),  # the end two words away is out of reach 1
        ("one|A two.|B three.|B", "AAB"),  # the nearest end wins
        ("a.|A b|A c.|B", "ABB"),  # ends on both sides, one word each: the earlier one
        ("Hi.|A Yes|B ok.|C", "ABC"),  # a boundary moves, a turn never vanishes: B's one word stays B's
        ("one|A two.|B", "AB"),  # the same at the end of the transcript
        ("a.|C b|A c|B", "CAB"),  # and moving back: A's one word stays A's
        ("Well|A so.|B Yes.|B", "AAB"),  # a sentence stays whole where the next turn goes on after it
    ],
)
def test_changes_of_speaker_move_to_the_nearest_sentence_end(text, expected):
    words = said(text)
    snapped = snap_changes_to_sentence_ends(words)
    assert "".join(str(x.speaker) for x in snapped) == expected
    assert [(x.start, x.end, x.text) for x in snapped] == [(x.start, x.end, x.text) for x in words]  # only labels move


def test_snapping_does_not_mutate_and_reaches_as_far_as_told():
    words = said("one.|A two|A three|A four|B")
    assert "".join(x.speaker for x in snap_changes_to_sentence_ends(words, reach=2)) == "ABBB"
    assert "".join(x.speaker for x in words) == "AAAB"
    assert snap_changes_to_sentence_ends([]) == []


@pytest.mark.parametrize(
    "words, expected",
    [
        ([], []),
        # speaker change splits
        ([w(0, 0.5, " Hi", "A"), w(0.6, 1.0, " there.", "A"), w(1.1, 1.5, " Yes.", "B")],
         [("A", "Hi there.", 0, 1.0), ("B", "Yes.", 1.1, 1.5)]),
        # long pause splits even for the same speaker
        ([w(0, 0.5, " One.", "A"), w(3.0, 3.5, " Two.", "A")], [("A", "One.", 0, 0.5), ("A", "Two.", 3.0, 3.5)]),
        # short pause does not
        ([w(0, 0.5, " One", "A"), w(1.0, 1.5, " two", "A")], [("A", "One two", 0, 1.5)]),
        # unknown speaker groups too
        ([w(0, 0.5, " a"), w(0.6, 1.0, " b")], [(None, "a b", 0, 1.0)]),
    ],
)
def test_group_segments(words, expected):
    segments = group_segments(words, max_pause=1.5, max_duration=20)
    assert [(s.speaker, s.text, s.start, s.end) for s in segments] == expected
    assert sum(len(s.words) for s in segments) == len(words)


def test_group_segments_splits_long_monologue_at_sentence_end():
    words = [w(i, i + 0.8, " word." if i % 7 == 6 else " word", "A") for i in range(30)]
    segments = group_segments(words, max_pause=1.5, max_duration=10)
    assert all(s.end - s.start <= 10 for s in segments)
    assert all(s.text.endswith(".") for s in segments[:-1])  # cuts fall after sentence ends
    assert [x for s in segments for x in s.words] == words


def test_group_segments_hard_split_without_punctuation():
    words = [w(i * 0.5, i * 0.5 + 0.4, " la", "A") for i in range(100)]
    segments = group_segments(words, max_pause=1.5, max_duration=10)
    assert len(segments) >= 5 and all(s.end - s.start <= 10 for s in segments)


def test_relabel_by_first_appearance_and_names():
    words = [w(0, 1, speaker="SPK_7"), w(1, 2, speaker=None), w(2, 3, speaker="SPK_2"), w(3, 4, speaker="SPK_7")]
    renamed, labels = relabel_by_appearance(words)
    assert [x.speaker for x in renamed] == ["SPEAKER_00", None, "SPEAKER_01", "SPEAKER_00"]
    assert labels == ["SPEAKER_00", "SPEAKER_01"]


@pytest.mark.parametrize(
    "names, expected",
    [
        (None, {}),
        ([], {}),
        (["Ann", "Bob"], {"SPEAKER_00": "Ann", "SPEAKER_01": "Bob"}),
        (["Ann"], {"SPEAKER_00": "Ann"}),  # the second speaker keeps its label
        (["Ann", "Bob", "Cy"], {"SPEAKER_00": "Ann", "SPEAKER_01": "Bob"}),  # more names than voices
    ],
)
def test_speaker_names_in_order_of_appearance(names, expected):
    assert speaker_names(["SPEAKER_00", "SPEAKER_01"], names) == expected
