"""LangGraph Platform semantics of LangGraph runs, through the official ``langgraph-sdk`` (async
and sync), compared with what LangGraph itself does with the same graph in-process on an
``InMemorySaver``: the ``__interrupt__`` shapes (an interrupt with a response schema, a
breakpoint), the model calls of attempts that were interrupted or raised and of a subgraph's
tasks, and a task served from the graph's cache (``CachePolicy``)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

pytest.importorskip("langgraph")
pytest.importorskip("langchain")

from langgraph.cache.memory import InMemoryCache
from langgraph.checkpoint.memory import InMemorySaver
from langgraph_sdk import get_client, get_sync_client

from duragraph_lab.langgraph.executor import plain
from tests import lg_graphs
from tests.conformance.langgraph_server import headers, url
from tests.devserver import DevServer


@pytest.fixture
def server(lg_server: DevServer) -> DevServer:
    """The package's LangGraph server (tests/conformance/conftest.py)."""
    return lg_server


def _local(graph: Any) -> tuple[Any, dict[str, Any]]:
    return graph.copy(update={"checkpointer": InMemorySaver()}), {
        "configurable": {"thread_id": str(uuid.uuid4())}
    }


def _no_ids(value: Any) -> Any:
    """Interrupt ids blanked: they derive from task ids, which differ between two runs."""
    if isinstance(value, dict):
        return {k: "<id>" if k == "id" else _no_ids(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_ids(v) for v in value]
    return value


def _get(server: DevServer, path: str) -> Any:
    response = httpx.get(f"{url(server)}/{path}", headers=headers(server), timeout=30)
    response.raise_for_status()
    return response.json()


def _events(server: DevServer, run_id: str, kind: str) -> list[dict[str, Any]]:
    page = _get(server, f"runs/{run_id}/events?limit=1000")
    return [e["data"] for e in page["events"] if e["type"] == kind]


# -- 1. the __interrupt__ update, values, join result and thread state are LangGraph's ---------------
async def test_an_interrupt_is_shown_as_langgraph_shows_it(server: DevServer) -> None:
    local, config = _local(lg_graphs.asking)
    modes = ["updates", "values"]
    expected = [
        (mode, _no_ids(plain(chunk)))
        async for mode, chunk in local.astream({"topic": "t"}, config, stream_mode=modes)
    ]
    # The Interrupt's own fields: value, id, and the JSON Schema of the answer it expects.
    assert expected[-2][1]["__interrupt__"] == [
        {"value": {"approve": "t!"}, "id": "<id>", "response_schema": plain(_approval_schema())}
    ]
    local_state = await local.aget_state(config)
    async with get_client(url=url(server), headers=headers(server)) as client:
        thread = (await client.threads.create())["thread_id"]
        got = [
            (part.event, _no_ids(part.data))
            async for part in client.runs.stream(thread, "lg_asking", input={"topic": "t"}, stream_mode=modes)
            if part.event != "metadata"
        ]
        assert got == expected
        state = await client.threads.get_state(thread)
        assert _no_ids(state["interrupts"]) == _no_ids(plain(list(local_state.interrupts)))
        assert _no_ids(state["tasks"][0]["interrupts"]) == _no_ids(
            plain(list(local_state.tasks[0].interrupts))
        )
        (run,) = await client.runs.list(thread)
        joined = await client.runs.join(thread, run["run_id"])
        assert _no_ids(joined) == _no_ids(plain(await _invoke(lg_graphs.asking)))
        # The response schema is LangGraph's: the answer is validated against it, then used.
        done = await client.runs.wait(thread, "lg_asking", command={"resume": {"ok": True}})
        assert done == {"topic": "t!", "verdict": "yes"}


def _approval_schema() -> dict[str, Any]:
    from pydantic import TypeAdapter

    return TypeAdapter(lg_graphs.Approval).json_schema()


async def _invoke(graph: Any) -> Any:
    local, config = _local(graph)
    return await local.ainvoke({"topic": "t"}, config)


def test_sync_client_a_breakpoint_shows_no_interrupt(server: DevServer) -> None:
    local, config = _local(lg_graphs.asking)
    modes = ["updates", "values"]
    expected = [
        (mode, plain(chunk))
        for mode, chunk in local.stream(
            {"topic": "b"}, config, stream_mode=modes, interrupt_before=["approve"]
        )
    ]
    # LangGraph: an empty __interrupt__ update, no values with it.
    assert expected[-1] == ("updates", {"__interrupt__": []})
    with get_sync_client(url=url(server), headers=headers(server)) as client:
        thread = client.threads.create()["thread_id"]
        got = [
            (part.event, part.data)
            for part in client.runs.stream(
                thread, "lg_asking", input={"topic": "b"}, stream_mode=modes, interrupt_before=["approve"]
            )
            if part.event != "metadata"
        ]
        assert got == expected
        state = client.threads.get_state(thread)
        assert state["next"] == ["approve"] and state["interrupts"] == []
        assert client.threads.get(thread)["interrupts"] == {}
        # /join answers what LangGraph's invoke returns at a breakpoint: the values alone.
        (run,) = client.runs.list(thread)
        assert (
            client.runs.join(thread, run["run_id"])
            == plain(local.get_state(config).values)
            == {"topic": "b!"}
        )


# -- 2. the calls of interrupted, failed and subgraph attempts ------------------------------------
_CALL = {"model": "metered-1", "usage": {"input_tokens": 10, "output_tokens": 7}}


def _call(calls: list[dict[str, Any]]) -> dict[str, Any]:
    [call] = calls
    return {"model": call["model"], "usage": call["usage"]}


async def test_an_interrupted_attempts_calls_are_in_its_interrupt(server: DevServer) -> None:
    async with get_client(url=url(server), headers=headers(server)) as client:
        thread = (await client.threads.create())["thread_id"]
        run = await client.runs.create(thread, "lg_calling", input={"mode": "interrupt"})
        await client.runs.join(thread, run["run_id"])
        (paused,) = _events(server, run["run_id"], "run_interrupted")
        (interrupt,) = paused["interrupts"]
        assert _call(interrupt["model_calls"]) == _CALL
        # Resumed, the node runs again and calls the model again: that attempt's call is its own.
        resumed = await client.runs.wait(thread, "lg_calling", command={"resume": "go"})
        assert resumed["answer"] == "add"
        (done,) = _events(server, run["run_id"], "node_completed")
        assert _call(done["model_calls"]) == _CALL


def test_sync_client_a_failed_attempts_calls_are_in_its_node_failed(server: DevServer) -> None:
    with get_sync_client(url=url(server), headers=headers(server)) as client:
        thread = client.threads.create()["thread_id"]
        run = client.runs.create(thread, "lg_calling", input={"mode": "fail"})
        client.runs.join(thread, run["run_id"])
        assert client.runs.get(thread, run["run_id"])["status"] == "error"
    (failed,) = _events(server, run["run_id"], "node_failed")
    assert failed["node"] == "call_then" and failed["error"]["type"] == "RuntimeError"
    assert _call(failed["model_calls"]) == _CALL


async def test_a_subgraphs_calls_are_its_tasks(server: DevServer) -> None:
    async with get_client(url=url(server), headers=headers(server)) as client:
        thread = (await client.threads.create())["thread_id"]
        result = await client.runs.wait(thread, "lg_calling_nested", input={"mode": "ok"})
        assert result["answer"] == "add"
        (run,) = await client.runs.list(thread)
    completed = {
        (d.get("ns", "").split(":")[0], d["node"]): d
        for d in _events(server, run["run_id"], "node_completed")
    }
    assert sorted(completed) == [("", "sub"), ("sub", "call_then")]
    assert _call(completed[("sub", "call_then")]["model_calls"]) == _CALL
    assert "model_calls" not in completed[("", "sub")]  # not counted twice: once, for its own task
    assert run["usage"] == _CALL["usage"]  # the run's usage counts the call once


# -- 3. a task served from the graph's cache --------------------------------------------------------
async def test_a_cached_task_is_recorded_as_cached_not_run_again(server: DevServer) -> None:
    local = lg_graphs.caching.copy(update={"checkpointer": InMemorySaver(), "cache": InMemoryCache()})
    expected = []
    for _ in range(2):
        config = {"configurable": {"thread_id": str(uuid.uuid4())}}
        expected.append([plain(c) async for c in local.astream({"x": 3}, config, stream_mode="updates")])
    # LangGraph: the second run's update is the first's (not executed again), marked cached.
    assert expected[1] == [{**expected[0][0], "__metadata__": {"cached": True}}]
    x = uuid.uuid4().int % 10_000  # a value this server's cache has not seen
    async with get_client(url=url(server), headers=headers(server)) as client:
        got, runs = [], []
        for _ in range(2):
            thread = (await client.threads.create())["thread_id"]
            got.append(
                [
                    part.data
                    async for part in client.runs.stream(
                        thread, "lg_caching", input={"x": x}, stream_mode="updates"
                    )
                    if part.event == "updates"
                ]
            )
            runs.append((await client.runs.list(thread))[0]["run_id"])
    assert got[1] == [{**got[0][0], "__metadata__": {"cached": True}}]
    assert got[0][0]["costly"]["y"] == 2 * x
    first, second = (_events(server, r, "node_completed") for r in runs)
    assert [("cached" in d) for d in first] == [False]
    (cached,) = second
    assert cached["cached"] is True and cached["node"] == "costly"
    assert cached["update"] == first[0]["update"]  # the same stamp: the node did not run again
    spans = _get(server, f"runs/{runs[1]}/spans")
    assert [(s["node"], s["status"]) for s in spans if s["node"] == "costly"] == [("costly", "ok")]


def test_sync_client_a_subgraphs_cached_task_is_recorded_too(server: DevServer) -> None:
    x = uuid.uuid4().int % 10_000
    with get_sync_client(url=url(server), headers=headers(server)) as client:
        runs = []
        for _ in range(2):
            thread = client.threads.create()["thread_id"]
            client.runs.wait(thread, "lg_caching_nested", input={"x": x})
            runs.append(client.runs.list(thread)[0]["run_id"])
    first, second = (
        {d["node"]: d for d in _events(server, r, "node_completed") if d.get("ns")} for r in runs
    )
    assert "cached" not in first["costly"]
    # LangGraph streams no task result for it: its node_completed comes from its cached writes.
    assert second["costly"]["cached"] is True and second["costly"]["ns"].startswith("sub:")
    assert second["costly"]["update"] == first["costly"]["update"]  # the node did not run again
    # After its step's plan in the log, as a task that ran (the namespace folds in order).
    log = [
        (e["type"], e["data"].get("ns")) for e in _get(server, f"runs/{runs[1]}/events?limit=1000")["events"]
    ]
    ns = second["costly"]["ns"]
    assert (
        log.index(("subgraph_started", ns))
        < log.index(("step_planned", ns))
        < log.index(("node_completed", ns))
    )
