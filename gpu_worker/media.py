"""Decode untrusted media once to 16 kHz mono float32, in a child process bounded in time, memory and length.

The decode is faster-whisper's (PyAV → resample to s16 mono 16 kHz → float32 / 32768), so the samples are the
ones bare faster-whisper would see. It runs in a separate interpreter because a crafted file can make FFmpeg
spin, allocate without bound or crash; none of that may take the worker (and its heartbeat thread) with it:
- time: the child is killed after `timeout` seconds;
- memory: the child's address space is capped (RLIMIT_AS), and samples stream to a temporary file, so a long
  input costs disk rather than the child's memory;
- length: decoding stops as soon as the output passes `max_seconds` (AudioTooLong), whatever the headers claim.
A fresh interpreter (not fork) is used because the worker holds model threads and locks a fork would copy; to keep
its start-up (≈ 0.2 s of imports) off the job's critical path, the next child is started ahead of time (`prewarm`)
and waits for its one request on stdin.
"""
from __future__ import annotations

import atexit
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

from scribefleet.container_duration import header_duration, iso_media_cut_off
from scribefleet.contract import MAX_AUDIO_SECONDS, ErrorCode, ScribefleetError
from scribefleet.filetype import ACCEPTED, SNIFF_BYTES, describe_non_media

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
DEFAULT_MAX_SECONDS = float(MAX_AUDIO_SECONDS)
DEFAULT_TIMEOUT = 600.0
DEFAULT_MEMORY_BYTES = 3 << 30  # address space of the decoder child (PyAV + FFmpeg's libraries map ~0.5 GiB)
SILENCE_PEAK = 10 ** (-60 / 20)  # a peak below -60 dBFS is silence (or a file of dither), nothing to transcribe
_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)


def decode_audio(
    path: str | os.PathLike,
    *,
    max_seconds: float = DEFAULT_MAX_SECONDS,
    timeout: float = DEFAULT_TIMEOUT,
    memory_bytes: int = DEFAULT_MEMORY_BYTES,
) -> np.ndarray:
    """Media file → float32 mono samples at 16 kHz.

    Raises ScribefleetError: UnsupportedMedia (a known non-media file, e.g. an image), BadInput (not media we can
    read, decoder timed out/crashed/ran out of memory), NoAudio (no audio track, 0 s, or silence only),
    TruncatedMedia (much shorter than its header states: cut off) or AudioTooLong (more than `max_seconds`), with a
    reason a user can read.
    """
    path = Path(path)
    if not path.is_file():
        raise ScribefleetError(ErrorCode.BAD_INPUT, f"the file {path.name!r} does not exist")
    if path.stat().st_size == 0:
        raise ScribefleetError(ErrorCode.NO_AUDIO, "the file is empty (0 bytes)")
    max_samples = int(max_seconds * SAMPLE_RATE)
    with tempfile.TemporaryDirectory(prefix="scribefleet-decode-") as tmp:
        out = Path(tmp) / "audio.s16"
        request = json.dumps({"path": str(path), "out": str(out), "max_samples": max_samples}) + "\n"
        child = _take_child(memory_bytes)
        try:
            stdout, stderr = child.communicate(request.encode(), timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(child)
            raise ScribefleetError(ErrorCode.BAD_INPUT, f"decoding the media took longer than {timeout:g} s") from None
        except BaseException:  # e.g. the agent abandoning the job on SIGTERM: the child must not outlive it
            _kill(child)
            raise
        finally:
            prewarm(memory_bytes)  # the next job's decoder imports while this job diarizes and transcribes
        status = _status(child.returncode, stdout, stderr)
        if status.get("code"):
            raise ScribefleetError(ErrorCode(status["code"]), status["message"])
        tracks = [np.fromfile(p, dtype="<i2") for p in track_files(out, int(status.get("tracks", 1)))]
    if max(t.size for t in tracks) == 0:
        raise ScribefleetError(ErrorCode.NO_AUDIO, "the audio track is empty (0 s)")
    audio = mix_tracks(tracks)
    if len(tracks) > 1:
        log.info("%d audio tracks: the audible ones mixed", len(tracks))
    if float(np.abs(audio).max()) < SILENCE_PEAK:
        raise ScribefleetError(ErrorCode.NO_AUDIO, f"the audio is silent ({audio.size / SAMPLE_RATE:.1f} s of silence)")
    log.info("decoded %s: %.1f s of audio", path.name, audio.size / SAMPLE_RATE)
    return audio


def prewarm(memory_bytes: int = DEFAULT_MEMORY_BYTES) -> None:
    """Start the next decoder child now, so decode_audio does not wait ≈ 0.2 s for its interpreter and imports.

    Each child still decodes exactly one file (nothing a hostile file did survives into the next job); it
    only starts early and waits for its request on stdin.
    """
    global _spare
    with _spare_lock:
        if _spare is not None and _spare[0] == memory_bytes and _spare[1].poll() is None:
            return
        if _spare is not None:
            _discard(_spare[1])
        _spare = (memory_bytes, _spawn(memory_bytes))


_spare: tuple[int, subprocess.Popen] | None = None
_spare_lock = threading.Lock()


def _take_child(memory_bytes: int) -> subprocess.Popen:
    global _spare
    with _spare_lock:
        spare, _spare = _spare, None
    if spare is not None and spare[0] == memory_bytes and spare[1].poll() is None:
        return spare[1]
    if spare is not None:
        _discard(spare[1])
    return _spawn(memory_bytes)


def _spawn(memory_bytes: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [_PACKAGE_ROOT, os.environ.get("PYTHONPATH")])),
        "MALLOC_ARENA_MAX": "2",  # glibc reserves 64 MiB of address space per thread arena otherwise
        # numpy's BLAS would size per-core buffers at import (large on a 48-core instance); the child needs no BLAS.
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }
    command = [sys.executable, "-m", "gpu_worker.media", str(memory_bytes)]
    return subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def _discard(child: subprocess.Popen) -> None:
    """An idle child exits on end of input; kill it if it does not."""
    try:
        child.communicate(b"", timeout=2)
    except subprocess.TimeoutExpired:
        _kill(child)


