"""The fleet board (gpu_worker/fleet_board.py): what an idle worker learns of the fleet, in a moto jobs table."""
from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from gpu_worker.fleet_board import BOARD_KEY, FleetBoard, idle_view
from scribefleet.retirement import Arrival


class Clock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def table():
    with mock_aws():
        ddb = boto3.resource("dynamodb", region_name="us-east-1")
        yield ddb.create_table(
            TableName="jobs", KeySchema=[{"AttributeName": "processId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "processId", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        )


def test_workers_see_each_other_and_the_uploads_they_claimed(table) -> None:
    clock = Clock(1000.0)
    a, b = FleetBoard(table, "i-a", clock), FleetBoard(table, "i-b", clock)
    first = a.idle(since=990.0)  # the first check-in ever creates the board
    assert first.idle_peers == () and first.arrivals == () and first.worker_id == "i-a"
    b.busy(until=1060.0, process_id="u1-t1", uploaded_at=995.0, audio_seconds=900.0)
    clock.now = 1010.0
    view = a.idle(since=990.0, warm_available=2)
    assert view.busy_until == (1060.0,) and view.arrivals == (Arrival(995.0, 900.0),)
    assert (view.now, view.idle_since, view.warm_available) == (1010.0, 990.0, 2)
    view = b.idle(since=1010.0)
    assert view.idle_peers == ((990.0, "i-a"),) and view.busy_until == ()
    a.leave()
    assert b.idle(since=1010.0).idle_peers == ()
    assert set(table.get_item(Key={"processId": BOARD_KEY})["Item"]["workers"]) == {"i-b"}


def test_a_dead_workers_entry_is_ignored_then_removed_and_old_uploads_forgotten(table) -> None:
    clock = Clock(1000.0)
    dead, alive = FleetBoard(table, "i-dead", clock, stale_seconds=60), FleetBoard(table, "i-alive", clock, stale_seconds=60)
    dead.idle(since=1000.0)
    dead.busy(until=1030.0, process_id="u1-old", uploaded_at=0.0, audio_seconds=30.0)  # an upload 1000 s ago
    clock.now = 1059.0  # busy until 1030: still counted for max(60, 30) s after its expected end
    assert alive.idle(since=1059.0).busy_until == (1030.0,)
    clock.now = 3700.0  # long past: the entry is stale, the upload older than an hour
    view = alive.idle(since=3700.0)
    assert view.busy_until == () and view.arrivals == ()
    item = table.get_item(Key={"processId": BOARD_KEY})["Item"]
    assert set(item["workers"]) == {"i-alive"} and item["arrivals"] == {}


IDLE_VIEW_CASES = [
    # name, board workers, now, expected (idle peers, busy until, stale)
    ("idle peer checked in 59 s ago counts", {"p": {"state": "idle", "since": 900, "seen": 941}}, 1000.0,
     (((900.0, "p"),), (), [])),
    ("idle peer silent for 61 s is stale", {"p": {"state": "idle", "since": 900, "seen": 939}}, 1000.0,
     ((), (), ["p"])),
    ("busy peer within its expected job length after the end", {"p": {"state": "busy", "since": 0, "until": 600}},
     1199.0, ((), (600.0,), [])),
    ("busy peer past twice its job length is stale", {"p": {"state": "busy", "since": 0, "until": 600}},
     1201.0, ((), (), ["p"])),
    ("this worker's own entry is not a peer", {"me": {"state": "idle", "since": 0, "seen": 1000}}, 1000.0,
     ((), (), [])),
]


@pytest.mark.parametrize("name,workers,now,expected", IDLE_VIEW_CASES, ids=[c[0] for c in IDLE_VIEW_CASES])
def test_idle_view(name, workers, now, expected) -> None:
    view, stale, forgotten = idle_view({"workers": workers, "arrivals": {}}, "me", now, idle_since=now,
                                       stale_seconds=60)
    assert (view.idle_peers, view.busy_until, stale) == expected and forgotten == []


def test_only_the_latest_uploads_are_kept() -> None:
    board = {"workers": {}, "arrivals": {f"u-{i}": {"at": float(i), "audio": 60} for i in range(5)}}
    view, _, forgotten = idle_view(board, "me", now=10.0, idle_since=10.0, max_arrivals=3)
    assert [a.at for a in view.arrivals] == [2.0, 3.0, 4.0] and sorted(forgotten) == ["u-0", "u-1"]
