from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import math
import uuid
from collections import OrderedDict
from decimal import Decimal

import pytest

from duragraph_lab.domain import codec
from duragraph_lab.domain.errors import EncodingError


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Level(enum.IntEnum):
    LOW = 1


@dataclasses.dataclass
class Point:
    x: int
    y: int
    tags: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class Frozen:
    when: dt.datetime
    inner: Point


ROUND_TRIP_VALUES = [
    None,
    True,
    0,
    -(2**70),
    1.5,
    "text with \u00e9 and \U0001f600",
    [1, [2, [3]]],
    {"a": {"b": [1, {"c": None}]}},
    dt.datetime(2026, 11, 21, 10, 30, 1, 123456, tzinfo=dt.UTC),
    dt.datetime(2026, 11, 21, 10, 30, 1, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
    dt.datetime(2026, 1, 1, 0, 0),  # naive stays naive
    dt.date(2026, 2, 28),
    dt.time(23, 59, 59, 999),
    dt.timedelta(days=-1, seconds=5, microseconds=7),
    uuid.UUID("0195f0a4-0000-7000-8000-000000000001"),
    b"\x00\xffbinary",
    bytearray(b"mutable"),
    Decimal("3.14159265358979323846264338327950288"),
    (1, "two", (3.0,)),
    {1, 2, 3},
    frozenset({"a", "b"}),
    Color.BLUE,
    Level.LOW,
    Point(1, 2, ("x",)),
    Frozen(dt.datetime(2026, 1, 1, tzinfo=dt.UTC), Point(3, 4)),
    {"__dg__": "uuid", "v": "not-a-uuid"},  # user data that looks like a tag stays user data
    {"nested": {"__dg__": "dict"}},
    [],
    {},
    "",
]


@pytest.mark.parametrize("value", ROUND_TRIP_VALUES, ids=repr)
def test_round_trip_preserves_value_and_type(value: object) -> None:
    back = codec.loads(codec.dumps(value))
    assert back == value
    assert type(back) is type(value)


def test_round_trip_through_parsed_json() -> None:
    value = {"when": dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "ids": (uuid.uuid4(),)}
    parsed = json.loads(json.dumps(codec.to_jsonable(value)))
    assert codec.from_jsonable(parsed) == value


def test_nested_types_inside_dataclass_survive() -> None:
    value = Frozen(dt.datetime(2026, 5, 5, tzinfo=dt.UTC), Point(1, 2, ("a", "b")))
    back = codec.loads(codec.dumps(value))
    assert isinstance(back.inner, Point)
    assert back.inner.tags == ("a", "b")


def test_ordered_dict_and_str_subclasses_encode_as_plain_values() -> None:
    assert codec.loads(codec.dumps(OrderedDict(a=1))) == {"a": 1}


def test_sets_encode_deterministically() -> None:
    assert codec.dumps({3, 1, 2}) == codec.dumps({2, 3, 1})
    assert codec.dumps({(1, "a"), (0, "b")}) == codec.dumps({(0, "b"), (1, "a")})


def test_unknown_dataclass_decodes_to_its_fields() -> None:
    text = codec.dumps(Point(1, 2)).replace(f"{__name__}:Point", "not_imported_module:Point")
    assert "not_imported_module:Point" in text
    assert codec.loads(text) == {"x": 1, "y": 2, "tags": ()}


def test_decoding_never_imports_modules() -> None:
    import sys

    text = json.dumps({"__dg__": "dataclass", "type": "antigravity:Anything", "v": {"a": 1}})
    assert "antigravity" not in sys.modules
    assert codec.loads(text) == {"a": 1}
    assert "antigravity" not in sys.modules


def test_unknown_enum_decodes_to_its_value() -> None:
    text = json.dumps({"__dg__": "enum", "type": "nowhere:Color", "v": "red"})
    assert codec.loads(text) == "red"


@pytest.mark.parametrize(
    ("value", "path", "reason"),
    [
        ({"a": [1, object()]}, "$['a'][1]", "cannot encode value of type builtins.object"),
        ({"f": math.nan}, "$['f']", "non-finite float"),
        ({"f": [math.inf]}, "$['f'][0]", "non-finite float"),
        ({1: "int key"}, "$", "dict keys must be strings"),
        ({"x": {(1, 2): 3}}, "$['x']", "dict keys must be strings"),
        (Point(1, object()), "$.y", "cannot encode"),  # type: ignore[arg-type]
        ({"d": Decimal("NaN")}, "$['d']", "non-finite Decimal"),
        ({"fn": len}, "$['fn']", "builtin_function_or_method"),
    ],
)
def test_rejects_what_it_cannot_round_trip_with_the_path(value: object, path: str, reason: str) -> None:
    with pytest.raises(EncodingError) as info:
        codec.dumps(value)
    assert info.value.path == path
    assert reason in str(info.value)


def test_cycles_are_rejected_not_crashing() -> None:
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(EncodingError, match="nested too deeply"):
        codec.dumps(loop)


def test_escaped_user_dicts_keep_nested_tags_working() -> None:
    value = {"__dg__": [dt.date(2026, 1, 1)], "other": {"__dg__": {"__dg__": b"x"}}}
    assert codec.loads(codec.dumps(value)) == value


def test_registered_type_round_trips() -> None:
    class Money:
        def __init__(self, cents: int, currency: str) -> None:
            self.cents, self.currency = cents, currency

        def __eq__(self, other: object) -> bool:
            return isinstance(other, Money) and (self.cents, self.currency) == (other.cents, other.currency)

    codec.register_type(Money, "test-money", lambda m: [m.cents, m.currency], lambda v: Money(v[0], v[1]))
    value = {"price": Money(1999, "EUR"), "when": dt.date(2026, 1, 1)}
    assert codec.loads(codec.dumps(value)) == value


def test_builtin_tags_cannot_be_hijacked() -> None:
    with pytest.raises(ValueError, match="reserved"):
        codec.register_type(int, "uuid", str, int)


def test_output_is_compact_and_valid_json() -> None:
    text = codec.dumps({"a": [1, 2], "b": "é"})
    assert text == '{"a":[1,2],"b":"é"}'


Pair = __import__("collections").namedtuple("Pair", "left right")


def test_namedtuples_keep_their_type() -> None:
    back = codec.loads(codec.dumps({"p": Pair(1, dt.date(2026, 1, 1))}))
    assert back == {"p": Pair(1, dt.date(2026, 1, 1))}
    assert type(back["p"]) is Pair


def test_dataclass_whose_fields_changed_decodes_to_a_dict() -> None:
    text = codec.dumps(Point(1, 2)).replace('"x":1', '"renamed":1')
    assert codec.loads(text) == {"renamed": 1, "y": 2, "tags": ()}


@pytest.mark.parametrize(
    ("value", "path", "reason"),
    [
        ({"s": "nul\x00byte"}, "$['s']", "NUL"),
        ({"key\x00": 1}, "$['key\\x00']", "NUL"),
        ({"s": ["ok", "lone \ud800 surrogate"]}, "$['s'][1]", "lone surrogate"),
    ],
)
def test_text_postgresql_cannot_store_is_rejected(value: object, path: str, reason: str) -> None:
    with pytest.raises(EncodingError) as info:
        codec.dumps(value)
    assert info.value.path == path
    assert reason in str(info.value)


def test_sub_microsecond_timestamps_are_rejected_not_truncated() -> None:
    import pandas as pd

    with pytest.raises(EncodingError, match="sub-microsecond precision"):
        codec.dumps(pd.Timestamp("2026-01-01 00:00:00.000000001"))
    assert codec.loads(codec.dumps(pd.Timestamp("2026-01-01 00:00:00.5"))) == dt.datetime(
        2026, 1, 1, 0, 0, 0, 500000
    )


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1, "b": [1.5, "x", null, true], "c": {"d": "é"}}',
        '{"big": -1180591620717411303424, "n": 9223372036854775807}',  # beyond 64 bits: exact
        '{"x": 0.1234567890123456789012}',
        '{"s": "\\ud800"}',  # a lone surrogate: orjson refuses it, json keeps it
        '{"k": 1, "k": 2}',
        '[{"__dg__x": 1}]',
    ],
)
def test_loads_decodes_untagged_text_exactly_like_json(text: str) -> None:
    expected = json.loads(text)
    for given in (text, text.encode(), memoryview(text.encode())):
        got = codec.loads(given)
        assert got == expected and repr(got) == repr(expected)


