"""`scribefleet simulate`: run a workload through the simulated fleet under each scaler policy and claim order.

    python -m scribefleet_tools.simulate_cli                        # the seed's load test, seed rule vs ours
    python -m scribefleet_tools.simulate_cli --workload trickle --warm-pool 10
    python -m scribefleet_tools.simulate_cli --durations 300,300 --policy seed --order fifo --boot 60 --trace
    python -m scribefleet_tools.simulate_cli --workload burst --policy planned --order aged \
        --retirement cost fixed:600 fixed:120 fixed:90 --draws 50     # idle retirement rules side by side
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import asdict

from scribefleet.scaling import POLICIES, PolicyParams
from scribefleet_tools.simulator import G4DN_XLARGE_PER_HOUR, ORDERS, SimConfig, SimResult, simulate
from scribefleet_tools.workloads import SEED, WORKLOADS, Upload, from_durations, make_workload

# Speed per model/GPU (audio seconds per processing second, diarization included). Measure yours: the worker
# records RTF per job; pass it with --rtf <number>.
RTF_PRESETS = {
    "seed-t4": 15.0,  # the seed's figure: whisper + pyannote on a g4dn.xlarge (T4), "15 min of audio in a minute"
    "cpu-tiny": 14.0,  # measured: tiny.en int8 RTF ~0.04 + default diarizer ~0.03 on 2 CPU cores -> ~14x
}


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _retirement(text: str) -> tuple[str, float | None]:
    """'cost', 'fixed' (with --idle-timeout) or 'fixed:<seconds>'."""
    rule, _, seconds = text.partition(":")
    if rule == "cost" and not seconds:
        return ("cost", None)
    if rule == "fixed":
        try:
            timeout = float(seconds) if seconds else None
        except ValueError:
            timeout = -1.0
        if timeout is None or timeout > 0:
            return ("fixed", timeout)
    raise argparse.ArgumentTypeError(f"--retirement: cost, fixed or fixed:<seconds>, got {text!r}")


def _rtf(text: str) -> float:
    if text in RTF_PRESETS:
        return RTF_PRESETS[text]
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--rtf: a number or one of {', '.join(RTF_PRESETS)}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("--rtf must be > 0")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d, pp = SimConfig(), PolicyParams()
    w = parser.add_argument_group("workload")
    w.add_argument("--workload", choices=sorted(WORKLOADS), default="seed",
                   help="seed: 37 files 30 s-30 min, 10 h, all at once; trickle: the same over 10 min; burst: 3 "
                        "waves of 20 short files 10 min apart; huge: one 3 h file (default %(default)s)")
    w.add_argument("--durations", type=_floats, help="custom workload: comma-separated audio seconds")
    w.add_argument("--gap", type=float, default=0.0, help="seconds between uploads for --durations (default 0)")
    w.add_argument("--workload-seed", type=int, default=SEED, help="random seed of the files (default %(default)s)")
    f = parser.add_argument_group("fleet")
    f.add_argument("--policy", nargs="+", choices=sorted(POLICIES), default=["seed", "planned"])
    f.add_argument("--order", nargs="+", choices=ORDERS, default=["fifo", "aged"],
                   help="claim order: fifo, longest first, or aged (upload time - age weight x work)")
    f.add_argument("--rtf", type=_rtf, default=d.rtf,
                   help=f"speed (x real time) of the model on the GPU: a number or {'/'.join(RTF_PRESETS)} "
                        "(default %(default)s)")
    f.add_argument("--policy-rtf", type=_rtf, help="the speed the planned policy believes (default: --rtf)")
    f.add_argument("--boot", type=float, default=d.boot_s, help="cold boot to polling, s (default %(default)s)")
    f.add_argument("--warm-pool", type=int, default=d.warm_pool, help="instances in the ASG warm pool")
    f.add_argument("--warm-start", type=float, default=d.warm_start_s, help="warm-pool start, s (default %(default)s)")
    f.add_argument("--max-size", type=int, default=d.max_size, help="ASG MaxSize (default %(default)s)")
    f.add_argument("--retirement", nargs="+", type=_retirement,
                   help="idle retirement rules to compare: cost (scribefleet.retirement, the default), fixed "
                        "(--idle-timeout) or fixed:<seconds>")
    f.add_argument("--idle-timeout", type=float,
                   help=f"the fixed rule's timeout, s (default {d.idle_timeout_s:g}); alone, it means "
                        "--retirement fixed")
    f.add_argument("--latency-weight", type=float, default=d.latency_weight,
                   help="cost rule: machine-seconds one second of a user's wait is worth (default %(default)s)")
    f.add_argument("--job-overhead", type=float, default=d.job_overhead_s, help="fixed s per job on top of audio/rtf")
    f.add_argument("--age-weight", type=float, default=d.age_weight,
                   help="aged order's work weight (default %(default)s)")
    f.add_argument("--receive-batch", type=int, default=d.receive_batch,
                   help="jobs one claim sees: 0 = all (exact order), 10 = an SQS receive of the 10 longest queued "
                        "(default %(default)s)")
    f.add_argument("--headroom", type=int, default=pp.headroom,
                   help="planned: spare machines while uploads arrive (default %(default)s)")
    f.add_argument("--min-gain", type=float, default=pp.min_gain_seconds,
                   help="planned: launch only if it starts a job this many s sooner (default %(default)s)")
    r = parser.add_argument_group("failures and cost")
    r.add_argument("--kill-at", type=_floats, default=(),
                   help="comma-separated times (s) at which the busiest worker dies")
    r.add_argument("--heartbeat-timeout", type=float, default=d.heartbeat_timeout_s,
                   help="s until a dead worker's job is retried (default %(default)s)")
    r.add_argument("--max-attempts", type=int, default=d.max_attempts, help="(default %(default)s)")
    r.add_argument("--price", type=float, default=G4DN_XLARGE_PER_HOUR,
                   help="$ per instance hour (default %(default)s, g4dn.xlarge on demand)")
    s = parser.add_argument_group("splitting long files")
    s.add_argument("--split-rule", action="store_true",
                   help="the product's split rule (scribefleet/splitting.py) decides per upload")
    s.add_argument("--split-chunk", type=float, default=0.0, help="split files longer than this many s (0 = never)")
    s.add_argument("--split-overlap", type=float, default=d.split_overlap_s, help="s each chunk re-processes (overlap)")
    s.add_argument("--merge", type=float, default=d.merge_s, help="s to stitch a split file's chunks")
    o = parser.add_argument_group("output")
    o.add_argument("--trace", action="store_true", help="print every scaler decision, launch, claim and retirement")
    o.add_argument("--json", action="store_true", help="one JSON object per run instead of the table")
    o.add_argument("--draws", type=int, default=0,
                   help="also run this many random draws of the workload (seeds 1..N): mean and worst per row")


def retirements(args: argparse.Namespace) -> list[tuple[str, float | None]]:
    if args.retirement:
        return list(args.retirement)
    return [("fixed", None)] if args.idle_timeout is not None else [("cost", None)]


def config_from_args(args: argparse.Namespace, policy: str, order: str,
                     retirement: tuple[str, float | None] = ("cost", None)) -> SimConfig:
    params = PolicyParams(
        rtf=args.policy_rtf or args.rtf, boot_seconds=args.boot, warm_start_seconds=args.warm_start,
        job_overhead_seconds=args.job_overhead, headroom=args.headroom, min_gain_seconds=args.min_gain,
        order="fifo" if order == "fifo" else "longest",
    )
    return SimConfig(
        policy=policy, order=order, rtf=args.rtf, boot_s=args.boot, warm_pool=args.warm_pool,
        warm_start_s=args.warm_start, max_size=args.max_size, retirement=retirement[0],
        idle_timeout_s=retirement[1] or args.idle_timeout or SimConfig.idle_timeout_s,
        latency_weight=args.latency_weight,
        job_overhead_s=args.job_overhead, heartbeat_timeout_s=args.heartbeat_timeout, max_attempts=args.max_attempts,
        kill_at=tuple(args.kill_at), price_per_hour=args.price, split_chunk_s=args.split_chunk,
        split_rule=args.split_rule,
        split_overlap_s=args.split_overlap, merge_s=args.merge, age_weight=args.age_weight,
        receive_batch=args.receive_batch, params=params,
    )


def _mmss(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


HEADER = ("policy", "order", "retirement", "makespan", "lower bound", "ratio", "p50 latency", "p95 latency", "machine-min", "cost $",
          "launches", "peak", "retries", "failed")


def row(r: SimResult) -> tuple[str, ...]:
    return (
        policy_name(r.config), order_name(r.config), retirement_name(r.config), _mmss(r.makespan), _mmss(r.lower_bound), f"{r.ratio:.3f}", _mmss(r.p50),
        _mmss(r.p95), f"{r.machine_minutes:.1f}", f"{r.cost:.2f}", str(r.launches), str(r.peak_machines),
        str(r.retries), str(r.failed),
    )


def policy_name(config: SimConfig) -> str:
    return f"{config.policy}, split rule" if config.split_rule else config.policy


def order_name(config: SimConfig) -> str:
    return f"{config.order}, sees {config.receive_batch}" if config.receive_batch else config.order


def retirement_name(config: SimConfig) -> str:
    return "cost" if config.retirement == "cost" else f"fixed {config.idle_timeout_s:g} s"


def table(results: list[SimResult], header: tuple[str, ...] = HEADER, rows: list[tuple[str, ...]] | None = None) -> str:
    """A Markdown table (readable in a terminal, pasteable into docs/benchmarks.md)."""
    rows = [header, *(rows if rows is not None else (row(r) for r in results))]
    widths = [max(len(x[i]) for x in rows) for i in range(len(header))]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(rows[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows[1:])])


DRAWS_HEADER = ("policy", "order", "retirement", "draws", "ratio mean", "ratio worst", "p95 mean", "p95 worst",
                "machine-min mean", "machine-min worst", "failed")


def draws_row(config: SimConfig, runs: list[SimResult]) -> tuple[str, ...]:
    """Mean and worst over random draws of a workload (worst = highest)."""
    ratio, p95, minutes = ([getattr(r, k) for r in runs] for k in ("ratio", "p95", "machine_minutes"))
    return (
        policy_name(config), order_name(config), retirement_name(config), str(len(runs)), f"{statistics.mean(ratio):.3f}",
        f"{max(ratio):.3f}", f"{statistics.mean(p95):.1f}", f"{max(p95):.1f}", f"{statistics.mean(minutes):.1f}",
        f"{max(minutes):.1f}", str(sum(r.failed for r in runs)),
    )


def simulate_draws(workload: str, config: SimConfig, draws: int, **shape) -> list[SimResult]:
    return [simulate(make_workload(workload, seed, **shape), config) for seed in range(1, draws + 1)]


def describe(uploads: list[Upload]) -> str:
    total = sum(u.audio_seconds for u in uploads)
    span = max(u.at for u in uploads) - min(u.at for u in uploads) if uploads else 0.0
    return (f"{len(uploads)} files, {total / 3600:.2f} h audio ({min(u.audio_seconds for u in uploads):.0f}-"
            f"{max(u.audio_seconds for u in uploads):.0f} s), uploaded over {span:.0f} s")


def run(args: argparse.Namespace) -> int:
    if args.durations:
        uploads = from_durations(list(args.durations), args.gap)
    else:
        uploads = make_workload(args.workload, args.workload_seed)
    if not uploads:
        print("no files to simulate", file=sys.stderr)
        return 2
    if args.draws and args.durations:
        print("--draws needs a --workload (random draws of it), not --durations", file=sys.stderr)
        return 2
    configs = [config_from_args(args, policy, order, retirement)
               for policy in args.policy for order in args.order for retirement in retirements(args)]
    results = []
    for config in configs:
        result = simulate(uploads, config, trace=args.trace)
        results.append(result)
        if args.trace:
            print(f"--- {config.policy} / {config.order} / {retirement_name(config)} ---")
            print("\n".join(result.trace))
        if args.json:
            summary = {k: v for k, v in asdict(result).items() if k not in ("trace", "config", "latencies")}
            summary.update(p50=result.p50, p95=result.p95, ratio=result.ratio,
                           machine_minutes=result.machine_minutes, config=asdict(result.config))
            print(json.dumps(summary))
    if args.json:
        return 0
    name = "custom" if args.durations else args.workload
    print(f"workload {name}: {describe(uploads)}")
    print(f"fleet: rtf {args.rtf:g}x, boot {args.boot:g} s, warm pool {args.warm_pool} ({args.warm_start:g} s), "
          f"max {args.max_size}, latency weight {args.latency_weight:g}, ${args.price}/h"
          + (f", deaths at {', '.join(f'{t:g}' for t in args.kill_at)} s" if args.kill_at else ""))
    print(table(results))
    if args.draws:
        print(f"\n{args.draws} random draws of the {args.workload} workload (seeds 1-{args.draws}):")
        rows = [draws_row(c, simulate_draws(args.workload, c, args.draws)) for c in configs]
        print(table([], DRAWS_HEADER, rows))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scribefleet simulate", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
