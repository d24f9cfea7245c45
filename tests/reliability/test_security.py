"""Security properties: outputs only under validated ids, no task token in any log line or job record, and least
privilege for the roles tests/infra/test_template_properties.py does not pin down (it covers the worker, scaler and
state machine roles, wildcards, Resource "*", managed policies, TLS-only bucket policies, IMDSv2 and ingress; those
are counted in the selfcheck line from there).
"""
from __future__ import annotations

import json
import threading
from pathlib import Path

import boto3
import pytest

from gpu_worker.agent import Agent, AgentSettings, Progress
from gpu_worker.fleet import ProcessFleet
from gpu_worker.protocol import JobMessage
from scribefleet.contract import ErrorCode, ScribefleetError, output_prefix, output_stem
from tests.infra.test_template_properties import as_list, iam_statements, of_type, template, transformed  # noqa: F401
from tests.reliability.conftest import REGION, audit, log_text, wait_until
from tests.support.media import wav_bytes

pytestmark = pytest.mark.security

HOSTILE_IDS = ["..", ".", "", "a/b", "a\\b", "../victim", "%2e%2e", "ü", "a b", "a+b", "x" * 65, "a\x00", "~root", "$(id)", "*"]
HOSTILE_NAMES = ["../../etc/passwd", "..\\..\\win.ini", "/abs/path.wav", "C:\\x\\y.mp3", "...", ".hidden.wav", "a/../../b.wav",
                 "\x00.wav", "<script>.wav", "x" * 500 + ".wav", "..", "./.", "ＡＢＣ.wav"]


# ---------------------------------------------------------------- output keys from validated ids only
@pytest.mark.parametrize("bad", HOSTILE_IDS)
def test_output_prefix_refuses_any_id_outside_the_pattern(bad):
    for user, transcript in ((bad, "t1"), ("u1", bad)):
        with pytest.raises(ScribefleetError) as caught:
            output_prefix(user, transcript)
        assert caught.value.code == ErrorCode.BAD_KEY


def test_output_stems_of_hostile_names_are_plain_names():
    for name in HOSTILE_NAMES:
        stem = output_stem(name)
        assert stem and "/" not in stem and "\\" not in stem and not stem.startswith(".") and len(stem) <= 120, (name, stem)
        assert "\x00" not in stem and ".." not in stem, (name, stem)


class _NoS3:
    def __getattr__(self, name):
        raise AssertionError(f"S3 {name} called for a job with forged ids")


class _NoChannel:
    worker_id = "i-test"

    def __getattr__(self, name):
        raise AssertionError(f"channel.{name} called for a job with forged ids")


def test_worker_refuses_to_deliver_a_job_whose_ids_are_forged(tmp_path):
    """Only the state machine can send job messages (IAM), but the worker does not rely on it: a message whose ids
    would put outputs elsewhere fails BadKey before any commit or upload."""
    agent = Agent(AgentSettings(queue_url="q", output_bucket="out"), None, _NoS3(), _NoChannel(), ProcessFleet("i-test"), None, None)
    out = tmp_path / "a.txt"
    out.write_text("x")
    for user, transcript in (("../victim", "t1"), ("u1", "../../t2"), ("u1/..", "t")):
        job = JobMessage("p", "tok", user, transcript, "a.wav", "in", "uploads/x", "", "", 1.0)
        with pytest.raises(ScribefleetError) as caught:
            agent._deliver(job, "tok", None, {"txt": Path(out)}, "a", Progress())  # noqa: SLF001
        assert caught.value.code == ErrorCode.BAD_KEY


