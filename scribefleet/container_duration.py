"""A media file's duration from its container headers, read through a seekable file object with as few bytes as
possible: mutagen for the containers it reads exactly, our own readers where it has none (Matroska/WebM) or only
guesses (MP3 without a Xing/VBRI frame count).

The probe uses it on ranged S3 reads to set limits before any GPU time is spent; the worker's decoder uses it on
the downloaded file to tell a cut-off upload from a short one. `estimated` is True when no header states the
length and it was derived from what the sampled bytes imply; callers must then leave a margin.
"""
from __future__ import annotations

import math
import struct
from typing import BinaryIO

import mutagen
from mutagen.aac import AAC
from mutagen.mp3 import MP3, BitrateMode

from scribefleet.contract import ErrorCode, ScribefleetError
from scribefleet.filetype import SNIFF_BYTES, describe_non_media, not_media_reason

EBML_MAGIC = b"\x1a\x45\xdf\xa3"


def header_duration(fileobj: BinaryIO, size: int, file_name: str) -> tuple[float, str, bool]:
    """(seconds, container, estimated?) from container headers; raises UnsupportedMedia / NoAudio with a reason
    that says what the file is when it is not media (never a parser's exception text)."""
    fileobj.seek(0)
    head = fileobj.read(SNIFF_BYTES)
    fileobj.seek(0)
    if head[:4] == EBML_MAGIC:
        seconds, estimated = matroska_duration(fileobj, size, file_name)
        return _positive(seconds, file_name), "matroska", estimated
    if describe_non_media(head):
        raise ScribefleetError(ErrorCode.UNSUPPORTED_MEDIA, not_media_reason(file_name, head))
    try:
        media = mutagen.File(fileobj, filename=file_name)
    except mutagen.MutagenError as error:
        if "audio" in str(error).lower() and "track" in str(error).lower():
            raise ScribefleetError(ErrorCode.NO_AUDIO, f"{file_name!r} has no audio track") from None
        if head[4:8] == b"ftyp" and iso_media_cut_off(fileobj, size):
            raise ScribefleetError(
                ErrorCode.TRUNCATED_MEDIA,
                f"{file_name!r} looks cut off: it ends inside its media data, before the index (moov) an MP4, M4A or "
                "MOV file keeps at its end (an upload that did not finish?)",
            ) from None
        raise ScribefleetError(ErrorCode.UNSUPPORTED_MEDIA, not_media_reason(file_name, head)) from None
    except Exception:  # mutagen raises assorted errors on hostile headers
        raise ScribefleetError(
            ErrorCode.UNSUPPORTED_MEDIA, f"{file_name!r} has a damaged header; it cannot be read as audio or video"
        ) from None
    if media is None or media.info is None:
        raise ScribefleetError(ErrorCode.UNSUPPORTED_MEDIA, not_media_reason(file_name, head))
    if getattr(media.info, "channels", None) == 0:  # e.g. an MP4 whose only track is video
        raise ScribefleetError(ErrorCode.NO_AUDIO, f"{file_name!r} has no audio track")
    container = type(media).__name__.lower()
    length = float(getattr(media.info, "length", 0) or 0)
    if isinstance(media, MP3) and media.info.bitrate_mode == BitrateMode.UNKNOWN:
        # No Xing/VBRI frame count: mutagen extrapolates the first frame's bitrate (a VBR file measured 5.5 s of
        # 32.9 s); the mean frame size of two sampled stretches is far closer, but still an estimate.
        return _positive(mpeg_duration_estimate(fileobj, size) or length, file_name), container, True
    if isinstance(media, AAC):  # ADTS has no length field; mutagen extrapolates its first frames (24.6 s of 32.9 s)
        return _positive(adts_duration_estimate(fileobj, size) or length, file_name), container, True
    return _positive(length, file_name), container, False


