"""Scaler policies: the seed rule's arithmetic, the planned policy's choices, the rules both must keep; and the
queue/job measurements they feed on."""
from __future__ import annotations

import random
from decimal import Decimal

import pytest

from scribefleet.scaling import (
    POLICIES, Decision, FleetState, PolicyParams, decide, job_metrics, queue_metrics,
)


def state(queued=0, audio=0.0, busy=0, in_service=0, desired=0, max_size=10, **kw) -> FleetState:
    return FleetState(queued, audio, busy, in_service, desired, max_size, **kw)


SEED_CASES = [
    # name, state, expected desired
    ("0 files, nothing running", state(), 0),
    ("1 short file", state(1, 30), 1),
    ("1 long file gets 1 machine, not 4", state(1, 3600), 1),
    ("3 short files share a machine (< 15 min of audio)", state(3, 600), 1),
    ("2 files over 15 min get 2", state(2, 1200), 2),
    ("clamp at MaxSize", state(37, 36000), 10),
    ("all busy: queue + busy", state(2, 1200, busy=3, in_service=3, desired=3), 5),
    ("all busy at MaxSize", state(5, 4000, busy=10, in_service=10, desired=10), 10),
    ("scale-to-zero: idle fleet is left to retire itself", state(0, 0, busy=0, in_service=3, desired=3), 3),
    ("never lowering: target 2 < desired 5", state(1, 300, busy=1, in_service=5, desired=5), 5),
    ("booting machines are not re-launched", state(2, 1200, in_service=0, desired=2, booting=2), 2),
    ("MaxSize 0 means no machines", state(3, 3000, max_size=0), 0),
]


@pytest.mark.parametrize("name,s,expected", SEED_CASES, ids=[c[0] for c in SEED_CASES])
def test_seed_rule(name: str, s: FleetState, expected: int) -> None:
    d = decide(s, "seed")
    assert isinstance(d, Decision)
    assert d.desired == expected, d.reason
    assert d.reason.startswith("seed:")


def test_seed_rule_says_why_it_does_not_lower() -> None:
    d = decide(state(0, 0, in_service=3, desired=3), "seed")
    assert "scale-out only" in d.reason and "retire themselves" in d.reason
    assert "nothing to do" in decide(state(), "seed").reason
    assert "MaxSize 10" in decide(state(37, 36000), "seed").reason


NO_SPARE = PolicyParams(headroom=0)
PLANNED_CASES = [
    ("0 files", state(), NO_SPARE, 0),
    ("1 file, first upload: one machine, no spare", state(1, 600), PolicyParams(), 1),
    ("clamp at MaxSize", state(37, 36000), PolicyParams(), 10),
    # 3 busy workers with ~6.7 s left each (300 audio s at 15x): one of them takes the file, no boot is worth it.
    ("all busy but soon free: no launch (seed rule: 4)", state(1, 600, 3, 3, 3, busy_remaining_seconds=300),
     PolicyParams(), 3),
    # ~2000 s left each: a new machine starts the file 1900 s sooner.
    ("all busy for long: launch one", state(1, 600, 3, 3, 3, busy_remaining_seconds=90_000), NO_SPARE, 4),
    ("all busy for long: launch one + 2 spares", state(1, 600, 3, 3, 3, busy_remaining_seconds=90_000),
     PolicyParams(), 6),
    # 3 files of 40 s work behind one booting machine: the 2nd and 3rd start 25 s sooner on their own machines
    # (seed rule: min(ceil(1800/900), 3) = 2).
    ("short files behind a booting machine each get one", state(3, 1800, desired=1, booting=1), NO_SPARE, 3),
    ("scale-to-zero: idle fleet retires itself", state(0, 0, 0, 4, 4), NO_SPARE, 4),
    ("never lowering", state(1, 60, 0, 5, 5), PolicyParams(), 5),
    ("MaxSize 0", state(2, 600, max_size=0), PolicyParams(), 0),
    ("all busy at MaxSize", state(4, 4000, 10, 10, 10, busy_remaining_seconds=90_000), PolicyParams(), 10),
]


@pytest.mark.parametrize("name,s,params,expected", PLANNED_CASES, ids=[c[0] for c in PLANNED_CASES])
def test_planned_policy(name: str, s: FleetState, params: PolicyParams, expected: int) -> None:
    d = decide(s, "planned", params)
    assert d.desired == expected, d.reason
    assert d.reason.startswith("planned:")