class Flavor(enum.StrEnum):
    SWEET = "sweet"


class Count(int):
    pass


# Values orjson would write as their base type or silently (as null, as a list, as text): the
# fast path of encode_json must hand each of them to to_jsonable.
LOOKALIKES = [
    (1, 2),
    Level.LOW,
    Flavor.SWEET,
    Color.RED,
    Count(3),
    OrderedDict(a=1),
    uuid.UUID("0195f0a4-0000-7000-8000-000000000001"),
    dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    dt.date(2026, 1, 1),
    Point(1, 2),
    Pair(1, 2),
    {"__dg__": "uuid", "v": "x"},
    {"a": {"__dg__": 1}},
    {"s": "a backslash then u0000: \\u0000"},  # not a NUL: the scan's false alarm, still accepted
    "__dg__",
    2**70,
    -0.0,
    1e16,
    "é \U0001f600 \u2028 \x1f",
]


@pytest.mark.parametrize("value", [*ROUND_TRIP_VALUES, *LOOKALIKES], ids=repr)
def test_encode_json_gives_what_to_jsonable_gives(value: object) -> None:
    for wrapped in ({"v": value}, {"v": [value, {"w": value}]}):
        plain, text = codec.encode_json(wrapped)
        expected = codec.to_jsonable(wrapped)
        assert plain == expected and repr(plain) == repr(expected)
        assert json.loads(text) == expected
        assert codec.loads(text) == wrapped


