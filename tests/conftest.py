"""Test-wide settings: fake AWS identity for moto (never real credentials), offline models, no telemetry."""
import os

pytest_plugins = ["scribefleet_tools.selfcheck"]  # the reliability report line at the end of every run

os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
    POWERTOOLS_TRACE_DISABLED="1",
    POWERTOOLS_METRICS_NAMESPACE="Scribefleet",
    POWERTOOLS_SERVICE_NAME="scribefleet",
    PYANNOTE_METRICS_ENABLED="0",
    HF_HUB_OFFLINE="1",
    TRANSFORMERS_OFFLINE="1",
)
for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
    os.environ.pop(name, None)

# Under pytest-xdist each test process gets its share of the cores for torch, OpenMP/BLAS and CTranslate2 (they read
# these when they load, so before any test module imports them), and the worker processes it starts inherit it:
# two processes each sizing their pools to every core would spin against each other.
if "PYTEST_XDIST_WORKER_COUNT" in os.environ:
    from gpu_worker.cpu_threads import thread_environment

    os.environ.update(thread_environment(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))))

import collections
import json
import logging
from pathlib import Path

import pytest
from moto.core.config import default_user_config

# moto resets boto3's default session at every mock start so that a later unmocked test cannot reach AWS with the
# fake credentials (moto docs, Configuration: "reset_boto3_session"). Here no test reaches AWS, and the reset costs
# every test a new session whose botocore loader re-parses each service's JSON model: a third of the CPU of the tiers
# that deploy template.yaml. Keep the one session; every mock still starts with empty backends.
default_user_config["core"]["reset_boto3_session"] = False

# moto's ASL interpreter logs every caught state error with its whole parse tree: failure paths are expected here.
logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)


@pytest.fixture(autouse=True)
def roles_grant_what_components_call():
    """Every AWS call a Lambda, the worker or the state machine makes during a test must be allowed by its IAM role in
    template.yaml: moto does not evaluate IAM, so a missing grant would otherwise show only on AWS
    (tests/support/iam_calls.py)."""
    from tests.support.aws import DEPLOYED
    from tests.support.iam_calls import recording_calls

    with recording_calls() as calls:
        yield
    missing = calls.ungranted(DEPLOYED)
    assert not missing, f"AWS calls that the caller's IAM role in template.yaml does not allow: {missing}"


def _scheduling_unit(nodeid: str) -> str:
    """What one xdist process runs whole: a module, except that the end-to-end modules form one unit (below)."""
    return "tests/e2e" if nodeid.startswith("tests/e2e/") else nodeid.split("::")[0]


def pytest_collection_modifyitems(config, items) -> None:
    """Longest unit first, by the wall seconds of each module that scripts/suite_cpu.py last measured
    (tests/module_seconds.json); a stable sort, so every xdist process collects the same order, as xdist requires.
    With `--dist loadfile --no-loadscope-reorder` (the Makefile) the longest units start at once, one per process,
    and the short ones fill in at the end, so no process runs alone for long. A module not yet measured counts as
    short; `scripts/suite_cpu.py --write-order` refreshes the file."""
    walls = json.loads((Path(__file__).parent / "module_seconds.json").read_text())["wall_seconds"]
    units: collections.Counter[str] = collections.Counter()
    for module, seconds in walls.items():
        units[_scheduling_unit(module)] += seconds
    items.sort(key=lambda item: -units[_scheduling_unit(item.nodeid)])


@pytest.hookimpl(optionalhook=True)  # an xdist hook: the suite also runs without xdist (e.g. `-p no:xdist`)
def pytest_xdist_make_scheduler(config, log):
    """`--dist loadfile`, except that the end-to-end modules form one unit: they share one local stack (a session
    fixture, started once per process), and two stacks with their worker processes would compete for the cores."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class LoadFileOneLocalStack(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _scheduling_unit(nodeid)

    return LoadFileOneLocalStack(config, log)
