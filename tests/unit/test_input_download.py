"""The worker's input download (moto S3): the exact version probed, resumed where a broken-off body stopped, and an
input replaced or deleted meanwhile reported as InputChanged."""
import logging

import boto3
import pytest
from botocore.exceptions import ResponseStreamingError
from moto import mock_aws

from gpu_worker.agent import Agent, AgentSettings
from gpu_worker.protocol import JobMessage
from scribefleet.contract import ScribefleetError

MEDIA = bytes(range(256)) * 40_000  # 10 MB: several copy buffers


class BreakingBody:
    """A GET body that breaks off after `after` bytes, as a dropped connection does after the 200."""

    def __init__(self, body, after: int):
        self.body, self.left = body, after

    def read(self, size=-1):
        if self.left <= 0:
            raise ResponseStreamingError(error="Connection broken: IncompleteRead")
        chunk = self.body.read(min(size, self.left) if size and size > 0 else self.left)
        self.left -= len(chunk)
        return chunk


class FlakyS3:
    """moto's S3, whose first `breaks` GETs break off mid-body; remembers every GET's arguments."""

    def __init__(self, real, breaks: int, after: int = 3_000_000):
        self.real, self.breaks, self.after, self.gets = real, breaks, after, []

    def get_object(self, **kwargs):
        self.gets.append(kwargs)
        answer = self.real.get_object(**kwargs)
        if len(self.gets) <= self.breaks:
            answer["Body"] = BreakingBody(answer["Body"], self.after)
        return answer

    def __getattr__(self, name):
        return getattr(self.real, name)


@pytest.fixture
def bucket():
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="input-bucket")
        s3.put_bucket_versioning(Bucket="input-bucket", VersioningConfiguration={"Status": "Enabled"})
        version = s3.put_object(Bucket="input-bucket", Key="uploads/u1/t1/a.wav", Body=MEDIA)["VersionId"]
        yield s3, version


def download(s3, version: str, tmp_path):
    agent = Agent(AgentSettings(queue_url="q", output_bucket="out"), None, s3, None, None, None, logging.getLogger("test"))
    job = JobMessage("u1-t1", "token", "u1", "t1", "a.wav", "input-bucket", "uploads/u1/t1/a.wav", version, "", 1.0)
    return agent._download(job, tmp_path)


def test_a_body_that_breaks_off_is_resumed_from_the_bytes_written(bucket, tmp_path):
    real, version = bucket
    s3 = FlakyS3(real, breaks=2)
    assert download(s3, version, tmp_path).read_bytes() == MEDIA
    assert [get.get("Range") for get in s3.gets] == [None, "bytes=3000000-", "bytes=6000000-"]
    assert all(get["VersionId"] == version for get in s3.gets)  # every piece from the version that was probed


def test_a_connection_that_keeps_breaking_fails_after_its_attempts(bucket, tmp_path):
    real, version = bucket
    s3 = FlakyS3(real, breaks=99, after=1_000_000)
    with pytest.raises(ResponseStreamingError):
        download(s3, version, tmp_path)
    assert len(s3.gets) == 5


def test_an_input_version_deleted_meanwhile_is_input_changed(bucket, tmp_path):
    real, version = bucket
    real.delete_object(Bucket="input-bucket", Key="uploads/u1/t1/a.wav", VersionId=version)
    with pytest.raises(ScribefleetError) as caught:
        download(real, version, tmp_path)
    assert caught.value.code == "InputChanged"
