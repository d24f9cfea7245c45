"""One media file → TranscriptResult: decode once → diarize → transcribe → merge, with weighted progress.

The worker builds one Pipeline for its life, so both models are loaded once (seconds on a warm disk, much more
on a freshly restored EBS snapshot) and reused for every job.
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from gpu_worker.chunking import ChunkResult, cut_points, diarize_chunk, merge_chunks
from gpu_worker.config import WorkerConfig
from gpu_worker.cpu_threads import limit_cpu_threads
from gpu_worker.media import SAMPLE_RATE, decode_audio, prewarm
from gpu_worker.merge import assign_speakers, group_segments, relabel_by_appearance, snap_changes_to_sentence_ends
from gpu_worker.replacements import apply_rules
from gpu_worker.result import SpeakerTurn, TranscriptResult, Word
from gpu_worker.transcription import Transcriber, resolve_device, speech_windows
from gpu_worker.voice_matching import EnrolledVoice, display_names, identify_speakers, match_voices
from scribefleet.contract import Stage
from scribefleet.vocabulary import compile_rules, job_terms

if TYPE_CHECKING:
    from gpu_worker.diarization import Diarizer

log = logging.getLogger(__name__)

Progress = Callable[[Stage, float], None]

# Share of the pipeline's wall time per step, so the job's progress moves evenly. Measured on CPU (2 cores,
# default diarizer RTF ≈ 0.03, tiny.en int8 RTF ≈ 0.04); merge is near-instant but keeps the last 5 %.
WEIGHTS: tuple[tuple[str, Stage, float], ...] = (
    ("decode", Stage.DECODING, 0.05),
    ("diarize", Stage.DIARIZING, 0.35),
    ("transcribe", Stage.TRANSCRIBING, 0.55),
    ("merge", Stage.TRANSCRIBING, 0.05),  # Stage has no merge step: it is the end of producing the transcript
)


class _Reporter:
    """Maps each step's own 0..1 progress to the pipeline's overall fraction, never going backwards."""

    def __init__(self, callback: Progress | None):
        self.callback = callback
        self.done = 0.0

    def step(self, name: str) -> Callable[[float], None]:
        index = [n for n, _, _ in WEIGHTS].index(name)
        offset = sum(weight for _, _, weight in WEIGHTS[:index])
        _, stage, weight = WEIGHTS[index]

        def report(fraction: float) -> None:
            overall = min(1.0, offset + weight * min(max(fraction, 0.0), 1.0))
            if overall >= self.done and self.callback:
                self.callback(stage, overall)  # may raise: that is how the agent abandons a job
            self.done = max(self.done, overall)

        return report


class _Laps:
    """Seconds per step, and the total."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self.started = self.clock = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(now - self.clock, 3)
        self.clock = now

    def done(self) -> dict[str, float]:
        self.timings["total"] = round(time.perf_counter() - self.started, 3)
        return self.timings


