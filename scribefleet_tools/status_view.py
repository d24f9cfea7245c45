"""What `scribefleet status` and the demo show: one row per job (status, progress bar, stage, worker, elapsed, ETA,
failure reason) under a fleet line (queue, queued audio, desired and in-service workers, jobs per status).

On a terminal it is one rich table, redrawn in place while watching; anywhere else (a pipe, a CI log) it is plain
lines, and a watch prints a new block only when a job moved, so a log shows each step once.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from scribefleet.contract import JobField, JobStatus
from scribefleet.job_queries import WORKERS_SEPARATOR
from scribefleet.timestamps import parse_timestamp

TERMINAL = (JobStatus.COMPLETED, JobStatus.FAILED)
STATUS_STYLE = {JobStatus.QUEUED: "yellow", JobStatus.IN_PROGRESS: "cyan", JobStatus.COMPLETED: "green", JobStatus.FAILED: "red"}
NO_JOBS = "no jobs to show (without --user: none waiting or running): `scribefleet submit FILE --user U`"


def clock(seconds: float | None) -> str:
    """m:ss under an hour, else XhMM; '-' when unknown."""
    if seconds is None:
        return "-"
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds < 3600 else f"{seconds // 3600}h{seconds % 3600 // 60:02d}"


@dataclass(frozen=True)
class JobRow:
    process_id: str
    status: str
    progress: float  # 0-100
    stage: str
    worker: str
    elapsed: float | None  # seconds since the upload was recorded (until it finished)
    eta: float | None  # seconds left, from the speed so far; None unless running
    reason: str  # "<code>: <message>" of a FAILED job

    @classmethod
    def of(cls, job: Mapping[str, Any], now: datetime) -> "JobRow":
        status, progress = str(job.get(JobField.STATUS, "?")), float(job.get(JobField.PROGRESS, 0) or 0)
        created, claimed, finished = (parse_timestamp(job.get(f)) for f in (JobField.CREATED_AT, JobField.CLAIMED_AT, JobField.FINISHED_AT))
        eta = None
        if status == JobStatus.IN_PROGRESS and claimed and 0 < progress < 100:
            eta = (now - claimed).total_seconds() * (100 - progress) / progress
        error = job.get(JobField.ERROR)
        reason = f"{error.get('code')}: {error.get('message')}" if status == JobStatus.FAILED and isinstance(error, Mapping) else ""
        return cls(
            process_id=str(job[JobField.PROCESS_ID]), status=status, progress=progress, stage=str(job.get(JobField.STAGE, "")),
            worker=str(job.get(JobField.WORKER_ID) or "-"), elapsed=((finished or now) - created).total_seconds() if created else None,
            eta=eta, reason=reason,
        )

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    def plain(self) -> str:
        first, *others = self.worker.split(WORKERS_SEPARATOR)  # a split job's workers: the first, how many more
        worker = first[:19] + (f" +{len(others)}" if others else "")
        line = (f"{self.process_id:36} {self.status:11} {self.progress:5.1f}% {self.stage:12} {worker:19} "
                f"{clock(self.elapsed):>6} eta {clock(self.eta):>5}")
        return line + (f"\n    {self.reason}" if self.reason else "")


@dataclass(frozen=True)
class Fleet:
    waiting_messages: int  # the SQS queue's visible messages
    queued_jobs: int  # QUEUED and not claimed
    queued_audio_seconds: float
    desired: int
    in_service: int
    max_size: int
    jobs_by_status: Mapping[str, int]

    def text(self) -> str:
        return (f"queue {self.waiting_messages} waiting · queued jobs {self.queued_jobs} ({clock(self.queued_audio_seconds)} audio) · "
                f"fleet desired {self.desired} / in service {self.in_service} (max {self.max_size}) · "
                + " ".join(f"{status.lower()} {n}" for status, n in self.jobs_by_status.items()))


@dataclass(frozen=True)
class Snapshot:
    fleet: Fleet
    jobs: list[JobRow]
    active_only: bool = False  # the listing holds only waiting and running jobs: a finished job leaves it

    @property
    def all_done(self) -> bool:
        if not self.jobs:
            return self.active_only  # nothing waiting or running any more
        return all(job.done for job in self.jobs)

    @property
    def moves(self) -> tuple:
        """What changes when a job moves (not the clocks that tick every second)."""
        return tuple((job.process_id, job.status, job.stage, int(job.progress)) for job in self.jobs)


def read_fleet(target, jobs: list[Mapping[str, Any]]) -> Fleet:
    queued = [j for j in jobs if j.get(JobField.STATUS) == JobStatus.QUEUED and not j.get(JobField.WORKER_ID)]
    attributes = target.client("sqs").get_queue_attributes(
        QueueUrl=target.outputs["JobQueueUrl"], AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    group = target.client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=[target.outputs["WorkerAutoScalingGroupName"]]
    )["AutoScalingGroups"][0]
    return Fleet(
        waiting_messages=int(attributes.get("ApproximateNumberOfMessages", 0)),
        queued_jobs=len(queued),
        queued_audio_seconds=sum(float(j.get(JobField.AUDIO_SECONDS, 0) or 0) for j in queued),
        desired=int(group["DesiredCapacity"]),
        in_service=sum(1 for i in group["Instances"] if i["LifecycleState"] == "InService"),
        max_size=int(group["MaxSize"]),
        jobs_by_status={s.value: sum(1 for j in jobs if j.get(JobField.STATUS) == s) for s in JobStatus},
    )


def take_snapshot(target, user: str | None = None, only: Collection[str] | None = None) -> Snapshot:
    """The stack's fleet and jobs, now: the given process ids, one user's recent jobs, or else the jobs waiting or
    running (target.jobs_to_show)."""
    from scribefleet_tools.target import jobs_to_show

    jobs = jobs_to_show(target, user=user, only=only)
    now = datetime.now(timezone.utc)
    return Snapshot(read_fleet(target, jobs), [JobRow.of(j, now) for j in jobs], active_only=user is None and only is None)


def plain_lines(snapshot: Snapshot) -> list[str]:
    return [snapshot.fleet.text(), ""] + ([job.plain() for job in snapshot.jobs] or [NO_JOBS])


def table(snapshot: Snapshot) -> RenderableType:
    grid = Table(expand=True, pad_edge=False)
    for name, options in (("job", {"no_wrap": True}), ("status", {"no_wrap": True}), ("progress", {"width": 30, "no_wrap": True}),
                          ("stage", {}), ("worker", {"no_wrap": True}), ("elapsed", {"justify": "right"}),
                          ("ETA", {"justify": "right"}), ("failure reason", {"ratio": 1, "overflow": "fold"})):
        grid.add_column(name, **options)
    for job in snapshot.jobs:
        bar = Table.grid(padding=(0, 1))
        bar.add_row(ProgressBar(total=100, completed=job.progress, width=22), f"{job.progress:3.0f}%")
        grid.add_row(job.process_id, Text(job.status, style=STATUS_STYLE.get(job.status, "")), bar, job.stage, job.worker,
                     clock(job.elapsed), clock(job.eta), Text(job.reason, style="red"))
    return Group(Text(snapshot.fleet.text(), style="bold"), grid if snapshot.jobs else Text(NO_JOBS))


def show(snapshot: Snapshot, console: Console) -> None:
    """Once: the table on a terminal, plain lines elsewhere."""
    if console.is_terminal:
        console.print(table(snapshot))
    else:
        _print_plain(plain_lines(snapshot), console.file)


def watch(
    source: Callable[[], Snapshot], console: Console, *, interval: float = 1.0, until_done: bool = False,
    timeout: float | None = None,
) -> Snapshot:
    """Show `source()` every `interval` s until every job is COMPLETED or FAILED (with until_done), `timeout` s have
    passed, or Ctrl-C; returns the last snapshot. On a terminal the table is redrawn in place (rich Live)."""
    deadline = time.monotonic() + timeout if timeout else None
    finished = lambda s: (until_done and s.all_done) or (deadline is not None and time.monotonic() >= deadline)  # noqa: E731
    snapshot = source()
    if console.is_terminal:
        with Live(table(snapshot), console=console, auto_refresh=False) as live:
            while not finished(snapshot):
                time.sleep(interval)
                snapshot = source()
                live.update(table(snapshot), refresh=True)
        return snapshot
    shown = None
    while True:
        if snapshot.moves != shown:
            _print_plain([f"{datetime.now():%H:%M:%S} {snapshot.fleet.text()}"] + plain_lines(snapshot)[1:] + [""], console.file)
            shown = snapshot.moves
        if finished(snapshot):
            return snapshot
        time.sleep(interval)
        snapshot = source()


def _print_plain(lines: list[str], file: TextIO | None) -> None:
    out = file or sys.stdout
    out.write("\n".join(lines) + "\n")
    out.flush()
