"""Idle retirement (scribefleet.retirement): the cost rule's choices, computed by hand in each case's comment, and
the fixed rule it replaces. Defaults: cold boot 90 s, warm start 30 s, trust 0.5 (every idle machine waits 45 s
cold / 15 s warm), latency weight 1, 15x."""
from __future__ import annotations

import math

import pytest

from scribefleet.retirement import (
    Arrival, IdleView, RetirementParams, predicted_session, sessions, should_retire,
)

# The seed's batch: 37 files, 36,000 s of audio, all at 0 -> mean work 36000 / 15 / 37 = 64.86 s.
SEED_BATCH = tuple(Arrival(0.0, 36_000 / 37) for _ in range(37))
# One wave of the burst: 20 files of 150 s (10 s of work each), 0.5 s apart, the last at 9.5 s.
WAVE = tuple(Arrival(i * 0.5, 150.0) for i in range(20))


def view(now: float, idle_since: float, **kw) -> IdleView:
    return IdleView(now=now, idle_since=idle_since, worker_id=kw.pop("worker_id", "me"), **kw)


CASES = [
    # name, view, params, retire, recheck_in
    ("a queued job keeps the worker", view(1000, 0, queued_jobs=1), RetirementParams(), False, 0.0),
    ("every idle machine waits half a cold boot first (45 s)", view(10, 0), RetirementParams(), False, 35.0),
    # No uploads known: plain ski rental on the idle time, one cold boot.
    ("nothing known: idle 60 s < one cold boot", view(60, 0), RetirementParams(), False, 30.0),
    ("nothing known: idle 90 s = one cold boot -> retire", view(90, 0), RetirementParams(), True, 0.0),
    # Seed batch, the fleet drains at ~5:37. One machine takes 90 / 64.86 = 1.39 of the next batch's files within
    # a boot: worth 90 + 1.39 x 90 = 214.9 s; the silence (337 s) is longer -> retire after the 45 s minimum.
    ("seed batch drained: silence 337 s > 215 s worth", view(337, 290, arrivals=SEED_BATCH), RetirementParams(),
     True, 0.0),
    ("seed batch: still the 45 s minimum", view(337, 300, arrivals=SEED_BATCH), RetirementParams(), False, 8.0),
    # Burst wave: a lone machine takes 90 / 10 = 9 of the next wave's 20 files within a boot, worth
    # 90 + 9 x 90 = 900 s; silence 120 - 9.5 = 110.5 s -> stay, ask again in 789.5 s.
    ("burst wave, lone machine: worth 900 s", view(120, 60, arrivals=WAVE), RetirementParams(), False, 789.5),
    # Two idle peers went idle earlier: they take 18 files, this machine 2: worth 90 + 2 x 90 = 270 s.
    ("burst wave, third machine: worth 270 s",
     view(120, 60, arrivals=WAVE, idle_peers=((50.0, "a"), (55.0, "b"))), RetirementParams(), False, 159.5),
    # Three earlier peers take 27 >= 20 files: this machine would get none -> retire.
    ("burst wave, fourth machine: surplus",
     view(120, 60, arrivals=WAVE, idle_peers=((50.0, "a"), (55.0, "b"), (58.0, "c"))), RetirementParams(), True, 0.0),
    # A peer that went idle later is behind this machine: it does not count.
    ("peers idle since later are behind", view(120, 60, arrivals=WAVE, idle_peers=((61.0, "a"),) * 3),
     RetirementParams(), False, 789.5),
    # Equal idle times: the smaller worker id is ahead (every worker orders the board the same way).
    ("tie broken by worker id: peer 'a' ahead of 'me'",
     view(120, 60, arrivals=WAVE, idle_peers=((50.0, "x"), (60.0, "a"), (60.0, "z"))), RetirementParams(), False,
     159.5),
    # A busy peer free in 30 s takes (90 - 30) / 10 = 6 files; with two idle peers ahead (18): 24 >= 20 -> retire.
    ("busy peer free within a boot counts ahead",
     view(120, 60, arrivals=WAVE, idle_peers=((50.0, "a"), (55.0, "b")), busy_until=(150.0,)), RetirementParams(),
     True, 0.0),
    ("busy peer free after a boot does not",
     view(120, 60, arrivals=WAVE, idle_peers=((50.0, "a"), (55.0, "b")), busy_until=(300.0,)), RetirementParams(),
     False, 159.5),
    # Warm pool: a restart is a 30 s warm start, so a machine takes 3 files within it, worth 30 + 3 x 30 = 120 s.
    ("warm pool: worth only 120 s", view(120, 60, arrivals=WAVE, warm_available=2), RetirementParams(), False, 9.5),
    ("warm pool: silence 121.5 s -> retire", view(131, 60, arrivals=WAVE, warm_available=2), RetirementParams(),
     True, 0.0),
    ("warm pool: minimum wait is half a warm start", view(70, 60, arrivals=WAVE, warm_available=1),
     RetirementParams(), False, 5.0),
    # The first upload of the next wave (a session of one file) does not make the fleet forget the last wave:
    # silence 10 s, still worth 900 s.
    ("a new small session keeps the big one's prediction",
     view(610, 560, arrivals=WAVE + (Arrival(600.0, 150.0),)), RetirementParams(), False, 890.0),
    # A session older than the memory (1 h) is forgotten: back to ski rental on the idle time.
    ("forgotten after an hour", view(3700, 3650, arrivals=WAVE), RetirementParams(), False, 40.0),
    ("latency weight 0: worth the boot alone (90 s)", view(120, 60, arrivals=WAVE),
     RetirementParams(latency_weight=0.0), True, 0.0),
    ("trust 1: a whole boot first", view(80, 0, arrivals=SEED_BATCH), RetirementParams(trust=1.0), False, 10.0),
    ("fixed rule: 599 s idle", view(599, 0), RetirementParams(rule="fixed"), False, 1.0),
    ("fixed rule: 600 s idle -> retire", view(600, 0), RetirementParams(rule="fixed"), True, 0.0),
    ("fixed rule: a queued job keeps the worker", view(900, 0, queued_jobs=2), RetirementParams(rule="fixed"),
     False, 0.0),
    ("fixed rule ignores the prediction", view(120, 0, arrivals=WAVE), RetirementParams(rule="fixed",
                                                                                        idle_timeout=90), True, 0.0),
]


