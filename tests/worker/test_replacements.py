"""Replacement rules on the words of segments: the text changes, the timings stay sane, the report counts."""
from __future__ import annotations

import pytest

from gpu_worker.replacements import apply_rule, apply_rules
from gpu_worker.result import Segment, Word
from scribefleet.vocabulary import compile_rules


def segment(*spoken: tuple[str, float, float, float], speaker: str = "SPEAKER_00") -> Segment:
    """(text as whisper writes it, start, end, probability) per word."""
    words = [Word(start, end, text, probability, speaker) for text, start, end, probability in spoken]
    return Segment(words[0].start, words[-1].end, "".join(w.text for w in words).strip(), speaker, words)


def rules(*pairs: tuple[str, str, str]):
    return compile_rules({"rules": [{kind: find, "replacement": replacement} for kind, find, replacement in pairs]})


HEARD = segment((" Hello", 0.0, 0.4, 0.95), (" mel", 0.5, 0.8, 0.31), (" Trista,", 0.8, 1.2, 0.42),
                (" the", 1.3, 1.4, 0.9), (" rue", 1.5, 1.7, 0.2), (" my", 1.7, 1.8, 0.5), (" next", 1.8, 2.1, 0.6),
                (" grade.", 2.1, 2.5, 0.8))


def test_a_phrase_becomes_one_word_spanning_the_words_it_replaced():
    [out], [report] = apply_rules([HEARD], rules(("phrase", "MEL TRISTA", "Veltrista")))
    assert out.text == "Hello Veltrista, the rue my next grade."
    fixed = out.words[1]
    assert (fixed.text, fixed.start, fixed.end) == (" Veltrista,", 0.5, 1.2)  # punctuation outside the phrase kept
    assert fixed.probability == 0.31  # the least sure of the words it replaced
    assert out.words[0] == HEARD.words[0] and out.words[2:] == HEARD.words[3:]
    assert (out.start, out.end) == (HEARD.start, HEARD.end)
    assert report.to_dict() == {"index": 0, "phrase": "MEL TRISTA", "replacement": "Veltrista", "replacements": 1,
                                "timed_out": False}


def test_phrases_match_whole_words_in_any_case_and_write_the_replacement_as_given():
    text = segment((" Cara", 0, 1, 0.9), (" caravan", 1, 2, 0.9), (" CARA.", 2, 3, 0.9), (" scara", 3, 4, 0.9))
    [out], [report] = apply_rules([text], rules(("phrase", "cara", "Skarrow")))
    assert out.text == "Skarrow caravan Skarrow. scara"
    assert report.replacements == 2


def test_one_word_becoming_several_shares_its_time_in_order_without_overlap():
    [out], _ = apply_rules([HEARD], rules(("phrase", "grade", "colour grade pass")))
    new = out.words[-3:]
    assert [w.text for w in new] == [" colour", " grade", " pass."]
    assert new[0].start == 2.1 and new[-1].end == 2.5
    assert all(a.end <= b.start + 1e-9 and a.start < a.end for a, b in zip(new, new[1:]))
    assert all(w.probability == 0.8 for w in new)


def test_as_many_words_as_replaced_keep_their_own_times_and_probabilities():
    [out], _ = apply_rules([HEARD], rules(("phrase", "rue my next", "Lu mi dex")))
    assert [(w.text, w.start, w.end, w.probability) for w in out.words[4:7]] == [
        (" Lu", 1.5, 1.7, 0.2), (" mi", 1.7, 1.8, 0.5), (" dex", 1.8, 2.1, 0.6)]


