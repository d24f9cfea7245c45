"""Fleet scaling: the seed rule vs ours in the simulator, side by side (figures for docs/benchmarks.md, docs/scaling.md).

    .venv/bin/python benchmarks/bench_scaling.py            # all tables, ~1 s of CPU

"Seed rule" = the seed's start Lambda with FIFO claiming (SQS); "ours" = the planned policy with the aged claim
order. The two middle combinations show which part of the gain comes from the policy and which from the order.
The policy and order tables keep the fixed 600 s idle timeout they were first measured with; the retirement tables
compare the cost rule (scribefleet/retirement.py, the worker's default) with fixed timeouts.

    .venv/bin/python benchmarks/bench_scaling.py --retirement   # only the retirement tables
    .venv/bin/python benchmarks/bench_scaling.py --claim-order  # only the claim-order tables (148 queued files)
    .venv/bin/python benchmarks/bench_scaling.py --split        # only the split-rule tables (issue 13 part 2)
"""
from __future__ import annotations

import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scribefleet.scaling import PolicyParams  # noqa: E402
from scribefleet_tools.simulate_cli import DRAWS_HEADER, draws_row, simulate_draws, table  # noqa: E402
from scribefleet_tools.simulator import SimConfig, SimResult, simulate  # noqa: E402
from scribefleet_tools.workloads import Upload, make_workload, seed  # noqa: E402

SEED_RULE = SimConfig(policy="seed", order="fifo", retirement="fixed", idle_timeout_s=600.0)
OURS = SimConfig(policy="planned", order="aged", retirement="fixed", idle_timeout_s=600.0)
RETIREMENTS = [replace(OURS, retirement="cost"), OURS, replace(OURS, idle_timeout_s=120.0),
               replace(OURS, idle_timeout_s=90.0)]
ALL = [SEED_RULE, replace(SEED_RULE, order="aged"), replace(OURS, order="fifo", params=PolicyParams(order="fifo")), OURS]


def section(title: str, uploads: list[Upload], configs: list[SimConfig], **overrides) -> list[SimResult]:
    results = [simulate(uploads, replace(c, **overrides)) for c in configs]
    print(f"\n### {title}\n")
    print(table(results))
    return results


def robustness(workload: str, seeds: range, **overrides) -> None:
    """The same comparison over many random draws of the 37 files (the seed's exact files are unknown)."""
    rows = []
    for c in (SEED_RULE, OURS):
        rs = [simulate(make_workload(workload, s), replace(c, **overrides)) for s in seeds]
        rows.append((c.policy, c.order, statistics.mean(r.ratio for r in rs), max(r.ratio for r in rs),
                     statistics.mean(r.makespan for r in rs), max(r.makespan for r in rs),
                     statistics.mean(r.p95 for r in rs), statistics.mean(r.machine_minutes for r in rs)))
    print(f"\n### {workload} load over {len(seeds)} random file sets {overrides or ''}\n")
    print("| policy | order | mean ratio | worst ratio | mean makespan s | worst makespan s | mean p95 s | mean machine-min |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]:.3f} | {r[3]:.3f} | {r[4]:.1f} | {r[5]:.1f} | {r[6]:.1f} | {r[7]:.1f} |")


def splitting() -> None:
    """Item 5: does splitting long files across workers pay? Chunks carry 30 s of overlap, a merge takes 10 s."""
    print("\n### Splitting long files (ours; chunk overlap 30 s, merge 10 s)\n")
    print("| workload | boot | idle timeout | chunk | makespan s | p95 s | machine-min | cost $ |")
    print("|---|---|---|---|---|---|---|---|")
    for name in ("seed", "huge"):
        for warm in (0, 10):
            for idle in (600.0, 120.0):
                for chunk in (0, 1800, 1080, 600):
                    cfg = replace(OURS, warm_pool=warm, split_chunk_s=chunk, idle_timeout_s=idle)
                    r = simulate(make_workload(name), cfg)
                    boot = "warm 30 s" if warm else "cold 90 s"
                    print(f"| {name} | {boot} | {idle:.0f} s | {f'{chunk:.0f} s' if chunk else 'no split'} | "
                          f"{r.makespan:.1f} | {r.p95:.1f} | {r.machine_minutes:.1f} | {r.cost:.2f} |")


def split_rule(draws: int = 50) -> None:
    """The product's split rule (scribefleet/splitting.py) against never splitting, ours with the cost retirement."""
    product = replace(OURS, retirement="cost")
    configs = [product, replace(product, split_rule=True)]
    for warm, boot in ((0, "cold boot 90 s"), (10, "warm pool of 10 (start 30 s)")):
        section(f"Split rule: one 3-hour file, {boot}", make_workload("huge"), configs, warm_pool=warm)
    # Ten machines already running: ten 10-minute files first, the 3-hour file once they are done and idle. What
    # the file costs is the run's machine time minus that of the same ten files alone.
    batch = [Upload(f"warm-{i}", 600.0, 0.0) for i in range(10)]
    alone = simulate(batch, product)
    later = batch + [Upload("huge", 3 * 3600.0, 90.0 + 600.0 / 15 + 5.0)]
    results = section("Split rule: one 3-hour file uploaded while ten machines idle (after ten 10-min files)", later,
                      configs)
    whole, split = (r.machine_minutes - alone.machine_minutes for r in results)
    latency = [r.latencies[-1] for r in results]  # the 3-hour file is the last upload
    print(f"\nthe 3-hour file: {latency[0]:.0f} s whole, {latency[1]:.0f} s split; its machine time {whole:.1f} "
          f"machine-min whole, {split:.1f} split ({split / whole:.2f} x)")
    for name in ("seed", "burst", "trickle"):
        section(f"Split rule: {name}, cold boot 90 s", make_workload(name), configs)
        print(f"\n{draws} random draws (seeds 1-{draws}):\n")
        print(table([], DRAWS_HEADER, [draws_row(c, simulate_draws(name, c, draws)) for c in configs]))


