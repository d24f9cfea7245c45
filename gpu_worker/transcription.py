"""Speech → words with timestamps: faster-whisper loaded once from a local model directory.

Production loads `/opt/models/faster-whisper-<name>` baked into the AMI; nothing is fetched from the hub at run
time (`local_files_only`, and the directory must hold tokenizer.json, or faster-whisper would try the hub).
Batched (batch_size > 1, the GPU default) the file is decoded in speech windows of at most 30 s, each on its own,
several per forward pass. The windows depend only on the file's samples (`speech_windows`), so the chunk of a split
file that decodes exactly the windows starting inside it gets the words the whole file gets there
(gpu_worker.chunking cuts between windows). batch_size 1 is faster-whisper's sequential decoder (beam 5,
previous-text conditioning), where a window that starts elsewhere decodes differently.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from gpu_worker.media import SAMPLE_RATE
from gpu_worker.result import Word
from scribefleet.contract import ErrorCode, ScribefleetError

log = logging.getLogger(__name__)

# When a window decodes badly at temperature 0, faster-whisper retries it by sampling at higher temperatures.
# CTranslate2 seeds each of its threads' generators once, from this seed, when the thread first samples; after that
# the generator runs on from file to file, so a fixed seed makes a loaded model's transcripts reproducible for the
# same sequence of files (not per file: the second identical file may sample differently from the first).
SAMPLING_SEED = 0


# Whisper's window. Speech windows are packed up to this span: VAD speech segments joined while the first start and
# the last end lie within 30 s, with the silences between them kept (faster-whisper's batched pipeline itself packs
# 30 s of speech with the silences cut out, so its windows shift with wherever the audio starts).
WINDOW_SECONDS = 30.0
# The batched pipeline's own VAD settings (faster_whisper.transcribe.BatchedInferencePipeline.transcribe).
MIN_SILENCE_MS = 160


def speech_windows(audio: np.ndarray) -> list[tuple[float, float]]:
    """(start, end) seconds of the windows a batched transcription decodes: Silero VAD's speech, packed ≤ 30 s."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(max_speech_duration_s=WINDOW_SECONDS, min_silence_duration_ms=MIN_SILENCE_MS)
    windows: list[tuple[float, float]] = []
    for speech in get_speech_timestamps(audio, options):
        start, end = speech["start"] / SAMPLE_RATE, speech["end"] / SAMPLE_RATE
        if windows and end - windows[-1][0] <= WINDOW_SECONDS:
            windows[-1] = (windows[-1][0], end)
        else:
            windows.append((start, end))
    return windows


def cuda_available() -> bool:
    import ctranslate2

    try:
        return ctranslate2.get_cuda_device_count() > 0
    except Exception:  # a CPU-only CTranslate2 build or a broken driver: run on CPU rather than not at all
        return False


def resolve_device(device: str = "auto", compute_type: str = "auto") -> tuple[str, str]:
    """'auto' → cuda + float16 when a GPU is visible, else cpu + int8 (the fast choices for each)."""
    if device == "auto":
        device = "cuda" if cuda_available() else "cpu"
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    return device, compute_type


def model_name(model_dir: str | os.PathLike) -> str:
    """A readable model name for the result: the directory name (e.g. faster-whisper-large-v3)."""
    path = Path(model_dir)
    return path.name if path.name not in ("model", "") else f"{path.parent.name}/{path.name}"


