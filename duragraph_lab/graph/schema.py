"""JSON Schemas for a graph's state, as LangGraph servers serve them at
``GET /assistants/{id}/schemas``.

:func:`state_json_schema` turns the state type given to ``StateGraph(State)`` (a ``TypedDict``,
usually) into a JSON Schema (draft 2020-12) of the state *as JSON*: the form the API serves and
accepts, so a datetime is a string with ``"format": "date-time"``, a tuple or a set is an array and
bytes are base64 text. Nested ``TypedDict``s, dataclasses, named tuples and enums become ``$defs``
entries referred to by ``$ref`` (which is also how recursive types are described). A key whose
reducer is ``add_messages`` is an array of chat messages (see :mod:`duragraph_lab.domain.messages`),
and with ``channels`` every key carries its reducer kind as ``"x-reducer"``.

Schema generation never raises: a type it cannot describe becomes ``{}`` (any value) with its
Python spelling under ``"x-python-type"``, so an exotic annotation never stops a graph from
being registered.
"""

from __future__ import annotations

import collections
import collections.abc as cabc
import dataclasses
import datetime as dt
import decimal
import enum
import math
import sys
import types
import typing
import uuid
from collections.abc import Callable, Mapping
from typing import Annotated, Any, ForwardRef, Literal, get_args, get_origin

from duragraph_lab.domain import reducers as red

__all__ = ["message_json_schema", "state_json_schema", "with_property_order"]

#: The message types a canonical message may have (``remove`` only in updates).
MESSAGE_TYPES = ("human", "ai", "system", "tool", "remove")
_MESSAGE_DEF = "Message"
_MAX_REPR = 200
_JSON_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),
)


def with_property_order(schema: Any) -> Any:
    """``schema`` with ``"x-order"``: its top-level property names in declaration order. The
    schema is stored as PostgreSQL ``jsonb``, which keeps an object's keys in its own order (short
    keys first), so a form built from the served schema would list the keys out of order without
    it. Anything that is not an object schema with properties is returned as it is."""
    if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
        return schema
    return {**schema, "x-order": list(schema["properties"])}


def message_json_schema() -> dict[str, Any]:
    """The schema of one canonical chat message: ``{"type", "content", "id", ...}``; AI messages
    may have ``tool_calls``, tool messages ``tool_call_id``. Other keys are allowed."""
    return {
        "title": _MESSAGE_DEF,
        "type": "object",
        "properties": {
            "type": {"type": "string", "enum": list(MESSAGE_TYPES)},
            "content": {"anyOf": [{"type": "string"}, {"type": "array", "items": {}}]},
            "id": {"type": "string"},
            "name": {"type": "string"},
            "tool_calls": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "name": {"type": "string"},
                        "args": {"type": "object"},
                    },
                    "required": ["name"],
                },
            },
            "tool_call_id": {"type": "string"},
        },
        "required": ["type", "content"],
    }


