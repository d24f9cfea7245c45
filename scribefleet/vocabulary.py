"""A user's vocabulary: terms the model should know and replacement rules for the words it writes.

The file is `settings/<userId>/vocabulary.json` in the input bucket (scribefleet/schemas/vocabulary.schema.json).
The probe reads and checks it once per upload (`with_user_vocabulary`) and puts it into the job's options, so a job
uses the vocabulary as it was when the file was uploaded, and a broken file fails that job with a reason naming the
rule instead of being skipped. The worker compiles the same rules (`compile_rules`) and applies them to the words
(gpu_worker/replacements.py).

Regular expressions use the `regex` package because it can stop a match after a timeout: a user's pattern can
backtrack for minutes on an ordinary sentence, and the standard library's `re` cannot be interrupted.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import jsonschema
import regex
from botocore.exceptions import ClientError
from jsonschema.exceptions import best_match

from scribefleet import schemas
from scribefleet.contract import ErrorCode, ScribefleetError, check_user_id

SETTINGS_PREFIX = "settings/"
VOCABULARY_FILE_NAME = "vocabulary.json"
# The vocabulary travels inside the job's options, which a state's data, the queue message and the job item each
# carry (Step Functions allows 256 KiB of state data): a few copies of it must fit with room to spare.
MAX_VOCABULARY_BYTES = 32 * 1024
# One rule on one segment's text. A sane pattern needs microseconds on a 20 s segment; past this it is backtracking.
RULE_TIMEOUT_SECONDS = 0.1

_TEMPLATE_PIECE = regex.compile(r"\\(?:(\d{1,2})|g<([^>]*)>|(\\)|(.?))", regex.DOTALL)


def vocabulary_key(user_id: str) -> str:
    return f"{SETTINGS_PREFIX}{check_user_id(user_id)}/{VOCABULARY_FILE_NAME}"


@dataclass(frozen=True)
class Group:
    """A group reference in a regex rule's replacement: a number or a name."""

    ref: int | str


@dataclass(frozen=True)
class Rule:
    """One compiled replacement rule; `index` is its position in the file, which every reason and report names."""

    index: int
    kind: str  # "phrase" or "pattern"
    find: str  # the phrase or the pattern as the user wrote it
    replacement: str
    compiled: regex.Pattern
    template: tuple[str | Group, ...]  # literal text and group references; a phrase's replacement is all literal

    def expand(self, match: regex.Match) -> str:
        """The replacement for one match (a group that took no part in the match gives "")."""
        return "".join(p if isinstance(p, str) else (match.group(p.ref) or "") for p in self.template)

    def describe(self) -> dict[str, Any]:
        return {"index": self.index, self.kind: self.find, "replacement": self.replacement}


def _invalid(source: str, where: str, what: str) -> ScribefleetError:
    return ScribefleetError(ErrorCode.INVALID_OPTIONS, f"{source}: {where}{': ' if where else ''}{what}")


def _where(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _explain(error: jsonschema.ValidationError) -> tuple[str, str]:
    """(where, what is wrong) for the most telling schema error; a rule is judged by the kind it names."""
    if error.validator == "oneOf" and isinstance(error.instance, dict):
        kinds = [k for k in ("phrase", "pattern") if k in error.instance]
        if len(kinds) == 2:
            return _where(error.absolute_path), "give either 'phrase' or 'pattern', not both"
        if not kinds:
            return _where(error.absolute_path), "a rule needs 'phrase' (exact words) or 'pattern' (a regular expression), and 'replacement'"
        branch = 0 if kinds == ["phrase"] else 1
        specific = best_match(e for e in error.context if e.relative_schema_path[0] == branch)
        if specific is not None:
            return _explain(specific)
    return _where(error.absolute_path), _schema_reason(error)


def _schema_reason(error: jsonschema.ValidationError) -> str:
    if error.validator == "pattern" and error.path and error.path[-1] == "phrase":
        return "the phrase has no letters or digits to match"
    if error.validator == "pattern" and len(error.path) >= 2 and error.path[-2] == "terms":
        return "a term must not be blank"
    if error.validator == "additionalProperties":
        allowed = ", ".join(sorted(error.schema.get("properties", {})))
        return f"{error.message}; allowed: {allowed}"
    return error.message


def _template(replacement: str, compiled: regex.Pattern) -> tuple[str | Group, ...]:
    """A regex rule's replacement → literal pieces and group references, checked against the pattern's groups.

    Parsed here rather than left to regex's own expansion, which reports an unknown group only when the pattern
    first matches: mid-job, on some user's audio. Raises ValueError with the reason."""
    pieces: list[str | Group] = []
    position = 0
    for escape in _TEMPLATE_PIECE.finditer(replacement):
        pieces.append(replacement[position : escape.start()])
        position = escape.end()
        number, name, backslash, other = escape.groups()
        if backslash:
            pieces.append("\\")
            continue
        if other is not None:
            raise ValueError(f"'\\{other}' is not a group reference (\\1 or \\g<name>); write '\\\\' for a backslash")
        reference: str | int = int(number) if number is not None else (int(name) if name.isdigit() else name)
        if isinstance(reference, int) and not 0 <= reference <= compiled.groups:
            raise ValueError(f"group {reference} does not exist; the pattern has {compiled.groups} group(s)")
        if isinstance(reference, str) and reference not in compiled.groupindex:
            raise ValueError(f"the pattern has no group named {reference!r}")
        pieces.append(Group(reference))
    pieces.append(replacement[position:])
    return tuple(p for p in pieces if p != "")


def _phrase_pattern(phrase: str) -> regex.Pattern:
    """Whole words only (no letter or digit right before or after), any whitespace between the words, any case."""
    words = [regex.escape(word) for word in phrase.split()]
    return regex.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)", regex.IGNORECASE)


