"""Built-in reducers (add_messages, apply_writes) and chat-message coercion."""

from __future__ import annotations

import copy
import operator
from typing import Any

import pytest

from duragraph_lab.domain import reducers as red
from duragraph_lab.domain.messages import (
    REMOVE_ALL,
    InvalidMessage,
    coerce_message,
    message,
    message_id,
    remove_message,
    with_id,
)
from duragraph_lab.domain.reducers import (
    InvalidUpdate,
    add_messages,
    apply_writes,
    normalize_messages,
    reducer_name,
)


def human(content: str, id: str) -> dict[str, Any]:
    return {"type": "human", "content": content, "id": id}


def ai(content: str, id: str) -> dict[str, Any]:
    return {"type": "ai", "content": content, "id": id}


def _ids(messages: list[Any]) -> list[Any]:
    return [message_id(m) for m in messages]


# -- coerce_message --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("hello", {"type": "human", "content": "hello"}),
        (("user", "hi"), {"type": "human", "content": "hi"}),
        (("human", "hi"), {"type": "human", "content": "hi"}),
        (("assistant", "yo"), {"type": "ai", "content": "yo"}),
        (("ai", "yo"), {"type": "ai", "content": "yo"}),
        (("system", "be nice"), {"type": "system", "content": "be nice"}),
        (("developer", "be nice"), {"type": "system", "content": "be nice"}),
        (("tool", "42"), {"type": "tool", "content": "42"}),
        (("function", "42"), {"type": "tool", "content": "42"}),
        ({"role": "user", "content": "hi"}, {"type": "human", "content": "hi"}),
        ({"role": "assistant", "content": "yo"}, {"type": "ai", "content": "yo"}),
        ({"type": "ai", "content": "yo", "id": "m1"}, {"type": "ai", "content": "yo", "id": "m1"}),
        ({"role": "system"}, {"type": "system", "content": ""}),
    ],
)
def test_coerce_message_produces_canonical_dicts(raw: Any, expected: dict[str, Any]) -> None:
    assert coerce_message(raw) == expected


def test_coerce_message_keeps_extra_fields_of_openai_dicts_and_drops_role() -> None:
    calls = [{"id": "call_1", "name": "search", "args": {"q": "x"}}]
    raw = {"role": "assistant", "content": "", "tool_calls": calls, "id": "a1"}

    out = coerce_message(raw)

    assert out == {"type": "ai", "content": "", "tool_calls": calls, "id": "a1"}
    assert "role" in raw  # the caller's dict is not modified


def test_coerce_message_keeps_message_objects_as_they_are() -> None:
    class LangChainLike:
        type = "ai"
        content = "x"
        id = "obj-1"

    obj = LangChainLike()

    assert coerce_message(obj) is obj


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (("robot", "beep"), "unknown message role 'robot'"),
        ({"role": "wizard", "content": "x"}, "unknown message role 'wizard'"),
        ({"content": "no role"}, r"a message dict needs a 'type' or 'role', got keys \['content'\]"),
        ({"type": 7, "content": "x"}, "needs a 'type' or 'role'"),
        (42, "cannot read int 42 as a chat message"),
        (None, "cannot read NoneType None as a chat message"),
        (("a", "b", "c"), "cannot read tuple"),
    ],
)
def test_coerce_message_rejects_unreadable_values(raw: Any, match: str) -> None:
    with pytest.raises(InvalidMessage, match=match):
        coerce_message(raw)


def test_invalid_message_is_a_value_error() -> None:
    assert issubclass(InvalidMessage, ValueError)


def test_message_helpers_build_canonical_dicts() -> None:
    built = message("ai", "hi", id="x1", tool_calls=None, name="bot")

    assert built == {"type": "ai", "content": "hi", "id": "x1", "name": "bot"}
    assert message("human", "no id")["id"]
    assert remove_message("x1") == {"type": "remove", "id": "x1", "content": ""}
    assert with_id({"type": "human", "content": "c"}, "new") == {"type": "human", "content": "c", "id": "new"}


# -- normalize_messages ----------------------------------------------------------------------------


def test_normalize_messages_assigns_ids_with_make_id_by_position() -> None:
    out = normalize_messages(
        ["first", human("second", "keep"), ("ai", "third")], make_id=lambda i: f"gen-{i}"
    )

    assert out == [
        {"type": "human", "content": "first", "id": "gen-0"},
        {"type": "human", "content": "second", "id": "keep"},
        {"type": "ai", "content": "third", "id": "gen-2"},
    ]


def test_normalize_messages_is_deterministic_with_make_id() -> None:
    update = [("user", "a"), {"role": "assistant", "content": "b"}]

    def make_id(i: int) -> str:
        return f"run-1:{i}"

    assert normalize_messages(update, make_id) == normalize_messages(update, make_id)


