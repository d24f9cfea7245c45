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
from scribefleet_tools.samples import have_espeak, synthesize

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
    (root / "damaged_tail.mp3").write_bytes(mp3[: len(mp3) * 9 // 10])
    wav = (root / "clip.wav").read_bytes()
    (root / "corrupt_header.wav").write_bytes(b"\x00" * 64 + wav[64:])
    # Interrupted uploads of a 31 s recording: the header still states the whole length.
    long_sine = ["-f", "lavfi", "-i", "sine=frequency=300:duration=31"]
    for name, args in TRUNCATED:
        ffmpeg(*long_sine, *args, str(root / f"whole_{name}"))
        whole = (root / f"whole_{name}").read_bytes()
        (root / f"cut_{name}").write_bytes(whole[: max(12_000, len(whole) // 3)])
    # A video whose audio track stops after 3 s of 20: short audio, not a cut-off file.
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=20", "-f", "lavfi", "-i", "sine=frequency=300:duration=3",
           "-c:v", "libx264", "-c:a", "aac", str(root / "short_audio_long_video.mp4"))
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=20", "-f", "lavfi", "-i", "sine=frequency=300:duration=3",
           "-c:v", "libx264", "-c:a", "libopus", str(root / "short_audio_long_video.mkv"))
    return root


# Containers whose header states the length; the first 12 kB (or third) is what an interrupted upload leaves.
TRUNCATED = [("a.mp3", ["-c:a", "libmp3lame"]), ("a.wav", []), ("a.flac", []), ("a.mkv", ["-c:a", "libopus"]),
             ("a.webm", ["-c:a", "libopus"]), ("a.m4a", ["-c:a", "aac"])]


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
        ("text_renamed.mp3", ErrorCode.UNSUPPORTED_MEDIA, "the file is a text file, not audio or video"),
        ("truncated_header.mp3", ErrorCode.BAD_INPUT, "not audio or video we can read"),
        ("corrupt_header.wav", ErrorCode.BAD_INPUT, "not audio or video we can read (expected WAV, MP3"),
        ("image_renamed.mp3", ErrorCode.UNSUPPORTED_MEDIA, "the file is a PNG image, not audio or video"),
        ("no_audio.mp4", ErrorCode.NO_AUDIO, "no audio track (found: video)"),
        ("zero_seconds.wav", ErrorCode.NO_AUDIO, "empty (0 s)"),
        ("empty.wav", ErrorCode.NO_AUDIO, "empty (0 bytes)"),
        ("silent.wav", ErrorCode.NO_AUDIO, "silent"),
        ("missing.wav", ErrorCode.BAD_INPUT, "does not exist"),
    ],
)
@pytest.mark.bad_input
def test_hostile_inputs_fail_with_code_and_reason(media_dir, name, code, reason):
    with pytest.raises(ScribefleetError) as caught:
        decode_audio(media_dir / name)
    assert caught.value.code == code
    assert reason in caught.value.message
    assert str(media_dir) not in caught.value.message  # reasons are for users: no server paths
    assert not any(leak in caught.value.message for leak in ("Error", "errno", "codec", "Invalid data"))


def test_a_damaged_tail_keeps_the_audio_before_the_damage(media_dir):
    """The last tenth of a 3 s file missing (0.3 s): within the tolerance, decoded like faster-whisper would."""
    whole, cut = decode_audio(media_dir / "clip.mp3"), decode_audio(media_dir / "damaged_tail.mp3")
    assert 0.8 * len(whole) < len(cut) < len(whole)
    settled = len(cut) - 256  # the resampler's filter reaches back a few samples from where the data stops
    assert np.max(np.abs(cut[:settled] - whole[:settled])) < 1e-3


@pytest.mark.bad_input
@pytest.mark.parametrize("name", [name for name, _ in TRUNCATED])
def test_a_cut_off_upload_is_truncated_media_not_a_short_transcript(media_dir, tmp_path, name):
    assert len(decode_audio(media_dir / f"whole_{name}")) / SAMPLE_RATE == pytest.approx(31, abs=0.1)
    # The agent downloads to a file named `media`: no extension to go by.
    shutil.copy(media_dir / f"cut_{name}", tmp_path / "media")
    with pytest.raises(ScribefleetError) as caught:
        decode_audio(tmp_path / "media")
    assert caught.value.code == ErrorCode.TRUNCATED_MEDIA
    assert "looks cut off" in caught.value.message
    if name != "a.m4a":  # an MP4 cut before its index states no length at all
        assert caught.value.message.startswith("decoded 0:") and " of 0:31; the file looks cut off" in caught.value.message


def test_the_first_12_kb_of_a_31_s_mp3_reads_as_cut_off(media_dir, tmp_path):
    (tmp_path / "a.mp3").write_bytes((media_dir / "whole_a.mp3").read_bytes()[:12_000])
    with pytest.raises(ScribefleetError) as caught:
        decode_audio(tmp_path / "a.mp3")
    assert (caught.value.code, caught.value.message) == (
        ErrorCode.TRUNCATED_MEDIA, "decoded 0:01 of 0:31; the file looks cut off (an upload that did not finish?)")


@pytest.mark.parametrize("name", ["short_audio_long_video.mp4", "short_audio_long_video.mkv"])
def test_a_video_whose_audio_ends_early_is_not_cut_off(media_dir, name):
    assert len(decode_audio(media_dir / name)) / SAMPLE_RATE == pytest.approx(3.0, abs=0.1)


@pytest.mark.parametrize(
    ("stated", "decoded", "content_end", "cut"),
    [(31.0, 0.7, 0.7, True), (31.0, 29.5, 29.5, False), (31.0, 3.0, 31.0, False), (None, 0.7, 0.7, False),
     (3600.0, 3400.0, 3400.0, True), (3600.0, 3500.0, 3500.0, False), (1.0, 0.1, 0.1, False)],
)
def test_truncation_rule(stated, decoded, content_end, cut):
    """Cut off = the content (any stream) ends more than max(2 s, 5 %) before the stated length."""
    assert (media.truncation_reason(stated, decoded, content_end) is not None) is cut


@pytest.mark.bad_input
def test_length_is_bounded_while_decoding(media_dir):
    with pytest.raises(ScribefleetError) as caught:
        decode_audio(media_dir / "clip.wav", max_seconds=1.0)
    assert caught.value.code == ErrorCode.AUDIO_TOO_LONG


@pytest.mark.bad_input
def test_decode_time_is_bounded(media_dir):
    with pytest.raises(ScribefleetError) as caught:
        decode_audio(media_dir / "clip.mp4", timeout=0.01)
    assert caught.value.code == ErrorCode.BAD_INPUT and "longer than" in caught.value.message


@pytest.mark.bad_input
def test_decoder_memory_is_bounded(media_dir):
    """An address-space cap too small for FFmpeg fails the file, not the worker."""
    with pytest.raises(ScribefleetError) as caught:
        decode_audio(media_dir / "clip.wav", memory_bytes=64 << 20)
    assert caught.value.code == ErrorCode.BAD_INPUT


@pytest.mark.bad_input
def test_a_crashing_decoder_is_a_bad_input_not_a_dead_worker():
    assert media._status(-11, b"", b"Segmentation fault") == {"code": "BadInput", "message": "the decoder crashed on this file (signal 11)"}


def test_each_file_gets_a_fresh_decoder_started_ahead_of_time(media_dir):
    media.prewarm()
    first = media._spare[1]
    decode_audio(media_dir / "clip.wav")
    assert first.wait(timeout=5) == 0  # it decoded this file and exited: nothing carries over to the next file
    second = media._spare[1]
    assert second.pid != first.pid and second.poll() is None  # the next one is already waiting


def test_every_audio_track_is_heard(tmp_path):
    """A camera file with a silent scratch track before the lav, and a recorder with one person per track: the first
    track alone would say "silent" for the one and drop the second person of the other."""
    video = ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=6"]
    first = ["-f", "lavfi", "-i", "sine=frequency=300:duration=3"]  # person 1: the first 3 s
    second = ["-f", "lavfi", "-i", "sine=frequency=700:duration=6,volume=enable='lt(t,3)':volume=0"]  # person 2: the last 3 s
    silent = ["-f", "lavfi", "-i", "anullsrc=r=48000:cl=mono:duration=6"]
    ffmpeg(*video, *silent, *second, "-map", "0:v", "-map", "1:a", "-map", "2:a", "-c:v", "libx264", "-c:a", "aac",
           str(tmp_path / "scratch_then_lav.mp4"))
    ffmpeg(*video, *first, *second, "-map", "0:v", "-map", "1:a", "-map", "2:a", "-c:v", "libx264", "-c:a", "aac",
           str(tmp_path / "one_person_per_track.mov"))

    lav = decode_audio(tmp_path / "scratch_then_lav.mp4")
    assert np.abs(lav[4 * SAMPLE_RATE: 5 * SAMPLE_RATE]).max() > 0.1  # not "silent": the lav's speech is there

    both = decode_audio(tmp_path / "one_person_per_track.mov")
    loudness = [float(np.sqrt(np.mean(both[int(a * SAMPLE_RATE): int(b * SAMPLE_RATE)] ** 2))) for a, b in ((0.5, 2.5), (3.5, 5.5))]
    assert min(loudness) > 0.02, loudness  # both people, each in their own half (the mean of two tracks)


def test_tracks_are_mixed_only_when_more_than_one_is_audible():
    quiet, tone = np.zeros(100, dtype="<i2"), (np.sin(np.arange(160) / 3) * 16000).astype("<i2")
    assert np.array_equal(media.mix_tracks([quiet, tone]), tone.astype(np.float32) / 32768.0)  # never halved by silence
    assert np.allclose(media.mix_tracks([tone, tone]), tone.astype(np.float32) / 32768.0)
    assert media.mix_tracks([quiet[:10], quiet]).size == 100  # all silent: the longest, for the caller to call silent
