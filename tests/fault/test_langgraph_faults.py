"""A real LangGraph graph run by LangGraph's executor in real worker processes: kill -9 of the
worker in the middle of a superstep, another worker takes the run over, and the tasks whose
writes were committed are not executed again (only the one in flight is)."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import pytest

pytest.importorskip("langgraph")

from duragraph_lab.domain.run import RunState, RunStatus
from tests.fault.conftest import Faults
from tests.fault.test_worker_faults import control_for
from tests.fault.workers import WorkerProcess, sql, wait_for

GRAPH = "tests.fault.lg_fault_graphs:fan"


#: The task writes an event of the run records (w.d), in either form (docs/events.md).
WRITES = (
    "LATERAL (SELECT CASE e.type WHEN 'lg_writes' THEN e.data WHEN 'node_completed' "
    "THEN e.data->'langgraph_writes' END AS d) w"
)


def committed_tasks(url: str, run_id: str) -> int:
    """The part tasks' writes committed in the run's stream (LangGraph's own records of the run,
    inside the task's node_completed or on their own; a task sent with Send has a push task path)."""
    rows = sql(
        url,
        f"SELECT count(*) FROM duragraph.events e, {WRITES} WHERE e.stream_id = %s "
        "AND w.d->'writes'->0->>1 = 'done' AND w.d->>'task_path' LIKE %s",
        (f"run:{run_id}", "%__pregel_push%"),
    )
    return int(rows[0][0])


def registered(url: str, graph_id: str) -> None:
    wait_for(
        lambda: sql(url, "SELECT 1 FROM duragraph.graphs WHERE graph_id = %s", (graph_id,)),
        60,
        "registration",
    )


def running(url: str, run_id: str, node: str, what: str) -> None:
    """Wait until the ledger has an execution of ``node`` in the run."""
    wait_for(
        lambda: sql(url, "SELECT 1 FROM side_effects WHERE run_id = %s AND node = %s", (run_id, node)),
        30,
        what,
    )


def ledger(url: str, run_id: str) -> dict[str, int]:
    """How many times each node (or tool, model call) of the run ran."""
    return dict(
        sql(url, "SELECT node, count(*) FROM side_effects WHERE run_id = %s GROUP BY node", (run_id,))
    )


async def kill_then_rescue(
    faults: Faults, victim: WorkerProcess, graph: str, rescuer: str, control: Any, run_id: str
) -> tuple[RunState, dict[str, int]]:
    """kill -9 of ``victim``; a new worker ``rescuer`` takes the run over: its end state (a
    success) and the ledger's counts."""
    victim.proc.send_signal(signal.SIGKILL)
    victim.proc.wait()
    faults.start(graph, rescuer, 2.0)
    state = await control.runs.wait(run_id, timeout=90)
    assert state.status is RunStatus.SUCCESS, state.error
    return state, ledger(faults.database_url, run_id)


async def test_kill_9_mid_superstep_then_another_worker_finishes(faults: Faults) -> None:
    url = faults.database_url
    a = faults.start(GRAPH, "lg-worker-a", 2.0)
    registered(url, "lg_fan")
    control, pool = await control_for(url, faults.prefix)
    try:
        ref = await control.runs.create_run("lg_fan", {"width": 3, "hang": 60.0})
        # part-0 and part-1 committed, part-2 running (sleeping) in worker A.
        wait_for(lambda: committed_tasks(url, ref.run_id) >= 2, 60, "two tasks of the superstep to commit")
        running(url, ref.run_id, "part-2", "the third task to be running")
        state, counts = await kill_then_rescue(faults, a, GRAPH, "lg-worker-b", control, ref.run_id)
        # Committed tasks ran once; the one in flight when A died ran again (at least once).
        assert counts == {"part-0": 1, "part-1": 1, "part-2": 2, "gather": 1}, counts
        assert sorted(state.values["done"]) == ["gather", "part-0", "part-1", "part-2"]
        # No committed task started again after its writes were committed.
        late = sql(
            url,
            "SELECT s.node FROM side_effects s JOIN duragraph.events e ON e.stream_id = 'run:' || s.run_id, "
            f"{WRITES} "
            "WHERE w.d->'writes'->0->>1 = 'done' AND w.d->'writes'->0->>2 IS NOT NULL "
            "AND s.run_id = %s AND s.node <> 'gather' AND s.started > e.recorded_at "
            "AND w.d->>'task_id' IN (SELECT data->>'task' FROM duragraph.events WHERE stream_id = e.stream_id "
            "AND type = 'node_completed' AND data->>'node' = 'part' AND data->'update'->'done'->>0 = s.node)",
            (ref.run_id,),
        )
        assert late == [], late
        starts = sql(
            url,
            "SELECT data->>'worker_id' FROM duragraph.events WHERE stream_id = %s AND type = 'run_started' "
            "ORDER BY seq",
            (f"run:{ref.run_id}",),
        )
        assert [w for (w,) in starts] == ["lg-worker-a", "lg-worker-b"]
        # Every checkpoint of the run is an event of the run's stream (none outside it).
        outside = sql(url, "SELECT count(*) FROM duragraph.events WHERE stream_id LIKE 'checkpoints:%%'")
        assert outside == [(0,)]
    finally:
        await pool.close()


async def test_sigstopped_worker_past_its_lease_cannot_write(faults: Faults) -> None:
    url = faults.database_url
    # No heartbeat during the test: after SIGCONT its only way to learn is the lease's deadline
    # and the database's fence.
    a = faults.start(GRAPH, "lg-paused", 1.5, heartbeat=3600)
    registered(url, "lg_fan")
    control, pool = await control_for(url, faults.prefix)
    try:
        ref = await control.runs.create_run("lg_fan", {"width": 3, "hang": 3.0})
        wait_for(lambda: committed_tasks(url, ref.run_id) >= 2, 60, "two tasks of the superstep to commit")
        running(url, ref.run_id, "part-2", "the third task to be running")
        os.kill(a.proc.pid, signal.SIGSTOP)
        await asyncio.sleep(2.5)  # its lease (1.5 s) expires while it is frozen
        faults.start(GRAPH, "lg-rescuer", 30.0)
        state = await control.runs.wait(ref.run_id, timeout=60)
        assert state.status is RunStatus.SUCCESS, state.error
        os.kill(a.proc.pid, signal.SIGCONT)  # it wakes up in part-2, finishes it, tries to write
        wait_for(lambda: "lost the lease" in a.output(), 20, "the paused worker's write to be refused")
        assert committed_tasks(url, ref.run_id) == 3, "nothing from the paused worker landed"
        completed = sql(
            url,
            "SELECT data->>'node', count(*) FROM duragraph.events WHERE stream_id = %s AND type = 'node_completed' "
            "GROUP BY 1 ORDER BY 1",
            (f"run:{ref.run_id}",),
        )
        assert completed == [("gather", 1), ("part", 3)]
        counts = ledger(url, ref.run_id)
        assert counts == {"part-0": 1, "part-1": 1, "part-2": 2, "gather": 1}, counts
        assert sorted(state.values["done"]) == ["gather", "part-0", "part-1", "part-2"]
        assert a.proc.poll() is None, "the paused worker is still alive and serving"
    finally:
        await pool.close()


DEEP = "tests.fault.lg_fault_graphs:deep"


async def test_kill_9_while_a_deep_agents_subagent_runs_a_tool(faults: Faults) -> None:
    """A deep agent (deepagents.create_deep_agent) whose general-purpose subagent, run by the
    ``task`` tool, is in its own tool call when the worker dies."""
    url = faults.database_url
    a = faults.start(DEEP, "deep-a", 2.0)
    registered(url, "lg_deep")
    control, pool = await control_for(url, faults.prefix)
    try:
        ref = await control.runs.create_run("lg_deep", {"messages": [{"role": "user", "content": "7 * 6?"}]})
        running(url, ref.run_id, "lookup", "the subagent's lookup to be running")
        state, counts = await kill_then_rescue(faults, a, DEEP, "deep-b", control, ref.run_id)
        # Only the tool call in flight ran again. Every model call ran once, the subagent's first
        # one too: on resuming, the tools task that runs the subagent ran again, and the subagent
        # (its checkpoints inherited from the run, under the task's namespace) went on from its
        # own last checkpoint, not from its start.
        assert counts == {
            "note": 1,
            "model:main:0": 1,
            "model:main:1": 1,
            "model:main:2": 1,
            "model:sub:0": 1,
            "model:sub:1": 1,
            "lookup": 2,
        }, counts
        said = [(m["type"], m.get("name"), m["content"]) for m in state.values["messages"]]
        assert said[-2:] == [("tool", "task", "subagent: 42"), ("ai", "lg_deep", "the answer is 42")], said
        starts = sql(
            url,
            "SELECT data->>'worker_id' FROM duragraph.events WHERE stream_id = %s AND type = 'run_started' "
            "ORDER BY seq",
            (f"run:{ref.run_id}",),
        )
        assert [w for (w,) in starts] == ["deep-a", "deep-b"]
    finally:
        await pool.close()
