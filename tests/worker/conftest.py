"""Fixtures of the worker tests. Diarization: dialogs with known turns, generated once per session.

`make_diarization_dialogs()` is a plain function so benchmarks and other test modules can reuse the same
dialogs (tests/worker/test_diarization.py, benchmarks/bench_diarization.py).
"""
from __future__ import annotations

import numpy as np
import pytest

from scribefleet_tools.samples import DISTINCT_VOICES, SIMILAR_VOICES, Dialog, have_espeak, make_dialog, round_robin_lines

SPEAKERS = ["A", "B", "C"]


def short_turn_lines(count: int, seed: int) -> list[tuple[str, str]]:
    """Half sentences (≥ 4 words, ~1.3 s) by speakers drawn at random: short turns, unpredictable order."""
    rng = np.random.default_rng(seed)
    lines = []
    for _, text in round_robin_lines(SPEAKERS, count, offset=seed):
        words = text.split()
        lines.append((SPEAKERS[int(rng.integers(3))], " ".join(words[: max(4, len(words) // 2)])))
    return lines


def make_diarization_dialogs() -> dict[str, Dialog]:
    """distinct: 3 distinct voices, 24 full-sentence turns (~80 s).
    similar_short_noisy: 3 similar voices, 40 half-sentence turns, 0.3 s pauses, white noise at 15 dB SNR (~65 s).
    two: 2 distinct voices, 12 turns (~40 s) — for min/max speaker bounds."""
    return {
        "distinct": make_dialog(round_robin_lines(SPEAKERS, 24), dict(zip(SPEAKERS, DISTINCT_VOICES))),
        "similar_short_noisy": make_dialog(
            short_turn_lines(40, seed=2), dict(zip(SPEAKERS, SIMILAR_VOICES)), pause=0.3, noise_snr_db=15, seed=1
        ),
        "two": make_dialog(round_robin_lines(SPEAKERS[:2], 12, offset=2), dict(zip(SPEAKERS, DISTINCT_VOICES[1:]))),
    }


@pytest.fixture(scope="session")
def diarization_dialogs() -> dict[str, Dialog]:
    if not have_espeak():
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    return make_diarization_dialogs()
