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


from benchmarks import real_speech  # noqa: E402
from gpu_worker.diarization.clustering import AhcOptions, SpectralOptions  # noqa: E402
from gpu_worker.diarization.default import DefaultDiarizer, DefaultOptions  # noqa: E402
from gpu_worker.diarization.vad import VadOptions  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", default="3")
    parser.add_argument("--units", default="windows", help="segments,windows (DefaultOptions.units)")
    parser.add_argument("--hop", default="1.5", help="window hops in seconds, comma-separated (DefaultOptions.hop)")
    parser.add_argument("--label-hop", default="0,0.5", help="labelling window hops, comma-separated "
                        "(DefaultOptions.label_hop; 0 = the clustered windows label)")
    parser.add_argument("--spectral", default="", help="eigengap graph settings to sweep, pval:min_neighbours:min_cluster_size, "
                        "comma-separated (e.g. 0.012:6:3,0.05:12:6); the AHC rows are skipped when given")
    parser.add_argument("--vad", default="0.5:0.35", help="Silero enter:leave thresholds, comma-separated pairs")
    parser.add_argument("--thresholds", default="0.4,0.45,0.5,0.55,0.6,0.65,0.7")
    parser.add_argument("--min-speaker", default="1,2,3,5")
    parser.add_argument("--rules", default="ahc")
    parser.add_argument("--refine", default="0,1")
    parser.add_argument("--min-window", default="0.5")
    parser.add_argument("--speech", default="segmentation",
                        help="speech regions, comma-separated: segmentation (segmentation-3.0, shipped), silero "
                        "(DefaultOptions.speech)")
    parser.add_argument("--test", action="store_true", help="report the shipped options on the TEST split")
    args = parser.parse_args()
    real_speech.fetch()
    if args.test:
        report_test()
        return
    data = real_speech.recordings(real_speech.DEV)
    print(f"DEV split: {len(data)} recordings (" + ", ".join(
        f"{sum(r.kind == kind for r in data)} {kind}" for kind in real_speech.KINDS) + ")")
    print("| segment | rule | threshold | min speaker s | refine | min window " + real_speech.SUMMARY_HEADER)
    print("|---" * (6 + real_speech.SUMMARY_HEADER.count("|") - 1) + "|")
    base = DefaultDiarizer()
    for speech, units, vad, segment, hop, label_hop in itertools.product(
        args.speech.split(","), args.units.split(","), args.vad.split(","), (float(s) for s in args.segments.split(",")),
        (float(h) for h in args.hop.split(",")), (float(h) for h in args.label_hop.split(",")),
    ):
        enter, leave = (float(v) for v in vad.split(":"))
        vad_options = dataclasses.replace(base.options.vad, threshold=enter, neg_threshold=leave)
        diarizer = DefaultDiarizer(options=DefaultOptions(segment=segment, units=units, vad=vad_options, hop=hop,
                                                          label_hop=label_hop, speech=speech))
        diarizer.embedder = base.embedder
        print(f"## speech={speech} units={units} vad={vad} segment={segment:g} hop={hop:g} label_hop={label_hop:g}",
              flush=True)
        analyses = [diarizer.analyse(r.audio) for r in data]
        told_cache: dict = {}
        eigengap = dataclasses.replace(diarizer.options, count_rule="eigengap", told_rule="eigengap", refine=False)
        report(f"{segment:g} | eigengap (as shipped) | - | - | - | {eigengap.min_window:g}", data, analyses, diarizer, eigengap,
               [real_speech.score(r, diarizer.assign(a, num_speakers=len(r.speakers), options=eigengap))
                for r, a in zip(data, analyses)])
        if args.spectral:
            for setting in args.spectral.split(","):
                pval, neighbours, min_cluster = setting.split(":")
                spectral = SpectralOptions(pval=float(pval), min_neighbours=int(neighbours), min_cluster_size=int(min_cluster))
                for told in ("eigengap", "ahc"):
                    options = dataclasses.replace(diarizer.options, count_rule="eigengap", told_rule=told, refine=False,
                                                  spectral=spectral)
                    told_scores = [real_speech.score(r, diarizer.assign(a, num_speakers=len(r.speakers), options=options))
                                   for r, a in zip(data, analyses)]
                    report(f"{segment:g} | eigengap {setting} (told: {told}) | - | - | 0 | {options.min_window:g}",
                           data, analyses, diarizer, options, told_scores)
            continue
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


# The options shipped before the DEV calibration: segments, Silero 0.6 / 0.5, eigengap blind and told.
BEFORE = DefaultOptions(units="segments", hop=0.75, label_hop=0.0, speech="silero", count_rule="eigengap", told_rule="eigengap",
                        ahc_below=0, vad=VadOptions(threshold=0.6, neg_threshold=0.5), spectral=SpectralOptions(),
                        ahc=AhcOptions())


def report_test() -> None:
    """Per TEST file, blind and told: the shipped DefaultOptions and the options they replaced (BEFORE)."""
    shipped = DefaultDiarizer()
    before = DefaultDiarizer(options=BEFORE)
    before.embedder = shipped.embedder
    print("TEST split; cells: speakers found / DER (missed + false alarm + confusion)")
    print("| recording | speakers | before blind | before told | after blind | after told |\n|---|---|---|---|---|---|")
    for r in real_speech.recordings(real_speech.TEST):
        cells = []
        for diarizer in (before, shipped):
            analysis = diarizer.analyse(r.audio)
            for given in (None, len(r.speakers)):
                s = real_speech.score(r, diarizer.assign(analysis, num_speakers=given))
                cells.append(f"{s.found} / {s.der:.1%} ({s.missed:.1%} + {s.false_alarm:.1%} + {s.confusion:.1%})")
        print(f"| {r.name} | {len(r.speakers)} | " + " | ".join(cells) + " |", flush=True)


def report(label, data, analyses, diarizer, options, told, blind=None) -> None:
    if blind is None:
        blind = [real_speech.score(r, diarizer.assign(a, options=options)) for r, a in zip(data, analyses)]
    print(f"| {label} " + real_speech.summary_cells(data, blind, told), flush=True)
    if os.environ.get("CALIBRATE_VERBOSE"):
        for r, b, t in zip(data, blind, told):
            print(f"    {r.name}: blind {b.found}/{b.reference} DER {b.der:.1%}; told DER {t.der:.1%}")


if __name__ == "__main__":
    main()
