"""What the store accepts as text and as values: plain JSON that PostgreSQL can hold.

An item's value is a JSON object, stored as it is (LangGraph's PostgresStore needs JSON values
too): strings, finite numbers, booleans, null, lists and objects with string keys. PostgreSQL's
text and jsonb cannot hold a NUL character, and UTF-8 cannot encode a lone surrogate. A value
that breaks a rule is refused before anything is written, saying where (``$.a[2]``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from duragraph_lab.domain.errors import DuraGraphError


class InvalidStoreRequest(DuraGraphError, ValueError):
    """A store operation that cannot be carried out as asked (a namespace label with a period, a
    value that is not JSON, an unsupported filter operator, ...): nothing was read or written."""

    code = "validation_error"
    http_status = 422


def check_text(text: str, what: str) -> str:
    """``text`` if PostgreSQL can store it."""
    if "\x00" in text:
        raise InvalidStoreRequest(f"{what} contains a NUL character, which PostgreSQL cannot store")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidStoreRequest(f"{what} contains a lone surrogate, which is not valid UTF-8") from None
    return text


def encode_value(value: Any) -> str:
    """An item's value as JSON text (an object)."""
    if not isinstance(value, Mapping):
        raise InvalidStoreRequest(f"an item's value is a JSON object (a mapping), not {type(value).__name__}")
    try:
        check_json(value)
    except RecursionError:
        raise InvalidStoreRequest("the value is nested too deeply") from None
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def check_json(value: Any, path: str = "$") -> None:
    """Raise :class:`InvalidStoreRequest` naming the first place where ``value`` is not plain
    JSON that PostgreSQL can store."""
    if value is None or isinstance(value, (bool, int)):
        return
    if isinstance(value, str):
        check_text(value, f"the string at {path}")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidStoreRequest(f"the number at {path} is {value!r}, which JSON cannot hold")
    elif isinstance(value, Mapping):
        for key, sub in value.items():
            if not isinstance(key, str):
                raise InvalidStoreRequest(f"the key {key!r} at {path} is not a string")
            check_text(key, f"the key {key!r} at {path}")
            check_json(sub, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, sub in enumerate(value):
            check_json(sub, f"{path}[{index}]")
    else:
        raise InvalidStoreRequest(
            f"the value at {path} is a {type(value).__module__}.{type(value).__qualname__}, "
            "not JSON (strings, numbers, booleans, null, lists and objects)"
        )
