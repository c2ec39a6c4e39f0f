"""Chat messages in state values, readable the LangGraph way and still plain JSON.

The server sends messages as dicts (``{"type": "ai", "content": ..., "tool_calls": [...]}``).
:class:`Message` is such a dict that also answers ``msg.content``, ``msg.type``,
``msg.tool_calls``, ``msg.id`` like a LangChain message does, so code written against LangGraph
reads our values unchanged, while ``json.dumps``, ``==`` with a dict and pandas still see a dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MESSAGE_TYPES = frozenset({"human", "ai", "system", "tool", "function", "chat", "remove"})

#: What a LangChain message answers for a field the dict does not carry.
_DEFAULTS: dict[str, Any] = {
    "tool_calls": [],
    "invalid_tool_calls": [],
    "additional_kwargs": {},
    "response_metadata": {},
    "id": None,
    "name": None,
    "tool_call_id": None,
    "usage_metadata": None,
}


class Message(dict[str, Any]):
    """A message dict with attribute access (``msg.content`` is ``msg["content"]``)."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if name in self:
            return self[name]
        if name in _DEFAULTS:
            default = _DEFAULTS[name]
            return type(default)() if isinstance(default, (list, dict)) else default
        raise AttributeError(f"message has no field {name!r} (it has {', '.join(sorted(self))})")

    @property
    def text(self) -> str:
        """The content as text: a string as is, the text parts of a list of content blocks joined."""
        content = self.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "".join(
                str(part.get("text", "")) if isinstance(part, Mapping) else str(part) for part in content
            )
        return "" if content is None else str(content)


def is_message(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and value.get("type") in MESSAGE_TYPES
        and "content" in value
        and not isinstance(value, Message)
    )


def with_messages(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with every message (a top-level value, or an item of a top-level list) as a
    :class:`Message`; anything else untouched. The dict is changed in place and returned."""
    for key, value in values.items():
        if is_message(value):
            values[key] = Message(value)
        elif isinstance(value, list) and any(is_message(item) for item in value):
            values[key] = [Message(item) if is_message(item) else item for item in value]
    return values
