"""Decoding: every supported container, and hostile inputs ending in a specific error with a readable reason."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from gpu_worker import media
from gpu_worker.media import SAMPLE_RATE, decode_audio
from scribefleet.contract import ErrorCode, ScribefleetError
from tests.support.speech import have_espeak, synthesize

pytestmark = pytest.mark.skipif(not (have_espeak() and shutil.which("ffmpeg")), reason="needs espeak-ng and ffmpeg")

SPEECH_SECONDS = 2.0


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory) -> Path:
    """One source (espeak speech then a 440 Hz sine) encoded into every container we claim to read."""
    root = tmp_path_factory.mktemp("media")
    speech = synthesize("Testing the decoder with a short sentence.", "en-us")[: int(SPEECH_SECONDS * SAMPLE_RATE)]
    speech = np.pad(speech, (0, int(SPEECH_SECONDS * SAMPLE_RATE) - len(speech)))
    sine = 0.3 * np.sin(2 * np.pi * 440 * np.arange(SAMPLE_RATE) / SAMPLE_RATE)
    (root / "source.s16").write_bytes((np.concatenate([speech, sine]) * 32767).astype("<i2").tobytes())
    source = ["-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "1", "-i", str(root / "source.s16")]
    # 44.1 kHz stereo for the audio formats, so resampling and downmixing are exercised too.
    stereo = ["-ar", "44100", "-ac", "2"]
    ffmpeg(*source, *stereo, str(root / "clip.wav"))
    ffmpeg(*source, *stereo, "-c:a", "libmp3lame", str(root / "clip.mp3"))
    ffmpeg(*source, *stereo, "-c:a", "aac", str(root / "clip.m4a"))
    ffmpeg(*source, *stereo, "-c:a", "flac", str(root / "clip.flac"))
    ffmpeg(*source, *stereo, "-c:a", "libvorbis", str(root / "clip.ogg"))
    ffmpeg(*source, "-ar", "48000", "-c:a", "libopus", str(root / "clip.opus"))
    video = ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", *source, "-shortest", "-c:v", "libx264"]
    ffmpeg(*video, "-c:a", "aac", str(root / "clip.mp4"))
    ffmpeg(*video, "-c:a", "aac", str(root / "clip.mov"))
    ffmpeg(*video, "-c:a", "libopus", str(root / "clip.mkv"))
    # Hostile and broken inputs.
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-t", "2", "-c:v", "libx264", str(root / "no_audio.mp4"))
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "0", str(root / "zero_seconds.wav"))
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "3", str(root / "silent.wav"))
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48", "-frames:v", "1", str(root / "image.png"))
    shutil.copy(root / "image.png", root / "image_renamed.mp3")
    (root / "text_renamed.mp3").write_text("This is not audio, just some text in a file called .mp3\n" * 20)
    (root / "empty.wav").write_bytes(b"")
    mp3 = (root / "clip.mp3").read_bytes()
    (root / "truncated_header.mp3").write_bytes(mp3[:300])
    (root / "truncated_half.mp3").write_bytes(mp3[: len(mp3) // 2])
    wav = (root / "clip.wav").read_bytes()
    (root / "corrupt_header.wav").write_bytes(b"\x00" * 64 + wav[64:])
    return root


@pytest.mark.parametrize("name", ["clip.wav", "clip.mp3", "clip.m4a", "clip.flac", "clip.ogg", "clip.opus",
                                  "clip.mp4", "clip.mov", "clip.mkv"])
def test_decodes_audio_and_video_to_16k_mono_float32(media_dir, name):
    audio = decode_audio(media_dir / name)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert len(audio) / SAMPLE_RATE == pytest.approx(SPEECH_SECONDS + 1.0, abs=0.15)  # codec padding only
    # The sine second is still a 440 Hz tone at 16 kHz: resampling was right.
    tone = audio[-int(0.8 * SAMPLE_RATE) : -int(0.1 * SAMPLE_RATE)]
    spectrum = np.abs(np.fft.rfft(tone * np.hanning(len(tone))))
    assert np.fft.rfftfreq(len(tone), 1 / SAMPLE_RATE)[spectrum.argmax()] == pytest.approx(440, abs=5)
    assert np.abs(audio[: int(SPEECH_SECONDS * SAMPLE_RATE)]).max() > 0.05  # speech survived


def test_samples_match_faster_whisper_decoder(media_dir):
    """Same samples as bare faster-whisper, so the benchmark compares like with like."""
    from faster_whisper.audio import decode_audio as fw_decode

    for name in ("clip.wav", "clip.mp3"):
        ours, theirs = decode_audio(media_dir / name), fw_decode(str(media_dir / name))
        assert len(ours) == len(theirs)
        assert np.max(np.abs(ours - theirs)) < 1e-3


@pytest.mark.parametrize(
    "name, code, reason",
    [
        ("text_renamed.mp3", ErrorCode.BAD_INPUT, "not audio or video we can read"),
        ("truncated_header.mp3", ErrorCode.BAD_INPUT, "not audio or video we can read"),
        ("corrupt_header.wav", ErrorCode.BAD_INPUT, "not audio or video we can read"),
        ("image_renamed.mp3", ErrorCode.NO_AUDIO, "no audio track"),
        ("no_audio.mp4", ErrorCode.NO_AUDIO, "no audio track (found: video)"),
        ("zero_seconds.wav", ErrorCode.NO_AUDIO, "empty (0 s)"),
        ("empty.wav", ErrorCode.NO_AUDIO, "empty (0 bytes)"),
        ("silent.wav", ErrorCode.NO_AUDIO, "silent"),
        ("missing.wav", ErrorCode.BAD_INPUT, "does not exist"),
    ],
)
def test_hostile_inputs_fail_with_code_and_reason(media_dir, name, code, reason):
    with pytest.raises(ScribefleetError) as caught:
        decode_audio(media_dir / name)
    assert caught.value.code == code
    assert reason in caught.value.message
    assert str(media_dir) not in caught.value.message  # reasons are for users: no server paths


def test_truncated_file_keeps_the_audio_before_the_damage(media_dir):
    whole, half = decode_audio(media_dir / "clip.mp3"), decode_audio(media_dir / "truncated_half.mp3")
    assert 0.3 * len(whole) < len(half) < 0.7 * len(whole)
    assert np.max(np.abs(half - whole[: len(half)])) < 1e-3


def test_length_is_bounded_while_decoding(media_dir):
    with pytest.raises(ScribefleetError) as caught:
        decode_audio(media_dir / "clip.wav", max_seconds=1.0)
    assert caught.value.code == ErrorCode.AUDIO_TOO_LONG


def test_decode_time_is_bounded(media_dir):
    with pytest.raises(ScribefleetError) as caught:
        decode_audio(media_dir / "clip.mp4", timeout=0.01)
    assert caught.value.code == ErrorCode.BAD_INPUT and "longer than" in caught.value.message


def test_decoder_memory_is_bounded(media_dir):
    """An address-space cap too small for FFmpeg fails the file, not the worker."""
    with pytest.raises(ScribefleetError) as caught:
        decode_audio(media_dir / "clip.wav", memory_bytes=64 << 20)
    assert caught.value.code == ErrorCode.BAD_INPUT


def test_a_crashing_decoder_is_a_bad_input_not_a_dead_worker():
    assert media._status(-11, b"", b"Segmentation fault") == {"code": "BadInput", "message": "the decoder crashed on this file (signal 11)"}


def test_each_file_gets_a_fresh_decoder_started_ahead_of_time(media_dir):
    media.prewarm()
    first = media._spare[1]
    decode_audio(media_dir / "clip.wav")
    assert first.wait(timeout=5) == 0  # it decoded this file and exited: nothing carries over to the next file
    second = media._spare[1]
    assert second.pid != first.pid and second.poll() is None  # the next one is already waiting
