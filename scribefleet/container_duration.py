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
# AMR storage format (RFC 4867, section 5): a magic line, then frames of 20 ms, each a header byte whose frame type
# (bits 3-6) fixes the frame's size in bytes, header included. Phones' voice memos; mutagen has no reader for it.
AMR_FRAME_BYTES = {
    b"#!AMR\n": (13, 14, 16, 18, 20, 21, 27, 32, 6) + (1,) * 7,  # AMR-NB: modes 4.75-12.2 kbit/s, SID; 15 = no data
    b"#!AMR-WB\n": (18, 24, 33, 37, 41, 47, 51, 59, 61, 6) + (1,) * 6,  # AMR-WB: modes 6.6-23.85 kbit/s, SID
}
AMR_FRAME_SECONDS = 0.02
AMR_WALK_BYTES = 64 << 20  # walk every frame up to this size (an hour at 12.2 kbit/s is 5.8 MB); estimate beyond


def header_duration(fileobj: BinaryIO, size: int, file_name: str) -> tuple[float, str, bool]:
    """(seconds, container, estimated?) from container headers; raises UnsupportedMedia / NoAudio with a reason
    that says what the file is when it is not media (never a parser's exception text)."""
    fileobj.seek(0)
    head = fileobj.read(SNIFF_BYTES)
    fileobj.seek(0)
    for magic, frame_bytes in AMR_FRAME_BYTES.items():
        if head.startswith(magic):
            seconds, estimated = amr_duration(fileobj, size, len(magic), frame_bytes)
            return _positive(seconds, file_name), "amr", estimated
    if head[:4] == EBML_MAGIC:
        seconds, estimated = matroska_duration(fileobj, size, file_name)
        return _positive(seconds, file_name), "matroska", estimated
    if describe_non_media(head):
        raise ScribefleetError(ErrorCode.UNSUPPORTED_MEDIA, not_media_reason(file_name, head))
    if head[4:8] == b"ftyp":
        fragmented = fragmented_mp4_duration(fileobj, size, file_name)
        if fragmented is not None:
            return _positive(fragmented[0], file_name), "mp4 (fragmented)", fragmented[1]
        fileobj.seek(0)
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


# --- fragmented MP4 (ISO BMFF with moov/mvex: OBS "fragmented MP4", browsers' MediaRecorder, live muxers) ---------
# Box layouts from ISO/IEC 14496-12. mutagen walks every top-level moof of such a file (one ranged S3 read each: an
# hour of video is thousands) and then reports 0 s, since the moov's tracks hold no samples.
TFHD_DEFAULT_DURATION, TRUN_DATA_OFFSET, TRUN_FIRST_FLAGS = 0x08, 0x01, 0x04
TRUN_SAMPLE_FIELDS = (0x100, 0x200, 0x400, 0x800)  # duration, size, flags, composition offset: 4 bytes each
FRAGMENT_TAIL_WINDOWS = (512 * 1024, 8 * 1024 * 1024)  # where the last moof is looked for; video fragments are large


