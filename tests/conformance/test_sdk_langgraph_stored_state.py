"""A LangGraph thread's state and history when the API server does not have the graph's code
(a worker process of its own serves it): read from LangGraph's stored checkpoints, compared with
the same graph run in-process on an ``InMemorySaver``, through the official ``langgraph-sdk``."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

pytest.importorskip("langgraph")

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from langgraph_sdk import get_client

from duragraph_lab.langgraph.threads import thread_state
from tests import lg_graphs
from tests.conformance.langgraph_server import headers, serving, url
from tests.devserver import DevServer, cli
from tests.fault.workers import ROOT


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    with serving(tmp_path_factory.mktemp("lgstored") / "data", []) as dev:
        worker = subprocess.Popen(
            [
                *cli(),
                "worker",
                "tests.lg_graphs:map_reduce",
                "tests.lg_graphs:nested",
                "--data-dir",
                str(dev.data_dir),
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            # The graph id names its default assistant once the worker registered it.
            while any(
                dev.api(f"assistants/{g}", token=dev.token)[0] != 200 for g in ("lg_map_reduce", "lg_nested")
            ):
                assert worker.poll() is None and time.monotonic() < deadline, "the worker did not start"
                time.sleep(0.2)
            yield dev
        finally:
            worker.terminate()
            worker.wait(timeout=30)


def _shape(state: dict[str, Any]) -> dict[str, Any]:
    """What the stored checkpoints give as LangGraph gives it (ids aside)."""
    metadata = state["metadata"] or {}
    return {
        "values": state["values"],
        "next": state["next"],
        "tasks": [(t["name"], [i["value"] for i in t["interrupts"]]) for t in state["tasks"]],
        "interrupts": [i["value"] for i in state["interrupts"]],
        "source": metadata.get("source"),
        "step": metadata.get("step"),
        "has_parent": state["parent_checkpoint"] is not None,
    }


@pytest.mark.sdk(
    "runs.wait",
    "threads.create",
    "threads.get_history",
    "threads.get_history[LangGraph graph]",
    "threads.get_state",
    "threads.get_state[LangGraph graph]",
)
async def test_state_and_history_from_the_stored_checkpoints(server: DevServer) -> None:
    local = lg_graphs.map_reduce.copy(update={"checkpointer": InMemorySaver()})
    config = {"configurable": {"thread_id": str(uuid.uuid4())}}
    await local.ainvoke({"topic": "a"}, config)
    async with get_client(url=url(server), headers=headers(server)) as client:
        thread = (await client.threads.create())["thread_id"]
        await client.runs.wait(thread, "lg_map_reduce", input={"topic": "a"})
        state = await client.threads.get_state(thread)
        assert _shape(state) == _shape(thread_state(await local.aget_state(config)))
        assert state["checkpoint"]["checkpoint_id"].startswith("1f") and state["run_id"]

        await client.runs.wait(thread, "lg_map_reduce", command={"resume": "ok"})
        await local.ainvoke(Command(resume="ok"), config)
        history = await client.threads.get_history(thread, limit=100)
        expected = [thread_state(s) async for s in local.aget_state_history(config)]
        assert [_shape(h) for h in history] == [_shape(e) for e in expected]
        # The results of the tasks that ran from each checkpoint are their writes.
        fan_out = history[2]
        assert sorted(t["result"]["items"][0] for t in fan_out["tasks"]) == ["A-0", "A-1", "A-2"]
        at = history[1]
        assert (await client.threads.get_state(thread, checkpoint_id=at["checkpoint"]["checkpoint_id"]))[
            "values"
        ] == at["values"]
        older = await client.threads.get_history(thread, before=at["checkpoint"], limit=100)
        assert [h["checkpoint"] for h in older] == [h["checkpoint"] for h in history[2:]]
        loops = await client.threads.get_history(thread, metadata={"step": 1}, limit=100)
        assert [h["checkpoint"] for h in loops] == [history[2]["checkpoint"]]


async def test_subgraph_states_nest_from_the_stored_checkpoints(server: DevServer) -> None:
    local = lg_graphs.nested.copy(update={"checkpointer": InMemorySaver()})
    config = {"configurable": {"thread_id": str(uuid.uuid4())}}
    await local.ainvoke({"topic": "t"}, config)
    want = thread_state(await local.aget_state(config, subgraphs=True))
    async with get_client(url=url(server), headers=headers(server)) as client:
        thread = (await client.threads.create())["thread_id"]
        await client.runs.wait(thread, "lg_nested", input={"topic": "t"})
        flat = await client.threads.get_state(thread)
        (task,) = flat["tasks"]
        assert task["state"] is None and task["checkpoint"]["checkpoint_ns"].startswith("inner:")
        nested = await client.threads.get_state(thread, subgraphs=True)
    # As LangGraph: the subgraph's state in its task's place, interrupted inside.
    assert _shape(nested) == _shape(want)
    (got_task,), (want_task,) = nested["tasks"], want["tasks"]
    assert got_task["checkpoint"] is None and want_task["checkpoint"] is None
    inner, want_inner = got_task["state"], want_task["state"]
    assert _shape(inner) == _shape(want_inner)
    assert inner["values"] == {"topic": "t", "notes": ["prep", "jot t"]} and inner["next"] == ["confirm"]
    assert inner["checkpoint"]["checkpoint_ns"] == task["checkpoint"]["checkpoint_ns"]


async def test_update_state_is_made_now_by_a_worker_serving_the_graph(server: DevServer) -> None:
    """Without the graph's code the API server has a worker serving it make the edit (an edit
    request, under that worker's lease): LangGraph's aupdate_state, at once, as LangGraph Platform."""
    local = lg_graphs.map_reduce.copy(update={"checkpointer": InMemorySaver()})
    config = {"configurable": {"thread_id": str(uuid.uuid4())}}
    await local.ainvoke({"topic": "e"}, config)
    async with get_client(url=url(server), headers=headers(server)) as client:
        thread = (await client.threads.create())["thread_id"]
        await client.runs.wait(thread, "lg_map_reduce", input={"topic": "e"})
        before = await client.threads.get_state(thread)

        made = await client.threads.update_state(thread, {"items": ["EXTRA"]}, as_node="work")
        await local.aupdate_state(config, {"items": ["EXTRA"]}, as_node="work")
        state = await client.threads.get_state(thread)
        assert made == {"checkpoint": state["checkpoint"]}  # LangGraph's checkpoint, made now
        assert state["parent_checkpoint"]["checkpoint_id"] == before["checkpoint"]["checkpoint_id"]
        assert _shape(state) == _shape(thread_state(await local.aget_state(config)))
        assert state["metadata"]["source"] == "update" and state["values"]["items"][-1] == "EXTRA"

        # The resumed run goes on from LangGraph's edit, applied once.
        done = await client.runs.wait(thread, "lg_map_reduce", command={"resume": "ok"})
        final = await local.ainvoke(Command(resume="ok"), config)
        assert done == final and done["items"].count("EXTRA") == 1, done
        history = await client.threads.get_history(thread, limit=100)
        expected = [thread_state(s) async for s in local.aget_state_history(config)]
        assert [_shape(h) for h in history] == [_shape(e) for e in expected]

        # An edit LangGraph refuses is a 422 naming why, and changes nothing.
        with pytest.raises(httpx.HTTPStatusError) as refused:
            await client.threads.update_state(thread, {"items": ["X"]}, as_node="nowhere")
        assert refused.value.response.status_code == 422
        assert (await client.threads.get_state(thread))["checkpoint"] == history[0]["checkpoint"]


async def test_update_state_at_an_earlier_checkpoint_is_made_now_too(server: DevServer) -> None:
    """An edit at an earlier checkpoint, without the graph's code: made at that checkpoint now by
    the worker serving the graph (a branch, as in LangGraph), then a resume goes on from it."""
    local = lg_graphs.map_reduce.copy(update={"checkpointer": InMemorySaver()})
    config = {"configurable": {"thread_id": str(uuid.uuid4())}}
    await local.ainvoke({"topic": "a"}, config)
    await local.ainvoke(Command(resume="first"), config)
    async with get_client(url=url(server), headers=headers(server)) as client:
        thread = (await client.threads.create())["thread_id"]
        await client.runs.wait(thread, "lg_map_reduce", input={"topic": "a"})
        await client.runs.wait(thread, "lg_map_reduce", command={"resume": "first"})
        history = await client.threads.get_history(thread, limit=100)
        (at,) = [h for h in history if h["next"] == ["ask"]]
        local_at = next(s for s in local.get_state_history(config) if s.next == ("ask",))

        made = await client.threads.update_state(
            thread, {"topic": "edited"}, as_node="work", checkpoint_id=at["checkpoint"]["checkpoint_id"]
        )
        await local.aupdate_state(local_at.config, {"topic": "edited"}, as_node="work")
        edited = await client.threads.get_state(thread)
        assert made == {"checkpoint": edited["checkpoint"]}
        assert edited["parent_checkpoint"]["checkpoint_id"] == at["checkpoint"]["checkpoint_id"]
        assert _shape(edited) == _shape(thread_state(await local.aget_state(config)))
        assert edited["values"]["topic"] == "edited" and edited["next"] == ["ask"]

        final = await client.runs.wait(thread, "lg_map_reduce", command={"resume": "after edit"})
        assert final == await local.ainvoke(Command(resume="after edit"), config)
        assert final == {"topic": "edited", "items": ["A-0", "A-1", "A-2"], "answer": "after edit"}
