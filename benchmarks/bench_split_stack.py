"""A ten-minute, three-speaker real recording split over three real workers on the local stack, against it unsplit.

    nice .venv/bin/python benchmarks/bench_split_stack.py              # split vs unsplit: WER between, DER of each
    nice .venv/bin/python benchmarks/bench_split_stack.py --kill-one   # and SIGKILL chunk 1's worker mid-chunk
    nice .venv/bin/python benchmarks/bench_split_stack.py --reuse-unsplit --floor   # the model's own variation too
    nice .venv/bin/python benchmarks/bench_split_stack.py --batch-size 8   # production's batched decoding, both runs

The recording is a TEST-split meeting of real council voices (benchmarks/real_speech.py: one man, two women, about
ten minutes of speech, built like the five-minute meetings); nothing was tuned on it. The split run is the product's
path end to end: S3 upload → EventBridge → Step Functions (template.yaml in moto) → PlanSplit at the claim →
three chunk work items on three worker processes (tiny.en + the default diarizer, one thread each) → the merge.
The unsplit run is the same worker pipeline (`Pipeline.run`) in this process on the same file, blind both times.
Printed: WER between the two transcripts, DER of each against the reference (speaker turns of the transcript's
segments, what a user sees; collar 0.5 s, overlap scored), each voice's label across the chunks, the chunks'
workers and time spans (the parallel bars), and with --kill-one the attempts of every work item.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import signal
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from benchmarks import real_speech  # noqa: E402
from scribefleet.contract import JobStatus, WorkKind, work_item_id, work_item_ids  # noqa: E402

SPEC = real_speech.DialogSpec("test ten minutes 3 m+f+f", real_speech.TEST, ("strauss", "herbold", "mosqueda"), 91, 600.0)
CHUNKS = 3
PARAMETERS = {"MaxWorkers": str(CHUNKS), "SplitMinChunkSeconds": "180", "HeartbeatSeconds": "60"}


def segment_turns(segments) -> list[real_speech.Turn]:
    """Speaker turns as a user reads them: each transcript segment's span and speaker."""
    return [real_speech.Turn(float(s["start"]), float(s["end"]), str(s["speaker"])) for s in segments if s.get("speaker")]


def voice_labels(recording: real_speech.Recording, segments) -> dict[str, tuple[str, float]]:
    """Each reference voice → the label most of its words carry, and the share of its words that carry it."""
    labels: dict[str, list[str]] = {}
    for s in segments:
        for w in s["words"]:
            middle = 0.5 * (w["start"] + w["end"])
            voice = next((t.speaker for t in recording.turns if t.start <= middle <= t.end), None)
            if voice is not None and w.get("speaker"):
                labels.setdefault(voice, []).append(w["speaker"])
    return {v: (max(set(ls), key=ls.count), max(map(ls.count, set(ls))) / len(ls)) for v, ls in labels.items()}


def load_pipeline(batch_size: int = 0):
    """The worker's pipeline as a local worker runs it: tiny.en and the default diarizer, one thread."""
    from gpu_worker.config import WorkerConfig
    from gpu_worker.pipeline import Pipeline
    from sam.local_fleet import model_dir

    return Pipeline(WorkerConfig(model_dir=model_dir(), device="cpu", diarizer="default", cpu_threads=1,
                                 batch_size=batch_size))


def unsplit(path: Path, pipeline) -> tuple[list[dict], float]:
    """The worker's pipeline on the whole file, in this process: (segments as result.json has them, seconds)."""
    from dataclasses import asdict

    began = time.monotonic()
    result = pipeline.run(str(path), {"language": "en"})
    return [asdict(s) for s in result.segments], time.monotonic() - began


def transcription_floor(path: Path, transcriber, shift: float = 1.0) -> float:
    """WER between the file transcribed whole, as it is and after `shift` s of silence: how far the model's words move
    when nothing is split and only its 30 s windows fall elsewhere, as they do after any cut (tiny.en, beam 5,
    previous-text conditioning, temperature fallback: faster-whisper's defaults, which the worker keeps)."""
    import numpy as np

    from gpu_worker.media import decode_audio
    from gpu_worker.selftest import word_error_rate

    audio = decode_audio(str(path))
    as_is, _ = transcriber.transcribe(audio, language="en")
    shifted, _ = transcriber.transcribe(np.concatenate([np.zeros(int(shift * 16000), np.float32), audio]), language="en")
    return word_error_rate("".join(w.text for w in as_is), "".join(w.text for w in shifted))


