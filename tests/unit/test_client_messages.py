"""Messages in state values read the LangGraph way (``msg.content``) and stay plain JSON dicts."""

from __future__ import annotations

import json

import pytest

from duragraph_lab.client import Message, RunResult, ThreadState

AI = {"type": "ai", "content": "42", "id": "m2", "tool_calls": [{"name": "calc", "args": {}, "id": "c1"}]}
HUMAN = {"type": "human", "content": "what is 6 * 7", "id": "m1"}


def test_a_run_result_gives_messages_with_attributes() -> None:
    result = RunResult.from_json({"messages": [HUMAN, AI], "n": 3, "rows": [{"type": "x", "content": 1}]})
    human, ai = result.values["messages"]
    assert isinstance(ai, Message) and isinstance(ai, dict)
    assert (human.type, human.content, human.tool_calls) == ("human", "what is 6 * 7", [])
    assert ai.tool_calls[0]["name"] == "calc" and ai.id == "m2" and ai.name is None
    assert ai == AI and json.loads(json.dumps(result.values)) == {
        "messages": [HUMAN, AI],
        "n": 3,
        "rows": [{"type": "x", "content": 1}],
    }
    assert not isinstance(result.values["rows"][0], Message)  # not a message type: left alone
    with pytest.raises(AttributeError, match="no field 'nope'"):
        _ = ai.nope


def test_thread_state_values_and_text_of_content_blocks() -> None:
    blocks = {"type": "ai", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
    state = ThreadState.from_json({"values": {"last": blocks}, "next": []})
    assert state.values["last"].text == "ab" and state.values["last"].type == "ai"
    assert Message(HUMAN).text == "what is 6 * 7"
