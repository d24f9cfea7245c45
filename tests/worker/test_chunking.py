"""A file split across workers: cut points at pauses, one chunk's diarization in file time, speaker linking, merge.

Pure functions and a stand-in diarizer/embedder with known answers; the real models on real speech are measured by
benchmarks/bench_split.py (docs/benchmarks.md).
"""
from __future__ import annotations

import numpy as np
import pytest

from gpu_worker.chunking import (ChunkResult, clip_turns, context_span, cut_points, diarize_chunk, merge_chunks,
                                 quietest_moment)
from gpu_worker.media import SAMPLE_RATE
from gpu_worker.result import SpeakerTurn, Word
from gpu_worker.speaker_linking import LocalSpeaker, link_speakers

RNG = np.random.default_rng(7)


def unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v)


VOICES = {name: unit(RNG.normal(size=16)) for name in "abcd"}


def near(name: str, noise: float = 0.2) -> np.ndarray:
    return unit(VOICES[name] + noise * unit(RNG.normal(size=16)))


def speech_with_pauses(seconds: float, pauses: list[float]) -> np.ndarray:
    """Noise at speech level, silent (1e-4) for 0.6 s around each pause time."""
    audio = (0.1 * RNG.normal(size=int(seconds * SAMPLE_RATE))).astype(np.float32)
    for t in pauses:
        audio[int((t - 0.3) * SAMPLE_RATE):int((t + 0.3) * SAMPLE_RATE)] *= 1e-3
    return audio


def test_cuts_land_in_the_pause_nearest_each_equal_share() -> None:
    audio = speech_with_pauses(300.0, [93.0, 108.0, 205.0])
    assert quietest_moment(audio, 100.0, 15.0) == pytest.approx(93.0, abs=0.15)
    cuts = cut_points(audio, 3)
    assert cuts[0] == 0.0 and cuts[-1] == 300.0
    assert cuts[1] == pytest.approx(93.0, abs=0.15) and cuts[2] == pytest.approx(205.0, abs=0.15)
    assert cut_points(audio, 3) == cuts  # the same samples give every worker the same cuts


def test_cuts_stay_in_order_on_a_short_file_and_without_pauses() -> None:
    audio = speech_with_pauses(20.0, [])
    cuts = cut_points(audio, 4)
    assert cuts == sorted(cuts) and len(set(cuts)) == 5


def test_with_speech_windows_cuts_fall_between_the_windows_nearest_each_share() -> None:
    """Each transcription window then lies in one chunk whole, decoded as the whole file decodes it."""
    audio = speech_with_pauses(300.0, [93.0, 108.0, 205.0])
    windows = [(0.0, 29.0), (30.0, 58.0), (59.0, 88.0), (90.0, 118.0), (121.0, 150.0), (152.0, 180.0),
               (181.0, 209.0), (210.0, 239.0), (240.0, 269.0), (270.0, 299.0)]
    cuts = cut_points(audio, 3, windows=windows)
    assert cuts == [0.0, 89.0, 209.5, 300.0]  # not the quietest moments (93, 205): those lie inside windows
    starts = [[w for w in windows if a <= w[0] < b] for a, b in zip(cuts, cuts[1:])]
    assert all(w[1] <= b for chunk, b in zip(starts, cuts[1:]) for w in chunk)  # no window crosses a cut
    assert sum(map(len, starts)) == len(windows)


def test_with_too_few_windows_the_remaining_cuts_fall_back_to_pauses() -> None:
    audio = speech_with_pauses(300.0, [93.0, 108.0, 205.0])
    cuts = cut_points(audio, 3, windows=[(0.0, 29.0), (31.0, 60.0)])
    assert cuts[1] == 30.0 and cuts[2] == pytest.approx(205.0, abs=0.15) and cuts == sorted(cuts)


def test_context_span_reaches_into_the_neighbours() -> None:
    cuts = [0.0, 100.0, 200.0, 300.0]
    assert context_span(cuts, 0, 30.0) == (0.0, 130.0)
    assert context_span(cuts, 1, 30.0) == (70.0, 230.0)
    assert context_span(cuts, 2, 30.0) == (170.0, 300.0)


def test_clip_turns_keeps_what_lies_inside() -> None:
    turns = [SpeakerTurn(0, 5, "A"), SpeakerTurn(4, 12, "B"), SpeakerTurn(12, 20, "A")]
    assert clip_turns(turns, 5, 12) == [SpeakerTurn(5, 12, "B")]
    assert clip_turns(turns, 3, 13) == [SpeakerTurn(3, 5, "A"), SpeakerTurn(4, 12, "B"), SpeakerTurn(12, 13, "A")]


def test_linking_joins_one_voice_across_chunks_and_keeps_voices_apart() -> None:
    local = [LocalSpeaker(0, "S0", near("a"), 40), LocalSpeaker(0, "S1", near("b"), 30),
             LocalSpeaker(1, "S0", near("b"), 50), LocalSpeaker(1, "S1", near("a"), 20), LocalSpeaker(1, "S2", near("c"), 9),
             LocalSpeaker(2, "S0", near("c"), 60)]
    linked = link_speakers(local, threshold=0.5)
    assert linked[(0, "S0")] == linked[(1, "S1")] == 0
    assert linked[(0, "S1")] == linked[(1, "S0")] == 1
    assert linked[(1, "S2")] == linked[(2, "S0")] == 2


