"""The worker's side of the protocol against the real state machine: SIGTERM, revoked tokens, duplicate delivery,
idle retirement with scale-in protection."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.exceptions import ClientError

from gpu_worker.fleet import AutoScalingFleet, ProcessFleet
from gpu_worker.fleet_board import BOARD_KEY
from scribefleet.retirement import RetirementParams
from scribefleet.timestamps import parse_timestamp
from tests.support.aws import RevokingStepFunctions
from tests.support.media import wav_bytes
from tests.workflow.conftest import FakePipeline
from tests.support.waiting import wait_until


@pytest.mark.fault
def test_sigterm_mid_job_reports_worker_lost_at_once_and_the_retry_completes(stack, upload, start_worker):
    gate = threading.Event()
    doomed = start_worker(FakePipeline(gate=gate), worker_id="i-spot", heartbeat_interval=0.2)
    started = upload("uploads/u1/term/a.wav", wav_bytes(1.0))
    wait_until(lambda: stack.job("u1-term").get("stage") == "diarizing", timeout=20)

    with pytest.raises(SystemExit):
        doomed.agent.on_terminate()
    history = lambda: stack.sfn.get_execution_history(executionArn=started[0]["executionArn"], maxResults=1000)["events"]  # noqa: E731
    failure = wait_until(lambda: [e for e in history() if e.get("taskFailedEventDetails", {}).get("error") == "WorkerLost"], timeout=30)
    # "At once" is the mechanism, not a stopwatch (a loaded machine stretches any bound): the worker's own
    # SendTaskFailure ends the attempt, before any heartbeat could have timed out.
    assert "shut down" in failure[0]["taskFailedEventDetails"]["cause"]
    events = history()
    first_failure = next(i for i, e in enumerate(events) if e["type"] in ("TaskFailed", "TaskTimedOut"))
    assert events[first_failure]["type"] == "TaskFailed", events[first_failure]

    start_worker(worker_id="i-replacement")
    assert stack.wait(started[0]["executionArn"])["status"] == "SUCCEEDED"
    job = stack.job("u1-term")
    assert job["workerId"] == "i-replacement" and job["attempts"] == 2
    gate.set()


@pytest.mark.fault
def test_worker_whose_token_timed_out_abandons_the_job_and_uploads_nothing(stack, upload, start_worker):
    worker = start_worker(FakePipeline(seconds=1.0), worker_id="i-late", heartbeat_interval=0.1)
    worker.agent.channel.sfn = RevokingStepFunctions(worker.agent.channel.sfn)
    upload("uploads/u1/revoked/a.wav", wav_bytes(1.0))
    wait_until(lambda: stack.job("u1-revoked").get("workerId") == "i-late", timeout=20)
    time.sleep(1.5)  # longer than the fake job
    assert worker.agent.completed == 0
    assert "Contents" not in stack.s3.list_objects_v2(Bucket=stack.output_bucket)
    assert "outputs" not in stack.job("u1-revoked")


@pytest.mark.fault
def test_same_message_delivered_to_two_workers_is_processed_once(stack, upload, start_worker):
    upload("uploads/u1/twice/a.wav", wav_bytes(1.0))
    sqs = boto3.client("sqs")
    message = wait_until(lambda: sqs.receive_message(QueueUrl=stack.queue_url, VisibilityTimeout=0).get("Messages"), timeout=10)[0]
    first = start_worker(worker_id="i-first")
    second = start_worker(worker_id="i-second")
    second.agent.stopping.set()
    second.thread.join()
    second.agent.handle(message)  # a redelivery after `first` claimed it: conditional claim fails, no work
    wait_until(lambda: stack.job("u1-twice").get("status") == "COMPLETED", timeout=20)
    assert first.agent.completed == 1 and second.agent.completed == 0 and second.agent.pipeline.runs == 0
    assert stack.job("u1-twice")["attempts"] == 1


@pytest.mark.fault
def test_a_claim_whose_worker_died_before_answering_is_answered_by_the_next_receiver(stack, upload, start_worker):
    """A worker that dies between its claim write and SendTaskSuccess leaves the message to come back; the next receiver
    cannot claim it (same claim digest) but answers the claim for the dead worker, so Transcribe's heartbeat timeout
    retries the job, instead of WaitForWorker waiting for the claim timeout (a day in production)."""
    from gpu_worker.protocol import STALLED_CLAIM_SECONDS, JobMessage, token_digest
    from scribefleet.timestamps import format_timestamp

    started = upload("uploads/u1/stalled/a.wav", wav_bytes(1.0))
    sqs = boto3.client("sqs")
    message = wait_until(lambda: sqs.receive_message(QueueUrl=stack.queue_url, VisibilityTimeout=0).get("Messages"), timeout=10)[0]
    job = JobMessage.from_sqs(message)
    long_ago = format_timestamp(datetime.now(timezone.utc) - timedelta(seconds=STALLED_CLAIM_SECONDS + 60))
    stack.table.update_item(  # the dead worker's claim write, as JobChannel.claim makes it
        Key={"processId": "u1-stalled"}, UpdateExpression="SET workerId = :w, claimDigest = :d, claimedAt = :t, attempts = :one",
        ExpressionAttributeValues={":w": "i-dead", ":d": token_digest(job.claim_token), ":t": long_ago, ":one": 1})

    worker = start_worker(worker_id="i-next", heartbeat_interval=0.2)

    assert stack.wait(started[0]["executionArn"])["status"] == "SUCCEEDED"
    job_item = stack.job("u1-stalled")
    assert job_item["workerId"] == "i-next" and job_item["attempts"] == 2 and worker.agent.completed == 1


def test_idle_worker_retires_only_its_own_instance(stack):
    autoscaling = boto3.client("autoscaling")
    autoscaling.set_desired_capacity(AutoScalingGroupName=stack.asg_name, DesiredCapacity=2)
    instances = lambda: {i["InstanceId"]: i for i in autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[stack.asg_name])["AutoScalingGroups"][0]["Instances"]}  # noqa: E731
    mine, other = sorted(instances())
    assert all(i["ProtectedFromScaleIn"] for i in instances().values())

    AutoScalingFleet(autoscaling, instance_id=mine).retire()

    group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[stack.asg_name])["AutoScalingGroups"][0]
    assert group["DesiredCapacity"] == 1 and set(instances()) == {other}


def test_a_retired_worker_waits_for_the_shutdown_instead_of_exiting(stack, start_worker):
    """TerminateInstanceInAutoScalingGroup is only a request: a worker that exited at once would be restarted by
    systemd on the doomed instance. It waits for the stop (SIGTERM sets `stopping`), then ends "retired"."""
    autoscaling = boto3.client("autoscaling")
    autoscaling.set_desired_capacity(AutoScalingGroupName=stack.asg_name, DesiredCapacity=1)
    group = lambda: autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[stack.asg_name])["AutoScalingGroups"][0]  # noqa: E731
    instance = group()["Instances"][0]["InstanceId"]
    worker = start_worker(worker_id=instance, idle_timeout=1.0, fleet=AutoScalingFleet(autoscaling, instance, termination_wait=120))
    wait_until(lambda: not group()["Instances"], timeout=20)  # the termination was requested (moto carries it out at once)
    assert group()["DesiredCapacity"] == 0
    assert worker.thread.is_alive() and not worker.outcome  # still waiting: it neither exited nor went back to work
    worker.agent.stopping.set()
    worker.thread.join(timeout=10)
    assert worker.outcome == ["retired"]


def test_await_termination_gives_up_after_its_wait(stack):
    stopping = threading.Event()
    fleet = AutoScalingFleet(boto3.client("autoscaling"), instance_id="i-stays", termination_wait=0.05)
    assert fleet.await_termination(stopping) is False
    stopping.set()
    assert fleet.await_termination(stopping) is True


class BusyGroupFleet(ProcessFleet):
    """The group is busy at the first retirement: TerminateInstanceInAutoScalingGroup answers
    ScalingActivityInProgress (one of its documented errors), which botocore does not retry."""

    def __init__(self, instance_id: str):
        super().__init__(instance_id)
        self.calls = 0

    def retire(self) -> None:
        self.calls += 1
        if self.calls == 1:
            raise ClientError({"Error": {"Code": "ScalingActivityInProgress", "Message": "a scaling activity is in progress"}},
                              "TerminateInstanceInAutoScalingGroup")


def test_a_refused_retirement_keeps_the_worker_until_it_is_accepted(stack, start_worker):
    fleet = BusyGroupFleet("i-busy-group")
    worker = start_worker(worker_id="i-busy-group", idle_timeout=1.0, fleet=fleet)
    worker.thread.join(timeout=20)
    assert worker.outcome == ["retired"] and fleet.calls == 2


def test_agent_retires_after_idle_timeout(stack, start_worker):
    worker = start_worker(idle_timeout=1.0)
    worker.thread.join(timeout=10)
    assert worker.outcome == ["retired"]


class RetireTimeFleet(ProcessFleet):
    def retire(self) -> None:
        self.retired_at = time.time()


def test_cost_rule_keeps_the_worker_for_the_session_it_expects_then_leaves_the_board(stack, upload, start_worker):
    # Boot 2 s, trust 0.5, 15x, latency weight 6.5: the 1 s upload (1/15 s of work) is the session to expect; a kept
    # machine starts it a boot sooner: worth 2 + 6.5 x 1 x 2 = 15 s of silence after its upload (createdAt). Without
    # the board it would know nothing and leave one boot (2 s) after its job.
    params = RetirementParams(rule="cost", boot_seconds=2.0, trust=0.5, latency_weight=6.5)
    fleet = RetireTimeFleet("i-cost")
    # The job waits in the queue before the worker starts: a worker started first may rightly retire on an empty
    # queue before a slow machine gets the upload through ProbeMedia.
    upload("uploads/u1/cost/a.wav", wav_bytes(1.0))
    wait_until(lambda: int(boto3.client("sqs", region_name="us-east-1").get_queue_attributes(QueueUrl=stack.queue_url, AttributeNames=["ApproximateNumberOfMessages"])
                           ["Attributes"]["ApproximateNumberOfMessages"]) >= 1, timeout=60)
    worker = start_worker(worker_id="i-cost", retirement=params, fleet=fleet)
    worker.thread.join(timeout=90)
    assert worker.outcome == ["retired"] and worker.agent.completed == 1
    created = parse_timestamp(stack.job("u1-cost")["createdAt"]).timestamp()
    assert fleet.retired_at - created >= 15.0
    board = stack.job(BOARD_KEY)
    assert "i-cost" not in board["workers"]
    assert float(board["arrivals"]["u1-cost"]["audio"]) == pytest.approx(1.0, abs=0.05)
    assert float(board["arrivals"]["u1-cost"]["at"]) == pytest.approx(created, abs=0.01)
