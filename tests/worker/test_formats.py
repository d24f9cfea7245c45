"""Every transcript format, read back with an independent reader (srt, webvtt-py, pysubs2, python-docx,
OpenTimelineIO's CMX 3600 adapter, csv, json, the timecode library) and checked for timing and text."""
from __future__ import annotations

import csv
import html
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from fractions import Fraction
from pathlib import Path

import docx
import opentimelineio as otio
import pysubs2
import pytest
import srt
import webvtt
from opentimelineio import opentime
from timecode import Timecode

from gpu_worker.formats import FORMAT_EXTENSIONS, write_formats
from gpu_worker.result import Segment, TranscriptResult, Word
from scribefleet.contract import ErrorCode, ScribefleetError

ALL = list(FORMAT_EXTENSIONS)
MAX_CUE_S = 6.0
MIN_CUE_S = 0.8
EXACT = {23.976: Fraction(24000, 1001), 29.97: Fraction(30000, 1001), 59.94: Fraction(60000, 1001)}


# ---------------------------------------------------------------- building results the way the merge does
def make_result(script: list[tuple[str, str]], names: dict[str, str] | None = None, gap: float = 0.6,
                start: float = 0.4) -> TranscriptResult:
    """Words with plausible durations (longer words take longer), one segment per sentence, turns back to back."""
    segments, t = [], start
    for speaker, text in script:
        for sentence in re.findall(r"[^.!?]+[.!?]*", text):
            words = []
            for token in sentence.split():
                duration = 0.12 + 0.055 * len(token)
                words.append(Word(round(t, 3), round(t + duration, 3), " " + token, 0.9, speaker))
                t += duration + 0.05
            if words:
                segments.append(Segment(words[0].start, words[-1].end, "".join(w.text for w in words), speaker, words))
            t += 0.15
        t += gap
    speakers = list(dict.fromkeys(s for s, _ in script))
    return TranscriptResult("en", round(t + 1, 3), segments, speakers, names or {}, "tiny.en", "default",
                            {"transcribe": 1.0})


INTERVIEW = [
    ("SPEAKER_00", "Welcome back to the show. Today we talk about restoring old film, and why it matters."),
    ("SPEAKER_01", "Thanks for having me. It's a pleasure."),
    ("SPEAKER_00", "So, where does a restoration start?"),
    ("SPEAKER_01", "It starts in the archive, with the negative if we are lucky, and with a print if we are not, "
                   "because every generation of copying loses detail, adds dirt, scratches and warping that we "
                   "then have to remove frame by frame, which takes months of careful work by a small team."),
    ("SPEAKER_02", "Right."),
    ("SPEAKER_01", "And the sound is a separate story: optical tracks, magnetic stems & sometimes nothing at all!"),
    ("SPEAKER_02", "How long did the last one take? Two years? Three?"),
    ("SPEAKER_01", "Almost four years, from the first scan to the premiere in 2023."),
    ("SPEAKER_00", "Incredible. Thank you both."),
]
NAMES = {"SPEAKER_00": "Anna", "SPEAKER_01": "Dr. Bob O'Neil"}  # SPEAKER_02 stays unnamed


@pytest.fixture(scope="module")
def interview() -> TranscriptResult:
    return make_result(INTERVIEW, NAMES)


def write(result: TranscriptResult, tmp_path: Path, formats=ALL, **options) -> dict[str, Path]:
    return write_formats(result, formats, tmp_path, "interview take 1", options)


def all_words(result: TranscriptResult) -> list[tuple[str, str, Word]]:
    """(display name, label, word) in order."""
    return [(result.speaker_display(s.speaker), s.speaker or "", w) for s in result.segments for w in s.words]


def turns(result: TranscriptResult) -> list[tuple[str, list[Word]]]:
    out: list[tuple[str, list[Word]]] = []
    for name, _, word in all_words(result):
        if out and out[-1][0] == name:
            out[-1][1].append(word)
        else:
            out.append((name, [word]))
    return out


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def frames(seconds: float, rate: float) -> int:
    return round(Fraction(seconds) * EXACT.get(rate, Fraction(rate)))


# ---------------------------------------------------------------- subtitles
@dataclass
class ParsedCue:
    start: int  # ms
    end: int
    lines: list[str]
    speaker: str | None  # [prefix] (SRT) or voice span (VTT)


