"""The OpenAI Chat Completions wire format: canonical messages and tools out, streamed
(server-sent events) or whole completions in."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from duragraph_lab.llm.errors import ModelResponseError
from duragraph_lab.llm.messages import Message, text_of
from duragraph_lab.llm.tools import Tool

_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


def to_openai_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Canonical messages as Chat Completions ``messages``. Raises ``ValueError`` on a message
    type OpenAI has no role for."""
    return [to_openai_message(m) for m in messages]


def to_openai_message(m: Message) -> dict[str, Any]:
    kind = m.get("type")
    role = _ROLES.get(str(kind))
    if role is None:
        raise ValueError(f"cannot send a {kind!r} message to an OpenAI-compatible model")
    content = m.get("content")
    if role == "tool":
        return {"role": "tool", "tool_call_id": str(m.get("tool_call_id", "")), "content": text_of(content)}
    if role == "assistant":
        out: dict[str, Any] = {"role": "assistant", "content": text_of(content)}
        calls = m.get("tool_calls") or []
        if calls:
            out["content"] = out["content"] or None  # OpenAI's own shape for a pure tool call
            out["tool_calls"] = [
                {
                    "id": c["id"],
                    "type": "function",
                    "function": {"name": c["name"], "arguments": json.dumps(c.get("args") or {})},
                }
                for c in calls
            ]
        return out
    # user and system content may be a list of parts (images, ...): sent as it is.
    return {"role": role, "content": content if isinstance(content, (str, list)) else text_of(content)}


def to_openai_tools(tools: Sequence[Tool]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
        }
        for t in tools
    ]


#: What :func:`parse_sse_line` returns for ``data: [DONE]``.
DONE: dict[str, Any] = {"__done__": True}


def parse_sse_line(line: str) -> dict[str, Any] | None:
    """One line of the event stream: the JSON of a ``data:`` line, :data:`DONE` at the end,
    ``None`` for anything else (blank lines, comments, ``event:`` / ``id:`` fields)."""
    if not line.startswith("data:"):
        return None
    data = line[5:].strip()
    if data == "[DONE]":
        return DONE
    if not data:
        return None
    try:
        chunk = json.loads(data)
    except json.JSONDecodeError as err:
        raise ModelResponseError(f"malformed event from the model stream: {data[:200]!r}") from err
    if not isinstance(chunk, dict):
        raise ModelResponseError(f"unexpected event from the model stream: {data[:200]!r}")
    return chunk


@dataclass
class _PartialCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass
class CompletionAccumulator:
    """Assembles a streamed completion: content deltas, and tool calls whose id, name and
    argument fragments arrive in pieces keyed by their ``index``."""

    content: list[str] = field(default_factory=list)
    calls: dict[int, _PartialCall] = field(default_factory=dict)
    #: What the server reported, when it did: the last chunk's ``usage`` (sent when the request
    #: asks ``stream_options.include_usage``), the first choice's ``finish_reason``, ``model``.
    usage: dict[str, int] | None = None
    finish_reason: str | None = None
    model: str | None = None

    def add_chunk(self, chunk: dict[str, Any]) -> str:
        """Take one ``chat.completion.chunk``; return its content delta ("" when none)."""
        if chunk.get("error"):
            raise ModelResponseError(f"the model stream reported an error: {chunk['error']!r:.500}")
        delta_text = ""
        self._add_accounting(chunk)
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue  # only the first choice is used
            if isinstance(choice.get("finish_reason"), str):
                self.finish_reason = choice["finish_reason"]
            delta = choice.get("delta") or {}
            if isinstance(delta.get("content"), str):
                delta_text += delta["content"]
            for call in delta.get("tool_calls") or []:
                self._add_call_delta(call)
        if delta_text:
            self.content.append(delta_text)
        return delta_text

    def _add_accounting(self, chunk: dict[str, Any]) -> None:
        if isinstance(chunk.get("model"), str) and chunk["model"]:
            self.model = chunk["model"]
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            given = usage.get("prompt_tokens", usage.get("input_tokens"))
            made = usage.get("completion_tokens", usage.get("output_tokens"))
            if isinstance(given, int) and isinstance(made, int):
                self.usage = {"input_tokens": given, "output_tokens": made}

    def _add_call_delta(self, call: dict[str, Any]) -> None:
        partial = self.calls.setdefault(int(call.get("index", len(self.calls))), _PartialCall())
        if call.get("id"):
            partial.id = str(call["id"])
        function = call.get("function") or {}
        if function.get("name"):
            partial.name += str(function["name"])
        if function.get("arguments"):
            partial.arguments.append(str(function["arguments"]))

    def message(self) -> Message:
        """``{"content", "tool_calls"}`` with arguments parsed; malformed arguments raise
        :class:`ModelResponseError`."""
        calls = []
        for index in sorted(self.calls):
            partial = self.calls[index]
            if not partial.name:
                raise ModelResponseError(f"the model streamed tool call #{index} without a name")
            calls.append({"id": partial.id, "name": partial.name, "args": _arguments(partial)})
        message: Message = {"content": "".join(self.content), "tool_calls": calls}
        if self.usage is not None:
            message["usage"] = self.usage
        if self.finish_reason is not None:
            message["finish_reason"] = self.finish_reason
        if self.model is not None:
            message["response_model"] = self.model
        return message


def from_openai_completion(body: Any) -> Message:
    """``{"content", "tool_calls"}`` of a whole (non-streamed) completion (and ``usage``,
    ``finish_reason``, ``response_model`` when it has them)."""
    try:
        message = body["choices"][0]["message"]
    except (KeyError, IndexError, TypeError):
        raise ModelResponseError(f"unexpected completion from the model: {body!r:.500}") from None
    acc = CompletionAccumulator()
    acc.add_chunk(
        {
            "choices": [
                {
                    "index": 0,
                    "delta": {"content": message.get("content")},
                    "finish_reason": body["choices"][0].get("finish_reason"),
                }
            ],
            "usage": body.get("usage"),
            "model": body.get("model"),
        }
    )
    for i, call in enumerate(message.get("tool_calls") or []):
        acc._add_call_delta({**call, "index": i})
    return acc.message()


def _arguments(partial: _PartialCall) -> dict[str, Any]:
    text = "".join(partial.arguments).strip()
    if not text:
        return {}
    try:
        args = json.loads(text)
    except json.JSONDecodeError:
        args = None
    if not isinstance(args, dict):
        raise ModelResponseError(
            f"the model called {partial.name!r} with arguments that are not a JSON object: {text[:200]!r}"
        )
    return args
