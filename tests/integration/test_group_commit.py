"""Group commit (duragraph_lab/store/group_commit.py): the leased appends of concurrent runs share
one statement and one commit, and each still succeeds or fails on its own."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import psycopg
import pytest

from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import NewEvent
from duragraph_lab.domain.errors import DuplicateEvent, VersionConflict
from duragraph_lab.engine.errors import LeaseLost
from duragraph_lab.store import postgres
from duragraph_lab.store.leases import RunQueue
from duragraph_lab.store.postgres import PostgresEventStore

WORKER = "worker-1"


async def leased_runs(store: PostgresEventStore, pool: Any, n: int) -> dict[str, int]:
    """``n`` new runs leased by WORKER: run id -> epoch (each stream at version 1)."""
    for _ in range(n):
        await store.append(
            f"run:{uuid.uuid4()}",
            0,
            [NewEvent(ev.RUN_CREATED, {"thread_id": str(uuid.uuid4()), "graph_id": "g"})],
        )
    leases = await RunQueue(pool).acquire(WORKER, ["g"], n, ttl=30)
    assert len(leases) == n
    return {lease.run_id: lease.epoch for lease in leases}


def step(i: int = 1) -> list[NewEvent]:
    return [
        NewEvent(ev.NODE_COMPLETED, {"step": i, "task": f"{i}.0", "node": "a", "update": {"n": i}}),
        NewEvent(ev.STEP_PLANNED, {"step": i + 1, "tasks": [], "barriers": {}}),
    ]


def stored(database_url: str, run_id: str) -> list[tuple[int, str]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT version, type FROM duragraph.events WHERE stream_id = %s ORDER BY version",
            (f"run:{run_id}",),
        ).fetchall()


def outboxed(database_url: str, run_id: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM duragraph.outbox o JOIN duragraph.events e USING (seq) WHERE e.stream_id = %s",
            (f"run:{run_id}",),
        ).fetchone()
    return int(row[0]) if row else 0


async def test_a_lone_append_is_written_at_once(
    pg_store: PostgresEventStore, pool: Any, database_url: str
) -> None:
    ((run_id, epoch),) = (await leased_runs(pg_store, pool, 1)).items()
    assert pg_store.group is not None
    before = pg_store.group.batches
    for version in (1, 3, 5):
        await pg_store.append(f"run:{run_id}", version, step(version), lease=(WORKER, epoch))
    assert pg_store.group.batches == before  # nothing to group with: the plain fenced statement
    assert [v for v, _ in stored(database_url, run_id)] == [1, 2, 3, 4, 5, 6, 7]


async def test_a_lone_append_encodes_its_events_once(
    pg_store: PostgresEventStore, pool: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ((run_id, epoch),) = (await leased_runs(pg_store, pool, 1)).items()
    encoded: list[int] = []
    encode_append = postgres.encode_append

    def counted(events: Any) -> Any:
        encoded.append(len(events))
        return encode_append(events)

    monkeypatch.setattr(postgres, "encode_append", counted)
    recorded = await pg_store.append(f"run:{run_id}", 1, step(1), lease=(WORKER, epoch))
    assert encoded == [2]  # by the store, not again by the statement's unit of work
    assert [(e.version, e.data["step"]) for e in recorded] == [(2, 1), (3, 2)]
    assert recorded[0].json_text is not None and '"update":{"n":1}' in recorded[0].json_text[0]


async def test_concurrent_appends_of_many_runs_share_a_statement(
    pg_store: PostgresEventStore, pool: Any, database_url: str
) -> None:
    runs = await leased_runs(pg_store, pool, 20)
    assert pg_store.group is not None
    before = pg_store.group.batches
    woken: list[int] = []
    pg_store.add_after_commit(lambda recorded: woken.append(len(recorded)))
    results = await asyncio.gather(
        *(pg_store.append(f"run:{r}", 1, step(), lease=(WORKER, epoch)) for r, epoch in runs.items())
    )
    # Fewer statements than appends (all 20 were queued in one turn of the loop).
    assert pg_store.group.batches - before < len(runs)
    for (run_id, _), recorded in zip(runs.items(), results, strict=True):
        assert [(e.version, e.type) for e in recorded] == [(2, ev.NODE_COMPLETED), (3, ev.STEP_PLANNED)]
        assert recorded[0].data["update"] == {"n": 1}
        # Acknowledged means committed: another connection sees the events and their outbox rows.
        assert stored(database_url, run_id)[1:] == [(2, ev.NODE_COMPLETED), (3, ev.STEP_PLANNED)]
        assert outboxed(database_url, run_id) == 3
    assert sum(woken) == 2 * len(runs)


async def test_a_conflict_or_a_lost_lease_fails_only_that_runs_append(
    pg_store: PostgresEventStore, pool: Any, database_url: str
) -> None:
    (stale, lost, fine) = runs = await leased_runs(pg_store, pool, 3)
    assert pg_store.group is not None
    before = pg_store.group.batches
    results = await asyncio.gather(
        pg_store.append(f"run:{stale}", 5, step(), lease=(WORKER, runs[stale])),
        pg_store.append(f"run:{lost}", 1, step(), lease=(WORKER, runs[lost] + 1)),
        pg_store.append(f"run:{fine}", 1, step(), lease=(WORKER, runs[fine])),
        return_exceptions=True,
    )
    assert pg_store.group.batches - before == 1  # one statement, three outcomes
    assert isinstance(results[0], VersionConflict)
    assert (results[0].expected, results[0].actual) == (5, 1)
    assert isinstance(results[1], LeaseLost)
    assert not isinstance(results[2], BaseException)
    assert [e.version for e in results[2]] == [2, 3]
    assert [v for v, _ in stored(database_url, stale)] == [1]
    assert [v for v, _ in stored(database_url, lost)] == [1]
    assert [v for v, _ in stored(database_url, fine)] == [1, 2, 3]
    assert outboxed(database_url, stale) == outboxed(database_url, lost) == 1


async def test_a_batch_failing_as_a_whole_is_written_again_one_by_one(
    pg_store: PostgresEventStore, pool: Any, database_url: str
) -> None:
    """A duplicate event id aborts the whole statement: the appends are retried alone, so only
    the one that reused an id fails."""
    (first, dup, other) = runs = await leased_runs(pg_store, pool, 3)
    taken = (await pg_store.read_stream(f"run:{other}"))[0].event_id
    reused = [NewEvent(ev.NODE_COMPLETED, {"step": 1, "task": "1.0", "node": "a"}, event_id=taken)]
    assert pg_store.group is not None
    before = pg_store.group.batches
    results = await asyncio.gather(
        # The first append of an idle store is written at once; the next two queue behind it.
        pg_store.append(f"run:{first}", 1, step(), lease=(WORKER, runs[first])),
        pg_store.append(f"run:{dup}", 1, reused, lease=(WORKER, runs[dup])),
        pg_store.append(f"run:{other}", 1, step(), lease=(WORKER, runs[other])),
        return_exceptions=True,
    )
    assert pg_store.group.batches == before  # the grouped statement failed: none was counted
    assert not isinstance(results[0], BaseException)
    assert isinstance(results[1], DuplicateEvent)
    assert not isinstance(results[2], BaseException)
    assert [v for v, _ in stored(database_url, dup)] == [1]
    assert [v for v, _ in stored(database_url, other)] == [1, 2, 3]


async def test_appends_of_one_run_in_one_batch_apply_in_order(
    pg_store: PostgresEventStore, pool: Any, database_url: str
) -> None:
    (other, other_epoch), (run_id, epoch) = (await leased_runs(pg_store, pool, 2)).items()
    assert pg_store.group is not None
    before = pg_store.group.batches
    _, first, second = await asyncio.gather(
        pg_store.append(f"run:{other}", 1, step(1), lease=(WORKER, other_epoch)),  # written at once
        pg_store.append(f"run:{run_id}", 1, step(1), lease=(WORKER, epoch)),
        pg_store.append(f"run:{run_id}", 3, step(2), lease=(WORKER, epoch)),
    )
    assert pg_store.group.batches == before + 1
    assert [e.version for e in first + second] == [2, 3, 4, 5]
    assert [v for v, _ in stored(database_url, run_id)] == [1, 2, 3, 4, 5]


async def test_an_append_cancelled_while_queued_is_not_written(
    pg_store: PostgresEventStore, pool: Any, database_url: str
) -> None:
    (kept, cancelled) = runs = await leased_runs(pg_store, pool, 2)
    writing = asyncio.ensure_future(pg_store.append(f"run:{kept}", 1, step(), lease=(WORKER, runs[kept])))
    await asyncio.sleep(0)  # written at once: the next append queues behind it
    task = asyncio.ensure_future(
        pg_store.append(f"run:{cancelled}", 1, step(), lease=(WORKER, runs[cancelled]))
    )
    await asyncio.sleep(0)
    task.cancel()
    await writing
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [v for v, _ in stored(database_url, cancelled)] == [1]
    assert [v for v, _ in stored(database_url, kept)] == [1, 2, 3]


async def test_without_group_commit_leased_appends_are_fenced_alike(pool: Any, database_url: str) -> None:
    store = PostgresEventStore(pool, group_commit=False)
    assert store.group is None
    (run_id, epoch), (other, other_epoch) = (await leased_runs(store, pool, 2)).items()
    assert [e.version for e in await store.append(f"run:{run_id}", 1, step(), lease=(WORKER, epoch))] == [
        2,
        3,
    ]
    with pytest.raises(LeaseLost):
        await store.append(f"run:{other}", 1, step(), lease=(WORKER, other_epoch + 1))
    with pytest.raises(VersionConflict):
        await store.append(f"run:{other}", 2, step(), lease=(WORKER, other_epoch))
