"""Task tokens out of what the tooling shows: a task token is a bearer credential for one job (whoever holds it can
complete or fail the job), and Step Functions keeps both of ours in the execution history: the claim token in
WaitForWorker's SQS message body (`claimToken`) and the supervised token in Transcribe's DynamoDB parameters
(`":token": {"S": …}`, stored as `workToken`).

History event details nest JSON inside strings (`parameters`, `input`, `output`), so values are parsed and walked,
not pattern-matched: anything under a key that names a token is replaced, however deep and however encoded.
"""
from __future__ import annotations

import json
import re
from typing import Any

REDACTED = "<redacted>"
_TOKEN_KEY = re.compile(r"token", re.IGNORECASE)


def redact_tokens(value: Any, under_token_key: bool = False) -> Any:
    """A copy of `value` (dicts, lists, JSON text) with every value under a *token* key replaced by REDACTED."""
    if isinstance(value, dict):
        return {key: redact_tokens(item, under_token_key or bool(_TOKEN_KEY.search(str(key)))) for key, item in value.items()}
    if isinstance(value, list):
        return [redact_tokens(item, under_token_key) for item in value]
    if isinstance(value, str):
        if under_token_key:
            return REDACTED
        if value.lstrip()[:1] in ("{", "["):
            try:
                parsed = json.loads(value)
            except ValueError:
                return value
            return json.dumps(redact_tokens(parsed), separators=(",", ":"))
    return value


def history_event_text(event: dict[str, Any]) -> str:
    """One execution history event's details as JSON text with both task tokens redacted."""
    details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
    return json.dumps(redact_tokens(details), default=str)
