"""The status view of `scribefleet status` and the demo: rows from job items, a table on a terminal, plain lines
elsewhere, and a watch that ends when every job has ended."""
from __future__ import annotations

import io
import re
from datetime import datetime, timedelta, timezone

from rich.console import Console

from scribefleet_tools.status_view import Fleet, JobRow, Snapshot, plain_lines, show, table, watch

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)
FLEET = Fleet(waiting_messages=1, queued_jobs=1, queued_audio_seconds=90, desired=2, in_service=1, max_size=10,
              jobs_by_status={"QUEUED": 1, "IN_PROGRESS": 1, "COMPLETED": 0, "FAILED": 1})


def stamp(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).isoformat().replace("+00:00", "Z")


RUNNING = {"processId": "ann-interview-1", "status": "IN_PROGRESS", "progress": 25, "stage": "transcribing",
           "workerId": "i-0abc", "createdAt": stamp(100), "claimedAt": stamp(60)}
FAILED = {"processId": "ann-notes", "status": "FAILED", "progress": 0, "stage": "failed", "createdAt": stamp(30),
          "finishedAt": stamp(20), "error": {"code": "UnsupportedMedia", "message": "'notes.wav' is a text file, not audio"}}
QUEUED = {"processId": "bob-talk", "status": "QUEUED", "progress": 0, "stage": "queued", "createdAt": stamp(5)}


def snapshot(*items: dict) -> Snapshot:
    return Snapshot(FLEET, [JobRow.of(item, NOW) for item in items])


def test_rows_say_elapsed_eta_worker_and_why_a_job_failed():
    running, failed, queued = (JobRow.of(item, NOW) for item in (RUNNING, FAILED, QUEUED))
    assert (running.elapsed, running.eta, running.worker) == (100, 180, "i-0abc")  # 60 s for 25 % → 180 s for the rest
    assert failed.elapsed == 10 and failed.eta is None and failed.reason == "UnsupportedMedia: 'notes.wav' is a text file, not audio"
    assert queued.eta is None and queued.worker == "-" and queued.reason == "" and not queued.done
    assert failed.done


def test_plain_lines_hold_the_fleet_line_every_job_and_the_failure_reason():
    lines = plain_lines(snapshot(RUNNING, FAILED))
    assert lines[0] == ("queue 1 waiting · queued jobs 1 (1:30 audio) · fleet desired 2 / in service 1 (max 10) · "
                        "queued 1 in_progress 1 completed 0 failed 1")
    assert lines[2].split()[:4] == ["ann-interview-1", "IN_PROGRESS", "25.0%", "transcribing"] and "eta  3:00" in lines[2]
    assert lines[3].splitlines()[1].strip() == "UnsupportedMedia: 'notes.wav' is a text file, not audio"
    assert plain_lines(snapshot())[2].startswith("no jobs to show")


def test_a_split_jobs_line_shows_a_bar_per_chunk_and_every_worker_on_it():
    """with_split_progress gives a split job one stage with a bar per chunk and its workers, comma-separated; a plain
    line keeps the first worker's id whole and counts the others."""
    split = {**RUNNING, "processId": "ann-film", "stage": "split: 1/3 chunks done █▅▁",
             "workerId": "i-0123456789abcdef0, i-0fedcba987654321, i-0aaa"}
    line = plain_lines(snapshot(split))[2]
    assert "split: 1/3 chunks done █▅▁" in line and "i-0123456789abcdef0 +2" in line


def test_on_a_terminal_one_table_with_every_column():
    console = Console(file=io.StringIO(), force_terminal=True, width=220, color_system=None)
    console.print(table(snapshot(RUNNING, FAILED)))
    text = console.file.getvalue()
    header = next(line for line in text.splitlines() if "failure reason" in line)
    assert [name for name in ("job", "status", "progress", "stage", "worker", "elapsed", "ETA", "failure reason") if name in header] == \
        ["job", "status", "progress", "stage", "worker", "elapsed", "ETA", "failure reason"]
    assert "fleet desired 2 / in service 1" in text and "ann-interview-1" in text and "i-0abc" in text
    assert " 25%" in text and "3:00" in text and "'notes.wav' is a text file" in text


def test_not_a_terminal_gets_plain_lines_without_escape_codes():
    out = io.StringIO()
    show(snapshot(RUNNING), Console(file=out))
    assert out.getvalue().splitlines()[0].startswith("queue 1 waiting") and "\x1b" not in out.getvalue()


class Script:
    """Snapshots in order, then the last one for ever."""

    def __init__(self, *snapshots: Snapshot):
        self.snapshots, self.calls = list(snapshots), 0

    def __call__(self) -> Snapshot:
        self.calls += 1
        return self.snapshots[min(self.calls, len(self.snapshots)) - 1]


def test_watch_in_a_log_prints_a_block_only_when_a_job_moved_and_stops_when_all_ended():
    moved = dict(RUNNING, progress=80)
    ended = dict(RUNNING, status="COMPLETED", progress=100, stage="done", finishedAt=stamp(0))
    script = Script(snapshot(RUNNING, FAILED), snapshot(RUNNING, FAILED), snapshot(moved, FAILED), snapshot(ended, FAILED))
    out = io.StringIO()
    last = watch(script, Console(file=out), interval=0, until_done=True)
    assert last.all_done and script.calls == 4
    blocks = re.split(r"^\d\d:\d\d:\d\d (?=queue )", out.getvalue(), flags=re.M)[1:]  # each block starts with a time
    assert len(blocks) == 3  # the repeated snapshot printed nothing
    assert "25.0%" in blocks[0] and "80.0%" in blocks[1] and "COMPLETED" in blocks[2]


def test_watch_on_a_terminal_redraws_until_done_and_leaves_the_last_table():
    ended = dict(RUNNING, status="COMPLETED", progress=100, stage="done", finishedAt=stamp(0))
    console = Console(file=io.StringIO(), force_terminal=True, width=220, color_system=None)
    last = watch(Script(snapshot(RUNNING), snapshot(ended)), console, interval=0, until_done=True)
    assert [job.status for job in last.jobs] == ["COMPLETED"]
    assert "COMPLETED" in console.file.getvalue().rsplit("IN_PROGRESS", 1)[-1]


def test_watch_gives_up_at_its_timeout():
    script = Script(snapshot(RUNNING))
    last = watch(script, Console(file=io.StringIO()), interval=0.01, until_done=True, timeout=0.05)
    assert not last.all_done and [job.status for job in last.jobs] == ["IN_PROGRESS"]


def test_a_watch_of_the_active_jobs_ends_when_none_is_left_and_a_users_listing_needs_jobs():
    """Without --user the listing holds only waiting and running jobs: an empty one means all of them ended."""
    assert Snapshot(FLEET, [], active_only=True).all_done
    assert not Snapshot(FLEET, []).all_done
    assert not Snapshot(FLEET, [JobRow.of(QUEUED, NOW)], active_only=True).all_done
