"""Outages of NATS and PostgreSQL under a running relay: nothing lost, nothing duplicated."""

from __future__ import annotations

import asyncio
import signal
import uuid
from pathlib import Path

import psycopg

from duragraph_lab.bus import OutboxRelay, StreamSubscription, Subjects, connect_nats, ensure_stream, wire
from duragraph_lab.domain import NewEvent, RecordedEvent, StoreUnavailable
from duragraph_lab.runtime.nats import EmbeddedNats
from duragraph_lab.runtime.postgres import EmbeddedPostgres
from duragraph_lab.store import PostgresEventStore, migrate, open_pool
from tests.helpers import eventually, jetstream_messages

EVENTS = 600


async def test_nats_killed_mid_stream_loses_and_duplicates_nothing(tmp_path: Path, database_url: str) -> None:
    server = EmbeddedNats(tmp_path / "nats")
    endpoint = server.start()
    subjects = Subjects("outage")
    pool = await open_pool(database_url, min_size=2, max_size=4)
    store = PostgresEventStore(pool)
    relay_nc = await connect_nats(endpoint.url, name="relay")
    sub_nc = await connect_nats(endpoint.url, name="subscriber")
    await ensure_stream(relay_nc, subjects)
    relay = OutboxRelay(pool, relay_nc, subjects, retry_min=0.05, retry_max=0.5)
    store.add_after_commit(relay.wake)
    await relay.start()
    sid = f"run:{uuid.uuid4()}"
    received: list[RecordedEvent] = []
    try:
        async with StreamSubscription(store, sub_nc, subjects, sid, poll_interval=0.5) as sub:

            async def consume() -> None:
                async for event in sub:
                    received.append(event)

            async def write() -> None:
                for i in range(EVENTS):
                    await store.append(sid, i, [NewEvent("tick", {"i": i})])
                    await asyncio.sleep(0.002)

            consumer = asyncio.create_task(consume())
            writer = asyncio.create_task(write())
            await eventually(lambda: len(received) >= EVENTS // 3, timeout=30)
            assert not writer.done(), "the kill must land in the middle of the stream"
            assert server._proc is not None
            server._proc.send_signal(signal.SIGKILL)  # no goodbye: in-flight acks are lost
            server._proc.wait()
            await asyncio.sleep(1.0)  # writes continue into the outbox meanwhile
            assert server.start().port == endpoint.port
            await writer
            await eventually(lambda: len(received) >= EVENTS, timeout=60)
            await asyncio.sleep(0.5)  # a late duplicate would show up here
            consumer.cancel()
        assert [e.version for e in received] == list(range(1, EVENTS + 1))
        assert [e.data["i"] for e in received] == list(range(EVENTS))
        await relay.drain(timeout=30)
        msgs = await jetstream_messages(relay_nc, subjects)
        ids = [m.headers[wire.H_MSG_ID] for m in msgs]  # type: ignore[index]
        assert len(set(ids)) == EVENTS, "every event reached JetStream"
        assert len(ids) == EVENTS, "JetStream de-duplicated re-published events"
    finally:
        await relay.stop()
        await relay_nc.close()
        await sub_nc.close()
        await pool.close()
        server.stop()


async def test_postgres_restart_under_the_relay(tmp_path: Path, nats_server: str) -> None:
    pg = EmbeddedPostgres(tmp_path / "postgres")
    url = pg.start().url
    migrate(url)
    subjects = Subjects("pgdown")
    pool = await open_pool(url, min_size=1, max_size=4, timeout=2)
    store = PostgresEventStore(pool)
    nc = await connect_nats(nats_server, name="relay")
    await ensure_stream(nc, subjects)
    relay = OutboxRelay(pool, nc, subjects, retry_min=0.05, retry_max=0.3)
    store.add_after_commit(relay.wake)
    await relay.start()
    sid = f"run:{uuid.uuid4()}"
    try:
        await store.append(sid, 0, [NewEvent("before", {"i": i}) for i in range(10)])
        await relay.drain()
        pg.stop()
        await eventually(lambda: relay.status.consecutive_failures >= 1, timeout=10)
        try:
            await store.append(sid, 10, [NewEvent("during")])
            raise AssertionError("append succeeded without a database")
        except StoreUnavailable:
            pass
        assert pg.start().url == url
        await eventually(lambda: relay.status.consecutive_failures == 0, timeout=15)
        await store.append(sid, 10, [NewEvent("after", {"i": i}) for i in range(10)])
        await relay.drain()
        msgs = await jetstream_messages(nc, subjects, expect=20)
        assert [int(m.headers[wire.H_VERSION]) for m in msgs] == list(range(1, 21))  # type: ignore[index]
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT count(*) FROM duragraph.events").fetchone() == (20,)
    finally:
        await relay.stop()
        await nc.jetstream().delete_stream(subjects.stream_name)
        await nc.close()
        await pool.close()
        pg.stop()
