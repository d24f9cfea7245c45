"""The stack the tools talk to, local or deployed, and the reads they make of it: jobs and transcripts.

The local stack is found through <state dir>/local.json (`scribefleet local up` writes it); a deployed one by its
CloudFormation stack name. Resource names always come from the stack's Outputs.
"""
from __future__ import annotations

import argparse
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scribefleet.contract import JobField, JobStatus, output_prefix


@dataclass
class Target:
    outputs: dict[str, str]
    stack_name: str
    region: str
    endpoint: str | None = None  # the local moto server
    profile: str | None = None
    log_dir: Path | None = None  # local worker logs

    @classmethod
    def local(cls, info) -> "Target":
        """The running local stack, from its sam.stack.LocalInfo."""
        return cls(info.outputs, info.stack_name, info.region, endpoint=info.endpoint, log_dir=Path(info.log_dir))

    def session(self):
        import boto3

        if self.endpoint:
            return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", aws_session_token="testing", region_name=self.region)
        return boto3.Session(profile_name=self.profile, region_name=self.region)

    def client(self, service: str):
        return self.session().client(service, endpoint_url=self.endpoint)

    def table(self):
        return self.session().resource("dynamodb", endpoint_url=self.endpoint).Table(self.outputs["JobsTableName"])


def resolve_target(args: argparse.Namespace) -> Target:
    if getattr(args, "stack_name", None):
        import boto3

        session = boto3.Session(profile_name=args.profile, region_name=args.region)
        stack = session.client("cloudformation").describe_stacks(StackName=args.stack_name)["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        return Target(outputs, args.stack_name, session.region_name, profile=args.profile)
    from sam.stack import LocalInfo

    return Target.local(LocalInfo.load(Path(args.home)))


RECENT_JOBS = 100  # how many of a user's most recent jobs `status` and `jobs --user` show


def jobs_to_show(target: Target, user: str | None = None, only: Collection[str] | None = None,
                 limit: int = RECENT_JOBS) -> list[dict[str, Any]]:
    """The jobs a listing shows, oldest first, read through the indexes, never by a table scan (whose cost grows with
    every job ever made): the given process ids; else one user's `limit` most recent jobs (ByUser); else the jobs
    waiting or running now (ByStatus, which holds nothing else)."""
    from scribefleet.job_queries import active_jobs, user_jobs, with_split_progress

    table = target.table()
    if only is not None:
        jobs = [table.get_item(Key={JobField.PROCESS_ID: pid}, ConsistentRead=True).get("Item") for pid in only]
    elif user is not None:
        # ByUser projects what a finished job's row shows; a running one is read whole (a split job's chunk count,
        # which its progress needs, is not projected, and an index's projection cannot be changed in place)
        jobs = [table.get_item(Key={JobField.PROCESS_ID: job[JobField.PROCESS_ID]}, ConsistentRead=True).get("Item")
                if job.get(JobField.STATUS) == JobStatus.IN_PROGRESS else job for job in user_jobs(table, user, limit=limit)]
    else:
        return active_jobs(table)  # a split job's progress included
    return sorted((with_split_progress(table, job) for job in jobs if job), key=lambda job: str(job.get(JobField.CREATED_AT, "")))


def job_item(target: Target, pid: str) -> dict[str, Any]:
    item = target.table().get_item(Key={JobField.PROCESS_ID: pid}, ConsistentRead=True).get("Item")
    if not item:
        raise SystemExit(f"no job {pid!r}")
    return item


def fetch_transcripts(target: Target, job: dict[str, Any], out: Path) -> list[Path]:
    """Download every output of a job (transcripts and result.json) into `out`; returns the files, in key order."""
    s3, bucket = target.client("s3"), target.outputs["OutputBucketName"]
    prefix = output_prefix(job[JobField.USER_ID], job[JobField.TRANSCRIPT_ID])
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            destination = out / obj["Key"][len(prefix):]
            s3.download_file(bucket, obj["Key"], str(destination))
            files.append(destination)
    return files
