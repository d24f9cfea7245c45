"""Fleet scaling policies: pure functions from the queue/fleet state to the ASG's desired capacity.

The ScaleFleet Lambda calls `decide` on every upload and on every retry; `scribefleet simulate` calls the same code.
Both policies only ever scale OUT: an idle worker retires itself (terminate + decrement desired), so lowering desired
here would make the ASG pick a victim itself, possibly a busy machine (the seed's "shrinking capacity" problem).

Speeds are real-time factors in the seed's sense: 15× means 15 min of audio take 1 min to process.
"""
from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from scribefleet.contract import JobField
from scribefleet.timestamps import parse_timestamp


@dataclass(frozen=True)
class FleetState:
    queued_files: int
    queued_audio_seconds: float
    busy_workers: int  # workers currently processing a job
    in_service: int  # instances running (busy + idle)
    desired: int  # current ASG desired capacity
    max_size: int
    booting: int = 0  # desired - in_service when positive
    busy_remaining_seconds: float = 0.0  # estimated audio seconds still to process on busy workers
    # Optional extras (defaults keep older callers valid); the planned policy uses them when given.
    warm_available: int = 0  # stopped instances waiting in the ASG warm pool
    queued_longest_seconds: float = 0.0  # audio seconds of the longest queued file (0 = unknown)

    def __post_init__(self) -> None:
        for name in ("queued_files", "busy_workers", "in_service", "desired", "max_size", "booting", "warm_available"):
            if getattr(self, name) < 0:
                raise ValueError(f"FleetState.{name} must be >= 0")
        for name in ("queued_audio_seconds", "busy_remaining_seconds", "queued_longest_seconds"):
            if getattr(self, name) < 0 or math.isnan(getattr(self, name)):
                raise ValueError(f"FleetState.{name} must be >= 0")
        if self.busy_workers > self.in_service:
            raise ValueError("FleetState.busy_workers cannot exceed in_service")


@dataclass(frozen=True)
class Decision:
    desired: int
    reason: str  # human-readable why, logged and returned by the Lambda


@dataclass(frozen=True)
class PolicyParams:
    rtf: float = 15.0  # measured speed (audio s per processing s); seed: ~15x on a g4dn.xlarge T4
    boot_seconds: float = 90.0  # launch -> worker polling, cold start (AMI with models baked in)
    warm_start_seconds: float = 30.0  # launch from a warm-pool (stopped, pre-initialised) instance
    job_overhead_seconds: float = 0.0  # fixed per-job work on top of audio / rtf (download, decode, upload)
    min_gain_seconds: float = 15.0  # launch for a job only if a new machine starts it at least this much sooner
    headroom: int = 2  # spare machines, ready or booting, kept while uploads keep arriving (0 = frugal)
    order: str = "longest"  # the order workers claim queued jobs in: "longest" (or "aged") first, or "fifo"
    seed_audio_per_machine: float = 900.0  # the seed rule's 15 min of audio per machine

    def __post_init__(self) -> None:
        if self.rtf <= 0 or self.boot_seconds < 0 or self.warm_start_seconds < 0 or self.job_overhead_seconds < 0:
            raise ValueError("PolicyParams: rtf must be > 0 and times >= 0")
        if self.min_gain_seconds < 0 or self.headroom < 0 or self.seed_audio_per_machine <= 0:
            raise ValueError("PolicyParams: min_gain_seconds, headroom >= 0 and seed_audio_per_machine > 0")
        if self.order not in ("longest", "aged", "fifo"):
            raise ValueError(f"PolicyParams.order must be 'longest', 'aged' or 'fifo', got {self.order!r}")


AGE_WEIGHT = 0.5  # seconds of upload time one second of work is worth in the "aged" claim order (docs/scaling.md)


def aged_claim_key(arrival: float, work_seconds: float, age_weight: float = AGE_WEIGHT) -> float:
    """The claim order the simulator settled on: smallest first. Longest-first among files uploaded together,
    first-come-first-served across files uploaded further apart than their weighted difference in work."""
    return arrival - age_weight * work_seconds


