"""Reading jobs without scanning the table: one user's jobs, newest first, a page at a time (the ByUser index), and
the jobs waiting or running now (the sparse ByStatus index). A table scan reads every job ever made; these read
what is asked for, however long the service has been running."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.conditions import Key

from scribefleet.contract import (ACTIVE_STATUS_ATTRIBUTE, STATUS_INDEX, USER_INDEX, JobField, JobStatus, Stage,
                                  work_item_ids)

PAGE_SIZE = 50


@dataclass(frozen=True)
class JobsPage:
    jobs: list[dict[str, Any]]
    next_key: dict[str, Any] | None  # pass back as `after` for the next page; None: there is none


def user_jobs_page(table, user_id: str, *, page_size: int = PAGE_SIZE, after: dict[str, Any] | None = None,
                   since: str | None = None) -> JobsPage:
    """One page of a user's jobs, newest first (createdAt descending); `since` (ISO 8601) keeps only newer ones.

    The index projects the fields a listing shows, never a task token (template.yaml, JobsTable)."""
    condition = Key("userId").eq(user_id)
    if since:
        condition = condition & Key("createdAt").gte(since)
    request: dict[str, Any] = {"IndexName": USER_INDEX, "KeyConditionExpression": condition, "ScanIndexForward": False,
                               "Limit": page_size}
    if after:
        request["ExclusiveStartKey"] = after
    page = table.query(**request)
    return JobsPage(page["Items"], page.get("LastEvaluatedKey"))


def user_jobs(table, user_id: str, *, limit: int | None = None, since: str | None = None,
              page_size: int = PAGE_SIZE) -> Iterator[dict[str, Any]]:
    """A user's jobs, newest first, fetched page by page as they are consumed; at most `limit`."""
    after, served = None, 0
    while True:
        page = user_jobs_page(table, user_id, page_size=page_size if limit is None else min(page_size, limit - served),
                              after=after, since=since)
        for job in page.jobs:
            yield job
            served += 1
            if limit is not None and served >= limit:
                return
        if page.next_key is None:
            return
        after = page.next_key


def all_items(call, **kwargs) -> list[dict[str, Any]]:
    """Every item of a paginated DynamoDB Table.query / Table.scan."""
    items: list[dict[str, Any]] = []
    while True:
        page = call(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def jobs_with_status(table, status: JobStatus, index: str = STATUS_INDEX) -> list[dict[str, Any]]:
    """Every job with this (active) status, all pages; a finished job is not in the index at all."""
    return all_items(table.query, IndexName=index, KeyConditionExpression=Key(ACTIVE_STATUS_ATTRIBUTE).eq(str(status)))


def active_jobs(table, index: str = STATUS_INDEX) -> list[dict[str, Any]]:
    """Every job waiting or running now, oldest first. A split job is in the index through its chunks and merge
    (work items): it is listed once, as itself, with their progress (with_split_progress)."""
    items = jobs_with_status(table, JobStatus.QUEUED, index) + jobs_with_status(table, JobStatus.IN_PROGRESS, index)
    jobs = {item[JobField.PROCESS_ID]: item for item in items if not item.get(JobField.PARENT_ID)}
    for parent in {item[JobField.PARENT_ID] for item in items if item.get(JobField.PARENT_ID)} - set(jobs):
        job = table.get_item(Key={JobField.PROCESS_ID: parent}, ConsistentRead=True).get("Item")
        if job:
            jobs[parent] = job
    return sorted((with_split_progress(table, job) for job in jobs.values()), key=lambda job: str(job.get("createdAt", "")))


CHUNKS_SHARE = 0.9  # of a split job's progress: its chunks (at once, on several workers); the merge is the rest
WORKERS_SEPARATOR = ", "  # a split job's workers, in its one workerId field as listed


BAR_LEVELS = "▁▂▃▄▅▆▇█"


def chunk_bars(progress: list[float]) -> str:
    """One character per chunk, its height the chunk's progress: the chunks' parallel bars in one line of text."""
    return "".join(BAR_LEVELS[min(len(BAR_LEVELS) - 1, int(p * len(BAR_LEVELS) / 100))] for p in progress)


def with_split_progress(table, job: dict[str, Any]) -> dict[str, Any]:
    """A running split job as one job: progress over the whole file (the mean of its chunks', then the merge's),
    stage "split: 2/5 chunks done" with a bar per chunk (█▅█▁▁), or "merging", and the workers on it. Any other job
    is returned as it is."""
    chunks = int(job.get(JobField.SPLIT_CHUNKS, 0) or 0)
    if not chunks or job.get(JobField.STATUS) != JobStatus.IN_PROGRESS:
        return job
    parts = [table.get_item(Key={JobField.PROCESS_ID: key}, ConsistentRead=True).get("Item", {})
             for key in work_item_ids(job[JobField.PROCESS_ID], chunks)]
    progress = [float(part.get(JobField.PROGRESS, 0) or 0) for part in parts]
    done = sum(part.get(JobField.STATUS) == JobStatus.COMPLETED for part in parts[:-1])
    workers = sorted({str(part[JobField.WORKER_ID]) for part in parts if part.get(JobField.WORKER_ID)
                      and part.get(ACTIVE_STATUS_ATTRIBUTE)})
    merging = bool(parts[-1])
    return {
        **job,
        JobField.PROGRESS: round(CHUNKS_SHARE * sum(progress[:-1]) / chunks + (1 - CHUNKS_SHARE) * progress[-1], 1),
        JobField.STAGE: "merging" if merging else f"{Stage.SPLIT}: {done}/{chunks} chunks done {chunk_bars(progress[:-1])}",
        JobField.WORKER_ID: WORKERS_SEPARATOR.join(workers) if workers else "-",
    }
