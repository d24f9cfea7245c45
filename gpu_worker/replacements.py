"""A user's replacement rules applied to the words of each segment, keeping word timings.

Each rule runs over one segment's text (one speaker, as the words read) and every match becomes an edit of the
words it touches: the text around the match inside those words is kept, and the new words take their times.
When the edit has as many words as it replaced, each new word keeps its old word's times and probability (a name
fixed word for word keeps exact timings); otherwise the new words share the replaced span in proportion to their
length, with the lowest probability among the replaced words (a correction is no reason to trust the audio more).
A rule that runs past its timeout on a segment is not used again in that job and is reported as timed out.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

import regex

from gpu_worker.result import Segment, Word
from scribefleet.vocabulary import RULE_TIMEOUT_SECONDS, Rule

log = logging.getLogger(__name__)

_TOKEN = regex.compile(r"(\s*)(\S+)")


@dataclass
class RuleReport:
    """What one rule did in one job: listed in the json output."""

    rule: Rule
    replacements: int = 0
    timed_out: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {**self.rule.describe(), "replacements": self.replacements, "timed_out": self.timed_out}


@dataclass
class _Layout:
    """A segment's words as one text: word i occupies text[starts[i]:ends[i]], preceded by its separator."""

    words: list[Word]
    text: str = ""
    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    leads: list[str] = field(default_factory=list)  # " " when the word had leading whitespace, else ""

    def __post_init__(self) -> None:
        for i, word in enumerate(self.words):
            lead = " " if word.text[:1].isspace() else ""
            self.text += lead if i else ""
            self.starts.append(len(self.text))
            self.text += word.text.strip()
            self.ends.append(len(self.text))
            self.leads.append(lead)

    def chunk_start(self, i: int) -> int:
        """Where word i's separator begins: a match on the space before a word touches that word."""
        return self.starts[i] - (len(self.leads[i]) if i else 0)

    def touched(self, start: int, end: int) -> tuple[int, int]:
        """First and last index of the words whose text or separator overlaps text[start:end]."""
        hit = [i for i in range(len(self.words)) if self.chunk_start(i) < end and start < self.ends[i]]
        return hit[0], hit[-1]


def _new_words(text: str, old: list[Word]) -> list[Word]:
    """The edited text's words (leading whitespace kept as one space, as whisper writes words) in the old words' span."""
    tokens = [(bool(m.group(1)), m.group(2)) for m in _TOKEN.finditer(text)]
    if not tokens:
        return []
    if len(tokens) == len(old):
        return [replace(w, text=(" " if spaced else "") + token) for w, (spaced, token) in zip(old, tokens)]
    start, end = old[0].start, max(old[-1].end, old[0].start)
    total = sum(len(token) for _, token in tokens)
    probability = min(w.probability for w in old)
    words, at = [], start
    for spaced, token in tokens:
        length = (end - start) * len(token) / total
        words.append(Word(start=round(at, 3), end=round(at + length, 3), text=(" " if spaced else "") + token,
                          probability=probability, speaker=old[0].speaker))
        at += length
    words[-1].end = end  # rounding must not leave the span short of where the replaced words ended
    return words


def apply_rule(words: list[Word], rule: Rule, timeout: float = RULE_TIMEOUT_SECONDS) -> tuple[list[Word], int]:
    """One rule over one segment's words → (new words, matches replaced). Raises TimeoutError past `timeout`."""
    if not words:
        return words, 0
    layout = _Layout(words)
    matches = [m for m in rule.compiled.finditer(layout.text, timeout=timeout) if m.end() > m.start()]
    if not matches:
        return words, 0
    # Matches touching the same word become one edit, so a word is rewritten once.
    edits: list[tuple[int, int, list[regex.Match]]] = []
    for match in matches:
        first, last = layout.touched(match.start(), match.end())
        if edits and first <= edits[-1][1]:
            edits[-1] = (edits[-1][0], max(last, edits[-1][1]), edits[-1][2] + [match])
        else:
            edits.append((first, last, [match]))
    out: list[Word] = []
    done = 0
    for first, last, group in edits:
        out += words[done:first]
        cursor, pieces = layout.starts[first], []
        lead = layout.leads[first] if group[0].start() >= layout.starts[first] else ""
        for match in group:
            pieces += [layout.text[cursor : max(cursor, match.start())], rule.expand(match)]
            cursor = max(cursor, match.end())
        pieces.append(layout.text[cursor : layout.ends[last]])
        out += _new_words(lead + "".join(pieces), words[first : last + 1])
        done = last + 1
    return out + words[done:], len(matches)


def apply_rules(segments: list[Segment], rules: list[Rule], timeout: float = RULE_TIMEOUT_SECONDS) -> tuple[list[Segment], list[RuleReport]]:
    """Every rule, in order, over every segment; segments left without words are dropped."""
    reports = [RuleReport(rule) for rule in rules]
    if not rules:
        return segments, reports
    out: list[Segment] = []
    for segment in segments:
        words = list(segment.words)
        for report in reports:
            if report.timed_out:
                continue
            try:
                words, count = apply_rule(words, report.rule, timeout)
            except TimeoutError:
                report.timed_out = True
                log.warning("replacement rule %d gave up after %.2f s on one segment; not used again in this job",
                            report.rule.index, timeout)
                continue
            report.replacements += count
        if words == segment.words:
            out.append(segment)
        elif words:
            out.append(Segment(start=words[0].start, end=words[-1].end, text="".join(w.text for w in words).strip(),
                               speaker=segment.speaker, words=words))
    return out, reports
