"""Every receive of the worker loop is a long poll: a short poll (WaitTimeSeconds=0) samples only some SQS servers and
may answer empty while jobs wait ("Setting-up long polling in Amazon SQS", SQS Developer Guide)."""
import json
import logging

import boto3
from moto import mock_aws

from gpu_worker.agent import Agent, AgentSettings
from scribefleet.retirement import IdleView, RetirementParams


class WaitRecordingSQS:
    """The worker's SQS client (moto), remembering each receive's WaitTimeSeconds; an empty answer moves the
    worker's clock on by the wait, as the long poll took that long."""

    def __init__(self, real, clock: list[float]):
        self.real, self.clock, self.waits = real, clock, []

    def receive_message(self, **kwargs):
        self.waits.append(kwargs["WaitTimeSeconds"])
        answer = self.real.receive_message(**kwargs)
        if not answer.get("Messages"):
            self.clock[0] += kwargs["WaitTimeSeconds"]
        return answer

    def __getattr__(self, name):
        return getattr(self.real, name)


class StayingFleet:
    instance_id = "i-wait"

    def __init__(self):
        self.retired = 0

    def retire(self):
        self.retired += 1

    def await_termination(self, stopping):
        return True


class QueuedBoard:
    """The fleet board sees a queued job for the first `queued` asks (others' claims in flight), then none."""

    def __init__(self, clock: list[float], queued: int):
        self.clock, self.queued = clock, queued

    def idle(self, idle_since, warm_available=0):
        queued, self.queued = (1, self.queued - 1) if self.queued else (0, 0)
        return IdleView(now=self.clock[0], idle_since=idle_since, worker_id="i-wait", queued_jobs=queued)

    def leave(self):
        pass


def run_agent(jobs: list[dict], retirement, board_queued=None):
    clock = [1000.0]
    with mock_aws():
        real = boto3.client("sqs", region_name="us-east-1")
        url = real.create_queue(QueueName="jobs")["QueueUrl"]
        for job in jobs:
            real.send_message(QueueUrl=url, MessageBody=json.dumps(job))
        sqs, fleet = WaitRecordingSQS(real, clock), StayingFleet()
        board = QueuedBoard(clock, board_queued) if board_queued is not None else None
        agent = Agent(AgentSettings(queue_url=url, output_bucket="out", poll_seconds=20, retirement=retirement), sqs,
                      None, None, fleet, None, logging.getLogger("test_receive_wait"), board=board,
                      clock=lambda: clock[0])
        handled = []
        agent.handle = lambda message: (handled.append(json.loads(message["Body"])),
                                        real.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"]))
        assert agent.run() == "retired" and fleet.retired == 1
    return sqs.waits, handled


def test_first_receive_and_the_one_after_a_job_are_long_polls():
    job = {"processId": "u-1", "audioSeconds": 30}
    waits, handled = run_agent([job], RetirementParams(rule="fixed", idle_timeout=3))
    assert handled == [job]
    assert waits[:2] == [1, 1]  # on start and right after the job (the old loop asked with 0 both times)
    assert waits == [1, 1, 2]  # then the retirement rule's recheck time, as before


def test_asking_again_at_once_while_the_board_sees_queued_jobs_still_long_polls():
    # The cost rule answers "stay, ask again in 0 s" while jobs are queued: that must not become a loop of short polls.
    waits, _ = run_agent([], RetirementParams(rule="cost", boot_seconds=2, trust=0.5), board_queued=3)
    assert len(waits) >= 4 and all(1 <= w <= 20 for w in waits), waits
