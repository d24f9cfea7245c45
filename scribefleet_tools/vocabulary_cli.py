"""`scribefleet vocabulary`: a user's terms and replacement rules (settings/<userId>/vocabulary.json).

    scribefleet vocabulary set vocabulary.json --user alice   # checked here first, then stored for later uploads
    scribefleet vocabulary show --user alice
    scribefleet vocabulary remove --user alice

The file is checked with the same code the probe runs, so a file that `set` accepts is one the service accepts;
uploads made after `set` use it (each job keeps the version it was probed with).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from scribefleet.contract import ScribefleetError
from scribefleet.vocabulary import MAX_VOCABULARY_BYTES, load_user_vocabulary, parse_vocabulary, vocabulary_key
from scribefleet_tools.target import resolve_target


def add_arguments(parser: argparse.ArgumentParser, target_options: Callable[[argparse.ArgumentParser], None]) -> None:
    commands = parser.add_subparsers(dest="vocabulary_command", required=True)
    store = commands.add_parser("set", help="check a vocabulary file and store it as the user's vocabulary")
    store.add_argument("file", type=Path, help="a JSON file: {\"terms\": [...], \"rules\": [{\"phrase\"|\"pattern\": ..., \"replacement\": ...}]}")
    show = commands.add_parser("show", help="print the user's stored vocabulary")
    remove = commands.add_parser("remove", help="delete the user's vocabulary (later uploads use none)")
    for command in (store, show, remove):
        command.add_argument("--user", required=True)
        target_options(command)


def run(args: argparse.Namespace) -> int:
    try:
        key = vocabulary_key(args.user)
        if args.vocabulary_command == "set":
            return _set(args, key)
        target = resolve_target(args)
        s3, bucket = target.client("s3"), target.outputs["InputBucketName"]
        if args.vocabulary_command == "remove":
            s3.delete_object(Bucket=bucket, Key=key)
            print(f"removed s3://{bucket}/{key}")
            return 0
        vocabulary = load_user_vocabulary(s3, bucket, args.user)
    except ScribefleetError as error:
        print(error.message, file=sys.stderr)
        return 2
    if vocabulary is None:
        print(f"user {args.user} has no vocabulary (s3://{bucket}/{key})", file=sys.stderr)
        return 1
    print(json.dumps(vocabulary, ensure_ascii=False, indent=2))
    return 0


def _set(args: argparse.Namespace, key: str) -> int:
    raw = args.file.read_bytes()[: MAX_VOCABULARY_BYTES + 1]
    vocabulary = parse_vocabulary(raw, args.file.name)  # the service's own check, before anything is stored
    target = resolve_target(args)
    bucket = target.outputs["InputBucketName"]
    target.client("s3").put_object(Bucket=bucket, Key=key, Body=raw, ContentType="application/json")
    print(f"s3://{bucket}/{key}: {len(vocabulary.get('terms', []))} terms, {len(vocabulary.get('rules', []))} rules; "
          "used by uploads from now on")
    return 0