def test_planned_uses_the_warm_pool() -> None:
    # One busy worker frees in 60 s (900 audio s left); the queued file is 40 s of work.
    busy = state(1, 600, 1, 1, 1, busy_remaining_seconds=900)
    assert decide(busy, "planned", NO_SPARE).desired == 1  # a cold boot (90 s) would start it later than 60 s
    warm = FleetState(**{**busy.__dict__, "warm_available": 1})
    assert decide(warm, "planned", NO_SPARE).desired == 2  # a warm start (30 s) starts it 30 s sooner


def test_planned_uses_the_longest_queued_file() -> None:
    # 2 files, 1900 s audio behind one booting machine. Sizes unknown: 2 x 63 s of work -> done at 90 + 63 = 153 s.
    # Known longest 1800 s: 120 s + 7 s of work -> done at 90 + 120 = 210 s. Either way the 2nd file gets a machine.
    unknown = decide(state(2, 1900, desired=1, booting=1), "planned", NO_SPARE)
    known = decide(state(2, 1900, desired=1, booting=1, queued_longest_seconds=1800), "planned", NO_SPARE)
    assert unknown.desired == known.desired == 2
    assert "~153s" in unknown.reason and "~210s" in known.reason


def test_invariants_hold_for_random_states() -> None:
    rng = random.Random(8)
    for _ in range(2000):
        max_size = rng.randint(0, 12)
        in_service = rng.randint(0, max_size)
        busy = rng.randint(0, in_service)
        desired = rng.randint(in_service, max_size)
        queued = rng.randint(0, 40)
        s = FleetState(
            queued, queued * rng.uniform(30, 1800), busy, in_service, desired, max_size,
            booting=desired - in_service, busy_remaining_seconds=busy * rng.uniform(0, 1800),
            warm_available=rng.randint(0, 3),
        )
        for policy in POLICIES:
            d = decide(s, policy)
            assert desired <= d.desired <= max_size, (policy, s, d)  # scale out only, never past MaxSize
            if queued == 0:
                assert d.desired == desired, (policy, s, d)  # nothing queued: nothing to launch
            if policy == "seed" and queued and busy == in_service == desired < max_size:
                assert d.desired > desired, s  # the seed rule always adds a machine for work nobody can take


def test_unknown_policy_and_bad_state_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown scaling policy"):
        decide(state(), "magic")
    with pytest.raises(ValueError):
        state(-1)
    with pytest.raises(ValueError):
        state(0, 0, busy=2, in_service=1)
    with pytest.raises(ValueError):
        PolicyParams(rtf=0)


# --- measurements (the pure part) ----------------------------------------------------------------------------


def test_queue_metrics_count_claimed_jobs_as_busy() -> None:
    queued = [{"audioSeconds": Decimal("600")}, {"audioSeconds": Decimal("1800")},
              {"audioSeconds": Decimal("300"), "workerId": "i-1"}]  # claimed, not yet IN_PROGRESS
    in_progress = [{"audioSeconds": Decimal("900"), "progress": Decimal("40")}]
    m = queue_metrics(queued, in_progress)
    assert (m.queued_files, m.queued_audio_seconds, m.queued_longest_seconds) == (2, 2400.0, 1800.0)
    assert m.busy_workers == 2 and m.busy_remaining_seconds == pytest.approx(300 + 540)
    assert queue_metrics([], []).queued_longest_seconds == 0.0


def test_job_metrics_from_a_completed_item() -> None:
    item = {"createdAt": "2026-11-25T10:00:00.000Z", "claimedAt": "2026-11-25T10:01:30.000Z",
            "finishedAt": "2026-11-25T10:03:30.000Z", "audioSeconds": Decimal("1800"), "attempts": Decimal("2")}
    m = job_metrics(item)
    assert (m.queue_wait_seconds, m.processing_seconds, m.rtf, m.attempts) == (90.0, 120.0, 15.0, 2)
    queued = job_metrics({"createdAt": "2026-11-25T10:00:00Z", "audioSeconds": 60})
    assert (queued.queue_wait_seconds, queued.processing_seconds, queued.rtf, queued.attempts) == (None, None, None, 0)