def retirement(draws: int = 50) -> None:
    """The cost rule against today's 600 s and fixed 120 s / 90 s timeouts, ours (planned + aged)."""
    for name, title in (("seed", "Seed load (37 files at once)"), ("burst", "Burst: 3 waves of 20 files, 10 min apart"),
                        ("trickle", "Trickle: the seed's files over 10 minutes")):
        section(f"Idle retirement: {title}, cold boot 90 s", make_workload(name), RETIREMENTS)
        print(f"\n{draws} random draws (seeds 1-{draws}):\n")
        print(table([], DRAWS_HEADER, [draws_row(c, simulate_draws(name, c, draws)) for c in RETIREMENTS]))
    for name in ("seed", "burst", "trickle"):
        section(f"Idle retirement: {name}, warm pool of 10 (start 30 s)", make_workload(name), RETIREMENTS,
                warm_pool=10)


def claim_order(draws: int = 50) -> None:
    """Issue 13 part 3: what the exact aged order (a query on an index sorted by the claim key) gains over today's
    claim, the aged-first of the 10 jobs an SQS receive returns, once far more than 10 files are queued."""
    product = replace(OURS, retirement="cost")
    configs = [product, replace(product, receive_batch=10), replace(product, order="fifo")]
    loads = {"148 files (4 draws of the seed's 37, 40 h) at once": {},
             "the same 148 files over 30 minutes": {"window": 1800.0}}
    for title, shape in loads.items():
        section(f"Claim order, {title}, cold boot 90 s", make_workload("large", **shape), configs)
        print(f"\n{draws} random draws (seeds 1-{draws}):\n")
        print(table([], DRAWS_HEADER, [draws_row(c, simulate_draws("large", c, draws, **shape)) for c in configs]))


def main() -> None:
    started = time.process_time()
    for flag, only in (("--retirement", retirement), ("--claim-order", claim_order), ("--split", split_rule)):
        if flag in sys.argv[1:]:
            only()
            print(f"\n(simulator CPU time: {time.process_time() - started:.2f} s)")
            return
    seed_load = make_workload("seed")
    print("Seed load: 37 files, 30 s - 30 min, 10 h in all; 15x real time; MaxSize 10; idle timeout 600 s; "
          "g4dn.xlarge $0.526/h")
    section("Seed load, cold boot 90 s", seed_load, ALL)
    section("Seed load, warm pool of 10 (start 30 s)", seed_load, ALL, warm_pool=10)
    section("Trickle: the seed's files over 10 minutes, cold boot 90 s", make_workload("trickle"), ALL)
    section("Trickle, warm pool of 10", make_workload("trickle"), ALL, warm_pool=10)
    section("Burst: 3 waves of 20 files (30 s - 5 min) 10 min apart, cold boot", make_workload("burst"), ALL)
    frugal = replace(OURS, params=PolicyParams(headroom=0))
    section("Burst, ours with headroom 0 (no spares)", make_workload("burst"), [SEED_RULE, frugal])
    section("Trickle, ours with headroom 0 (no spares)", make_workload("trickle"), [SEED_RULE, frugal])
    section("Trickle, idle timeout 120 s", make_workload("trickle"), [SEED_RULE, OURS], idle_timeout_s=120.0)
    section("One 3-hour file, cold boot", make_workload("huge"), [SEED_RULE, OURS])
    section("Seed load, two worker deaths (150 s, 250 s), heartbeat timeout 30 s", seed_load, ALL, kill_at=(150.0, 250.0))
    section("Seed load uploaded one file per second (JMeter-like)", seed(gap=1.0), ALL)
    section("Seed load, idle timeout 120 s instead of 600 s", seed_load, [SEED_RULE, OURS], idle_timeout_s=120.0)
    for believed in (12.0, 20.0):
        wrong = replace(OURS, params=PolicyParams(rtf=believed))
        section(f"Trickle, real speed 15x but ours believes {believed:g}x", make_workload("trickle"), [SEED_RULE, wrong])
    robustness("seed", range(1, 51))
    robustness("seed", range(1, 51), warm_pool=10)
    robustness("trickle", range(1, 51))
    splitting()
    split_rule()
    retirement()
    claim_order()
    print(f"\n(simulator CPU time for all of the above: {time.process_time() - started:.2f} s)")


if __name__ == "__main__":
    main()
