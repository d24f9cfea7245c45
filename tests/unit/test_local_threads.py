"""Threads of the local fleet: each worker's share of the cores, how many workers fit, and one setting
(WorkerConfig.cpu_threads) reaching torch, OpenMP/BLAS and CTranslate2 in a worker process."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gpu_worker.cpu_threads import thread_environment
from sam.local_fleet import WORKER_MEMORY_BYTES, FleetSettings, LocalFleet, Worker, fleet_capacity, this_machine
from tests.support.aws import REPO

GB = 1_000_000_000
CAPACITY_CASES = [
    # name, (cores, memory, max workers, requested threads), (threads per worker, workers that fit)
    ("2 cores, 3 workers: one thread each, 2 fit", (2, 24 * GB, 3, 0), (1, 2)),
    ("16 cores, 3 workers: 5 threads each", (16, 64 * GB, 3, 0), (5, 16)),
    ("1 worker owns the machine", (8, 32 * GB, 1, 0), (8, 8)),
    ("memory is the limit", (32, 4 * GB, 10, 0), (3, 4 // (WORKER_MEMORY_BYTES / GB))),
    ("an explicit setting wins", (2, 24 * GB, 3, 2), (2, 2)),
    ("MaxSize 0 still gives a thread", (4, 8 * GB, 0, 0), (4, 4)),
]


@pytest.mark.parametrize("name,given,expected", CAPACITY_CASES, ids=[c[0] for c in CAPACITY_CASES])
def test_fleet_capacity(name: str, given: tuple, expected: tuple) -> None:
    capacity = fleet_capacity(*given)
    assert (capacity.threads_per_worker, capacity.workers_that_fit) == expected


def test_capacity_says_when_more_workers_run_than_fit() -> None:
    text = fleet_capacity(2, 24 * GB, 3).describe()
    assert "2 cores" in text and "2 local workers fit" in text and "1 thread each" in text and "share cores" in text
    assert "share cores" not in fleet_capacity(16, 64 * GB, 3).describe()


def test_cpu_threads_sizes_every_pool_of_a_worker_process() -> None:
    # A fresh interpreter with no thread variables; 3 differs from torch's defaults (the core count) on 1, 2 or 4
    # cores, and the variables are left for whatever loads later and for child processes.
    code = (
        "import json, os, torch; from gpu_worker.cpu_threads import limit_cpu_threads; limit_cpu_threads(3); "
        "print(json.dumps([torch.get_num_threads(), torch.get_num_interop_threads(), os.environ['OMP_NUM_THREADS'], "
        "os.environ['OPENBLAS_NUM_THREADS']]))"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [3, 3, "3", "3"]
    assert thread_environment(2) == {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2"}
    assert thread_environment(0) == {}


class GroupOf:
    def __init__(self, max_size: int):
        self.max_size = max_size

    def describe_auto_scaling_groups(self, **_):
        return {"AutoScalingGroups": [{"MaxSize": self.max_size, "Instances": []}]}


@pytest.mark.parametrize("max_size,requested", [(3, 0), (1, 0), (3, 2)])
def test_local_workers_get_their_share_of_the_cores_and_the_fixed_retirement(tmp_path, max_size, requested) -> None:
    settings = FleetSettings("http://127.0.0.1:1", "us-east-1", "q", "jobs", "out", "asg", tmp_path,
                             idle_timeout=20.0, cpu_threads=requested)
    fleet = LocalFleet(settings, autoscaling=GroupOf(max_size))
    env = fleet.worker_env(Worker("i-1", None, tmp_path / "w.log", seen_at=0.0))
    threads = str(requested or this_machine(max_size).threads_per_worker)
    assert env["SCRIBEFLEET_CPU_THREADS"] == env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == threads
    assert env["SCRIBEFLEET_RETIREMENT"] == "fixed" and env["SCRIBEFLEET_IDLE_TIMEOUT"] == "20.0"