def read_srt(path: Path) -> list[ParsedCue]:
    cues = []
    for sub in srt.parse(path.read_text(encoding="utf-8")):
        lines = sub.content.split("\n")
        m = re.match(r"\[([^\]]+)\] ", lines[0])
        cues.append(ParsedCue(sub.start // timedelta(milliseconds=1), sub.end // timedelta(milliseconds=1),
                              lines, m.group(1) if m else None))
    return cues


def read_vtt(path: Path) -> list[ParsedCue]:
    return [ParsedCue(c.start_time.in_milliseconds(), c.end_time.in_milliseconds(),
                      [html.unescape(line) for line in c.text.split("\n")], c.voice)
            for c in webvtt.read(str(path)).captions]


def check_cues(cues: list[ParsedCue], result: TranscriptResult, *, srt_style: bool, max_chars=42, max_lines=2):
    """Timing and text of subtitle cues against the words they were made from."""
    words = all_words(result)
    labelled = len({label for _, label, _ in words}) > 1
    at, prev_end, prev_speaker = 0, 0, None
    for cue in cues:
        text_lines = list(cue.lines)
        if srt_style and cue.speaker:
            assert text_lines[0].startswith(f"[{cue.speaker}] ")
            text_lines[0] = text_lines[0][len(cue.speaker) + 3:]
        # text: the next words, in order, exactly
        target, got, mine = squash("".join(text_lines)), "", []
        while len(got) < len(target):
            got += squash(words[at][2].text)
            mine.append(words[at])
            at += 1
        assert got == target, (got, target)
        speakers = {name for name, _, _ in mine}
        assert len(speakers) == 1, f"cue spans speakers {speakers}"
        name = speakers.pop()
        if srt_style:  # prefix where the speaker changes, nowhere else
            assert cue.speaker == (name if labelled and name != prev_speaker else None)
        else:
            assert cue.speaker == (name if labelled else None)
        prev_speaker = name
        assert not any(re.search(r"[.!?]$", w.text) for _, _, w in mine[:-1]), "cue spans a sentence end"
        # layout
        assert 1 <= len(cue.lines) <= max_lines
        # a line may overflow only to hold one word (after the speaker prefix): words are never cut
        for line, rest in zip(cue.lines, text_lines):
            assert len(line) <= max_chars or " " not in rest.strip(), f"line too long: {line!r}"
        # timing: inside the words' span (plus the minimum reading time), never overlapping
        first, last = mine[0][2], mine[-1][2]
        assert cue.start >= prev_end
        assert abs(cue.start - first.start * 1000) <= 1
        assert cue.end >= last.end * 1000 - 1
        assert cue.end <= max(last.end * 1000, cue.start + MIN_CUE_S * 1000) + 1
        if len(mine) > 1:
            assert cue.end - cue.start <= MAX_CUE_S * 1000 + 1
        prev_end = cue.end
    assert at == len(words), "words missing from the subtitles"
    for cue, nxt in zip(cues, cues[1:] + [None]):  # short cues stay up for the minimum reading time where there is room
        assert cue.end >= min(cue.start + MIN_CUE_S * 1000, nxt.start if nxt else float("inf"))


def test_srt_and_vtt_read_back_with_their_own_readers(interview, tmp_path):
    paths = write(interview, tmp_path, ["srt", "vtt"])
    srt_cues, vtt_cues = read_srt(paths["srt"]), read_vtt(paths["vtt"])
    check_cues(srt_cues, interview, srt_style=True)
    check_cues(vtt_cues, interview, srt_style=False)
    assert [(c.start, c.end) for c in srt_cues] == [(c.start, c.end) for c in vtt_cues]  # the same cues
    assert {c.speaker for c in srt_cues} - {None} == {"Anna", "Dr. Bob O'Neil", "SPEAKER_02"}
    assert "<v Dr. Bob O'Neil>" in paths["vtt"].read_text(encoding="utf-8")
    assert "&amp;" in paths["vtt"].read_text(encoding="utf-8")  # VTT escapes, SRT does not
    assert "&" in paths["srt"].read_text(encoding="utf-8") and "&amp;" not in paths["srt"].read_text(encoding="utf-8")
    print(f"\nsubtitles: {len(srt_cues)} cues for {len(all_words(interview))} words")


@pytest.mark.parametrize("fmt", ["srt", "vtt"])
def test_pysubs2_reads_the_same_cues(interview, tmp_path, fmt):
    path = write(interview, tmp_path, [fmt])[fmt]
    events = pysubs2.load(str(path), encoding="utf-8", format_=fmt)
    ours = read_srt(path) if fmt == "srt" else read_vtt(path)
    assert [(e.start, e.end) for e in events] == [(c.start, c.end) for c in ours]
    plain = [html.unescape(e.plaintext) for e in events]
    assert plain == ["\n".join(c.lines) for c in ours]