def test_normalize_messages_without_make_id_assigns_distinct_ids() -> None:
    out = normalize_messages(["a", "b", "c"])

    ids = _ids(out)
    assert all(isinstance(i, str) and i for i in ids)
    assert len(set(ids)) == 3


@pytest.mark.parametrize(
    ("update", "expected_contents"),
    [
        ("just a string", ["just a string"]),
        (("user", "a role tuple"), ["a role tuple"]),
        ({"role": "user", "content": "a dict"}, ["a dict"]),
        (("one", "two", "three"), ["one", "two", "three"]),
        (["x", "y"], ["x", "y"]),
    ],
)
def test_normalize_messages_accepts_single_messages_and_sequences(
    update: Any, expected_contents: list[str]
) -> None:
    out = normalize_messages(update, make_id=str)

    assert [m["content"] for m in out] == expected_contents


# -- add_messages ----------------------------------------------------------------------------------


def test_add_messages_appends_new_messages_in_order() -> None:
    left = [human("hi", "1")]
    right = [ai("hello", "2"), human("how are you", "3")]

    assert add_messages(left, right) == [human("hi", "1"), ai("hello", "2"), human("how are you", "3")]


def test_add_messages_replaces_a_message_with_the_same_id_in_place() -> None:
    left = [human("hi", "1"), ai("draft", "2"), human("bye", "3")]

    merged = add_messages(left, [ai("final", "2")])

    assert merged == [human("hi", "1"), ai("final", "2"), human("bye", "3")]


def test_add_messages_removes_by_id() -> None:
    left = [human("hi", "1"), ai("hello", "2"), human("bye", "3")]

    merged = add_messages(left, [remove_message("2")])

    assert merged == [human("hi", "1"), human("bye", "3")]


def test_add_messages_removing_a_missing_id_raises() -> None:
    with pytest.raises(ValueError, match="cannot remove message 'nope': no such message"):
        add_messages([human("hi", "1")], [remove_message("nope")])


def test_add_messages_remove_all_clears_everything_before_it() -> None:
    left = [human("hi", "1"), ai("hello", "2")]

    merged = add_messages(left, [ai("dropped", "3"), remove_message(REMOVE_ALL), human("fresh", "4")])

    assert merged == [human("fresh", "4")]


def test_add_messages_can_remove_a_message_added_earlier_in_the_same_update() -> None:
    merged = add_messages([human("hi", "1")], [ai("temp", "2"), remove_message("2"), ai("kept", "3")])

    assert merged == [human("hi", "1"), ai("kept", "3")]


def test_add_messages_coerces_strings_tuples_and_role_dicts() -> None:
    merged = add_messages(
        [("system", "be brief")],
        ["question", ("assistant", "answer"), {"role": "tool", "content": "42", "tool_call_id": "c1"}],
    )

    assert [(m["type"], m["content"]) for m in merged] == [
        ("system", "be brief"),
        ("human", "question"),
        ("ai", "answer"),
        ("tool", "42"),
    ]
    assert merged[3]["tool_call_id"] == "c1"
    assert len(set(_ids(merged))) == 4


def test_add_messages_accepts_a_single_message_and_empty_sides() -> None:
    assert add_messages(None, human("only", "1")) == [human("only", "1")]
    assert add_messages([human("only", "1")], None) == [human("only", "1")]
    assert add_messages([], []) == []


@pytest.mark.parametrize("bad", [("robot", "beep"), {"role": "wizard"}, 3.14, [None]])
def test_add_messages_rejects_unreadable_updates(bad: Any) -> None:
    with pytest.raises(InvalidMessage):
        add_messages([human("hi", "1")], bad)


def test_add_messages_does_not_mutate_its_arguments() -> None:
    left = [human("hi", "1"), ai("old", "2")]
    right = [ai("new", "2"), remove_message("1"), {"role": "user", "content": "q"}]
    left_before, right_before = copy.deepcopy(left), copy.deepcopy(right)

    add_messages(left, right)

    assert left == left_before
    assert right == right_before


def test_add_messages_keeps_a_states_canonical_messages_and_normalizes_the_others() -> None:
    # A state's list is canonical already (the reducer made it so): its messages are kept as
    # they are, not built again at every step; anything else in it is normalized as before.
    kept = human("hi", "1")
    left = [kept, {"role": "assistant", "content": "a", "id": "2"}, {"type": "ai", "content": "no id"}]
    merged = add_messages(left, [ai("new", "3")])
    assert merged[0] is kept
    assert merged[1] == {"type": "ai", "content": "a", "id": "2"}
    assert merged[2]["type"] == "ai" and merged[2]["content"] == "no id" and merged[2]["id"]
    assert [m["id"] for m in merged][:2] == ["1", "2"] and merged[3] == ai("new", "3")
    assert merged is not left and len(left) == 3  # a new list


# -- reducer_name ----------------------------------------------------------------------------------


def _custom(a: Any, b: Any) -> Any:
    return b


