"""Copies of state values given to nodes, routers and reducers (duragraph_lab/domain/copies.py)."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from typing import Any

from duragraph_lab.domain.copies import state_copy


@dataclasses.dataclass
class Note:
    tags: list[str]


def _ids(value: Any, out: set[int]) -> set[int]:
    """The ids of every mutable container in ``value``."""
    if isinstance(value, dict):
        out.add(id(value))
        for v in value.values():
            _ids(v, out)
    elif isinstance(value, list):
        out.add(id(value))
        for v in value:
            _ids(v, out)
    return out


def test_a_copy_equals_the_value_and_shares_no_container_with_it() -> None:
    value: dict[str, Any] = {
        "messages": [{"type": "ai", "content": "hi", "tool_calls": [{"args": {"q": [1, 2]}}]}],
        "n": 1, "x": 1.5, "flag": True, "none": None, "raw": b"\x00", 3: "int key",
    }  # fmt: skip
    got = state_copy(value)
    assert got == value == copy.deepcopy(value)
    assert [type(v) for v in got.values()] == [type(v) for v in value.values()]
    assert not _ids(got, set()) & _ids(value, set())
    got["messages"][0]["tool_calls"][0]["args"]["q"].append(3)
    assert value["messages"][0]["tool_calls"][0]["args"]["q"] == [1, 2]


def test_other_values_are_deep_copied() -> None:
    note, when = Note(["a"]), dt.datetime(2026, 12, 5, tzinfo=dt.UTC)
    value = {"note": note, "pair": ([1], {"k": [2]}), "when": when}
    got = state_copy(value)
    assert got == value
    assert got["note"] is not note and got["note"].tags is not note.tags
    assert got["pair"][0] is not value["pair"][0]
    got["pair"][1]["k"].append(3)
    assert value["pair"][1]["k"] == [2]


def test_a_value_that_contains_itself_keeps_its_cycle() -> None:
    value: dict[str, Any] = {"items": [1]}
    value["self"] = value
    got = state_copy(value)
    assert got is not value and got["self"] is got and got["items"] == [1]
