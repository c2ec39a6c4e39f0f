"""Chaos, DBOS-style: PostgreSQL is restarted every 5-15 s (at random; down for up to 3 s each
time) while real worker processes execute runs and new runs keep arriving. Afterwards every run
has ended well with the right state, no node ran after its result was committed, and every run's
stream is whole. With leases (10 s) longer than the outages, the commits an outage interrupts are
retried in place: no run changes hands and no node runs twice.

The test owns its PostgreSQL (restarting the session's would break every other test).
``DURAGRAPH_CHAOS_SECONDS`` sets how long the chaos lasts (default 60); a run that long is the
one in the default suite.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from duragraph_lab.bus import Subjects, connect_nats
from duragraph_lab.bus.control_plane import BusLink
from duragraph_lab.control.plane import ControlPlane
from duragraph_lab.domain.errors import StoreUnavailable
from duragraph_lab.domain.run import RunStatus
from duragraph_lab.runtime.control_plane import control_plane
from duragraph_lab.runtime.postgres import EmbeddedPostgres
from duragraph_lab.store import PostgresEventStore, migrate, open_pool
from tests.fault.conftest import Faults, create_ledger
from tests.fault.workers import assert_durable, registered, sql, wait_for

CHAOS_SECONDS = float(os.environ.get("DURAGRAPH_CHAOS_SECONDS", "60"))
SLEEP = 0.1  # each node sleeps up to this long
DONE = [f"n{i}" for i in range(6)]
TTL = 10.0  # outlives an outage: up to 3 s down, and the connection pool's reconnection back-off


@pytest.fixture
def chaos_pg(tmp_path: Path) -> Iterator[tuple[EmbeddedPostgres, str]]:
    pg = EmbeddedPostgres(tmp_path / "postgres")
    url = pg.start().url
    migrate(url)
    create_ledger(url)
    yield pg, url
    pg.stop()


async def keep_creating(control: ControlPlane, created: list[str], stop: asyncio.Event) -> None:
    """A new run every 0.3 s. While PostgreSQL is down, creating fails; it is tried again later
    (a creation whose answer was lost may still exist: the checks read every run there is)."""
    while not stop.is_set():
        with contextlib.suppress(StoreUnavailable):
            created.append((await control.runs.create_run("six", {"n": 0, "sleep": SLEEP})).run_id)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.3)


def restart(pg: EmbeddedPostgres, url: str, down: float) -> float:
    """Stop PostgreSQL (fast shutdown: every connection is cut), keep it down for ``down``
    seconds, start it again; return for how long it was down. Called from the test's own
    thread: the server dies with the thread that started it."""
    began = time.monotonic()
    pg.stop()
    time.sleep(down)
    assert pg.start().url == url, "PostgreSQL came back on its port"
    return time.monotonic() - began


async def test_postgres_restarts_under_running_workers_lose_nothing(
    chaos_pg: tuple[EmbeddedPostgres, str], nats_server: str, tmp_path: Path
) -> None:
    pg, url = chaos_pg
    faults = Faults(url, nats_server, f"c{uuid.uuid4().hex[:8]}", tmp_path)
    try:
        for i in range(2):
            faults.start("tests.fault.fault_graphs:six", f"chaos-{i}", TTL, extra=["--concurrency", "8"])
        wait_for(lambda: registered(url, "six"), 30, "registration")
        pool = await open_pool(url, max_size=4, timeout=5)
        nc = await connect_nats(nats_server, name="chaos")
        control = control_plane(PostgresEventStore(pool), BusLink(Subjects(faults.prefix), nc))
        created: list[str] = []
        stop = asyncio.Event()
        creator = asyncio.create_task(keep_creating(control, created, stop))
        seed = random.randrange(2**32)
        rng = random.Random(seed)
        downtimes: list[float] = []
        end = time.monotonic() + CHAOS_SECONDS
        try:
            while (left := end - time.monotonic()) > 0:
                await asyncio.sleep(min(left, rng.uniform(5, 15)))
                if time.monotonic() < end:
                    downtimes.append(restart(pg, url, rng.uniform(0, 3)))
        finally:
            stop.set()
            await creator
        # The chaos is over: every run there is ends, well.
        wait_for(
            lambda: (
                sql(url, "SELECT count(*) FROM duragraph.runs WHERE status IN ('pending', 'running')")
                == [(0,)]
            ),
            180,
            "every run to end",
        )
        statuses = dict(sql(url, "SELECT status, count(*) FROM duragraph.runs GROUP BY 1"))
        assert statuses == {"success": statuses.get("success", 0)}, (seed, statuses)
        assert len(downtimes) >= CHAOS_SECONDS // 15, (seed, downtimes)
        assert statuses["success"] >= len(created) > CHAOS_SECONDS, (seed, statuses, len(created))
        for (run_id,) in sql(url, "SELECT run_id::text FROM duragraph.runs"):
            state = await control.history.state(run_id)
            assert state.status is RunStatus.SUCCESS
            assert state.values == {"n": 6, "log": DONE, "sleep": SLEEP}, (seed, run_id)
        assert_durable(url)
        twice = sql(url, "SELECT key, count(*) FROM side_effects GROUP BY 1 HAVING count(*) > 1")
        assert twice == [], f"seed {seed}: nodes ran again after an outage: {twice}"
        print(
            f"chaos seed {seed}: {len(downtimes)} restarts (down {', '.join(f'{d:.1f}' for d in downtimes)} s), "
            f"{statuses['success']} runs"
        )
        await nc.close()
        await pool.close()
    finally:
        for w in faults.workers:
            w.stop()
