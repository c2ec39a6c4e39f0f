"""The ``debug``, ``tasks`` and ``checkpoints`` stream modes of LangGraph runs, and subgraphs'
parts (``stream_subgraphs``), through the official ``langgraph-sdk`` (async and sync), compared
with what LangGraph itself emits for the same graph run in-process (``graph.astream``) on an
``InMemorySaver``: the same parts in the same order, equal but for ids and timestamps."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

pytest.importorskip("langgraph")

from langgraph.checkpoint.memory import InMemorySaver
from langgraph_sdk import get_client, get_sync_client

from duragraph_lab.langgraph.executor import plain
from tests import lg_graphs
from tests.conformance.langgraph_server import headers, url
from tests.devserver import DevServer

MODES = ["debug", "tasks", "checkpoints"]
#: Ids differ between two runs (checkpoint and task ids derive from time and each other).
_IDS = {"id", "checkpoint_id", "thread_id", "timestamp", "run_id"}


@pytest.fixture
def server(lg_server: DevServer) -> DevServer:
    """The package's LangGraph server (tests/conformance/conftest.py)."""
    return lg_server


def _local(graph: Any) -> tuple[Any, dict[str, Any]]:
    return graph.copy(update={"checkpointer": InMemorySaver()}), {
        "configurable": {"thread_id": str(uuid.uuid4())}
    }


def _norm(value: Any) -> Any:
    """Ids and timestamps blanked; checkpoint configs and metadata with LangGraph's own keys
    (the server adds the run's: run_id, graph_id, ...), parents by namespace."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key in _IDS and isinstance(item, str):
                out[key] = "<id>"
            elif key == "configurable" and isinstance(item, dict):
                # The server's config also carries the run's keys (run_id), as LangGraph Platform's.
                out[key] = _norm(
                    {k: item[k] for k in ("thread_id", "checkpoint_ns", "checkpoint_id") if k in item}
                )
            elif key == "metadata" and isinstance(item, dict) and "source" in item:
                out[key] = {
                    "source": item["source"],
                    "step": item["step"],
                    "parents": sorted(item["parents"]),
                }
            elif key == "metadata" and isinstance(item, dict):
                # A task's: LangGraph adds the run config's metadata (the server's run_id,
                # graph_id, assistant_id; nothing in-process).
                continue
            else:
                out[key] = _norm(item)
        return out
    if isinstance(value, list):
        return [_norm(v) for v in value]
    return value


def _event(name: str) -> str:
    """An SSE event name with its namespaces' task ids blanked (``updates|inner:<id>``)."""
    mode, *spaces = name.split("|")
    return "|".join([mode, *(s.split(":")[0] + ":<id>" for s in spaces)])


@pytest.mark.sdk("runs.stream", "runs.stream[LangGraph graph]", "threads.create")
async def test_debug_tasks_and_checkpoints_are_langgraphs(server: DevServer) -> None:
    local, config = _local(lg_graphs.map_reduce)
    expected = [
        (mode, _norm(plain(chunk)))
        async for mode, chunk in local.astream({"topic": "a"}, config, stream_mode=MODES)
    ]
    async with get_client(url=url(server), headers=headers(server)) as client:
        thread = (await client.threads.create())["thread_id"]
        got = [
            (part.event, _norm(part.data))
            async for part in client.runs.stream(
                thread, "lg_map_reduce", input={"topic": "a"}, stream_mode=MODES
            )
            if part.event != "metadata"
        ]
    assert [m for m, _ in got] == [m for m, _ in expected]
    assert got == expected
    kinds = [c["type"] for m, c in got if m == "debug"]
    assert kinds.count("checkpoint") == 4 and kinds.count("task") == 5 and kinds.count("task_result") == 5


@pytest.mark.sdk("runs.stream", "runs.stream[LangGraph graph]", "threads.create")
def test_sync_client_subgraph_parts_are_langgraphs(server: DevServer) -> None:
    local, config = _local(lg_graphs.nested)
    modes = ["updates", "tasks"]
    expected: dict[str, list[Any]] = {}
    for namespace, mode, chunk in local.stream({"topic": "t"}, config, stream_mode=modes, subgraphs=True):
        name = _event("|".join([mode, *namespace]))
        expected.setdefault(name, []).append(_norm(plain(chunk)))
    with get_sync_client(url=url(server), headers=headers(server)) as client:
        thread = client.threads.create()["thread_id"]
        got: dict[str, list[Any]] = {}
        for part in client.runs.stream(
            thread, "lg_nested", input={"topic": "t"}, stream_mode=modes, stream_subgraphs=True
        ):
            if part.event != "metadata":
                got.setdefault(_event(part.event), []).append(_norm(part.data))
    # The subgraph's nodes appear under its namespace, as LangGraph emits them (the root's parts
    # come from the run's events, the subgraph's live: each stream in its order).
    assert sorted(got) == sorted(expected) == ["tasks", "tasks|inner:<id>", "updates", "updates|inner:<id>"]
    for name in expected:
        # The root's __interrupt__ update comes from the run's events, in LangGraph's shape.
        assert got[name] == expected[name], name
    assert [u for u in got["updates|inner:<id>"] if "jot" in u] == [{"jot": {"notes": ["jot t"]}}]