def _kill(child: subprocess.Popen) -> None:
    child.kill()
    child.communicate()


@atexit.register
def _discard_spare() -> None:
    global _spare
    with _spare_lock:
        spare, _spare = _spare, None
    if spare is not None:
        _discard(spare[1])


def _status(returncode: int, stdout: bytes, stderr: bytes) -> dict:
    lines = stdout.decode(errors="replace").strip().splitlines()
    if returncode == 0 and lines:
        return json.loads(lines[-1])
    stderr = stderr.decode(errors="replace")
    log.warning("decoder child failed with %s: %s", returncode, stderr[-2000:])
    if returncode < 0:
        reason = f"the decoder crashed on this file (signal {-returncode})"
    elif "MemoryError" in stderr:
        reason = "decoding the media needed more memory than allowed"
    else:
        reason = "the decoder failed on this file"
    return {"code": str(ErrorCode.BAD_INPUT), "message": reason}


def _clock(seconds: float) -> str:
    """A duration as people read it in an error message: 4 h, 90 min, 45 s."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"


def _decode_to_file(path: str, out_path: str, max_samples: int) -> dict:
    """Runs in the child: PyAV decode → s16 mono 16 kHz written to out_path. Returns a status dict."""
    import av

    with open(path, "rb") as source:
        head = source.read(SNIFF_BYTES)
    what = describe_non_media(head)
    if what:  # checked before FFmpeg sees it: FFmpeg would open a PNG as a one-frame video, a playlist as a stream
        return _failure(ErrorCode.UNSUPPORTED_MEDIA, f"the file is {what}, not audio or video")
    try:
        container = av.open(path, mode="r", metadata_errors="ignore")
    except av.FFmpegError:
        if head[4:8] == b"ftyp":
            with open(path, "rb") as source:
                if iso_media_cut_off(source, os.path.getsize(path)):
                    return _failure(ErrorCode.TRUNCATED_MEDIA, "the file looks cut off: it ends inside its media data, "
                                    "before the index (moov) an MP4, M4A or MOV file keeps at its end")
        return _failure(ErrorCode.BAD_INPUT, f"the file is not audio or video we can read (expected {ACCEPTED})")
    content_end = 0.0
    with container:
        if not container.streams.audio:
            kinds = sorted({stream.type for stream in container.streams}) or ["no streams"]
            return _failure(ErrorCode.NO_AUDIO, f"the file has no audio track (found: {', '.join(kinds)})")
        # Every audio track, each to its own file (track_files): a camera file often holds a scratch track and a lav,
        # a podcast recorder one person per track; the parent mixes them (mix_tracks).
        tracks = list(container.streams.audio)
        paths = track_files(out_path, len(tracks))
        resamplers = {t.index: av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE) for t in tracks}
        outs = {t.index: open(p, "wb") for t, p in zip(tracks, paths)}
        written = dict.fromkeys(outs, 0)
        try:
            # Every stream is demuxed (decode(audio=0) reads them all anyway) so that the end of the file's content
            # is known: a video whose audio track simply ends early is not a cut-off file.
            for packet in _valid_packets(container.demux()):
                content_end = max(content_end, _packet_end(packet))
                index = packet.stream.index
                if index not in outs:
                    continue
                for frame in _valid_frames(packet):
                    for resampled in resamplers[index].resample(frame):
                        written[index] += _write(outs[index], resampled)
                if written[index] > max_samples:
                    return _failure(
                        ErrorCode.AUDIO_TOO_LONG,
                        f"the audio is longer than the limit of {_clock(max_samples / SAMPLE_RATE)}",
                    )
            for index, resampler in resamplers.items():
                for resampled in resampler.resample(None):  # flush the resampler's delay line
                    written[index] += _write(outs[index], resampled)
        except av.FFmpegError:
            if not any(written.values()):
                return _failure(ErrorCode.BAD_INPUT, "the audio track cannot be decoded: its data is damaged")
            # A damaged tail after good audio: keep what decoded, like faster-whisper; truncation is judged below.
        finally:
            for out in outs.values():
                out.close()
    decoded = max(written.values()) / SAMPLE_RATE
    reason = truncation_reason(_stated_seconds(path), decoded, max(content_end, decoded))
    if reason:
        return _failure(ErrorCode.TRUNCATED_MEDIA, reason)
    return {"samples": max(written.values()), "tracks": len(tracks)}


def track_files(out_path: str | os.PathLike, tracks: int) -> list[str]:
    """Where the child writes each audio track's samples: the first at out_path, the others beside it."""
    return [str(out_path)] + [f"{out_path}.track{k}" for k in range(1, tracks)]


