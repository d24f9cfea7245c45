"""Discrete-event simulation of the fleet, driven by the real scaler (`scaling.decide`) and the worker's rules.

What is modelled, and how it maps to the product:
- An upload becomes a QUEUED job and the scaler runs (ProbeMedia -> RecordJob -> ScaleFleet) before the job's
  message reaches the queue (WaitForWorker), so the scaler always sees the new job as queued.
- The ASG launches instances while desired > alive; an instance polls after `boot_s` (or `warm_start_s` when it
  comes from the warm pool, which the ASG then refills with a cold boot that is billed too).
- A polling worker claims the next job (FIFO, or longest first) and is busy for audio / rtf + job overhead.
- The worker retirement rule (`scribefleet.retirement.should_retire`, the worker's own code): asked when a worker
  goes idle, after every upload and whenever its last answer said to ask again; retire = terminate + decrement
  desired. "cost" weighs idling against a restart; "fixed" retires after `idle_timeout_s` with an empty queue.
- Worker deaths (`kill_at`): the busy worker with the most work left dies; its job goes back to the queue after
  the heartbeat timeout (a retry, which runs ScaleFleet again, as the state machine's Parallel retry does); the
  ASG replaces the dead instance (desired is unchanged). After `max_attempts` the job fails.
- Billing: per second with EC2's 60 s minimum, from launch to termination.
- Optional splitting: `split_rule` asks the product's rule (`scribefleet.splitting.plan_split`) at each upload,
  with the fleet as the scaler sees it, how many chunks the file becomes; `split_chunk_s` instead cuts every file
  longer than that into chunks of equal length. Each chunk (+ `split_overlap_s` of context) is a queue item; the
  file completes `merge_s` after its last chunk (the merge job).
"""
from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass, field

from scribefleet.retirement import Arrival, IdleView, RetirementParams, should_retire
from scribefleet.scaling import AGE_WEIGHT, FleetState, PolicyParams, aged_claim_key, decide
from scribefleet.splitting import SplitParams, as_chunks, plan_split
from scribefleet_tools.workloads import Upload

ORDERS = ("fifo", "longest", "aged")
G4DN_XLARGE_PER_HOUR = 0.526  # on-demand us-east-1, Linux


@dataclass(frozen=True)
class SimConfig:
    policy: str = "seed"
    order: str = "fifo"
    rtf: float = 15.0  # the seed's ~15x on a T4 (g4dn.xlarge)
    boot_s: float = 90.0
    warm_pool: int = 0  # instances kept stopped in the ASG warm pool
    warm_start_s: float = 30.0
    max_size: int = 10
    retirement: str = "cost"  # scribefleet.retirement rule: "cost" or "fixed"
    idle_timeout_s: float = 600.0  # the fixed rule's timeout (the worker's only rule before the cost rule)
    latency_weight: float = 1.0  # cost rule: machine-seconds one second of a user's wait is worth
    job_overhead_s: float = 0.0
    heartbeat_timeout_s: float = 30.0
    max_attempts: int = 3
    age_weight: float = AGE_WEIGHT  # "aged" order: seconds of upload time one second of work is worth (settled by simulation)
    # What one claim sees: 0 = every queued job (the exact order, as a query on an index sorted by the claim key
    # would give); n = the n longest-queued jobs, as an SQS receive of n does (the worker today: 10). A standard
    # queue makes "a best-effort attempt to maintain the order in which messages are sent"
    # (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/standard-queues.html).
    receive_batch: int = 0
    kill_at: tuple[float, ...] = ()
    price_per_hour: float = G4DN_XLARGE_PER_HOUR
    min_billed_s: float = 60.0
    split_chunk_s: float = 0.0  # 0 = never split
    split_rule: bool = False  # the product's split rule decides per upload (overrides split_chunk_s)
    split_min_chunk_s: float = SplitParams.min_chunk_seconds
    split_overlap_s: float = 30.0  # audio processed twice at each chunk boundary (speaker linking context)
    merge_s: float = 10.0  # stitching chunk transcripts and linking speakers
    params: PolicyParams | None = None  # what the policy believes; None = the simulated truth

    def policy_params(self) -> PolicyParams:
        if self.params is not None:
            return self.params
        return PolicyParams(
            rtf=self.rtf, boot_seconds=self.boot_s, warm_start_seconds=self.warm_start_s,
            job_overhead_seconds=self.job_overhead_s,
        )

    def split_params(self) -> SplitParams:
        return SplitParams(min_chunk_seconds=self.split_min_chunk_s, context_seconds=self.split_overlap_s,
                           merge_seconds=self.merge_s)

    def retirement_params(self) -> RetirementParams:
        """The retirement rule knows the simulated truth about speed and restarts, as a deployment's settings would."""
        return RetirementParams(
            rule=self.retirement, idle_timeout=self.idle_timeout_s, boot_seconds=self.boot_s,
            warm_start_seconds=self.warm_start_s, rtf=self.rtf, job_overhead_seconds=self.job_overhead_s,
            latency_weight=self.latency_weight,
        )


