"""A deep agent (``deepagents.create_deep_agent``), unchanged, driven by the official SDK: its files
in the thread's state, its general-purpose subagent run by the ``task`` tool as a graph of its
own, two turns on one thread (tests/lg_graphs.py: ``deep_agent``, a scripted chat model)."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("deepagents")

from langgraph_sdk import get_client, get_sync_client

from tests.conformance.langgraph_server import headers, url
from tests.devserver import DevServer


@pytest.fixture
def server(lg_server: DevServer) -> DevServer:
    """The package's LangGraph server (tests/conformance/conftest.py)."""
    return lg_server


def _turn(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Each message's type and what it says or calls."""
    out = []
    for m in messages:
        calls = [c["name"] for c in m.get("tool_calls") or []]
        out.append((m["type"], ",".join(calls) if calls else str(m["content"]).splitlines()[-1]))
    return out


@pytest.mark.sdk(
    "runs.stream", "runs.stream[LangGraph graph]", "runs.wait", "threads.create", "threads.get_state"
)
async def test_a_deep_agent_writes_files_delegates_to_its_subagent_and_keeps_both_across_turns(
    server: DevServer,
) -> None:
    async with get_client(url=url(server), headers=headers(server)) as client:
        thread = await client.threads.create()
        tid = thread["thread_id"]
        out = await client.runs.wait(
            tid, "lg_deep_agent", input={"messages": [{"role": "user", "content": "7 * 6?"}]}
        )
        assert _turn(out["messages"]) == [
            ("human", "7 * 6?"),
            ("ai", "write_file"),
            ("tool", "Updated file /turn1.md"),
            ("ai", "task"),
            ("tool", "subagent: 7 * 6 = 42"),  # the subagent's answer, from its own graph
            ("ai", "read_file"),
            ("tool", "7 * 6?"),  # the file the first tool call wrote, read back
            ("ai", "the answer is 42 (turn 1)"),
        ]
        assert out["files"]["/turn1.md"]["content"] == "7 * 6?"
        state = await client.threads.get_state(tid)
        assert state["values"] == out and state["next"] == []

        # The second turn streams: the subagent's steps come under their own namespace (a
        # subgraph run by a tool, as LangGraph Platform streams it), the files carry over.
        subgraph_updates, root_updates = [], []
        async for part in client.runs.stream(
            tid,
            "lg_deep_agent",
            input={"messages": [{"role": "user", "content": "again?"}]},
            stream_mode="updates",
            stream_subgraphs=True,
        ):
            if part.event.startswith("updates|"):
                subgraph_updates.append((part.event, part.data))
            elif part.event == "updates":
                root_updates.append(next(iter(part.data)))
        assert [u for u in root_updates if u in ("model", "tools")] == ["model", "tools"] * 3 + ["model"]
        assert subgraph_updates and all(event.startswith("updates|tools:") for event, _ in subgraph_updates)
        said = [
            m["content"]
            for _, data in subgraph_updates
            for m in (data.get("model") or {}).get("messages", [])
        ]
        assert said == ["subagent: 7 * 6 = 42"], subgraph_updates
        final = (await client.threads.get_state(tid))["values"]
        assert sorted(final["files"]) == ["/turn1.md", "/turn2.md"]
        assert _turn(final["messages"])[-1] == ("ai", "the answer is 42 (turn 2)")
        assert len(final["messages"]) == 16


@pytest.mark.sdk("assistants.get_graph", "assistants.search")
def test_a_deep_agents_drawing_is_its_own_graph(server: DevServer) -> None:
    from tests.lg_graphs import deep_agent

    with get_sync_client(url=url(server), headers=headers(server)) as client:
        (assistant,) = client.assistants.search(graph_id="lg_deep_agent")
        drawn = client.assistants.get_graph(assistant["assistant_id"])
    own = deep_agent.get_graph()
    assert sorted(n["id"] for n in drawn["nodes"]) == sorted(own.nodes)
    edges = {(e["source"], e["target"], bool(e.get("conditional"))) for e in drawn["edges"]}
    assert edges == {(e.source, e.target, bool(e.conditional)) for e in own.edges}
    assert ("model", "tools", True) in edges  # the agent loop, conditional as LangGraph draws it


@pytest.mark.sdk("runs.wait", "threads.create", "threads.get_history")
def test_a_deep_agents_history_has_every_step_of_its_turn(server: DevServer) -> None:
    with get_sync_client(url=url(server), headers=headers(server)) as client:
        thread = client.threads.create()
        client.runs.wait(
            thread["thread_id"],
            "lg_deep_agent",
            input={"messages": [{"role": "user", "content": "history?"}]},
        )
        history = client.threads.get_history(thread["thread_id"], limit=100)
        # Newest first; each checkpoint's messages a prefix of the next one's.
        counts = [len(h["values"].get("messages", [])) for h in reversed(history)]
        assert counts == sorted(counts) and counts[-1] == 8
        assert (
            history[0]["next"] == [] and history[0]["values"]["files"]["/turn1.md"]["content"] == "history?"
        )


@pytest.mark.sdk("runs.wait", "runs.wait[Command(resume)]", "threads.create", "threads.get_state")
async def test_a_deep_agent_asks_before_writing_and_goes_on_with_the_answer(server: DevServer) -> None:
    async with get_client(url=url(server), headers=headers(server)) as client:
        thread = await client.threads.create()
        tid = thread["thread_id"]
        paused = await client.runs.wait(
            tid, "lg_deep_agent_hitl", input={"messages": [{"role": "user", "content": "7 * 6?"}]}
        )
        (asked,) = paused["__interrupt__"]
        (request,) = asked["value"]["action_requests"]
        assert (request["name"], request["args"]) == (
            "write_file",
            {"file_path": "/turn1.md", "content": "7 * 6?"},
        )
        state = await client.threads.get_state(tid)
        assert not state["values"].get("files")  # nothing written before the answer
        assert state["next"] == await _langgraphs_own_next_at_the_question()
        assert [i["id"] for i in state["interrupts"]] == [asked["id"]]
        done = await client.runs.wait(
            tid, "lg_deep_agent_hitl", command={"resume": {"decisions": [{"type": "approve"}]}}
        )
        assert done["files"]["/turn1.md"]["content"] == "7 * 6?"
        assert _turn(done["messages"])[-1] == ("ai", "the answer is 42 (turn 1)")
        assert (await client.threads.get_state(tid))["next"] == []


async def _langgraphs_own_next_at_the_question() -> list[str]:
    """What LangGraph itself says comes next when the same deep agent asks (InMemorySaver)."""
    from deepagents import create_deep_agent
    from langgraph.checkpoint.memory import InMemorySaver

    from tests.lg_graphs import ScriptedDeepModel

    graph = create_deep_agent(
        model=ScriptedDeepModel(), interrupt_on={"write_file": True}, checkpointer=InMemorySaver()
    )
    config = {"configurable": {"thread_id": "own"}}
    await graph.ainvoke({"messages": [{"role": "user", "content": "7 * 6?"}]}, config)
    return list((await graph.aget_state(config)).next)
