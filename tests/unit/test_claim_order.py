"""The worker takes queued jobs in the aged claim order the simulator settled on (docs/scaling.md)."""
import json
from types import SimpleNamespace

import boto3
from moto import mock_aws

from gpu_worker.agent import Agent, AgentSettings
from scribefleet.scaling import aged_claim_key


def test_aged_key_is_longest_first_for_simultaneous_uploads_and_fifo_across_time():
    assert aged_claim_key(100, 120) < aged_claim_key(100, 2)  # same time: 30-min file before 30-s file
    assert aged_claim_key(0, 2) < aged_claim_key(500, 120)  # an upload 500 s older is not overtaken


def test_worker_takes_the_longest_of_simultaneous_jobs_and_hands_the_rest_back():
    with mock_aws():
        sqs = boto3.client("sqs")
        url = sqs.create_queue(QueueName="jobs")["QueueUrl"]
        for seconds in (30, 1800, 300):
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"processId": f"u-{seconds}", "audioSeconds": seconds}))
        agent = Agent(AgentSettings(queue_url=url, output_bucket="out"), sqs, None, SimpleNamespace(), None, None, None)
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["SentTimestamp"])["Messages"]
        assert len(received) == 3

        chosen = agent._take_one(received)

        assert json.loads(chosen["Body"])["processId"] == "u-1800"
        back = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        assert sorted(json.loads(m["Body"])["processId"] for m in back) == ["u-30", "u-300"]