# ---------------------------------------------------------------- no task token in any log line
def test_task_tokens_never_appear_in_worker_or_lambda_logs_or_job_records(rel_stack, uploads, fleet, logs, job_ledger):
    """Jobs down every path that logs (success, worker-side bad input, crash, SIGTERM mid-job, revoked token,
    unreadable message), then every captured line (workers, their pipeline modules, the three Lambdas) and every job
    record is searched for every claim and work token handed out."""
    from tests.support.aws import RevokingStepFunctions
    from tests.workflow.conftest import FakePipeline

    class Boom(FakePipeline):
        def run(self, audio_path, options, progress, voices=()):
            raise RuntimeError("model exploded")

    first = len(logs.lines)
    fleet.start(worker_id="i-plain")
    uploads("uploads/s1/ok/a.wav", wav_bytes(1.0))
    uploads("uploads/s1/silent/a.wav", wav_bytes(1.0, freq=0.0))  # passes the probe, NoAudio in the worker
    audit(rel_stack, ["s1-ok", "s1-silent"], job_ledger)
    fleet.stop_all()

    crash = fleet.start(Boom(), worker_id="i-crash")
    uploads("uploads/s1/crash/a.wav", wav_bytes(1.0))
    audit(rel_stack, ["s1-crash"], job_ledger)
    crash.stop()

    gate = threading.Event()
    doomed = fleet.start(FakePipeline(gate=gate), worker_id="i-term", heartbeat_interval=0.2)
    uploads("uploads/s1/term/a.wav", wav_bytes(1.0))
    wait_until(lambda: rel_stack.job("s1-term").get("stage") == "diarizing", timeout=20)
    with pytest.raises(SystemExit):
        doomed.agent.on_terminate()
    gate.set()
    doomed.stop()
    revoked = fleet.start(FakePipeline(seconds=0.6), worker_id="i-revoked", heartbeat_interval=0.1)
    revoked.agent.channel.sfn = RevokingStepFunctions(revoked.agent.channel.sfn)
    wait_until(lambda: rel_stack.job("s1-term").get("workerId") == "i-revoked", timeout=20)
    wait_until(lambda: revoked.agent.current is None, timeout=20)
    revoked.stop()
    boto3.client("sqs", region_name=REGION).send_message(QueueUrl=rel_stack.queue_url, MessageBody='{"claimToken": "not-json-enough"')
    fleet.start(worker_id="i-final")  # drops the unreadable message, then finishes s1-term (attempt 3)
    items = audit(rel_stack, ["s1-ok", "s1-silent", "s1-crash", "s1-term"], job_ledger)
    assert [items[p]["status"] for p in ("s1-ok", "s1-silent", "s1-crash", "s1-term")] == ["COMPLETED", "FAILED", "FAILED", "COMPLETED"]
    assert items["s1-crash"]["error"]["code"] == "InternalError" and items["s1-term"]["attempts"] == 3

    tokens = {t for t in fleet.claim_tokens + sorted(fleet.work_tokens) if t and t != "not-json-enough"}
    text = log_text(logs)[sum(len(line) + 1 for line in logs.lines[:first]):]
    records = json.dumps([rel_stack.job(p) for p in items], default=str)
    assert len(tokens) >= 10 and text.count("\n") > 50, (len(tokens), text.count("\n"))
    for token in tokens:
        for needle in (token, token[:24], token[-24:]):
            assert needle not in text, f"a task token appears in a log line: ...{needle[:8]}"
            assert needle not in records, "a task token appears in a job record"
    assert not [p for p in items if "workToken" in rel_stack.job(p)]  # revoked on completion/failure, never left behind
    for service in ("start_job", "probe_media", "scale_fleet", "gpu_worker"):
        assert f'"service":"{service}"' in text, f"no {service} lines captured: the check would prove nothing"


# ---------------------------------------------------------------- least privilege for every role
def statements_of(transformed, role: str) -> dict[str, dict]:  # noqa: F811
    return {action: st for _, st in iam_statements({role: transformed["Resources"][role]}) for action in as_list(st["Action"])}


def test_start_job_may_only_start_its_own_state_machine(transformed):  # noqa: F811
    """It starts executions of our state machine; and, since EventBridge invokes it asynchronously, it may put an upload
    event its handler failed on into the event dead-letter queue (the function's DeadLetterQueue)."""
    grants = statements_of(transformed, "StartJobFunctionRole")
    assert set(grants) == {"states:StartExecution", "sqs:SendMessage"}
    assert grants["sqs:SendMessage"]["Resource"] == {"Fn::GetAtt": ["EventDeadLetterQueue", "Arn"]}
    resource = grants["states:StartExecution"]["Resource"]["Fn::Sub"]
    assert resource[0].endswith(":stateMachine:${stateMachineName}")
    assert resource[1] == {"stateMachineName": {"Fn::GetAtt": ["TranscriptionStateMachine", "Name"]}}