@dataclass(frozen=True)
class SimResult:
    config: SimConfig
    files: int
    makespan: float  # first upload -> last file completed
    latencies: tuple[float, ...]  # per completed file: completed - uploaded
    machine_seconds: float  # instance run time, launch to termination (incl. warm-pool refills)
    billed_seconds: float
    cost: float
    lower_bound: float
    launches: int
    peak_machines: int
    retries: int
    failed: int
    scaler_calls: int
    final_desired: int  # 0 once every worker has retired itself
    trace: tuple[str, ...] = ()

    @property
    def p50(self) -> float:
        return percentile(self.latencies, 50)

    @property
    def p95(self) -> float:
        return percentile(self.latencies, 95)

    @property
    def machine_minutes(self) -> float:
        return self.machine_seconds / 60

    @property
    def ratio(self) -> float:
        return self.makespan / self.lower_bound if self.lower_bound else math.nan


def percentile(values: tuple[float, ...] | list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def lower_bound(items: list[tuple[float, float]], machines: int, boot: float) -> float:
    """No schedule of unsplittable jobs `(arrival, work)` on `machines` that start booting at the first upload
    can end sooner: max(boot + total work / machines, max over jobs of (max(arrival, boot) + work)). For a batch
    this is the issue's max(boot + total work / machines, boot + longest job)."""
    if not items:
        return 0.0
    t0 = min(a for a, _ in items)
    by_volume = boot + sum(w for _, w in items) / machines
    by_job = max(max(a - t0, boot) + w for a, w in items)
    return max(by_volume, by_job)


@dataclass
class _Job:
    id: int
    file: int
    audio: float
    work: float
    arrival: float
    attempts: int = 0
    queued_at: float = 0.0  # FIFO position: a retry goes to the back of the queue (a new SQS message)
    done_at: float | None = None
    chunk: bool = False  # a chunk of a split file, or a file the split rule has already been asked about


@dataclass
class _Machine:
    id: int
    launched: float
    state: str = "booting"  # booting | idle | busy | gone
    job: _Job | None = None
    job_end: float = 0.0
    idle_since: float = 0.0
    gone_at: float | None = None
    check: int = 0  # the retirement check that counts; older scheduled ones are stale


# Event priorities at equal times: completions and boots first (a machine freed at t can take a job that
# arrives at t), then deaths, requeues, uploads, and idle checks last (a job arriving at t keeps a worker).
_BOOTED, _FINISH, _DEATH, _REQUEUE, _UPLOAD, _REFILL, _RETIRE_CHECK = range(7)


@dataclass
class _Sim:
    uploads: list[Upload]
    cfg: SimConfig
    trace_on: bool = False
    now: float = 0.0
    events: list = field(default_factory=list)
    seq: int = 0
    queue: list[_Job] = field(default_factory=list)
    machines: list[_Machine] = field(default_factory=list)
    desired: int = 0
    pool: int = 0
    refill_seconds: float = 0.0
    retries: int = 0
    failed: set = field(default_factory=set)
    scaler_calls: int = 0
    peak: int = 0
    trace: list[str] = field(default_factory=list)

    def at(self, t: float, kind: int, data=None) -> None:
        self.seq += 1
        heapq.heappush(self.events, (t, kind, self.seq, data))

    def log(self, text: str) -> None:
        if self.trace_on:
            self.trace.append(f"{self.now:8.1f}s  {text}")

    def alive(self) -> list[_Machine]:
        return [m for m in self.machines if m.state != "gone"]

    # --- the fleet -------------------------------------------------------------------------------------------
    def fleet_state(self) -> FleetState:
        """The queue and fleet as ScaleFleet reads them (the jobs table and the ASG)."""
        alive = self.alive()
        busy = [m for m in alive if m.state == "busy"]
        in_service = sum(1 for m in alive if m.state != "booting")
        return FleetState(
            queued_files=len(self.queue),
            queued_audio_seconds=sum(j.audio for j in self.queue),
            busy_workers=len(busy),
            in_service=in_service,
            desired=self.desired,
            max_size=self.cfg.max_size,
            booting=max(0, self.desired - in_service),
            busy_remaining_seconds=sum(max(0.0, m.job_end - self.now) * self.cfg.rtf for m in busy),
            warm_available=self.pool,
            queued_longest_seconds=max((j.audio for j in self.queue), default=0.0),
        )

    def scale(self, trigger: str, job: _Job | None = None) -> None:
        state = self.fleet_state()
        if self.cfg.split_rule and job is not None and not job.chunk:  # ScaleFleet plans for the chunks to come
            state = as_chunks(state, job.audio, plan_split(job.audio, state, self.cfg.policy_params(), self.split_params))
        decision = decide(state, self.cfg.policy, self.cfg.policy_params())
        self.scaler_calls += 1
        self.log(f"ScaleFleet on {trigger}: {decision.reason}")
        self.desired = decision.desired
        self.reconcile()

    def reconcile(self) -> None:
        """The ASG launches instances until alive == desired."""
        while len(self.alive()) < self.desired:
            m = _Machine(len(self.machines), self.now)
            self.machines.append(m)
            warm = self.pool > 0
            if warm:
                self.pool -= 1
                self.at(self.now + self.cfg.boot_s, _REFILL)  # the ASG prepares a replacement pool instance
            self.at(self.now + (self.cfg.warm_start_s if warm else self.cfg.boot_s), _BOOTED, m)
            self.log(f"launch m{m.id} ({'warm pool' if warm else 'cold'}); desired {self.desired}")
        self.peak = max(self.peak, len(self.alive()))

    def dispatch(self) -> None:
        """Idle workers (longest-idle first, as long polls are answered) claim queued jobs in the chosen order."""
        idle = sorted((m for m in self.machines if m.state == "idle"), key=lambda m: (m.idle_since, m.id))
        for m in idle:
            if not self.queue:
                break
            seen = self.queue
            if self.cfg.receive_batch:
                seen = sorted(self.queue, key=lambda j: (j.queued_at, j.id))[: self.cfg.receive_batch]
            job = min(seen, key=self.claim_key)
            if self.cfg.split_rule and not job.chunk:
                job = self.split(job)
            self.queue.remove(job)
            job.attempts += 1
            m.state, m.job, m.job_end = "busy", job, self.now + job.work
            self.at(m.job_end, _FINISH, m)
            self.log(f"m{m.id} claims job {job.id} ({job.audio:.0f}s audio, {job.work:.1f}s work, "
                     f"attempt {job.attempts})")

    def claim_key(self, job: _Job) -> tuple[float, int]:
        """Smallest first. fifo: upload time; longest: most work; aged: upload time - age_weight x work, a static
        key (a GSI sort key would do) that is longest-first among files uploaded together and FIFO across files
        uploaded further apart than the weighted difference of their work."""
        if self.cfg.order == "longest":
            return (-job.work, job.id)
        if self.cfg.order == "aged":
            return (aged_claim_key(job.arrival, job.work, self.cfg.age_weight), job.id)
        return (job.queued_at, job.id)

    def go_idle(self, m: _Machine) -> None:
        m.state, m.job, m.idle_since = "idle", None, self.now
        self.dispatch()
        if m.state == "idle":
            self.ask_retirement(m, self.now)

    def ask_retirement(self, m: _Machine, t: float) -> None:
        m.check += 1
        self.at(t, _RETIRE_CHECK, (m, m.check))

    def idle_view(self, m: _Machine) -> IdleView:
        """What the fleet board would tell worker `m` (gpu_worker/fleet_board.py): peers, jobs, uploads so far."""
        others = [o for o in self.machines if o is not m]
        return IdleView(
            now=self.now, idle_since=m.idle_since, worker_id=f"m{m.id:04d}", queued_jobs=len(self.queue),
            idle_peers=tuple((o.idle_since, f"m{o.id:04d}") for o in others if o.state == "idle"),
            busy_until=tuple(o.job_end for o in others if o.state == "busy"),
            arrivals=tuple(Arrival(j.arrival, j.audio) for j in self.arrived),
            warm_available=self.pool,
        )

    def retirement_check(self, m: _Machine) -> None:
        decision = should_retire(self.idle_view(m), self.retire_params)
        if decision.retire:
            m.state, m.gone_at = "gone", self.now
            self.desired -= 1  # terminate_instance_in_auto_scaling_group(ShouldDecrementDesiredCapacity=True)
            self.log(f"m{m.id} retires ({decision.reason}); desired {self.desired}")
        elif math.isfinite(decision.recheck_in):
            self.ask_retirement(m, self.now + max(decision.recheck_in, 1e-6))

    # --- events ----------------------------------------------------------------------------------------------
    def handle(self, kind: int, data) -> None:
        if kind == _UPLOAD:
            data.queued_at = self.now
            self.queue.append(data)
            self.arrived.append(data)
            self.scale("upload", data)
            self.dispatch()
            for m in self.machines:  # a new upload changes the prediction: a new session may be a small one
                if m.state == "idle":
                    self.ask_retirement(m, self.now)
        elif kind == _REQUEUE:
            job: _Job = data
            if job.attempts >= self.cfg.max_attempts:
                self.failed.add(job.file)
                self.log(f"job {job.id} FAILED after {job.attempts} attempts")
                return
            self.retries += 1
            job.queued_at = self.now
            self.queue.append(job)
            self.scale("retry")
            self.dispatch()
        elif kind == _BOOTED:
            m: _Machine = data
            if m.state == "booting":
                self.log(f"m{m.id} polling")
                self.go_idle(m)
        elif kind == _FINISH:
            m = data
            if m.state == "busy" and m.job_end == self.now:
                m.job.done_at = self.now
                self.log(f"m{m.id} finished job {m.job.id}")
                self.go_idle(m)
        elif kind == _RETIRE_CHECK:
            m, check = data
            if m.state == "idle" and m.check == check:
                self.retirement_check(m)
        elif kind == _DEATH:
            busy = [m for m in self.machines if m.state == "busy"]
            if not busy:
                self.log("kill: no busy worker")
                return
            m = max(busy, key=lambda b: (b.job_end, -b.id))
            job, m.state, m.gone_at, m.job = m.job, "gone", self.now, None
            self.log(f"m{m.id} dies with job {job.id}; heartbeat timeout at +{self.cfg.heartbeat_timeout_s:.0f}s")
            self.at(self.now + self.cfg.heartbeat_timeout_s, _REQUEUE, job)
            self.reconcile()  # the ASG replaces the unhealthy instance; desired is unchanged
        elif kind == _REFILL:
            self.pool += 1
            self.refill_seconds += self.cfg.boot_s

    def split(self, job: _Job) -> _Job:
        """The product's rule, asked when a worker claims a whole file (the state machine's PlanSplit): the queue
        and fleet are best known then. A split file's job becomes its chunks (each with the context's extra work),
        queued in its place so they are claimed next; the claiming worker takes the first. Returns the job to run."""
        plan = plan_split(job.audio, self.fleet_state(), self.cfg.policy_params(), self.split_params)
        job.chunk = True  # asked once: a retry of a whole file is not split again
        if plan.chunks < 2:
            return job
        self.log(f"split file {job.file}: {plan.reason}")
        self.queue.remove(job)
        self.jobs.remove(job)
        self.split_files.add(job.file)
        audio = job.audio / plan.chunks + self.cfg.split_overlap_s
        chunks = [_Job(next(self.job_ids), job.file, audio, audio / self.cfg.rtf + self.cfg.job_overhead_s,
                       job.arrival, queued_at=job.queued_at, chunk=True) for _ in range(plan.chunks)]
        self.jobs += chunks
        self.queue += chunks
        self.scale("split")  # ScaleFleet runs for the chunks queued, as it does for every queued job
        return chunks[0]

    def run(self) -> SimResult:
        cfg = self.cfg
        if cfg.order not in ORDERS:
            raise ValueError(f"unknown job order {cfg.order!r}; known: {', '.join(ORDERS)}")
        self.pool = cfg.warm_pool
        self.retire_params = cfg.retirement_params()
        self.split_params = cfg.split_params()
        self.arrived: list[_Job] = []
        self.jobs, files = self.make_jobs()
        self.job_ids = itertools.count(len(self.jobs))
        for job in list(self.jobs):
            self.at(job.arrival, _UPLOAD, job)
        for t in cfg.kill_at:
            self.at(t, _DEATH)
        while self.events:
            self.now, kind, _, data = heapq.heappop(self.events)
            self.handle(kind, data)
        return self.result(self.jobs, files)

    def make_jobs(self) -> tuple[list[_Job], list[Upload]]:
        cfg = self.cfg
        files = sorted(self.uploads, key=lambda u: u.at)
        jobs: list[_Job] = []
        self.split_files: set[int] = set()
        for i, up in enumerate(files):
            n = math.ceil(up.audio_seconds / cfg.split_chunk_s) if cfg.split_chunk_s > 0 and not cfg.split_rule else 1
            if n > 1:
                self.split_files.add(i)
            audio = up.audio_seconds / n + (cfg.split_overlap_s if n > 1 else 0.0)
            for _ in range(n):
                jobs.append(_Job(len(jobs), i, audio, audio / cfg.rtf + cfg.job_overhead_s, up.at))
        return jobs, files

    def result(self, jobs: list[_Job], files: list[Upload]) -> SimResult:
        cfg = self.cfg
        done: dict[int, float] = {}
        for job in jobs:
            if job.file not in self.failed:
                done[job.file] = max(done.get(job.file, 0.0), job.done_at)
        finish = {f: t + (cfg.merge_s if f in self.split_files else 0.0) for f, t in done.items()}
        t0 = files[0].at if files else 0.0
        lives = [(m.gone_at if m.gone_at is not None else self.now) - m.launched for m in self.machines]
        refills = self.refill_seconds
        billed = sum(max(cfg.min_billed_s, life) for life in lives) + refills
        first_boot = cfg.warm_start_s if cfg.warm_pool > 0 else cfg.boot_s
        return SimResult(
            config=cfg,
            files=len(files),
            makespan=max(finish.values(), default=t0) - t0,
            latencies=tuple(finish[f] - files[f].at for f in sorted(finish)),
            machine_seconds=sum(lives) + refills,
            billed_seconds=billed,
            cost=billed / 3600 * cfg.price_per_hour,
            lower_bound=lower_bound([(j.arrival, j.work) for j in jobs], cfg.max_size, first_boot),
            launches=len(self.machines),
            peak_machines=self.peak,
            retries=self.retries,
            failed=len(self.failed),
            scaler_calls=self.scaler_calls,
            final_desired=self.desired,
            trace=tuple(self.trace),
        )


def simulate(uploads: list[Upload], config: SimConfig | None = None, trace: bool = False) -> SimResult:
    """Runs one workload through the fleet until every file is done or failed and every instance has retired."""
    return _Sim(list(uploads), config or SimConfig(), trace_on=trace).run()