def test_encode_json_shares_no_container_with_its_input() -> None:
    inner = {"b": [1, {"c": "x"}]}
    value = {"a": inner, "l": [inner]}
    plain, _ = codec.encode_json(value)
    plain["a"]["b"][1]["c"] = "changed"
    plain["l"][0]["b"].append(2)
    assert value == {"a": {"b": [1, {"c": "x"}]}, "l": [{"b": [1, {"c": "x"}]}]}


@pytest.mark.parametrize(
    ("value", "path", "reason"),
    [
        ({"s": "nul\x00byte"}, "$['s']", "NUL"),
        ({"l": [{"key\x00": 1}]}, "$['l'][0]['key\\x00']", "NUL"),
        ({"s": ["ok", "lone \ud800 surrogate"]}, "$['s'][1]", "lone surrogate"),
        ({"\udfff": 1}, "$['\\udfff']", "lone surrogate"),
        ({"f": math.nan}, "$['f']", "non-finite float"),
        ({"f": [1.0, -math.inf]}, "$['f'][1]", "non-finite float"),
        ({1: "int key"}, "$", "dict keys must be strings"),
        ({"x": {None: 3}}, "$['x']", "dict keys must be strings"),
        ({"a": [1, object()]}, "$['a'][1]", "cannot encode value of type builtins.object"),
    ],
)
def test_encode_json_rejects_what_to_jsonable_rejects(value: object, path: str, reason: str) -> None:
    with pytest.raises(EncodingError) as info:
        codec.encode_json(value)
    assert info.value.path == path
    assert reason in str(info.value)


def test_encode_json_rejects_cycles() -> None:
    loop: dict[str, object] = {}
    loop["self"] = loop
    with pytest.raises(EncodingError, match="nested too deeply"):
        codec.encode_json(loop)


def test_encode_json_writes_plain_data_without_to_jsonable(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(value: object) -> object:
        raise AssertionError("plain data took the slow path")

    monkeypatch.setattr(codec, "to_jsonable", refuse)
    value = {"a": [1, 2.5, None, True, {"b": "é"}], "c": {}, "d": "\\n"}
    assert codec.encode_json(value) == (value, '{"a":[1,2.5,null,true,{"b":"é"}],"c":{},"d":"\\\\n"}')
