"""When a run's checkpointer stores a list channel whole and when as an append
(``langgraph/list_values.py``): the bytes a growing list costs grow linearly with its length, and
the chain a read follows stays bounded by the value it reads. Every value stored is read back
through :func:`resolve` from the chain a reader would get."""

from __future__ import annotations

from typing import Any

import pytest
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from duragraph_lab.domain.events.langgraph import ListAppend, StoredValue
from duragraph_lab.langgraph.list_values import MAX_APPENDS, MIN_APPENDS, ListValues, resolve

SERDE = JsonPlusSerializer()


class Channel:
    """One channel's stored versions, as the read models hold them: version -> stored value."""

    def __init__(self, lists: ListValues) -> None:
        self.lists = lists
        self.stored: dict[str, StoredValue] = {}
        self.n = 0

    def put(self, value: Any) -> str:
        self.n += 1
        version = f"{self.n:010}"
        self.stored[version] = self.lists.store("t", "", "messages", version, value)
        return version

    def read(self, version: str) -> Any:
        """A reader's value at ``version``, and the writer (``self.lists``) told it was read."""
        chain = self.chain(version)
        value = resolve(SERDE, chain)
        self.lists.seen("t", "", "messages", version, chain, value)
        return value

    def chain(self, version: str) -> list[StoredValue]:
        """The value at ``version``, then its bases' values down to one stored whole."""
        out = [self.stored[version]]
        while isinstance(out[-1], ListAppend):
            out.append(self.stored[out[-1].base])  # type: ignore[union-attr]
        return out

    def items_stored(self) -> int:
        """List items stored over all versions (whole values count all theirs)."""
        return sum(
            len(v.items) if isinstance(v, ListAppend) else len(SERDE.loads_typed(v))
            for v in self.stored.values()
        )


def _message(i: int) -> dict[str, Any]:
    return {"role": "user" if i % 2 else "ai", "content": f"message {i}", "id": f"m{i}"}


def test_a_growing_list_is_stored_whole_again_when_its_appends_hold_as_many_items() -> None:
    ch = Channel(ListValues(SERDE, min_appends=4))
    values: list[list[dict[str, Any]]] = []
    for i in range(200):
        values.append([_message(j) for j in range(i + 1)])
        ch.put(values[-1])
    wholes = [len(values[i]) for i, v in enumerate(ch.stored.values()) if not isinstance(v, ListAppend)]
    assert wholes == [1, 5, 10, 20, 40, 80, 160]
    # Linear: the appends once, the whole values less than twice the last.
    assert ch.items_stored() <= 3 * 200
    for version, value in zip(ch.stored, values, strict=True):
        chain = ch.chain(version)
        assert len(chain) <= max(4, len(value))
        assert resolve(SERDE, chain) == value


def test_the_default_floor_keeps_short_lists_to_one_whole_value_and_appends() -> None:
    ch = Channel(ListValues(SERDE))
    for i in range(MIN_APPENDS):
        ch.put([_message(j) for j in range(i + 1)])
    forms = [isinstance(v, ListAppend) for v in ch.stored.values()]
    assert forms == [False] + [True] * (MIN_APPENDS - 1)
    ch.put([_message(j) for j in range(MIN_APPENDS + 1)])
    assert not isinstance(ch.stored[max(ch.stored)], ListAppend)


def test_versions_that_add_nothing_count_as_appends() -> None:
    """A new version of the same list is an append of no item: without counting those, a chain
    could grow without the value growing."""
    ch = Channel(ListValues(SERDE, min_appends=4))
    value = [_message(0), _message(1)]
    for _ in range(13):
        ch.put(value)
    forms = [isinstance(v, ListAppend) for v in ch.stored.values()]
    assert forms == [False, True, True, True] * 3 + [False]
    assert all(resolve(SERDE, ch.chain(v)) == value for v in ch.stored)


def test_a_read_chain_is_never_longer_than_max_appends() -> None:
    ch = Channel(ListValues(SERDE, min_appends=2, max_appends=8))
    value: list[int] = []
    for i in range(100):
        value = [*value, i]
        version = ch.put(value)
        assert len(ch.chain(version)) <= 8
        assert resolve(SERDE, ch.chain(version)) == value
    assert MIN_APPENDS <= MAX_APPENDS


