"""What a non-media upload is, said from its first bytes: real files of each kind, and no false alarm on media."""
from __future__ import annotations

import gzip
import io
import shutil
import sqlite3
import subprocess
import zipfile
from pathlib import Path

import pytest

from scribefleet.filetype import SNIFF_BYTES, describe_non_media, not_media_reason


def ffmpeg(out: Path, *args: str) -> bytes:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args, str(out)], check=True)
    return out.read_bytes()


def docx_bytes() -> bytes:
    import docx

    buffer = io.BytesIO()
    document = docx.Document()
    document.add_paragraph("Interview notes")
    document.save(buffer)
    return buffer.getvalue()


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("take1.txt", "not audio")
    return buffer.getvalue()


def sqlite_bytes(tmp: Path) -> bytes:
    with sqlite3.connect(tmp / "db.sqlite") as db:
        db.execute("create table t (x)")
    return (tmp / "db.sqlite").read_bytes()


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, bytes]:
    root = tmp_path_factory.mktemp("non-media")
    picture = ["-f", "lavfi", "-i", "testsrc=size=64x48", "-frames:v", "1"]
    return {
        "png": ffmpeg(root / "i.png", *picture),
        "jpeg": ffmpeg(root / "i.jpg", *picture),
        "gif": ffmpeg(root / "i.gif", *picture),
        "tiff": ffmpeg(root / "i.tiff", *picture),
        "webp": ffmpeg(root / "i.webp", *picture) if _encoder("libwebp") else b"RIFF\x24\x00\x00\x00WEBPVP8 ",
        "pdf": b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
        "docx": docx_bytes(),
        "zip": zip_bytes(),
        "gzip": gzip.compress(b"x" * 100),
        "html": b"\n  <!DOCTYPE html>\n<html><body>Recording</body></html>\n",
        "text": "Interview with Ann, 12 May. Questions:\n1. Où étiez-vous ?\n".encode() * 40,
        "subtitles": b"1\n00:00:01,000 --> 00:00:02,000\nHello\n\n" * 30,
        "json": b'{"transcript": "none yet"}\n',
        "sqlite": sqlite_bytes(root),
        "program": Path(shutil.which("ls")).read_bytes()[:SNIFF_BYTES],
    }


def _encoder(name: str) -> bool:
    listing = subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
    return f" {name} " in listing


NON_MEDIA = [
    ("png", "a PNG image"),
    ("jpeg", "a JPEG image"),
    ("gif", "a GIF image"),
    ("tiff", "a TIFF image"),
    ("webp", "a WebP image"),
    ("pdf", "a PDF document"),
    ("docx", "a Word document (.docx)"),
    ("zip", "a ZIP archive"),
    ("gzip", "a gzip-compressed file"),
    ("html", "an HTML page"),
    ("text", "a text file"),
    ("subtitles", "a text file"),
    ("json", "a text file (JSON)"),
    ("sqlite", "an SQLite database"),
    ("program", "a program (ELF executable)"),
]


@pytest.mark.bad_input
@pytest.mark.parametrize(("kind", "description"), NON_MEDIA, ids=[k for k, _ in NON_MEDIA])
def test_common_non_media_files_are_named(files, kind, description):
    head = files[kind][:SNIFF_BYTES]
    assert describe_non_media(head) == description
    assert not_media_reason("take 1.wav", head) == f"'take 1.wav' is {description}, not audio or video"


MEDIA = [
    ("a.wav", []), ("a.mp3", []), ("a.flac", []), ("a.m4a", ["-c:a", "aac"]), ("a.aac", ["-c:a", "aac"]),
    ("a.ogg", ["-c:a", "libvorbis"]), ("a.opus", []), ("a.webm", ["-c:a", "libopus"]), ("a.mkv", []),
    ("a.mp4", []), ("a.mov", []), ("a.avi", []),
]


@pytest.mark.parametrize(("name", "args"), MEDIA, ids=[n for n, _ in MEDIA])
def test_audio_and_video_are_never_mistaken_for_something_else(tmp_path, name, args):
    body = ffmpeg(tmp_path / name, "-f", "lavfi", "-i", "sine=frequency=300:duration=1", *args)
    assert describe_non_media(body[:SNIFF_BYTES]) is None


def test_an_unknown_file_is_told_what_we_accept():
    reason = not_media_reason("x.wav", bytes(range(256)) * 4)
    assert reason.startswith("'x.wav' is not a readable audio or video file (expected WAV, MP3")
