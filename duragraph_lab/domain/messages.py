"""Chat messages as plain dicts, in the shape LangGraph clients see in thread state.

``{"type": "human" | "ai" | "system" | "tool", "content": ..., "id": ..., ...}`` plus, for AI
messages, ``tool_calls`` and, for tool messages, ``tool_call_id``. Users may write messages as
such dicts, as OpenAI-style ``{"role": "user", "content": ...}``, as ``(role, content)`` tuples or
as bare strings (a human message); :func:`coerce_message` turns all of them into the canonical dict.
Objects with ``type``/``content``/``id`` attributes (LangChain messages) are kept as they are.
"""

from __future__ import annotations

import uuid
from typing import Any

_ROLE_TO_TYPE = {
    "user": "human",
    "human": "human",
    "assistant": "ai",
    "ai": "ai",
    "system": "system",
    "developer": "system",
    "tool": "tool",
    "function": "tool",
    "remove": "remove",
}
#: ``{"type": "remove", "id": REMOVE_ALL}`` in an update clears the whole message list.
REMOVE_ALL = "__remove_all__"


class InvalidMessage(ValueError):
    """A value that cannot be read as a chat message."""


def message(type: str, content: Any, *, id: str | None = None, **extra: Any) -> dict[str, Any]:
    """Build a canonical message dict."""
    out: dict[str, Any] = {"type": type, "content": content, "id": id or str(uuid.uuid4())}
    out.update({k: v for k, v in extra.items() if v is not None})
    return out


def remove_message(id: str) -> dict[str, Any]:
    """An update entry that deletes the message with ``id`` (``REMOVE_ALL``: every message)."""
    return {"type": "remove", "id": id, "content": ""}


def coerce_message(value: Any) -> Any:
    """The canonical form of one message (see the module docstring). Never assigns an id."""
    if isinstance(value, str):
        return {"type": "human", "content": value}
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        role, content = value
        return {"type": _role(role), "content": content}
    if isinstance(value, dict):
        kind = value.get("type") or value.get("role")
        if not isinstance(kind, str):
            raise InvalidMessage(f"a message dict needs a 'type' or 'role', got keys {sorted(value)}")
        out = {k: v for k, v in value.items() if k != "role"}
        out["type"] = _role(kind)
        out.setdefault("content", "")
        return out
    if hasattr(value, "type") and hasattr(value, "content") and hasattr(value, "id"):
        return value  # a LangChain message object: keep it
    raise InvalidMessage(f"cannot read {type(value).__name__} {value!r:.80} as a chat message")


def _role(role: str) -> str:
    try:
        return _ROLE_TO_TYPE[role]
    except KeyError:
        raise InvalidMessage(f"unknown message role {role!r}") from None


def message_id(m: Any) -> Any:
    return m.get("id") if isinstance(m, dict) else getattr(m, "id", None)


def with_id(m: Any, new_id: str) -> Any:
    if isinstance(m, dict):
        return {**m, "id": new_id}
    m.id = new_id
    return m