def test_regex_groups_rules_in_order_and_matches_inside_words():
    said = segment((" 45", 0, 0.3, 0.9), (" percent", 0.3, 0.8, 0.9), (" of", 0.8, 0.9, 0.9), (" takes", 0.9, 1.3, 0.9))
    [out], reports = apply_rules([said], rules(
        ("pattern", r"(\d+) percent", r"\1 %"),
        ("pattern", r"(?<=\d) %", "%"),  # works on what the rule before it wrote
        ("pattern", r"ake", "AKE"),
    ))
    assert out.text == "45% of tAKEs"
    assert [r.replacements for r in reports] == [1, 1, 1]
    # "45 percent" → "45 %" word for word, then the space goes: "%" is written on to "45" but keeps its own time
    assert [(w.text, w.start, w.end) for w in out.words[:2]] == [(" 45", 0, 0.3), ("%", 0.3, 0.8)]


def test_two_matches_touching_one_word_edit_it_once():
    said = segment((" ab-cd", 0.0, 1.0, 0.9), (" ef", 1.0, 2.0, 0.9))
    [out], [report] = apply_rules([said], rules(("pattern", r"[a-z]{2}(?=-)|(?<=-)[a-z]{2}", "X")))
    assert out.text == "X-X ef" and report.replacements == 2
    assert [(w.start, w.end) for w in out.words] == [(0.0, 1.0), (1.0, 2.0)]


def test_an_empty_replacement_removes_words_and_an_emptied_segment_goes():
    um = segment((" um", 5.0, 5.3, 0.4), speaker="SPEAKER_01")
    out, reports = apply_rules([HEARD, um], rules(("phrase", "um", ""), ("phrase", "the", "")))
    assert [s.text for s in out] == ["Hello mel Trista, rue my next grade."]
    assert [r.replacements for r in reports] == [1, 1]


def test_a_rule_never_joins_two_segments():
    first = segment((" see", 0, 1, 0.9), (" mel", 1, 2, 0.9))
    second = segment((" Trista", 3, 4, 0.9), speaker="SPEAKER_01")
    out, [report] = apply_rules([first, second], rules(("phrase", "mel trista", "Veltrista")))
    assert out == [first, second] and report.replacements == 0


def test_a_match_on_the_space_before_a_word_joins_the_words():
    said = segment((" Bran", 0.0, 0.5, 0.9), (" noch", 0.5, 1.0, 0.7), (" says", 1.0, 1.4, 0.9))
    [out], _ = apply_rules([said], rules(("pattern", r"Bran\s+noch", "Brannoch")))
    assert [(w.text, w.start, w.end, w.probability) for w in out.words] == [
        (" Brannoch", 0.0, 1.0, 0.7), (" says", 1.0, 1.4, 0.9)]


def test_a_backtracking_pattern_times_out_is_reported_and_used_no_more():
    slow = segment((" " + "a" * 40 + "b", 0.0, 1.0, 0.9))
    fine = segment((" mel", 2.0, 2.5, 0.9), (" Trista", 2.5, 3.0, 0.9))
    out, reports = apply_rules([slow, fine, slow], rules(
        ("pattern", r"^((a+)+\2)+$|Trista", "X"), ("phrase", "mel trista", "Veltrista")), timeout=0.05)
    assert reports[0].timed_out and reports[0].replacements == 0  # stopped on the first segment: never reached "Trista"
    assert not reports[1].timed_out and reports[1].replacements == 1
    assert [s.text for s in out] == [slow.text, "Veltrista", slow.text]
    assert reports[0].to_dict()["timed_out"] is True


def test_no_rules_leave_segments_untouched():
    assert apply_rules([HEARD], []) == ([HEARD], [])
    words, count = apply_rule([], rules(("phrase", "a", "b"))[0])
    assert (words, count) == ([], 0)


@pytest.mark.parametrize("replacement", ["Veltrista", "V. Trista", ""])
def test_words_stay_in_order_inside_the_segment(replacement):
    [*out], _ = apply_rules([HEARD], rules(("phrase", "mel trista", replacement)))
    words = out[0].words
    assert all(a.end <= b.start + 1e-9 for a, b in zip(words, words[1:]))
    assert all(HEARD.start <= w.start <= w.end <= HEARD.end for w in words)
