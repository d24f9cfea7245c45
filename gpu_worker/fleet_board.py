"""The fleet board: one item in the jobs table where every worker says whether it is idle (since when) or busy
(until when, expected), and records the uploads it claims. An idle worker reads it to ask
`scribefleet.retirement.should_retire` with what the fleet knows, the same question the simulator asks.

Why an item in the jobs table: the worker role may already GetItem/UpdateItem there (template.yaml,
WorkerInstanceRole, JobProgress), and the sparse ByStatus/ByUser indexes never see an item without activeStatus and
userId. Its key holds a '#', which no process id can (contract: USER_ID_PATTERN, ID_PATTERN), so it cannot meet a job.
Each worker writes only its own entry and the uploads it claimed, with one UpdateItem that also returns the whole
board, so a check-in costs one request. A worker that dies stops checking in; its entry is ignored once stale and
removed by the next reader.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from decimal import Decimal

from botocore.exceptions import ClientError

from scribefleet.contract import JobField
from scribefleet.retirement import Arrival, IdleView

BOARD_KEY = "fleet#board"
WORKERS, ARRIVALS = "workers", "arrivals"
# ~70 bytes each: the board stays far below DynamoDB's 400 KB item limit at any upload rate; a session of more
# files than this is predicted as one of this many.
MAX_ARRIVALS = 1000


def _number(value: float) -> Decimal:
    return Decimal(str(round(float(value), 3)))


def idle_view(
    board: Mapping,
    worker_id: str,
    now: float,
    idle_since: float,
    queued_jobs: int = 0,
    warm_available: int = 0,
    stale_seconds: float = 60.0,
    memory_seconds: float = 3600.0,
    max_arrivals: int = MAX_ARRIVALS,
) -> tuple[IdleView, list[str], list[str]]:
    """The board item -> (the view for `worker_id`, stale worker ids, forgotten arrival keys).

    An idle entry counts while it checked in within `stale_seconds`; a busy one until its expected end plus the
    longer of `stale_seconds` and the job's expected length (a slow job is late, not dead; a dead worker's entry
    goes eventually). Uploads older than `memory_seconds`, and all but the latest `max_arrivals`, are forgotten."""
    idle_peers, busy_until, stale = [], [], []
    for other, entry in (board.get(WORKERS) or {}).items():
        if other == worker_id:
            continue
        state, since, seen = entry.get("state"), float(entry.get("since", 0)), float(entry.get("seen", 0))
        if state == "busy":
            until = float(entry.get("until", since))
            if now <= until + max(stale_seconds, until - since):
                busy_until.append(until)
                continue
        elif state == "idle" and now - seen <= stale_seconds:
            idle_peers.append((since, other))
            continue
        stale.append(other)
    recorded = sorted(
        ((float(e.get("at", 0)), key, float(e.get("audio", 0))) for key, e in (board.get(ARRIVALS) or {}).items()),
        reverse=True,
    )
    arrivals, forgotten = [], []
    for at, key, audio in recorded:
        if now - at > memory_seconds or len(arrivals) >= max_arrivals:
            forgotten.append(key)
        else:
            arrivals.append(Arrival(at, audio))
    view = IdleView(
        now=now, idle_since=idle_since, worker_id=worker_id, queued_jobs=queued_jobs,
        idle_peers=tuple(sorted(idle_peers)), busy_until=tuple(sorted(busy_until)),
        arrivals=tuple(sorted(arrivals, key=lambda a: a.at)), warm_available=warm_available,
    )
    return view, stale, forgotten


class FleetBoard:
    def __init__(self, table, worker_id: str, clock: Callable[[], float] = time.time, stale_seconds: float = 60.0,
                 memory_seconds: float = 3600.0):
        self.table, self.worker_id, self.clock = table, worker_id, clock
        self.stale_seconds, self.memory_seconds = stale_seconds, memory_seconds

    def idle(self, since: float, queued_jobs: int = 0, warm_available: int = 0) -> IdleView:
        """Check in as idle since `since` and return this worker's view of the fleet (one request)."""
        now = self.clock()
        board = self._update(
            "SET #ws.#me = :me", {"#me": self.worker_id},
            {":me": {"state": "idle", "since": _number(since), "seen": _number(now)}},
        )
        view, stale, forgotten = idle_view(board, self.worker_id, now, since, queued_jobs, warm_available,
                                           self.stale_seconds, self.memory_seconds)
        if stale or forgotten:
            self._forget(stale, forgotten)
        return view

    def busy(self, until: float, process_id: str, uploaded_at: float, audio_seconds: float) -> None:
        """Check in as busy until `until` (expected) with the job just claimed, and record its upload."""
        now = self.clock()
        self._update(
            "SET #ws.#me = :me, #as.#job = :job", {"#me": self.worker_id, "#job": process_id},
            {":me": {"state": "busy", "since": _number(now), "until": _number(until), "seen": _number(now)},
             ":job": {"at": _number(uploaded_at), "audio": _number(audio_seconds)}},
        )

    def leave(self) -> None:
        self.table.update_item(
            Key={JobField.PROCESS_ID: BOARD_KEY}, UpdateExpression="REMOVE #ws.#me",
            ExpressionAttributeNames={"#ws": WORKERS, "#me": self.worker_id},
        )

    def _update(self, expression: str, names: dict, values: dict) -> dict:
        request = dict(
            Key={JobField.PROCESS_ID: BOARD_KEY}, UpdateExpression=expression,
            ExpressionAttributeNames={"#ws": WORKERS, "#as": ARRIVALS, **names}, ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
        if "#as" not in expression:
            request["ExpressionAttributeNames"].pop("#as")
        try:
            return self.table.update_item(**request)["Attributes"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ValidationException":
                raise
        # The first check-in ever: a nested path needs its maps to exist (DynamoDB rejects the path otherwise).
        self.table.update_item(
            Key={JobField.PROCESS_ID: BOARD_KEY},
            UpdateExpression="SET #ws = if_not_exists(#ws, :empty), #as = if_not_exists(#as, :empty)",
            ExpressionAttributeNames={"#ws": WORKERS, "#as": ARRIVALS}, ExpressionAttributeValues={":empty": {}},
        )
        return self.table.update_item(**request)["Attributes"]

    def _forget(self, workers: list[str], arrivals: list[str]) -> None:
        names, paths = {"#ws": WORKERS, "#as": ARRIVALS}, []
        for i, worker in enumerate(workers):
            names[f"#w{i}"] = worker
            paths.append(f"#ws.#w{i}")
        for i, key in enumerate(arrivals[:50]):  # bounded request size; the next reader removes the rest
            names[f"#a{i}"] = key
            paths.append(f"#as.#a{i}")
        if not workers:
            names.pop("#ws")
        if not arrivals:
            names.pop("#as")
        self.table.update_item(Key={JobField.PROCESS_ID: BOARD_KEY}, UpdateExpression="REMOVE " + ", ".join(paths),
                               ExpressionAttributeNames=names)
