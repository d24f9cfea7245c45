"""The local stack: a moto server on 127.0.0.1 in this process, template.yaml deployed into it, and the local fleet.

Everything runs in the `scribefleet local up` process except the workers (one process per instance):
- moto in server mode (ThreadedMotoServer) with the patches of sam/moto_patches.py applied here, where the server
  handles requests, and `execute_state_machine` on, so the real ASL runs;
- MOTO_PORT points moto's own service calls (the state machine's SQS/DynamoDB tasks) at this server, and
  AWS_ENDPOINT_URL points the in-process Lambda handlers' clients at it;
- the endpoint and the stack's Outputs are written to <state dir>/local.json for the other CLI commands.
"""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sam import moto_patches
from sam.deploy import REGION, Deployment, deploy
from sam.local_fleet import FleetSettings, LocalFleet

STATE_DIR = Path(os.environ.get("SCRIBEFLEET_HOME", ".scribefleet"))
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}
log = logging.getLogger(__name__)


@dataclass
class LocalInfo:
    """What local.json holds: enough for any process to find and use the running stack."""

    endpoint: str
    region: str
    stack_name: str
    outputs: dict[str, str]
    pid: int
    log_dir: str
    fleet_state: str
    parameters: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, state_dir: Path = STATE_DIR) -> "LocalInfo":
        path = state_dir / "local.json"
        if not path.exists():
            raise FileNotFoundError(f"no local stack found ({path} missing): start one with `scribefleet local up`")
        return cls(**json.loads(path.read_text()))


@dataclass
class LocalStack:
    server: object
    deployment: Deployment
    info: LocalInfo
    state_dir: Path
    fleet: LocalFleet | None = None

    def stop(self) -> None:
        if self.fleet is not None:
            self.fleet.stop()
        self.server.stop()
        (self.state_dir / "local.json").unlink(missing_ok=True)


def start_server(port: int = 0):
    """moto on 127.0.0.1 (port 0: any free port) with our patches and real state machine execution."""
    from moto.moto_api._internal.models import moto_api_backend
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    moto_patches.apply()
    moto_patches.capture_lambda_output()
    # moto's ASL interpreter logs every failure a state raises, caught or not, as an error holding the whole state
    # tree (tens of kilobytes a line): a lost worker or a bad upload would bury the stack's own log. The execution
    # history and the job item carry each failure; the interpreter's log adds nothing.
    logging.getLogger("moto.stepfunctions.parser.asl").setLevel(logging.CRITICAL)
    moto_api_backend.set_config(moto_patches.MOTO_CONFIG)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound = server.get_host_and_port()
    endpoint = f"http://{host}:{bound}"
    # This process's own clients (the Lambda handlers, moto's state machine tasks) talk to the server.
    os.environ.update(MOTO_PORT=str(bound), AWS_ENDPOINT_URL=endpoint, AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION, **FAKE_CREDENTIALS)
    os.environ.pop("AWS_PROFILE", None)
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")
    return server, endpoint


def up(
    state_dir: Path = STATE_DIR,
    port: int = 0,
    parameters: dict[str, str] | None = None,
    stack_name: str = "scribefleet-local",
    with_fleet: bool = True,
    idle_timeout: float = 20.0,
    boot_delay: float = 0.0,
    heartbeat_interval: float = 1.0,
    cpu_threads: int = 0,
) -> LocalStack:
    state_dir.mkdir(parents=True, exist_ok=True)
    log_dir = state_dir / "logs"
    log_dir.mkdir(exist_ok=True)
    started = time.monotonic()
    server, endpoint = start_server(port)
    deployment = deploy(stack_name, parameters, endpoint_url=endpoint)
    info = LocalInfo(
        endpoint=endpoint, region=REGION, stack_name=stack_name, outputs=deployment.outputs, pid=os.getpid(),
        log_dir=str(log_dir.resolve()), fleet_state=str((state_dir / "fleet.json").resolve()), parameters=deployment.parameters,
    )
    stack = LocalStack(server, deployment, info, state_dir)
    if with_fleet:
        settings = FleetSettings.from_outputs(
            endpoint, REGION, deployment.outputs, log_dir, state_file=Path(info.fleet_state), idle_timeout=idle_timeout,
            boot_delay=boot_delay, heartbeat_interval=heartbeat_interval, cpu_threads=cpu_threads,
        )
        stack.fleet = LocalFleet(settings).start()
    (state_dir / "local.json").write_text(json.dumps(asdict(info), indent=1))
    log.info("local stack %s up at %s in %.1f s", stack_name, endpoint, time.monotonic() - started)
    return stack