def test_subtitle_limits_follow_options(interview, tmp_path):
    paths = write(interview, tmp_path, ["srt", "vtt"], max_line_chars=20, max_lines=1)
    check_cues(read_srt(paths["srt"]), interview, srt_style=True, max_chars=20, max_lines=1)
    check_cues(read_vtt(paths["vtt"]), interview, srt_style=False, max_chars=20, max_lines=1)


def test_long_run_without_punctuation_and_an_overlong_word(tmp_path):
    words = " ".join(["and", "then", "we", "kept", "on", "talking", "about", "nothing", "in", "particular"] * 30)
    result = make_result([("SPEAKER_00", words + " Donaudampfschifffahrtselektrizitaetenhauptbetriebswerkbauunterbeamtengesellschaft"
                                         " " + words)])
    paths = write(result, tmp_path, ["srt", "vtt", "txt"])
    cues = read_srt(paths["srt"])
    check_cues(cues, result, srt_style=True)
    check_cues(read_vtt(paths["vtt"]), result, srt_style=False)
    assert all(c.speaker is None for c in cues)  # one unnamed speaker: no labels
    assert any(len(line) > 42 for c in cues for line in c.lines)  # the 80-letter word stands alone on its line
    assert paths["txt"].read_text().startswith("[00:00:00]\nand then we")


def test_overlapping_speech_never_gives_overlapping_cues(tmp_path):
    result = make_result([("SPEAKER_00", "I think that we should go. Now."), ("SPEAKER_01", "No way, not yet.")], gap=0)
    a, b = result.segments[1], result.segments[2]  # "Now." and Bob's first words overlap by 0.3 s
    shift = b.start - a.end + 0.3
    for seg in result.segments[2:]:
        seg.start -= shift
        seg.end -= shift
        for w in seg.words:
            w.start, w.end = w.start - shift, w.end - shift
    assert result.segments[2].start < result.segments[1].end
    cues = read_srt(write(result, tmp_path, ["srt"])["srt"])
    assert all(p.end <= c.start for p, c in zip(cues, cues[1:]))
    assert all(c.end > c.start for c in cues)


def test_segments_without_words_still_make_subtitles(tmp_path):
    result = TranscriptResult("en", 10.0, [Segment(1.0, 4.0, " Text without word timestamps here.", "S0")])
    cues = read_srt(write(result, tmp_path, ["srt"])["srt"])
    assert " ".join(" ".join(c.lines) for c in cues) == "Text without word timestamps here."
    assert cues[0].start == 1000 and cues[-1].end == 4000


# ---------------------------------------------------------------- text formats
def test_txt_has_one_labelled_paragraph_per_turn(interview, tmp_path):
    text = write(interview, tmp_path, ["txt"])["txt"].read_text(encoding="utf-8")
    blocks = text.strip().split("\n\n")
    expected = turns(interview)
    assert len(blocks) == len(expected)
    for block, (name, words) in zip(blocks, expected):
        heading, body = block.split("\n")
        m = re.fullmatch(r"(.+) \[(\d\d):(\d\d):(\d\d)\]", heading)
        assert m and m.group(1) == name
        assert int(m.group(2)) * 3600 + int(m.group(3)) * 60 + int(m.group(4)) == int(words[0].start)
        assert body == "".join(w.text for w in words).strip()


def test_tsv_rows_per_segment_in_milliseconds(interview, tmp_path):
    with write(interview, tmp_path, ["tsv"])["tsv"].open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert rows[0] == ["start", "end", "speaker", "text", "word_probabilities"]
    assert len(rows) - 1 == len(interview.segments)
    for row, seg in zip(rows[1:], interview.segments):
        assert len(row) == 5
        assert (int(row[0]), int(row[1])) == (round(seg.start * 1000), round(seg.end * 1000))
        assert row[2] == interview.speaker_display(seg.speaker)
        assert row[3] == seg.text.strip()
        assert [float(p) for p in row[4].split(" ")] == [w.probability for w in seg.words]


