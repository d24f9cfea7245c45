"""`scribefleet verify` against the local stack: the same command a user runs after `sam deploy`, every check run
for real (good file, bad file, a worker that goes silent mid-job, tokens searched in every log, resources), and the
checks moto cannot show said so on NOTE lines instead of passing silently."""
from __future__ import annotations

import pytest

from tests.support.waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.models]

CHECKS = [
    "bad file",
    "good file",
    "heartbeat loss (job requeued, completed by the fleet)",
    "HeartbeatTimeouts metric counts the lapse (local equivalent)",
    "task tokens absent from log groups",
    "task tokens absent from the completed job item",
    "`scribefleet logs` redacts both tokens",
    "alarms exist",
    "dashboard exists",
    "worker AMI",
]


def test_verify_passes_against_the_local_stack(local):
    # An idle fleet, so verify's own claim of its heartbeat job is not raced by a warm worker (it retries if it is).
    wait_until(lambda: not local.fleet()["workers"], timeout=60, what="idle fleet")
    result = local.cli("verify", "--budget", "240", timeout=560)
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stdout + result.stderr
    verdicts = {line[6:].split(": ", 1)[0]: line[:4] for line in lines if line[:4] in ("PASS", "FAIL")}
    assert verdicts == {name: "PASS" for name in CHECKS}, result.stdout
    assert lines[-1] == f"verify PASSED: {len(CHECKS)}/{len(CHECKS)} checks passed"
    # The history itself holds both tokens (states:GetExecutionHistory): the redaction check tested something.
    assert "the raw execution history holds: claim token, supervised token" in result.stdout
    # What moto cannot show is said, not passed off as checked.
    notes = [line for line in lines if line.strip().startswith("NOTE")]
    assert any("metric filters" in n for n in notes) and any("no state machine execution logs" in n for n in notes)
    readable = next(line for line in lines if line.startswith("PASS  good file"))
    for fmt in ("txt", "srt", "vtt", "json", "tsv", "docx", "edl", "avid_markers", "html"):
        assert f" {fmt}(" in readable
