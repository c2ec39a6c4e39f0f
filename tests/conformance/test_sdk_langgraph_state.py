"""A LangGraph thread's state, history and edits through the official ``langgraph-sdk`` (async and
sync), compared with the same graph run in-process by LangGraph on an ``InMemorySaver``: what
``get_state``/``get_history``/``update_state`` answer is what LangGraph's ``aget_state``,
``aget_state_history`` and ``aupdate_state`` give (ids differ; shapes and values match), as on
LangGraph Platform."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import httpx
import pytest

pytest.importorskip("langgraph")

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from langgraph_sdk import get_client, get_sync_client

from duragraph_lab.langgraph.threads import thread_state
from tests import lg_graphs
from tests.conformance.langgraph_server import headers, url
from tests.devserver import DevServer


@pytest.fixture
def server(lg_server: DevServer) -> DevServer:
    """The package's LangGraph server (tests/conformance/conftest.py)."""
    return lg_server


def _get(server: DevServer, path: str) -> Any:
    response = httpx.get(f"{url(server)}/{path}", headers=headers(server), timeout=30)
    response.raise_for_status()
    return response.json()


def _local(graph: Any) -> tuple[Any, dict[str, Any]]:
    """The same graph in-process on an InMemorySaver, and a thread's config."""
    return graph.copy(update={"checkpointer": InMemorySaver()}), {
        "configurable": {"thread_id": str(uuid.uuid4())}
    }


def _shape(state: dict[str, Any], local_metadata: dict[str, Any] | None) -> dict[str, Any]:
    """What must match between the server and LangGraph in-process (ids aside)."""
    metadata = state["metadata"]
    return {
        "values": state["values"],
        "next": state["next"],
        "tasks": [
            (
                t["name"],
                t["error"],
                [i["value"] for i in t["interrupts"]],
                t["result"],
                t["checkpoint"] is None,
            )
            for t in state["tasks"]
        ],
        "interrupts": [i["value"] for i in state["interrupts"]],
        # LangGraph's own metadata keys (the server adds the run's: run_id, graph_id, ...);
        # parents by namespace (their checkpoint ids differ).
        "metadata": {
            k: sorted(metadata[k]) if k == "parents" else metadata.get(k) for k in (local_metadata or {})
        }
        if metadata is not None
        else None,
        "has_parent": state["parent_checkpoint"] is not None,
        "has_created_at": state["created_at"] is not None,
    }


def _same(server_state: dict[str, Any], local: Any) -> None:
    expected = thread_state(local)
    assert _shape(server_state, expected["metadata"]) == _shape(expected, expected["metadata"])


def _chain(history: list[dict[str, Any]]) -> None:
    """Each checkpoint's parent is the next older one (one branch), the first has none."""
    for newer, older in itertools.pairwise(history):
        assert newer["parent_checkpoint"]["checkpoint_id"] == older["checkpoint"]["checkpoint_id"]
    assert history[-1]["parent_checkpoint"] is None


