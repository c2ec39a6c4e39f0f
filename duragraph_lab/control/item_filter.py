"""A store search's ``filter``, as LangGraph writes it, turned into conditions on an item's value.

The syntax is LangGraph's (``SearchOp.filter``): ``{"field": value}`` is equality, ``{"field":
{"$gt": 3, "$lte": 10}}`` applies operators (``$eq``, ``$ne``, ``$gt``, ``$gte``, ``$lt``,
``$lte``), a nested object matches the item's nested object key by key, and a list matches a list
of the same length element by element. The meaning is that of LangGraph's ``InMemoryStore`` (the
store of ``langgraph dev``), with one deliberate difference for the range operators:

- ``$gt``/``$gte``/``$lt``/``$lte`` take a number or a string. A number is compared with numbers
  as numbers (``10 > 9``; LangGraph's PostgresStore compares the text, so there ``"10" < "9"``),
  a string with strings by code point; a value of another JSON type never matches. (InMemoryStore
  converts both sides with ``float()``, which fails on text.)
- Equality is JSON equality (``1 == 1.0``, but ``true != 1``); a field that is missing equals
  ``null``, as in InMemoryStore, so ``{"$ne": 5}`` matches an item without the field.

Anything else (an unknown operator, an operator mixed with field names, a range operator on
``null`` or an object, a top-level key starting with ``$``) is an :class:`InvalidFilter`, never a
filter that silently matches nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from duragraph_lab.control.item_values import InvalidStoreRequest, check_json, check_text

#: A position in an item's value: object keys, and list indexes.
Path = tuple[str | int, ...]
Operator = Literal["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"]
OPERATORS: tuple[Operator, ...] = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte")
RANGE_OPERATORS = frozenset({"$gt", "$gte", "$lt", "$lte"})


class InvalidFilter(InvalidStoreRequest):
    pass


@dataclass(frozen=True, slots=True)
class IsObject:
    """The value at ``path`` is a JSON object (a nested filter object needs one)."""

    path: Path


@dataclass(frozen=True, slots=True)
class IsList:
    """The value at ``path`` is a JSON array of ``length`` elements (a filter list needs one)."""

    path: Path
    length: int


@dataclass(frozen=True, slots=True)
class Compare:
    """``value at path <operator> operand``; ``operand`` is plain JSON (a number or a string for
    the range operators)."""

    path: Path
    operator: Operator
    operand: Any

    @property
    def numeric(self) -> bool:
        return isinstance(self.operand, (int, float)) and not isinstance(self.operand, bool)


Condition = IsObject | IsList | Compare


def parse_filter(filter: Mapping[str, Any] | None) -> tuple[Condition, ...]:
    """The conditions an item's value must all meet (none: every item matches)."""
    if filter is None:
        return ()
    if not isinstance(filter, Mapping):
        raise InvalidFilter(f"a filter is an object of field names, not {type(filter).__name__}")
    out: list[Condition] = []
    for field, expected in filter.items():
        if not isinstance(field, str):
            raise InvalidFilter(f"filter field names are strings, not {field!r}")
        check_text(field, f"the filter field {field!r}")
        if field.startswith("$"):
            raise InvalidFilter(
                f"filter key {field!r}: operators go inside a field's object "
                '(e.g. {"score": {"$gt": 3}}); logical operators ($and, $or, ...) are not supported'
            )
        _conditions((field,), expected, out)
    return tuple(out)


def _conditions(path: Path, expected: Any, out: list[Condition]) -> None:
    if isinstance(expected, Mapping):
        if any(isinstance(k, str) and k.startswith("$") for k in expected):
            for operator, operand in expected.items():
                out.append(_compare(path, operator, operand))
            return
        out.append(IsObject(path))
        for key, sub in expected.items():
            if not isinstance(key, str):
                raise InvalidFilter(f"filter field names are strings, not {key!r} at {_where(path)}")
            check_text(key, f"the filter field {key!r}")
            _conditions((*path, key), sub, out)
        return
    if isinstance(expected, (list, tuple)):
        out.append(IsList(path, len(expected)))
        for index, sub in enumerate(expected):
            _conditions((*path, index), sub, out)
        return
    out.append(_compare(path, "$eq", expected))


def _compare(path: Path, operator: Any, operand: Any) -> Compare:
    if operator not in OPERATORS:
        raise InvalidFilter(
            f"unsupported filter operator {operator!r} at {_where(path)} "
            f"(supported: {', '.join(OPERATORS)}; operators cannot be mixed with field names)"
        )
    if operator in RANGE_OPERATORS:
        number = isinstance(operand, (int, float)) and not isinstance(operand, bool)
        if not (number or isinstance(operand, str)):
            raise InvalidFilter(
                f"{operator} at {_where(path)} compares with a number or a string, "
                f"not {type(operand).__name__}"
            )
    _check_operand(operand, path)
    return Compare(path, operator, operand)


def _check_operand(operand: Any, path: Path) -> None:
    try:
        check_json(operand)
    except InvalidStoreRequest as err:
        raise InvalidFilter(f"filter value at {_where(path)}: {err}") from None


def _where(path: Path) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else p) for i, p in enumerate(path))
