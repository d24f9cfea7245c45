"""Formats editors import: a CMX 3600 EDL (OpenTimelineIO's adapter) and an Avid Media Composer marker list.

Both place the transcript at media time: timecode 00:00:00:00 is the first sample of the uploaded file,
unless `start_timecode` (e.g. "01:00:00:00", the usual sequence start) shifts it.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import opentimelineio as otio
from opentimelineio import opentime, schema

from gpu_worker.formats.common import FrameRate, Turn, clean, speaker_turns
from gpu_worker.result import TranscriptResult

# Media Composer's marker colours; speakers cycle through the ones that read well on its timeline.
SPEAKER_COLORS = ("red", "green", "blue", "cyan", "magenta", "yellow", "white", "black")
AVID_TRACK = "V1"
AVID_USER = "scribefleet"
EDL_COMMENT_WIDTH = 72  # EDL lines stay short: many conform tools read fixed-width 80-column lines
# Comment lines a CMX reader would take for commands (clip names, locators, motion, CDL) if text began with them
# (OpenTimelineIO's reader matches these prefixes case-sensitively); such lines get a "- " in front.
_EDL_KEYWORDS = re.compile(r"^(\*|FROM CLIP|FROM FILE|TO CLIP|LOC|M2|ASC_SOP|ASC_SAT|OTIO REFERENCE)")


def _turn_frames(turns: list[Turn], rate: FrameRate, offset: int) -> list[tuple[Turn, int, int]]:
    """Frame spans per turn, at least one frame each and never overlapping (editors reject overlapping events)."""
    spans, end = [], offset
    for turn in turns:
        first = max(rate.frames(turn.start) + offset, end)
        last = max(rate.frames(turn.end) + offset, first + 1)
        spans.append((turn, first, last))
        end = last
    return spans


def _speaker_colors(turns: list[Turn]) -> dict[str | None, str]:
    colors: dict[str | None, str] = {}
    for turn in turns:
        colors.setdefault(turn.speaker, SPEAKER_COLORS[len(colors) % len(SPEAKER_COLORS)])
    return colors


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split(" "):
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return [f"- {line}" if _EDL_KEYWORDS.match(line) else line for line in lines]


def write_edl(result: TranscriptResult, path: Path, options: dict[str, Any], title: str = "") -> None:
    """One cut event per speaker turn on reel AX (a file, not a tape): clip name = the source, a locator at the turn
    start with the speaker (the adapter upper-cases locator text, as Avid does), the words as comment lines.
    """
    rate = FrameRate.of(options.get("frame_rate"))
    fps = float(rate.exact)  # OpenTimelineIO checks SMPTE rates against 30000/1001 etc.
    turns = speaker_turns(result)
    colors = _speaker_colors(turns)
    title = clean(title)[:70] or "TRANSCRIPT"
    header = f"TITLE: {title}\nFCM: {'DROP FRAME' if rate.drop_frame else 'NON-DROP FRAME'}\n"
    if not turns:
        path.write_text(header, encoding="utf-8")
        return
    timeline = otio.schema.Timeline(name=title)
    track = schema.Track(kind=schema.TrackKind.Video)
    timeline.tracks.append(track)
    cursor = 0
    for turn, first, last in _turn_frames(turns, rate, rate.start_frames(options.get("start_timecode"))):
        if first > cursor:  # the gap keeps record timecode equal to source timecode
            track.append(schema.Gap(source_range=opentime.TimeRange(opentime.RationalTime(0, fps),
                                                                      opentime.RationalTime(first - cursor, fps))))
        clip = schema.Clip(name=title, source_range=opentime.TimeRange(opentime.RationalTime(first, fps),
                                                                      opentime.RationalTime(last - first, fps)))
        clip.metadata["cmx_3600"] = {"reel": "AX", "comments": _wrap(turn.text, EDL_COMMENT_WIDTH)}
        if turn.name:
            clip.markers.append(schema.Marker(name=turn.name, color=colors[turn.speaker].upper(),
                                              marked_range=opentime.TimeRange(opentime.RationalTime(first, fps))))
        track.append(clip)
        cursor = last
    body = otio.adapters.write_to_string(timeline, adapter_name="cmx_3600", rate=fps, style="avid")
    # The adapter writes no FCM line (its own TODO); conform tools need it to read ;-timecodes as drop-frame.
    path.write_text(header + body.split("\n", 1)[1], encoding="utf-8")


def write_avid_markers(result: TranscriptResult, path: Path, options: dict[str, Any], title: str = "") -> None:
    """Media Composer's marker list text (Markers window → Import Markers), the layout its own export writes:
    one line per marker, tab separated: user, timecode, track, colour, comment, duration in frames.

    Followed: Media Composer exports published in public repositories (e.g. adamhawkey/EDL_tools shows
    `Name<TAB>01:01:07:21<TAB>V1<TAB>red<TAB>comment<TAB>1`) and parsers of the format that name the same six
    fields; newer Media Composer versions append further optional columns, which are left out here.
    Not checked against Media Composer itself (none here).

    One spanned marker per speaker turn, coloured per speaker, comment `Name: words`.
    """
    rate = FrameRate.of(options.get("frame_rate"))
    turns = speaker_turns(result)
    colors = _speaker_colors(turns)
    lines = []
    for turn, first, last in _turn_frames(turns, rate, rate.start_frames(options.get("start_timecode"))):
        comment = f"{turn.name}: {turn.text}" if turn.name else turn.text
        lines.append("\t".join((AVID_USER, rate.timecode(first), AVID_TRACK, colors[turn.speaker], comment,
                                str(last - first))) + "\n")
    path.write_text("".join(lines), encoding="utf-8")
