"""Diarization benchmark: DER and real-time factor of both backends, on real recordings or on espeak dialogs.

    .venv/bin/python benchmarks/bench_diarization.py --real [--split dev|test|both] [--backends default,pyannote]
    .venv/bin/python benchmarks/bench_diarization.py [--backends default,pyannote] [--pyannote-step 0.1]
        [--pyannote-model-dir /opt/models/pyannote-community-1]   # the production pipeline, where it can be had
    .venv/bin/python benchmarks/bench_diarization.py --embedding-batches 8,64   # CAM++ batch sizes side by side

--real: the recordings of benchmarks/real_speech.py (fetched and checked first; DEV = AMI train + development and
council dialogs of three meetings, TEST = AMI test, sample.wav and council dialogs of two other meetings), each
diarized blind and told the reference count. Per file: speakers found vs reference, DER split into missed speech,
false alarm and speaker confusion (pyannote.metrics, collar 0.5 s in total, overlap scored, within the file's UEM),
RTF; then a summary per backend, split and kind of recording.

Dialogs are those of tests/worker/conftest.py plus a second seed of each kind. DER: pyannote.metrics,
collar 0.5 s (±0.25 s), overlap scored. RTF = diarization wall time / audio duration, models already loaded
(one warm-up run first); CPU/audio = process CPU seconds per audio second (all threads), which other
processes on a shared machine disturb less than wall time. Results are printed as a markdown table for docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gpu_worker.diarization import load_diarizer  # noqa: E402
from scribefleet_tools.samples import DISTINCT_VOICES, SIMILAR_VOICES, make_dialog, round_robin_lines  # noqa: E402
from tests.worker.conftest import SPEAKERS, make_diarization_dialogs, short_turn_lines  # noqa: E402
from tests.worker.test_diarization import der  # noqa: E402


def dialogs():
    base = make_diarization_dialogs()
    return {
        "distinct (3 voices, ~3 s turns)": (base["distinct"], 3),
        "distinct, other lines, 0.3 s pauses": (
            make_dialog(round_robin_lines(SPEAKERS, 24, offset=7), dict(zip(SPEAKERS, DISTINCT_VOICES)), pause=0.3),
            3,
        ),
        "similar, ~1.3 s turns, 15 dB SNR": (base["similar_short_noisy"], 3),
        "similar, ~1.3 s turns, 15 dB SNR, seed 3": (
            make_dialog(short_turn_lines(40, seed=3), dict(zip(SPEAKERS, SIMILAR_VOICES)), pause=0.3, noise_snr_db=15),
            3,
        ),
        "similar, ~3 s turns, 15 dB SNR": (
            make_dialog(round_robin_lines(SPEAKERS, 24, offset=5), dict(zip(SPEAKERS, SIMILAR_VOICES)), noise_snr_db=15),
            3,
        ),
        "2 distinct voices": (base["two"], 2),
    }


def make_diarizer(backend: str, args):
    if backend == "pyannote":
        from gpu_worker.diarization.pyannote_backend import PyannoteDiarizer

        if args.pyannote_model_dir:
            return load_diarizer("pyannote", model_dir=args.pyannote_model_dir), f"pyannote ({Path(args.pyannote_model_dir).name})"
        return PyannoteDiarizer(segmentation_step=args.pyannote_step), f"pyannote (step {args.pyannote_step * 10:g} s)"
    if backend == "default-before":  # the options before the real-speech calibration, for before/after figures
        from benchmarks.calibrate_default import BEFORE
        from gpu_worker.diarization.default import DefaultDiarizer

        return DefaultDiarizer(options=BEFORE), "default (before)"
    return load_diarizer(backend), backend


def real(args) -> None:
    import numpy as np

    from benchmarks import real_speech

    real_speech.fetch()
    splits = [real_speech.DEV, real_speech.TEST] if args.split == "both" else [args.split]
    data = [r for split in splits for r in real_speech.recordings(split)]
    if args.recordings:
        data = [r for r in data if r.name in args.recordings.split(",")]
    # what any output naming one speaker per instant must miss, per recording
    floors = {rec.name: real_speech.score(rec, real_speech.one_voice_oracle(rec)).der for rec in data}
    if args.floors:  # no diarizer run
        print("| split | recording | speakers | speech overlapped (floor of a one-voice output: DER) |\n|---|---|---|---|")
        for rec in data:
            print(f"| {rec.split} | {rec.name} | {len(rec.speakers)} | {floors[rec.name]:.1%} |")
        return
    print(f"collar {real_speech.COLLAR} s in total, overlap scored; cells: DER = missed + false alarm + confusion; "
          "floor: the DER of the reference told with one voice per instant (what no overlap output can go below)")
    print("| backend | split | recording | speakers | count given | found | DER | missed | false alarm | confusion | floor | RTF |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    summary: dict[tuple, list] = {}
    for backend in args.backends.split(","):
        diarizer, label = make_diarizer(backend, args)
        diarizer.diarize(data[0].audio[: 20 * 16000])  # warm-up
        for rec in data:
            for given in (None, len(rec.speakers)):
                start = time.perf_counter()
                turns = diarizer.diarize(rec.audio, num_speakers=given)
                rtf = (time.perf_counter() - start) / rec.duration
                sc = real_speech.score(rec, turns)
                print(f"| {label} | {rec.split} | {rec.name} | {sc.reference} | {'yes' if given else 'no'} | {sc.found} "
                      f"| {sc.der:.1%} | {sc.missed:.1%} | {sc.false_alarm:.1%} | {sc.confusion:.1%} | {floors[rec.name]:.1%} "
                      f"| {rtf:.3f} |", flush=True)
                summary.setdefault((label, rec.split, rec.kind, bool(given)), []).append((sc, rtf))
    print("\n| backend | split | recordings | count given | count right | within ±1 | mean DER | worst DER | mean RTF |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (label, split, kind, given), rows in summary.items():
        scores = [sc for sc, _ in rows]
        right = sum(sc.found == sc.reference for sc in scores)
        near = sum(abs(sc.found - sc.reference) <= 1 for sc in scores)
        print(f"| {label} | {split} | {kind} ×{len(rows)} | {'yes' if given else 'no'} | {right}/{len(rows)} | {near}/{len(rows)} "
              f"| {np.mean([sc.der for sc in scores]):.1%} | {max(sc.der for sc in scores):.1%} "
              f"| {np.mean([r for _, r in rows]):.3f} |")


def embedding_batches(sizes: list[int]) -> None:
    """The default backend's model work (VAD + CAM++) on the TEST recordings with each CAM++ batch size, the sizes
    interleaved over three rounds so that a busy neighbour slows them alike; embeddings compared with the first size's."""
    import numpy as np

    from benchmarks import real_speech

    real_speech.fetch()
    diarizer = load_diarizer("default")
    data = real_speech.recordings(real_speech.TEST)
    audio_s = sum(rec.duration for rec in data)
    times: dict[int, list[tuple[float, float]]] = {b: [] for b in sizes}
    embeddings: dict[int, list[np.ndarray]] = {}
    for _ in range(3):
        for b in sizes:
            diarizer.embedder.batch_size = b
            start, cpu = time.perf_counter(), time.process_time()
            runs = [diarizer.analyse(rec.audio) for rec in data]
            times[b].append((time.perf_counter() - start, time.process_time() - cpu))
            embeddings[b] = [np.concatenate([a.segment_embeddings, a.window_embeddings]) for a in runs]
    n = sum(len(e) for e in embeddings[sizes[0]])
    print(f"{len(data)} TEST recordings, {audio_s:.0f} s of audio, {n} windows embedded; VAD included; best of 3 rounds")
    print("| CAM++ batch | wall s | CPU s | RTF | max embedding difference vs the first size |\n|---|---|---|---|---|")
    for b in sizes:
        wall, cpu = min(times[b])
        drift = max(float(np.abs(e - f).max()) for e, f in zip(embeddings[b], embeddings[sizes[0]]) if e.size)
        print(f"| {b} | {wall:.1f} | {cpu:.1f} | {wall / audio_s:.4f} | {drift:.1e} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", action="store_true", help="real recordings (benchmarks/real_speech.py)")
    parser.add_argument("--split", default="both", choices=["dev", "test", "both"])
    parser.add_argument("--recordings", help="only these recordings (names, comma-separated), e.g. to time them alone")
    parser.add_argument("--backends", default="default,pyannote",
                        help="default, pyannote; default-before: the default's options before the real-speech "
                        "calibration")
    parser.add_argument("--floors", action="store_true", help="with --real: only the one-voice DER floor of each "
                        "recording (the reference with one speaker per instant), no diarizer run")
    parser.add_argument("--pyannote-step", type=float, default=0.1, help="segmentation hop as a fraction of 10 s")
    parser.add_argument("--pyannote-model-dir", help="score a pyannote pipeline directory (e.g. community-1, as baked "
                        "into the AMI) instead of the bundled weights; --pyannote-step is then the pipeline's own")
    parser.add_argument("--embedding-batches", help="CAM++ batch sizes to time side by side (e.g. 8,64), nothing else")
    args = parser.parse_args()
    if args.embedding_batches:
        embedding_batches([int(b) for b in args.embedding_batches.split(",")])
        return
    if args.real:
        real(args)
        return
    data = dialogs()
    print("| backend | dialog | length | count given | speakers found | DER | RTF | CPU/audio |")
    print("|---|---|---|---|---|---|---|---|")
    for backend in args.backends.split(","):
        diarizer, label = make_diarizer(backend, args)
        diarizer.diarize(next(iter(data.values()))[0].audio[: 20 * 16000])  # warm-up
        for name, (dialog, count) in data.items():
            for given in (None, count):
                start, cpu = time.perf_counter(), time.process_time()
                turns = diarizer.diarize(dialog.audio, num_speakers=given)
                rtf = (time.perf_counter() - start) / dialog.duration
                cpu_rtf = (time.process_time() - cpu) / dialog.duration
                found = len({t.speaker for t in turns})
                print(
                    f"| {label} | {name} | {dialog.duration:.0f} s | {'yes' if given else 'no'} | {found} "
                    f"| {der(dialog, turns):.1%} | {rtf:.3f} | {cpu_rtf:.3f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