def test_tsv_text_with_quotes_reads_back_row_for_row(tmp_path):
    """A text beginning with a quote must not open a quoted field that swallows the next rows (Excel, pandas, R and
    Python's excel-tab dialect treat `"` as the quote character)."""
    said = ['"Quote me.', 'She said "no" twice.', "Next row."]
    result = TranscriptResult("en", 6.0, [Segment(2.0 * i, 2.0 * i + 1.5, text) for i, text in enumerate(said)])
    with write(result, tmp_path, ["tsv"])["tsv"].open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, dialect="excel-tab"))
    assert [row[3] for row in rows[1:]] == said


def test_srt_never_carries_markup_from_names_or_words(tmp_path):
    words = [Word(0.5, 0.9, " <i>tag</i>", 0.9, "A"), Word(1.0, 1.4, " a<b", 0.9, "A")]
    result = TranscriptResult("en", 2.0, [Segment(0.5, 1.4, " <i>tag</i> a<b", "A", words)], ["A"], {"A": "Ann <b> & co"})
    text = write(result, tmp_path, ["srt"])["srt"].read_text(encoding="utf-8")
    assert "<" not in text and ">" not in text.replace("-->", "")
    (event,) = pysubs2.SSAFile.from_string(text, format_="srt").events
    assert "Ann ‹b› & co" in event.plaintext and "‹i›tag‹/i› a‹b" in event.plaintext  # nothing read as a tag


def test_json_is_the_full_result_with_a_version(interview, tmp_path):
    data = json.loads(write(interview, tmp_path, ["json"])["json"].read_text(encoding="utf-8"))
    assert data.pop("format_version") == 1
    assert TranscriptResult.from_dict(data) == interview


# ---------------------------------------------------------------- docx
def test_docx_script_names_bold_timecode_text(interview, tmp_path):
    document = docx.Document(str(write(interview, tmp_path, ["docx"], frame_rate=25)["docx"]))
    assert document.paragraphs[0].text == "interview take 1"
    assert document.paragraphs[0].style.name == "Title"
    script = [p for p in document.paragraphs if p.runs and p.runs[0].bold]
    expected = turns(interview)
    assert len(script) == len(expected)
    for p, (name, words) in zip(script, expected):
        assert p.runs[0].text == name
        heading, body = p.text.split("\n")
        tc = str(Timecode(25, frames=frames(words[0].start, 25) + 1))
        assert heading == f"{name}  {tc}"
        assert body == "".join(w.text for w in words).strip()


# ---------------------------------------------------------------- editor formats
_KEYWORD = re.compile(r"^(\*|FROM CLIP|FROM FILE|TO CLIP|LOC|M2|ASC_SOP|ASC_SAT|OTIO REFERENCE)")


def read_edl(path: Path, rate: float) -> tuple[list[otio.schema.Clip], list[int]]:
    """Clips read by OpenTimelineIO's CMX 3600 adapter, and their record-in frames.

    The adapter starts its track at the first event's record-in, so record positions are relative to it;
    the first record-in itself comes from the event line.
    """
    raw = path.read_text(encoding="utf-8")
    timeline = otio.adapters.read_from_string(raw, adapter_name="cmx_3600", rate=float(EXACT.get(rate, rate)))
    items = list(timeline.tracks[0]) if timeline.tracks else []
    clips = [c for c in items if isinstance(c, otio.schema.Clip)]
    events = re.findall(r"^\d{3}\s+AX\s+V\s+C\s+\S+ \S+ (\S+) \S+$", raw, re.M)
    assert len(events) == len(clips)
    first = Timecode(str(rate), events[0]).frames - 1 if events else 0
    return clips, [first + c.range_in_parent().start_time.to_frames() for c in clips]


def edl_text(clip: otio.schema.Clip) -> str:
    lines = clip.metadata.get("cmx_3600", {}).get("comments", [])
    return " ".join(line[2:] if line.startswith("- ") and _KEYWORD.match(line[2:]) else line for line in lines)