@pytest.mark.sdk("runs.stream", "runs.stream[LangGraph graph]", "threads.create")
async def test_a_subgraphs_tokens_stream_under_its_namespace(server: DevServer) -> None:
    local, config = _local(lg_graphs.chat_nested)
    ask = {"messages": [{"role": "user", "content": "hi"}]}
    expected: dict[str, str] = {}
    async for namespace, (chunk, _meta) in local.astream(ask, config, stream_mode="messages", subgraphs=True):
        name = _event("|".join(["messages", *namespace]))
        expected[name] = expected.get(name, "") + str(chunk.content)
    assert expected == {"messages|talker:<id>": "the answer is 42"}
    async with get_client(url=url(server), headers=headers(server)) as client:
        for subgraphs in (True, False):
            thread = (await client.threads.create())["thread_id"]
            got: dict[str, str] = {}
            async for part in client.runs.stream(
                thread, "lg_chat_nested", input=ask, stream_mode="messages-tuple", stream_subgraphs=subgraphs
            ):
                if part.event.startswith("messages") and part.data[0].get("type") == "AIMessageChunk":
                    name = _event(part.event)
                    got[name] = got.get(name, "") + str(part.data[0]["content"])
            if subgraphs:
                assert got == expected
            else:
                # As LangGraph: without stream_subgraphs a subgraph's tokens are not streamed
                # (the complete message comes with the root's update).
                assert not any("|" in name for name in got), got


async def test_a_joined_or_resumed_stream_gets_langgraphs_parts_again(server: DevServer) -> None:
    """LangGraph's own parts are live, and kept in the log (stream_parts): a stream that joins
    the run after it ended, or resumes after a disconnect (Last-Event-ID), gets the same ones."""
    modes = [*MODES, "updates"]
    async with get_client(url=url(server), headers=headers(server)) as client:
        thread = (await client.threads.create())["thread_id"]
        live = [
            part
            async for part in client.runs.stream(
                thread, "lg_map_reduce", input={"topic": "j"}, stream_mode=modes
            )
            if part.event != "metadata"
        ]
        (run,) = await client.runs.list(thread)
        joined = [
            part
            async for part in client.runs.join_stream(thread, run["run_id"], stream_mode=modes)
            if part.event != "metadata"
        ]
        own = [(p.event, p.data) for p in live if p.event in MODES]
        # 4 checkpoints, 5 task starts and 5 results, and their 14 debug parts, as LangGraph.
        assert len(own) == 4 + 10 + 14
        assert [(p.event, p.data) for p in joined if p.event in MODES] == own
        assert [p.data for p in joined if p.event == "updates"] == [
            p.data for p in live if p.event == "updates"
        ]
        # Resumed after the first update: the parts after it, from the log.
        first = next(p for p in live if p.event == "updates")
        assert first.id
        resumed = [
            (part.event, part.data)
            async for part in client.runs.join_stream(
                thread, run["run_id"], stream_mode=modes, last_event_id=first.id
            )
            if part.event in MODES
        ]
        assert resumed and resumed == own[-len(resumed) :]
        assert resumed[-1][0] == "debug" and resumed[-1][1]["type"] == "task_result"  # the interrupt


def test_sync_client_a_joined_stream_gets_the_subgraphs_parts_again(server: DevServer) -> None:
    modes = ["updates", "tasks"]
    with get_sync_client(url=url(server), headers=headers(server)) as client:
        thread = client.threads.create()["thread_id"]
        live = [
            (part.event, part.data)
            for part in client.runs.stream(
                thread, "lg_nested", input={"topic": "s"}, stream_mode=modes, stream_subgraphs=True
            )
            if part.event != "metadata"
        ]
        (run,) = client.runs.list(thread)
        joined = [
            (part.event, part.data)
            for part in client.runs.join_stream(thread, run["run_id"], stream_mode=modes)
            if part.event != "metadata"
        ]
    # The run streams its subgraphs (stream_subgraphs): the join too. Each part stream in its
    # order (the root's updates come from the run's events, the rest from stream_parts events).
    by_name: dict[str, list[Any]] = {}
    for name, data in live:
        by_name.setdefault(name, []).append(data)
    joined_by_name: dict[str, list[Any]] = {}
    for name, data in joined:
        joined_by_name.setdefault(name, []).append(data)
    assert joined_by_name == by_name
    assert sorted(_event(n) for n in by_name) == [
        "tasks",
        "tasks|inner:<id>",
        "updates",
        "updates|inner:<id>",
    ]
