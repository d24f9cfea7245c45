"""Words + speaker turns → speaker-labelled segments. Pure functions on the result dataclasses."""
from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from gpu_worker.result import Segment, SpeakerTurn, Word

SENTENCE_END = (".", "?", "!", "。", "？", "！")


def ends_sentence(word: Word) -> bool:
    return word.text.strip().endswith(SENTENCE_END)


def assign_speakers(words: Sequence[Word], turns: Sequence[SpeakerTurn]) -> list[Word]:
    """Copy of `words`, each labelled with the turn it overlaps most; a word in a gap gets the nearest turn.

    Turns may overlap each other (pyannote marks overlapped speech); the largest overlap wins, ties go to the
    earlier turn. Without turns the words keep speaker None. O((words + turns) log turns) for typical inputs.
    """
    if not turns:
        return [replace(w, speaker=None) for w in words]
    ordered = sorted(turns, key=lambda t: (t.start, t.end))
    starts = [t.start for t in ordered]
    ends = np.array([t.end for t in ordered])
    reach = np.maximum.accumulate(ends)  # latest end among turns 0..i: bounds the backwards scan
    starts_np = np.array(starts)
    labelled = []
    for word in words:
        best, best_overlap = None, 0.0
        i = bisect.bisect_left(starts, word.end) - 1  # turns starting before the word ends
        while i >= 0 and reach[i] > word.start:
            overlap = min(word.end, ordered[i].end) - max(word.start, ordered[i].start)
            if overlap > 0 and overlap >= best_overlap:  # >= while scanning backwards: ties go to the earlier turn
                best, best_overlap = ordered[i], overlap
            i -= 1
        if best is None:
            gap = np.maximum(starts_np - word.end, 0) + np.maximum(word.start - ends, 0)
            best = ordered[int(np.argmin(gap))]
        labelled.append(replace(word, speaker=best.speaker))
    return labelled


def snap_changes_to_sentence_ends(words: Sequence[Word], reach: int = 1) -> list[Word]:
    """Copy of speaker-labelled `words` where each change of speaker that does not follow a sentence end moves to the
    nearest sentence end at most `reach` words away (the earlier one on a tie); changes with none that near stay.

    Whisper stretches a sentence's last word into the pause after it and pulls the next turn's first word early, so
    labelled by overlap the last word of a turn goes to the next speaker or the first to the previous one. On real
    speech (benchmarks/bench_word_speakers.py, DEV) reach 1 took the word diarization error of dialogs from 1.1 to
    0.6 % and no kind of recording got worse; reach 3 made calls and long dialogs worse (docs/benchmarks.md).
    """
    labelled = list(words)
    ends = [ends_sentence(w) for w in labelled]
    j = 1
    while j < len(labelled):
        before, after = labelled[j - 1].speaker, labelled[j].speaker
        near = [e for e in range(max(j - 1 - reach, 0), min(j - 1 + reach, len(labelled) - 1) + 1) if ends[e]]
        if before != after and not ends[j - 1] and near:
            end = min(near, key=lambda e: (abs(e - (j - 1)), e))
            moved, speaker = (range(end + 1, j), after) if end < j - 1 else (range(j, end + 1), before)
            # a boundary moves, a turn never vanishes: the words left on the losing side must include one of its own
            kept = labelled[end].speaker == before if end < j - 1 else end + 1 < len(labelled) and labelled[end + 1].speaker == after
            if kept:
                for i in moved:
                    labelled[i] = replace(labelled[i], speaker=speaker)
                j = max(j, end + 1)
        j += 1
    return labelled


def relabel_by_appearance(words: Sequence[Word], prefix: str = "SPEAKER_") -> tuple[list[Word], list[str]]:
    """Rename speakers SPEAKER_00, SPEAKER_01, … in order of first appearance in the transcript.

    Diarizers number clusters arbitrarily; users expect the first voice they hear to be the first speaker, and
    speaker_names are given in that order.
    """
    mapping: dict[str, str] = {}
    for word in words:
        if word.speaker is not None and word.speaker not in mapping:
            mapping[word.speaker] = f"{prefix}{len(mapping):02d}"
    renamed = [replace(w, speaker=mapping.get(w.speaker)) if w.speaker is not None else w for w in words]
    return renamed, list(mapping.values())


def speaker_names(labels: Sequence[str], names: Sequence[str] | None) -> dict[str, str]:
    """Labels (in order of first appearance) → display names; extra names are ignored, extra labels keep theirs."""
    return {label: name for label, name in zip(labels, names or ())}


def group_segments(words: Sequence[Word], max_pause: float = 1.5, max_duration: float = 20.0) -> list[Segment]:
    """Words → segments of one speaker each, split where the speaker changes, at pauses longer than `max_pause`,
    and before a segment outgrows `max_duration` (at the last sentence end if there is one, else at that word)."""
    segments: list[list[Word]] = []
    for word in words:
        current = segments[-1] if segments else None
        if (
            current is None
            or word.speaker != current[-1].speaker
            or word.start - current[-1].end > max_pause
        ):
            segments.append([word])
            continue
        if word.end - current[0].start > max_duration:
            cut = _last_sentence_end(current)
            if cut is not None and cut < len(current) - 1:
                segments[-1], tail = current[: cut + 1], current[cut + 1 :]
                segments.append(tail + [word])
            else:
                segments.append([word])
            continue
        current.append(word)
    return [_segment(group) for group in segments]


def _last_sentence_end(words: Sequence[Word]) -> int | None:
    for index in range(len(words) - 1, -1, -1):
        if ends_sentence(words[index]):
            return index
    return None


def _segment(words: list[Word]) -> Segment:
    text = "".join(w.text for w in words).strip()
    return Segment(start=words[0].start, end=words[-1].end, text=text, speaker=words[0].speaker, words=list(words))
