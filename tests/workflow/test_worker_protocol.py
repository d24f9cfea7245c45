"""The worker's side of the protocol against the real state machine: SIGTERM, revoked tokens, duplicate delivery,
idle retirement with scale-in protection."""
from __future__ import annotations

import threading
import time

import boto3
import pytest

from gpu_worker.fleet import AutoScalingFleet
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

    signalled = time.monotonic()
    with pytest.raises(SystemExit):
        doomed.agent.on_terminate()
    history = lambda: stack.sfn.get_execution_history(executionArn=started[0]["executionArn"], maxResults=1000)["events"]  # noqa: E731
    failure = wait_until(lambda: [e for e in history() if e.get("taskFailedEventDetails", {}).get("error") == "WorkerLost"], timeout=5)
    assert time.monotonic() - signalled < 2.0 and "shut down" in failure[0]["taskFailedEventDetails"]["cause"]

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


def test_idle_worker_retires_only_its_own_instance(stack):
    autoscaling = boto3.client("autoscaling")
    autoscaling.set_desired_capacity(AutoScalingGroupName=stack.asg_name, DesiredCapacity=2)
    instances = lambda: {i["InstanceId"]: i for i in autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[stack.asg_name])["AutoScalingGroups"][0]["Instances"]}  # noqa: E731
    mine, other = sorted(instances())
    assert all(i["ProtectedFromScaleIn"] for i in instances().values())

    AutoScalingFleet(autoscaling, instance_id=mine).retire()

    group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[stack.asg_name])["AutoScalingGroups"][0]
    assert group["DesiredCapacity"] == 1 and set(instances()) == {other}


def test_agent_retires_after_idle_timeout(stack, start_worker):
    worker = start_worker(idle_timeout=1.0)
    worker.thread.join(timeout=10)
    assert worker.outcome == ["retired"]
