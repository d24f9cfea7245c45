"""A user's vocabulary file through the real workflow: it starts no job itself, it reaches the worker inside the
job's options, and a broken one fails the upload at ProbeMedia with the rule's reason."""
from __future__ import annotations

import json

from tests.support.media import wav_bytes
from tests.workflow.conftest import FakePipeline

VOCABULARY = {"terms": ["Veltrista"], "rules": [{"phrase": "mel trista", "replacement": "Veltrista"}]}


class RecordingPipeline(FakePipeline):
    def __init__(self):
        super().__init__()
        self.options: list[dict] = []

    def run(self, audio_path, options, progress, voices=()):
        self.options.append(options)
        return super().run(audio_path, options, progress)


def executions(stack) -> list[dict]:
    return stack.sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"]


def test_the_vocabulary_reaches_the_worker_in_the_jobs_options_and_starts_no_job_itself(stack, upload, start_worker):
    pipeline = RecordingPipeline()
    start_worker(pipeline)
    stack.s3.put_object(Bucket=stack.input_bucket, Key="settings/u1/vocabulary.json", Body=json.dumps(VOCABULARY).encode())
    assert executions(stack) == []  # the upload rule matches uploads/ only
    started = upload("uploads/u1/v1/a.wav", wav_bytes(1.0), {"terms": "Quorvane"})
    assert stack.wait(started[0]["executionArn"])["status"] == "SUCCEEDED"
    assert pipeline.options == [{"terms": ["Quorvane"], "vocabulary": VOCABULARY}]
    assert json.loads(stack.job("u1-v1")["options"]) == {"terms": ["Quorvane"], "vocabulary": VOCABULARY}
    assert len(executions(stack)) == 1


def test_a_broken_vocabulary_fails_the_upload_at_the_probe_with_the_rule(stack, upload, start_worker):
    pipeline = RecordingPipeline()
    start_worker(pipeline)
    broken = {"rules": [{"phrase": "ok", "replacement": "OK"}, {"pattern": "([a-z]+", "replacement": "x"}]}
    stack.s3.put_object(Bucket=stack.input_bucket, Key="settings/u2/vocabulary.json", Body=json.dumps(broken).encode())
    started = upload("uploads/u2/v2/a.wav", wav_bytes(1.0))
    execution = stack.wait(started[0]["executionArn"])
    assert execution["status"] == "FAILED" and execution["error"] == "InvalidOptions"
    assert stack.job("u2-v2")["error"] == {
        "code": "InvalidOptions",
        "message": "settings/u2/vocabulary.json: rules[1].pattern: not a valid regular expression (missing ) at position 7)",
    }
    assert pipeline.options == []