def _boxes(data: bytes, start: int = 0, end: int | None = None):
    """(type, payload start, payload end) of each box in data[start:end]; stops at a box that runs past the data."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        box_size, box_type = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if box_size == 1:
            if pos + 16 > end:
                return
            box_size, header = struct.unpack(">Q", data[pos + 8 : pos + 16])[0], 16
        elif box_size == 0:
            box_size = end - pos
        if box_size < header or pos + box_size > end:
            return
        yield box_type, pos + header, pos + box_size
        pos += box_size


def _child(data: bytes, start: int, end: int, *path: bytes) -> tuple[int, int] | None:
    """Payload span of the first box at `path` below data[start:end]."""
    for name in path:
        found = next(((a, b) for kind, a, b in _boxes(data, start, end) if kind == name), None)
        if found is None:
            return None
        start, end = found
    return start, end


def _versioned(data: bytes, start: int, offset_v0: int, offset_v1: int, wide: bool) -> int:
    """A field after a full box's version/flags: at offset_v0 (version 0) or offset_v1 (version 1), 32 bits, or 64
    bits in version 1 when `wide`."""
    if data[start] == 1:
        return struct.unpack(">Q" if wide else ">I", data[start + offset_v1 : start + offset_v1 + (8 if wide else 4)])[0]
    return struct.unpack(">I", data[start + offset_v0 : start + offset_v0 + 4])[0]


def fragmented_mp4_duration(fileobj: BinaryIO, size: int, file_name: str) -> tuple[float, bool] | None:
    """(seconds, estimated?) of a fragmented MP4, None for any other ISO BMFF file (mutagen reads those exactly).
    The movie extends header's fragment duration when the muxer wrote one; otherwise the end time of the audio
    track's last fragment found in the file's tail (its decode time plus its samples' durations), estimated."""
    head = _through_moov(fileobj, size)
    moov = _child(head, 0, len(head), b"moov") if head else None
    if moov is None or _child(head, *moov, b"mvex") is None:
        return None
    try:
        mvhd, mehd = _child(head, *moov, b"mvhd"), _child(head, *moov, b"mvex", b"mehd")
        if mvhd and mehd:
            movie_scale, fragment_duration = _versioned(head, mvhd[0], 12, 20, False), _versioned(head, mehd[0], 4, 4, True)
            if movie_scale and fragment_duration:
                return fragment_duration / movie_scale, False
        audio = None
        for kind, a, b in _boxes(head, *moov):
            hdlr, mdhd, tkhd = (_child(head, a, b, *path) for path in ((b"mdia", b"hdlr"), (b"mdia", b"mdhd"), (b"tkhd",)))
            if kind == b"trak" and hdlr and mdhd and tkhd and head[hdlr[0] + 8 : hdlr[0] + 12] == b"soun":
                audio = (_versioned(head, tkhd[0], 12, 20, False), _versioned(head, mdhd[0], 12, 20, False))
                break
        if audio is None:
            raise ScribefleetError(ErrorCode.NO_AUDIO, f"{file_name!r} has no audio track")
        track, scale = audio
        trex_default = next((struct.unpack(">I", head[a + 12 : a + 16])[0] for kind, a, b in _boxes(head, *_child(head, *moov, b"mvex"))
                             if kind == b"trex" and struct.unpack(">I", head[a + 4 : a + 8])[0] == track), 0)
        indexed = _indexed_last_fragment(fileobj, size, track)
        if indexed is not None:
            end = _last_fragment_end(indexed, track, trex_default)
            if end is not None and scale:
                return end / scale, True
        for window in FRAGMENT_TAIL_WINDOWS:
            start = max(0, size - window)
            fileobj.seek(start)
            tail = fileobj.read(size - start)
            end = _last_fragment_end(tail, track, trex_default)
            if end is not None and scale:
                return end / scale, True
            if start == 0:
                break
        if mvhd and _versioned(head, mvhd[0], 16, 24, True):
            return None  # no fragment in the tail, but the moov itself holds timed samples: mutagen reads those
    except (struct.error, IndexError):
        raise ScribefleetError(ErrorCode.UNSUPPORTED_MEDIA, f"{file_name!r} has a damaged MP4 fragment header") from None
    raise ScribefleetError(ErrorCode.NO_AUDIO, f"{file_name!r} contains no audio fragments we can find")


def _through_moov(fileobj: BinaryIO, size: int) -> bytes | None:
    """The file's bytes from its start to the end of its moov, when the moov comes before any media data (as in every
    fragmented file) and within HEAD_WINDOW; walks top-level box headers, so only the bytes needed are read."""
    pos = 0
    while pos + 8 <= min(size, HEAD_WINDOW):
        fileobj.seek(pos)
        header = fileobj.read(16)
        box_size, box_type = struct.unpack(">I4s", header[:8])
        if box_size == 1 and len(header) == 16:
            box_size = struct.unpack(">Q", header[8:16])[0]
        if box_size < 8 or box_type in (b"mdat", b"moof"):
            return None
        if box_type == b"moov":
            if pos + box_size > min(size, HEAD_WINDOW):
                return None
            fileobj.seek(0)
            return fileobj.read(pos + box_size)
        pos += box_size
    return None


def _indexed_last_fragment(fileobj: BinaryIO, size: int, track: int) -> bytes | None:
    """The track's last moof, found through the random access index (mfra) a muxer may append (ffmpeg does): its last
    mfro box gives the mfra's size, whose tfra lists each fragment's moof offset. None without one."""
    if size < 16:
        return None
    fileobj.seek(size - 16)
    mfro = fileobj.read(16)
    if mfro[4:8] != b"mfro":
        return None
    mfra_size = struct.unpack(">I", mfro[12:16])[0]
    if not 16 <= mfra_size <= min(size, 1 << 20):
        return None
    fileobj.seek(size - mfra_size)
    mfra = fileobj.read(mfra_size)
    offsets = []
    for kind, a, b in _boxes(mfra, 8, len(mfra)):
        if kind != b"tfra" or struct.unpack(">I", mfra[a + 4 : a + 8])[0] != track:
            continue
        wide, sizes = mfra[a] == 1, struct.unpack(">I", mfra[a + 8 : a + 12])[0]
        entry = (16 if wide else 8) + sum(((sizes >> shift) & 3) + 1 for shift in (4, 2, 0))
        count = struct.unpack(">I", mfra[a + 12 : a + 16])[0]
        if count and a + 16 + count * entry <= b:
            last = a + 16 + (count - 1) * entry + (8 if wide else 4)
            offsets.append(struct.unpack(">Q" if wide else ">I", mfra[last : last + (8 if wide else 4)])[0])
    if not offsets or not 0 <= offsets[0] < size - 8:
        return None
    fileobj.seek(offsets[0])
    header = fileobj.read(8)
    moof_size = struct.unpack(">I", header[:4])[0]
    if header[4:8] != b"moof" or not 8 <= moof_size <= min(size - offsets[0], 16 << 20):
        return None
    fileobj.seek(offsets[0])
    return fileobj.read(moof_size)


def _last_fragment_end(tail: bytes, track: int, trex_default: int) -> int | None:
    """End time (track timescale) of the last moof in `tail` that holds a fragment of `track` with a decode time."""
    found = tail.rfind(b"moof")
    while found >= 4:
        box_size = struct.unpack(">I", tail[found - 4 : found])[0]
        moof = (found + 4, found - 4 + box_size)
        if box_size >= 8 and moof[1] <= len(tail):
            for kind, a, b in _boxes(tail, *moof):
                if kind != b"traf":
                    continue
                tfhd, tfdt = _child(tail, a, b, b"tfhd"), _child(tail, a, b, b"tfdt")
                if not tfhd or not tfdt or struct.unpack(">I", tail[tfhd[0] + 4 : tfhd[0] + 8])[0] != track:
                    continue
                tfhd_flags = int.from_bytes(tail[tfhd[0] + 1 : tfhd[0] + 4], "big")
                default = trex_default
                if tfhd_flags & TFHD_DEFAULT_DURATION:  # after track id, base data offset (8) and description index (4)
                    at = tfhd[0] + 8 + (8 if tfhd_flags & 0x01 else 0) + (4 if tfhd_flags & 0x02 else 0)
                    default = struct.unpack(">I", tail[at : at + 4])[0]
                total = sum(_trun_duration(tail, c, default) for kind2, c, _ in _boxes(tail, a, b) if kind2 == b"trun")
                return _versioned(tail, tfdt[0], 4, 4, True) + total
        found = tail.rfind(b"moof", 0, found)
    return None


def _trun_duration(data: bytes, start: int, default: int) -> int:
    flags = int.from_bytes(data[start + 1 : start + 4], "big")
    count = struct.unpack(">I", data[start + 4 : start + 8])[0]
    if not flags & TRUN_SAMPLE_FIELDS[0]:
        return count * default
    pos = start + 8 + (4 if flags & TRUN_DATA_OFFSET else 0) + (4 if flags & TRUN_FIRST_FLAGS else 0)
    stride = 4 * sum(1 for field in TRUN_SAMPLE_FIELDS if flags & field)
    return sum(struct.unpack(">I", data[pos + i * stride : pos + i * stride + 4])[0] for i in range(count))


def amr_duration(fileobj: BinaryIO, size: int, start: int, frame_bytes: tuple[int, ...]) -> tuple[float, bool]:
    """(seconds, estimated?) of an AMR file: every frame counted, or for a file past AMR_WALK_BYTES the bytes after
    the magic line divided by the first frame's size (a phone records at one mode)."""
    fileobj.seek(start)
    if size > AMR_WALK_BYTES:
        first = fileobj.read(1)
        return (size - start) / frame_bytes[(first[0] >> 3) & 0x0F] * AMR_FRAME_SECONDS if first else 0.0, True
    data, frames, at = fileobj.read(size - start), 0, 0
    while at < len(data):
        at += frame_bytes[(data[at] >> 3) & 0x0F]
        frames += 1
    return frames * AMR_FRAME_SECONDS, False


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
