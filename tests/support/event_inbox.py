"""A consumer of the job state change event, as a user would build one: an EventBridge rule on the default bus whose
target is an SQS queue, created in the active moto mock. Every event the rule matched is kept, so a test can count
them once every writer that could announce a job has finished."""
from __future__ import annotations

import json
import uuid

import boto3
from jsonschema import Draft202012Validator, FormatChecker

from scribefleet import schemas
from scribefleet.contract import EVENT_BUS, EVENT_SOURCE, JOB_STATE_CHANGE
from tests.support.waiting import wait_until

REGION = "us-east-1"
DETAIL_SCHEMA = Draft202012Validator(schemas.load("job_state_change.schema.json"), format_checker=FormatChecker())


class EventInbox:
    def __init__(self, sqs=None, events=None):
        """sqs/events: clients of the stack to watch (default: the active moto mock)."""
        name = f"job-events-{uuid.uuid4().hex[:8]}"
        self.sqs = sqs or boto3.client("sqs", region_name=REGION)
        self.queue_url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events = events or boto3.client("events", region_name=REGION)
        pattern = {"source": [EVENT_SOURCE], "detail-type": [JOB_STATE_CHANGE]}
        events.put_rule(Name=name, EventBusName=EVENT_BUS, EventPattern=json.dumps(pattern))
        events.put_targets(Rule=name, EventBusName=EVENT_BUS, Targets=[{"Id": "inbox", "Arn": queue_arn}])
        self.received: list[dict] = []

    def _drain(self) -> None:
        while True:
            messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
            if not messages:
                return
            for message in messages:
                self.received.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def events_for(self, process_id: str) -> list[dict]:
        """Every event received so far for this job (moto delivers to an SQS target within the PutEvents call, so
        once the writer's put returned, its event is here)."""
        self._drain()
        return [event for event in self.received if event["detail"].get("processId") == process_id]

    def wait_for(self, process_id: str, timeout: float = 30.0) -> dict:
        return wait_until(lambda: self.events_for(process_id), timeout=timeout, what=f"a job state change event for {process_id}")[0]


def schema_errors(detail: dict) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in DETAIL_SCHEMA.iter_errors(detail)]