class Transcriber:
    def __init__(
        self,
        model_dir: str | os.PathLike,
        device: str = "auto",
        compute_type: str = "auto",
        batch_size: int = 1,
        cpu_threads: int = 0,
    ):
        import ctranslate2
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        model_dir = Path(model_dir)
        if not (model_dir / "model.bin").is_file() or not (model_dir / "tokenizer.json").is_file():
            raise FileNotFoundError(f"{model_dir} is not a faster-whisper model directory (model.bin + tokenizer.json)")
        self.device, self.compute_type = resolve_device(device, compute_type)
        self.batch_size = batch_size
        self.name = model_name(model_dir)
        ctranslate2.set_random_seed(SAMPLING_SEED)  # before the model's threads exist
        self.model = WhisperModel(
            str(model_dir),
            device=self.device,
            compute_type=self.compute_type,
            cpu_threads=cpu_threads,
            local_files_only=True,
        )
        mels = self.model.feature_extractor.mel_filters.shape[0]
        if mels != self.model.model.n_mels:  # large-v3 needs 128: its preprocessor_config.json is missing
            raise FileNotFoundError(
                f"{model_dir} expects {self.model.model.n_mels} mel bins but features have {mels}: "
                "copy the model's preprocessor_config.json into the directory"
            )
        self.batched = BatchedInferencePipeline(self.model) if batch_size > 1 else None
        log.info("loaded %s on %s (%s), batch size %d", self.name, self.device, self.compute_type, batch_size)

    @property
    def multilingual(self) -> bool:
        return bool(self.model.model.is_multilingual)

    def check_language(self, language: str | None) -> str | None:
        """The language to pass to faster-whisper (None = detect), or InvalidOptions if this model cannot do it."""
        language = None if language in (None, "", "auto") else language
        if language not in (None, "en") and not self.multilingual:
            # faster-whisper would silently transcribe as English; the user asked for something we cannot do.
            raise ScribefleetError(
                ErrorCode.INVALID_OPTIONS, f"the model {self.name} is English-only; language {language!r} is not available"
            )
        return language

    def check_task(self, task: str | None) -> str:
        """'transcribe' (default) or 'translate'; InvalidOptions if this model cannot translate."""
        task = task or "transcribe"
        if task == "translate" and not self.multilingual:
            # faster-whisper ignores the task on an English-only model: the output would claim a translation it is not.
            raise ScribefleetError(
                ErrorCode.INVALID_OPTIONS, f"the model {self.name} is English-only; it cannot translate (task 'translate')"
            )
        if task == "translate" and "turbo" in self.name.lower():
            # large-v3-turbo was fine-tuned without translation data and answers in the spoken language (whisper's README).
            raise ScribefleetError(
                ErrorCode.INVALID_OPTIONS, f"the model {self.name} does not translate; task 'translate' needs large-v3 or medium"
            )
        return task

    def transcribe(
        self,
        audio: np.ndarray,
        language: str | None = None,
        hotwords: str | None = None,
        initial_prompt: str | None = None,
        progress: Callable[[float], None] | None = None,
        task: str | None = None,
        span: tuple[float, float] | None = None,
        windows: Sequence[tuple[float, float]] | None = None,
    ) -> tuple[list[Word], str]:
        """Float32 16 kHz mono → (words with timestamps, language code). `language` None or 'auto' detects it.

        `task` 'translate' writes English words whatever the language spoken (whisper's own translation).
        `progress` gets the fraction of the audio transcribed (end of the last segment / duration); it may raise
        to abandon the work. `span`: only [start, end) seconds of `audio` (a chunk of a split file), batched: the speech
        windows that start inside it, as the whole file decodes them (`windows`, if already computed). Timestamps are
        seconds from the start of `audio` either way.
        """
        language = self.check_language(language)
        kwargs = dict(
            task=self.check_task(task),
            language=language,
            hotwords=hotwords or None,
            initial_prompt=initial_prompt or None,
            word_timestamps=True,
            vad_filter=True,
        )
        start, end = span or (0.0, len(audio) / SAMPLE_RATE)
        piece = audio[round(start * SAMPLE_RATE):round(end * SAMPLE_RATE)]
        offset = start
        if self.batched is not None:
            windows = [w for w in (speech_windows(audio) if windows is None else windows) if start <= w[0] < end]
            clips = [{"start": a, "end": b} for a, b in windows]
            if clips:  # else no speech: the pipeline's own VAD path answers that (no words, the language detected)
                piece, offset = audio, 0.0
            segments, info = self.batched.transcribe(piece, batch_size=self.batch_size, clip_timestamps=clips or None,
                                                     **kwargs)
        else:
            segments, info = self.model.transcribe(piece, **kwargs)
        duration = max(end - start, 1e-6)
        words: list[Word] = []
        for segment in segments:  # a generator: the decoding happens while we iterate
            words += [Word(round(offset + w.start, 3), round(offset + w.end, 3), w.word, float(w.probability))
                      for w in segment.words or ()]
            if progress:
                progress(min(max(offset + segment.end - start, 0.0) / duration, 1.0))
        if progress:
            progress(1.0)
        log.info("transcribed %.1f s: %d words, language %s", duration, len(words), info.language)
        return words, info.language
