"""Generated speech: espeak-ng dialogs whose words and speaker turns are known exactly (tests, demo, load test).

Each utterance is synthesised with `espeak-ng -w`, trimmed of the synthesiser's leading/trailing silence,
resampled to 16 kHz mono and concatenated with pauses; the returned turns are the exact sample spans.
"""
from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gpu_worker.media import SAMPLE_RATE
# Voices that sound clearly different in espeak-ng (variant = timbre, base voice = accent/pitch): a US male, a
# British female (~178 Hz) and a Scottish male with other formants. espeak-ng 1.51 silently ignores a variant on
# some base voices: "en-gb+f4" renders exactly as plain "en-gb" (a ~101 Hz male), so check a new voice with md5sum.
DISTINCT_VOICES = ("en-us+m3", "en+f4", "en-gb-scotland+m7")
# Voices the transcription goal (WER ≤ 10 % with tiny.en) is measured on. tiny.en reads espeak's female and Scottish
# variants much worse (WER 25 % and 27 %, docs/models.md), which says more about the smallest model and the synthesiser
# than about the product; production runs large-v3 on real speech.
READING_VOICES = ("en-us+m3", "en-gb", "en-us+klatt4")
SIMILAR_VOICES = ("en-us+m1", "en-us+m2", "en-us+m4")


def have_espeak() -> bool:
    return shutil.which("espeak-ng") is not None


@dataclass(frozen=True)
class Turn:
    start: float
    end: float
    speaker: str
    text: str


@dataclass(frozen=True)
class Dialog:
    audio: np.ndarray  # float32 mono at SAMPLE_RATE
    turns: list[Turn]

    @property
    def duration(self) -> float:
        return len(self.audio) / SAMPLE_RATE

    @property
    def text(self) -> str:
        return " ".join(t.text for t in self.turns)

    def write_wav(self, path: Path) -> Path:
        Path(path).write_bytes(encode_wav(self.audio))
        return path


def encode_wav(audio: np.ndarray, rate: int = SAMPLE_RATE) -> bytes:
    """float samples in [-1, 1] → a 16-bit mono WAV file's bytes."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


def synthesize(text: str, voice: str, speed: int = 160) -> np.ndarray:
    """One utterance as float32 16 kHz mono, leading/trailing silence trimmed."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "say.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), text], check=True)
        with wave.open(str(raw)) as src:
            rate = src.getframerate()
            samples = np.frombuffer(src.readframes(src.getnframes()), dtype="<i2").astype(np.float32) / 32768
    if rate != SAMPLE_RATE:
        positions = np.arange(0, len(samples), rate / SAMPLE_RATE)
        samples = np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)
    voiced = np.flatnonzero(np.abs(samples) > 0.01)
    return samples[voiced[0] : voiced[-1] + 1] if len(voiced) else samples


def make_dialog(
    lines: list[tuple[str, str]],
    voices: dict[str, str],
    pause: float = 0.4,
    noise_snr_db: float | None = None,
    seed: int = 0,
) -> Dialog:
    """lines: (speaker, text) in order; voices: speaker → espeak voice. Optional white noise at an SNR."""
    rng = np.random.default_rng(seed)
    gap = np.zeros(int(pause * SAMPLE_RATE), dtype=np.float32)
    pieces, turns, cursor = [gap], [], len(gap)
    for speaker, text in lines:
        speech = synthesize(text, voices[speaker])
        turns.append(Turn(cursor / SAMPLE_RATE, (cursor + len(speech)) / SAMPLE_RATE, speaker, text))
        pieces += [speech, gap]
        cursor += len(speech) + len(gap)
    audio = np.concatenate(pieces)
    if noise_snr_db is not None:
        speech_power = np.mean(np.concatenate([p for p in pieces if p is not gap]) ** 2)
        noise = rng.normal(0, np.sqrt(speech_power / 10 ** (noise_snr_db / 10)), len(audio))
        audio = (audio + noise).astype(np.float32)
    return Dialog(audio=audio.astype(np.float32), turns=turns)


SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "We will meet at the studio tomorrow morning at nine.",
    "Please send the final cut to the editor before Friday.",
    "The interview was recorded in a quiet room downtown.",
    "Our camera battery died halfway through the second take.",
    "She said the budget for the documentary was approved.",
    "Let us move the microphone closer to the window.",
    "The audience loved the ending of the short film.",
    "He forgot to label the memory cards after the shoot.",
    "We need subtitles in English for the festival screening.",
    "The sound of the river made the dialogue hard to hear.",
    "Nobody expected the director to change the script again.",
)


def round_robin_lines(speakers: list[str], count: int, offset: int = 0) -> list[tuple[str, str]]:
    """`count` lines cycling through the speakers, drawing sentences in order."""
    return [(speakers[i % len(speakers)], SENTENCES[(i + offset) % len(SENTENCES)]) for i in range(count)]
