"""Word confidence in the formats: probabilities in json and tsv, low-confidence words shaded in docx (read back
with python-docx), and the task that produced the words."""
from __future__ import annotations

import csv
import json

import docx
import pytest
from docx.oxml.ns import qn

from gpu_worker.formats import write_formats
from gpu_worker.formats.common import DEFAULT_LOW_CONFIDENCE
from gpu_worker.formats.document import LOW_CONFIDENCE_FILL
from gpu_worker.result import Segment, TranscriptResult, Word


def result_of(*segments: list[tuple[str, float]], task: str = "transcribe", language: str = "en") -> TranscriptResult:
    """Segments of (word as whisper writes it, probability); one speaker each, alternating, words 0.3 s apart."""
    out, t = [], 0.0
    for k, spoken in enumerate(segments):
        speaker = f"SPEAKER_0{k % 2}"
        words = []
        for text, probability in spoken:
            words.append(Word(round(t, 3), round(t + 0.25, 3), text, probability, speaker))
            t += 0.3
        out.append(Segment(words[0].start, words[-1].end, "".join(w.text for w in words).strip(), speaker, words))
        t += 1.0
    return TranscriptResult(language, round(t, 3), out, ["SPEAKER_00", "SPEAKER_01"], {}, "tiny.en", "default", task=task)


CALL = result_of(
    [(" Hello", 0.97), (" mel", 0.31), (" Trista,", 0.42), (" did", 0.88), (" Brannoch", 0.49), (" finish?", 0.93)],
    [(" It's", 0.9), (" done", 0.95), ("'s", 0.2), (" now.", 0.99)],
)


def shaded_and_plain(path, threshold_paragraphs: int = 0) -> tuple[list[str], list[str]]:
    """Words in shaded runs and words in plain runs, over the script paragraphs (after each timecode's line break)."""
    shaded, plain = [], []
    for p in docx.Document(str(path)).paragraphs:
        if "\n" not in p.text:
            continue
        after_break = False
        for run in p.runs:
            if run._r.find(qn("w:br")) is not None:
                after_break = True
                continue
            if not after_break:
                continue
            shd = run._r.rPr.find(qn("w:shd")) if run._r.rPr is not None else None
            (shaded if shd is not None and shd.get(qn("w:fill")) == LOW_CONFIDENCE_FILL else plain).extend(run.text.split())
    return shaded, plain


def test_docx_shades_exactly_the_words_below_the_default_threshold(tmp_path):
    paths = write_formats(CALL, ["docx"], tmp_path, "call", {})
    shaded, plain = shaded_and_plain(paths["docx"])
    assert DEFAULT_LOW_CONFIDENCE == 0.5
    # "done" + "'s" are one written word: the less sure of the two decides
    assert shaded == ["mel", "Trista,", "Brannoch", "done's"]
    assert plain == ["Hello", "did", "finish?", "It's", "now."]
    document = docx.Document(str(paths["docx"]))
    texts = [p.text for p in document.paragraphs]
    assert any(t.startswith("Shaded words: the model was less than 50% sure") for t in texts)
    bodies = [t.split("\n")[1] for t in texts if "\n" in t]
    assert bodies == ["Hello mel Trista, did Brannoch finish?", "It's done's now."]  # the text reads as before


@pytest.mark.parametrize("threshold, expected", [
    (0.15, []),
    (0.3, ["done's"]),
    (0.45, ["mel", "Trista,", "done's"]),
    (0.95, ["mel", "Trista,", "did", "Brannoch", "finish?", "It's", "done's"]),
])
def test_the_threshold_is_a_job_option(tmp_path, threshold, expected):
    paths = write_formats(CALL, ["docx"], tmp_path, "call", {"low_confidence": threshold})
    shaded, _ = shaded_and_plain(paths["docx"])
    assert shaded == expected
    legend = [p.text for p in docx.Document(str(paths["docx"])).paragraphs if p.text.startswith("Shaded words")]
    assert len(legend) == (1 if expected else 0)


def test_tsv_gives_one_probability_per_written_word(tmp_path):
    paths = write_formats(CALL, ["tsv"], tmp_path, "call", {})
    with paths["tsv"].open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert [r["word_probabilities"] for r in rows] == ["0.97 0.31 0.42 0.88 0.49 0.93", "0.90 0.20 0.99"]
    assert all(len(r["text"].split(" ")) == len(r["word_probabilities"].split(" ")) for r in rows)


def test_tsv_leaves_probabilities_empty_for_a_segment_without_words(tmp_path):
    text_only = TranscriptResult("en", 3.0, [Segment(0.0, 2.0, "Imported text only.", None, [])])
    paths = write_formats(text_only, ["tsv", "docx"], tmp_path, "t", {})
    assert paths["tsv"].read_text().splitlines()[1].split("\t")[3:] == ["Imported text only.", ""]
    assert shaded_and_plain(paths["docx"])[0] == []


def test_json_carries_each_words_probability_the_task_and_the_vocabulary(tmp_path):
    result = result_of([(" Hallo", 0.8)], task="translate", language="de")
    result.vocabulary = {"terms": ["Veltrista"], "rules": [{"index": 0, "phrase": "mel trista", "replacement": "Veltrista",
                                                            "replacements": 0, "timed_out": False}]}
    data = json.loads(write_formats(result, ["json"], tmp_path, "t", {})["json"].read_text())
    assert data["task"] == "translate" and data["language"] == "de"
    assert data["segments"][0]["words"][0]["probability"] == 0.8
    assert data["vocabulary"]["rules"][0]["phrase"] == "mel trista"
    data.pop("format_version")
    assert TranscriptResult.from_dict(data) == result


def test_docx_says_a_translation_is_english_from_the_spoken_language(tmp_path):
    translated = result_of([(" Good", 0.9), (" morning.", 0.9)], task="translate", language="de")
    document = docx.Document(str(write_formats(translated, ["docx"], tmp_path, "t", {})["docx"]))
    assert document.core_properties.language == "en"
    assert document.paragraphs[1].text.startswith("Language: English, translated from de · ")
    spoken = result_of([(" Guten", 0.9), (" Morgen.", 0.9)], language="de")
    document = docx.Document(str(write_formats(spoken, ["docx"], tmp_path / "b", "t", {})["docx"]))
    assert document.core_properties.language == "de" and document.paragraphs[1].text.startswith("Language: de · ")
