"""Say what an upload is when it is not audio or video, from its first bytes, so a rejection reads
"'photo.wav' is a PNG image, not audio or video" instead of whatever a parser's exception said.

Used by the probe (before any container parser runs) and by the worker's decoder (when FFmpeg cannot open a file).
Only formats people actually upload by mistake are listed; an unknown file gets the list of what we accept.
"""
from __future__ import annotations

SNIFF_BYTES = 4096  # enough for every signature below and for a ZIP's first member names

ACCEPTED = "WAV, MP3, M4A/AAC, FLAC, Ogg Vorbis, Opus, AMR, WebM, MKV, MP4 or MOV"

# (offset, signature, description): checked in order, the first match wins.
_SIGNATURES: list[tuple[int, bytes, str]] = [
    (0, b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (0, b"\xff\xd8\xff", "a JPEG image"),
    (0, b"GIF87a", "a GIF image"),
    (0, b"GIF89a", "a GIF image"),
    (0, b"%PDF-", "a PDF document"),
    (0, b"II*\x00", "a TIFF image"),
    (0, b"MM\x00*", "a TIFF image"),
    (0, b"8BPS", "a Photoshop image"),
    (0, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an older Microsoft Office document (.doc, .xls or .ppt)"),
    (0, b"{\\rtf", "an RTF document"),
    (0, b"Rar!\x1a\x07", "a RAR archive"),
    (0, b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (0, b"\x1f\x8b", "a gzip-compressed file"),
    (0, b"BZh", "a bzip2-compressed file"),
    (0, b"\xfd7zXZ\x00", "an xz-compressed file"),
    (0, b"\x7fELF", "a program (ELF executable)"),
    (0, b"MZ", "a Windows program"),
    (0, b"SQLite format 3\x00", "an SQLite database"),
    (0, b"MThd", "a MIDI file (notes, not recorded sound)"),
    (0, b"wOFF", "a web font"),
    (0, b"wOF2", "a web font"),
]
_RIFF_KINDS = {b"WEBP": "a WebP image", b"AVI ": None, b"WAVE": None}  # None: media, for the decoder to judge
_IMAGE_BRANDS = {b"heic", b"heix", b"mif1", b"msf1", b"avif", b"avis"}
_TEXT_KINDS = [
    (b"<!doctype html", "an HTML page"),
    (b"<html", "an HTML page"),
    (b"<?xml", "an XML document"),
    (b"<svg", "an SVG image"),
    (b"{", "a text file (JSON)"),
    (b"[", "a text file (JSON)"),
]


def describe_non_media(head: bytes) -> str | None:
    """What the file starting with `head` is, when its signature says it is not audio or video; None otherwise
    (audio, video, or a file we do not recognise: the container parsers decide)."""
    for offset, signature, description in _SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return description
    if head[:4] == b"PK\x03\x04":
        return _zip_kind(head)
    if head[:4] == b"RIFF" and head[8:12] in _RIFF_KINDS:
        return _RIFF_KINDS[head[8:12]]
    if head[4:8] == b"ftyp" and head[8:12] in _IMAGE_BRANDS:
        return "a HEIC/AVIF image"
    return _text_kind(head)


def _zip_kind(head: bytes) -> str:
    # An Office Open XML file is a ZIP whose first members name its kind ([Content_Types].xml, word/…, xl/…).
    for marker, description in ((b"word/", "a Word document (.docx)"), (b"xl/", "an Excel workbook (.xlsx)"),
                                (b"ppt/", "a PowerPoint presentation (.pptx)"), (b"mimetypeapplication/epub", "an e-book (EPUB)"),
                                (b"mimetypeapplication/vnd.oasis", "an OpenDocument file")):
        if marker in head:
            return description
    return "a ZIP archive"


def _text_kind(head: bytes) -> str | None:
    if not head or b"\x00" in head:
        return None
    sample = head.removeprefix(b"\xef\xbb\xbf")
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as error:  # a cut in the middle of a character at the end of the sample is still text
        if error.start < len(sample) - 3:
            return None
        text = sample[: error.start].decode("utf-8")
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    if not text or printable < 0.95 * len(text):
        return None
    lowered = text.lstrip().lower().encode()
    for prefix, description in _TEXT_KINDS:
        if lowered.startswith(prefix):
            return description
    return "a text file"


def not_media_reason(file_name: str, head: bytes) -> str:
    """The reason a user reads when `file_name` cannot be read as audio or video."""
    what = describe_non_media(head)
    if what:
        return f"{file_name!r} is {what}, not audio or video"
    return f"{file_name!r} is not a readable audio or video file (expected {ACCEPTED})"
