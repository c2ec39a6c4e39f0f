"""Crons in the control plane on real PostgreSQL: schedulers of two "servers" (two pools, two
control planes) racing for the same ticks fire each once; the catch-up policy with an injected
clock; a tick whose run cannot start is recorded and the schedule goes on; the read model is
rebuilt from the events alone."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import time
from collections.abc import AsyncIterator
from typing import Any, TypedDict

import psycopg
import pytest

from duragraph_lab.control.crons import CronFilter, Crons, CronScheduler, NewCron
from duragraph_lab.graph.state_graph import StateGraph
from duragraph_lab.graph.types import END, START
from duragraph_lab.runtime.control_plane import control_plane
from duragraph_lab.store import PostgresEventStore
from duragraph_lab.store.connection import open_pool
from duragraph_lab.store.queries.crons import PgCrons
from duragraph_lab.worker.registry import graph_registry


class S(TypedDict, total=False):
    n: int


def _graph() -> Any:
    g = StateGraph(S)
    g.add_node("inc", lambda s: {"n": s.get("n", 0) + 1})
    g.add_edge(START, "inc")
    g.add_edge("inc", END)
    return g.compile(name="tick")


@pytest.fixture
async def servers(database_url: str) -> AsyncIterator[list[Crons]]:
    """The crons of two servers: each its own pool and control plane, one database."""
    pools = [await open_pool(database_url, min_size=1, max_size=8) for _ in range(2)]
    stores = [PostgresEventStore(p) for p in pools]
    await graph_registry(stores[0]).register(_graph(), registered_by="test")
    yield [Crons(s, PgCrons(s), control_plane(s).runs) for s in stores]
    for p in pools:
        await p.close()


def _fired(database_url: str, cron_id: str) -> list[dict[str, Any]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT data FROM duragraph.events WHERE stream_id = %s AND type = 'cron_fired' ORDER BY version",
            (f"cron:{cron_id}",),
        ).fetchall()
    return [row[0] for row in rows]


def _cron_runs(database_url: str, cron_id: str) -> list[str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT run_id::text FROM duragraph.runs WHERE metadata->>'cron_id' = %s", (cron_id,)
        ).fetchall()
    return sorted(str(r[0]) for r in rows)


async def test_racing_schedulers_fire_each_tick_once(servers: list[Crons], database_url: str) -> None:
    cron = await servers[0].create(NewCron("tick", "* * * * * *", payload={"input": {"n": 0}}))
    # Eight schedulers, four per server, all passing at the same moments.
    schedulers = [CronScheduler(c, identity=f"s{i}") for i, c in enumerate(servers * 4)]
    created: list[str] = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for ids in await asyncio.gather(*(s.run_once() for s in schedulers)):
            created += ids
        await asyncio.sleep(0.25)
    fired = _fired(database_url, cron.cron_id)
    assert len(fired) >= 3, fired
    ticks = [f["tick"] for f in fired]
    assert ticks == sorted(ticks) and len(set(ticks)) == len(ticks)
    # Every pass that fired a tick created its run; every other pass for that tick created nothing.
    assert sorted(created) == sorted(f["run_id"] for f in fired) == _cron_runs(database_url, cron.cron_id)


async def test_missed_ticks_fire_once_then_the_schedule_goes_on(
    servers: list[Crons], database_url: str
) -> None:
    crons = servers[0]
    cron = await crons.create(NewCron("tick", "*/5 * * * *", payload={"input": {"n": 0}}))
    # As if every server had been down for an hour: the due tick is an hour old.
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    late = dataclasses.replace(cron, next_run_date=now.replace(second=0) - dt.timedelta(hours=1))
    run_id = await crons.fire(late, now)
    assert run_id is not None
    after = await crons.get(cron.cron_id)
    # Twelve ticks were missed: one run, and the next tick is the first one after now.
    assert after.next_run_date is not None and now < after.next_run_date <= now + dt.timedelta(minutes=5)
    assert after.next_run_date.minute % 5 == 0 and after.next_run_date.second == 0
    assert after.fire_count == 1 and after.last_run_id == run_id
    assert _cron_runs(database_url, cron.cron_id) == [run_id]
    # The same stale tick again (another server's late pass): nothing happens.
    assert await servers[1].fire(late, now) is None
    assert _cron_runs(database_url, cron.cron_id) == [run_id]
    # An end time before the next tick: it never fires again.
    ending = await crons.update(cron.cron_id, {"end_time": now + dt.timedelta(seconds=1)})
    assert ending.next_run_date is None
    assert await crons.search(CronFilter(enabled=True, assistant_id="tick")) == [ending]


async def test_a_tick_whose_run_cannot_start_is_recorded(servers: list[Crons], database_url: str) -> None:
    crons = servers[0]
    runs = crons.runs
    thread = await runs.create_run("tick", {"n": 0})  # a thread with one run
    cron = await crons.create(
        NewCron("tick", "* * * * *", thread_id=thread.thread_id, payload={"multitask_strategy": "reject"})
    )
    # Delete the thread: the tick happens, no run can start on it.
    await control_plane(crons.store).threads.delete_thread(thread.thread_id)  # type: ignore[arg-type]
    now = dt.datetime.now(dt.UTC)
    due = dataclasses.replace(cron, next_run_date=now - dt.timedelta(seconds=1))
    assert await crons.fire(due, now) is None
    [fired] = _fired(database_url, cron.cron_id)
    assert fired["run_id"] is None and "thread" in fired["error"]
    after = await crons.get(cron.cron_id)
    assert after.fire_count == 1 and after.next_run_date is not None and after.next_run_date > now


async def test_the_read_model_is_rebuilt_from_the_events(servers: list[Crons], database_url: str) -> None:
    crons = servers[0]
    kept = await crons.create(NewCron("tick", "0 9 * * 1-5", timezone="Europe/Paris", metadata={"k": 1}))
    await crons.update(kept.cron_id, {"enabled": False, "input": {"n": 3}})
    gone = await crons.create(NewCron("tick", "0 9 * * *"))
    await crons.delete(gone.cron_id)
    with psycopg.connect(database_url, autocommit=True) as conn:
        before = conn.execute("SELECT * FROM duragraph.crons ORDER BY cron_id").fetchall()
        conn.execute("SELECT duragraph.rebuild_projections()")
        assert conn.execute("SELECT * FROM duragraph.crons ORDER BY cron_id").fetchall() == before
    [row] = await crons.search(CronFilter(metadata={"k": 1}))
    assert row.enabled is False and row.payload == {"input": {"n": 3}} and row.timezone == "Europe/Paris"
