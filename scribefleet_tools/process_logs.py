"""Every log line of one process id, from every component: the Lambdas' log groups, the execution history (task
tokens redacted), and the workers' logs (CloudWatch on a deployed stack, the local fleet's files locally).
What `scribefleet logs` prints and `scribefleet verify` searches."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from scribefleet_tools.redaction import history_event_text
from scribefleet_tools.target import Target, job_item


def stack_resources(target: Target) -> dict[str, tuple[str, str]]:
    pages = target.client("cloudformation").get_paginator("list_stack_resources").paginate(StackName=target.stack_name)
    return {r["LogicalResourceId"]: (r["ResourceType"], r.get("PhysicalResourceId", ""))
            for page in pages for r in page["StackResourceSummaries"]}


def execution_history(sfn, execution_arn: str) -> list[dict]:
    """Every event of one execution, all pages (raw: task tokens included; show them through history_event_text)."""
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
    return [event for page in pages for event in page["events"]]


def _stamp(millis: float) -> str:
    return datetime.fromtimestamp(millis / 1000, timezone.utc).isoformat(timespec="milliseconds")


def log_lines(target: Target, pid: str) -> list[tuple[str, str, str]]:
    """(timestamp, source, line) for one process id: Lambda log groups, execution history, worker logs."""
    lines: list[tuple[str, str, str]] = []
    logs = target.client("logs")
    groups = [f"/aws/lambda/{physical}" for kind, physical in stack_resources(target).values() if kind == "AWS::Lambda::Function"]
    if not target.endpoint:
        groups += [target.outputs["WorkerLogGroups"].split()[-1]] if "WorkerLogGroups" in target.outputs else []
    for group in groups:
        try:
            for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group, filterPattern=f'"{pid}"'):
                for event in page["events"]:
                    if pid in event["message"]:
                        lines.append((_stamp(event["timestamp"]), group.rsplit("/", 1)[-1], event["message"].rstrip()))
        except logs.exceptions.ResourceNotFoundException:
            continue
    sfn = target.client("stepfunctions")
    try:
        job = job_item(target, pid)
    except SystemExit:
        job = {}
    executions = {job["executionArn"]} if job.get("executionArn") else set()
    for execution in sfn.list_executions(stateMachineArn=target.outputs["StateMachineArn"], maxResults=1000)["executions"]:
        if execution["name"].startswith(pid):
            executions.add(execution["executionArn"])
    for arn in executions:
        for event in execution_history(sfn, arn):
            text = history_event_text(event)  # both task tokens redacted: they are credentials for the job
            lines.append((event["timestamp"].astimezone(timezone.utc).isoformat(timespec="milliseconds"), "state-machine", f"{event['type']} {text[:400]}"))
    if target.log_dir and target.log_dir.exists():
        for path in sorted(target.log_dir.glob("*.log")):
            for raw in path.read_text(errors="replace").splitlines():
                if pid in raw:
                    try:
                        record = json.loads(raw)
                        millis = record.get("_aws", {}).get("Timestamp")  # EMF metric lines
                        stamp = _stamp(millis) if millis else str(record.get("timestamp", ""))
                    except (ValueError, AttributeError):
                        stamp = ""
                    lines.append((stamp.replace(" ", "T").replace(",", "."), path.stem, raw))
    return sorted(lines, key=lambda line: line[0])