@pytest.mark.sdk(
    "runs.wait",
    "threads.create",
    "threads.get_history",
    "threads.get_history[LangGraph graph]",
    "threads.get_state",
    "threads.get_state[LangGraph graph]",
)
async def test_state_and_history_are_langgraphs(server: DevServer) -> None:
    local, config = _local(lg_graphs.map_reduce)
    await local.ainvoke({"topic": "a"}, config)
    async with get_client(url=url(server), headers=headers(server)) as client:
        thread = (await client.threads.create())["thread_id"]
        await client.runs.wait(thread, "lg_map_reduce", input={"topic": "a"})

        state = await client.threads.get_state(thread)
        _same(state, await local.aget_state(config))
        assert state["next"] == ["ask"] and state["metadata"]["source"] == "loop"
        assert state["checkpoint"]["thread_id"] == thread and state["checkpoint"]["checkpoint_ns"] == ""
        (task,) = state["tasks"]
        assert task["interrupts"] == state["interrupts"] and task["interrupts"][0]["id"]
        # The extras locate the checkpoint in the event log.
        assert state["run_id"] and isinstance(state["seq"], int)

        await client.runs.wait(thread, "lg_map_reduce", command={"resume": "first"})
        await local.ainvoke(Command(resume="first"), config)
        history = await client.threads.get_history(thread, limit=100)
        expected = [s async for s in local.aget_state_history(config)]
        assert len(history) == len(expected) == 5
        for got, want in zip(history, expected, strict=True):
            _same(got, want)
        assert [h["metadata"]["source"] for h in history] == ["loop", "loop", "loop", "loop", "input"]
        assert [h["metadata"]["step"] for h in history] == [3, 2, 1, 0, -1]
        assert history[-1]["next"] == ["__start__"] and history[2]["next"] == ["work", "work", "work"]
        _chain(history)
        # Ids are LangGraph's, accepted everywhere a checkpoint id is.
        at = history[1]
        by_id = await client.threads.get_state(thread, checkpoint_id=at["checkpoint"]["checkpoint_id"])
        assert by_id == {**at, "created_at": by_id["created_at"]} and by_id["created_at"] == at["created_at"]
        by_ref = await client.threads.get_state(thread, checkpoint=at["checkpoint"])
        assert by_ref["checkpoint"] == at["checkpoint"]

        # Filters as LangGraph's aget_state_history applies them.
        assert [h["checkpoint"] for h in await client.threads.get_history(thread, limit=2)] == [
            h["checkpoint"] for h in history[:2]
        ]
        older = await client.threads.get_history(thread, before=at["checkpoint"], limit=100)
        assert [h["checkpoint"] for h in older] == [h["checkpoint"] for h in history[2:]]
        loops = await client.threads.get_history(thread, metadata={"source": "loop", "step": 1}, limit=100)
        assert [h["checkpoint"] for h in loops] == [history[2]["checkpoint"]]
        one = await client.threads.get_history(thread, checkpoint=at["checkpoint"], limit=100)
        assert [h["checkpoint"] for h in one] == [at["checkpoint"]]
        # Each checkpoint's metadata names the run that made it (a run's root checkpoints store
        # it once, as their stream), and a filter by run finds them.
        runs = {r["run_id"] for r in await client.runs.list(thread)}
        assert {h["metadata"]["run_id"] for h in history} == runs
        for run_id in runs:
            made = await client.threads.get_history(thread, metadata={"run_id": run_id}, limit=100)
            assert [h["checkpoint"] for h in made] == [
                h["checkpoint"] for h in history if h["metadata"]["run_id"] == run_id
            ]
            assert made

        missing = "1f0c0000-0000-6000-8000-000000000000"
        with pytest.raises(httpx.HTTPStatusError, match="has no checkpoint") as err:
            await client.threads.get_state(thread, checkpoint_id=missing)
        assert err.value.response.status_code == 404


@pytest.mark.sdk(
    "runs.wait",
    "threads.create",
    "threads.get_history",
    "threads.get_history[LangGraph graph]",
    "threads.get_state",
    "threads.get_state[LangGraph graph]",
    "threads.update_state",
    "threads.update_state[LangGraph graph]",
)
async def test_update_state_answers_langgraphs_checkpoint(server: DevServer) -> None:
    local, config = _local(lg_graphs.map_reduce)
    await local.ainvoke({"topic": "a"}, config)
    async with get_client(url=url(server), headers=headers(server)) as client:
        thread = (await client.threads.create())["thread_id"]
        await client.runs.wait(thread, "lg_map_reduce", input={"topic": "a"})
        before = await client.threads.get_state(thread)

        made = await client.threads.update_state(thread, {"items": ["EXTRA"]}, as_node="work")
        await local.aupdate_state(config, {"items": ["EXTRA"]}, as_node="work")
        assert set(made) == {"checkpoint"}
        assert set(made["checkpoint"]) == {"thread_id", "checkpoint_ns", "checkpoint_id"}
        state = await client.threads.get_state(thread)
        assert state["checkpoint"] == made["checkpoint"]
        assert state["parent_checkpoint"] == before["checkpoint"]
        _same(state, await local.aget_state(config))
        assert state["metadata"]["source"] == "update" and state["values"]["items"][-1] == "EXTRA"

        # The resumed run goes on from LangGraph's edit, not applied twice.
        done = await client.runs.wait(thread, "lg_map_reduce", command={"resume": "ok"})
        final = await local.ainvoke(Command(resume="ok"), config)
        assert done == final and done["items"].count("EXTRA") == 1, done
        history = await client.threads.get_history(thread, limit=100)
        expected = [s async for s in local.aget_state_history(config)]
        assert [h["metadata"]["source"] for h in history] == [s.metadata["source"] for s in expected]
        for got, want in zip(history, expected, strict=True):
            _same(got, want)


