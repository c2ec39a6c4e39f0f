"""The worker's journal on real PostgreSQL (duragraph_lab/store/journal.py): lease deadlines, and
commits tried again after transient errors, including commits whose outcome was unknown, alone
and through group commit."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import NewEvent
from duragraph_lab.domain.errors import StoreTransientError
from duragraph_lab.engine.errors import LeaseLost
from duragraph_lab.store import PostgresEventStore, open_pool
from duragraph_lab.store.held_leases import HeldLeases
from duragraph_lab.store.journal import PostgresJournal
from duragraph_lab.store.leases import RunQueue
from duragraph_lab.store.retry import DatabaseRetry
from tests.db_faults import AnswerDroppingProxy, fault_hits, inject, install_faults

WORKER = "journal-test"
FAST = DatabaseRetry(within=10.0, first_delay=0.01, max_delay=0.05)


class Runs:
    """Runs leased by WORKER on one store, and the journal a worker would commit them with."""

    def __init__(self, store: PostgresEventStore, database_url: str, retry: DatabaseRetry = FAST) -> None:
        self.store = store
        self.database_url = database_url
        self.queue = RunQueue(store.pool)
        self.leases = HeldLeases(30.0)
        self.journal = PostgresJournal(store, worker_id=WORKER, leases=self.leases, strict=True, retry=retry)

    async def lease(self, n: int) -> list[str]:
        for _ in range(n):
            created = NewEvent(ev.RUN_CREATED, {"thread_id": str(uuid.uuid4()), "graph_id": "g"})
            await self.store.append(f"run:{uuid.uuid4()}", 0, [created])
        sent_at = time.monotonic()
        leases = await self.queue.acquire(WORKER, ["g"], n, ttl=30)
        for lease in leases:
            self.leases.taken(lease.run_id, lease.epoch, sent_at)
        return [lease.run_id for lease in leases]

    def stored(self, run_id: str) -> list[tuple[int, str]]:
        with psycopg.connect(self.database_url) as conn:
            return conn.execute(
                "SELECT version, type FROM duragraph.events WHERE stream_id = %s ORDER BY version",
                (f"run:{run_id}",),
            ).fetchall()


def step(node: str = "a", *, last: bool = False) -> list[NewEvent]:
    done = NewEvent(ev.NODE_COMPLETED, {"step": 0, "task": "0.0", "node": node, "update": {}})
    return [done, NewEvent(ev.RUN_COMPLETED if last else ev.STEP_PLANNED, {"step": 1, "tasks": []})]


@pytest.fixture
async def runs(database_url: str) -> AsyncIterator[Runs]:
    install_faults(database_url)
    pool = await open_pool(database_url, min_size=1, max_size=6)
    yield Runs(PostgresEventStore(pool), database_url)
    await pool.close()


@pytest.fixture
async def proxy(pg_server: Any) -> AsyncIterator[AnswerDroppingProxy]:
    p = AnswerDroppingProxy("127.0.0.1", pg_server.port)
    await p.start()
    yield p
    await p.close()


@pytest.mark.parametrize("sqlstate", ["40P01", "40001", "57014", "53100"])
async def test_a_commit_refused_for_now_is_tried_again_until_it_lands(runs: Runs, sqlstate: str) -> None:
    (run_id,) = await runs.lease(1)
    inject(runs.database_url, sqlstate=sqlstate, budget=3)
    recorded = await runs.journal.commit(run_id, 1, step())
    assert fault_hits(runs.database_url) == 4, "three refusals, then the attempt that landed"
    assert [e.version for e in recorded] == [2, 3]
    assert runs.stored(run_id) == [(1, ev.RUN_CREATED), (2, ev.NODE_COMPLETED), (3, ev.STEP_PLANNED)]


async def test_a_refusal_that_outlasts_the_bound_is_raised_with_its_facts(
    runs: Runs, database_url: str
) -> None:
    (run_id,) = await runs.lease(1)
    journal = PostgresJournal(
        runs.store,
        worker_id=WORKER,
        leases=runs.leases,
        strict=True,
        retry=DatabaseRetry(within=0.5, first_delay=0.02, max_delay=0.1),
    )
    inject(database_url, sqlstate="40P01", budget=10**9)
    started = time.monotonic()
    with pytest.raises(StoreTransientError) as raised:
        await journal.commit(run_id, 1, step())
    err = raised.value
    assert (err.sqlstate, err.reason) == ("40P01", "deadlock detected")
    assert err.attempts > 2
    # No attempt starts after the bound; the last one's own duration may end later (half a
    # second allowed for it: a failing commit can take that long on a loaded 2-core machine).
    assert time.monotonic() - started >= 0.4 and 0.2 < err.retried_for < 0.5 + 0.5
    assert f"the commit of run {run_id} failed {err.attempts} times" in str(err)
    assert "SQLSTATE 40P01" in str(err)
    assert runs.stored(run_id) == [(1, ev.RUN_CREATED)]


async def test_retries_stop_at_the_lease_deadline(runs: Runs, database_url: str) -> None:
    (run_id,) = await runs.lease(1)
    short = HeldLeases(0.6, margin=0.1)
    short.taken(run_id, runs.leases.epoch(run_id) or 0, time.monotonic())  # deadline in 0.5 s
    journal = PostgresJournal(runs.store, worker_id=WORKER, leases=short, strict=True, retry=FAST)
    inject(database_url, sqlstate="57014", budget=10**9)
    with pytest.raises(LeaseLost, match="lease deadline passed"):
        await journal.commit(run_id, 1, step())
    assert short.remaining(run_id) is not None and short.remaining(run_id) < 0.2  # type: ignore[operator]
    assert runs.stored(run_id) == [(1, ev.RUN_CREATED)]


async def test_the_lease_deadline_follows_acquire_and_extend(runs: Runs) -> None:
    (run_id,) = await runs.lease(1)
    leases = HeldLeases(0.5, margin=0.05)
    sent_at = time.monotonic()
    epoch = runs.leases.epoch(run_id)
    assert epoch is not None
    assert await runs.queue.renew(WORKER, [run_id], 0.5) == {run_id: epoch}
    leases.taken(run_id, epoch, sent_at)
    journal = PostgresJournal(runs.store, worker_id=WORKER, leases=leases, strict=True)
    journal.check_lease(run_id)
    await asyncio.sleep(0.5)
    with pytest.raises(LeaseLost, match="may have expired"):
        journal.check_lease(run_id)
    sent_at = time.monotonic()
    confirmed = await runs.queue.renew(WORKER, [run_id], 0.5)
    assert leases.renewed({run_id: epoch}, confirmed, sent_at) == set()
    journal.check_lease(run_id)
    with pytest.raises(LeaseLost, match="holds no lease"):
        journal.check_lease(str(uuid.uuid4()))


@pytest.mark.parametrize("ends_run", [False, True], ids=["mid-run", "final-commit"])
async def test_a_commit_whose_answer_was_lost_is_found_in_the_stream(
    runs: Runs, proxy: AnswerDroppingProxy, database_url: str, ends_run: bool
) -> None:
    """The connection breaks after the commit landed. The retry is refused (the version moved;
    after a final commit the lease is gone too), and the journal finds its own events instead."""
    (run_id,) = await runs.lease(1)
    pool = await open_pool(proxy.url(database_url), min_size=1, max_size=2)
    try:
        journal = PostgresJournal(
            PostgresEventStore(pool), worker_id=WORKER, leases=runs.leases, strict=True, retry=FAST
        )
        events = step(last=ends_run)
        proxy.drop_answer_to(b"append_run_events")
        recorded = await journal.commit(run_id, 1, events)
    finally:
        await pool.close()
    assert proxy.dropped == 1, "the answer was lost"
    assert [e.event_id for e in recorded] == [e.event_id for e in events]
    assert [e.version for e in recorded] == [2, 3]
    assert runs.stored(run_id) == [(1, ev.RUN_CREATED), (2, ev.NODE_COMPLETED), (3, events[1].type)]


async def test_a_lost_answer_to_a_group_commit_leaves_each_caller_its_own_outcome(
    runs: Runs, proxy: AnswerDroppingProxy, database_url: str
) -> None:
    ids = await runs.lease(3)
    pool = await open_pool(proxy.url(database_url), min_size=2, max_size=4)
    store = PostgresEventStore(pool)
    try:
        journal = PostgresJournal(store, worker_id=WORKER, leases=runs.leases, strict=True, retry=FAST)
        # The first append of an idle store is written alone; the two made meanwhile share one
        # statement, whose answer is lost.
        proxy.drop_answer_to(b"append_run_events_batch")
        batches = [step(node=f"n{i}") for i in range(3)]
        results = await asyncio.gather(*(journal.commit(r, 1, e) for r, e in zip(ids, batches, strict=True)))
    finally:
        await pool.close()
    assert proxy.dropped == 1
    for run_id, events, recorded in zip(ids, batches, results, strict=True):
        assert [e.event_id for e in recorded] == [e.event_id for e in events]
        assert [v for v, _ in runs.stored(run_id)] == [1, 2, 3]


async def test_a_refusal_of_one_run_in_a_group_commit_is_that_runs_alone(
    runs: Runs, database_url: str
) -> None:
    first, refused, other = await runs.lease(3)
    inject(database_url, sqlstate="40P01", budget=10**9, stream_id=f"run:{refused}")
    once = PostgresJournal(
        runs.store, worker_id=WORKER, leases=runs.leases, strict=True, retry=DatabaseRetry(within=0)
    )
    assert runs.store.group is not None
    results = await asyncio.gather(
        once.commit(first, 1, step()),  # written alone; the other two are grouped behind it
        once.commit(refused, 1, step()),
        once.commit(other, 1, step()),
        return_exceptions=True,
    )
    assert not isinstance(results[0], BaseException)
    assert isinstance(results[1], StoreTransientError) and results[1].sqlstate == "40P01"
    assert not isinstance(results[2], BaseException)
    assert [v for v, _ in runs.stored(first)] == [1, 2, 3]
    assert [v for v, _ in runs.stored(refused)] == [1]
    assert [v for v, _ in runs.stored(other)] == [1, 2, 3]
