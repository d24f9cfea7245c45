"""Small media files made in memory for tests that need real containers but not real speech."""
from __future__ import annotations

import numpy as np

from scribefleet_tools.samples import encode_wav


def wav_bytes(seconds: float = 1.0, rate: int = 16000, freq: float = 440.0) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return encode_wav(0.3 * np.sin(2 * np.pi * freq * t), rate)
