"""Idle retirement: when an idle worker should terminate its own instance. Pure.

The worker (gpu_worker/agent.py) asks after every empty long poll, with what the fleet board in the jobs table says
(gpu_worker/fleet_board.py); `scribefleet simulate` asks with the simulated truth. The scaler only ever scales out,
so this is the only way machines leave the fleet.

Why not a fixed idle timeout: an idle machine costs one machine-second per second, a machine retired too early costs
a restart when the next upload comes (a cold boot, or a warm-pool start) in machine time and in the user's wait.
Ski rental says: with no idea when the next upload comes, wait about one restart and then retire (never worse than
twice the best choice made with hindsight). The service knows more than nothing, so the rule ("cost") uses it:

- a queued job: stay (it is about to be claimed);
- every idle machine waits `trust` x one restart, whatever the prediction says (the ski-rental guarantee when the
  prediction is wrong: at worst (1 + 1/trust) x the hindsight choice);
- the prediction: the next session of uploads looks like the largest one of the last hour (its number of files and
  their mean work; the largest, because the first upload of a new session must not make the fleet forget the
  previous one), and the longer the silence since the last upload, the less likely a next one is soon (heavy-tailed gaps: having
  waited s, expect about s more). So a machine stays while the silence is shorter than what keeping it would save
  if that session came: the restart it avoids, plus `latency_weight` x the waiting it spares the files it would
  start before a restarted machine could;
- machines that would take the next files first are counted first: idle peers that went idle earlier (they are
  kept longest), and busy ones that free within a restart. So a fleet keeps as many spares as one session would
  use, and the surplus leaves after the minimum wait;
- a warm pool shortens the restart (~30 s instead of ~90 s), so there is less to save and machines leave sooner.

The fixed rule ("fixed": empty queue and idle >= `idle_timeout`) stays for the local stack and tests, whose time
scales are seconds, and as the baseline the simulator compares against.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

RULES = ("cost", "fixed")


@dataclass(frozen=True)
class Arrival:
    at: float  # upload time (the job item's createdAt), seconds on the same clock as `IdleView.now`
    audio_seconds: float


@dataclass(frozen=True)
class IdleView:
    """What an idle worker knows when it asks whether to retire. Times are seconds on one clock (epoch or simulated)."""

    now: float
    idle_since: float
    worker_id: str = ""
    queued_jobs: int = 0
    idle_peers: tuple[tuple[float, str], ...] = ()  # (idle since, worker id) of the other idle workers
    busy_until: tuple[float, ...] = ()  # expected end of each job in progress on the other workers
    arrivals: tuple[Arrival, ...] = ()  # recent uploads, any order (the last session is what counts)
    warm_available: int = 0  # stopped instances in the ASG warm pool (a restart takes a warm start)


@dataclass(frozen=True)
class RetirementParams:
    rule: str = "cost"
    idle_timeout: float = 600.0  # the fixed rule's timeout
    boot_seconds: float = 90.0  # cold launch -> polling
    warm_start_seconds: float = 30.0  # warm-pool launch -> polling
    rtf: float = 15.0  # audio seconds per processing second, to turn a session's audio into work
    job_overhead_seconds: float = 0.0
    latency_weight: float = 1.0  # machine-seconds one second of a user's wait is worth
    trust: float = 0.5  # share of a restart every idle machine waits, whatever the prediction says
    session_gap_seconds: float = 0.0  # uploads closer than this form one session; 0 = one cold boot
    memory_seconds: float = 3600.0  # sessions that ended longer ago than this are forgotten

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"RetirementParams.rule must be one of {RULES}, got {self.rule!r}")
        if self.idle_timeout <= 0 or self.rtf <= 0 or self.memory_seconds <= 0:
            raise ValueError("RetirementParams: idle_timeout, rtf and memory_seconds must be > 0")
        if min(self.boot_seconds, self.warm_start_seconds, self.job_overhead_seconds, self.latency_weight,
               self.session_gap_seconds) < 0:
            raise ValueError("RetirementParams: times and latency_weight must be >= 0")
        if not 0 < self.trust <= 1:
            raise ValueError("RetirementParams.trust must be in (0, 1]")


@dataclass(frozen=True)
class RetireDecision:
    retire: bool
    recheck_in: float  # seconds until the answer changes if nothing else does (math.inf: never)
    reason: str


@dataclass(frozen=True)
class Session:
    files: int
    mean_work_seconds: float
    last_upload: float

    @property
    def work_seconds(self) -> float:
        return self.files * self.mean_work_seconds


def sessions(arrivals: tuple[Arrival, ...], gap: float, params: RetirementParams) -> list[Session]:
    """Runs of uploads no more than `gap` apart, oldest first."""
    ordered = sorted(arrivals, key=lambda a: a.at)
    runs: list[list[Arrival]] = []
    for arrival in ordered:
        if runs and arrival.at - runs[-1][-1].at <= gap:
            runs[-1].append(arrival)
        else:
            runs.append([arrival])
    return [
        Session(len(run), sum(a.audio_seconds for a in run) / params.rtf / len(run) + params.job_overhead_seconds,
                run[-1].at)
        for run in runs
    ]


def predicted_session(view: IdleView, params: RetirementParams) -> Session | None:
    """The largest session (by work) that ended within `memory_seconds`: what the next one is expected to be."""
    gap = params.session_gap_seconds or params.boot_seconds
    recent = [s for s in sessions(view.arrivals, gap, params) if view.now - s.last_upload <= params.memory_seconds]
    return max(recent, key=lambda s: (s.work_seconds, s.last_upload), default=None)


def _stay(recheck_in: float, reason: str) -> RetireDecision:
    return RetireDecision(False, max(0.0, recheck_in), reason)


def fixed_rule(view: IdleView, p: RetirementParams) -> RetireDecision:
    idle = view.now - view.idle_since
    if view.queued_jobs:
        return _stay(0.0, f"fixed: {view.queued_jobs} queued")
    if idle >= p.idle_timeout:
        return RetireDecision(True, 0.0, f"fixed: idle {idle:.0f}s >= {p.idle_timeout:.0f}s with an empty queue")
    return _stay(p.idle_timeout - idle, f"fixed: idle {idle:.0f}s < {p.idle_timeout:.0f}s")


def cost_rule(view: IdleView, p: RetirementParams) -> RetireDecision:
    idle = view.now - view.idle_since
    if view.queued_jobs:
        return _stay(0.0, f"cost: {view.queued_jobs} queued")
    warm = view.warm_available > 0
    restart = p.warm_start_seconds if warm else p.boot_seconds
    restart_name = f"{'warm start' if warm else 'cold boot'} {restart:.0f}s"
    floor = p.trust * restart
    if idle < floor:
        return _stay(floor - idle, f"cost: idle {idle:.0f}s < {p.trust:g} x {restart_name}")
    session = predicted_session(view, p)
    if session is None:  # nothing known: plain ski rental, one restart of idling
        silence, value = idle, restart
        why = f"no uploads known; worth one {restart_name}"
    else:
        silence = view.now - max(a.at for a in view.arrivals)
        per_machine = restart / session.mean_work_seconds if session.mean_work_seconds > 0 else math.inf
        me = (view.idle_since, view.worker_id)
        ahead = sum(per_machine for peer in view.idle_peers if peer < me)
        ahead += sum(max(0.0, restart - (end - view.now)) / session.mean_work_seconds
                     for end in view.busy_until if session.mean_work_seconds > 0)
        mine = min(per_machine, max(0.0, session.files - ahead))
        value = (restart + p.latency_weight * mine * restart) if mine > 0 else 0.0
        why = (f"session to expect {session.files} files of ~{session.mean_work_seconds:.0f}s work; "
               f"{ahead:.1f} of them taken by machines ahead, {mine:.1f} by this one within a {restart_name}: "
               f"worth {value:.0f}s")
    if silence < value:
        return _stay(value - silence, f"cost: silence {silence:.0f}s < {why}")
    return RetireDecision(True, 0.0, f"cost: idle {idle:.0f}s, silence {silence:.0f}s >= {why}")


def should_retire(view: IdleView, params: RetirementParams | None = None) -> RetireDecision:
    """Whether this idle worker should retire now, when to ask again, and why."""
    p = params or RetirementParams()
    return (fixed_rule if p.rule == "fixed" else cost_rule)(view, p)
