"""`python -m gpu_worker --self-test`: load the models, run the whole pipeline on a bundled clip, check the result.

The AMI build runs it (Image Builder test component) so an image whose models, CUDA libraries or codecs are
broken never reaches the fleet. The clip (assets/selftest.flac, 16 kHz mono FLAC, 11.5 s) is real speech: seconds
12.5–24.02 of pyannote.audio's `sample.wav` (a two-person phone call; MIT licence, Copyright (c) 2020 CNRS, see
assets/NOTICE), with its human transcript (`sample.stm`) as EXPECTED_TURNS. FLAC also proves PyAV's codecs are in
place. A synthetic clip was used before; segmentation-3.0 hears two espeak voices as one speaker, which says nothing
about real recordings.
"""
from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from gpu_worker.config import WorkerConfig

log = logging.getLogger(__name__)

CLIP = Path(__file__).parent / "assets" / "selftest.flac"
EXPECTED_TURNS = (  # (who, what), in order: sample.stm's lines in the clip, one person's consecutive lines joined
    ("Diane", "This is Diane in New Jersey."),
    ("Sheila", "And I'm Sheila in Texas, originally from Chicago."),
    ("Diane", "Oh, I'm originally from Chicago also. I'm in New Jersey now though."),
    ("Sheila", "Well, there isn't that much difference."),
)
# A turn's words must carry one label this often: a word at a change of speaker can fall either side (the clip has
# an overlapped "oh" and a 0.3 s hand-over), and the check is that the models work, not where the boundary lands.
MIN_TURN_AGREEMENT = 0.75
MAX_WER = 0.15  # tiny.en gets every word; allow a slip or two for other models

_NUMBERS = dict(enumerate("zero one two three four five six seven eight nine ten eleven twelve".split()))


def normalise_words(text: str) -> list[str]:
    """Lower case, no punctuation, small numbers spelled out: what WER should compare."""
    words = re.sub(r"[^\w\s']", " ", text.lower().replace("’", "'")).split()
    return [_NUMBERS.get(int(w), w) if w.isdigit() else w for w in words]


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, by Levenshtein distance over words."""
    ref, hyp = normalise_words(reference), normalise_words(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1] / max(len(ref), 1)


@dataclass
class SelfTestReport:
    ok: bool
    wer: float | None = None
    text: str = ""
    speakers: list[str] = field(default_factory=list)
    model: str = ""
    diarizer: str = ""
    device: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def run_selftest(config: WorkerConfig, pipeline=None) -> SelfTestReport:
    """Every failure becomes a problem in the report (never an exception), so the caller can print and exit 1."""
    report = SelfTestReport(ok=False)
    started = time.perf_counter()
    try:
        if pipeline is None:
            from gpu_worker.pipeline import Pipeline

            pipeline = Pipeline(config)
        report.timings["load"] = round(time.perf_counter() - started, 3)
        report.model, report.device = pipeline.transcriber.name, pipeline.transcriber.device
        # The speaker count is given: what is checked here is that the models work (the embeddings tell the voices
        # apart), not count estimation on 11 s.
        result = pipeline.run(CLIP, {"language": "en", "speakers": 2})
    except Exception as error:  # the point is to report it
        log.exception("self-test failed")
        report.problems.append(f"{type(error).__name__}: {error}")
        return report
    report.timings.update(result.timings)
    report.diarizer, report.speakers = result.diarizer, result.speakers
    report.text = " ".join(s.text for s in result.segments)
    report.wer = round(word_error_rate(" ".join(text for _, text in EXPECTED_TURNS), report.text), 4)
    if report.wer > MAX_WER:
        report.problems.append(f"word error rate {report.wer:.1%} above {MAX_WER:.0%}: {report.text!r}")
    report.problems += _speaker_problems(result)
    report.ok = not report.problems
    return report


def _speaker_problems(result) -> list[str]:
    """Each turn mostly one label (MIN_TURN_AGREEMENT of its words); one label per person, different people different
    labels."""
    words = [w for s in result.segments for w in s.words]
    labels: dict[str, str | None] = {}
    for person, sentence in EXPECTED_TURNS:
        # Words are attributed to the turn whose last word they precede; robust to a missed or extra word.
        count = len(normalise_words(sentence))
        mine, words = words[:count], words[count:]
        votes = Counter(w.speaker for w in mine)
        if not votes:
            return [f"no words for turn {sentence!r}"]
        label, agreeing = votes.most_common(1)[0]
        if agreeing < MIN_TURN_AGREEMENT * len(mine):
            return [f"turn {sentence!r} was split over speakers {dict(votes)}"]
        if labels.setdefault(person, label) != label:
            return [f"{person} was labelled {labels[person]} and {label}"]
    if len(set(labels.values())) != len(labels):
        return [f"{' and '.join(labels)} were all labelled {next(iter(labels.values()))}"]
    return []


def main(config: WorkerConfig | None = None) -> int:
    config = config or WorkerConfig.from_env()
    report = run_selftest(config)
    print(json.dumps(asdict(report), indent=2))
    return 0 if report.ok else 1
