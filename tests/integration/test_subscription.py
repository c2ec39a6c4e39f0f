"""StreamSubscription: catch-up from PostgreSQL, then live from NATS, in order, exactly once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from nats.aio.client import Client as NATS

from duragraph_lab.bus import OutboxRelay, StreamSubscription, Subjects, wire
from duragraph_lab.domain import NewEvent, RecordedEvent
from duragraph_lab.store import PostgresEventStore


@pytest.fixture
async def relay(pool: Any, nc: NATS, subjects: Subjects) -> AsyncIterator[OutboxRelay]:
    r = OutboxRelay(pool, nc, subjects)
    yield r
    await r.stop()


async def take(it: AsyncIterator[RecordedEvent], n: int, timeout: float = 10.0) -> list[RecordedEvent]:
    return [await asyncio.wait_for(anext(it), timeout) for _ in range(n)]


async def test_catch_up_then_live(
    pg_store: PostgresEventStore, relay: OutboxRelay, nc: NATS, subjects: Subjects
) -> None:
    pg_store.add_after_commit(relay.wake)
    sid = f"run:{uuid.uuid4()}"
    await pg_store.append(sid, 0, [NewEvent("old", {"i": i}) for i in range(5)])
    await relay.start()
    async with StreamSubscription(pg_store, nc, subjects, sid, poll_interval=30) as sub:
        it = aiter(sub)
        caught_up = await take(it, 5)
        for i in range(5):
            await pg_store.append(sid, 5 + i, [NewEvent("new", {"i": i})])
        live = await take(it, 5)
    assert [e.version for e in caught_up + live] == list(range(1, 11))
    assert [e.type for e in live] == ["new"] * 5


async def test_start_after_a_global_seq(pg_store: PostgresEventStore, nc: NATS, subjects: Subjects) -> None:
    sid = f"run:{uuid.uuid4()}"
    recorded = await pg_store.append(sid, 0, [NewEvent("e", {"i": i}) for i in range(6)])
    await pg_store.append(f"run:{uuid.uuid4()}", 0, [NewEvent("unrelated")])
    async with StreamSubscription(
        pg_store, nc, subjects, sid, after_seq=recorded[2].seq, poll_interval=0.1
    ) as sub:
        got = await take(aiter(sub), 3)
    assert [e.version for e in got] == [4, 5, 6]


async def test_after_seq_at_the_head_waits_for_new_events(
    pg_store: PostgresEventStore, nc: NATS, subjects: Subjects
) -> None:
    sid = f"run:{uuid.uuid4()}"
    recorded = await pg_store.append(sid, 0, [NewEvent("e"), NewEvent("e")])
    async with StreamSubscription(
        pg_store, nc, subjects, sid, after_seq=recorded[-1].seq, poll_interval=0.1
    ) as sub:
        it = aiter(sub)
        await pg_store.append(sid, 2, [NewEvent("next")])
        [got] = await take(it, 1)
    assert (got.version, got.type) == (3, "next")


async def test_duplicates_from_nats_are_dropped_and_gaps_filled_from_postgres(
    pg_store: PostgresEventStore, nc: NATS, subjects: Subjects
) -> None:
    sid = f"run:{uuid.uuid4()}"
    recorded = await pg_store.append(sid, 0, [NewEvent("e", {"i": i}) for i in range(4)])

    async def publish(version: int) -> None:
        e = recorded[version - 1]
        body = wire.body_from_row(
            e.seq, sid, e.version, str(e.event_id), e.type, f'{{"i":{version - 1}}}', "{}", e.recorded_at
        )
        headers = wire.headers_for(e.seq, sid, e.version, str(e.event_id), e.type)
        await nc.publish(subjects.event(sid, e.type), body, headers=headers)

    async with StreamSubscription(pg_store, nc, subjects, sid, after_version=1, poll_interval=30) as sub:
        it = aiter(sub)
        [v2, v3, v4] = await take(it, 3)  # catch-up from PostgreSQL
        more = await pg_store.append(sid, 4, [NewEvent("e", {"i": 4}), NewEvent("e", {"i": 5})])
        recorded.extend(more)
        await publish(3)  # an old duplicate: dropped
        await publish(6)  # version 5 never came over NATS: the gap is read from PostgreSQL
        got = await take(it, 2)
    assert [e.version for e in (v2, v3, v4, *got)] == [2, 3, 4, 5, 6]
    assert [e.data["i"] for e in got] == [4, 5]


async def test_without_nats_events_still_arrive_by_polling(
    pg_store: PostgresEventStore, subjects: Subjects
) -> None:
    sid = f"run:{uuid.uuid4()}"
    async with StreamSubscription(pg_store, None, subjects, sid, poll_interval=0.05) as sub:
        it = aiter(sub)
        await pg_store.append(sid, 0, [NewEvent("a"), NewEvent("b")])
        got = await take(it, 2)
    assert [e.type for e in got] == ["a", "b"]


async def test_large_catch_up_is_paged(pg_store: PostgresEventStore, subjects: Subjects) -> None:
    sid = f"run:{uuid.uuid4()}"
    for batch in range(5):
        await pg_store.append(sid, batch * 100, [NewEvent("e") for _ in range(100)])
    async with StreamSubscription(pg_store, None, subjects, sid, page_size=64, poll_interval=30) as sub:
        got = await take(aiter(sub), 500)
    assert [e.version for e in got] == list(range(1, 501))


async def test_invalid_stream_id_is_rejected(pg_store: PostgresEventStore, subjects: Subjects) -> None:
    from duragraph_lab.domain import UnknownStreamKind

    with pytest.raises(UnknownStreamKind):
        StreamSubscription(pg_store, None, subjects, f"job:{uuid.uuid4()}")
