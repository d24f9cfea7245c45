"""One set of speaker labels for a file diarized in chunks: the chunks' local speakers clustered globally.

Each chunk's diarizer numbers its own speakers. Every local speaker brings one CAM++ embedding (the duration-weighted
mean over its clean turns, as enrolled voices are embedded: gpu_worker.voice_matching) and its seconds of speech.
Average-linkage agglomerative clustering on cosine similarity then joins local speakers of different chunks, most
similar first, while the similarity stays above the threshold, or until the told count is reached. Two speakers of
the same chunk are never joined: the chunk's diarizer heard both, with more context than one embedding each carries
(a cannot-link constraint). This is how pyannote links speakers across its own local windows, one level up.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Cosine similarity of two local speakers' mean embeddings above which they are one person. DEV split of real speech
# (benchmarks/bench_split.py, docs/benchmarks.md "Long files split across workers"): every value from 0.30 to 0.75
# gave the same counts and DER (the constrained average linkage joins the right pairs first; its errors come from the
# chunks' own diarization), 0.80 one count fewer right; 0.55 sits in the middle of that range. Cross-chunk pairs:
# same person min 0.78, mean 0.95; different people mean 0.51, max 0.90.
LINK_THRESHOLD = 0.55


@dataclass(frozen=True)
class LocalSpeaker:
    chunk: int
    label: str  # the chunk diarizer's label
    embedding: np.ndarray  # (d,) L2-normalised
    seconds: float  # speech behind the embedding: its weight in a cluster's mean


def link_speakers(
    speakers: Sequence[LocalSpeaker],
    threshold: float = LINK_THRESHOLD,
    num_speakers: int | None = None,
    max_speakers: int | None = None,
) -> dict[tuple[int, str], int]:
    """(chunk, local label) → global speaker index, numbered by each group's first member in `speakers` order.

    Blind, groups join while their average-linkage similarity exceeds `threshold`. Told `num_speakers`, they join
    (most similar first) until that many remain, whatever the similarity; `max_speakers` keeps joining past the
    threshold only while there are more groups than that. Groups that share a chunk never join, so a told count
    can stay unreached when one chunk alone holds more speakers than the count allows.
    """
    groups: list[list[int]] = [[i] for i in range(len(speakers))]
    if speakers:
        emb = np.stack([s.embedding for s in speakers]).astype(np.float64)
        weight = np.array([max(s.seconds, 1e-3) for s in speakers])
        sim = emb @ emb.T
        target = num_speakers or 0
        while len(groups) > 1:
            best, pair = -np.inf, None
            for a in range(len(groups)):
                chunks_a = {speakers[i].chunk for i in groups[a]}
                for b in range(a + 1, len(groups)):
                    if chunks_a & {speakers[i].chunk for i in groups[b]}:
                        continue
                    w = np.outer(weight[groups[a]], weight[groups[b]])
                    s = float((sim[np.ix_(groups[a], groups[b])] * w).sum() / w.sum())
                    if s > best:
                        best, pair = s, (a, b)
            if pair is None:
                break
            must = len(groups) > target if num_speakers else bool(max_speakers and len(groups) > max_speakers)
            if best <= threshold and not must:
                break
            if num_speakers and len(groups) <= target:
                break
            a, b = pair
            groups[a] = sorted(groups[a] + groups[b])
            del groups[b]
    groups.sort(key=lambda g: g[0])
    return {(speakers[i].chunk, speakers[i].label): n for n, group in enumerate(groups) for i in group}
