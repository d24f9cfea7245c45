"""`scribefleet voices`: a user's enrolled voices (reference clips under voices/<userId>/, see scribefleet.voices).

    scribefleet voices add Ann ann-interview.wav --user alice   # one more clip of Ann (the first, or a further one)
    scribefleet voices list --user alice
    scribefleet voices remove Ann --user alice                  # every clip, every cached embedding, every version

Later uploads of that user name a speaker "Ann" when the speaker's voice matches. Voices are biometric data
(docs/security.md): `remove` deletes every version of the clips and of the worker's cached embeddings, so nothing
of the voice is left in the bucket (the bucket keeps old versions for 30 days otherwise).
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from scribefleet.contract import ScribefleetError
from scribefleet.filetype import describe_non_media
from scribefleet.voices import CACHE_FOLDER, cache_key, check_name, clip_key, list_clips, user_prefix, voice_object_prefixes
from scribefleet_tools.target import resolve_target

MAX_CLIP_BYTES = 200 * 1024 * 1024  # the worker skips larger clips (gpu_worker/voice_library.py)


def add_arguments(parser: argparse.ArgumentParser, target_options: Callable[[argparse.ArgumentParser], None]) -> None:
    commands = parser.add_subparsers(dest="voices_command", required=True)
    add = commands.add_parser("add", help="store a reference clip of a voice (a few seconds to a minute of speech)")
    add.add_argument("name", help="the name transcripts show (letters, digits, spaces, _ - '; no dots)")
    add.add_argument("file", type=Path, help="audio or video with only that voice speaking")
    listing = commands.add_parser("list", help="the user's voices and their clips")
    remove = commands.add_parser("remove", help="delete a voice: its clips and cached embeddings, all versions")
    remove.add_argument("name")
    for command in (add, listing, remove):
        command.add_argument("--user", required=True)
        target_options(command)


def run(args: argparse.Namespace) -> int:
    try:
        user_prefix(args.user)  # checks the id before any call
        if args.voices_command == "add":
            return _add(args)
        target = resolve_target(args)
        s3, bucket = target.client("s3"), target.outputs["InputBucketName"]
        if args.voices_command == "remove":
            return _remove(s3, bucket, args.user, args.name)
        return _list(s3, bucket, args.user)
    except ScribefleetError as error:
        print(error.message, file=sys.stderr)
        return 2


def _add(args: argparse.Namespace) -> int:
    name = check_name(args.name)
    if not args.file.is_file():
        print(f"{args.file}: no such file", file=sys.stderr)
        return 2
    size = args.file.stat().st_size
    with args.file.open("rb") as f:
        kind = describe_non_media(f.read(4096))
    if kind or size == 0 or size > MAX_CLIP_BYTES:
        print(f"{args.file}: not usable as a voice clip ({kind or f'{size} bytes'})", file=sys.stderr)
        return 2
    target = resolve_target(args)
    s3, bucket = target.client("s3"), target.outputs["InputBucketName"]
    existing = list_clips(s3, bucket, args.user).get(name, [])
    index = 0 if not existing else max(_clip_index(c.key) for c in existing) + 1
    key = clip_key(args.user, name, args.file.name, index)
    s3.upload_file(str(args.file), bucket, key)
    print(f"s3://{bucket}/{key}: clip {len(existing) + 1} of {name}; uploads from now on name this voice")
    return 0


def _clip_index(key: str) -> int:
    """voices/<u>/<Name>.<ext> is clip 0, voices/<u>/<Name>/<n>.<ext> clip n (other names there count as 1)."""
    tail = key.rsplit("/", 1)[-1].split(".", 1)[0]
    if key.count("/") == 2:
        return 0
    return int(tail) if tail.isdigit() else 1


def _list(s3, bucket: str, user: str) -> int:
    voices = list_clips(s3, bucket, user)
    if not voices:
        print(f"user {user} has no enrolled voices (s3://{bucket}/{user_prefix(user)})", file=sys.stderr)
        return 1
    cached = {item["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=f"{user_prefix(user)}{CACHE_FOLDER}/") for item in page.get("Contents", [])}
    for name, clips in voices.items():
        print(f"{name}: {len(clips)} clip{'s' if len(clips) != 1 else ''}")
        for clip in clips:
            state = "embedded" if cache_key(user, clip.key, clip.etag) in cached else "not yet embedded"
            print(f"  {clip.key}  {clip.size} bytes  {state}")
    return 0


def _remove(s3, bucket: str, user: str, name: str) -> int:
    """Delete every version and delete marker under the voice's prefixes (clips and cached embeddings)."""
    deleted = 0
    for prefix in voice_object_prefixes(user, name):
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
            doomed = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
            for i in range(0, len(doomed), 1000):
                s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed[i : i + 1000], "Quiet": True})
            deleted += sum(1 for v in page.get("Versions", []))
    if not deleted:
        print(f"user {user} has no voice {name!r}", file=sys.stderr)
        return 1
    print(f"removed voice {name!r} of user {user}: {deleted} object versions (clips and cached embeddings)")
    return 0
