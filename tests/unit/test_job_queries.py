"""Listing jobs through the indexes (moto, the table as template.yaml defines it): one user's jobs newest first and
a page at a time, the active jobs only, and never a task token."""
from decimal import Decimal

import boto3
import pytest
from moto import mock_aws

from scribefleet.contract import ACTIVE_STATUS_ATTRIBUTE
from scribefleet.job_queries import active_jobs, user_jobs, user_jobs_page
from tests.support.jobs_table import create_jobs_table


class CountingTable:
    """The table, counting the Query requests made and the items they returned (a Scan would fail the test)."""

    def __init__(self, table):
        self.table, self.requests, self.items_read = table, [], 0

    def query(self, **request):
        page = self.table.query(**request)
        self.requests.append(request)
        self.items_read += page["Count"]
        return page


@pytest.fixture
def table():
    with mock_aws():
        table = create_jobs_table(boto3.resource("dynamodb", region_name="us-east-1"))
        for n in range(120):  # a user's history: one job a minute, all finished
            table.put_item(Item={"processId": f"u1-t{n:03d}", "userId": "u1", "status": "COMPLETED", "fileName": f"{n}.wav",
                                 "createdAt": f"2026-12-01T10:{n // 60:02d}:{n % 60:02d}Z", "workToken": "secret-token"})
        for n in range(5):
            table.put_item(Item={"processId": f"u2-t{n}", "userId": "u2", "status": "QUEUED", ACTIVE_STATUS_ATTRIBUTE: "QUEUED",
                                 "createdAt": f"2026-12-02T09:00:0{n}Z", "audioSeconds": Decimal(30)})
        table.put_item(Item={"processId": "u1-now", "userId": "u1", "status": "IN_PROGRESS", ACTIVE_STATUS_ATTRIBUTE: "IN_PROGRESS",
                             "createdAt": "2026-12-02T11:00:00Z", "workToken": "secret-token"})
        yield table


def test_a_users_jobs_come_newest_first_page_by_page_and_only_theirs(table):
    counting = CountingTable(table)
    jobs = list(user_jobs(counting, "u1"))
    assert [j["processId"] for j in jobs[:3]] == ["u1-now", "u1-t119", "u1-t118"] and len(jobs) == 121
    assert all(j["userId"] == "u1" for j in jobs)
    assert len(counting.requests) == 3 and counting.items_read == 121  # pages of 50; no other user's job read


def test_a_limited_listing_reads_only_what_it_shows(table):
    counting = CountingTable(table)
    assert [j["processId"] for j in user_jobs(counting, "u1", limit=10)][-1] == "u1-t111"
    assert counting.items_read == 10 and [r["Limit"] for r in counting.requests] == [10]


def test_pages_chain_and_since_keeps_recent_jobs(table):
    first = user_jobs_page(table, "u1", page_size=100)
    second = user_jobs_page(table, "u1", page_size=100, after=first.next_key)
    assert len(first.jobs) == 100 and len(second.jobs) == 21 and second.next_key is None
    assert {j["processId"] for j in first.jobs}.isdisjoint(j["processId"] for j in second.jobs)
    recent = list(user_jobs(table, "u1", since="2026-12-01T10:01:50Z"))
    assert [j["processId"] for j in recent] == ["u1-now"] + [f"u1-t{n}" for n in range(119, 109, -1)]


@pytest.mark.security
def test_a_listing_never_carries_a_task_token(table):
    assert not [j for j in user_jobs(table, "u1") if "workToken" in j]


def test_active_jobs_are_the_waiting_and_running_ones_only(table):
    counting = CountingTable(table)
    jobs = active_jobs(counting)
    assert [j["processId"] for j in jobs] == [f"u2-t{n}" for n in range(5)] + ["u1-now"]
    assert counting.items_read == 6  # 120 finished jobs cost nothing


def test_a_split_job_is_listed_once_with_the_progress_of_its_chunks(table):
    """Its chunks stand for it in the status index; the listing shows the job, not its work items, with progress
    over the whole file: 90 % for the chunks (mean), 10 % for the merge."""
    table.put_item(Item={"processId": "u3-film", "userId": "u3", "status": "IN_PROGRESS", "stage": "split",
                         "splitChunks": 3, "createdAt": "2026-12-02T08:00:00Z"})
    for i, (status, progress) in enumerate([("COMPLETED", 100), ("IN_PROGRESS", 50), ("QUEUED", 0)]):
        item = {"processId": f"u3-film.chunk{i}", "parentId": "u3-film", "status": status, "progress": Decimal(progress),
                "createdAt": "2026-12-02T08:01:00Z", "workerId": f"i-{i}"}
        if status != "COMPLETED":
            item[ACTIVE_STATUS_ATTRIBUTE] = status
        table.put_item(Item=item)
    listed = {job["processId"]: job for job in active_jobs(table)}
    assert "u3-film" in listed and not any(".chunk" in pid for pid in listed)
    film = listed["u3-film"]
    assert film["progress"] == pytest.approx(0.9 * 150 / 3) and film["stage"] == "split: 1/3 chunks done █▅▁"
    assert film["workerId"] == "i-1, i-2"  # the workers on it now
    table.put_item(Item={"processId": "u3-film.merge", "parentId": "u3-film", "status": "IN_PROGRESS",
                         ACTIVE_STATUS_ATTRIBUTE: "IN_PROGRESS", "progress": Decimal(40), "workerId": "i-0"})
    assert {job["processId"]: job for job in active_jobs(table)}["u3-film"]["stage"] == "merging"
