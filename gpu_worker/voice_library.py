"""A user's enrolled voices, read from the input bucket (layout: scribefleet.voices), one embedding per voice.

Each clip is embedded once: the embedding is cached beside the clips under the clip's ETag, so a replaced clip is
embedded anew and an unchanged one costs one small GET. Only the job's own user's prefix is ever listed or read.
A clip that cannot be used (not audio, no speech) is skipped with a warning: a bad reference clip must not fail
the user's transcription, it only leaves that voice unnamed.
"""
from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

import numpy as np
from botocore.exceptions import ClientError

from gpu_worker.media import decode_audio
from gpu_worker.voice_matching import MAX_CLIP_SPEECH, WINDOW, EnrolledVoice, embed_speech, mean_embedding
from scribefleet.contract import ScribefleetError
from scribefleet.voices import VoiceClip, cache_key, list_clips

log = logging.getLogger(__name__)

MAX_CLIP_SECONDS = 600.0  # longer clips are refused by the decoder; a minute or two is what enrollment needs
MAX_CLIP_BYTES = 200 * 1024 * 1024


class ClipEmbedder:
    """Speech regions (the diarizer's VAD) → one CAM++ embedding (the diarizer's model and weights)."""

    def __init__(self, device: str = "cpu"):
        from gpu_worker.diarization.embeddings import CamPlusPlus
        from gpu_worker.diarization.vad import SileroVad

        self.vad = SileroVad()
        self.campplus = CamPlusPlus(device=device)

    @property
    def model_id(self) -> str:
        """Cached embeddings are reused only when made the same way."""
        from gpu_worker.diarization.assets import campplus_weights

        weights = campplus_weights()
        return f"campplus:{weights.name}:{weights.stat().st_size}:window{WINDOW}:clip{MAX_CLIP_SPEECH}"

    def embed(self, audio: np.ndarray, spans):
        return self.campplus.embed(audio, spans)

    def embed_clip(self, audio: np.ndarray) -> tuple[np.ndarray | None, float]:
        """(embedding or None, seconds of speech found)."""
        regions = self.vad.regions(audio)
        speech = sum(e - s for s, e in regions)
        return embed_speech(self, audio, regions, MAX_CLIP_SPEECH), round(speech, 2)


class VoiceLibrary:
    def __init__(self, s3, embedder: ClipEmbedder | None = None, device: str = "cpu"):
        self.s3, self.device = s3, device
        self._embedder = embedder

    @property
    def embedder(self) -> ClipEmbedder:
        if self._embedder is None:  # only workers whose users enrolled voices load it
            self._embedder = ClipEmbedder(self.device)
        return self._embedder

    def load(self, bucket: str, user_id: str) -> list[EnrolledVoice]:
        voices = []
        for name, clips in list_clips(self.s3, bucket, user_id).items():
            parts = [part for part in (self._clip_embedding(bucket, user_id, clip) for clip in clips) if part is not None]
            embedding = mean_embedding(np.stack([e for e, _ in parts]), [s for _, s in parts]) if parts else None
            if embedding is None:
                log.warning("voice %r of user %s has no usable clip; it names nobody", name, user_id)
                continue
            voices.append(EnrolledVoice(name, embedding))
        return voices

    def _clip_embedding(self, bucket: str, user_id: str, clip: VoiceClip) -> tuple[np.ndarray, float] | None:
        key = cache_key(user_id, clip.key, clip.etag)
        model_id = self.embedder.model_id
        try:
            cached = json.loads(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            if cached.get("model") == model_id and cached.get("etag") == clip.etag:
                return np.asarray(cached["embedding"], dtype=np.float32), float(cached["speechSeconds"])
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("NoSuchKey", "404"):
                raise
        except (ValueError, KeyError, TypeError):
            log.warning("cached embedding %s is unreadable; embedding the clip again", key)
        embedding, speech = self._embed_clip(bucket, clip)
        if embedding is None:
            return None
        body = {"model": model_id, "etag": clip.etag, "clip": clip.key, "speechSeconds": speech,
                "embedding": [round(float(x), 6) for x in embedding]}
        try:
            self.s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(body).encode(), ContentType="application/json")
        except ClientError as error:  # the embedding is still right for this job; the next one recomputes it
            log.warning("could not cache the embedding of %s: %s", clip.key, error.response["Error"]["Code"])
        return embedding, speech

    def _embed_clip(self, bucket: str, clip: VoiceClip) -> tuple[np.ndarray | None, float]:
        if clip.size > MAX_CLIP_BYTES:
            log.warning("voice clip %s is %d bytes, over %d; skipped", clip.key, clip.size, MAX_CLIP_BYTES)
            return None, 0.0
        with tempfile.TemporaryDirectory(prefix="voice-") as scratch:
            path = Path(scratch) / "clip"
            try:
                body = self.s3.get_object(Bucket=bucket, Key=clip.key, IfMatch=clip.etag)["Body"]
                path.write_bytes(body.read())
                audio = decode_audio(path, max_seconds=MAX_CLIP_SECONDS)
            except ClientError as error:  # replaced or deleted since the listing: the next job sees the new one
                log.warning("voice clip %s could not be read: %s", clip.key, error.response["Error"]["Code"])
                return None, 0.0
            except ScribefleetError as error:
                log.warning("voice clip %s is not usable audio: %s", clip.key, error.message)
                return None, 0.0
        embedding, speech = self.embedder.embed_clip(audio)
        if embedding is None:
            log.warning("voice clip %s has no speech", clip.key)
        return embedding, speech
