"""A LangGraph run paused in the middle of a step (two parallel tasks: one finished, the other
called ``interrupt()``), through the official ``langgraph-sdk``, compared with LangGraph itself
running the same graph in-process on an ``InMemorySaver``: the ``runs.wait`` answer while paused,
the thread state (values with the finished task's writes applied once, ``next``, ``tasks``) and
the final output after ``Command(resume=...)``."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

pytest.importorskip("langgraph")

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from langgraph_sdk import get_client

from duragraph_lab.langgraph.executor import plain
from tests import lg_graphs
from tests.conformance.langgraph_server import headers, url
from tests.devserver import DevServer


@pytest.fixture
def server(lg_server: DevServer) -> DevServer:
    """The package's LangGraph server (tests/conformance/conftest.py)."""
    return lg_server


def _no_ids(value: Any) -> Any:
    """Interrupt ids blanked: they derive from task ids, which differ between two runs."""
    if isinstance(value, dict):
        return {k: "<id>" if k == "id" else _no_ids(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_ids(v) for v in value]
    return value


def _tasks(tasks: list[dict[str, Any]]) -> list[tuple[str, Any, list[Any]]]:
    """(name, result, interrupts) of each task, by name: ids and order are each server's own."""
    return sorted((t["name"], t["result"], _no_ids(t["interrupts"])) for t in tasks)


def _local_tasks(tasks: Any) -> list[tuple[str, Any, list[Any]]]:
    return sorted((t.name, plain(t.result), _no_ids(plain(list(t.interrupts)))) for t in tasks)


@pytest.mark.sdk("runs.join", "runs.wait", "threads.get_state")
async def test_a_pause_mid_step_shows_the_finished_task_once_as_langgraph(server: DevServer) -> None:
    local = lg_graphs.forked.copy(update={"checkpointer": InMemorySaver()})
    config: dict[str, Any] = {"configurable": {"thread_id": str(uuid.uuid4())}}
    paused = plain(await local.ainvoke({"log": ["in"]}, config))
    local_state = await local.aget_state(config)
    # The test's premise: LangGraph applies the finished task's writes (once) while paused.
    assert paused["log"] == ["in", "fork", "finisher"] and paused["done"] == "yes"
    assert local_state.next == ("asker",)
    resumed = plain(await local.ainvoke(Command(resume="b"), config))
    # (The step's writes in LangGraph's task order, which is not the order they finished in.)
    assert sorted(resumed["log"]) == sorted(["in", "fork", "finisher", "asker:b", "join"])
    final_state = await local.aget_state(config)

    async with get_client(url=url(server), headers=headers(server)) as client:
        thread = (await client.threads.create())["thread_id"]
        got = await client.runs.wait(thread, "lg_forked", input={"log": ["in"]})
        assert _no_ids(got) == _no_ids(paused)
        state = await client.threads.get_state(thread)
        assert state["values"] == plain(local_state.values)
        assert state["next"] == list(local_state.next)
        assert _tasks(state["tasks"]) == _local_tasks(local_state.tasks)
        assert _no_ids(state["interrupts"]) == _no_ids(plain(list(local_state.interrupts)))
        # Asked again (a second read must not apply the finished task's writes twice).
        again = await client.threads.get_state(thread)
        assert again["values"] == state["values"]
        (run,) = await client.runs.list(thread)
        assert _no_ids(await client.runs.join(thread, run["run_id"])) == _no_ids(paused)

        done = await client.runs.wait(thread, "lg_forked", command={"resume": "b"})
        assert done == resumed
        end = await client.threads.get_state(thread)
        assert end["values"] == plain(final_state.values)
        assert end["next"] == [] and end["tasks"] == []