@pytest.mark.sdk(
    "runs.list",
    "runs.wait",
    "threads.create",
    "threads.get_history",
    "threads.get_history[LangGraph graph]",
    "threads.get_state",
    "threads.get_state[LangGraph graph]",
)
def test_sync_client_subgraph_state(server: DevServer) -> None:
    local, config = _local(lg_graphs.nested)
    local.invoke({"topic": "t"}, config)
    with get_sync_client(url=url(server), headers=headers(server)) as client:
        thread = client.threads.create()["thread_id"]
        client.runs.wait(thread, "lg_nested", input={"topic": "t"})

        flat = client.threads.get_state(thread)
        (task,) = flat["tasks"]
        assert task["name"] == "inner" and task["state"] is None
        assert task["checkpoint"]["checkpoint_ns"].startswith("inner:")
        _same(flat, local.get_state(config))

        nested = client.threads.get_state(thread, subgraphs=True)
        inner = nested["tasks"][0]["state"]
        want = local.get_state(config, subgraphs=True).tasks[0].state
        _same(inner, want)
        assert inner["values"] == {"topic": "t", "notes": ["prep", "jot t"]} and inner["next"] == ["confirm"]
        assert inner["checkpoint"]["checkpoint_ns"] == task["checkpoint"]["checkpoint_ns"]
        assert [i["value"] for i in inner["interrupts"]] == [{"confirm": "t"}]
        # The subgraph's checkpoint by its namespace, as LangGraph Platform reads it.
        again = client.threads.get_state(thread, checkpoint=inner["checkpoint"])
        assert again["values"] == inner["values"] and again["checkpoint"] == inner["checkpoint"]
        sub_history = client.threads.get_history(
            thread, checkpoint={"checkpoint_ns": inner["checkpoint"]["checkpoint_ns"]}, limit=100
        )
        assert sub_history[0]["checkpoint"] == inner["checkpoint"]
        assert all(
            h["checkpoint"]["checkpoint_ns"] == inner["checkpoint"]["checkpoint_ns"] for h in sub_history
        )

        done = client.runs.wait(thread, "lg_nested", command={"resume": "yes"})
        assert done == local.invoke(Command(resume="yes"), config)
        # The subgraph returns its whole state, which operator.add appends: "prep" twice, as in LangGraph.
        assert done["notes"] == ["prep", "prep", "jot t", "confirmed yes"], done

        # The subgraph's tasks are run events under its namespace (DuraGraph's "node:task:attempt|"),
        # so spans (and the dashboard) show its nodes, not one opaque task.
        runs = client.runs.list(thread)
        spans = [s for r in runs for s in _get(server, f"runs/{r['run_id']}/spans")]
        ns = task["checkpoint"]["checkpoint_ns"] + ":1|"
        inner_spans = sorted((s["node"], s["status"]) for s in spans if s["ns"] == ns)
        assert inner_spans == [("confirm", "ok"), ("jot", "ok")], spans
        assert sorted(s["node"] for s in spans if not s["ns"]) == ["inner", "prep"]
        first = _get(server, f"runs/{runs[-1]['run_id']}/events?limit=1000")["events"]
        (started,) = [e for e in first if e["type"] == "subgraph_started"]
        assert started["data"]["ns"] == ns and started["data"]["graph_id"] == "inner"


def _tree_shape(tree: dict[str, Any]) -> Any:
    return (
        [s.partition(":")[0] for s in tree["namespace"]],
        tree["status"],
        tree["graph_name"],
        [_tree_shape(c) for c in tree.get("children", [])],
    )


@pytest.mark.sdk("runs.wait", "threads.create")
def test_agent_get_tree_has_langgraphs_subgraphs(server: DevServer) -> None:
    """``agent.getTree`` of a LangGraph run whose subgraph asks a human: the subgraph's namespace
    is in the tree, where the run waits; once answered, completed with the run."""
    with get_sync_client(url=url(server), headers=headers(server)) as client:
        thread = client.threads.create()["thread_id"]
        client.runs.wait(thread, "lg_nested", input={"topic": "t"})

        def tree() -> dict[str, Any]:
            response = httpx.post(
                f"{url(server)}/threads/{thread}/commands",
                json={"id": 1, "method": "agent.getTree", "params": {}},
                headers=headers(server),
                timeout=30,
            )
            assert response.status_code == 200, response.text
            return dict(response.json()["result"]["tree"])

        waiting = tree()
        assert _tree_shape(waiting) == (
            [],
            "interrupted",
            "lg_nested",
            [(["inner"], "interrupted", "inner", [])],
        )
        (child,) = waiting["children"]
        assert child["namespace"][0].startswith("inner:")
        client.runs.wait(thread, "lg_nested", command={"resume": "yes"})
        assert _tree_shape(tree()) == ([], "completed", "lg_nested", [(["inner"], "completed", "inner", [])])