def iso_media_cut_off(fileobj: BinaryIO, size: int) -> bool:
    """An MP4/M4A/MOV whose top-level boxes run past the end of the file before any `moov` (the index most
    encoders write last): the typical remains of an interrupted upload. Walks box headers only."""
    pos = 0
    while pos + 8 <= size:
        fileobj.seek(pos)
        header = fileobj.read(16)
        box_size, box_type = struct.unpack(">I4s", header[:8])
        if box_size == 1 and len(header) == 16:
            box_size = struct.unpack(">Q", header[8:16])[0]
        if box_type == b"moov" or not box_type.isalnum() and box_type != b"    " or box_size in (0, 1) or box_size < 8:
            return False  # an index, garbage, or a box that extends to the end by definition: not proof of a cut
        if pos + box_size > size:
            return True
        pos += box_size
    return False


def _positive(length: float, file_name: str) -> float:
    if not math.isfinite(length) or length <= 0:
        raise ScribefleetError(ErrorCode.NO_AUDIO, f"{file_name!r} contains no audio (duration 0 s)")
    return length

# --- Matroska / WebM (EBML) -------------------------------------------------------------------------------------
# Element ids as written in the file (marker bits kept), from the Matroska specification (RFC 9559).
EBML = 0x1A45DFA3
SEGMENT = 0x18538067
INFO = 0x1549A966
TIMESTAMP_SCALE = 0x2AD7B1
DURATION = 0x4489
TRACKS = 0x1654AE6B
TRACK_ENTRY = 0xAE
TRACK_TYPE = 0x83
TRACK_TYPE_AUDIO = 2
CLUSTER = 0x1F43B675
CLUSTER_TIMESTAMP = 0xE7
SIMPLE_BLOCK = 0xA3
BLOCK_GROUP = 0xA0
BLOCK = 0xA1
UNKNOWN_SIZE = -1
HEAD_WINDOW = 1 << 20  # Info and Tracks sit in the first kilobytes; stop looking after this much of the file
TAIL_WINDOW = 512 * 1024  # the last cluster of a file without a Duration is looked for in its last bytes


def _vint(data: bytes, pos: int, keep_marker: bool) -> tuple[int, int]:
    """An EBML variable-length integer at `pos` → (value, next position). Raises IndexError/ValueError on garbage."""
    first = data[pos]
    length = 8 - first.bit_length() + 1
    if first == 0 or length > 8:
        raise ValueError("invalid EBML length")
    value = first if keep_marker else first & ((1 << (8 - length)) - 1)
    for byte in data[pos + 1 : pos + length]:
        value = (value << 8) | byte
    if pos + length > len(data):
        raise IndexError("EBML number runs past the data")
    if not keep_marker and value == (1 << (7 * length)) - 1:
        value = UNKNOWN_SIZE
    return value, pos + length


def _element(data: bytes, pos: int) -> tuple[int, int, int]:
    """(id, size, data start) of the element at `pos`."""
    element_id, pos = _vint(data, pos, keep_marker=True)
    size, pos = _vint(data, pos, keep_marker=False)
    return element_id, size, pos


def _uint(payload: bytes) -> int:
    return int.from_bytes(payload, "big") if payload else 0


