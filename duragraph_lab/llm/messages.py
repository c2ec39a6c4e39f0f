"""Message helpers shared by the model clients: canonical dicts, text, tool calls."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from duragraph_lab.domain.messages import coerce_message

#: A canonical message dict (see :mod:`duragraph_lab.domain.messages`).
Message = dict[str, Any]


def as_message_dict(value: Any) -> Message:
    """The canonical dict of one message; message objects (LangChain) become plain dicts so
    they can be recorded in the run log."""
    m = coerce_message(value)
    if isinstance(m, dict):
        return dict(m)
    out: Message = {"type": m.type, "content": m.content, "id": m.id}
    for key in ("tool_calls", "tool_call_id", "name"):
        extra = getattr(m, key, None)
        if extra:
            out[key] = extra
    return out


def as_message_dicts(values: Iterable[Any]) -> list[Message]:
    return [as_message_dict(v) for v in values]


def text_of(content: Any) -> str:
    """The text of a message's content: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        return "".join(parts)
    return "" if content is None else str(content)


def tool_call_id(message_id: str, index: int) -> str:
    """A tool-call id derived from its message, for models that give none (stable on replay)."""
    return "call_" + uuid.uuid5(uuid.NAMESPACE_URL, f"{message_id}/tool_call/{index}").hex[:24]


def normalize_tool_calls(calls: Sequence[Any] | None, message_id: str) -> list[dict[str, Any]]:
    """``[{"id", "name", "args": dict}]``; ``args`` given as a JSON string is parsed, a missing
    id is derived from the message id. Raises ``ValueError`` on a call without a name or with
    arguments that are not a JSON object."""
    out: list[dict[str, Any]] = []
    for i, call in enumerate(calls or []):
        if not isinstance(call, dict) or not isinstance(call.get("name"), str) or not call["name"]:
            raise ValueError(f"tool call #{i} has no name: {call!r:.200}")
        args = call.get("args", {})
        if isinstance(args, str):
            args = json.loads(args) if args.strip() else {}
        if not isinstance(args, dict):
            raise ValueError(
                f"tool call {call['name']!r}: arguments must be a JSON object, got {args!r:.200}"
            )
        out.append(
            {"id": str(call.get("id") or tool_call_id(message_id, i)), "name": call["name"], "args": args}
        )
    return out


def ai_message(content: str, tool_calls: Sequence[Any] | None, message_id: str) -> Message:
    """A canonical AI message (``tool_calls`` always present, possibly empty)."""
    return {
        "type": "ai",
        "content": content,
        "id": message_id,
        "tool_calls": normalize_tool_calls(tool_calls, message_id),
    }
