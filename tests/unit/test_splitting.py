"""The split rule (scribefleet/splitting.py): table-tested, then its goals in the simulator, which runs it unchanged."""
from __future__ import annotations

from dataclasses import replace

import pytest

from scribefleet.scaling import FleetState, PolicyParams
from scribefleet.splitting import SplitParams, SplitPlan, as_chunks, plan_split
from scribefleet_tools.simulator import SimConfig, simulate
from scribefleet_tools.workloads import Upload, make_workload

HOURS_3 = 3 * 3600.0
EMPTY = FleetState(queued_files=1, queued_audio_seconds=HOURS_3, busy_workers=0, in_service=0, desired=0, max_size=10,
                   queued_longest_seconds=HOURS_3)


@pytest.mark.parametrize("audio, state, chunks, why", [
    (HOURS_3, EMPTY, 10, "chunks"),  # a lone long file on an empty fleet: every machine
    (1199.0, replace(EMPTY, queued_audio_seconds=1199.0), 1, "less than 2 chunks"),  # under 2 x 600 s
    (1200.0, replace(EMPTY, queued_audio_seconds=1200.0), 2, "chunks"),
    (HOURS_3, replace(EMPTY, max_size=4), 4, "chunks"),  # never more chunks than machines
    # 4 busy machines, 3 other files queued: 10 - 4 - 3 = 3 machines free for it
    (HOURS_3, replace(EMPTY, queued_files=4, queued_audio_seconds=HOURS_3 + 900, busy_workers=4, in_service=4,
                      desired=4, busy_remaining_seconds=600), 3, "chunks"),
    # the seed load seen at a claim: 36 other files (10 h) keep 10 machines busy longer than the file takes whole
    (1800.0, replace(EMPTY, queued_files=37, queued_audio_seconds=36_000.0, in_service=10, desired=10), 1,
     "keeps the fleet busy"),
    # every machine busy and one more file queued before it: none free
    (HOURS_3, replace(EMPTY, queued_files=2, queued_audio_seconds=HOURS_3 + 60, busy_workers=10, in_service=10,
                      desired=10), 1, "free for it"),
])
def test_plan_split(audio, state, chunks, why) -> None:
    plan = plan_split(audio, state)
    assert plan.chunks == chunks and why in plan.reason, plan


def test_chunks_are_at_least_the_minimum_length() -> None:
    assert plan_split(HOURS_3, EMPTY, params=SplitParams(min_chunk_seconds=3600.0)).chunks == 3
    assert plan_split(HOURS_3, EMPTY, params=SplitParams(max_chunks=4)).chunks == 4


def test_split_params_are_validated() -> None:
    with pytest.raises(ValueError):
        SplitParams(min_chunk_seconds=0)


def test_the_scaler_sees_a_planned_file_as_its_chunks() -> None:
    seen = as_chunks(EMPTY, HOURS_3, SplitPlan(10, "x"))
    assert (seen.queued_files, seen.queued_audio_seconds, seen.queued_longest_seconds) == (10, HOURS_3, 1080.0)
    assert as_chunks(EMPTY, HOURS_3, SplitPlan(1, "x")) is EMPTY
    other_longer = replace(EMPTY, queued_files=2, queued_audio_seconds=HOURS_3 + 4 * 3600, queued_longest_seconds=4 * 3600)
    assert as_chunks(other_longer, HOURS_3, SplitPlan(5, "x")).queued_longest_seconds == 4 * 3600


def test_plan_split_sees_the_claimed_file_as_queued_and_its_worker_as_free() -> None:
    """At PlanSplit the table shows the file claimed (a busy worker's job): at_claim turns it back into a queued file."""
    from scribefleet.splitting import at_claim, plan_report

    claimed = replace(EMPTY, queued_files=0, queued_audio_seconds=0.0, queued_longest_seconds=0.0, busy_workers=1,
                      in_service=1, desired=1, busy_remaining_seconds=HOURS_3)
    seen = at_claim(claimed, HOURS_3)
    assert (seen.queued_files, seen.queued_audio_seconds, seen.busy_workers, seen.busy_remaining_seconds) == (1, HOURS_3, 0, 0.0)
    report = plan_report(plan_split(HOURS_3, seen), HOURS_3)
    assert (report["chunks"], report["chunkSeconds"], report["indexes"]) == (10, 1080.0, list(range(10)))


# --- the goals, in the simulator (ours: planned policy, aged order, cost retirement) -----------------------
OURS = SimConfig(policy="planned", order="aged", retirement="cost")
SPLIT = replace(OURS, split_rule=True)


@pytest.mark.parametrize("warm, goal", [(0, 210.0), (10, 150.0)])
def test_goal_one_3_hour_file(warm, goal) -> None:
    """Cold 90 s boot: <= 3:30 (whole: 13:30); with a warm pool <= 2:30 (whole: 12:30)."""
    whole = simulate(make_workload("huge"), replace(OURS, warm_pool=warm))
    split = simulate(make_workload("huge"), replace(SPLIT, warm_pool=warm))
    assert whole.makespan == pytest.approx(810.0 - 60 * bool(warm))
    assert split.makespan <= goal and split.failed == 0 and split.final_desired == 0


def test_goal_machine_time_when_machines_already_idle() -> None:
    """Ten machines idle (ten 10-minute files just done), then a 3-hour file: its machine time <= 1.5 x whole."""
    batch = [Upload(f"warm-{i}", 600.0, 0.0) for i in range(10)]
    later = batch + [Upload("huge", HOURS_3, 135.0)]
    alone = simulate(batch, OURS).machine_minutes
    whole, split = (simulate(later, c) for c in (OURS, SPLIT))
    assert split.latencies[-1] < whole.latencies[-1] / 5
    assert split.machine_minutes - alone <= 1.5 * (whole.machine_minutes - alone)


@pytest.mark.parametrize("draw", [8, 1, 2, 3, 28])
def test_goal_the_seed_load_is_never_split(draw) -> None:
    """All 37 files are queued by the time the first is claimed: the rule splits none, the run is the same."""
    uploads = make_workload("seed", draw)
    whole, split = simulate(uploads, OURS), simulate(uploads, SPLIT)
    assert split.makespan == whole.makespan and split.latencies == whole.latencies
    assert split.machine_seconds == whole.machine_seconds


def test_a_split_file_retries_only_the_chunk_whose_worker_died() -> None:
    """One chunk's worker dies: that chunk alone is queued again; the file still completes, nothing fails."""
    r = simulate(make_workload("huge"), replace(SPLIT, kill_at=(150.0,)), trace=True)
    assert r.retries == 1 and r.failed == 0 and len(r.latencies) == 1
    claims = [line for line in r.trace if "claims job" in line]
    assert sum("attempt 2" in line for line in claims) == 1 and len(claims) == 11