@pytest.mark.parametrize("rate", [25, 23.976, 29.97])
def test_edl_reads_back_one_event_per_turn(interview, tmp_path, rate):
    path = write(interview, tmp_path, ["edl"], frame_rate=rate)["edl"]
    raw = path.read_text(encoding="utf-8")
    drop = rate == 29.97
    assert f"FCM: {'DROP FRAME' if drop else 'NON-DROP FRAME'}" in raw
    clips, record_in = read_edl(path, rate)
    expected = turns(interview)
    assert len(clips) == len(expected)
    for clip, rec, (name, words) in zip(clips, record_in, expected):
        start = clip.source_range.start_time.to_frames()
        assert start == frames(words[0].start, rate) == rec  # record timecode = media timecode
        assert start + clip.source_range.duration.to_frames() == frames(words[-1].end, rate)
        assert clip.name == "interview take 1"
        assert edl_text(clip) == "".join(w.text for w in words).strip()
    # locators: speaker names at the turn starts, in SMPTE timecode (';' before frames for drop-frame)
    locs = re.findall(r"^\* LOC: (\d\d:\d\d:\d\d[:;]\d\d) (\w+)\s+(.*)$", raw, re.M)
    assert [name.upper() for name, _ in expected] == [text for _, _, text in locs]
    for (tc, _, _), (_, words) in zip(locs, expected):
        assert (";" in tc) == drop
        assert Timecode(str(rate), tc).frames - 1 == frames(words[0].start, rate)
    if not drop:  # the adapter's locator pattern only knows ':' timecodes
        assert [m.name for c in clips for m in c.markers] == [name.upper() for name, _ in expected]


def test_edl_text_that_looks_like_edl_commands_stays_text(tmp_path):
    script = [("A", "LOCATIONS are booked."), ("B", "M2 motorway is closed."), ("A", "To be honest, FROM CLIP one."),
              ("B", "* stars * everywhere.")]
    result = make_result(script)
    path = write(result, tmp_path, ["edl"])["edl"]
    clips, _ = read_edl(path, 25)
    assert [edl_text(c) for c in clips] == [text for _, text in script]
    assert [len(c.markers) for c in clips] == [1, 1, 1, 1]  # no text line was taken for a locator
    assert "* To be honest" in path.read_text()


@pytest.mark.parametrize("rate", [25, 29.97])
def test_avid_marker_list(interview, tmp_path, rate):
    path = write(interview, tmp_path, ["avid_markers"], frame_rate=rate)["avid_markers"]
    assert path.name == "interview take 1.avid.txt"
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    expected = turns(interview)
    assert len(rows) == len(expected)
    colors = {}
    for row, (name, words) in zip(rows, expected):
        user, tc, track, color, comment, duration = row
        assert (user, track) == ("scribefleet", "V1")
        assert color in {"red", "green", "blue", "cyan", "magenta", "yellow", "white", "black"}
        assert colors.setdefault(name, color) == color  # one colour per speaker
        start = Timecode(str(rate), tc).frames - 1
        assert start == frames(words[0].start, rate)
        assert (";" in tc) == (rate == 29.97)
        assert start + int(duration) == frames(words[-1].end, rate)
        assert comment == f"{name}: " + "".join(w.text for w in words).strip()
    assert len(set(colors.values())) == 3


def test_start_timecode_shifts_editor_formats(interview, tmp_path):
    paths = write(interview, tmp_path, ["edl", "avid_markers"], frame_rate=25, start_timecode="01:00:00:00")
    clips, record_in = read_edl(paths["edl"], 25)
    first = frames(interview.segments[0].start, 25) + 25 * 3600
    assert clips[0].source_range.start_time.to_frames() == first == record_in[0]
    assert paths["avid_markers"].read_text().split("\t")[1] == opentime.to_timecode(opentime.RationalTime(first, 25), 25)


@pytest.mark.parametrize("label", ["01:00:00:00", "01:00:00;00"])
def test_a_start_timecode_at_29_97_is_drop_frame_however_it_is_written(interview, tmp_path, label):
    """01:00:00;00 is frame 107892 of a 29.97 drop-frame timeline; read as non-drop, "01:00:00:00" would be 108000
    and put every event 3.6 s late on the timeline the files are written in."""
    paths = write(interview, tmp_path, ["edl", "avid_markers", "docx"], frame_rate=29.97, start_timecode=label)
    clips, record_in = read_edl(paths["edl"], 29.97)
    first = frames(interview.segments[0].start, 29.97) + 107892
    assert record_in[0] == first
    marker = paths["avid_markers"].read_text().split("\t")[1]
    assert Timecode("29.97", marker).frames - 1 == first and marker.startswith("01:00:00;")
    text = "\n".join(p.text for p in docx.Document(str(paths["docx"])).paragraphs)
    assert marker in text  # the script shows the timecodes the sequence shows


