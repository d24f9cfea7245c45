"""What `scribefleet status` and `jobs` list, read through the table's indexes (moto, the table as template.yaml
defines it): a user's most recent jobs, the jobs waiting or running, or given process ids; never a table scan."""
from __future__ import annotations

import argparse
import io
from contextlib import redirect_stdout

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.models import DynamoDBBackend

from scribefleet.contract import JobField
from scribefleet_tools import cli
from scribefleet_tools.target import Target, jobs_to_show
from tests.support.jobs_table import create_jobs_table


@pytest.fixture
def target(monkeypatch):
    with mock_aws():
        table = create_jobs_table(boto3.resource("dynamodb", region_name="us-east-1"))
        for n in range(150):  # one user's history, one job a minute, all finished
            table.put_item(Item={"processId": f"ann-t{n:03d}", "userId": "ann", "status": "COMPLETED", "fileName": f"{n}.wav",
                                 "createdAt": f"2026-12-01T1{n // 60}:{n % 60:02d}:00Z"})
        table.put_item(Item={"processId": "bob-now", "userId": "bob", "status": "QUEUED", JobField.ACTIVE_STATUS: "QUEUED",
                             "createdAt": "2026-12-02T09:00:00Z"})

        def no_scan(*_, **__):
            raise AssertionError("a listing scanned the jobs table")

        monkeypatch.setattr(DynamoDBBackend, "scan", no_scan)
        yield Target(outputs={"JobsTableName": "jobs"}, stack_name="test", region="us-east-1")


def test_a_users_listing_is_their_most_recent_jobs_oldest_of_them_first(target):
    jobs = jobs_to_show(target, user="ann", limit=100)
    assert len(jobs) == 100 and jobs[0]["processId"] == "ann-t050" and jobs[-1]["processId"] == "ann-t149"


def test_without_a_user_the_listing_is_the_jobs_waiting_or_running(target):
    assert [j["processId"] for j in jobs_to_show(target)] == ["bob-now"]


def test_a_users_running_split_job_is_listed_with_its_chunks_progress(target):
    """The ByUser index does not project splitChunks: the running job is read whole, as the ByStatus listing shows it."""
    table = boto3.resource("dynamodb", region_name="us-east-1").Table("jobs")
    table.put_item(Item={"processId": "ann-long", "userId": "ann", "status": "IN_PROGRESS", "stage": "split",
                         "splitChunks": 2, "createdAt": "2026-12-02T10:00:00Z"})
    for i, progress in enumerate((100, 50)):
        table.put_item(Item={"processId": f"ann-long.chunk{i}", "parentId": "ann-long", "progress": progress,
                             "status": "COMPLETED" if progress == 100 else "IN_PROGRESS", "createdAt": "2026-12-02T10:00:01Z"})
    (row,) = [j for j in jobs_to_show(target, user="ann") if j["processId"] == "ann-long"]
    assert row["stage"].startswith("split: 1/2 chunks done") and row["progress"] == 67.5


def test_given_process_ids_are_read_one_by_one(target):
    assert [j["processId"] for j in jobs_to_show(target, only=["bob-now", "ann-t007", "nobody-x"])] == ["ann-t007", "bob-now"]


def test_jobs_command_prints_a_users_recent_jobs(target, monkeypatch):
    monkeypatch.setattr(cli, "resolve_target", lambda args: target)
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli.cmd_jobs(argparse.Namespace(user="ann", limit=3)) == 0
    assert [line.split("\t")[0] for line in out.getvalue().splitlines()] == ["ann-t147", "ann-t148", "ann-t149"]
    assert cli.build_parser().parse_args(["jobs", "--user", "ann"]).limit == 100
