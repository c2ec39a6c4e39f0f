"""The TypeScript mirror of the payload types, for the front end (extension/src/event_types.ts).

``python -m duragraph_lab.domain.events.typescript > extension/src/event_types.ts`` writes it;
tests/unit/test_event_types.py checks that the file is the one this renders.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints, is_typeddict

from duragraph_lab.domain.events.catalogue import CATALOGUE

HEADER = (
    "// Generated from duragraph_lab/domain/events by\n"
    "// `python -m duragraph_lab.domain.events.typescript > extension/src/event_types.ts`: do not edit.\n"
    "// The payload (`data`) of each event type, as stored. A payload read from the log may be older\n"
    "// or malformed: read it as Partial<...> and check what you use.\n"
)


def _ts(annotation: Any, named: dict[str, type]) -> str:
    if annotation is Any:
        return "unknown"
    if annotation is type(None) or annotation is None:
        return "null"
    if annotation is str:
        return "string"
    if annotation in (int, float):
        return "number"
    if annotation is bool:
        return "boolean"
    if is_typeddict(annotation):
        named.setdefault(annotation.__name__, annotation)
        return str(annotation.__name__)
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return " | ".join(f'"{a}"' if isinstance(a, str) else str(a).lower() for a in args)
    if origin in (Union, types.UnionType):
        return " | ".join(_ts(a, named) for a in args)
    if origin is list:
        item = _ts(args[0], named)
        return f"({item})[]" if " | " in item else f"{item}[]"
    if origin is dict:
        return f"Record<string, {_ts(args[1], named)}>"
    raise TypeError(f"no TypeScript for {annotation!r}")


def _interface(payload: type, named: dict[str, type], comment: str | None) -> str:
    hints = get_type_hints(payload)
    optional = typing.cast(frozenset[str], getattr(payload, "__optional_keys__", frozenset()))
    lines = [f"/** {comment} */"] if comment else []
    if not hints:
        return "\n".join([*lines, f"export type {payload.__name__} = Record<string, never>;"])
    lines.append(f"export interface {payload.__name__} {{")
    for key, annotation in hints.items():
        lines.append(f"  {key}{'?' if key in optional else ''}: {_ts(annotation, named)};")
    lines.append("}")
    return "\n".join(lines)


def render() -> str:
    """The whole file: one interface per payload (and per nested TypedDict), then the map from
    type name to payload, the stream kind of each type and the list of types."""
    named: dict[str, type] = {}
    blocks = []
    for spec in CATALOGUE.values():
        comment = f"{spec.type}: {spec.description} ({spec.stream_kind} streams)"
        blocks.append(_interface(spec.payload, named, comment))
    nested = []
    done: set[str] = set()
    while len(done) < len(named):
        for name, td in sorted(named.items()):
            if name not in done:
                done.add(name)
                doc = (td.__doc__ or "").strip()
                nested.append(_interface(td, named, doc.splitlines()[0] if doc else None))
    out = [HEADER, *nested, *blocks]
    out.append("/** Each event type's payload. */\nexport interface EventPayloads {")
    out += [f"  {spec.type}: {spec.payload.__name__};" for spec in CATALOGUE.values()]
    out.append("}\n\nexport type EventType = keyof EventPayloads;\n")
    out.append("/** The stream kind (the prefix of the stream id) of each event type. */")
    out.append("export const EVENT_STREAM_KINDS: Record<EventType, string> = {")
    out += [f'  {spec.type}: "{spec.stream_kind}",' for spec in CATALOGUE.values()]
    out.append("};")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(render(), end="")
