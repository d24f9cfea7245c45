"""Calibrates the bundled pyannote pipeline's AHC threshold on a DEV set of espeak dialogs, disjoint from the tests.

    .venv/bin/python benchmarks/calibrate_pyannote.py [--step 0.1] [--min-cluster-size 12] [--cache DIR]
    .venv/bin/python benchmarks/calibrate_pyannote.py --test 0.55   # the one evaluation on the test dialogs

The dev dialogs use none of the test voices (tests/worker/conftest.py, benchmarks/bench_diarization.py:
DISTINCT_VOICES, SIMILAR_VOICES, READING_VOICES) and none of their sentence offsets (0, 2, 5, 7; short turns 2, 3):
6 other espeak-ng voices (3 male ~100 Hz, 3 female 180-210 Hz, 6 accents; each renders differently from its base
voice, checked with md5sum, since espeak-ng silently ignores some variants), 2, 3 and 4 speakers, round-robin and
random speaker order, 0.3-0.5 s pauses. Segmentation and embeddings do not depend on the clustering, so they are
computed once per dialog (cached on disk) and only the clustering + reconstruction is repeated per threshold, through
the pipeline's own apply(). Prints a markdown table: speakers found and DER per dialog, blind, per threshold.
"""
from __future__ import annotations

import argparse
import os
import pickle
import sys
from pathlib import Path

os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from scribefleet_tools.samples import DISTINCT_VOICES, Dialog, make_dialog, round_robin_lines  # noqa: E402

DEV_VOICES = {  # name → espeak-ng voice
    "caribbean_m": "en-029+m2",
    "rp_f": "en-gb-x-rp+f2",
    "nyc_m": "en-us-nyc+m5",
    "westmid_f": "en-gb-x-gbcwmd+f1",
    "lancaster_m": "en-gb-x-gbclan+m6",
    "us_f": "en-us+f3",
}


def check_voices() -> None:
    """Each dev voice renders differently from its base voice and from the others (espeak-ng ignores some variants)."""
    from scribefleet_tools.samples import synthesize

    text = "Please send the final cut to the editor before Friday."
    renders = {v: synthesize(text, v).tobytes() for v in DEV_VOICES.values()}
    assert len(set(renders.values())) == len(renders), "two dev voices render the same audio"
    for voice, audio in renders.items():
        assert synthesize(text, voice.split("+")[0]).tobytes() != audio, f"{voice}: espeak-ng ignores the variant"


def random_order(speakers: list[str], count: int, offset: int, seed: int) -> list[tuple[str, str]]:
    """Full sentences by speakers drawn at random (every speaker speaks), sentences in order from `offset`."""
    rng = np.random.default_rng(seed)
    order = list(speakers) + [speakers[int(i)] for i in rng.integers(len(speakers), size=count - len(speakers))]
    rng.shuffle(order)
    return [(s, text) for s, (_, text) in zip(order, round_robin_lines(speakers, count, offset=offset))]


def dev_dialogs() -> dict[str, Dialog]:
    def dialog(voices: list[str], lines, pause: float) -> Dialog:
        return make_dialog(lines, {v: DEV_VOICES[v] for v in voices}, pause=pause)

    two_a, two_b = ["caribbean_m", "rp_f"], ["nyc_m", "lancaster_m"]
    three_a, three_b = ["caribbean_m", "westmid_f", "lancaster_m"], ["nyc_m", "us_f", "rp_f"]
    four_a = ["caribbean_m", "rp_f", "nyc_m", "us_f"]
    return {  # ~40-55 s each: on 2 shared cores the step-1 s embeddings take minutes per dialog
        "2a (m+f)": dialog(two_a, round_robin_lines(two_a, 12, offset=1), 0.4),
        "2b (m+m)": dialog(two_b, round_robin_lines(two_b, 12, offset=9), 0.3),
        "3a": dialog(three_a, round_robin_lines(three_a, 24, offset=3), 0.4),
        "3b (random)": dialog(three_b, random_order(three_b, 15, offset=10, seed=11), 0.3),
        "4a": dialog(four_a, round_robin_lines(four_a, 16, offset=6), 0.4),
    }


def test_dialogs() -> dict[str, Dialog]:
    from tests.worker.conftest import SPEAKERS, make_diarization_dialogs

    base = make_diarization_dialogs()
    other = make_dialog(round_robin_lines(SPEAKERS, 24, offset=7), dict(zip(SPEAKERS, DISTINCT_VOICES)), pause=0.3)
    return {"distinct": base["distinct"], "distinct, other lines, 0.3 s": other, "two": base["two"]}


