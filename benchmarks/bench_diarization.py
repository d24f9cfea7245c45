"""Diarization benchmark: DER and real-time factor of both backends on generated espeak dialogs.

    .venv/bin/python benchmarks/bench_diarization.py [--backends default,pyannote] [--pyannote-step 0.1]
        [--pyannote-model-dir /opt/models/pyannote-community-1]   # the production pipeline, where it can be had

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="default,pyannote")
    parser.add_argument("--pyannote-step", type=float, default=0.1, help="segmentation hop as a fraction of 10 s")
    parser.add_argument("--pyannote-model-dir", help="score a pyannote pipeline directory (e.g. community-1, as baked "
                        "into the AMI) instead of the bundled weights; --pyannote-step is then the pipeline's own")
    args = parser.parse_args()
    data = dialogs()
    print("| backend | dialog | length | count given | speakers found | DER | RTF | CPU/audio |")
    print("|---|---|---|---|---|---|---|---|")
    for backend in args.backends.split(","):
        if backend == "pyannote":
            from gpu_worker.diarization.pyannote_backend import PyannoteDiarizer

            if args.pyannote_model_dir:
                diarizer, label = load_diarizer("pyannote", model_dir=args.pyannote_model_dir), f"pyannote ({Path(args.pyannote_model_dir).name})"
            else:
                diarizer = PyannoteDiarizer(segmentation_step=args.pyannote_step)
                label = f"pyannote (step {args.pyannote_step * 10:g} s)"
        else:
            diarizer, label = load_diarizer(backend), backend
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