def mix_tracks(tracks: list[np.ndarray]) -> np.ndarray:
    """The audible tracks' int16 samples → one float32 track: their mean (the shorter padded with silence), so that a
    silent scratch track cannot hide the lav and a second person's track is not dropped. One audible track (or none)
    is returned as it is. A single track (the common case) is only converted: a 4-hour track is 230 million samples,
    so no extra copy of it is made to measure it."""
    if len(tracks) == 1:
        return tracks[0].astype(np.float32) / 32768.0  # faster-whisper's own conversion
    audible = [t for t in tracks if t.size and max(int(t.max()), -int(t.min())) >= SILENCE_PEAK * 32768]
    if len(audible) <= 1:
        chosen = audible[0] if audible else max(tracks, key=lambda t: t.size)
        return chosen.astype(np.float32) / 32768.0  # faster-whisper's own conversion
    mixed = np.zeros(max(t.size for t in audible), dtype=np.float32)
    for t in audible:
        mixed[: t.size] += t.astype(np.float32) / 32768.0
    return mixed / len(audible)


TRUNCATION_MIN_GAP_SECONDS = 2.0
TRUNCATION_MIN_GAP_FRACTION = 0.05  # stated durations are exact to well under 2 %; codec padding is milliseconds


def truncation_reason(stated: float | None, decoded: float, content_end: float) -> str | None:
    """Why a file is judged cut off, or None: its content (any stream) ends well before the length its header
    states. An interrupted upload keeps its header, so it still states the whole length."""
    if stated is None or stated - content_end < max(TRUNCATION_MIN_GAP_SECONDS, TRUNCATION_MIN_GAP_FRACTION * stated):
        return None
    return f"decoded {_timestamp(decoded)} of {_timestamp(stated)}; the file looks cut off (an upload that did not finish?)"


def _stated_seconds(path: str) -> float | None:
    """The length the container's header states, when it states one exactly (an estimate says nothing here: it is
    derived from the bytes present, so it shrinks with the file)."""
    try:
        with open(path, "rb") as source:
            seconds, _, estimated = header_duration(source, os.path.getsize(path), Path(path).name)
    except Exception:  # noqa: BLE001  a header FFmpeg decoded past but this reader cannot parse: no judgement
        return None
    return None if estimated else seconds


def _timestamp(seconds: float) -> str:
    """0:07, 12:30, 1:02:03: how people write a position in a recording."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _packet_end(packet) -> float:
    stamp = packet.pts if packet.pts is not None else packet.dts
    if stamp is None or packet.time_base is None:
        return 0.0
    start = packet.stream.start_time or 0
    return float((stamp - start + (packet.duration or 0)) * packet.time_base)


def _valid_packets(packets):
    """Skip a packet the demuxer cannot read (InvalidDataError) instead of failing the file."""
    import av

    iterator = iter(packets)
    while True:
        try:
            yield next(iterator)
        except StopIteration:
            return
        except av.error.InvalidDataError:
            continue


def _valid_frames(packet):
    """faster-whisper's _ignore_invalid_frames: a corrupt packet yields no frames instead of failing the file."""
    import av

    try:
        return packet.decode()
    except av.error.InvalidDataError:
        return []


def _write(out, frame) -> int:
    array = frame.to_ndarray()
    out.write(array.astype("<i2", copy=False).tobytes())
    return array.size


def _failure(code: ErrorCode, message: str) -> dict:
    return {"code": str(code), "message": message}


def _child_main(argv: list[str]) -> None:
    import resource

    memory_bytes = int(argv[0])
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    import av  # noqa: F401  the slow import happens before the request arrives

    line = sys.stdin.readline()
    if not line:  # a spare that was never used: the parent discarded it or exited
        return
    request = json.loads(line)
    print(json.dumps(_decode_to_file(request["path"], request["out"], int(request["max_samples"]))), flush=True)


if __name__ == "__main__":
    _child_main(sys.argv[1:])