def test_probe_media_reads_the_input_bucket_and_nothing_else(transformed):  # noqa: F811
    grants = statements_of(transformed, "ProbeMediaFunctionRole")
    assert all(action.startswith("s3:Get") or action == "s3:ListBucket" for action in grants), sorted(grants)
    for st in grants.values():
        buckets = {json.dumps(r) for r in as_list(st["Resource"])}
        assert all('"Ref": "InputBucket"' in b for b in buckets), buckets


def test_reconcile_job_may_only_read_and_update_jobs(transformed):  # noqa: F811
    """It closes jobs and announces the close: GetItem (a split job's open work items) and UpdateItem on the table,
    PutEvents of our own event on the default bus; an ended-execution event it failed on goes to the event
    dead-letter queue. Its hourly sweep queries the status index and describes our state machine's executions."""
    grants = statements_of(transformed, "ReconcileJobFunctionRole")
    assert set(grants) == {"dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query", "states:DescribeExecution",
                           "events:PutEvents", "sqs:SendMessage"}
    assert grants["dynamodb:Query"]["Resource"] == {"Fn::Sub": "${JobsTable.Arn}/index/ByStatus"}
    assert ":execution:${TranscriptionStateMachine.Name}:*" in json.dumps(grants["states:DescribeExecution"]["Resource"])
    assert grants["sqs:SendMessage"]["Resource"] == {"Fn::GetAtt": ["EventDeadLetterQueue", "Arn"]}
    assert grants["dynamodb:UpdateItem"]["Resource"] == grants["dynamodb:GetItem"]["Resource"] == {"Fn::GetAtt": ["JobsTable", "Arn"]}
    assert json.dumps(grants["events:PutEvents"]["Resource"]).endswith('event-bus/default"}')
    assert grants["events:PutEvents"]["Condition"]["ForAllValues:StringEquals"] == {"events:source": ["scribefleet"]}


def test_image_builder_role_only_reads_artifacts(transformed):  # noqa: F811
    grants = statements_of(transformed, "ImageBuilderInstanceRole")
    assert set(grants) == {"s3:GetObject", "s3:ListBucket"}
    assert "Condition" in grants["s3:ListBucket"]  # listing limited to the artifact and model prefixes


def test_no_identity_can_delete_or_overwrite_uploads(transformed):  # noqa: F811
    for owner, st in iam_statements(transformed["Resources"]):
        if st["Effect"] != "Allow":
            continue
        actions = as_list(st["Action"])
        assert not [a for a in actions if a.startswith("s3:Delete")], f"{owner} may delete objects"
        if any(a in ("s3:PutObject", "s3:PutObjectAcl") for a in actions):
            # the one place anyone may write in the input bucket is the worker's cache of voice embeddings
            for resource in as_list(st["Resource"]):
                if "InputBucket" in json.dumps(resource):
                    assert resource == {"Fn::Sub": "${InputBucket.Arn}/voices/*/.cache/*"} and owner == "WorkerInstanceRole", \
                        f"{owner} may write into the input bucket: {resource}"


COVERED_ROLES = {
    "WorkerInstanceRole": "tests/infra/test_template_properties.py::test_worker_role_is_least_privilege",
    "ScaleFleetFunctionRole": "tests/infra/test_template_properties.py::test_scaler_may_only_set_capacity_and_suspend_processes_of_its_asg",
    "TranscriptionStateMachineRole": "tests/infra/test_template_properties.py::test_state_machine_permissions_are_exact",
    "StartJobFunctionRole": "test_start_job_may_only_start_its_own_state_machine",
    "ProbeMediaFunctionRole": "test_probe_media_reads_the_input_bucket_and_nothing_else",
    "ImageBuilderInstanceRole": "test_image_builder_role_only_reads_artifacts",
    "ReconcileJobFunctionRole": "test_reconcile_job_may_only_read_and_update_jobs",
}


def test_every_role_has_a_least_privilege_test(transformed):  # noqa: F811
    roles = set(of_type(transformed["Resources"], "AWS::IAM::Role"))
    assert roles == set(COVERED_ROLES), f"roles without a least-privilege test: {sorted(roles - set(COVERED_ROLES))}"