def test_a_value_that_does_not_extend_the_last_is_stored_whole_and_starts_over() -> None:
    ch = Channel(ListValues(SERDE, min_appends=4))
    v1 = ch.put([1, 2, 3])
    v2 = ch.put([1, 2, 3, 4])
    v3 = ch.put([9, 2, 3, 4, 5])  # an edited item
    v4 = ch.put([9, 2, 3, 4, 5, 6])
    v5 = ch.put("not a list")
    v6 = ch.put([1])
    v7 = ch.put([1, 2])
    assert [isinstance(ch.stored[v], ListAppend) for v in (v1, v2, v3, v4, v5, v6, v7)] == [
        False,
        True,
        False,
        True,
        False,
        False,
        True,
    ]
    assert ch.stored[v4] == ListAppend(v3, (SERDE.dumps_typed(6),))
    assert resolve(SERDE, ch.chain(v7)) == [1, 2]


def test_the_same_version_again_is_stored_whole() -> None:
    """LangGraph may save a version again (an upsert): it is never an append to itself."""
    lists = ListValues(SERDE)
    assert not isinstance(lists.store("t", "", "c", "1", [1]), ListAppend)
    assert not isinstance(lists.store("t", "", "c", "1", [1, 2]), ListAppend)


def test_forgotten_and_discarded_channels_start_over_with_a_whole_value() -> None:
    lists = ListValues(SERDE)
    lists.store("t", "", "a", "1", [1])
    lists.store("t", "", "b", "1", [1])
    lists.store("u", "", "a", "1", [1])
    lists.discard("t", "", "a")
    lists.forget("u")
    assert not isinstance(lists.store("t", "", "a", "2", [1, 2]), ListAppend)
    assert not isinstance(lists.store("u", "", "a", "2", [1, 2]), ListAppend)
    assert isinstance(lists.store("t", "", "b", "2", [1, 2]), ListAppend)


@pytest.mark.parametrize(("low", "high"), [(0, 8), (9, 8)])
def test_bounds_out_of_order_are_refused(low: int, high: int) -> None:
    with pytest.raises(ValueError, match="min_appends"):
        ListValues(SERDE, min_appends=low, max_appends=high)


def test_a_chain_without_its_whole_value_is_refused() -> None:
    with pytest.raises(LookupError, match="missing"):
        resolve(SERDE, [ListAppend("1", (SERDE.dumps_typed(1),))])


def test_a_writer_goes_on_from_a_value_it_read_as_from_one_it_stored() -> None:
    """A run reads the thread's latest checkpoint, then appends to it: a conversation run one
    turn at a time appends from turn to turn, and the chain stays as bounded."""
    ch = Channel(ListValues(SERDE, min_appends=4))
    values = [[_message(j) for j in range(i + 1)] for i in range(40)]
    for turn in range(20):  # two messages a turn, each turn a new writer (run)
        ch.lists = ListValues(SERDE, min_appends=4)
        if ch.stored:
            assert ch.read(max(ch.stored)) == values[2 * turn - 1]
        ch.put(values[2 * turn])
        ch.put(values[2 * turn + 1])
    wholes = [len(values[i]) for i, v in enumerate(ch.stored.values()) if not isinstance(v, ListAppend)]
    assert wholes == [1, 5, 10, 20, 40]  # as one writer stores them
    for version, value in zip(ch.stored, values, strict=True):
        assert resolve(SERDE, ch.chain(version)) == value


def test_a_value_read_then_changed_in_place_is_compared_as_it_was_stored() -> None:
    """A reducer may extend the list it was given in place: what the next version extends is
    the stored value, read again from the chain's bytes, not that list."""
    ch = Channel(ListValues(SERDE, min_appends=4))
    ch.put([1])
    v2 = ch.put([1, 2])
    ch.lists = ListValues(SERDE, min_appends=4)
    value = ch.read(v2)
    value.append(3)  # in place
    v3 = ch.put(value)
    assert ch.stored[v3] == ListAppend(v2, (SERDE.dumps_typed(3),))
    assert resolve(SERDE, ch.chain(v3)) == [1, 2, 3]


def test_values_read_that_it_cannot_go_on_from_change_nothing() -> None:
    lists = ListValues(SERDE)
    whole = SERDE.dumps_typed([1, 2])
    lists.seen("t", "", "a", "1", [SERDE.dumps_typed("text")], "text")
    lists.seen("t", "", "b", "1", [ListAppend("0", (SERDE.dumps_typed(2),))], [1, 2])  # no whole value
    lists.seen("t", "", "c", "1", [whole, whole], [1, 2])  # a whole value above the first
    lists.seen("t", "", "d", "1", [], [])
    for channel in "abcd":
        assert not isinstance(lists.store("t", "", channel, "2", [1, 2, 3]), ListAppend), channel
    # ... and a version this writer stored itself is not replaced by a read of it.
    lists.store("t", "", "e", "1", [1])
    lists.seen("t", "", "e", "1", [SERDE.dumps_typed([1])], [1])
    assert lists.store("t", "", "e", "2", [1, 2]) == ListAppend("1", (SERDE.dumps_typed(2),))
