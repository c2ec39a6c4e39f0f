"""The demo graphs compile, draw, and run end to end offline (the scripted model)."""

from __future__ import annotations

import importlib
import subprocess
import sys
import time
import uuid
from typing import Any

import pytest

from duragraph_lab.demo import GRAPHS, approval, chat, map_reduce
from duragraph_lab.demo.tools import calculator, evaluate
from duragraph_lab.graph.compiled import CompiledGraph
from duragraph_lab.graph.types import Command
from duragraph_lab.llm import ScriptedChatModel, get_chat_model


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("DURAGRAPH_LLM_BASE_URL", "DURAGRAPH_LLM_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DURAGRAPH_LLM_TOKEN_DELAY", "0")


def thread() -> dict[str, Any]:
    return {"configurable": {"thread_id": str(uuid.uuid4())}}


def node_ids(graph: CompiledGraph) -> set[str]:
    return {n["id"] for n in graph.to_json()["nodes"]}


def edges(graph: CompiledGraph) -> set[tuple[str, str]]:
    return {(e["source"], e["target"]) for e in graph.to_json()["edges"]}


@pytest.mark.parametrize(
    ("target", "name", "nodes"),
    [
        ("duragraph_lab.demo.chat:graph", "chat", {"agent", "tools"}),
        ("duragraph_lab.demo.approval:graph", "approval", {"draft", "review", "publish"}),
        ("duragraph_lab.demo.map_reduce:graph", "map_reduce", {"plan", "research", "summarize"}),
    ],
)
def test_graphs_are_listed_compiled_and_drawable(target: str, name: str, nodes: set[str]) -> None:
    assert target in GRAPHS
    module, attribute = target.split(":")
    graph = getattr(importlib.import_module(module), attribute)
    assert isinstance(graph, CompiledGraph)
    assert graph.name == name
    assert graph.to_json()["graph_id"] == name
    assert node_ids(graph) == nodes | {"__start__", "__end__"}


def test_the_package_does_not_import_the_demos_eagerly() -> None:
    code = "import sys, duragraph_lab.demo; print(sorted(m for m in sys.modules if m.startswith('duragraph_lab.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "duragraph_lab.demo.chat" not in out
    assert "duragraph_lab.llm" not in out


def test_the_topologies() -> None:
    assert edges(chat.graph) == {
        ("__start__", "agent"),
        ("agent", "tools"),
        ("agent", "__end__"),
        ("tools", "agent"),
    }
    assert chat.graph.to_json()["nodes"][1]["retry"]["max_attempts"] > 1  # the agent node retries
    assert {("review", "publish"), ("review", "draft"), ("review", "__end__")} <= edges(approval.graph)
    assert {("plan", "research"), ("research", "summarize"), ("summarize", "__end__")} <= edges(
        map_reduce.graph
    )


# -- chat --------------------------------------------------------------------------------------------------
def test_chat_answers_arithmetic_with_the_calculator() -> None:
    state = chat.graph.invoke({"messages": [("user", "what is 2 + 3")]}, thread())
    kinds = [m["type"] for m in state["messages"]]
    assert kinds == ["human", "ai", "tool", "ai"]
    call = state["messages"][1]["tool_calls"][0]
    assert call["name"] == "calculator"
    tool_message = state["messages"][2]
    assert (tool_message["tool_call_id"], tool_message["content"]) == (call["id"], "5")
    assert "5" in state["messages"][-1]["content"]
    assert state["messages"][-1]["tool_calls"] == []


def test_chat_echoes_a_plain_message_and_continues_the_thread() -> None:
    config = thread()
    state = chat.graph.invoke({"messages": [("user", "hello there")]}, config)
    assert [m["type"] for m in state["messages"]] == ["human", "ai"]
    assert state["messages"][-1]["content"] == "You said: hello there"
    state = chat.graph.invoke({"messages": [("user", "calculate 7*6")]}, config)
    assert len(state["messages"]) == 6
    assert state["messages"][-1]["content"] == "The result is 42."


def test_chat_survives_a_failing_tool() -> None:
    state = chat.graph.invoke({"messages": [("user", "what is 1/0")]}, thread())
    assert state["messages"][2]["status"] == "error"
    assert "ZeroDivisionError" in state["messages"][-1]["content"]


def test_the_calculator_is_safe() -> None:
    assert evaluate("2 + 3 * (4 - 1) ** 2 % 5") == 2 + 3 * (4 - 1) ** 2 % 5
    assert evaluate("-7 / 2") == -3.5
    assert calculator("6 / 3") == "2"
    for unsafe in (
        "__import__('os').system('true')",
        "x + 1",
        "(1).real",
        "[1, 2]",
        "True + 1",
        "2 ** 10000",
        "1 < 2",
    ):
        with pytest.raises(ValueError, match=r"unsupported|too large|not an arithmetic"):
            evaluate(unsafe)
    with pytest.raises(ValueError, match="out of range"):
        evaluate("10 ** 200 * 10 ** 200")


# -- approval ---------------------------------------------------------------------------------------------
def interrupt_value(state: dict[str, Any]) -> Any:
    [pending] = state["__interrupt__"]
    return pending.value