def _scale_out_only(state: FleetState, target: int, why: str, policy: str) -> Decision:
    """Clamp to [0, max_size] and never go below the current desired capacity."""
    clamped = max(0, min(target, state.max_size))
    clamp_note = f" (clamped to MaxSize {state.max_size})" if target > state.max_size else ""
    if clamped == 0 and state.desired == 0:
        return Decision(0, f"{policy}: nothing to do ({why}); desired stays 0")
    if clamped < state.desired:
        return Decision(
            min(state.desired, state.max_size),
            f"{policy}: target {clamped}{clamp_note} ({why}) < current desired {state.desired}; keep {state.desired} "
            "(scale-out only: idle workers retire themselves)",
        )
    verb = "keep" if clamped == state.desired else f"raise {state.desired} ->"
    return Decision(clamped, f"{policy}: {verb} {clamped}{clamp_note} ({why})")


def seed_policy(state: FleetState, params: PolicyParams | None = None) -> Decision:
    """The seed's start Lambda: min(ceil(queued audio / 15 min), queued files) + busy, clamped; scale-out only."""
    p = params or PolicyParams()
    by_audio = math.ceil(state.queued_audio_seconds / p.seed_audio_per_machine)
    for_queue = min(by_audio, state.queued_files)
    why = (
        f"min(ceil({state.queued_audio_seconds:.0f}s/{p.seed_audio_per_machine:.0f}s)={by_audio}, "
        f"{state.queued_files} files) + {state.busy_workers} busy = {for_queue + state.busy_workers}"
    )
    return _scale_out_only(state, for_queue + state.busy_workers, why, "seed")


def _queued_jobs(state: FleetState, p: PolicyParams) -> list[float]:
    """Processing seconds of the queued jobs in claim order. The state has totals only: the longest file (when
    given) is exact, the others share the rest equally -- the plan needs job granularity, because a machine more
    than there are jobs never helps (files are not split). FIFO: the longest is assumed last (the worst case)."""
    n, total = state.queued_files, state.queued_audio_seconds
    if n == 0:
        return []
    longest = min(max(state.queued_longest_seconds, total / n), total) if state.queued_longest_seconds else total / n
    rest = (total - longest) / (n - 1) if n > 1 else 0.0
    audio = [rest] * (n - 1) + [longest] if p.order == "fifo" else [longest] + [rest] * (n - 1)
    return [a / p.rtf + p.job_overhead_seconds for a in audio]


@dataclass(frozen=True)
class _Plan:
    launch: int  # new machines
    finish: float  # when the last queued job ends (seconds from now)
    used: frozenset[int]  # indices of existing machines (in `ready`) that got a queued job


def _plan(ready: list[float], new: list[float], jobs: list[float], min_gain: float) -> _Plan:
    """List-schedule the queued jobs (in claim order) onto the machine that frees first; launch a new machine for
    a job only when it would start that job more than `min_gain` seconds sooner than any existing machine."""
    heap = [(t, i) for i, t in enumerate(ready)]  # (free at, machine)
    heapq.heapify(heap)
    launch, finish, used = 0, 0.0, set()
    for work in jobs:
        existing = heap[0][0] if heap else math.inf
        fresh = new[launch] if launch < len(new) else math.inf
        if fresh < math.inf and (fresh + min_gain < existing or not heap):
            start, machine, launch = fresh, len(ready) + launch, launch + 1
        elif heap:
            start, machine = heapq.heappop(heap)
        else:  # no machine at all and none may be launched (MaxSize 0)
            return _Plan(0, math.inf, frozenset())
        used.add(machine)
        finish = max(finish, start + work)
        heapq.heappush(heap, (start + work, machine))
    return _Plan(launch, finish, frozenset(used))


