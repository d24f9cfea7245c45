"""Timestamps in job items and events: ISO 8601 in UTC, written the way Step Functions writes `$$.State.EnteredTime`
(`2026-11-25T10:00:00.000Z`), so the state machine's and the worker's times in one item compare and sort alike."""
from __future__ import annotations

from datetime import datetime, timezone


def format_timestamp(moment: datetime | None = None) -> str:
    """`moment` (default: now) as ISO 8601 UTC with milliseconds and a `Z`."""
    moment = (moment or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_timestamp(value: object) -> datetime | None:
    """An ISO 8601 text (`Z` or an offset; a time without zone is UTC) → an aware datetime; None when empty or
    unreadable, so one bad field in an item never breaks a listing or a metric."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
