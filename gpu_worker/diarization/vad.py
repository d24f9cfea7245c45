"""Speech regions with Silero VAD v6 (the ONNX file faster-whisper ships), run through onnxruntime directly.

The model call mirrors faster_whisper.vad.SileroVADModel (512-sample chunks, 64 samples of left context, the
whole file as one batch); it is repeated here so the diarizer does not import faster_whisper (ctranslate2,
tokenizers) just for a probability curve. Region logic is our own: the diarizer wants short silences kept
(speaker changes happen at pauses), unlike transcription VAD that pads and bridges generously.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..media import SAMPLE_RATE
from .assets import silero_vad_onnx

CHUNK = 512  # samples per probability (32 ms)
CONTEXT = 64


@dataclass(frozen=True)
class VadOptions:
    threshold: float = 0.6  # enter speech above this probability
    neg_threshold: float = 0.5  # leave speech below this one (Silero decays slowly after speech ends)
    min_speech: float = 0.2  # seconds; shorter blips are dropped
    min_silence: float = 0.15  # seconds; shorter pauses are bridged (0.3 s turn gaps must survive)
    pad: float = 0.04  # seconds added on both sides of a region


class SileroVad:
    def __init__(self, path: Path | None = None, options: VadOptions = VadOptions()):
        import onnxruntime

        opts = onnxruntime.SessionOptions()
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = 1
        opts.enable_cpu_mem_arena = False
        opts.log_severity_level = 4
        self.session = onnxruntime.InferenceSession(
            str(path or silero_vad_onnx()), providers=["CPUExecutionProvider"], sess_options=opts
        )
        self.options = options

    def probabilities(self, audio: np.ndarray) -> np.ndarray:
        """One speech probability per 32 ms chunk."""
        if len(audio) == 0:
            return np.zeros(0, dtype=np.float32)
        padded = np.pad(audio.astype(np.float32), (0, -len(audio) % CHUNK))
        chunks = padded.reshape(-1, CHUNK)
        context = np.roll(chunks[:, -CONTEXT:].copy(), 1, axis=0)
        context[0] = 0
        batch = np.concatenate([context, chunks], axis=1)
        h = np.zeros((1, 1, 128), dtype=np.float32)
        c = np.zeros((1, 1, 128), dtype=np.float32)
        out = []
        for i in range(0, len(batch), 10000):
            probs, h, c = self.session.run(None, {"input": batch[i : i + 10000], "h": h, "c": c})
            out.append(np.asarray(probs).reshape(-1))
        return np.concatenate(out)

    def regions(self, audio: np.ndarray) -> list[tuple[float, float]]:
        """Speech regions (start, end) in seconds."""
        o, step = self.options, CHUNK / SAMPLE_RATE
        probs = self.probabilities(audio)
        raw: list[list[float]] = []
        active, start = False, 0
        for i, p in enumerate(probs):
            if not active and p >= o.threshold:
                active, start = True, i
            elif active and p < o.neg_threshold:
                active = False
                raw.append([start * step, i * step])
        if active:
            raw.append([start * step, len(probs) * step])
        merged: list[list[float]] = []
        for seg in raw:
            if merged and seg[0] - merged[-1][1] < o.min_silence:
                merged[-1][1] = seg[1]
            else:
                merged.append(seg)
        duration = len(audio) / SAMPLE_RATE
        return [
            (max(0.0, s - o.pad), min(duration, e + o.pad)) for s, e in merged if e - s >= o.min_speech
        ]