def add_messages_lookalike(left: Any, right: Any) -> Any:  # stands in for LangGraph's own
    return left


add_messages_lookalike.__name__ = "add_messages"


@pytest.mark.parametrize(
    ("fn", "name"),
    [
        (operator.add, "add"),
        (operator.concat, "add"),
        (add_messages, "add_messages"),
        (add_messages_lookalike, "add_messages"),
        (_custom, "custom"),
        (operator.or_, "custom"),
        (lambda a, b: a + b, "custom"),
    ],
)
def test_reducer_name_recognises_builtins(fn: Any, name: str) -> None:
    assert reducer_name(fn) == name


def test_builtin_looks_up_reducers_by_name() -> None:
    assert red.builtin("add") is operator.add
    assert red.builtin("add_messages") is add_messages
    with pytest.raises(KeyError):
        red.builtin("replace")


# -- apply_writes ----------------------------------------------------------------------------------

CHANNELS = {"name": "replace", "log": "add", "messages": "add_messages", "best": "custom"}


def test_apply_writes_rejects_unknown_keys_and_names_the_writer() -> None:
    with pytest.raises(InvalidUpdate) as info:
        apply_writes({}, [("node_a", {"name": "x"}), ("node_b", {"oops": 1})], CHANNELS)

    message = str(info.value)
    assert message.startswith("node_b wrote unknown state key 'oops'")
    assert "['best', 'log', 'messages', 'name']" in message


def test_two_writes_to_a_replace_key_in_one_step_raise_naming_both_writers() -> None:
    with pytest.raises(
        InvalidUpdate, match="state key 'name' was written by both node_a and node_b in one step"
    ):
        apply_writes({"name": "old"}, [("node_a", {"name": "x"}), ("node_b", {"name": "y"})], CHANNELS)


def test_a_single_write_to_a_replace_key_replaces_it() -> None:
    assert apply_writes({"name": "old"}, [("node_a", {"name": "new"})], CHANNELS) == {"name": "new"}


def test_add_keys_concatenate_in_write_order() -> None:
    writes = [("b", {"log": ["from b"]}), ("a", {"log": ["from a"]}), ("c", {"log": ["from c"]})]

    out = apply_writes({"log": ["start"]}, writes, CHANNELS)

    assert out["log"] == ["start", "from b", "from a", "from c"]


def test_add_key_without_a_current_value_takes_the_first_write() -> None:
    out = apply_writes({}, [("a", {"log": [1]}), ("b", {"log": [2]})], CHANNELS)

    assert out == {"log": [1, 2]}


def test_add_messages_keys_merge_by_id() -> None:
    values = {"messages": [human("hi", "1"), ai("draft", "2")]}

    out = apply_writes(
        values, [("a", {"messages": [ai("final", "2")]}), ("b", {"messages": human("q", "3")})], CHANNELS
    )

    assert out["messages"] == [human("hi", "1"), ai("final", "2"), human("q", "3")]


def test_add_messages_key_without_a_current_value_is_normalized() -> None:
    out = apply_writes({}, [("a", {"messages": "hello"})], CHANNELS)

    assert [(m["type"], m["content"]) for m in out["messages"]] == [("human", "hello")]
    assert out["messages"][0]["id"]


def test_custom_reducers_are_applied_only_when_passed() -> None:
    writes = [("a", {"best": 5}), ("b", {"best": 3})]

    without = apply_writes({"best": 4}, writes, CHANNELS)
    with_reducer = apply_writes({"best": 4}, writes, CHANNELS, custom={"best": max})

    assert without == {"best": 4}
    assert with_reducer == {"best": 5}


def test_a_custom_reducer_starts_from_the_first_write_when_the_key_is_absent() -> None:
    calls: list[tuple[Any, Any]] = []

    def record(current: Any, update: Any) -> Any:
        calls.append((current, update))
        return current + update

    out = apply_writes({}, [("a", {"best": 10}), ("b", {"best": 1})], CHANNELS, custom={"best": record})

    assert out == {"best": 11}
    assert calls == [(10, 1)]


def test_a_custom_key_without_a_reducer_stays_absent() -> None:
    assert apply_writes({}, [("a", {"best": 5})], CHANNELS) == {}


def test_apply_writes_does_not_mutate_the_input_values() -> None:
    values = {"name": "old", "log": ["start"], "messages": [human("hi", "1")]}
    before = copy.deepcopy(values)

    apply_writes(values, [("a", {"name": "new", "log": ["x"], "messages": [ai("yo", "2")]})], CHANNELS)

    assert values == before


def test_apply_writes_with_no_writes_returns_an_equal_copy() -> None:
    values = {"name": "x"}

    out = apply_writes(values, [], CHANNELS)

    assert out == values
    assert out is not values


def test_invalid_update_is_a_value_error() -> None:
    assert issubclass(InvalidUpdate, ValueError)