@pytest.mark.parametrize("name,v,params,retire,recheck", CASES, ids=[c[0] for c in CASES])
def test_should_retire(name: str, v: IdleView, params: RetirementParams, retire: bool, recheck: float) -> None:
    d = should_retire(v, params)
    assert d.retire is retire, d.reason
    assert d.recheck_in == pytest.approx(recheck), d.reason
    assert d.reason.startswith(params.rule + ":")


def test_asking_again_when_told_gives_the_other_answer() -> None:
    # The lone machine after a burst wave: told to ask again in 789.5 s; 1 s before it stays, at it retires.
    wave_view = dict(idle_since=60, arrivals=WAVE)
    first = should_retire(view(120, **wave_view))
    assert not should_retire(view(120 + first.recheck_in - 1, **wave_view)).retire
    assert should_retire(view(120 + first.recheck_in, **wave_view)).retire


def test_sessions_split_at_gaps_longer_than_a_boot() -> None:
    arrivals = (Arrival(0, 150), Arrival(90, 300), Arrival(181, 30), Arrival(200, 60))
    runs = sessions(arrivals, 90.0, RetirementParams())
    assert [(s.files, s.last_upload) for s in runs] == [(2, 90), (2, 200)]
    assert runs[0].mean_work_seconds == pytest.approx(15.0) and runs[1].mean_work_seconds == pytest.approx(3.0)
    overhead = sessions(arrivals[:1], 90.0, RetirementParams(job_overhead_seconds=5))
    assert overhead[0].mean_work_seconds == pytest.approx(15.0)
    # The prediction is the session with the most work, not the latest one.
    assert predicted_session(view(300, 250, arrivals=arrivals), RetirementParams()).last_upload == 90


@pytest.mark.parametrize("bad", [
    dict(rule="timeout"), dict(idle_timeout=0), dict(rtf=0), dict(boot_seconds=-1), dict(latency_weight=-1),
    dict(trust=0), dict(trust=1.5), dict(memory_seconds=0),
])
def test_params_are_validated(bad: dict) -> None:
    with pytest.raises(ValueError):
        RetirementParams(**bad)


def test_no_answer_is_never_to_ask_again() -> None:
    for name, v, params, *_ in CASES:
        assert math.isfinite(should_retire(v, params).recheck_in), name
