"""Bulk reads of the event log in ranges (duragraph_lab.store.bulk_copy), against PostgreSQL: the
ranges, read in order, are exactly the events past ``after`` in seq order, whatever the
interleaving of the streams, with one COPY (psycopg) or several at once (asyncpg)."""

from __future__ import annotations

import uuid

import pytest

from duragraph_lab.domain import NewEvent
from duragraph_lab.store import bulk_copy
from duragraph_lab.store.postgres import PostgresEventStore

SELECT = "SELECT seq FROM duragraph.events"


async def _append(store: PostgresEventStore, stream: str, count: int) -> None:
    version = await store.stream_version(stream)
    await store.append(stream, version, [NewEvent("e", {"i": i}) for i in range(count)])


async def _expected(store: PostgresEventStore, streams: list[str], after: int) -> list[int]:
    rows = await store._query(
        "SELECT seq FROM duragraph.events WHERE stream_id = ANY(%s) AND seq > %s ORDER BY seq",
        (streams, after),
    )
    return [r[0] for r in rows]


async def _read(store: PostgresEventStore, streams: list[str], after: int) -> tuple[list[int], int]:
    ranges = await bulk_copy.plan(store, streams, after=after)
    seqs: list[int] = []
    async for _, data in bulk_copy.copy_ranges(store, SELECT, ranges):
        seqs += [int(line) for line in data.decode().splitlines()]
    return seqs, len(ranges)


@pytest.fixture
def small_ranges(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk_copy, "RANGE_EVENTS", 25)


async def test_one_long_stream_is_cut_by_version_and_read_in_order(
    pg_store: PostgresEventStore, small_ranges: None
) -> None:
    stream = f"run:{uuid.uuid4()}"
    for _ in range(4):
        await _append(pg_store, stream, 30)
    ranges = await bulk_copy.plan(pg_store, [stream])
    assert [(r.low, r.high) for r in ranges] == [(1, 25), (26, 50), (51, 75), (76, 100), (101, 120)]
    expected = await _expected(pg_store, [stream], 0)
    for after in (0, expected[0], expected[37], expected[-2], expected[-1]):
        seqs, _ = await _read(pg_store, [stream], after)
        assert seqs == [s for s in expected if s > after]


async def test_a_thread_of_runs_interleaved_and_not(pg_store: PostgresEventStore, small_ranges: None) -> None:
    a, b, c, d = (f"run:{uuid.uuid4()}" for _ in range(4))
    # a alone, then b and c at the same time (interleaved), then d (long), then a tiny e.
    await _append(pg_store, a, 10)
    for _ in range(6):
        await _append(pg_store, b, 4)
        await _append(pg_store, c, 3)
    await _append(pg_store, d, 60)
    e = f"run:{uuid.uuid4()}"
    await _append(pg_store, e, 2)
    streams = [e, d, c, b, a]  # any order: the plan orders by seq
    ranges = await bulk_copy.plan(pg_store, streams)
    # b and c overlap: read together (42 events > 25: cut by seq); d cut by version; a alone
    # (b+c is too big to share); e shares nothing after d's last version range.
    assert ranges[0].streams == (a,)
    assert {frozenset(r.streams) for r in ranges[1:3]} == {frozenset((b, c))}
    assert [r.streams for r in ranges[3:6]] == [(d,)] * 3
    assert ranges[-1].streams == (e,)
    expected = await _expected(pg_store, streams, 0)
    for after in (0, expected[5], expected[20], expected[60], expected[-1]):
        seqs, _ = await _read(pg_store, streams, after)
        assert seqs == [s for s in expected if s > after], after


async def test_small_runs_share_a_range(pg_store: PostgresEventStore, small_ranges: None) -> None:
    streams = [f"run:{uuid.uuid4()}" for _ in range(9)]
    for stream in streams:
        await _append(pg_store, stream, 5)
    ranges = await bulk_copy.plan(pg_store, streams)
    assert [len(r.streams) for r in ranges] == [5, 4]
    seqs, _ = await _read(pg_store, streams, 0)
    assert seqs == await _expected(pg_store, streams, 0)


async def test_nothing_to_read(pg_store: PostgresEventStore) -> None:
    stream = f"run:{uuid.uuid4()}"
    assert await bulk_copy.plan(pg_store, []) == []
    assert await bulk_copy.plan(pg_store, [stream]) == []  # no such stream
    await _append(pg_store, stream, 3)
    last = (await _expected(pg_store, [stream], 0))[-1]
    assert await bulk_copy.plan(pg_store, [stream], after=last) == []


def test_connection_strings_for_asyncpg() -> None:
    params = bulk_copy._asyncpg_params("postgresql://u:p%40ss@/db?host=/tmp/run&port=5433&sslmode=disable")
    assert {k: params[k] for k in ("host", "port", "user", "password", "database", "ssl")} == {
        "host": "/tmp/run",
        "port": 5433,
        "user": "u",
        "password": "p@ss",
        "database": "db",
        "ssl": "disable",
    }
    assert bulk_copy._asyncpg_params("host=db.example port=5432 dbname=x")["host"] == "db.example"
