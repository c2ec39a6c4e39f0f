"""JSON codec for event payloads and graph state.

Plain JSON loses types: a datetime comes back as a string, a tuple as a list, bytes cannot be
written at all. Replay and re-execution compare recorded values with recomputed ones, so the
codec must give back exactly what was written. Non-JSON types are written as tagged objects
``{"__dg__": <tag>, ...}``; a user dict that happens to contain the tag key is escaped, so no
input can be mistaken for a tag. Anything the codec cannot round-trip is rejected with the path
to the offending value instead of being silently converted.

Dataclasses and enums are decoded back to their class only when that class's module is already
imported in the reading process (decoding never imports code named by stored data); otherwise a
dataclass decodes to a plain dict of its fields and an enum to its value, so an API process that
lacks a user's classes can still read every event.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import enum
import json
import math
import re
import sys
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson

from duragraph_lab.domain.errors import EncodingError

TAG = "__dg__"
_TAG_BYTES = f'"{TAG}"'.encode()
_LONG_NUMBER = re.compile(rb"[0-9]{19}")

_ATOMS = (int, bool, type(None))

# Decodes that fell back to plain data because this process lacks a class or an adapter: such a
# value would decode to something else in a process that has them. See lossy_decodes().
_lossy = [0]


def lossy_decodes() -> int:
    """How many decoded values so far came back as plain data instead of their type (a class
    not imported in this process, a tag without a registered adapter). Whoever stores decoded
    values again (run snapshots) checks that this did not move while it read them: re-encoding
    such a value would write the plain data, not the original tagged value."""
    return _lossy[0]


@dataclasses.dataclass(frozen=True, slots=True)
class _Adapter:
    tag: str
    encode: Callable[[Any], Any]
    decode: Callable[[Any], Any]


_adapters_by_type: dict[type, _Adapter] = {}
_adapters_by_tag: dict[str, _Adapter] = {}


def register_type(cls: type, tag: str, encode: Callable[[Any], Any], decode: Callable[[Any], Any]) -> None:
    """Teach the codec a type: ``encode(obj)`` must return JSON-able data (it is encoded again,
    recursively), ``decode(data)`` must rebuild the object from it."""
    if tag in _BUILTIN_TAGS:
        raise ValueError(f"tag {tag!r} is reserved")
    adapter = _Adapter(tag, encode, decode)
    _adapters_by_type[cls] = adapter
    _adapters_by_tag[tag] = adapter


class _Fail(Exception):
    def __init__(self, message: str) -> None:
        self.message = message
        self.path: list[str] = []


def _type_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _resolve(path: str) -> Any:
    """Find a class by ``module:qualname`` among already-imported modules, else ``None``."""
    module_name, _, qualname = path.partition(":")
    obj: Any = sys.modules.get(module_name)
    for part in qualname.split("."):
        if obj is None:
            return None
        obj = getattr(obj, part, None)
    return obj if isinstance(obj, type) else None


def to_jsonable(value: Any) -> Any:
    """Convert ``value`` to plain JSON data (with tags); raise :class:`EncodingError` if impossible."""
    try:
        return _enc(value)
    except _Fail as fail:
        path = "$" + "".join(reversed(fail.path))
        raise EncodingError(fail.message, path) from None
    except RecursionError:
        raise EncodingError("value is nested too deeply (or contains a cycle)") from None


def _check_text(v: str) -> str:
    # PostgreSQL's jsonb cannot hold U+0000, and UTF-8 cannot hold a lone surrogate: reject them
    # here, with a path, rather than fail later inside the driver.
    if "\x00" in v:
        raise _Fail("strings cannot contain NUL (\\x00); use bytes for binary data")
    if not v.isascii():
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            raise _Fail("string contains a lone surrogate, which is not valid Unicode text") from None
    return v


def _enc(v: Any) -> Any:
    t = type(v)
    if t is str:
        return _check_text(v)
    if t in _ATOMS:
        return v
    if t is float:
        if math.isfinite(v):
            return v
        raise _Fail(f"cannot encode non-finite float {v!r}")
    if t is dict:
        return _enc_dict(v)
    if t is list:
        return _enc_seq(v)
    if t is tuple:
        return {TAG: "tuple", "v": _enc_seq(v)}
    if t is dt.datetime:
        return {TAG: "datetime", "v": v.isoformat()}
    if t is uuid.UUID:
        return {TAG: "uuid", "v": str(v)}
    if t is bytes:
        return {TAG: "bytes", "v": base64.b64encode(v).decode("ascii")}
    return _enc_other(v, t)


def _enc_dict(d: dict[Any, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, item in d.items():
        if type(k) is not str:
            if not isinstance(k, str):
                raise _Fail(f"dict keys must be strings, got {type(k).__name__} key {k!r}")
            k = str(k)
        try:
            _check_text(k)
        except _Fail as fail:
            fail.path.append(f"[{k!r}]")
            raise
        try:
            out[k] = _enc(item)
        except _Fail as fail:
            fail.path.append(f"[{k!r}]")
            raise
    if TAG in out:
        # Escape as a list of pairs: JSON parsers decode inner objects first, so the user's dict
        # must not itself look like a tagged object anymore.
        return {TAG: "dict", "v": [[k, item] for k, item in out.items()]}
    return out


def _enc_seq(items: Any) -> list[Any]:
    out = []
    for i, item in enumerate(items):
        try:
            out.append(_enc(item))
        except _Fail as fail:
            fail.path.append(f"[{i}]")
            raise
    return out


def _enc_other(v: Any, t: type) -> Any:
    adapter = _adapters_by_type.get(t)
    if adapter is not None:
        try:
            payload = _enc(adapter.encode(v))
        except _Fail as fail:
            fail.path.append(f"<{adapter.tag}>")
            raise
        return {TAG: adapter.tag, "v": payload}
    if isinstance(v, enum.Enum):
        # Before the str/int checks: StrEnum and IntEnum members are enums first.
        return {TAG: "enum", "type": _type_path(t), "v": _enc(v.value)}
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        fields: dict[str, Any] = {}
        for f in dataclasses.fields(v):
            try:
                fields[f.name] = _enc(getattr(v, f.name))
            except _Fail as fail:
                fail.path.append(f".{f.name}")
                raise
        return {TAG: "dataclass", "type": _type_path(t), "v": fields}
    if isinstance(v, tuple) and hasattr(t, "_fields"):  # a namedtuple: keep its type, like a dataclass
        return {TAG: "namedtuple", "type": _type_path(t), "v": _enc_seq(v)}
    if isinstance(v, dt.datetime):
        if getattr(v, "nanosecond", 0):  # e.g. pandas.Timestamp: a datetime would drop the ns
            raise _Fail(f"{t.__qualname__} has sub-microsecond precision, which a datetime cannot hold")
        return {TAG: "datetime", "v": v.isoformat()}
    if isinstance(v, dt.date):
        return {TAG: "date", "v": v.isoformat()}
    if isinstance(v, dt.time):
        return {TAG: "time", "v": v.isoformat()}
    if isinstance(v, dt.timedelta):
        return {TAG: "timedelta", "v": [v.days, v.seconds, v.microseconds]}
    if isinstance(v, Decimal):
        if not v.is_finite():
            raise _Fail(f"cannot encode non-finite Decimal {v!r}")
        return {TAG: "decimal", "v": str(v)}
    if isinstance(v, bytearray):
        return {TAG: "bytearray", "v": base64.b64encode(v).decode("ascii")}
    if isinstance(v, (set, frozenset)):
        items = _enc_seq(_stable_order(v))
        return {TAG: "frozenset" if isinstance(v, frozenset) else "set", "v": items}
    # Subclasses of the plain types (OrderedDict, str and int subclasses, ...) encode as their base.
    base: type[Any]
    for base in (str, bool, int, float, dict, list, tuple, bytes):
        if isinstance(v, base):
            return _enc(base(v))
    raise _Fail(f"cannot encode value of type {t.__module__}.{t.__qualname__}")


def _stable_order(items: set[Any] | frozenset[Any]) -> list[Any]:
    # Sets have no order; sort when possible so equal sets encode to equal bytes.
    try:
        return sorted(items)
    except TypeError:
        return sorted(items, key=repr)


def _restore_dataclass(path: str, fields: dict[str, Any]) -> Any:
    cls = _resolve(path)
    if not isinstance(cls, type) or not dataclasses.is_dataclass(cls):
        _lossy[0] += 1
        return fields
    if {f.name for f in dataclasses.fields(cls)} != set(fields):
        _lossy[0] += 1
        return fields  # the class changed since this was written: keep the data, not a broken object
    obj = object.__new__(cls)
    for name, value in fields.items():
        # object.__setattr__ restores frozen and slotted dataclasses without re-running __init__.
        object.__setattr__(obj, name, value)
    return obj


def _restore_namedtuple(path: str, items: list[Any]) -> Any:
    cls = _resolve(path)
    if cls is None or not issubclass(cls, tuple) or len(getattr(cls, "_fields", ())) != len(items):
        _lossy[0] += 1
        return tuple(items)
    return cls(*items)


def _restore_enum(path: str, value: Any) -> Any:
    cls = _resolve(path)
    if cls is None or not issubclass(cls, enum.Enum):
        _lossy[0] += 1
        return value
    try:
        return cls(value)
    except ValueError:
        _lossy[0] += 1
        return value


_DECODERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "dict": lambda d: dict(d["v"]),
    "tuple": lambda d: tuple(d["v"]),
    "datetime": lambda d: dt.datetime.fromisoformat(d["v"]),
    "date": lambda d: dt.date.fromisoformat(d["v"]),
    "time": lambda d: dt.time.fromisoformat(d["v"]),
    "timedelta": lambda d: dt.timedelta(days=d["v"][0], seconds=d["v"][1], microseconds=d["v"][2]),
    "uuid": lambda d: uuid.UUID(d["v"]),
    "bytes": lambda d: base64.b64decode(d["v"]),
    "bytearray": lambda d: bytearray(base64.b64decode(d["v"])),
    "decimal": lambda d: Decimal(d["v"]),
    "set": lambda d: set(d["v"]),
    "frozenset": lambda d: frozenset(d["v"]),
    "dataclass": lambda d: _restore_dataclass(d["type"], d["v"]),
    "namedtuple": lambda d: _restore_namedtuple(d["type"], d["v"]),
    "enum": lambda d: _restore_enum(d["type"], d["v"]),
}
_BUILTIN_TAGS = frozenset(_DECODERS)


def _hook(d: dict[str, Any]) -> Any:
    tag = d.get(TAG)
    if tag is None:
        return d
    decoder = _DECODERS.get(tag)
    if decoder is not None:
        return decoder(d)
    adapter = _adapters_by_tag.get(tag)
    if adapter is not None:
        return adapter.decode(d["v"])
    # A tag from a newer version or an unregistered adapter: keep the data rather than fail.
    _lossy[0] += 1
    return d


def from_jsonable(value: Any) -> Any:
    """Inverse of :func:`to_jsonable` for data already parsed by a JSON parser."""
    if isinstance(value, dict):
        return _hook({k: from_jsonable(v) for k, v in value.items()})
    if isinstance(value, list):
        return [from_jsonable(v) for v in value]
    return value


def encode_json(value: Any) -> tuple[Any, str]:
    """``value`` as :func:`to_jsonable` converts it (new dicts and lists, shared with no caller)
    and that as compact JSON text (orjson's; the standard library's for integers beyond 64
    bits). Raises what :func:`to_jsonable` raises.

    Most payloads are plain JSON data already. For a dict of nothing else, one walk copies it
    checking only the types of its values (no tag key, no non-finite float), and orjson checks
    the rest as it writes: it refuses non-str keys, lone surrogates and integers beyond 64 bits,
    and writes U+0000 as an escape that a scan of its output finds. Anything that fails a check
    takes :func:`to_jsonable`, which converts what it can and raises with the path otherwise."""
    if type(value) is dict:
        try:
            plain = _plain_dict(value)
            raw = orjson.dumps(plain)
        except (_NotPlain, TypeError, RecursionError):  # orjson.JSONEncodeError is a TypeError
            pass
        else:
            # "\\u0000" can also be a user's backslash followed by "u0000": to_jsonable decides.
            if b"\\" not in raw or b"\\u0000" not in raw:
                return plain, raw.decode()
    plain = to_jsonable(value)
    return plain, plain_json(plain)


def plain_json(plain: Any) -> str:
    """Plain JSON data (e.g. from :func:`to_jsonable`) as compact JSON text."""
    try:
        # orjson writes plain data as json.dumps does (UTF-8, compact), several times faster; it
        # refuses integers beyond 64 bits, which json writes.
        return orjson.dumps(plain).decode()
    except TypeError:
        return json.dumps(plain, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


class _NotPlain(Exception):
    """A value :func:`encode_json`'s fast path leaves to :func:`to_jsonable`."""


