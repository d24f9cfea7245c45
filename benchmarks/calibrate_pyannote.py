"""Calibrates the bundled pyannote pipeline's clustering on the DEV split of real speech (benchmarks/real_speech.py).

    .venv/bin/python benchmarks/calibrate_pyannote.py [--step 0.1] [--methods centroid,average]
        [--thresholds 0.5,0.6,0.7] [--min-cluster-size 2,6,12] [--exclude-overlap 0,1] [--cache DIR]

Segmentation and embeddings do not depend on the clustering, so they are computed once per recording (cached on
disk, keyed by recording, segmentation step and overlap exclusion) and only the clustering + reconstruction is
repeated per setting, through the pipeline's own apply(). Prints one line per setting: blind count right on the
dialogs and calls, within ±1 on the AMI excerpts, mean DER of each, and the mean DER told the count (collar 0.5 s in
total, overlap scored). TEST recordings are never read here.
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

import torch  # noqa: E402

from benchmarks import real_speech  # noqa: E402


class CachedPipeline:
    """The bundled pipeline with get_segmentations/get_embeddings memoised on disk per (uri, step, exclusion)."""

    def __init__(self, step: float, cache: Path, exclude_overlap: bool):
        from gpu_worker.diarization.pyannote_backend import bundled_pipeline

        self.pipeline, self.cache, self.step = bundled_pipeline(segmentation_step=step), cache, step
        self.pipeline.embedding_exclude_overlap = exclude_overlap
        cache.mkdir(parents=True, exist_ok=True)
        real_seg, real_emb = self.pipeline.get_segmentations, self.pipeline.get_embeddings

        def memo(kind, real, tag):
            def get(file, *args, **kwargs):
                path = cache / f"{kind}_{file['uri']}_{tag}.pkl"
                if not path.exists():
                    path.write_bytes(pickle.dumps(real(file, *args, **kwargs)))
                return pickle.loads(path.read_bytes())
            return get

        self.pipeline.get_segmentations = memo("seg", real_seg, str(step))
        self.pipeline.get_embeddings = memo("emb", real_emb, f"{step}_{int(exclude_overlap)}")

    def diarize(self, recording: real_speech.Recording, clustering: dict, num_speakers: int | None = None):
        self.pipeline.instantiate({"segmentation": {"min_duration_off": 0.0}, "clustering": clustering})
        uri = recording.name.replace(" ", "_").replace("+", "")
        file = {"waveform": torch.from_numpy(recording.audio)[None], "sample_rate": 16000, "uri": uri}
        out = self.pipeline(file, num_speakers=num_speakers)
        annotation = getattr(out, "speaker_diarization", out)
        return [real_speech.Turn(s.start, s.end, str(label)) for s, _, label in annotation.itertracks(yield_label=True)]


def eigengap_clustering():
    """The bundled pipeline's clustering before the DEV calibration: eigengap spectral clustering, blind and told."""
    from gpu_worker.diarization.clustering import spectral_cluster, unit_rows
    from pyannote.audio.pipelines.clustering import BaseClustering

    class EigengapClustering(BaseClustering):
        def cluster(self, embeddings, min_clusters=None, max_clusters=None, num_clusters=None):
            return spectral_cluster(unit_rows(embeddings), num_speakers=num_clusters, min_speakers=min_clusters,
                                    max_speakers=min(max_clusters or 20, 20))

    return EigengapClustering(metric="cosine")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", type=float, default=0.1, help="segmentation hop as a fraction of the 10 s window")
    parser.add_argument("--methods", default="centroid,average")
    parser.add_argument("--thresholds", default="0.5,0.6,0.7,0.8,0.9,1.0")
    parser.add_argument("--min-cluster-size", default="2,6,12")
    parser.add_argument("--exclude-overlap", default="0")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/scribefleet-calibrate-real"))
    args = parser.parse_args()
    from gpu_worker.diarization.pyannote_backend import BundledClustering  # loads torchaudio the way pyannote can
    from pyannote.audio.pipelines.clustering import AgglomerativeClustering

    real_speech.fetch()
    data = real_speech.recordings(real_speech.DEV)
    print(f"DEV split, step {args.step * 10:g} s; thresholds: cosine distance for average, euclidean between unit "
          "vectors for centroid")
    print("| exclude overlap | method | threshold | min cluster size " + real_speech.SUMMARY_HEADER)
    print("|---" * (4 + real_speech.SUMMARY_HEADER.count("|") - 1) + "|")
    for exclude in (bool(int(e)) for e in args.exclude_overlap.split(",")):
        runner = CachedPipeline(args.step, args.cache, exclude)
        runner.pipeline.clustering = eigengap_clustering()  # what the bundled pipeline clustered with before
        blind = [real_speech.score(r, runner.diarize(r, {})) for r in data]
        told = [real_speech.score(r, runner.diarize(r, {}, len(r.speakers))) for r in data]
        print(f"| {int(exclude)} | eigengap (before) | - | - " + real_speech.summary_cells(data, blind, told), flush=True)
        runner.pipeline.clustering = BundledClustering(metric="cosine")  # told: spectral, as the "before" row
        for method in args.methods.split(","):
            told_by_size: dict[int, list] = {}
            for threshold in (float(t) for t in args.thresholds.split(",")):
                for size in (int(m) for m in args.min_cluster_size.split(",")):
                    clustering = {"method": method, "threshold": threshold, "min_cluster_size": size}
                    blind = [real_speech.score(r, runner.diarize(r, clustering)) for r in data]
                    if size not in told_by_size:  # pyannote's AHC cut at the count (the shipped pipeline clusters
                        # told counts spectrally; this column is what AHC would do instead)
                        ahc = AgglomerativeClustering(metric="cosine")
                        runner.pipeline.clustering, shipped = ahc, runner.pipeline.clustering
                        told_by_size[size] = [real_speech.score(r, runner.diarize(r, clustering, len(r.speakers)))
                                              for r in data]
                        runner.pipeline.clustering = shipped
                    told = told_by_size[size]
                    print(f"| {int(exclude)} | {method} | {threshold:.2f} | {size} "
                          + real_speech.summary_cells(data, blind, told), flush=True)


if __name__ == "__main__":
    main()
