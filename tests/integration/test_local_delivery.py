"""Early delivery to stream subscriptions, each event still delivered once: the relay hands its
events to the subscriptions of its own process (duragraph_lab/bus/local.py), and workers announce
what they commit on the stream's ``fresh`` subject (RelayWaker)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from nats.aio.client import Client as NATS

from duragraph_lab.bus import OutboxRelay, RelayWaker, StreamSubscription, Subjects, local
from duragraph_lab.domain import NewEvent
from duragraph_lab.store import PostgresEventStore
from tests.helpers import eventually


async def test_the_relay_hands_events_to_subscriptions_of_its_process(
    pg_store: PostgresEventStore, pool: Any, nc: NATS, subjects: Subjects
) -> None:
    relay = OutboxRelay(pool, nc, subjects)
    pg_store.add_after_commit(relay.wake)
    await relay.start()
    sid = f"run:{uuid.uuid4()}"
    received: list[int] = []
    try:
        # poll_interval=30: within this test, events can only come from NATS or the relay.
        async with StreamSubscription(pg_store, nc, subjects, sid, poll_interval=30) as sub:
            await sub._sub.unsubscribe()  # no NATS copy: only the relay's own hand-over is left
            assert local.has_listeners(nc)

            async def consume() -> None:
                async for event in sub:
                    received.append(event.version)

            consumer = asyncio.create_task(consume())
            await asyncio.sleep(0.2)  # caught up (nothing yet)
            for version in range(3):
                await pg_store.append(sid, version, [NewEvent("e", {"v": version})])
            await eventually(lambda: received == [1, 2, 3], timeout=5)
            consumer.cancel()
        assert not local.has_listeners(nc)  # closing the subscription stops listening
    finally:
        await relay.stop()


async def test_each_event_is_delivered_once_by_both_ways(
    pg_store: PostgresEventStore, pool: Any, nc: NATS, subjects: Subjects
) -> None:
    relay = OutboxRelay(pool, nc, subjects)
    pg_store.add_after_commit(relay.wake)
    await relay.start()
    sid = f"run:{uuid.uuid4()}"
    received: list[int] = []
    try:
        async with StreamSubscription(pg_store, nc, subjects, sid, poll_interval=30) as sub:

            async def consume() -> None:
                async for event in sub:
                    received.append(event.version)

            consumer = asyncio.create_task(consume())
            await asyncio.sleep(0.2)
            for version in range(0, 20, 2):
                await pg_store.append(sid, version, [NewEvent("a"), NewEvent("b")])
            await eventually(lambda: len(received) >= 20, timeout=5)
            await asyncio.sleep(0.3)  # the NATS copies arrive too, and are dropped
            consumer.cancel()
        assert received == list(range(1, 21))
    finally:
        await relay.stop()


async def test_a_workers_commits_reach_subscriptions_before_any_relay(
    pool: Any, nc: NATS, subjects: Subjects
) -> None:
    """No relay runs and nothing is polled: the events can only come from the worker's own
    announcement. A relay started afterwards publishes them again; nothing is delivered twice."""
    worker_store = PostgresEventStore(pool)
    worker_store.add_after_commit(RelayWaker(nc, subjects))
    sid = f"run:{uuid.uuid4()}"
    received: list[tuple[int, Any]] = []
    async with StreamSubscription(worker_store, nc, subjects, sid, poll_interval=30) as sub:

        async def consume() -> None:
            async for event in sub:
                received.append((event.version, event.data))

        consumer = asyncio.create_task(consume())
        await asyncio.sleep(0.2)
        for version in range(0, 6, 2):
            await worker_store.append(sid, version, [NewEvent("a", {"v": version}), NewEvent("b")])
        await eventually(lambda: len(received) == 6, timeout=5)
        relay = OutboxRelay(pool, nc, subjects)
        await relay.start()
        try:
            await relay.drain()
            await asyncio.sleep(0.3)  # the JetStream copies arrive, and are dropped
        finally:
            await relay.stop()
        consumer.cancel()
    assert [v for v, _ in received] == [1, 2, 3, 4, 5, 6]
    assert [d for _, d in received][::2] == [{"v": 0}, {"v": 2}, {"v": 4}]
