"""The JSON Schemas every component validates with, loaded by file name; `registry()` lets one refer to another."""
from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from referencing import Registry, Resource


@cache
def load(name: str) -> dict[str, Any]:
    """The schema in this package named e.g. 'options.schema.json'."""
    return json.loads(resources.files(__name__).joinpath(name).read_text(encoding="utf-8"))


@cache
def registry() -> Registry:
    """Every schema here under its $id, so a relative $ref ('vocabulary.schema.json') resolves without a network."""
    names = [entry.name for entry in resources.files(__name__).iterdir() if entry.name.endswith(".schema.json")]
    return Registry().with_resources((load(name)["$id"], Resource.from_contents(load(name))) for name in names)
