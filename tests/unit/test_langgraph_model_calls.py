"""The executor's callback handler (duragraph_lab.langgraph.model_calls) on real LangGraph graphs
run in memory: each call kept under the task that made it (a subgraph's under the subgraph's
own task, not its parent's), timed, with what the model reported; failures recorded as errors."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

pytest.importorskip("langchain")

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from langgraph.graph import START, StateGraph
from typing_extensions import TypedDict

from duragraph_lab.langgraph.model_calls import CallRecorder
from tests.lg_graphs import metered_agent


class State(TypedDict, total=False):
    text: str


def _run(
    graph: Any, graph_input: Any, *, subgraphs: bool = False
) -> list[tuple[str, str, dict[str, Any], list[Any], list[Any]]]:
    """(node, task id, result chunk, model calls, tool calls) of each finished task (the root's;
    with ``subgraphs``, the subgraphs' too, in the order they finish)."""
    recorder = CallRecorder()
    out: list[tuple[str, str, dict[str, Any], list[Any], list[Any]]] = []

    async def drive() -> None:
        async for namespace, chunk in graph.astream(
            graph_input, {"callbacks": [recorder]}, stream_mode="tasks", subgraphs=True
        ):
            if namespace and not subgraphs:
                continue
            if "result" in chunk or "error" in chunk:
                models, tools = recorder.take(chunk["id"])
                out.append((chunk["name"], chunk["id"], chunk, models, tools))

    asyncio.run(drive())
    return out


def test_a_create_agents_calls_are_kept_under_their_tasks() -> None:
    done = _run(metered_agent, {"messages": [("user", "add 1 and 2")]})
    assert [(node, len(m), len(t)) for node, _, _, m, t in done] == [
        ("model", 1, 0),
        ("tools", 0, 1),
        ("model", 1, 0),
    ]
    first = done[0][3][0]
    assert first["usage"] == {"input_tokens": 10, "output_tokens": 7}
    assert first["finish_reason"] == "tool_calls" and first["response_model"] == "metered-1-2026"
    assert first["finished_at"] - first["started_at"] >= 0.05
    assert done[1][4] == [{"name": "add", "id": "call-1", "started_at": done[1][4][0]["started_at"],
                           "finished_at": done[1][4][0]["finished_at"]}]  # fmt: skip


def test_a_subgraphs_model_call_is_the_subgraphs_task_not_its_parents() -> None:
    model = GenericFakeChatModel(messages=iter([AIMessage(content="inner answer")]))

    async def ask(state: State) -> dict[str, Any]:
        return {"text": str((await model.ainvoke(state["text"])).content)}

    inner = StateGraph(State)
    inner.add_node("ask", ask)
    inner.add_edge(START, "ask")
    outer = StateGraph(State)
    outer.add_node("sub", inner.compile())
    outer.add_edge(START, "sub")
    [(node, _, _, models, tools), (parent, _, _, parent_models, _)] = _run(
        outer.compile(), {"text": "hi"}, subgraphs=True
    )
    assert (node, parent) == ("ask", "sub") and tools == [] and parent_models == []
    [call] = models
    assert call["model"] and call["provider"] == "genericfakechatmodel"
    assert "usage" not in call  # the fake model reports none: nothing invented


def test_failed_model_and_tool_calls_are_recorded_as_errors() -> None:
    class Broken(GenericFakeChatModel):
        def _generate(self, *args: Any, **kwargs: Any) -> Any:
            raise ConnectionError("endpoint down")

    broken = Broken(messages=iter([]))

    @tool
    def explode(x: int) -> int:
        """Always fails."""
        raise ValueError("no")

    def call_tool(state: State) -> dict[str, Any]:
        with contextlib.suppress(ValueError):
            explode.invoke({"x": 1})
        with contextlib.suppress(ConnectionError):
            broken.invoke("hello")
        return {"text": "survived"}

    g = StateGraph(State)
    g.add_node("risky", call_tool)
    g.add_edge(START, "risky")
    [(_, _, _, models, tools)] = _run(g.compile(), {"text": ""})
    assert [c["error"] for c in models] == ["ConnectionError: endpoint down"]
    assert [(c["name"], c["error"]) for c in tools] == [("explode", "ValueError: no")]
    assert all(c["started_at"] <= c["finished_at"] for c in models + tools)


def test_calls_outside_any_task_are_not_recorded() -> None:
    recorder = CallRecorder()
    model = GenericFakeChatModel(messages=iter([AIMessage(content="x")]))
    model.invoke("hello", {"callbacks": [recorder]})
    assert recorder._models == {} and recorder._open == {}
