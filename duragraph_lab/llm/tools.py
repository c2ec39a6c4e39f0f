"""Tools a model may call: a :class:`Tool` (name, description, JSON schema, function), the
:func:`tool` decorator that builds one from a function, and :func:`run_tool_calls`."""

from __future__ import annotations

import asyncio
import inspect
import json
import time
import types
import typing
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, overload

from duragraph_lab.graph.context import current_context
from duragraph_lab.llm.messages import Message, as_message_dict


@dataclass(frozen=True, slots=True, eq=False)
class Tool:
    """A function a model may call. ``parameters`` is the JSON schema of its keyword arguments."""

    name: str
    description: str
    parameters: dict[str, Any]
    fn: Callable[..., Any]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    async def arun(self, args: Mapping[str, Any]) -> Any:
        """Call the function with ``args`` as keyword arguments; awaits async functions and runs
        sync ones in a thread (so a slow tool does not block the event loop)."""
        if inspect.iscoroutinefunction(self.fn):
            return await self.fn(**args)
        result = await asyncio.to_thread(self.fn, **args)
        if inspect.isawaitable(result):
            result = await result
        return result


@overload
def tool(fn: Callable[..., Any], /) -> Tool: ...
@overload
def tool(
    *, name: str | None = None, description: str | None = None
) -> Callable[[Callable[..., Any]], Tool]: ...
def tool(
    fn: Callable[..., Any] | None = None, /, *, name: str | None = None, description: str | None = None
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """``@tool`` or ``@tool(name=..., description=...)``: a :class:`Tool` named after the function,
    described by the first line of its docstring, with a schema built from its signature (str,
    int, float, bool, list, dict, ``X | None``, ``Literal``; parameters without a default are
    required)."""

    def build(f: Callable[..., Any]) -> Tool:
        doc = inspect.getdoc(f) or ""
        return Tool(
            name=name or f.__name__,
            description=description if description is not None else (doc.strip().splitlines() or [""])[0],
            parameters=parameters_schema(f),
            fn=f,
        )

    return build(fn) if fn is not None else build


def parameters_schema(fn: Callable[..., Any]) -> dict[str, Any]:
    """The JSON schema (an object) of ``fn``'s parameters."""
    hints = typing.get_type_hints(fn)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY):
            continue  # cannot be passed by name from a model's JSON arguments
        schema = json_schema(hints.get(p.name, Any))
        if p.default is p.empty:
            required.append(p.name)
        elif isinstance(p.default, (str, int, float, bool)) or p.default is None:
            schema = {**schema, "default": p.default}
        properties[p.name] = schema
    return {"type": "object", "properties": properties, "required": required}


_SCALARS: dict[Any, str] = {str: "string", bool: "boolean", int: "integer", float: "number"}


def json_schema(hint: Any) -> dict[str, Any]:
    """The JSON schema of one annotation (``{}``, i.e. anything, when it has no JSON equivalent)."""
    if hint in _SCALARS:
        return {"type": _SCALARS[hint]}
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is list or origin is list:
        return {"type": "array", "items": json_schema(args[0])} if args else {"type": "array"}
    if hint is dict or origin is dict:
        return {"type": "object"}
    if origin is Literal:
        return {"enum": list(args)}
    if origin in (typing.Union, types.UnionType):
        options = [a for a in args if a is not type(None)]
        return json_schema(options[0]) if len(options) == 1 else {"anyOf": [json_schema(a) for a in options]}
    return {}


async def run_tool_calls(message: Any, tools: Iterable[Tool] | Mapping[str, Tool]) -> list[Message]:
    """Run every tool call of an AI message, in order, and return one tool message per call:
    ``{"type": "tool", "content": str, "tool_call_id", "name", "id"}``. The id is derived from the
    AI message's id and the call, so a re-executed node gives the same ids. A tool that raises,
    an unknown tool or bad arguments give a tool message with the error text and
    ``"status": "error"`` (the model can recover), never an exception."""
    ai = as_message_dict(message)
    by_name = dict(tools) if isinstance(tools, Mapping) else {t.name: t for t in tools}
    ctx = current_context()
    out: list[Message] = []
    for i, call in enumerate(ai.get("tool_calls") or []):
        started = time.time()
        result = await _run_one(call, by_name, str(ai.get("id") or ""), i)
        if ctx is not None:
            # Timed one by one, recorded with the task's result (node_completed's tool_calls).
            record: dict[str, Any] = {
                "name": result.get("name"),
                "id": result.get("tool_call_id") or None,
                "started_at": started,
                "finished_at": time.time(),
            }
            if result.get("status") == "error":
                record["error"] = str(result.get("content") or "error")[:500]
            ctx.recorded_tools.append({k: v for k, v in record.items() if v is not None})
        out.append(result)
    return out


async def _run_one(call: Any, tools: Mapping[str, Tool], ai_id: str, index: int) -> Message:
    call = call if isinstance(call, dict) else {}
    name = str(call.get("name", ""))
    call_id = str(call.get("id") or "")
    out: Message = {
        "type": "tool",
        "content": "",
        "tool_call_id": call_id,
        "name": name,
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{ai_id}/tool_result/{index}/{call_id}")),
    }
    found = tools.get(name)
    if found is None:
        return {
            **out,
            "content": f"Error: no tool named {name!r}; available: {', '.join(tools)}",
            "status": "error",
        }
    try:
        args = call.get("args") or {}
        if isinstance(args, str):
            args = json.loads(args)
        if not isinstance(args, dict):
            raise TypeError(f"arguments must be a JSON object, got {args!r:.200}")
        result = await found.arun(args)
    except Exception as err:
        return {**out, "content": f"Error: {type(err).__name__}: {err}", "status": "error"}
    return {**out, "content": _as_text(result)}


def _as_text(result: Any) -> str:
    # Dicts and lists as JSON: a model reads that better than Python's repr.
    if isinstance(result, (dict, list)):
        try:
            return json.dumps(result, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            return str(result)
    return str(result)