def planned_policy(state: FleetState, params: PolicyParams | None = None) -> Decision:
    """Launch a machine for every queued job that a new machine would start sooner than any machine we have.

    The plan is a list schedule of the queued jobs, in the order workers claim them, over the machines' ready
    times: idle now, busy when their remaining work is done (from the heartbeats' progress), booting after a boot
    (assumed just started), new ones after a warm start while the warm pool has instances, else a cold boot. So a
    file that a soon-free busy worker will take costs no boot (the seed rule launches one anyway), while files
    queued behind a booting machine each get their own (the seed rule's 15-min-of-audio threshold makes short
    files wait for each other). With longest-first claiming this is the classic LPT rule for makespan.
    While uploads arrive, `headroom` spare machines are kept so the next upload need not wait for a boot.
    """
    p = params or PolicyParams()
    alive = max(state.desired, state.in_service)
    if state.queued_files == 0:
        why = f"0 queued, {state.busy_workers} busy"
        return _scale_out_only(state, alive if state.busy_workers else 0, why, "planned")
    booting = max(state.booting, alive - state.in_service)
    idle = state.in_service - state.busy_workers
    busy_left = state.busy_remaining_seconds / p.rtf / state.busy_workers if state.busy_workers else 0.0
    ready = [0.0] * idle + [busy_left] * state.busy_workers + [p.boot_seconds] * booting
    room = max(0, state.max_size - alive)
    warm = min(state.warm_available, room)
    new = [p.warm_start_seconds] * warm + [p.boot_seconds] * (room - warm)
    plan = _plan(ready, new, _queued_jobs(state, p), p.min_gain_seconds)
    # An upload while the fleet is already booting or working is the sign that a session of uploads is under way;
    # the simulator shows the spares are what cuts the trickle's tail (files arriving during the first boot).
    arriving = state.busy_workers + booting > 0
    # Spares: machines the plan gives no queued job that can take the next upload no later than a new machine
    # could (idle, booting, or busy but done within a boot).
    spare = sum(1 for i, t in enumerate(ready) if i not in plan.used and t <= p.boot_seconds)
    add_spare = min(max(0, p.headroom - spare), room - plan.launch) if arriving else 0
    why = (
        f"{state.queued_files} queued ({state.queued_audio_seconds:.0f}s audio), {state.busy_workers} busy "
        f"(~{busy_left:.0f}s left each), {idle} idle, {booting} booting: +{plan.launch} new machines start queued "
        f"jobs sooner than waiting; backlog done in ~{plan.finish:.0f}s"
    )
    if add_spare:
        why += f"; +{add_spare} spare for the next upload"
    return _scale_out_only(state, alive + plan.launch + add_spare, why, "planned")


POLICIES: dict[str, Callable[[FleetState, PolicyParams | None], Decision]] = {
    "seed": seed_policy,
    "planned": planned_policy,
}


def decide(state: FleetState, policy: str, params: PolicyParams | None = None) -> Decision:
    """The desired capacity to set (never below the current one) and why."""
    try:
        rule = POLICIES[policy]
    except KeyError:
        raise ValueError(f"unknown scaling policy {policy!r}; known: {', '.join(POLICIES)}") from None
    return rule(state, params)


# --- Measurements the policies feed on ------------------------------------------------------------------------------
# The Lambdas/worker publish these (Powertools Metrics); the per-job RTF is what
# PolicyParams.rtf should be set from.


@dataclass(frozen=True)
class QueueMetrics:
    queued_files: int
    queued_audio_seconds: float
    queued_longest_seconds: float
    busy_workers: int
    busy_remaining_seconds: float


def queue_metrics(queued: Iterable[Mapping], in_progress: Iterable[Mapping]) -> QueueMetrics:
    """From job items (status QUEUED / IN_PROGRESS): a QUEUED item that already carries a workerId is claimed, so it
    counts as a busy worker; busy work left = audioSeconds x (1 - progress/100)."""
    waiting, claimed = [], []
    for job in queued:
        (claimed if job.get("workerId") else waiting).append(job)
    working = [*claimed, *in_progress]
    audio = [float(job.get("audioSeconds", 0) or 0) for job in waiting]
    return QueueMetrics(
        queued_files=len(waiting),
        queued_audio_seconds=sum(audio),
        queued_longest_seconds=max(audio, default=0.0),
        busy_workers=len(working),
        busy_remaining_seconds=sum(
            float(job.get("audioSeconds", 0) or 0) * (1 - min(100.0, float(job.get("progress", 0) or 0)) / 100)
            for job in working
        ),
    )


@dataclass(frozen=True)
class JobMetrics:
    queue_wait_seconds: float | None  # createdAt -> claimedAt
    processing_seconds: float | None  # claimedAt -> finishedAt
    rtf: float | None  # audio seconds per processing second (the seed's "15x")
    attempts: int


def job_metrics(item: Mapping) -> JobMetrics:
    """Per-job figures from a job item (createdAt, claimedAt, finishedAt as ISO 8601; audioSeconds; attempts)."""
    created, started, finished = (parse_timestamp(item.get(k)) for k in (JobField.CREATED_AT, JobField.CLAIMED_AT, JobField.FINISHED_AT))
    wait = (started - created).total_seconds() if created and started else None
    processing = (finished - started).total_seconds() if started and finished else None
    audio = float(item.get("audioSeconds", 0) or 0)
    rtf = audio / processing if processing and processing > 0 and audio > 0 else None
    return JobMetrics(wait, processing, rtf, int(item.get("attempts", 0) or 0))