class CachedPipeline:
    """The bundled pipeline with get_segmentations/get_embeddings memoised on disk per (uri, step)."""

    def __init__(self, step: float, cache: Path):
        from gpu_worker.diarization.pyannote_backend import bundled_pipeline

        self.pipeline, self.cache, self.step = bundled_pipeline(segmentation_step=step), cache, step
        cache.mkdir(parents=True, exist_ok=True)
        real_seg, real_emb = self.pipeline.get_segmentations, self.pipeline.get_embeddings

        def memo(kind, real):
            def get(file, *args, **kwargs):
                path = cache / f"{kind}_{file['uri']}_{step}.pkl"
                if not path.exists():
                    path.write_bytes(pickle.dumps(real(file, *args, **kwargs)))
                return pickle.loads(path.read_bytes())
            return get

        self.pipeline.get_segmentations = memo("seg", real_seg)
        self.pipeline.get_embeddings = memo("emb", real_emb)

    def diarize(self, uri: str, dialog: Dialog, clustering: dict, num_speakers: int | None = None):
        from gpu_worker.result import SpeakerTurn

        self.pipeline.instantiate({"segmentation": {"min_duration_off": 0.0}, "clustering": clustering})
        file = {"waveform": torch.from_numpy(dialog.audio)[None], "sample_rate": 16000, "uri": uri}
        out = self.pipeline(file, num_speakers=num_speakers)
        annotation = getattr(out, "speaker_diarization", out)
        return [SpeakerTurn(s.start, s.end, str(label)) for s, _, label in annotation.itertracks(yield_label=True)]


def uri_of(name: str, dialog: Dialog) -> str:
    import hashlib

    return name.split()[0].strip(",") + "-" + hashlib.md5(dialog.audio.tobytes()).hexdigest()[:8]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", type=float, default=0.1, help="segmentation hop as a fraction of the 10 s window")
    parser.add_argument("--min-cluster-size", type=int, default=12)
    parser.add_argument("--thresholds", default="0.40,0.45,0.50,0.55,0.60,0.65,0.70,0.75")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/scribefleet-calibrate"))
    parser.add_argument("--test", type=float, help="evaluate this threshold on the TEST dialogs (blind and told)")
    args = parser.parse_args()
    import gpu_worker.diarization.pyannote_backend  # noqa: F401 - loads torchaudio the way pyannote can use it
    from pyannote.audio.pipelines.clustering import AgglomerativeClustering
    from tests.worker.test_diarization import der

    runner = CachedPipeline(args.step, args.cache)
    runner.pipeline.clustering = AgglomerativeClustering(metric="cosine")

    def clustering(threshold: float) -> dict:
        return {"method": "centroid", "threshold": threshold, "min_cluster_size": args.min_cluster_size}

    if args.test is not None:
        print(f"TEST set, step {args.step * 10:g} s, AHC centroid threshold {args.test}, min_cluster_size "
              f"{args.min_cluster_size}\n| dialog | speakers | blind: found | blind: DER | told: DER |\n|---|---|---|---|---|")
        for name, dialog in test_dialogs().items():
            n = len({t.speaker for t in dialog.turns})
            blind = runner.diarize(uri_of(name, dialog), dialog, clustering(args.test))
            told = runner.diarize(uri_of(name, dialog), dialog, clustering(args.test), num_speakers=n)
            print(f"| {name} | {n} | {len({t.speaker for t in blind})} | {der(dialog, blind):.1%} "
                  f"| {der(dialog, told):.1%} |", flush=True)
        return

    check_voices()
    data = dev_dialogs()
    refs = {name: len({t.speaker for t in d.turns}) for name, d in data.items()}
    print(f"DEV set, step {args.step * 10:g} s, AHC centroid, min_cluster_size {args.min_cluster_size}; "
          "cell = speakers found / DER, blind")
    print("| threshold | " + " | ".join(f"{n} [{refs[n]}]" for n in data) + " | count right | mean DER |")
    print("|---" * (len(data) + 3) + "|")
    for threshold in (float(t) for t in args.thresholds.split(",")):
        cells, right, errors = [], 0, []
        for name, dialog in data.items():
            turns = runner.diarize(uri_of(name, dialog), dialog, clustering(threshold))
            found, error = len({t.speaker for t in turns}), der(dialog, turns)
            cells.append(f"{found} / {error:.1%}")
            right += found == refs[name]
            errors.append(error)
        print(f"| {threshold:.2f} | " + " | ".join(cells) + f" | {right}/{len(data)} | {np.mean(errors):.1%} |",
              flush=True)


if __name__ == "__main__":
    main()