def compile_rules(vocabulary: dict[str, Any] | None, source: str = VOCABULARY_FILE_NAME) -> list[Rule]:
    """The rules of a schema-valid vocabulary, compiled; a pattern or replacement that cannot work raises
    InvalidOptions naming the rule."""
    rules: list[Rule] = []
    for index, rule in enumerate((vocabulary or {}).get("rules", ())):
        replacement = rule["replacement"]
        if "phrase" in rule:
            rules.append(Rule(index, "phrase", rule["phrase"], replacement, _phrase_pattern(rule["phrase"]), (replacement,)))
            continue
        try:
            compiled = regex.compile(rule["pattern"])
        except regex.error as error:
            at = f" at position {error.pos}" if error.pos is not None else ""
            raise _invalid(source, f"rules[{index}].pattern", f"not a valid regular expression ({error.msg}{at})")
        if compiled.fullmatch("") is not None:
            raise _invalid(source, f"rules[{index}].pattern", "matches empty text, so it would fire between any two words")
        try:
            template = _template(replacement, compiled)
        except ValueError as error:
            raise _invalid(source, f"rules[{index}].replacement", str(error))
        rules.append(Rule(index, "pattern", rule["pattern"], replacement, compiled, template))
    return rules


def check_vocabulary(document: Any, source: str = VOCABULARY_FILE_NAME) -> dict[str, Any]:
    """The document if it is a usable vocabulary; otherwise InvalidOptions with `source: where: what is wrong`."""
    validator = jsonschema.Draft202012Validator(schemas.load("vocabulary.schema.json"))
    error = best_match(validator.iter_errors(document))
    if error is not None:
        raise _invalid(source, *_explain(error))
    compile_rules(document, source)
    return document


def parse_vocabulary(raw: bytes, source: str = VOCABULARY_FILE_NAME) -> dict[str, Any]:
    """The bytes of a vocabulary file → the checked document (InvalidOptions: too large, not UTF-8 JSON, invalid)."""
    if len(raw) > MAX_VOCABULARY_BYTES:
        raise _invalid(source, "", f"the file is {len(raw)} bytes; the limit is {MAX_VOCABULARY_BYTES}")
    try:
        document = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise _invalid(source, "", "the file is not UTF-8 text")
    except json.JSONDecodeError as error:
        raise _invalid(source, "", f"not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})")
    return check_vocabulary(document, source)


def load_user_vocabulary(s3, bucket: str, user_id: str) -> dict[str, Any] | None:
    """The user's checked vocabulary, or None when they have none."""
    key = vocabulary_key(user_id)
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("NoSuchKey", "404", "NotFound"):
            return None
        raise
    if int(response.get("ContentLength") or 0) > MAX_VOCABULARY_BYTES:  # not read into memory at all
        raise _invalid(key, "", f"the file is {response['ContentLength']} bytes; the limit is {MAX_VOCABULARY_BYTES}")
    return parse_vocabulary(response["Body"].read(MAX_VOCABULARY_BYTES + 1), key)


def with_user_vocabulary(options: dict[str, Any], s3, bucket: str, user_id: str) -> dict[str, Any]:
    """The job's options with the user's vocabulary added as `vocabulary` (unchanged when they have none)."""
    vocabulary = load_user_vocabulary(s3, bucket, user_id)
    return {**options, "vocabulary": vocabulary} if vocabulary else options


def job_terms(options: dict[str, Any]) -> list[str]:
    """The user's terms, then the job's own `terms` option, each once (ignoring case), in that order."""
    seen: dict[str, str] = {}
    for term in [*(options.get("vocabulary") or {}).get("terms", ()), *options.get("terms", ())]:
        seen.setdefault(term.strip().casefold(), term.strip())
    return list(seen.values())
