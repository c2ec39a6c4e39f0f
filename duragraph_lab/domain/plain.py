"""Plain JSON values from whatever the state holds: what API responses, dataset examples and
experiment results carry.

State values come back from the log as Python objects (datetimes, UUIDs, bytes, dataclasses,
tuples, ...). As plain JSON they become ISO 8601 datetimes, strings for UUIDs, base64 for bytes,
objects for dataclasses and pydantic/LangChain models. This is a one-way presentation; the log
keeps the exact types (see :mod:`duragraph_lab.domain.codec` for the round trip).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import decimal
import enum
import math
import uuid
from collections.abc import Mapping
from typing import Any


def plain(value: Any) -> Any:
    """``value`` as JSON-ready builtins (recursively)."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return plain(value._asdict())
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    return plain(_convert(value))


def _convert(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, decimal.Decimal):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    dump = getattr(value, "model_dump", None)  # pydantic v2 (LangChain messages)
    if callable(dump):
        return dump()
    to_json = getattr(value, "to_json", None)
    if callable(to_json):
        return to_json()
    return repr(value)


def iso(value: Any) -> str | None:
    """A timestamp (datetime or epoch seconds) as ISO 8601 with the offset."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, dt.UTC).isoformat()
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)
