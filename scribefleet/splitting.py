"""Whether one long file is split across workers, and into how many chunks: a pure rule on the fleet's state.

Splitting pays when that one file, not the volume of work, sets when the fleet is done: a 3-hour interview takes
12 minutes on one GPU while the other machines idle or could be started. It costs a little (each chunk diarizes
its neighbours' context again, a merge step links the speakers) and it must never slow a full fleet: when other
queued work already keeps every machine busy for longer than the file takes whole, the file is not split.
The simulator (scribefleet_tools.simulator, `SimConfig.split_rule`) runs this same function; docs/scaling.md has the
figures.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from scribefleet.scaling import FleetState, PolicyParams


@dataclass(frozen=True)
class SplitParams:
    # Audio per chunk at least: a chunk must hold enough of each voice for its diarizer and its speaker embeddings
    # (benchmarks/bench_split.py: chunks of 60-100 s linked as well as the whole meeting; halves of 30-50 s did not).
    min_chunk_seconds: float = 600.0
    max_chunks: int = 10
    context_seconds: float = 60.0  # audio each chunk diarizes beyond its own span (gpu_worker.chunking.CONTEXT x 2)
    merge_seconds: float = 10.0  # the merge job: read the chunks, link speakers, write every format

    def __post_init__(self) -> None:
        if self.min_chunk_seconds <= 0 or self.max_chunks < 1 or self.context_seconds < 0 or self.merge_seconds < 0:
            raise ValueError("SplitParams: min_chunk_seconds > 0, max_chunks >= 1, times >= 0")


@dataclass(frozen=True)
class SplitPlan:
    chunks: int  # 1 = not split
    reason: str


def split_params(env) -> SplitParams | None:
    """From the ScaleFleet environment (template parameter SplitMinChunkSeconds); None: splitting is off (0)."""
    seconds = float(env.get("SPLIT_MIN_CHUNK_SECONDS") or SplitParams.min_chunk_seconds)
    return SplitParams(min_chunk_seconds=seconds) if seconds > 0 else None


def plan_split(audio_seconds: float, state: FleetState, policy: PolicyParams | None = None,
               params: SplitParams | None = None) -> SplitPlan:
    """`state` is the fleet and queue as ScaleFleet sees them, with this file already queued."""
    p, s = policy or PolicyParams(), params or SplitParams()
    most = min(s.max_chunks, math.floor(audio_seconds / s.min_chunk_seconds), state.max_size)
    if most < 2:
        return SplitPlan(1, f"{audio_seconds:.0f}s is less than 2 chunks of {s.min_chunk_seconds:.0f}s")
    work = audio_seconds / p.rtf + p.job_overhead_seconds
    others = state.queued_audio_seconds - audio_seconds  # the file itself is counted as queued
    share = (max(0.0, others) + state.busy_remaining_seconds) / p.rtf / state.max_size
    if work <= share + s.merge_seconds:
        return SplitPlan(1, f"other work keeps the fleet busy for {share:.0f}s a machine, about as long as this "
                            f"file's {work:.0f}s")
    # Machines the chunks can have without delaying anything queued before them: every machine up to MaxSize that is
    # not busy (idle, booting or still to launch), less one for each other queued file.
    free = state.max_size - state.busy_workers - (state.queued_files - 1)
    chunks = min(most, free)
    if chunks < 2:
        return SplitPlan(1, f"{free} machine(s) free for it after the other queued files")
    chunk_work = (audio_seconds / chunks + s.context_seconds) / p.rtf + p.job_overhead_seconds
    return SplitPlan(chunks, f"{chunks} chunks: {work:.0f}s of work whole, ~{chunk_work:.0f}s per chunk + "
                             f"{s.merge_seconds:.0f}s merge")


def as_chunks(state: FleetState, audio_seconds: float, plan: SplitPlan) -> FleetState:
    """The fleet state with a queued file counted as the chunks it is planned to become, so that ScaleFleet starts
    machines for them as soon as the file is queued (the split itself is decided again when a worker claims it)."""
    if plan.chunks < 2:
        return state
    longest = state.queued_longest_seconds
    if longest <= audio_seconds:  # this file was the longest queued: now its chunks may be (the rest is unknown)
        longest = audio_seconds / plan.chunks
    return replace(state, queued_files=state.queued_files + plan.chunks - 1, queued_longest_seconds=longest)


def at_claim(state: FleetState, audio_seconds: float) -> FleetState:
    """The state PlanSplit reads once a worker has claimed the file (the table shows it as a busy worker's job),
    seen as plan_split expects it: the file still queued, its worker free."""
    return replace(
        state,
        queued_files=state.queued_files + 1,
        queued_audio_seconds=state.queued_audio_seconds + audio_seconds,
        queued_longest_seconds=max(state.queued_longest_seconds, audio_seconds),
        busy_workers=max(0, state.busy_workers - 1),
        busy_remaining_seconds=max(0.0, state.busy_remaining_seconds - audio_seconds),
    )


def plan_report(plan: SplitPlan, audio_seconds: float) -> dict:
    """What PlanSplit answers the state machine (its Map runs over `indexes`, each chunk queued with `chunkSeconds`)."""
    return {"chunks": plan.chunks, "chunkSeconds": round(audio_seconds / plan.chunks, 3),
            "indexes": list(range(plan.chunks)), "reason": plan.reason}
