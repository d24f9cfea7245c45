"""Calibrates the default diarizer on the DEV split of real speech (benchmarks/real_speech.py); never on TEST.

    .venv/bin/python benchmarks/calibrate_default.py [--segments 2,3,4] [--thresholds 0.4,0.5,0.6,0.7]
        [--min-speaker 1,2,3,5] [--refine 0,1]
    .venv/bin/python benchmarks/calibrate_default.py --test   # the shipped options and the eigengap rule before
                                                              # them, once, on TEST (reported, never tuned on)

The model work (VAD + CAM++ embeddings) depends only on the segment length, so it runs once per recording and
segment length (kept in memory); each clustering setting is then re-run on it through DefaultDiarizer.assign, the
code the service runs. Prints one line per setting: blind speaker count right on the dialogs, within ±1 on the AMI
excerpts, mean DER of each, and the mean DER told the count (collar 0.5 s in total, overlap scored).
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
import sys
from pathlib import Path

os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from benchmarks import real_speech  # noqa: E402
from gpu_worker.diarization.clustering import AhcOptions  # noqa: E402
from gpu_worker.diarization.default import DefaultDiarizer, DefaultOptions  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", default="3")
    parser.add_argument("--thresholds", default="0.4,0.45,0.5,0.55,0.6,0.65,0.7")
    parser.add_argument("--min-speaker", default="1,2,3,5")
    parser.add_argument("--rules", default="ahc")
    parser.add_argument("--refine", default="0,1")
    parser.add_argument("--min-window", default="0.5")
    parser.add_argument("--test", action="store_true", help="report the shipped options on the TEST split")
    args = parser.parse_args()
    real_speech.fetch()
    if args.test:
        report_test()
        return
    data = real_speech.recordings(real_speech.DEV)
    print(f"DEV split: {len(data)} recordings ({sum(r.kind == 'AMI meeting' for r in data)} AMI, "
          f"{sum(r.kind == 'council dialog' for r in data)} dialogs)")
    print("| segment | rule | threshold | min speaker s | refine | min window | dialogs: count right | dialogs: DER "
          "| AMI: within ±1 | AMI: DER | told: dialogs DER | told: AMI DER |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    base = DefaultDiarizer()
    for segment in (float(s) for s in args.segments.split(",")):
        diarizer = DefaultDiarizer(options=DefaultOptions(segment=segment))
        diarizer.vad, diarizer.embedder = base.vad, base.embedder
        analyses = [diarizer.analyse(r.audio) for r in data]
        told_cache: dict = {}
        before = dataclasses.replace(diarizer.options, count_rule="eigengap", told_rule="eigengap", refine=False)
        report(f"{segment:g} | eigengap (before) | - | - | - | {before.min_window:g}", data, analyses, diarizer, before,
               [real_speech.score(r, diarizer.assign(a, num_speakers=len(r.speakers), options=before))
                for r, a in zip(data, analyses)])
        for rule, threshold, min_speaker, refine, min_window in itertools.product(
            args.rules.split(","), (float(t) for t in args.thresholds.split(",")),
            (float(m) for m in args.min_speaker.split(",")), (bool(int(r)) for r in args.refine.split(",")),
            (float(m) for m in args.min_window.split(",")),
        ):
            options = dataclasses.replace(
                diarizer.options, count_rule=rule, told_rule="ahc", refine=refine, min_window=min_window,
                ahc=AhcOptions(threshold=threshold, min_speaker_seconds=min_speaker),
            )
            blind = [real_speech.score(r, diarizer.assign(a, options=options)) for r, a in zip(data, analyses)]
            key = (refine, min_window)
            if key not in told_cache:
                told_cache[key] = [
                    real_speech.score(r, diarizer.assign(a, num_speakers=len(r.speakers), options=options))
                    for r, a in zip(data, analyses)
                ]
            report(f"{segment:g} | {rule} | {threshold:.2f} | {min_speaker:g} | {int(refine)} | {min_window:g}",
                   data, analyses, diarizer, options, told_cache[key], blind)


def test_analyses(diarizer: DefaultDiarizer, cache: Path = Path("/tmp/scribefleet-calibrate-default")):
    """(recording, analysis) of the TEST split, the model work kept on disk (it does not depend on the clustering)."""
    import pickle

    cache.mkdir(parents=True, exist_ok=True)
    for r in real_speech.recordings(real_speech.TEST):
        path = cache / f"test_{r.name.replace(' ', '_').replace('+', '')}_{diarizer.options.segment:g}.pkl"
        if not path.exists():
            path.write_bytes(pickle.dumps(diarizer.analyse(r.audio)))
        yield r, pickle.loads(path.read_bytes())


def report_test() -> None:
    """Per TEST file, blind and told: the shipped DefaultOptions and the eigengap rule they replaced."""
    diarizer = DefaultDiarizer()
    if os.environ.get("CALIBRATE_PREPARE_ONLY"):  # model work only, nothing scored or printed
        for _ in test_analyses(diarizer):
            pass
        return
    before = dataclasses.replace(diarizer.options, count_rule="eigengap", told_rule="eigengap", refine=False)
    print("TEST split; cells: speakers found / DER (missed + false alarm + confusion)")
    print("| recording | speakers | before blind | before told | after blind | after told |\n|---|---|---|---|---|---|")
    for r, analysis in test_analyses(diarizer):
        cells = []
        for options in (before, diarizer.options):
            for given in (None, len(r.speakers)):
                s = real_speech.score(r, diarizer.assign(analysis, num_speakers=given, options=options))
                cells.append(f"{s.found} / {s.der:.1%} ({s.missed:.1%} + {s.false_alarm:.1%} + {s.confusion:.1%})")
        print(f"| {r.name} | {len(r.speakers)} | " + " | ".join(cells) + " |", flush=True)


def report(label, data, analyses, diarizer, options, told, blind=None) -> None:
    if blind is None:
        blind = [real_speech.score(r, diarizer.assign(a, options=options)) for r, a in zip(data, analyses)]
    dialogs = [i for i, r in enumerate(data) if r.kind == "council dialog"]
    ami = [i for i, r in enumerate(data) if r.kind == "AMI meeting"]
    print(
        f"| {label} | {sum(blind[i].found == blind[i].reference for i in dialogs)}/{len(dialogs)} "
        f"| {np.mean([blind[i].der for i in dialogs]):.1%} "
        f"| {sum(abs(blind[i].found - blind[i].reference) <= 1 for i in ami)}/{len(ami)} "
        f"| {np.mean([blind[i].der for i in ami]):.1%} "
        f"| {np.mean([told[i].der for i in dialogs]):.1%} | {np.mean([told[i].der for i in ami]):.1%} |",
        flush=True,
    )
    if os.environ.get("CALIBRATE_VERBOSE"):
        for r, b, t in zip(data, blind, told):
            print(f"    {r.name}: blind {b.found}/{b.reference} DER {b.der:.1%}; told DER {t.der:.1%}")


if __name__ == "__main__":
    main()