# ---------------------------------------------------------------- edge cases
def test_empty_transcript_gives_valid_empty_files(tmp_path):
    result = TranscriptResult("en", 0.0, [])
    paths = write(result, tmp_path, frame_rate=29.97)
    assert set(paths) == set(ALL) and all(p.exists() for p in paths.values())
    assert paths["txt"].read_text() == ""
    assert list(srt.parse(paths["srt"].read_text())) == []
    assert webvtt.read(str(paths["vtt"])).captions == []
    assert len(pysubs2.load(str(paths["vtt"]), format_="vtt")) == 0
    assert paths["tsv"].read_text().splitlines() == ["start\tend\tspeaker\ttext\tword_probabilities"]
    data = json.loads(paths["json"].read_text())
    assert data.pop("format_version") == 1 and TranscriptResult.from_dict(data) == result
    assert "No speech was detected." in [p.text for p in docx.Document(str(paths["docx"])).paragraphs]
    assert read_edl(paths["edl"], 29.97)[0] == []
    assert paths["avid_markers"].read_text() == ""


def test_unicode_survives_every_format(tmp_path):
    script = [("A", "Grüß Gott, señor Müller! Ça va 🎬?"), ("B", "Привет, мир. مرحبا بالعالم."), ("A", "Ok.")]
    result = make_result(script, {"A": "Zoë", "B": "Łukasz 李"})
    cjk = Segment(20.0, 22.0, "東京は晴れです。", "B",
                  [Word(20.0, 20.6, "東京", speaker="B"), Word(20.6, 21.0, "は", speaker="B"),
                   Word(21.0, 21.5, "晴れ", speaker="B"), Word(21.5, 22.0, "です。", speaker="B")])
    result.segments.append(cjk)
    paths = write(result, tmp_path)
    check_cues(read_srt(paths["srt"]), result, srt_style=True)
    check_cues(read_vtt(paths["vtt"]), result, srt_style=False)
    assert "[Łukasz 李] 東京は晴れです。" in paths["srt"].read_text(encoding="utf-8")
    for fmt in ("txt", "tsv", "avid_markers", "edl"):
        content = paths[fmt].read_text(encoding="utf-8")
        for phrase in ("Grüß Gott, señor Müller!", "Ça va 🎬?", "مرحبا بالعالم.", "東京は晴れです。"):
            assert phrase in content, (fmt, phrase)
    doc_text = "\n".join(p.text for p in docx.Document(str(paths["docx"])).paragraphs)
    assert "Zoë" in doc_text and "Łukasz 李" in doc_text and "東京は晴れです。" in doc_text
    assert [edl_text(c) for c in read_edl(paths["edl"], 25)[0]][-1] == "東京は晴れです。"


def test_control_characters_and_tabs_are_cleaned(tmp_path):
    result = make_result([("A", "tab\there and a bell\x07 inside."), ("B", "fine.")])
    paths = write(result, tmp_path, ["tsv", "avid_markers", "docx"])
    rows = paths["tsv"].read_text().splitlines()
    assert rows[1].split("\t")[3] == "tab here and a bell inside."
    assert all(len(line.split("\t")) == 6 for line in paths["avid_markers"].read_text().splitlines())
    docx.Document(str(paths["docx"]))


def test_unknown_format_is_invalid_options_and_writes_nothing(interview, tmp_path):
    with pytest.raises(ScribefleetError) as err:
        write_formats(interview, ["srt", "pdf"], tmp_path / "out", "x", {})
    assert err.value.code == ErrorCode.INVALID_OPTIONS and "pdf" in err.value.message
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("options", [{"frame_rate": 12}, {"frame_rate": "fast"}, {"start_timecode": "1 hour"}])
def test_bad_timecode_options_are_invalid_options(interview, tmp_path, options):
    with pytest.raises(ScribefleetError) as err:
        write_formats(interview, ["avid_markers"], tmp_path, "x", options)
    assert err.value.code == ErrorCode.INVALID_OPTIONS


def test_write_formats_names_files_by_stem_and_extension(interview, tmp_path):
    paths = write(interview, tmp_path)
    assert {fmt: p.name for fmt, p in paths.items()} == {f: "interview take 1" + ext for f, ext in FORMAT_EXTENSIONS.items()}
    assert FORMAT_EXTENSIONS["avid_markers"] == ".avid.txt"


def test_every_format_has_the_content_type_s3_serves_it_with():
    from gpu_worker.formats import CONTENT_TYPES

    assert set(CONTENT_TYPES) == set(FORMAT_EXTENSIONS)
    assert CONTENT_TYPES["html"].startswith("text/html") and CONTENT_TYPES["json"] == "application/json"