_PLAIN_LEAVES = frozenset({str, int, bool, type(None)})


def _plain_dict(d: dict[Any, Any]) -> dict[Any, Any]:
    # Exact types only: a subclass (IntEnum, OrderedDict, ...) or a tuple must be converted or
    # tagged, and orjson would write it as its base type. ``x - x`` is 0.0 for finite floats
    # only (inf - inf and nan - nan are nan).
    if TAG in d:
        raise _NotPlain
    out = d.copy()
    for k, x in d.items():
        t = type(x)
        if t in _PLAIN_LEAVES:
            continue
        if t is dict:
            out[k] = _plain_dict(x)
        elif t is list:
            out[k] = _plain_list(x)
        elif t is not float or x - x != 0.0:
            raise _NotPlain
    return out


def _plain_list(items: list[Any]) -> list[Any]:
    return [x if type(x) in _PLAIN_LEAVES else _plain_item(x) for x in items]


def _plain_item(x: Any) -> Any:
    t = type(x)
    if t is dict:
        return _plain_dict(x)
    if t is list:
        return _plain_list(x)
    if t is float and x - x == 0.0:
        return x
    raise _NotPlain


def dumps(value: Any) -> str:
    """Encode ``value`` to compact JSON text; raise :class:`EncodingError` if it cannot round-trip."""
    return json.dumps(to_jsonable(value), separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def loads(text: str | bytes | bytearray | memoryview) -> Any:
    """Decode JSON text written by :func:`dumps`, restoring tagged types."""
    if isinstance(text, memoryview):
        text = bytes(text)
    # Most payloads hold no tagged value: without the tag key anywhere in the text, no object can
    # need the hook, and orjson (no hook, ~4x faster) decodes it. It does not keep integers beyond
    # 64 bits exact (it refuses some, makes others floats): text with 19 digits in a row takes the
    # json path, as does anything orjson refuses.
    raw = text.encode() if isinstance(text, str) else bytes(text)
    if _TAG_BYTES not in raw and _LONG_NUMBER.search(raw) is None:
        try:
            return orjson.loads(raw)
        except ValueError:
            pass
    return json.loads(text, object_hook=_hook)


def same_json(a: Any, b: Any) -> bool:
    """JSON values equal in type too (Python's == takes 1, 1.0 and True for one another)."""
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return a.keys() == b.keys() and all(same_json(v, b[k]) for k, v in a.items())
    if type(a) is list:
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)
