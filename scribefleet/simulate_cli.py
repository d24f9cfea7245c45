"""`scribefleet simulate`: run a workload through the simulated fleet under each scaler policy and claim order.

    python -m scribefleet.simulate_cli                        # the seed's load test, seed rule vs ours
    python -m scribefleet.simulate_cli --workload trickle --warm-pool 10
    python -m scribefleet.simulate_cli --durations 300,300 --policy seed --order fifo --boot 60 --trace
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, replace

from scribefleet.scaling import POLICIES, PolicyParams
from scribefleet.simulator import G4DN_XLARGE_PER_HOUR, ORDERS, SimConfig, SimResult, simulate
from scribefleet.workloads import SEED, WORKLOADS, Upload, from_durations, make_workload

# Speed per model/GPU (audio seconds per processing second, diarization included). Measure yours: the worker
# records RTF per job; pass it with --rtf <number>.
RTF_PRESETS = {
    "seed-t4": 15.0,  # the seed's figure: whisper + pyannote on a g4dn.xlarge (T4), "15 min of audio in a minute"
    "cpu-tiny": 14.0,  # docs/DESIGN: tiny.en int8 RTF ~0.04 + default diarizer ~0.03 on 2 CPU cores -> ~14x
}


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


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
    d = SimConfig()
    pp = PolicyParams()
    w = parser.add_argument_group("workload")
    w.add_argument("--workload", choices=sorted(WORKLOADS), default="seed",
                   help="seed: 37 files 30 s-30 min, 10 h, all at once; trickle: the same over 10 min; "
                        "burst: 3 waves of 20 short files 10 min apart; huge: one 3 h file (default: seed)")
    w.add_argument("--durations", type=_floats, help="custom workload: comma-separated audio seconds (overrides --workload)")
    w.add_argument("--gap", type=float, default=0.0, help="seconds between uploads for --durations (default 0)")
    w.add_argument("--workload-seed", type=int, default=SEED, help=f"random seed of the generated files (default {SEED})")
    f = parser.add_argument_group("fleet")
    f.add_argument("--policy", nargs="+", choices=sorted(POLICIES), default=["seed", "planned"])
    f.add_argument("--order", nargs="+", choices=ORDERS, default=["fifo", "aged"],
                   help="claim order: fifo, longest first, or aged (upload time - age_weight x work; default: fifo aged)")
    f.add_argument("--rtf", type=_rtf, default=d.rtf,
                   help=f"speed, x real time, per model/GPU: a number or {'/'.join(RTF_PRESETS)} (default {d.rtf:g})")
    f.add_argument("--policy-rtf", type=_rtf, help="the speed the planned policy believes (default: --rtf)")
    f.add_argument("--boot", type=float, default=d.boot_s, help=f"cold boot to polling, s (default {d.boot_s:g})")
    f.add_argument("--warm-pool", type=int, default=d.warm_pool, help="instances in the ASG warm pool (default 0)")
    f.add_argument("--warm-start", type=float, default=d.warm_start_s, help=f"start from the warm pool, s (default {d.warm_start_s:g})")
    f.add_argument("--max-size", type=int, default=d.max_size, help=f"ASG MaxSize (default {d.max_size})")
    f.add_argument("--idle-timeout", type=float, default=d.idle_timeout_s, help=f"worker retires after this idle, s (default {d.idle_timeout_s:g})")
    f.add_argument("--job-overhead", type=float, default=d.job_overhead_s, help="fixed seconds per job on top of audio/rtf")
    f.add_argument("--age-weight", type=float, default=d.age_weight, help=f"aged order's weight of work vs upload time (default {d.age_weight:g})")
    f.add_argument("--headroom", type=int, default=pp.headroom, help=f"planned: spare machines while uploads arrive (default {pp.headroom})")
    f.add_argument("--min-gain", type=float, default=pp.min_gain_seconds, help=f"planned: launch only if a job starts this much sooner, s (default {pp.min_gain_seconds:g})")
    r = parser.add_argument_group("failures and cost")
    r.add_argument("--kill-at", type=_floats, default=(), help="comma-separated times (s) at which the busiest worker dies")
    r.add_argument("--heartbeat-timeout", type=float, default=d.heartbeat_timeout_s, help=f"s until a dead worker's job is retried (default {d.heartbeat_timeout_s:g})")
    r.add_argument("--max-attempts", type=int, default=d.max_attempts)
    r.add_argument("--price", type=float, default=G4DN_XLARGE_PER_HOUR, help=f"$ per instance hour (default g4dn.xlarge {G4DN_XLARGE_PER_HOUR})")
    s = parser.add_argument_group("splitting long files")
    s.add_argument("--split-chunk", type=float, default=0.0, help="split files longer than this many seconds into chunks (0 = off)")
    s.add_argument("--split-overlap", type=float, default=d.split_overlap_s, help="audio seconds each chunk re-processes at its boundary")
    s.add_argument("--merge", type=float, default=d.merge_s, help="seconds to stitch a split file's chunks")
    o = parser.add_argument_group("output")
    o.add_argument("--trace", action="store_true", help="print every scaler decision, launch, claim and retirement")
    o.add_argument("--json", action="store_true", help="one JSON object per run instead of the table")


def config_from_args(args: argparse.Namespace, policy: str, order: str) -> SimConfig:
    params = PolicyParams(
        rtf=args.policy_rtf or args.rtf, boot_seconds=args.boot, warm_start_seconds=args.warm_start,
        job_overhead_seconds=args.job_overhead, headroom=args.headroom, min_gain_seconds=args.min_gain,
        order="fifo" if order == "fifo" else "longest",
    )
    return SimConfig(
        policy=policy, order=order, rtf=args.rtf, boot_s=args.boot, warm_pool=args.warm_pool,
        warm_start_s=args.warm_start, max_size=args.max_size, idle_timeout_s=args.idle_timeout,
        job_overhead_s=args.job_overhead, heartbeat_timeout_s=args.heartbeat_timeout, max_attempts=args.max_attempts,
        kill_at=tuple(args.kill_at), price_per_hour=args.price, split_chunk_s=args.split_chunk,
        split_overlap_s=args.split_overlap, merge_s=args.merge, age_weight=args.age_weight, params=params,
    )


def _mmss(seconds: float) -> str:
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


HEADER = ("policy", "order", "makespan", "lower bound", "ratio", "p50 latency", "p95 latency", "machine-min", "cost $",
          "launches", "peak", "retries", "failed")


def row(r: SimResult) -> tuple[str, ...]:
    return (
        r.config.policy, r.config.order, _mmss(r.makespan), _mmss(r.lower_bound), f"{r.ratio:.3f}", _mmss(r.p50),
        _mmss(r.p95), f"{r.machine_minutes:.1f}", f"{r.cost:.2f}", str(r.launches), str(r.peak_machines),
        str(r.retries), str(r.failed),
    )


def table(results: list[SimResult]) -> str:
    """A Markdown table (readable in a terminal, pasteable into docs/benchmarks.md)."""
    rows = [HEADER, *(row(r) for r in results)]
    widths = [max(len(x[i]) for x in rows) for i in range(len(HEADER))]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(rows[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows[1:])])


def describe(uploads: list[Upload]) -> str:
    total = sum(u.audio_seconds for u in uploads)
    span = max(u.at for u in uploads) - min(u.at for u in uploads) if uploads else 0.0
    return (f"{len(uploads)} files, {total / 3600:.2f} h audio ({min(u.audio_seconds for u in uploads):.0f}-"
            f"{max(u.audio_seconds for u in uploads):.0f} s), uploaded over {span:.0f} s")


def run(args: argparse.Namespace) -> int:
    uploads = from_durations(list(args.durations), args.gap) if args.durations else make_workload(args.workload, args.workload_seed)
    if not uploads:
        print("no files to simulate", file=sys.stderr)
        return 2
    results = []
    for policy in args.policy:
        for order in args.order:
            result = simulate(uploads, config_from_args(args, policy, order), trace=args.trace)
            results.append(result)
            if args.trace:
                print(f"--- {policy} / {order} ---")
                print("\n".join(result.trace))
            if args.json:
                summary = {k: v for k, v in asdict(result).items() if k not in ("trace", "config", "latencies")}
                summary.update(policy=policy, order=order, p50=result.p50, p95=result.p95, ratio=result.ratio,
                               machine_minutes=result.machine_minutes, config=asdict(replace(result.config, params=None)))
                print(json.dumps(summary))
    if not args.json:
        name = "custom" if args.durations else args.workload
        print(f"workload {name}: {describe(uploads)}")
        print(f"fleet: rtf {args.rtf:g}x, boot {args.boot:g} s, warm pool {args.warm_pool} ({args.warm_start:g} s), "
              f"max {args.max_size}, idle timeout {args.idle_timeout:g} s, ${args.price}/h"
              + (f", deaths at {', '.join(f'{t:g}' for t in args.kill_at)} s" if args.kill_at else ""))
        print(table(results))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scribefleet simulate", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
