"""How the local fleet ends a worker process whose instance has left the Auto Scaling group."""
from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from sam import local_fleet
from sam.local_fleet import RETIRE_GRACE_SECONDS, FleetSettings, LocalFleet, Worker

from tests.unit.test_local_threads import GroupOf


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fleet_and_clock(tmp_path, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(local_fleet.time, "monotonic", clock)
    fleet = LocalFleet(FleetSettings("http://127.0.0.1:1", "us-east-1", "q", "jobs", "out", "asg", tmp_path), autoscaling=GroupOf(3))
    return fleet, clock


def running(fleet: LocalFleet, code: str) -> Worker:
    process = subprocess.Popen([sys.executable, "-c", code])
    worker = Worker("i-1", process, fleet.settings.log_dir / "w.log", seen_at=0.0)
    fleet.workers[worker.instance_id] = worker
    fleet.history.append({"instance": worker.instance_id, "pid": process.pid})
    return worker


def test_a_self_retired_worker_still_unloading_its_models_is_not_signalled_within_the_grace(fleet_and_clock):
    """A worker that called terminate on itself is still tearing its interpreter down (seconds on a loaded machine):
    it ends by itself with 0 and is never sent SIGTERM."""
    fleet, clock = fleet_and_clock
    worker = running(fleet, "import time; time.sleep(0.5)")
    fleet._leave(worker)  # its instance just left the group
    clock.now += RETIRE_GRACE_SECONDS - 0.5
    worker.process.wait(timeout=30)
    fleet._leave(worker)
    assert worker.signalled_at is None and fleet.history[0]["exitCode"] == 0 and "i-1" not in fleet.workers


def test_a_worker_whose_instance_was_removed_by_someone_else_gets_sigterm_after_the_grace(fleet_and_clock):
    fleet, clock = fleet_and_clock
    worker = running(fleet, "import time; time.sleep(60)")
    try:
        fleet._leave(worker)
        clock.now += RETIRE_GRACE_SECONDS - 0.5
        fleet._leave(worker)
        assert worker.signalled_at is None and worker.process.poll() is None
        clock.now += 1.0
        fleet._leave(worker)
        assert worker.process.wait(timeout=30) == -signal.SIGTERM
        fleet._leave(worker)
        assert fleet.history[0]["exitCode"] == -signal.SIGTERM and "i-1" not in fleet.workers
    finally:
        worker.process.kill()
