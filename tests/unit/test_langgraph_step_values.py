"""What a LangGraph run's ``step_planned`` records of the state (``langgraph/executor._changes``):
only what changed since the previous step, lists that grew as their new items, compared exactly
(1, 1.0 and True differ)."""

from __future__ import annotations

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
