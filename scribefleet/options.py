"""Transcription options: parsed from S3 object metadata strings, validated by the one JSON Schema."""
from __future__ import annotations

import json
import math
from email.header import decode_header, make_header
from email.errors import HeaderParseError
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from scribefleet import schemas
from scribefleet.contract import ErrorCode, ScribefleetError

DEFAULT_FORMATS = ["txt", "srt", "vtt", "json", "tsv", "docx", "edl"]
# Whisper's language codes (faster_whisper.tokenizer._LANGUAGE_CODES); the Lambdas do not ship faster-whisper.
WHISPER_LANGUAGES = frozenset(
    "af am ar as az ba be bg bn bo br bs ca cs cy da de el en es et eu fa fi fo fr gl gu ha haw he hi hr ht hu hy "
    "id is it ja jw ka kk km kn ko la lb ln lo lt lv mg mi mk ml mn mr ms mt my ne nl nn no oc pa pl ps pt ro ru sa "
    "sd si sk sl sn so sq sr su sv sw ta te tg th tk tl tr tt uk ur uz vi yi yo zh yue".split()
)
_INTS = ("speakers", "min_speakers", "max_speakers", "max_line_chars", "max_lines")
_LISTS = ("formats", "speaker_names", "terms")
_FLOATS = ("low_confidence",)


@cache
def schema() -> dict[str, Any]:
    return json.loads(resources.files("scribefleet.schemas").joinpath("options.schema.json").read_text())


def _coerce(name: str, raw: str) -> Any:
    if name in _INTS:
        try:
            return int(raw)
        except ValueError:
            raise ScribefleetError(ErrorCode.INVALID_OPTIONS, f"option {name!r} must be a whole number, got {raw!r}")
    if name == "vocabulary":  # the probe adds it from the user's settings file; metadata cannot carry rules
        raise ScribefleetError(ErrorCode.INVALID_OPTIONS, "vocabulary is not an upload option: put it in settings/<userId>/vocabulary.json")
    if name in _FLOATS:
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):  # "nan" parses, and passes every minimum/maximum check
            raise ScribefleetError(ErrorCode.INVALID_OPTIONS, f"option {name!r} must be a number, got {raw!r}")
        return value
    if name == "frame_rate":
        try:
            return float(raw) if "." in raw else int(raw)
        except ValueError:
            raise ScribefleetError(ErrorCode.INVALID_OPTIONS, f"option 'frame_rate' must be a number, got {raw!r}")
    if name in _LISTS:
        return [item.strip() for item in raw.split(",") if item.strip()]
    return raw.strip()


def metadata_text(raw: str) -> str:
    """A metadata value as the user wrote it. S3 answers a value holding non US-ASCII characters as RFC 2047 encoded
    words: "it is first character-encoded using UTF-8 and then encoded into US-ASCII", e.g.
    `=?UTF-8?B?w4PChE3Dg8KEWsODwpXDg8KRIFMz?=` (S3 User Guide, Working with object metadata), so a speaker named
    José would otherwise be called `=?UTF-8?B?Sm9zw6k=?=`. A value that is not encoded words is returned as is."""
    if "=?" not in raw:
        return raw
    try:
        return str(make_header(decode_header(raw)))
    except (HeaderParseError, LookupError, UnicodeDecodeError, ValueError):
        return raw


def parse_options(metadata: dict[str, str]) -> dict[str, Any]:
    """S3 user metadata (keys without the x-amz-meta- prefix, `-` or `_` separated) → validated options dict.

    Unknown keys, wrong types, unknown formats or languages and contradictions (min > max speakers) raise
    ScribefleetError(InvalidOptions) naming the option.
    """
    options: dict[str, Any] = {}
    for key, raw in metadata.items():
        name = key.lower().removeprefix("x-amz-meta-").replace("-", "_")
        options[name] = _coerce(name, metadata_text(raw)) if isinstance(raw, str) else raw
    return validate_options(options)


def validate_options(options: dict[str, Any]) -> dict[str, Any]:
    validator = jsonschema.Draft202012Validator(schema(), registry=schemas.registry())  # options $ref vocabulary
    errors = sorted(validator.iter_errors(options), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        where = ".".join(str(p) for p in first.path) or "options"
        raise ScribefleetError(ErrorCode.INVALID_OPTIONS, f"{where}: {first.message}")
    language = options.get("language")
    if language not in (None, "auto") and language not in WHISPER_LANGUAGES:
        raise ScribefleetError(ErrorCode.INVALID_OPTIONS, f"language {language!r} is not a language the model knows")
    low, high = options.get("min_speakers"), options.get("max_speakers")
    if low is not None and high is not None and low > high:
        raise ScribefleetError(ErrorCode.INVALID_OPTIONS, f"min_speakers ({low}) is greater than max_speakers ({high})")
    if "speakers" in options and (low is not None or high is not None):
        raise ScribefleetError(ErrorCode.INVALID_OPTIONS, "give either speakers or min_speakers/max_speakers, not both")
    return options