def matroska_duration(fileobj: BinaryIO, size: int, file_name: str) -> tuple[float, bool]:
    """Segment Info's Duration × TimestampScale when the muxer wrote it (ffmpeg, mkvmerge, most editors);
    otherwise (live recorders such as a browser's MediaRecorder) the last cluster's last block time, estimated."""
    fileobj.seek(0)
    head = fileobj.read(min(size, HEAD_WINDOW))
    try:
        element_id, ebml_size, pos = _element(head, 0)
        if element_id != EBML:
            raise ValueError("no EBML header")
        pos += ebml_size
        element_id, _, pos = _element(head, pos)
        if element_id != SEGMENT:
            raise ValueError("no Segment")
    except (IndexError, ValueError):
        raise ScribefleetError(ErrorCode.UNSUPPORTED_MEDIA, f"{file_name!r} has a damaged Matroska/WebM header") from None
    scale, duration, has_audio = 1_000_000, None, None
    while pos < len(head):
        try:
            element_id, element_size, start = _element(head, pos)
        except (IndexError, ValueError):
            break
        if element_id == CLUSTER or element_size == UNKNOWN_SIZE:
            break  # media data begins: the headers we look for come before it
        payload = head[start : start + element_size]
        if element_id == INFO:
            for child_id, child in _children(payload):
                if child_id == TIMESTAMP_SCALE:
                    scale = _uint(child) or scale
                elif child_id == DURATION and len(child) in (4, 8):
                    duration = struct.unpack(">f" if len(child) == 4 else ">d", child)[0]
        elif element_id == TRACKS:
            types = [_uint(value) for entry_id, entry in _children(payload) if entry_id == TRACK_ENTRY
                     for child_id, value in _children(entry) if child_id == TRACK_TYPE]
            has_audio = TRACK_TYPE_AUDIO in types
        pos = start + element_size
    if has_audio is False:
        raise ScribefleetError(ErrorCode.NO_AUDIO, f"{file_name!r} has no audio track")
    if duration is not None and duration > 0:
        return duration * scale / 1e9, False
    last = _last_block_time(fileobj, size)
    if last is None:
        raise ScribefleetError(ErrorCode.NO_AUDIO, f"{file_name!r} contains no audio we can find")
    return last * scale / 1e9, True


def _children(payload: bytes):
    pos = 0
    while pos < len(payload):
        try:
            element_id, element_size, start = _element(payload, pos)
        except (IndexError, ValueError):
            return
        if element_size == UNKNOWN_SIZE:
            return
        yield element_id, payload[start : start + element_size]
        pos = start + element_size


def _last_block_time(fileobj: BinaryIO, size: int) -> int | None:
    """Timestamp (in TimestampScale units) of the last block of the last cluster found in the file's tail."""
    start = max(0, size - TAIL_WINDOW)
    fileobj.seek(start)
    tail = fileobj.read(size - start)
    marker = CLUSTER.to_bytes(4, "big")
    found = tail.rfind(marker)
    while found >= 0:
        latest = _cluster_end_time(tail, found)
        if latest is not None:
            return latest
        found = tail.rfind(marker, 0, found)
    return None


def _cluster_end_time(data: bytes, pos: int) -> int | None:
    try:
        _, cluster_size, pos = _element(data, pos)
    except (IndexError, ValueError):
        return None
    end = len(data) if cluster_size == UNKNOWN_SIZE else min(len(data), pos + cluster_size)
    base, latest = None, 0
    while pos < end:
        try:
            element_id, element_size, start = _element(data, pos)
        except (IndexError, ValueError):
            break
        if element_size == UNKNOWN_SIZE or element_id == CLUSTER:
            break
        if element_id == CLUSTER_TIMESTAMP:
            base = _uint(data[start : start + element_size])
        elif element_id in (SIMPLE_BLOCK, BLOCK_GROUP):
            block = data[start : start + element_size]
            if element_id == BLOCK_GROUP:
                block = next((child for child_id, child in _children(block) if child_id == BLOCK), b"")
            try:
                _, after_track = _vint(block, 0, keep_marker=False)
                latest = max(latest, struct.unpack(">h", block[after_track : after_track + 2])[0])
            except (IndexError, ValueError, struct.error):
                pass
        pos = start + element_size
    return None if base is None else base + latest