def state_json_schema(
    state_type: Any, channels: Mapping[str, str] | None = None, *, title: str | None = None
) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) of a graph state: ``{"title", "type": "object",
    "properties", "required", "$defs"?}``.

    ``state_type`` is the type given to ``StateGraph``: a ``TypedDict`` (or a dataclass), or a
    plain ``dict``/``None``, in which case the properties are ``channels``' keys, unconstrained.
    ``channels`` maps each key to its reducer kind (``GraphSpec.channels``: replace, add,
    add_messages or custom); each property then has ``"x-reducer"``. Never raises.
    """
    channels = dict(channels or {})
    try:
        return _Builder(state_type).root(channels, title)
    except Exception:  # a schema must never break graph registration (RecursionError included)
        return _channels_only(state_type, channels, title, describe_type=True)


# -- helpers ---------------------------------------------------------------------------------


def _type_repr(tp: Any) -> str:
    if isinstance(tp, type):
        text = tp.__qualname__ if tp.__module__ == "builtins" else f"{tp.__module__}.{tp.__qualname__}"
    elif isinstance(tp, ForwardRef):
        text = tp.__forward_arg__
    else:
        try:
            text = repr(tp)
        except Exception:
            text = f"<{type(tp).__qualname__}>"
    text = text.replace("\x00", "")
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 3] + "..."


def _unknown(tp: Any) -> dict[str, Any]:
    return {"x-python-type": _type_repr(tp)}


def _json_type(value: Any) -> str | None:
    """The JSON type of a primitive value, or ``None`` when it is not a JSON primitive."""
    if value is None:
        return "null"
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return next((name for cls, name in _JSON_TYPES if type(value) is cls), None)


def _enum_schema(values: list[Any]) -> dict[str, Any] | None:
    """``{"type"?, "enum"}`` for literal values, or ``None`` if one is not a JSON primitive."""
    unique: list[Any] = []
    kinds: list[str] = []
    for value in values:
        if isinstance(value, enum.Enum):
            value = value.value
        kind = _json_type(value)
        if kind is None:
            return None
        if not any(type(u) is type(value) and u == value for u in unique):
            unique.append(value)
        if kind not in kinds:
            kinds.append(kind)
    out: dict[str, Any] = {}
    if len(kinds) == 1:
        out["type"] = kinds[0]
    elif kinds:
        out["type"] = kinds
    out["enum"] = unique
    return out


def _is_typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and (
        typing.is_typeddict(tp)
        or (issubclass(tp, dict) and hasattr(tp, "__required_keys__") and hasattr(tp, "__annotations__"))
    )


def _is_namedtuple(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, tuple) and isinstance(getattr(tp, "_fields", None), tuple)


def _unwrap(hint: Any) -> tuple[Any, bool | None, list[Any]]:
    """Strip ``Annotated``, ``Required``/``NotRequired`` (and ``ReadOnly``): ``(type, required
    flag or None, Annotated metadata)``."""
    required: bool | None = None
    metadata: list[Any] = []
    for _ in range(16):
        origin = get_origin(hint)
        if origin is Annotated:
            metadata += list(getattr(hint, "__metadata__", ()))
            hint = hint.__origin__
        elif origin is typing.Required or origin is typing.NotRequired:
            required = origin is typing.Required
            hint = get_args(hint)[0]
        elif origin is not None and getattr(origin, "_name", None) == "ReadOnly":
            hint = get_args(hint)[0]
        else:
            break
    return hint, required, metadata


def _module_globals(cls: Any) -> dict[str, Any]:
    module = sys.modules.get(getattr(cls, "__module__", "") or "")
    return vars(module) if module is not None else {}  # read, never changed


def _evaluate(annotation: Any, globalns: dict[str, Any], localns: dict[str, Any] | None) -> Any:
    """Resolve one annotation (a string or a ``ForwardRef``); the ``ForwardRef`` if it cannot be."""
    if isinstance(annotation, str):
        annotation = ForwardRef(annotation, is_argument=False, is_class=True)
    holder = types.SimpleNamespace(__annotations__={"x": annotation})
    try:
        return typing.get_type_hints(holder, globalns, localns, include_extras=True)["x"]
    except Exception:
        return annotation if isinstance(annotation, ForwardRef) else ForwardRef(str(annotation))


def _class_hints(cls: type, annotations: Mapping[str, Any]) -> dict[str, Any]:
    """The resolved annotations of ``cls``; keys that cannot be resolved stay ``ForwardRef``s."""
    try:
        hints = typing.get_type_hints(cls, include_extras=True)
        return {k: hints.get(k, v) for k, v in annotations.items()}
    except Exception:  # resolve key by key, keeping what can be resolved
        globalns = _module_globals(cls)
        localns = {k: v for k, v in vars(cls).items() if not k.startswith("__")}
        localns.setdefault(cls.__name__, cls)
        return {k: _evaluate(v, globalns, localns) for k, v in annotations.items()}


def _is_messages_reducer(metadata: list[Any]) -> bool:
    return any(callable(m) and red.reducer_name(m) == red.ADD_MESSAGES for m in metadata)


def _messages_array(builder: _Builder | None) -> dict[str, Any]:
    if builder is None:
        return {"type": "array", "items": message_json_schema()}
    return {"type": "array", "items": builder.message_ref()}


def _is_plain_mapping(tp: Any) -> bool:
    """``None``, ``dict``, ``dict[str, Any]``, ``Mapping``...: a state without declared keys."""
    if tp is None:
        return True
    cls = get_origin(tp) or tp
    return isinstance(cls, type) and issubclass(cls, cabc.Mapping) and not _is_typeddict(cls)


def _channels_only(
    state_type: Any, channels: Mapping[str, str], title: str | None, *, describe_type: bool = False
) -> dict[str, Any]:
    """An object schema built from the channel names and kinds alone."""
    properties: dict[str, Any] = {}
    for key, kind in channels.items():
        prop = _messages_array(None) if kind == red.ADD_MESSAGES else {}
        properties[key] = {**prop, "x-reducer": kind}
    out: dict[str, Any] = {
        "title": title or getattr(state_type, "__name__", None) or "State",
        "type": "object",
        "properties": properties,
        "required": [],
    }
    if describe_type and not _is_plain_mapping(state_type):
        out["x-python-type"] = _type_repr(state_type)
    return out


# -- the builder -----------------------------------------------------------------------------


class _Builder:
    """Builds one schema; collects ``$defs`` for named types (classes and enums)."""

    def __init__(self, root_type: Any) -> None:
        self.root_type = root_type
        self.defs: dict[str, dict[str, Any]] = {}
        self.names: dict[Any, str] = {}  # type -> its $defs name
        self.pending: set[str] = set()  # forward references being resolved (alias recursion)
        self.globalns: list[dict[str, Any]] = []  # where unresolved forward references may live

    # -- the root --------------------------------------------------------------------------
    def root(self, channels: dict[str, str], title: str | None) -> dict[str, Any]:
        state_type = self.root_type
        origin = get_origin(state_type)
        cls = origin if _is_typeddict(origin) else state_type
        if state_type is None or not isinstance(cls, type) or not self._is_object_class(cls):
            out = _channels_only(state_type, channels, title, describe_type=True)
            for key, kind in channels.items():
                if kind == red.ADD_MESSAGES:
                    out["properties"][key] = {**_messages_array(self), "x-reducer": kind}
            return self._with_defs(out)
        self.names[cls] = "#"
        out = self._object_body(cls, top_level=True)
        properties: dict[str, Any] = out["properties"]
        for key, kind in channels.items():
            prop = properties.get(key, {})
            if kind == red.ADD_MESSAGES:
                prop = _messages_array(self)
            properties[key] = {**prop, "x-reducer": kind}
        if title is not None:
            out["title"] = title
        return self._with_defs(out)

    def _with_defs(self, out: dict[str, Any]) -> dict[str, Any]:
        if self.defs:
            out["$defs"] = dict(sorted(self.defs.items()))
        return out

    @staticmethod
    def _is_object_class(cls: type) -> bool:
        return _is_typeddict(cls) or (dataclasses.is_dataclass(cls) and isinstance(cls, type))

    # -- named definitions -----------------------------------------------------------------
    def _ref(self, key: Any, name: str, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        known = self.names.get(key)
        if known is not None:
            return {"$ref": "#" if known == "#" else f"#/$defs/{known}"}
        unique = name if name not in self.defs else self._unique_name(key, name)
        self.names[key] = unique
        self.defs[unique] = {}  # reserved: a recursive reference resolves to it while building
        try:
            self.defs[unique] = build()
        except Exception:
            self.defs[unique] = _unknown(key)
        return {"$ref": f"#/$defs/{unique}"}

    def _unique_name(self, key: Any, name: str) -> str:
        qualified = f"{getattr(key, '__module__', '')}__{getattr(key, '__qualname__', name)}"
        candidate = "".join(c if c.isalnum() or c in "_-" else "_" for c in qualified).strip("_") or name
        base, n = candidate, 2
        while candidate in self.defs:
            candidate, n = f"{base}_{n}", n + 1
        return candidate

    def message_ref(self) -> dict[str, Any]:
        return self._ref(_MESSAGE_DEF, _MESSAGE_DEF, message_json_schema)

    # -- classes ---------------------------------------------------------------------------
    def _object_body(self, cls: type, *, top_level: bool = False) -> dict[str, Any]:
        self.globalns.append(_module_globals(cls))
        try:
            if _is_typeddict(cls):
                return self._typeddict_body(cls, top_level)
            return self._dataclass_body(cls)
        finally:
            self.globalns.pop()

    def _typeddict_body(self, cls: type, top_level: bool) -> dict[str, Any]:
        annotations: dict[str, Any] = dict(getattr(cls, "__annotations__", {}))
        hints = _class_hints(cls, annotations)
        required = set(getattr(cls, "__required_keys__", hints))
        properties: dict[str, Any] = {}
        for key, hint in hints.items():
            inner, flag, metadata = _unwrap(hint)
            # Required/NotRequired inside postponed annotations is missed by __required_keys__
            # before Python 3.12; the resolved hint has it.
            if flag is True:
                required.add(key)
            elif flag is False:
                required.discard(key)
            if top_level and _is_messages_reducer(metadata):
                properties[key] = _messages_array(self)
            else:
                properties[key] = self.schema(inner)
        return {
            "title": cls.__name__,
            "type": "object",
            "properties": properties,
            "required": [k for k in properties if k in required],
        }

    def _dataclass_body(self, cls: type) -> dict[str, Any]:
        fields = dataclasses.fields(cls)
        hints = _class_hints(cls, {f.name: f.type for f in fields})
        properties: dict[str, Any] = {}
        required: list[str] = []
        for f in fields:
            inner, _, _ = _unwrap(hints.get(f.name, f.type))
            prop = self.schema(inner)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                required.append(f.name)
            elif f.default is not dataclasses.MISSING and _json_type(f.default) is not None:
                prop = {**prop, "default": f.default}
            properties[f.name] = prop
        return {"title": cls.__name__, "type": "object", "properties": properties, "required": required}

    def _namedtuple_body(self, cls: type) -> dict[str, Any]:
        names: tuple[str, ...] = getattr(cls, "_fields", ())
        annotations = dict(getattr(cls, "__annotations__", {}))
        self.globalns.append(_module_globals(cls))
        try:
            hints = _class_hints(cls, annotations) if annotations else {}
            items = [self.schema(_unwrap(hints[n])[0]) if n in hints else {} for n in names]
        finally:
            self.globalns.pop()
        out: dict[str, Any] = {"title": cls.__name__, "type": "array", "items": False}
        if items:
            out["prefixItems"] = items
        out["minItems"] = out["maxItems"] = len(names)
        return out

    def _enum_body(self, cls: type[enum.Enum]) -> dict[str, Any]:
        body = _enum_schema(list(cls))
        if body is None:
            return {"title": cls.__name__, **_unknown(cls)}
        return {"title": cls.__name__, **body}

    # -- any type --------------------------------------------------------------------------
    def schema(self, tp: Any) -> dict[str, Any]:
        """The schema of one type; ``{}`` plus ``x-python-type`` for what it cannot describe."""
        try:
            return self._schema(tp)
        except Exception:  # RecursionError included
            return _unknown(tp)

    def _schema(self, tp: Any) -> dict[str, Any]:
        tp, _, _ = _unwrap(tp)
        if tp is Any or tp is object:
            return {}
        if tp is None or tp is type(None):
            return {"type": "null"}
        if isinstance(tp, (str, ForwardRef)):
            return self._forward(tp)
        if isinstance(tp, typing.TypeVar):
            return self._typevar(tp)
        if isinstance(tp, typing.NewType):
            return self.schema(tp.__supertype__)
        if type(tp).__name__ == "TypeAliasType":  # `type X = ...` (Python 3.12+)
            name = str(getattr(tp, "__name__", "Alias"))
            return self._ref(tp, name, lambda: self.schema(tp.__value__))
        origin = get_origin(tp)
        args = get_args(tp)
        if origin is Literal:
            return _enum_schema(list(args)) or _unknown(tp)
        if origin is typing.Union or origin is types.UnionType:
            return self._union(args)
        if origin is typing.ClassVar or origin is typing.Final:
            return self.schema(args[0]) if args else {}
        if origin is None:
            origin = tp
        if isinstance(origin, type):
            return self._class(origin, args, tp)
        return _unknown(tp)

    def _forward(self, ref: str | ForwardRef) -> dict[str, Any]:
        text = ref if isinstance(ref, str) else ref.__forward_arg__
        if text in self.pending or not self.globalns:
            return _unknown(ref)
        resolved = _evaluate(ref, self.globalns[-1], None)
        if isinstance(resolved, ForwardRef):
            return _unknown(ref)
        self.pending.add(text)
        try:
            return self.schema(resolved)
        finally:
            self.pending.discard(text)

    def _typevar(self, tv: typing.TypeVar) -> dict[str, Any]:
        if tv.__bound__ is not None:
            return self.schema(tv.__bound__)
        if tv.__constraints__:
            return self._union(tv.__constraints__)
        return {}

    def _union(self, args: tuple[Any, ...]) -> dict[str, Any]:
        options: list[dict[str, Any]] = []
        for arg in args:
            option = self.schema(arg)
            if option == {}:
                return {}  # one option accepts anything: so does the union
            if option not in options:
                options.append(option)
        if not options:
            return {}
        return options[0] if len(options) == 1 else {"anyOf": options}

    def _class(self, cls: type, args: tuple[Any, ...], tp: Any) -> dict[str, Any]:
        if issubclass(cls, enum.Enum):
            return self._ref(cls, cls.__name__, lambda: self._enum_body(cls))
        if cls is bool:
            return {"type": "boolean"}
        if issubclass(cls, (bytes, bytearray)):
            return {"type": "string", "contentEncoding": "base64"}
        if issubclass(cls, str):
            return {"type": "string"}
        if issubclass(cls, int) and not issubclass(cls, bool):
            return {"type": "integer"}
        if issubclass(cls, float):
            return {"type": "number"}
        if issubclass(cls, decimal.Decimal):
            return {"anyOf": [{"type": "number"}, {"type": "string"}]}
        if issubclass(cls, dt.datetime):
            return {"type": "string", "format": "date-time"}
        if issubclass(cls, dt.date):
            return {"type": "string", "format": "date"}
        if issubclass(cls, dt.time):
            return {"type": "string", "format": "time"}
        if issubclass(cls, dt.timedelta):
            return {"type": "string", "format": "duration"}
        if issubclass(cls, uuid.UUID):
            return {"type": "string", "format": "uuid"}
        if self._is_object_class(cls):
            if cls is self.root_type or get_origin(self.root_type) is cls:
                return {"$ref": "#"}
            return self._ref(cls, cls.__name__, lambda: self._object_body(cls))
        if _is_namedtuple(cls):
            return self._ref(cls, cls.__name__, lambda: self._namedtuple_body(cls))
        if issubclass(cls, cabc.Mapping):
            out: dict[str, Any] = {"type": "object"}
            if len(args) == 2:
                values = self.schema(args[1])
                if values != {}:
                    out["additionalProperties"] = values
            return out
        if issubclass(cls, tuple):
            return self._tuple(args)
        if issubclass(cls, cabc.Set):
            return self._array(args, uniqueItems=True)
        if issubclass(cls, (cabc.Sequence, collections.deque)) or cls in (
            cabc.Collection,
            cabc.Iterable,
            cabc.MutableSequence,
        ):
            return self._array(args)
        return _unknown(tp)

    def _array(self, args: tuple[Any, ...], **extra: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "array"}
        items = self.schema(args[0]) if args else {}
        if items != {}:
            out["items"] = items
        out.update(extra)
        return out

    def _tuple(self, args: tuple[Any, ...]) -> dict[str, Any]:
        if not args:
            return {"type": "array"}
        if len(args) == 2 and args[1] is Ellipsis:
            return self._array(args[:1])
        if args == ((),):  # tuple[()]: the empty tuple
            return {"type": "array", "maxItems": 0}
        return {
            "type": "array",
            "prefixItems": [self.schema(a) for a in args],
            "items": False,
            "minItems": len(args),
            "maxItems": len(args),
        }
