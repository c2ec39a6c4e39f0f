"""LangGraph's ``RemoteGraph`` (the graph-shaped client over the official SDK) against the server:
invoke, stream, state, history, state edits and the drawing, sync and async. Its v3
``stream_events`` are in test_sdk_thread_protocol.py."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from langgraph.pregel.remote import RemoteGraph
from langgraph.types import Command

from tests.apiserver import ApiServer

LOG5 = ["s0", "s1", "s2", "s3", "s4"]


def remote(server: ApiServer, graph: str) -> RemoteGraph:
    return RemoteGraph(graph, url=server.base, headers=server.headers)


def on_thread() -> dict[str, Any]:
    # RemoteGraph creates the thread on first use (if_not_exists="create").
    return {"configurable": {"thread_id": str(uuid.uuid4())}}


@pytest.mark.sdk(
    "RemoteGraph.ainvoke",
    "RemoteGraph.astream",
    "RemoteGraph.aget_state",
    "RemoteGraph.aget_state_history",
    "RemoteGraph.aupdate_state",
)
async def test_async_invoke_stream_state_history_and_edit(api_server: ApiServer) -> None:
    graph = remote(api_server, "slow")
    config = on_thread()
    result = await graph.ainvoke({"n": 0}, config)
    assert result["n"] == 5 and result["log"] == LOG5

    updates = [chunk async for chunk in graph.astream({"n": 0}, config, stream_mode="updates")]
    assert [next(iter(u)) for u in updates] == LOG5  # one update per node, in order
    state = await graph.aget_state(config)
    assert state.values["n"] == 5 and state.next == ()
    history = [s async for s in graph.aget_state_history(config, limit=3)]
    assert len(history) == 3 and history[0].config == state.config

    edited = await graph.aupdate_state(config, {"n": 100}, as_node="s4")
    assert edited["configurable"]["thread_id"] == config["configurable"]["thread_id"]
    assert (await graph.aget_state(config)).values["n"] == 100


@pytest.mark.sdk(
    "RemoteGraph.invoke",
    "RemoteGraph.stream",
    "RemoteGraph.get_state",
    "RemoteGraph.get_state_history",
    "RemoteGraph.update_state",
)
def test_sync_invoke_stream_state_history_and_edit(api_server: ApiServer) -> None:
    graph = remote(api_server, "slow")
    config = on_thread()
    assert graph.invoke({"n": 1}, config)["n"] == 6

    values = list(graph.stream({"n": 0}, config, stream_mode="values"))
    assert [v["n"] for v in values][-1] == 5
    state = graph.get_state(config)
    assert state.values["n"] == 5
    history = list(graph.get_state_history(config))
    assert history[0].config == state.config and len(history) > 6  # both runs' checkpoints

    graph.update_state(config, {"n": -1}, as_node="s4")
    assert graph.get_state(config).values["n"] == -1


@pytest.mark.sdk("RemoteGraph.aget_graph")
async def test_async_get_graph(api_server: ApiServer) -> None:
    drawing = await remote(api_server, "slow").aget_graph()
    assert {"__start__", "s0", "s4", "__end__"} <= set(drawing.nodes)
    assert any(e.source == "s0" and e.target == "s1" and not e.conditional for e in drawing.edges)


@pytest.mark.sdk("RemoteGraph.get_graph")
def test_sync_get_graph(api_server: ApiServer) -> None:
    drawing = remote(api_server, "slow").get_graph(xray=True)
    assert {"s0", "s4"} <= set(drawing.nodes)
    assert drawing.draw_mermaid()  # LangGraph can draw what the server answered


@pytest.mark.sdk("RemoteGraph.stream[Command(resume)]", "RemoteGraph.get_state")
def test_sync_interrupt_resumed_by_command(api_server: ApiServer) -> None:
    graph = remote(api_server, "asking")
    config = on_thread()
    graph.invoke({"n": 2}, config)
    paused = graph.get_state(config)
    assert paused.next == ("done",) or paused.next == ("ask",)
    assert paused.interrupts and paused.interrupts[0].value == {"question": "proceed?", "n": 2}
    list(graph.stream(Command(resume="remote"), config))
    assert graph.get_state(config).values["log"] == ["asked", "done:remote"]
