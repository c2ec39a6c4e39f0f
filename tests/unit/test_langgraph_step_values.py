"""What a LangGraph run's ``step_planned`` records of the state (``langgraph/executor._changes``):
only what changed since the previous step, lists that grew as their new items, compared exactly
(1, 1.0 and True differ)."""

from __future__ import annotations

from typing import Any

from duragraph_lab.langgraph.executor import _changes


def test_the_first_step_and_a_key_gone_record_the_whole_state() -> None:
    assert _changes(None, {"a": 1}) == ({"a": 1}, None)
    assert _changes({"a": 1, "b": 2}, {"a": 1}) == ({"a": 1}, None)


def test_only_changes_and_appended_items_are_recorded() -> None:
    before = {"messages": [{"id": "m0"}], "n": 1, "same": [1, 2], "new": None}
    after = {"messages": [{"id": "m0"}, {"id": "m1"}], "n": 2, "same": [1, 2], "new": None, "added": []}
    assert _changes(before, after) == ({"n": 2, "added": []}, {"messages": [{"id": "m1"}]})


def test_a_list_changed_before_its_end_or_shorter_is_recorded_whole() -> None:
    assert _changes({"l": [1, 2]}, {"l": [0, 2, 3]}) == ({"l": [0, 2, 3]}, {})
    assert _changes({"l": [1, 2]}, {"l": [1]}) == ({"l": [1]}, {})


def test_values_equal_in_python_but_not_in_json_are_changes() -> None:
    assert _changes({"n": 1}, {"n": 1.0}) == ({"n": 1.0}, {})
    assert _changes({"l": [1]}, {"l": [True, 2]}) == ({"l": [True, 2]}, {})
    assert _changes({"d": {"x": 0}}, {"d": {"x": False}}) == ({"d": {"x": False}}, {})


# -- _step_changes: lists the checkpointer found extended (list_values.RootPuts) ----------------


class _Unconvertible:
    """A value plain() cannot take without calling this: a recorded item converted again fails."""

    def model_dump(self, mode: str = "python") -> dict[str, object]:
        raise AssertionError("an item recorded already was converted again")


def test_a_list_found_extended_has_only_its_new_items_made_plain() -> None:
    from langchain_core.messages import AIMessage, HumanMessage

    from duragraph_lab.langgraph.executor import _step_changes, plain

    before: dict[str, Any] = {"messages": [{"type": "human", "content": "hi"}], "n": 1}
    raw: dict[str, Any] = {"messages": [_Unconvertible(), AIMessage(content="hello", id="a1")], "n": 2}
    changed, appended, recorded = _step_changes(before, raw, {"messages": 1})
    assert changed == {"n": 2}
    assert appended == {"messages": [plain(AIMessage(content="hello", id="a1"))]}
    assert recorded == {"messages": [*before["messages"], *appended["messages"]], "n": 2}
    assert recorded["messages"] is not before["messages"]  # events built earlier keep theirs

    # The same as converting and comparing everything, when the lists are what the checkpointer said.
    msgs = [HumanMessage(content="hi", id="h1"), AIMessage(content="hello", id="a1")]
    before = {"messages": plain(msgs[:1]), "tag": "x"}
    raw = {"messages": msgs, "tag": "y"}
    full_before = {k: list(v) if isinstance(v, list) else v for k, v in before.items()}
    full = _changes(full_before, plain(raw))
    fast = _step_changes(before, raw, {"messages": 1})
    assert fast[:2] == full
    assert fast[2] == plain(raw)

    # Nothing new: no append recorded.
    assert _step_changes({"messages": ["a"]}, {"messages": ["a"]}, {"messages": 1})[:2] == ({}, {})


def test_a_list_not_as_recorded_is_converted_and_compared_whole() -> None:
    from duragraph_lab.langgraph.executor import _step_changes

    # The recorded list is not the one the checkpointer extended (another length), a key is
    # gone, or nothing was recorded: everything is made plain and compared, as before.
    assert _step_changes({"l": [1, 2]}, {"l": [1, 2, 3]}, {"l": 1}) == ({}, {"l": [3]}, {"l": [1, 2, 3]})
    assert _step_changes({"l": [1], "k": 0}, {"l": [1, 2]}, {"l": 1}) == ({"l": [1, 2]}, None, {"l": [1, 2]})
    assert _step_changes(None, {"l": [1]}, {"l": 0}) == ({"l": [1]}, None, {"l": [1]})
    assert _step_changes({"l": [0]}, {"l": [9, 2]}, {}) == ({"l": [9, 2]}, {}, {"l": [9, 2]})


def test_root_puts_say_which_lists_extend_an_earlier_checkpoints() -> None:
    from duragraph_lab.langgraph.list_values import RootPuts

    puts = RootPuts(keep=2)
    puts.record("c1", {"messages": "v1", "n": "v1"}, {})
    puts.record("c2", {"messages": "v2", "n": "v2"}, {"messages": ("v1", 3)})
    assert puts.extended("c1", "c2") == {"messages": 3}
    # The base is not the version the earlier checkpoint had: nothing is known.
    puts.record("c3", {"messages": "v4", "n": "v2"}, {"messages": ("v3", 5)})
    assert puts.extended("c2", "c3") == {}
    # Only the last `keep` are remembered.
    assert puts.extended("c1", "c2") == {}
    assert puts.extended("c2", "unknown") == {}
