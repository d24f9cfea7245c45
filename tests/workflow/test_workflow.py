"""The transcription state machine end to end on moto: every path a job can take ends in a recorded state."""
from __future__ import annotations

import json

from tests.support.media import wav_bytes
from tests.workflow.conftest import FakePipeline


def test_happy_path_completes_with_outputs_in_item_and_execution(stack, upload, start_worker):
    worker = start_worker()
    started = upload("uploads/u1/t1/take one.wav", wav_bytes(2.0), {"language": "en", "formats": "srt,vtt,json"})
    assert started[0]["started"] is True
    execution = stack.wait(started[0]["executionArn"])

    assert execution["status"] == "SUCCEEDED", execution
    output = json.loads(execution["output"])
    job = stack.job("u1-t1")
    assert job["status"] == "COMPLETED" and job["progress"] == 100 and job["stage"] == "done"
    assert job["workerId"] == worker.agent.channel.worker_id and job["attempts"] == 1
    assert set(output["outputs"]) == {"srt", "vtt", "json", "result"} == set(job["outputs"])
    keys = {o["Key"] for o in stack.s3.list_objects_v2(Bucket=stack.output_bucket)["Contents"]}
    assert keys == {"transcripts/u1/t1/take one.srt", "transcripts/u1/t1/take one.vtt", "transcripts/u1/t1/take one.json", "transcripts/u1/t1/result.json"}
