"""Where enrolled voices live in the input bucket, and the rules for their names.

    voices/<userId>/<Name>.<ext>            one reference clip for the voice <Name>
    voices/<userId>/<Name>/<anything>.<ext>  further clips for the same voice (any number, any accepted format)
    voices/<userId>/.cache/<clip>.<etag>.json  the worker's embedding of one clip (<clip> = the clip's path below
                                              voices/<userId>/); a changed clip has a new ETag, hence a new key

Everything of one user is under one prefix, so loading, listing and deleting never reach another user's voices.
Names are what transcripts show; they may hold letters, digits, spaces, `_`, `-` and `'` but no `.` or `/`, so that
`<Name>.` and `<Name>/` are prefixes of that voice's objects and of no other voice's.
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from scribefleet.contract import ErrorCode, ScribefleetError, check_user_id

VOICES_PREFIX = "voices/"
CACHE_FOLDER = ".cache"
NAME_PATTERN = re.compile(r"[^\W][\w '\-]{0,63}")  # \w: unicode letters and digits; first character not a space


def check_name(name: str) -> str:
    if not NAME_PATTERN.fullmatch(name or "") or name != name.strip():
        raise ScribefleetError(
            ErrorCode.BAD_INPUT,
            f"voice name {name!r}: 1-64 letters, digits, spaces, _ - or ' (no dots, no slashes, no outer spaces)",
        )
    return name


def user_prefix(user_id: str) -> str:
    return f"{VOICES_PREFIX}{check_user_id(user_id)}/"


def clip_key(user_id: str, name: str, file_name: str, index: int = 0) -> str:
    """Key for a new clip: the first at voices/<u>/<Name>.<ext>, later ones at voices/<u>/<Name>/<index>.<ext>."""
    ext = file_name.rsplit(".", 1)[-1].lower() if "." in file_name else "bin"
    if not re.fullmatch(r"[a-z0-9]{1,8}", ext):
        ext = "bin"
    base = user_prefix(user_id) + check_name(name)
    return f"{base}.{ext}" if index == 0 else f"{base}/{index}.{ext}"


def voice_name(user_id: str, key: str) -> str | None:
    """The voice a key is a clip of, or None (the cache, folders, keys of other users, names that break the rule)."""
    prefix = user_prefix(user_id)
    if not key.startswith(prefix) or key.endswith("/"):
        return None
    rest = key[len(prefix) :]
    if rest.startswith(CACHE_FOLDER + "/"):
        return None
    if "/" in rest:
        name = rest.split("/", 1)[0]
    elif "." in rest:
        name = rest.rsplit(".", 1)[0]
    else:
        return None
    return name if NAME_PATTERN.fullmatch(name) and name == name.strip() else None


def normalise_etag(etag: str) -> str:
    """S3 ETags come quoted; multipart ETags carry `-<parts>`. Both are safe in a key once unquoted."""
    return etag.strip().strip('"')


def cache_key(user_id: str, key: str, etag: str) -> str:
    """The embedding cache object of clip `key` at version `etag` (beside the clips, under the same user prefix)."""
    prefix = user_prefix(user_id)
    if voice_name(user_id, key) is None:
        raise ValueError(f"{key!r} is not a voice clip of user {user_id!r}")
    etag = normalise_etag(etag)
    if not re.fullmatch(r"[0-9A-Za-z-]{1,80}", etag):
        raise ValueError(f"unexpected ETag {etag!r}")
    return f"{prefix}{CACHE_FOLDER}/{key[len(prefix):]}.{etag}.json"


def voice_object_prefixes(user_id: str, name: str) -> tuple[str, ...]:
    """Every prefix under which objects of voice `name` live: its clips and their cached embeddings."""
    base = user_prefix(user_id)
    name = check_name(name)
    return (f"{base}{name}.", f"{base}{name}/", f"{base}{CACHE_FOLDER}/{name}.", f"{base}{CACHE_FOLDER}/{name}/")


@dataclass(frozen=True)
class VoiceClip:
    name: str
    key: str
    etag: str
    size: int


def list_clips(s3, bucket: str, user_id: str) -> dict[str, list[VoiceClip]]:
    """Name → that voice's clips, from one listing of the user's prefix (never wider)."""
    voices: dict[str, list[VoiceClip]] = defaultdict(list)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=user_prefix(user_id)):
        for item in page.get("Contents", []):
            name = voice_name(user_id, item["Key"])
            if name is not None:
                voices[name].append(VoiceClip(name, item["Key"], normalise_etag(item.get("ETag", "")), int(item.get("Size", 0))))
    return {name: sorted(clips, key=lambda c: c.key) for name, clips in sorted(voices.items())}
