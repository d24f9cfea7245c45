"""Upload workloads for the fleet simulator (and the load test): the seed's load test and variations of it.

The seed's load test: 37 files from 30 s to 30 min, 10 h of audio in all. Its exact durations were not published,
so `seed_durations` draws them with a fixed random seed and pins the published facts exactly: 37 files, shortest
30 s, longest 30 min, total 36,000 s, whole seconds.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

SEED = 8  # fixed: every run of the seed workload sees the same files in the same upload order
SEED_FILES = 37
SEED_MIN_S, SEED_MAX_S, SEED_TOTAL_S = 30, 1800, 36_000


@dataclass(frozen=True)
class Upload:
    name: str
    audio_seconds: float
    at: float = 0.0  # seconds after the first upload


def seed_durations(seed: int = SEED) -> list[int]:
    """37 whole-second durations in upload order: min 30 s, max 1800 s, sum exactly 36,000 s."""
    rng = random.Random(seed)
    n_inner = SEED_FILES - 2  # the two extremes are pinned
    target = SEED_TOTAL_S - SEED_MIN_S - SEED_MAX_S
    while True:  # redraw until a small stretch of the excess over the minimum hits the target without clipping
        inner = [rng.uniform(SEED_MIN_S, SEED_MAX_S) for _ in range(n_inner)]
        factor = (target - SEED_MIN_S * n_inner) / (sum(inner) - SEED_MIN_S * n_inner)
        inner = [SEED_MIN_S + (d - SEED_MIN_S) * factor for d in inner]
        if max(inner) <= SEED_MAX_S - 1 and min(inner) >= SEED_MIN_S + 1:
            break
    whole = [round(d) for d in inner]
    step = 1 if sum(whole) < target else -1
    i = 0
    while sum(whole) != target:  # rounding remainder, one second at a time, never past the bounds
        if SEED_MIN_S < whole[i % n_inner] + step < SEED_MAX_S:
            whole[i % n_inner] += step
        i += 1
    durations = [SEED_MIN_S, SEED_MAX_S, *whole]
    rng.shuffle(durations)
    return durations


def seed(seed: int = SEED, gap: float = 0.0) -> list[Upload]:
    """The seed's load test: all 37 files uploaded at once (`gap` seconds apart)."""
    return [Upload(f"seed-{i:02d}", float(d), i * gap) for i, d in enumerate(seed_durations(seed))]


def trickle(seed: int = SEED, window: float = 600.0) -> list[Upload]:
    """The seed's files arriving evenly over `window` seconds (first at 0, last at `window`)."""
    durations = seed_durations(seed)
    step = window / (len(durations) - 1)
    return [Upload(f"trickle-{i:02d}", float(d), i * step) for i, d in enumerate(durations)]


def burst(seed: int = SEED, waves: int = 3, per_wave: int = 20, gap: float = 600.0) -> list[Upload]:
    """`waves` bursts of `per_wave` short files (30 s - 5 min), `gap` seconds apart: the fleet drains and retires
    between waves, so each wave pays boots again unless the idle timeout bridges the gap."""
    rng = random.Random(seed)
    return [
        Upload(f"burst-{w}-{i:02d}", float(round(rng.uniform(30, 300))), w * gap + i * 0.5)
        for w in range(waves)
        for i in range(per_wave)
    ]


def huge(seed: int = SEED, hours: float = 3.0) -> list[Upload]:
    """One long recording (3 h by default): the case where splitting a file across workers could pay."""
    return [Upload("huge", hours * 3600.0, 0.0)]


def large(seed: int = SEED, copies: int = 4, window: float = 0.0) -> list[Upload]:
    """`copies` draws of the seed's 37 files (148 files, 40 h by default), uploaded evenly over `window` seconds
    (0: at once): a queue far deeper than the 10 jobs one SQS receive returns."""
    durations = [d for c in range(copies) for d in seed_durations(seed + c)]
    step = window / (len(durations) - 1) if window else 0.0
    return [Upload(f"large-{i:03d}", float(d), i * step) for i, d in enumerate(durations)]


WORKLOADS: dict[str, Callable[..., list[Upload]]] = {"seed": seed, "trickle": trickle, "burst": burst, "huge": huge,
                                                     "large": large}


def make_workload(name: str, seed: int = SEED, **shape) -> list[Upload]:
    """The named workload's draw `seed`; `shape` passes its own parameters (e.g. large's `window`)."""
    try:
        return WORKLOADS[name](seed, **shape)
    except KeyError:
        raise ValueError(f"unknown workload {name!r}; known: {', '.join(WORKLOADS)}") from None


def from_durations(durations: list[float], gap: float = 0.0) -> list[Upload]:
    """A custom workload: the given durations uploaded `gap` seconds apart."""
    return [Upload(f"file-{i:02d}", float(d), i * gap) for i, d in enumerate(durations)]