# --- MPEG audio (MP3) without a frame count, ADTS (raw AAC) ---------------------------------------------------------------------
_MPEG_BITRATES = {  # kbit/s by (MPEG-1?, layer), index 1..14
    (True, 1): [32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
    (True, 2): [32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
    (True, 3): [32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
    (False, 1): [32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
    (False, 2): [8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
}
_MPEG_RATES = {3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000]}
MPEG_SAMPLE_WINDOW = 256 * 1024  # per sampled stretch; the S3 reader fetches blocks of this size


def _mpeg_frame(data: bytes, pos: int) -> tuple[int, int, int] | None:
    """(frame bytes, samples, sample rate) of a valid MPEG audio frame header at `pos`, else None."""
    if pos + 4 > len(data) or data[pos] != 0xFF or data[pos + 1] & 0xE0 != 0xE0:
        return None
    version, layer_bits = (data[pos + 1] >> 3) & 3, (data[pos + 1] >> 1) & 3
    bitrate_index, rate_index, padding = data[pos + 2] >> 4, (data[pos + 2] >> 2) & 3, (data[pos + 2] >> 1) & 1
    if version == 1 or layer_bits == 0 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    layer, mpeg1 = 4 - layer_bits, version == 3
    bitrate = _MPEG_BITRATES[(mpeg1, layer if mpeg1 or layer == 1 else 2)][bitrate_index - 1] * 1000
    rate = _MPEG_RATES[version][rate_index]
    if layer == 1:
        return (12 * bitrate // rate + padding) * 4, 384, rate
    samples = 1152 if layer == 2 or mpeg1 else 576
    return samples // 8 * bitrate // rate + padding, samples, rate


def _adts_frame(data: bytes, pos: int) -> tuple[int, int, int] | None:
    """(frame bytes, samples, sample rate) of a valid ADTS (AAC) frame header at `pos`, else None."""
    if pos + 7 > len(data) or data[pos] != 0xFF or data[pos + 1] & 0xF6 != 0xF0:
        return None
    rate_index = (data[pos + 2] >> 2) & 0xF
    length = ((data[pos + 3] & 3) << 11) | (data[pos + 4] << 3) | (data[pos + 5] >> 5)
    if rate_index >= len(_ADTS_RATES) or length < 7:
        return None
    return length, 1024 * ((data[pos + 6] & 3) + 1), _ADTS_RATES[rate_index]


_ADTS_RATES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350]


def mpeg_duration_estimate(fileobj: BinaryIO, size: int) -> float | None:
    return _frames_estimate(fileobj, size, _mpeg_frame)


def adts_duration_estimate(fileobj: BinaryIO, size: int) -> float | None:
    return _frames_estimate(fileobj, size, _adts_frame)


def _frames_estimate(fileobj: BinaryIO, size: int, parse_frame) -> float | None:
    """Seconds implied by the mean frame size of consecutive frames sampled at the start and in the middle of the
    file: a VBR stream without a frame count in its header has no other source short of reading every frame."""
    frame_bytes = frame_seconds = 0.0
    audio_start = None
    for offset in (0, max(0, size // 2 - MPEG_SAMPLE_WINDOW // 2)):
        fileobj.seek(offset)
        data = fileobj.read(MPEG_SAMPLE_WINDOW)
        pos = 0
        if offset == 0 and data[:3] == b"ID3" and len(data) >= 10:  # skip the ID3v2 tag (synchsafe size)
            pos = 10 + sum((data[6 + i] & 0x7F) << (7 * (3 - i)) for i in range(4))
        pos = _sync(data, pos, parse_frame)
        if pos is None:
            continue
        if offset == 0:
            audio_start = pos
        while (frame := parse_frame(data, pos)) and pos + frame[0] <= len(data):
            frame_bytes += frame[0]
            frame_seconds += frame[1] / frame[2]
            pos += frame[0]
    if audio_start is None or frame_bytes == 0:
        return None
    return (size - audio_start) * frame_seconds / frame_bytes


def _sync(data: bytes, pos: int, parse_frame) -> int | None:
    """First position from `pos` where three frames follow each other (one sync word alone is often chance)."""
    while (pos := data.find(b"\xff", pos)) >= 0:
        chained, at = 0, pos
        while chained < 3 and (frame := parse_frame(data, at)):
            chained, at = chained + 1, at + frame[0]
        if chained == 3:
            return pos
        pos += 1
    return None