def test_two_speakers_of_one_chunk_are_never_joined() -> None:
    """Even with nearly the same embedding: the chunk's diarizer heard two people (cannot-link)."""
    local = [LocalSpeaker(0, "S0", near("a", 0.05), 30), LocalSpeaker(0, "S1", near("a", 0.05), 30)]
    assert len(set(link_speakers(local, threshold=0.0).values())) == 2
    assert len(set(link_speakers(local, num_speakers=1).values())) == 2


def test_a_told_count_links_past_the_threshold_and_max_speakers_bounds_it() -> None:
    local = [LocalSpeaker(0, "S0", near("a"), 30), LocalSpeaker(1, "S0", near("b"), 30), LocalSpeaker(2, "S0", near("c"), 30)]
    assert len(set(link_speakers(local, threshold=0.99).values())) == 3
    assert len(set(link_speakers(local, threshold=0.99, num_speakers=1).values())) == 1
    assert len(set(link_speakers(local, threshold=0.99, max_speakers=2).values())) == 2
    assert len(set(link_speakers(local, threshold=-1.0, num_speakers=3).values())) == 3  # told 3: stops at 3
    assert link_speakers([]) == {}


class StubDiarizer:
    """Two voices in the piece it is given, switching at its middle; records what it was asked."""

    def __init__(self):
        self.calls = []

    def diarize(self, audio, **kwargs):
        self.calls.append((len(audio) / SAMPLE_RATE, kwargs))
        half = len(audio) / SAMPLE_RATE / 2
        return [SpeakerTurn(0.0, half, "SPEAKER_00"), SpeakerTurn(half, 2 * half, "SPEAKER_01")]


class StubEmbedder:
    def embed(self, audio, spans):
        return np.stack([near("a") for _ in spans])


def test_a_chunk_is_diarized_with_its_context_and_answers_in_file_time() -> None:
    audio = speech_with_pauses(300.0, [])
    cuts = [0.0, 100.0, 200.0, 300.0]
    diarizer = StubDiarizer()
    turns, speakers = diarize_chunk(diarizer, StubEmbedder(), audio, cuts, 1, {"speakers": 3}, context=30.0)
    assert diarizer.calls == [(160.0, {"max_speakers": 3})]  # 70..230 s; a told count bounds the chunk
    assert turns == [SpeakerTurn(100.0, 150.0, "SPEAKER_00"), SpeakerTurn(150.0, 200.0, "SPEAKER_01")]
    assert [(s.chunk, s.label, s.seconds) for s in speakers] == [(1, "SPEAKER_00", 80.0), (1, "SPEAKER_01", 80.0)]


def chunk(index, start, end, words, speakers) -> ChunkResult:
    turns = [SpeakerTurn(w.start, w.end, w.speaker) for w in words]
    return ChunkResult(index, start, end, words, turns, speakers, "en", {"diarize": 1.0})


def test_merge_gives_one_label_per_person_in_time_order_whatever_order_chunks_arrive() -> None:
    first = chunk(0, 0.0, 10.0, [Word(1, 2, " hello", 0.9, "SPEAKER_00"), Word(5, 6, " there", 0.9, "SPEAKER_01")],
                  [LocalSpeaker(0, "SPEAKER_00", near("a"), 30), LocalSpeaker(0, "SPEAKER_01", near("b"), 30)])
    second = chunk(1, 10.0, 20.0, [Word(11, 12, " again", 0.9, "SPEAKER_00"), Word(15, 16, " yes", 0.9, "SPEAKER_01")],
                   [LocalSpeaker(1, "SPEAKER_00", near("b"), 30), LocalSpeaker(1, "SPEAKER_01", near("a"), 30)])
    merged = merge_chunks([second, first], threshold=0.5)
    assert [(w.text, w.speaker) for w in merged.words] == [(" hello", "G00"), (" there", "G01"), (" again", "G01"), (" yes", "G00")]
    assert set(merged.speakers) == {"G00", "G01"} and merged.language == "en"
    assert float(merged.speakers["G00"] @ VOICES["a"]) > 0.8


def test_chunk_result_round_trips_through_json() -> None:
    import json

    original = chunk(2, 200.0, 300.0, [Word(201.5, 202.0, " ok", 0.75, "SPEAKER_00")], [LocalSpeaker(2, "SPEAKER_00", near("c"), 12.5)])
    back = ChunkResult.from_dict(json.loads(json.dumps(original.to_dict())))
    assert (back.index, back.start, back.end, back.words, back.turns, back.language) == \
        (2, 200.0, 300.0, original.words, original.turns, "en")
    assert back.speakers[0].chunk == 2 and np.allclose(back.speakers[0].embedding, original.speakers[0].embedding, atol=1e-5)