class Pipeline:
    def __init__(self, config: WorkerConfig, transcriber: Transcriber | None = None, diarizer: Diarizer | None = None):
        """Loads both models once (or takes loaded ones, to share them between pipelines)."""
        self.config = config
        limit_cpu_threads(config.cpu_threads)
        if transcriber is None:
            device, _ = resolve_device(config.device, config.compute_type)
            batch = config.batch_size or (8 if device == "cuda" else 1)
            transcriber = Transcriber(config.model_dir, config.device, config.compute_type, batch, config.cpu_threads)
        self.transcriber = transcriber
        if diarizer is None:
            from gpu_worker.diarization import load_diarizer

            diarizer = load_diarizer(config.diarizer, config.diarizer_model_dir, _torch_device(transcriber.device))
        self.diarizer = diarizer
        self.voice_embedder = None
        prewarm()  # the first job's decoder child starts now, not when the job arrives

    def run(
        self,
        audio_path: str | os.PathLike,
        options: dict | None = None,
        progress: Progress | None = None,
        voices: Sequence[EnrolledVoice] = (),
    ) -> TranscriptResult:
        """Options as validated by scribefleet.options: language, speakers / min_speakers / max_speakers,
        hotwords, initial_prompt, speaker_names, task, terms and vocabulary (the rest concern the format writers).
        `voices`: the uploading user's enrolled voices; speakers that match one are named after it."""
        options = options or {}
        reporter, laps = _Reporter(progress), _Laps()

        self.transcriber.check_language(options.get("language"))  # before spending minutes on the audio
        task = self.transcriber.check_task(options.get("task"))
        rules = compile_rules(options.get("vocabulary"))
        terms = job_terms(options)
        reporter.step("decode")(0.0)
        audio = decode_audio(audio_path, max_seconds=self.config.max_audio_seconds, timeout=self.config.decode_timeout)
        reporter.step("decode")(1.0)
        laps.lap("decode")

        turns = self._diarize(audio, options, reporter.step("diarize"))
        matched = {m.speaker: m.name for m in identify_speakers(self._voice_embedder(), audio, turns, voices)} if voices else {}
        reporter.step("diarize")(1.0)
        laps.lap("diarize")

        words, language = self._transcribe(audio, options, terms, task, reporter.step("transcribe"))
        laps.lap("transcribe")

        return self._finish(assign_speakers(words, turns), matched, language, len(audio) / SAMPLE_RATE, options, task,
                            terms, rules, laps, reporter)

    def run_chunk(self, audio_path: str | os.PathLike, options: dict | None, index: int, count: int,
                  progress: Progress | None = None) -> ChunkResult:
        """Chunk `index` of `count` of a file split across workers (gpu_worker.chunking): the whole file is decoded,
        so every chunk's worker computes the same cuts; this chunk's span is transcribed, its context diarized."""
        options = options or {}
        reporter, laps = _Reporter(progress), _Laps()

        self.transcriber.check_language(options.get("language"))
        task = self.transcriber.check_task(options.get("task"))
        terms = job_terms(options)
        reporter.step("decode")(0.0)
        audio = decode_audio(audio_path, max_seconds=self.config.max_audio_seconds, timeout=self.config.decode_timeout)
        # Batched, the cuts fall between the transcriber's windows, so each is decoded as the whole file decodes it;
        # the sequential decoder starts afresh at any cut, so there the cut is the quietest moment near each share
        # (on the e2e tier's espeak dialog, a cut between windows inside continuous speech moved one chunk's
        # diarized span onto stretches where the blind count found 14 speakers for 3 voices).
        windows = speech_windows(audio) if getattr(self.transcriber, "batched", None) is not None else []
        cuts = cut_points(audio, count, windows=windows)
        reporter.step("decode")(1.0)
        laps.lap("decode")
        turns, speakers = diarize_chunk(self.diarizer, self._voice_embedder(), audio, cuts, index, options)
        reporter.step("diarize")(1.0)
        laps.lap("diarize")
        start, end = cuts[index], cuts[index + 1]
        words, language = self._transcribe(audio, options, terms, task, reporter.step("transcribe"), (start, end),
                                           windows)
        laps.lap("transcribe")
        log.info("chunk %d/%d done: %.1f-%.1f s, %d words, %d local speakers", index + 1, count, start, end, len(words),
                 len(speakers))
        return ChunkResult(index, start, end, assign_speakers(words, turns), turns, speakers, language, laps.timings)

    def merge(self, chunks: Sequence[ChunkResult], options: dict | None = None,
              voices: Sequence[EnrolledVoice] = ()) -> TranscriptResult:
        """A split file's chunks → its transcript: speakers linked across chunks, then as `run` ends."""
        options = options or {}
        laps = _Laps()
        task = self.transcriber.check_task(options.get("task"))
        merged = merge_chunks(chunks, num_speakers=options.get("speakers"), max_speakers=options.get("max_speakers"))
        matched = {m.speaker: m.name for m in match_voices(merged.speakers, voices)} if voices else {}
        # the chunks' own steps, summed: machine time spent on the file
        laps.timings.update({name: round(sum(c.timings.get(name, 0.0) for c in chunks), 3)
                             for name in ("decode", "diarize", "transcribe")})
        return self._finish(merged.words, matched, merged.language, max((c.end for c in chunks), default=0.0), options,
                            task, job_terms(options), compile_rules(options.get("vocabulary")), laps, _Reporter(None))

    def _finish(self, assigned: list[Word], matched: dict[str, str], language: str, duration: float, options: dict,
                task: str, terms: list[str], rules, laps: _Laps, reporter: _Reporter) -> TranscriptResult:
        """Speaker-labelled words → the result every format is written from: changes of speaker moved to a sentence
        end one word away, speakers numbered by appearance, names (given, then enrolled voices), replacement rules
        applied."""
        assigned = snap_changes_to_sentence_ends(assigned)  # whisper's timing slips at a change of speaker
        words, labels = relabel_by_appearance(assigned)
        relabelled = {a.speaker: w.speaker for a, w in zip(assigned, words) if a.speaker is not None}
        matched = {relabelled[label]: name for label, name in matched.items() if label in relabelled}
        segments, rule_reports = apply_rules(group_segments(words), rules)  # before any format sees the words
        reporter.step("merge")(1.0)
        laps.lap("merge")
        timings = laps.done()
        if not words:
            log.warning("no speech found in %.1f s of audio", duration)
        log.info("pipeline done: %.1f s audio, %d words, %d speakers, timings %s", duration, len(words), len(labels), timings)
        return TranscriptResult(
            language=language,
            duration=round(duration, 3),
            segments=segments,
            speakers=labels,
            speaker_names=display_names(labels, matched, options.get("speaker_names")),
            model=self.transcriber.name,
            diarizer=getattr(self.diarizer, "name", type(self.diarizer).__name__),
            timings=timings,
            task=task,
            vocabulary={"terms": terms, "rules": [r.to_dict() for r in rule_reports]} if terms or rules else {},
        )

    def _transcribe(self, audio: np.ndarray, options: dict, terms: list[str], task: str,
                    progress: Callable[[float], None], span: tuple[float, float] | None = None,
                    windows: Sequence[tuple[float, float]] | None = None) -> tuple[list[Word], str]:
        return self.transcriber.transcribe(
            audio,
            language=options.get("language"),
            hotwords=", ".join(filter(None, [*terms, options.get("hotwords")])),
            initial_prompt=options.get("initial_prompt"),
            progress=progress,
            task=task,
            span=span,
            windows=windows,
        )

    def _voice_embedder(self):
        """The diarizer's embedding model (CAM++), loaded on the first job that has enrolled voices."""
        if self.voice_embedder is None:
            from gpu_worker.voice_library import ClipEmbedder

            self.voice_embedder = ClipEmbedder(_torch_device(self.transcriber.device))
        return self.voice_embedder

    def _diarize(self, audio: np.ndarray, options: dict, progress: Callable[[float], None]) -> list[SpeakerTurn]:
        if options.get("speakers") == 1:  # the user told us: one voice, nothing to separate
            return [SpeakerTurn(0.0, len(audio) / SAMPLE_RATE, "SPEAKER_00")]
        return self.diarizer.diarize(
            audio,
            num_speakers=options.get("speakers"),
            min_speakers=options.get("min_speakers"),
            max_speakers=options.get("max_speakers"),
            progress=progress,
        )


def _torch_device(device: str) -> str:
    """The diarizer runs on torch: use cuda only if torch sees it too (CTranslate2 and torch ship separate CUDA)."""
    if device != "cuda":
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
