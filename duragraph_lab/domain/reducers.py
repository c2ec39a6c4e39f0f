"""Built-in reducers, by name.

A state key without a reducer keeps the last value written ("replace"; two writes in one step are
an error). ``Annotated[list, operator.add]`` is "add"; ``Annotated[list, add_messages]`` is
"add_messages". Any other callable is "custom": its results are recorded in the event log,
because a reader (the API, a notebook) may not have the user's code.

The engine and :func:`duragraph_lab.domain.run.fold` use these same functions, so the state a
worker computed and the state a reader folds from the log are equal.
"""

from __future__ import annotations

import operator
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from duragraph_lab.domain.copies import state_copy
from duragraph_lab.domain.messages import REMOVE_ALL, coerce_message, message_id, with_id

REPLACE = "replace"
ADD = "add"
ADD_MESSAGES = "add_messages"
CUSTOM = "custom"
BUILTIN = (REPLACE, ADD, ADD_MESSAGES)


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, tuple) and not (len(value) == 2 and isinstance(value[0], str)):
        return list(value)
    return [value]


def normalize_messages(update: Any, make_id: Callable[[int], str] | None = None) -> list[Any]:
    """Coerce an ``add_messages`` update to canonical messages, each with an id.

    Ids are assigned here, before the update is recorded, so that folding the log later gives
    the very same ids. ``make_id(i)`` chooses the id of the i-th message lacking one.
    """
    out = []
    for i, raw in enumerate(_as_list(update)):
        m = coerce_message(raw)
        if message_id(m) is None:
            m = with_id(m, make_id(i) if make_id else str(uuid.uuid4()))
        out.append(m)
    return out


#: The message types of the canonical form (messages.coerce_message): a type its own role maps to.
_CANONICAL_TYPES = frozenset({"human", "ai", "system", "tool"})


def _state_messages(left: Any) -> list[Any]:
    """``normalize_messages(left)`` for the list a state holds: its messages are canonical
    already (the reducer made them so), and are kept as they are rather than made again one by
    one (a long conversation's whole list is merged at every step); others are normalized."""
    if type(left) is not list:
        return normalize_messages(left)
    out = []
    for m in left:
        if (
            type(m) is dict
            and m.get("type") in _CANONICAL_TYPES
            and "content" in m
            and "role" not in m
            and m.get("id") is not None
        ):
            out.append(m)
        else:
            out.extend(normalize_messages([m]))
    return out


def add_messages(left: Any, right: Any) -> list[Any]:
    """Merge message lists by id: a message whose id exists replaces it in place, others are
    appended; ``{"type": "remove", "id": X}`` deletes X (``REMOVE_ALL``: everything before it)."""
    merged = _state_messages(left or [])
    incoming = normalize_messages(right or [])
    for i, m in enumerate(incoming):
        if isinstance(m, dict) and m.get("type") == "remove" and m.get("id") == REMOVE_ALL:
            merged, incoming = [], incoming[i + 1 :]
            break
    index = {message_id(m): i for i, m in enumerate(merged)}
    removed: set[Any] = set()
    for m in incoming:
        mid = message_id(m)
        if isinstance(m, dict) and m.get("type") == "remove":
            if mid not in index:
                raise ValueError(f"cannot remove message {mid!r}: no such message")
            removed.add(mid)
            continue
        if mid in index:
            merged[index[mid]] = m
        else:
            index[mid] = len(merged)
            merged.append(m)
    return [m for m in merged if message_id(m) not in removed] if removed else merged


add_messages.__duragraph_reducer__ = ADD_MESSAGES  # type: ignore[attr-defined]

_BY_NAME: dict[str, Callable[[Any, Any], Any]] = {ADD: operator.add, ADD_MESSAGES: add_messages}


def reducer_name(fn: Callable[..., Any]) -> str:
    """The built-in name of a reducer function, or ``"custom"``."""
    if fn is operator.add or fn is operator.concat:
        return ADD
    name = getattr(fn, "__duragraph_reducer__", None)
    if name == ADD_MESSAGES or getattr(fn, "__name__", "") == "add_messages":
        # LangGraph's own add_messages behaves the same way on our canonical messages.
        return ADD_MESSAGES
    return CUSTOM


def builtin(name: str) -> Callable[[Any, Any], Any]:
    return _BY_NAME[name]


class InvalidUpdate(ValueError):
    """A node wrote something the state cannot take."""


def apply_writes(
    values: Mapping[str, Any],
    writes: Iterable[tuple[str, Mapping[str, Any]]],
    channels: Mapping[str, str],
    *,
    custom: Mapping[str, Callable[[Any, Any], Any]] | None = None,
) -> dict[str, Any]:
    """Apply the updates of one step, in order, to ``values``; return the new values.

    ``writes`` is ``(writer, update)`` pairs. "replace" keys accept one write per step. Keys with
    custom reducers are reduced with ``custom[key]`` when given, else left alone (the caller
    takes their recorded values from the log).
    """
    new = dict(values)
    replaced: dict[str, str] = {}
    for writer, update in writes:
        for key, value in update.items():
            kind = channels.get(key)
            if kind is None:
                raise InvalidUpdate(
                    f"{writer} wrote unknown state key {key!r}; the state has {sorted(channels)}"
                )
            if kind == REPLACE:
                if key in replaced:
                    raise InvalidUpdate(
                        f"state key {key!r} was written by both {replaced[key]} and {writer} in one step; "
                        "give it a reducer (Annotated[..., reducer]) to combine the writes"
                    )
                replaced[key] = writer
                new[key] = value
            elif kind == CUSTOM:
                fn = (custom or {}).get(key)
                if fn is not None:
                    # A copy: a reducer that changes its first argument in place must not change
                    # the state the step started from (or the value would be applied twice).
                    new[key] = fn(state_copy(new[key]), value) if key in new else value
            else:
                new[key] = _BY_NAME[kind](new[key], value) if key in new else _initial(kind, value)
    return new


def written_keys(
    writes: Iterable[tuple[str, Mapping[str, Any]]], channels: Mapping[str, str], kind: str
) -> list[str]:
    """The keys of channel ``kind`` that these writes touch, in first-write order."""
    seen: dict[str, None] = {}
    for _, update in writes:
        for key in update:
            if channels.get(key) == kind:
                seen.setdefault(key, None)
    return list(seen)


def _initial(kind: str, value: Any) -> Any:
    # A fresh container: the state must not share lists with recorded event data, or a node that
    # mutates its input in place would change the log's copy too.
    if kind == ADD_MESSAGES:
        return add_messages([], value)
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return value
