"""infra/worker/worker-prestart.sh (the unit's ExecStartPre) run for real with a fake IMDS, a fake nvidia-smi and a
stub Python standing in for the worker venv (records the lifecycle-hook completion instead of calling AWS)."""
from __future__ import annotations

import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "infra/worker/worker-prestart.sh"


class FakeImds(BaseHTTPRequestHandler):
    states: list[str] = []

    def do_PUT(self):  # IMDSv2 token
        self._answer("token")

    def do_GET(self):
        if not self.headers.get("X-aws-ec2-metadata-token"):
            return self._answer("", 401)
        if self.path.endswith("/instance-id"):
            return self._answer("i-0123456789abcdef0")
        if self.path.endswith("/autoscaling/target-lifecycle-state"):
            return self._answer(self.states.pop(0) if len(self.states) > 1 else self.states[0])
        self._answer("", 404)

    def _answer(self, body: str, status: int = 200):
        self.send_response(status)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def imds():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeImds)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def run_prestart(tmp_path: Path, imds_url: str, *, gpu: bool = True, model: bool = True) -> tuple[int, str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    smi = bin_dir / "nvidia-smi"
    smi.write_text("#!/bin/sh\n" + ("echo 'Tesla T4, 15360 MiB, 550.0'\n" if gpu else "exit 9\n"))
    hook_log = tmp_path / "hook.log"
    python = bin_dir / "worker-python"
    python.write_text(f"#!/bin/sh\ncat >/dev/null\necho \"$INSTANCE_ID $SCRIBEFLEET_ASG_NAME\" >>{hook_log}\n")
    for f in (smi, python):
        f.chmod(0o755)
    models = tmp_path / "models/faster-whisper-tiny"
    if model:
        models.mkdir(parents=True, exist_ok=True)
        (models / "model.bin").write_bytes(os.urandom(3 << 20))
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}", "STARTUP_LOG": str(tmp_path / "startup.log"),
        "IMDS_ENDPOINT": imds_url, "WORKER_PYTHON": str(python), "WARM_POLL_SECONDS": "0.2",
        "SCRIBEFLEET_MODEL_DIR": str(models), "SCRIBEFLEET_DIARIZER": "default", "SCRIBEFLEET_ASG_NAME": "stack-workers",
    }
    rc = subprocess.run(["bash", str(SCRIPT)], env=env, timeout=60).returncode
    log = (tmp_path / "startup.log").read_text()
    return rc, log, hook_log.read_text() if hook_log.exists() else ""


def test_in_service_instance_checks_gpu_reads_models_and_completes_the_hook(tmp_path, imds):
    FakeImds.states = ["InService"]
    rc, log, hooks = run_prestart(tmp_path, f"http://127.0.0.1:{imds.server_port}")
    print(log)
    assert rc == 0
    assert "instance i-0123456789abcdef0" in log and "Tesla T4" in log
    assert "models pre-read: 3 MiB" in log and "ready: starting the worker" in log
    assert hooks == "i-0123456789abcdef0 stack-workers\n"


def test_warm_pool_instance_waits_until_put_in_service(tmp_path, imds):
    FakeImds.states = ["Warmed:Stopped", "Warmed:Stopped", "InService"]
    rc, log, hooks = run_prestart(tmp_path, f"http://127.0.0.1:{imds.server_port}")
    assert rc == 0
    assert log.count("in the warm pool (Warmed:Stopped)") == 2
    assert log.index("in the warm pool") < log.index("ready: starting the worker")
    assert hooks.count("i-0123456789abcdef0") == 1  # the launch hook is completed once per boot


def test_missing_gpu_or_model_fails_the_start(tmp_path, imds):
    FakeImds.states = ["InService"]
    url = f"http://127.0.0.1:{imds.server_port}"
    (tmp_path / "no-gpu").mkdir()
    rc, log, _ = run_prestart(tmp_path / "no-gpu", url, gpu=False)
    assert rc == 1 and "error: no NVIDIA GPU visible" in log
    (tmp_path / "no-model").mkdir()
    rc, log, _ = run_prestart(tmp_path / "no-model", url, model=False)
    assert rc == 1 and "error: model directory" in log and "missing from the AMI" in log


def test_outside_an_asg_the_start_proceeds(tmp_path):
    # no IMDS at all (e.g. a manual launch from the pipeline's launch template version): no warm-pool wait
    rc, log, _ = run_prestart(tmp_path, "http://127.0.0.1:9")
    assert rc == 0 and "ready: starting the worker" in log
