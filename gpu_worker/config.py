"""Worker configuration from environment variables (documented in docs/worker.md).

On EC2 the systemd unit loads them from an EnvironmentFile written by the user data; locally the fleet controller
sets them per worker process. Every variable has a default except the AWS resource names, which only the job
loop needs (the self-test runs without them).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

from scribefleet.contract import MAX_AUDIO_SECONDS
from scribefleet.retirement import RULES as RETIREMENT_RULES

PREFIX = "SCRIBEFLEET_"
DIARIZER_BACKENDS = ("default", "pyannote")
DEVICES = ("auto", "cpu", "cuda")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@dataclass(frozen=True)
class WorkerConfig:
    model_dir: str = "/opt/models/faster-whisper-large-v3"
    device: str = "auto"  # auto → cuda when CTranslate2 sees a GPU, else cpu
    compute_type: str = "auto"  # auto → float16 on cuda, int8 on cpu
    batch_size: int = 0  # 0 = auto: 8 on cuda (batched pipeline), 1 on cpu (sequential decoder)
    cpu_threads: int = 0  # threads per pool on cpu: torch, OpenMP/BLAS, CTranslate2 (gpu_worker/cpu_threads.py); 0 = all cores
    diarizer: str = "default"
    diarizer_model_dir: str | None = None
    # Idle retirement (scribefleet/retirement.py): "cost" weighs idling against a restart, told the restart times
    # and whether a warm pool refills the group; "fixed" retires after idle_timeout with an empty queue (the local
    # stack and tests, whose time scale is seconds).
    retirement: str = "cost"
    idle_timeout: float = 600.0
    boot_seconds: float = 90.0  # cold launch -> polling, as measured (template WorkerBootSeconds)
    warm_start_seconds: float = 30.0
    warm_pool: int = 0  # instances the ASG warm pool keeps (0: none, every restart is a cold boot)
    latency_weight: float = 1.0  # machine-seconds one second of a user's wait is worth
    heartbeat_interval: float = 5.0
    max_audio_seconds: float = float(MAX_AUDIO_SECONDS)
    decode_timeout: float = 600.0
    queue_url: str = ""
    table_name: str = ""
    output_bucket: str = ""
    asg_name: str = ""
    instance_id: str = ""  # empty: asked from the instance metadata service (EC2); the local fleet names its workers
    log_file: str = ""  # JSON log lines go here (the file the CloudWatch agent ships); empty: stdout
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "WorkerConfig":
        """Reads SCRIBEFLEET_<FIELD> (e.g. SCRIBEFLEET_MODEL_DIR); unset or empty keeps the default."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for field in fields(cls):
            raw = env.get(PREFIX + field.name.upper(), "").strip()
            if not raw:
                continue
            kind = type(field.default) if field.default is not None else str
            if field.name == "batch_size" and raw.lower() == "auto":
                raw = "0"
            try:
                values[field.name] = kind(raw)
            except ValueError:
                raise ValueError(f"{PREFIX}{field.name.upper()} must be a {kind.__name__}, got {raw!r}") from None
        config = cls(**values)
        config.validate()
        return config

    def validate(self) -> None:
        if self.device not in DEVICES:
            raise ValueError(f"{PREFIX}DEVICE must be one of {DEVICES}, got {self.device!r}")
        if self.diarizer not in DIARIZER_BACKENDS:
            raise ValueError(f"{PREFIX}DIARIZER must be one of {DIARIZER_BACKENDS}, got {self.diarizer!r}")
        if self.log_level not in LOG_LEVELS:
            raise ValueError(f"{PREFIX}LOG_LEVEL must be one of {LOG_LEVELS}, got {self.log_level!r}")
        if self.retirement not in RETIREMENT_RULES:
            raise ValueError(f"{PREFIX}RETIREMENT must be one of {RETIREMENT_RULES}, got {self.retirement!r}")
        for name in ("batch_size", "cpu_threads", "warm_pool"):
            if getattr(self, name) < 0:
                raise ValueError(f"{PREFIX}{name.upper()} must be >= 0")
        for name in ("idle_timeout", "heartbeat_interval", "max_audio_seconds", "decode_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{PREFIX}{name.upper()} must be > 0")
        for name in ("boot_seconds", "warm_start_seconds", "latency_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"{PREFIX}{name.upper()} must be >= 0")

    def missing_for_jobs(self) -> list[str]:
        """The AWS names the job loop needs but this configuration lacks (empty when ready)."""
        names = ("queue_url", "table_name", "output_bucket", "asg_name")
        return [PREFIX + n.upper() for n in names if not getattr(self, n)]