def split_on_stack(path: Path, home: Path, kill_one: bool) -> tuple[list[dict], dict, list[Span], float]:
    """Upload to the local stack and wait: (segments, job item, work items, seconds from upload to COMPLETED)."""
    from sam.stack import up
    from scribefleet_tools.status_view import plain_lines, take_snapshot
    from scribefleet_tools.target import Target

    for noisy in ("werkzeug", "moto", "botocore", "samtranslator"):  # the stack's request logs, as the demo does
        logging.getLogger(noisy).setLevel(logging.ERROR)
    warnings.simplefilter("ignore")
    stack = up(home, parameters=PARAMETERS, idle_timeout=60, heartbeat_interval=1.0, cpu_threads=1)
    try:
        target = Target.local(stack.info)
        outputs, table = stack.info.outputs, target.table()
        pid, key = "bench-tenminutes", "uploads/bench/tenminutes/meeting.wav"
        began = time.monotonic()
        target.client("s3").upload_file(str(path), outputs["InputBucketName"], key,
                                        ExtraArgs={"Metadata": {"language": "en", "formats": "json"}})
        killed, last_status, seen = False, 0.0, {}
        while True:
            job = table.get_item(Key={"processId": pid}, ConsistentRead=True).get("Item", {})
            if job.get("status") in (JobStatus.COMPLETED, JobStatus.FAILED):
                break
            if time.monotonic() - began > 3600:
                raise SystemExit(f"{pid} did not end within an hour: {job}")
            chunks = int(job.get("splitChunks", 0))
            for item_id in work_item_ids(pid, chunks) if chunks else []:
                item = table.get_item(Key={"processId": item_id}, ConsistentRead=True).get("Item", {})
                observe(seen.setdefault(item_id, Span(item_id.rsplit(".", 1)[1])), item, time.monotonic() - began)
                victim = kill_one and not killed and item_id == work_item_id(pid, WorkKind.CHUNK, 1)
                if victim and int(item.get("progress", 0)) >= 10:
                    worker = stack.fleet.workers.get(item.get("workerId", ""))
                    if item.get("status") == JobStatus.IN_PROGRESS and worker is not None and worker.process is not None:
                        os.kill(worker.process.pid, signal.SIGKILL)
                        killed = True
                        print(f"  {time.monotonic() - began:6.1f} s  SIGKILL worker {item['workerId']} (chunk 1 at "
                              f"{item['progress']} %)", flush=True)
            if time.monotonic() - last_status >= 15:
                last_status = time.monotonic()
                for line in plain_lines(take_snapshot(target, only=[pid])):
                    print(f"  {last_status - began:6.1f} s  {line}", flush=True)
            time.sleep(0.5)
        seconds = time.monotonic() - began
        if job["status"] != JobStatus.COMPLETED:
            raise SystemExit(f"{pid} FAILED: {job.get('error')}")
        for item_id, span in seen.items():  # the attempts each work item took, as its item counts them
            span.attempts = int(table.get_item(Key={"processId": item_id}, ConsistentRead=True)["Item"].get("attempts", 0))
        items = list(seen.values())
        prefix = f"transcripts/{job['userId']}/{job['transcriptId']}/"
        body = target.client("s3").get_object(Bucket=outputs["OutputBucketName"], Key=prefix + "result.json")["Body"].read()
        return json.loads(body)["segments"], job, items, seconds
    finally:
        stack.stop()


@dataclass
class Span:
    """A work item as this script saw it (polled every 0.5 s): when it was first seen in progress and done, by whom."""
    name: str
    workers: list[str] = field(default_factory=list)
    start: float | None = None
    end: float | None = None
    attempts: int = 0


def observe(span: Span, item: dict, now: float) -> None:
    if item.get("workerId") and item["workerId"] not in span.workers:
        span.workers.append(item["workerId"])
    if item.get("status") == JobStatus.IN_PROGRESS and span.start is None:
        span.start = now
    if item.get("status") == JobStatus.COMPLETED and span.end is None:
        span.end = now


