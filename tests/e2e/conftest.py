"""End-to-end tier: `scribefleet local up` in a child process (moto server + template.yaml + local fleet), real
worker processes with real CPU models (tiny.en + the default diarizer), driven through the CLI and S3."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from scribefleet_tools.samples import DISTINCT_VOICES, have_espeak, make_dialog, round_robin_lines
from scribefleet_tools.target import Target
from tests.support.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
# Short clocks so the tier stays within a few minutes on 2 cores: Transcribe heartbeat 10 s (the template's
# minimum), workers beat every 0.5 s and retire after 8 s idle; the seed scaler makes scale-out deterministic.
# Chunks of at least 80 s: only the "split" clip (~4.5 min) is long enough to be split; the others (<= 2.5 min)
# stay whole, as the tests that use them expect.
UP_ARGS = ["--idle-timeout", "8", "--heartbeat-seconds", "10", "--heartbeat-interval", "0.5", "--max-workers", "3",
           "--cpu-threads", "1", "--parameter", "ScalerPolicy=seed", "--parameter", "SplitMinChunkSeconds=80"]


@dataclass
class LocalRun:
    home: Path
    process: subprocess.Popen
    target: Target

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        env = {**os.environ, "SCRIBEFLEET_HOME": str(self.home)}
        return subprocess.run([sys.executable, "-m", "scribefleet_tools.cli", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)

    def job(self, pid: str) -> dict:
        return self.target.table().get_item(Key={"processId": pid}, ConsistentRead=True).get("Item", {})

    def fleet(self) -> dict:
        path = self.home / "fleet.json"
        return json.loads(path.read_text()) if path.exists() else {"workers": {}, "history": []}

    def group(self) -> dict:
        return self.target.client("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=[self.target.outputs["WorkerAutoScalingGroupName"]])["AutoScalingGroups"][0]

    def outputs_of(self, pid: str) -> dict[str, bytes]:
        job = self.job(pid)
        s3, bucket = self.target.client("s3"), self.target.outputs["OutputBucketName"]
        prefix = f"transcripts/{job['userId']}/{job['transcriptId']}/"
        listing = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        return {o["Key"][len(prefix):]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listing}



@pytest.fixture(scope="session")
def local(tmp_path_factory) -> LocalRun:
    if not have_espeak():
        pytest.fail("espeak-ng is required for the end-to-end tier (apt-get install espeak-ng)")
    home = tmp_path_factory.mktemp("scribefleet-home")
    env = {**os.environ, "SCRIBEFLEET_HOME": str(home)}
    log = open(home / "local-up.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "scribefleet_tools.cli", "local", "up", *UP_ARGS], cwd=REPO, env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: (home / "local.json").exists() or process.poll() is not None, timeout=90, what="local stack up")
        if process.poll() is not None:
            pytest.fail(f"scribefleet local up exited: {(home / 'local-up.log').read_text()[-3000:]}")
        info = json.loads((home / "local.json").read_text())
        target = Target(info["outputs"], info["stack_name"], info["region"], endpoint=info["endpoint"], log_dir=Path(info["log_dir"]))
        yield LocalRun(home, process, target)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="session")
def split_dialog(tmp_path_factory):
    """Three voices, 78 lines (~4 min): long enough to be split into 3 chunks of >= 80 s; (dialog, wav path)."""
    dialog = make_dialog(round_robin_lines(list("ABC"), 78, 5), dict(zip("ABC", DISTINCT_VOICES)))
    return dialog, dialog.write_wav(tmp_path_factory.mktemp("split") / "split.wav")


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> dict[str, Path]:
    """Two-speaker espeak dialogs: short ones for throughput, a longer one to be killed in the middle of, and one long
    enough to keep a worker busy while another upload goes through the whole submit path (the scale-out test); and
    and the three-speaker one long enough to be split across the fleet (`split_dialog`)."""
    out = tmp_path_factory.mktemp("clips")
    voices = {"A": DISTINCT_VOICES[0], "B": DISTINCT_VOICES[1]}
    made = {}
    for name, count, offset in (("short-1", 2, 0), ("short-2", 2, 2), ("short-3", 3, 4), ("short-4", 3, 6), ("long", 10, 1),
                                  ("longest", 40, 3)):
        made[name] = make_dialog(round_robin_lines(["A", "B"], count, offset), voices).write_wav(out / f"{name}.wav")
    (out / "notes.wav").write_bytes(b"these are meeting notes, not audio\n" * 40)
    made["bad"] = out / "notes.wav"
    return made
