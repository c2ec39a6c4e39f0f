"""Real worker processes, killed and paused, against real PostgreSQL and NATS."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

from duragraph_lab.bus import Subjects
from duragraph_lab.bus.control_plane import BusLink
from duragraph_lab.control.plane import ControlPlane
from duragraph_lab.domain.run import RunStatus
from duragraph_lab.runtime.control_plane import control_plane
from duragraph_lab.store import PostgresEventStore, open_pool
from tests.fault.conftest import Faults
from tests.fault.workers import sql, wait_for


async def control_for(database_url: str, prefix: str) -> tuple[ControlPlane, Any]:
    pool = await open_pool(database_url, max_size=4)
    return control_plane(PostgresEventStore(pool), BusLink(Subjects(prefix))), pool


async def test_kill_9_mid_node_then_another_worker_finishes(faults: Faults) -> None:
    url = faults.database_url
    a = faults.start("tests.fault.fault_graphs:ten", "worker-a", 2.0)
    wait_for(lambda: sql(url, "SELECT 1 FROM duragraph.graphs WHERE graph_id = 'ten'"), 30, "registration")
    control, pool = await control_for(url, faults.prefix)
    try:
        ref = await control.runs.create_run("ten", {"n": 0, "hang": True})
        wait_for(
            lambda: sql(url, "SELECT 1 FROM side_effects WHERE run_id = %s AND node = 'n4'", (ref.run_id,)),
            30,
            "the worker to be inside n4",
        )
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait()
        faults.start("tests.fault.fault_graphs:ten", "worker-b", 2.0)
        state = await control.runs.wait(ref.run_id, timeout=60)
        assert state.status is RunStatus.SUCCESS, state.error
        counts = dict(
            sql(url, "SELECT node, count(*) FROM side_effects WHERE run_id = %s GROUP BY node", (ref.run_id,))
        )
        assert counts == {f"n{i}": (2 if i == 4 else 1) for i in range(10)}, counts
        keys = sql(
            url,
            "SELECT count(DISTINCT key) FROM side_effects WHERE run_id = %s AND node = 'n4'",
            (ref.run_id,),
        )
        assert keys == [(1,)], "the re-executed node had the same idempotency key"
        # The same input, uninterrupted, ends in the same state.
        clean = await control.runs.create_run("ten", {"n": 0})
        clean_state = await control.runs.wait(clean.run_id, timeout=60)
        assert {k: v for k, v in state.values.items() if k != "hang"} == clean_state.values
        assert clean_state.values == {"n": 10, "log": [f"n{i}" for i in range(10)]}
        starts = sql(
            url,
            "SELECT data->>'worker_id' FROM duragraph.events WHERE stream_id = %s AND type = 'run_started' ORDER BY seq",
            (f"run:{ref.run_id}",),
        )
        assert [w for (w,) in starts] == ["worker-a", "worker-b"]
    finally:
        await pool.close()


async def test_sigstopped_worker_past_its_lease_cannot_append(faults: Faults) -> None:
    url = faults.database_url
    # No heartbeat during the test: after SIGCONT its only way to learn is the database's fence.
    a = faults.start("tests.fault.fault_graphs:stoppable", "paused", 1.5, heartbeat=3600)
    wait_for(
        lambda: sql(url, "SELECT 1 FROM duragraph.graphs WHERE graph_id = 'stoppable'"), 30, "registration"
    )
    control, pool = await control_for(url, faults.prefix)
    try:
        ref = await control.runs.create_run("stoppable", {"n": 0, "hang": True})
        wait_for(
            lambda: sql(url, "SELECT 1 FROM side_effects WHERE run_id = %s AND node = 'n2'", (ref.run_id,)),
            30,
            "the worker to be inside n2",
        )
        os.kill(a.proc.pid, signal.SIGSTOP)
        await asyncio.sleep(2.5)  # its lease (1.5 s) expires while it is frozen
        faults.start("tests.fault.fault_graphs:stoppable", "rescuer", 30.0)
        state = await control.runs.wait(ref.run_id, timeout=60)
        assert state.status is RunStatus.SUCCESS
        os.kill(a.proc.pid, signal.SIGCONT)  # it wakes up mid-node, finishes n2, tries to commit
        wait_for(lambda: "lost the lease" in a.output(), 20, "the paused worker's commit to be refused")
        completed = sql(
            url,
            "SELECT data->>'node', count(*) FROM duragraph.events WHERE stream_id = %s AND type = 'node_completed' "
            "GROUP BY 1 ORDER BY 1",
            (f"run:{ref.run_id}",),
        )
        assert completed == [("n0", 1), ("n1", 1), ("n2", 1), ("n3", 1)], (
            "nothing from the paused worker landed"
        )
        assert sql(
            url, "SELECT count(*) FROM side_effects WHERE run_id = %s AND node = 'n2'", (ref.run_id,)
        ) == [(2,)]
        assert (await control.history.state(ref.run_id)).values["n"] == 4
        assert a.proc.poll() is None, "the paused worker is still alive and serving"
    finally:
        await pool.close()
