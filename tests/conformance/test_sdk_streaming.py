"""Every stream mode through the official ``langgraph-sdk`` client: event names, shapes, order."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from langgraph_sdk.client import LangGraphClient

from tests.conformance.helpers import HUMAN_2_PLUS_3, collect, events_of, new_thread

LOG5 = ["s0", "s1", "s2", "s3", "s4"]
ANSWER = "The result is 5."


async def stream(client: LangGraphClient, graph: str, input: Any, **options: Any) -> list[tuple[str, Any]]:
    thread_id = await new_thread(client)
    parts = await collect(client.runs.stream(thread_id, graph, input=input, **options))
    assert parts[0][0] == "metadata" and set(parts[0][1]) == {"run_id", "attempt"}
    assert [e for e, _ in parts].count("metadata") == 1
    return parts[1:]


@pytest.mark.sdk("runs.stream", "runs.stream[values]", "threads.create")
async def test_values(client: LangGraphClient) -> None:
    parts = await stream(client, "slow", {"n": 0}, stream_mode="values")
    assert {e for e, _ in parts} == {"values"}
    assert [d["n"] for _, d in parts] == [0, 1, 2, 3, 4, 5]
    assert parts[-1][1] == {"n": 5, "log": LOG5}


@pytest.mark.sdk("runs.stream", "runs.stream[values]", "threads.create")
async def test_default_mode_is_values(client: LangGraphClient) -> None:
    parts = await stream(client, "slow", {"n": 0})
    assert [e for e, _ in parts] == ["values"] * 6


@pytest.mark.sdk("runs.stream", "runs.stream[updates]", "threads.create")
async def test_updates(client: LangGraphClient) -> None:
    parts = await stream(client, "slow", {"n": 0}, stream_mode="updates")
    assert parts == [("updates", {f"s{i}": {"n": i + 1, "log": [f"s{i}"]}}) for i in range(5)]


@pytest.mark.sdk("runs.stream", "runs.stream[messages]", "threads.create")
async def test_messages(client: LangGraphClient) -> None:
    parts = await stream(client, "chat", HUMAN_2_PLUS_3, stream_mode="messages")
    assert {e for e, _ in parts} == {"messages/metadata", "messages/partial", "messages/complete"}
    # Every message is announced (metadata) before its first partial or complete event.
    announced: dict[str, Any] = {}
    for event, data in parts:
        if event == "messages/metadata":
            [(msg_id, meta)] = data.items()
            announced[msg_id] = meta["metadata"]
        else:
            [message] = data
            assert message["id"] in announced, (event, message)
    complete = [m for _, [m] in [p for p in parts if p[0] == "messages/complete"]]
    assert [m["type"] for m in complete] == ["ai", "tool", "ai"]
    assert complete[0]["tool_calls"][0]["name"] == "calculator" and complete[1]["content"] == "5"
    assert complete[2]["content"] == ANSWER
    # Token streaming: partials accumulate the final answer.
    partials = [m["content"] for event, [m] in [p for p in parts if p[0] == "messages/partial"]]
    assert len(partials) >= 2 and partials[-1] == ANSWER
    assert all(ANSWER.startswith(p) for p in partials) and partials == sorted(partials, key=len)
    assert announced[complete[2]["id"]]["langgraph_node"] == "agent"
    assert announced[complete[1]["id"]]["langgraph_node"] == "tools"


@pytest.mark.sdk("runs.stream", "runs.stream[messages-tuple]", "threads.create")
async def test_messages_tuple(client: LangGraphClient) -> None:
    parts = await stream(client, "chat", HUMAN_2_PLUS_3, stream_mode="messages-tuple")
    assert {e for e, _ in parts} == {"messages"}
    assert all(isinstance(d, list) and len(d) == 2 for _, d in parts)
    answer_id = parts[-1][1][0]["id"]
    chunks = [m for _, (m, meta) in parts if m["id"] == answer_id]
    assert len(chunks) >= 2 and "".join(c["content"] for c in chunks) == ANSWER
    assert all(c["type"] == "AIMessageChunk" for c in chunks)
    metas = [meta for _, (m, meta) in parts]
    assert all(m["langgraph_node"] in ("agent", "tools") and "langgraph_step" in m for m in metas)
    assert parts[0][1][0]["tool_calls"][0]["name"] == "calculator"  # not streamed: sent whole


@pytest.mark.sdk("runs.stream", "runs.stream[custom]", "threads.create")
async def test_custom(client: LangGraphClient) -> None:
    parts = await stream(client, "custom", {"n": 5}, stream_mode="custom")
    assert parts == [("custom", {"progress": i}) for i in range(3)]


@pytest.mark.sdk("runs.stream", "runs.stream[several modes]", "threads.create")
async def test_list_of_modes(client: LangGraphClient) -> None:
    parts = await stream(client, "custom", {"n": 5}, stream_mode=["values", "updates", "custom"])
    assert [e for e, _ in parts] == ["values", "custom", "custom", "custom", "updates", "values"]
    assert parts[-2] == ("updates", {"work": {"log": ["worked"], "n": 0}})
    assert parts[-1] == ("values", {"n": 0, "log": ["worked"]})


@pytest.mark.sdk("runs.stream", "runs.stream[debug]", "threads.create")
async def test_debug(client: LangGraphClient) -> None:
    parts = await stream(client, "slow", {"n": 0}, stream_mode="debug")
    assert {e for e, _ in parts} == {"debug"}
    kinds = [(d["type"], d["step"]) for _, d in parts]
    steps = [(k, i) for i in range(5) for k in ("task", "task_result", "checkpoint")]
    assert kinds == [("checkpoint", -1), ("checkpoint", 0)] + [
        (k, i + 1 if k == "checkpoint" else i) for k, i in steps
    ]
    for _, d in parts:
        assert set(d) == {"type", "step", "timestamp", "payload"}
    task, result = parts[2][1]["payload"], parts[3][1]["payload"]
    assert task["name"] == "s0" and task["input"] == {"n": 0} and set(task) >= {"id", "triggers"}
    assert result == {
        "id": task["id"],
        "name": "s0",
        "error": None,
        "result": {"n": 1, "log": ["s0"]},
        "interrupts": [],
    }
    last = parts[-1][1]["payload"]
    assert last["values"] == {"n": 5, "log": LOG5} and last["next"] == []
    assert last["metadata"]["step"] == 5 and last["config"]["configurable"]["checkpoint_id"]


@pytest.mark.sdk("runs.stream", "runs.stream[events]", "threads.create")
async def test_events(client: LangGraphClient) -> None:
    parts = await stream(client, "chat", HUMAN_2_PLUS_3, stream_mode="events")
    assert {e for e, _ in parts} == {"events"}
    events = [(d["event"], d["name"]) for _, d in parts]
    assert events[0] == ("on_chain_start", "chat") and events[-1] == ("on_chain_end", "chat")
    nodes = [name for kind, name in events if kind == "on_chain_end" and name != "chat"]
    assert nodes == ["agent", "tools", "agent"]
    tokens = [d["data"]["chunk"]["content"] for _, d in parts if d["event"] == "on_chat_model_stream"]
    assert "".join(tokens) == ANSWER
    assert parts[-1][1]["data"]["output"]["messages"][-1]["content"] == ANSWER


@pytest.mark.sdk("runs.stream", "runs.stream[tasks]", "threads.create")
async def test_tasks(client: LangGraphClient) -> None:
    parts = await stream(client, "slow", {"n": 0}, stream_mode="tasks")
    assert {e for e, _ in parts} == {"tasks"}
    assert [(d["name"], "result" in d) for _, d in parts] == [
        (f"s{i}", done) for i in range(5) for done in (False, True)
    ]
    start, result = parts[0][1], parts[1][1]
    assert start["id"] == result["id"] and start["triggers"] and start["input"] == {"n": 0}
    assert result["error"] is None and result["result"] == {"n": 1, "log": ["s0"]}


@pytest.mark.sdk("runs.stream", "runs.stream[checkpoints]", "threads.create", "threads.get_history")
async def test_checkpoints(client: LangGraphClient) -> None:
    thread_id = await new_thread(client)
    parts = await collect(client.runs.stream(thread_id, "slow", input={"n": 0}, stream_mode="checkpoints"))
    checkpoints = events_of(parts, "checkpoints")
    assert len(parts) == len(checkpoints) + 1
    assert [c["metadata"]["step"] for c in checkpoints] == [-1, 0, 1, 2, 3, 4, 5]
    assert [c["metadata"]["source"] for c in checkpoints] == ["input"] + ["loop"] * 6
    assert [c["next"] for c in checkpoints[1:]] == [["s0"], ["s1"], ["s2"], ["s3"], ["s4"], []]
    assert [c["values"].get("n") for c in checkpoints] == [0, 0, 1, 2, 3, 4, 5]
    assert checkpoints[0]["parent_config"] is None
    for parent, child in itertools.pairwise(checkpoints):
        assert (
            child["parent_config"]["configurable"]["checkpoint_id"]
            == (parent["config"]["configurable"]["checkpoint_id"])
        )
    # The streamed checkpoints are the thread's history.
    history = await client.threads.get_history(thread_id)
    assert [h["checkpoint"]["checkpoint_id"] for h in reversed(history)] == [
        c["config"]["configurable"]["checkpoint_id"] for c in checkpoints
    ]


@pytest.mark.sdk("runs.stream", "runs.stream[stream_subgraphs]", "threads.create")
async def test_subgraphs_are_namespaced(client: LangGraphClient) -> None:
    parts = await stream(client, "nested", {"n": 0}, stream_mode=["updates"], stream_subgraphs=True)
    # The subgraph's own updates come as "updates|<node>:<task id>", between the parent's.
    order = [(e if "|" not in e else "updates|ns", next(iter(d))) for e, d in parts]
    assert order == [
        ("updates", "before"),
        ("updates|ns", "i1"),
        ("updates|ns", "i2"),
        ("updates", "sub"),
        ("updates", "after"),
    ]
    inner = {e for e, _ in parts if "|" in e}
    assert len(inner) == 1 and inner.pop().startswith("updates|sub:")
    assert parts[2][1] == {"i2": {"n": 1, "log": ["i2"]}}

    values = await stream(client, "nested", {"n": 0}, stream_mode="values", stream_subgraphs=True)
    assert {e.partition("|")[0] for e, _ in values} == {"values"}
    assert values[-1] == ("values", {"n": 1, "log": ["before", "i1", "i2", "after"]})

    flat = await stream(client, "nested", {"n": 0}, stream_mode="updates")
    assert [next(iter(d)) for _, d in flat] == ["before", "sub", "after"] and all(
        e == "updates" for e, _ in flat
    )


@pytest.mark.sdk("runs.stream", "runs.stream[version=v2]", "threads.create")
async def test_stream_version_v2(client: LangGraphClient) -> None:
    thread_id = await new_thread(client)
    parts = [
        p
        async for p in client.runs.stream(
            thread_id, "nested", input={"n": 0}, stream_mode="updates", stream_subgraphs=True, version="v2"
        )
    ]
    assert parts[0]["type"] == "metadata"
    namespaces = [p["ns"] for p in parts[1:]]
    assert namespaces[0] == [] and namespaces[-1] == []
    assert [len(ns) for ns in namespaces] == [0, 1, 1, 0, 0] and namespaces[1][0].startswith("sub:")

    asking = await new_thread(client)
    parts = [
        p
        async for p in client.runs.stream(
            asking, "asking", input={"n": 1}, stream_mode="values", version="v2"
        )
    ]
    assert parts[-1]["type"] == "values" and parts[-1]["data"] == {"n": 1}
    assert [i["value"] for i in parts[-1]["interrupts"]] == [{"question": "proceed?", "n": 1}]


@pytest.mark.sdk("runs.stream", "runs.stream[interrupts]", "threads.create")
async def test_interrupt_in_values_and_updates(client: LangGraphClient) -> None:
    parts = await stream(client, "asking", {"n": 1}, stream_mode=["values", "updates"])
    assert [e for e, _ in parts] == ["values", "updates", "values"]
    [intr] = parts[1][1]["__interrupt__"]
    assert intr["value"] == {"question": "proceed?", "n": 1} and intr["id"]
    assert parts[2][1] == {"n": 1, "__interrupt__": [intr]}


@pytest.mark.sdk("runs.create", "runs.join_stream", "runs.join_stream[last_event_id]", "threads.create")
async def test_join_stream(client: LangGraphClient) -> None:
    thread_id = await new_thread(client)
    run = await client.runs.create(
        thread_id, "slow", input={"n": 0, "sleep": 0.02}, stream_mode=["values", "updates"]
    )
    parts = [(p.event, p.data, p.id) async for p in client.runs.join_stream(thread_id, run["run_id"])]
    assert parts[0][:2] == ("metadata", {"run_id": run["run_id"], "attempt": 1})
    # DuraGraph replays the run from its start (LangGraph: only what comes after joining).
    assert [e for e, _, _ in parts[1:]] == ["values"] + ["updates", "values"] * 5
    assert parts[-1][1] == {"n": 5, "sleep": 0.02, "log": LOG5}
    ids = [int(i) for _, _, i in parts[1:]]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)

    # A subset of the run's modes, and resuming after an event id: the rest, exactly once.
    updates = [p async for p in client.runs.join_stream(thread_id, run["run_id"], stream_mode="updates")]
    assert [p.event for p in updates] == ["metadata"] + ["updates"] * 5
    rest = [
        p
        async for p in client.runs.join_stream(
            thread_id, run["run_id"], stream_mode="updates", last_event_id=updates[2].id
        )
    ]
    assert [p.data for p in rest[1:]] == [p.data for p in updates[3:]]