def test_approval_revises_on_feedback_then_publishes() -> None:
    config = thread()
    state = approval.graph.invoke({"messages": [("user", "Can we meet tomorrow?")]}, config)
    asked = interrupt_value(state)
    assert asked["question"] == "Approve this reply?"
    assert asked["draft"] == state["draft"] == "You said: Can we meet tomorrow?"
    first_draft = state["draft"]

    state = approval.graph.invoke(Command(resume={"approved": False, "feedback": "be more formal"}), config)
    revised = interrupt_value(state)["draft"]
    assert revised == state["draft"] != first_draft
    assert "be more formal" in revised  # the feedback reached the model's prompt
    assert state["revisions"] == 1
    assert [m["type"] for m in state["messages"]] == ["human"]  # nothing published yet

    state = approval.graph.invoke(Command(resume=True), config)
    assert "__interrupt__" not in state
    assert state["approved"] is True
    assert [m["type"] for m in state["messages"]] == ["human", "ai"]
    assert state["messages"][-1]["content"] == revised


def test_approval_accepts_a_plain_rejection_and_asks_again_on_nonsense() -> None:
    config = thread()
    approval.graph.invoke({"messages": [("user", "hi")]}, config)
    state = approval.graph.invoke(Command(resume="maybe"), config)
    assert "expected true/false" in interrupt_value(state)["error"]
    state = approval.graph.invoke(Command(resume=False), config)
    assert state["revisions"] == 1
    assert "no feedback given" in state["draft"]
    assert "error" not in interrupt_value(state)


def test_approval_gives_up_after_the_last_revision_without_publishing() -> None:
    config = thread()
    state = approval.graph.invoke({"messages": [("user", "hi")]}, config)
    for _ in range(approval.MAX_REVISIONS):
        state = approval.graph.invoke(Command(resume={"approved": False, "feedback": "no"}), config)
        assert "__interrupt__" in state
    assert state["revisions"] == approval.MAX_REVISIONS
    state = approval.graph.invoke(Command(resume=False), config)
    assert "__interrupt__" not in state
    assert state["approved"] is False
    assert [m["type"] for m in state["messages"]] == ["human"]
    # A new request on the thread starts over.
    state = approval.graph.invoke({"messages": [("user", "again")]}, config)
    assert (state["revisions"], interrupt_value(state)["draft"]) == (0, "You said: again")


# -- map-reduce ------------------------------------------------------------------------------------------
def test_map_reduce_researches_each_subtopic_and_summarizes() -> None:
    state = map_reduce.graph.invoke({"topic": "solar power"}, thread())
    assert 3 <= len(state["subtopics"]) <= 5
    assert [n["subtopic"] for n in state["notes"]] == state["subtopics"]
    assert all("solar power" in n["note"] for n in state["notes"])
    assert state["summary"]
    assert all(n["subtopic"] in state["summary"] for n in state["notes"])


def test_map_reduce_takes_a_list_of_subjects() -> None:
    state = map_reduce.graph.invoke({"topic": ["wind", "tides", "geothermal"]}, thread())
    assert sorted(n["subtopic"] for n in state["notes"]) == ["geothermal", "tides", "wind"]


def test_map_reduce_uses_the_models_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    scripted = ScriptedChatModel(
        ["1. history\n2. physics\n- economics", "n1", "n2", "n3", "all in all"], token_delay=0
    )
    monkeypatch.setattr(map_reduce, "get_chat_model", lambda: scripted)
    state = map_reduce.graph.invoke({"topic": "solar power"}, thread())
    assert state["subtopics"] == ["history", "physics", "economics"]
    assert sorted(n["note"] for n in state["notes"]) == ["n1", "n2", "n3"]
    assert state["summary"] == "all in all"


def test_subtopic_parsing_falls_back_to_fixed_angles() -> None:
    assert map_reduce.parse_subtopics("a\nb\nc\nd\ne", "t") == ["a", "b", "c", "d", "e"]
    fallback = map_reduce.parse_subtopics("just one line", "tea")
    assert 3 <= len(fallback) <= 5
    assert all(s.startswith("tea: ") for s in fallback)
    assert len(map_reduce.parse_subtopics("\n".join("abcdef"), "t")) == len(map_reduce.FALLBACK_ANGLES)


def test_the_chat_demo_is_paced_like_a_real_model_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unconfigured, the scripted model waits before its first token and streams at a readable
    pace: a tool-calling chat takes 1-2 s, so its nodes can be watched lighting up. The tests
    turn the pacing off through the same variables (tests/conftest.py)."""

    monkeypatch.delenv("DURAGRAPH_LLM_TOKEN_DELAY")
    monkeypatch.delenv("DURAGRAPH_LLM_FIRST_TOKEN_DELAY", raising=False)
    model = get_chat_model()
    assert isinstance(model, ScriptedChatModel)
    assert (model.first_token_delay, model.token_delay) == (0.5, 0.06)
    started = time.monotonic()
    state = chat.graph.invoke({"messages": [("user", "what is 6 * 7")]}, thread())
    took = time.monotonic() - started
    assert state["messages"][-1]["content"] == "The result is 42."
    assert took >= 1.0, took  # two model calls of at least 0.5 s each (the upper end: load)
    assert took <= 6.0, took

    monkeypatch.setenv("DURAGRAPH_LLM_TOKEN_DELAY", "0")
    monkeypatch.setenv("DURAGRAPH_LLM_FIRST_TOKEN_DELAY", "0")
    started = time.monotonic()
    chat.graph.invoke({"messages": [("user", "what is 6 * 7")]}, thread())
    assert time.monotonic() - started < took - 0.5  # without the two waits of 0.5 s