def bars(spans: list[Span], width: int = 60) -> list[str]:
    """One line per work item: its workers, attempts and span since the upload, as a bar (the parallel bars)."""
    end = max((s.end or 0.0) for s in spans) or 1.0
    lines = []
    for s in spans:
        b = s.end or end
        a = min(s.start if s.start is not None else 0.0, b)
        cells = "".join("#" if a <= (k + 0.5) * end / width <= b else "." for k in range(width))
        lines.append(f"  {s.name:7} {a:6.1f}-{b:6.1f} s  attempts {s.attempts}  {cells}  {' then '.join(s.workers)}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kill-one", action="store_true", help="SIGKILL chunk 1's worker once it is 10 %% done")
    parser.add_argument("--out", type=Path, default=Path("/tmp/bench-split-stack"),
                        help="where both transcripts' segments are written (unsplit.json, split.json)")
    parser.add_argument("--reuse-unsplit", action="store_true", help="read OUT/unsplit.json instead of running it again")
    parser.add_argument("--floor", action="store_true", help="also transcribe the file whole after 1 s of silence "
                        "and print the WER between the two whole transcripts (the model's own variation)")
    parser.add_argument("--batch-size", type=int, default=0, help="the workers' SCRIBEFLEET_BATCH_SIZE, here and on "
                        "the stack (0: the CPU default, the sequential decoder; 8: production's batched decoding)")
    args = parser.parse_args()
    from gpu_worker.selftest import word_error_rate

    if args.batch_size:
        os.environ["SCRIBEFLEET_BATCH_SIZE"] = str(args.batch_size)  # the local fleet's workers inherit it

    real_speech.fetch()
    recording = real_speech.build_dialog(SPEC)
    with tempfile.TemporaryDirectory(prefix="bench-split-stack-") as tmp:
        path = Path(tmp) / "meeting.wav"
        import soundfile

        soundfile.write(path, recording.audio, 16000)
        print(f"# bench_split_stack {date.today()} on {platform.node()} ({os.cpu_count()} CPUs), {SPEC.name}: "
              f"{len(recording.audio) / 16000:.0f} s, {len(recording.speakers)} speakers, batch size "
              f"{args.batch_size or '1 (sequential)'}", flush=True)
        args.out.mkdir(parents=True, exist_ok=True)
        pipeline = load_pipeline(args.batch_size) if args.floor or not args.reuse_unsplit else None  # one load for both
        if args.reuse_unsplit:
            whole = json.loads((args.out / "unsplit.json").read_text())
        else:
            whole, whole_seconds = unsplit(path, pipeline)
            (args.out / "unsplit.json").write_text(json.dumps(whole))
            print(f"unsplit (in this process): {whole_seconds:.0f} s", flush=True)
        split, job, items, split_seconds = split_on_stack(path, Path(tmp) / "home", args.kill_one)
        (args.out / "split.json").write_text(json.dumps(split))
        floor = transcription_floor(path, pipeline.transcriber) if args.floor else None
    print(f"split on the local stack: {split_seconds:.0f} s from upload to COMPLETED, {job.get('splitChunks')} chunks")
    for line in bars(items):
        print(line)
    text = lambda segments: " ".join(s["text"] for s in segments)  # noqa: E731
    print(f"WER split vs unsplit: {word_error_rate(text(whole), text(split)):.2%} (goal <= 2 %)")
    if floor is not None:
        print(f"WER unsplit vs unsplit after 1 s of silence (no split): {floor:.2%}")
    der_whole, der_split = (real_speech.score(recording, segment_turns(s)) for s in (whole, split))
    for name, score in (("unsplit", der_whole), ("split", der_split)):
        print(f"{name:8} DER {score.der:.1%} (missed {score.missed:.1%}, false alarm {score.false_alarm:.1%}, confusion "
              f"{score.confusion:.1%}), speakers {score.found}/{score.reference}")
    print(f"DER split - unsplit: {100 * (der_split.der - der_whole.der):+.1f} points (goal <= 3)")
    for name, segments in (("unsplit", whole), ("split", split)):
        labels = voice_labels(recording, segments)
        print(f"{name:8} voice -> label (share of its words): " + ", ".join(f"{v} {lab} ({share:.0%})" for v, (lab, share) in labels.items())
              + f"; {len({lab for lab, _ in labels.values()})} labels for {len(labels)} voices")


if __name__ == "__main__":
    main()
