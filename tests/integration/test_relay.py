"""The outbox relay against real PostgreSQL and NATS JetStream."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import psycopg
import pytest
from nats.aio.client import Client as NATS

from duragraph_lab.bus import (
    OutboxRelay,
    RelayWaker,
    StreamSubscription,
    Subjects,
    connect_nats,
    ensure_stream,
    wire,
)
from duragraph_lab.domain import NewEvent, VersionConflict
from duragraph_lab.store import PostgresEventStore, open_pool
from tests.helpers import eventually, jetstream_messages


@pytest.fixture
async def relay(pool: Any, nc: NATS, subjects: Subjects) -> Any:
    r = OutboxRelay(pool, nc, subjects)
    yield r
    await r.stop()


async def test_relays_exactly_the_committed_events(
    pg_store: PostgresEventStore, relay: OutboxRelay, nc: NATS, subjects: Subjects, database_url: str
) -> None:
    a, b = f"run:{uuid.uuid4()}", f"thread:{uuid.uuid4()}"
    committed = await pg_store.append(a, 0, [NewEvent("created", {"n": 1}), NewEvent("started")])
    committed += await pg_store.append(b, 0, [NewEvent("created", {"title": "\u00e9t\u00e9"})])
    with pytest.raises(VersionConflict):
        await pg_store.append(a, 0, [NewEvent("never")])
    with pytest.raises(RuntimeError):
        async with pg_store.transaction() as tx:
            await tx.append(a, 2, [NewEvent("rolled_back")])
            raise RuntimeError
    await relay.start()
    await relay.drain()
    msgs = await jetstream_messages(nc, subjects, expect=3)
    assert [m.headers[wire.H_MSG_ID] for m in msgs] == [str(e.event_id) for e in committed]  # type: ignore[index]
    assert [m.subject for m in msgs] == [
        subjects.event(a, "created"),
        subjects.event(a, "started"),
        subjects.event(b, "created"),
    ]
    decoded = [wire.event_from_body(m.data) for m in msgs]
    assert [(e.seq, e.stream_id, e.version, e.type, e.data) for e in decoded] == [
        (e.seq, e.stream_id, e.version, e.type, e.data) for e in committed
    ]
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM duragraph.outbox").fetchone() == (0,)
    assert relay.status.published == 3


async def test_ten_thousand_events_relayed_in_order(
    pg_store: PostgresEventStore, relay: OutboxRelay, nc: NATS, subjects: Subjects
) -> None:
    await relay.start()
    streams = [f"run:{uuid.uuid4()}" for _ in range(20)]

    async def writer(sid: str) -> None:
        for batch in range(10):
            await pg_store.append(
                sid, batch * 50, [NewEvent("tick", {"b": batch, "i": i}) for i in range(50)]
            )

    await asyncio.gather(*(writer(s) for s in streams))
    await relay.drain(timeout=60)
    msgs = await jetstream_messages(nc, subjects, expect=10_000)
    seqs = [int(m.headers[wire.H_SEQ]) for m in msgs]  # type: ignore[index]
    assert len(set(seqs)) == 10_000
    # Across streams a lower seq may commit after a higher one was relayed; within a stream,
    # order is guaranteed.
    for sid in streams:
        versions = [int(m.headers[wire.H_VERSION]) for m in msgs if m.headers[wire.H_STREAM] == sid]  # type: ignore[index]
        assert versions == list(range(1, 501))


async def test_wake_publishes_without_waiting_for_the_poll(pool: Any, nc: NATS, subjects: Subjects) -> None:
    store = PostgresEventStore(pool)
    relay = OutboxRelay(pool, nc, subjects, idle_poll_min=30, idle_poll_max=30)
    store.add_after_commit(relay.wake)
    await relay.start()
    try:
        await asyncio.sleep(0.2)  # the relay's first pass found nothing; it now sleeps 30 s
        await store.append(f"run:{uuid.uuid4()}", 0, [NewEvent("wake_me")])
        await eventually(lambda: relay.status.published == 1, timeout=5)
    finally:
        await relay.stop()


async def test_commits_following_a_pass_share_the_next_one(pool: Any, nc: NATS, subjects: Subjects) -> None:
    """After a pass that published, the next starts no sooner than pass_interval after it began:
    the commits made meanwhile go out together, in one pass."""
    store = PostgresEventStore(pool)
    batches: list[tuple[float, list[str]]] = []
    relay = OutboxRelay(
        pool,
        nc,
        subjects,
        idle_poll_min=30,
        idle_poll_max=30,
        pass_interval=2.0,
        observer=lambda rows: batches.append((time.monotonic(), [r[0] for r in rows])),
    )
    store.add_after_commit(relay.wake)
    await relay.start()
    try:
        await asyncio.sleep(0.2)  # the first pass found nothing; the relay now waits for wake-ups
        a, b, c = (f"run:{uuid.uuid4()}" for _ in range(3))
        first_commit = time.monotonic()  # the pass that publishes A begins after this
        await store.append(a, 0, [NewEvent("a")])
        await eventually(lambda: relay.status.published == 1, timeout=10)
        await store.append(b, 0, [NewEvent("b")])
        await store.append(c, 0, [NewEvent("c")])
        await eventually(lambda: relay.status.published == 3, timeout=10)
        assert [streams for _, streams in batches] == [[a], [b, c]]
        assert batches[1][0] - first_commit >= 2.0
        msgs = await jetstream_messages(nc, subjects, expect=3)
        assert [m.headers[wire.H_STREAM] for m in msgs] == [a, b, c]  # type: ignore[index]
    finally:
        await relay.stop()


async def test_a_wake_up_after_an_empty_pass_is_served_at_once(
    pool: Any, nc: NATS, subjects: Subjects
) -> None:
    """pass_interval only follows a pass that published: an idle relay publishes when woken."""
    store = PostgresEventStore(pool)
    relay = OutboxRelay(pool, nc, subjects, idle_poll_min=30, idle_poll_max=30, pass_interval=30)
    store.add_after_commit(relay.wake)
    await relay.start()
    try:
        await asyncio.sleep(0.2)  # the first pass found nothing
        await store.append(f"run:{uuid.uuid4()}", 0, [NewEvent("wake_me")])
        await eventually(lambda: relay.status.published == 1, timeout=10)
    finally:
        await relay.stop()


async def test_pass_interval_cannot_be_negative(pool: Any, nc: NATS, subjects: Subjects) -> None:
    with pytest.raises(ValueError, match="pass_interval"):
        OutboxRelay(pool, nc, subjects, pass_interval=-1)


def outbox_rows(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM duragraph.outbox").fetchone()
    return int(row[0]) if row else 0


async def test_published_rows_are_deleted_together_and_never_published_twice(
    pool: Any, nc: NATS, subjects: Subjects, database_url: str
) -> None:
    """A pass reads without committing anything; published rows are skipped by the next passes
    and deleted several at a time (here: delete_interval after the first was published, by a
    relay that nothing wakes up meanwhile)."""
    store = PostgresEventStore(pool)
    relay = OutboxRelay(pool, nc, subjects, idle_poll_min=30, idle_poll_max=30, delete_interval=6)
    store.add_after_commit(relay.wake)
    await relay.start()
    try:
        await asyncio.sleep(0.2)  # the first pass found nothing; the relay now waits for wake-ups
        sid = f"run:{uuid.uuid4()}"
        begin = time.monotonic()
        for version in range(3):
            await store.append(sid, version, [NewEvent("e", {"v": version})])
            await eventually(lambda n=version + 1: relay.status.published == n, timeout=5)
        assert outbox_rows(database_url) == 3  # published, not deleted yet
        assert await relay.backlog() == 0  # ... and not waiting to be published either
        assert relay.status.batches == 3
        relay.wake()  # a pass with nothing new before delete_interval: nothing deleted yet
        await asyncio.sleep(0.2)
        if time.monotonic() - begin < 5:  # (else the interval may be over: nothing to check)
            assert outbox_rows(database_url) == 3
        await eventually(lambda: outbox_rows(database_url) == 0, timeout=10)  # no wake-up needed
        assert relay.status.published == 3
        msgs = await jetstream_messages(nc, subjects, expect=3)
        assert [int(m.headers[wire.H_VERSION]) for m in msgs] == [1, 2, 3]  # type: ignore[index]
    finally:
        await relay.stop()


async def test_other_process_wakes_relay_through_nats(
    pool: Any, database_url: str, nc: NATS, nats_server: str, subjects: Subjects
) -> None:
    relay = OutboxRelay(pool, nc, subjects, idle_poll_min=30, idle_poll_max=30)
    await relay.start()
    # A "worker": its own pool and NATS connection, waking the relay after each commit.
    worker_pool = await open_pool(database_url, min_size=1, max_size=2)
    worker_nc = await connect_nats(nats_server, name="worker")
    try:
        worker_store = PostgresEventStore(worker_pool)
        worker_store.add_after_commit(RelayWaker(worker_nc, subjects))
        await asyncio.sleep(0.2)
        for i in range(3):
            await worker_store.append(f"run:{uuid.uuid4()}", 0, [NewEvent("from_worker", {"i": i})])
        await eventually(lambda: relay.status.published == 3, timeout=5)
    finally:
        await relay.stop()
        await worker_nc.close()
        await worker_pool.close()


async def test_one_relay_is_active_and_a_standby_takes_over(
    pg_store: PostgresEventStore, pool: Any, nc: NATS, subjects: Subjects
) -> None:
    first = OutboxRelay(pool, nc, subjects, batch_size=50, standby_poll=0.05)
    second = OutboxRelay(pool, nc, subjects, batch_size=50, standby_poll=0.05)
    await first.start()
    await eventually(lambda: first.status.role == "active")
    await second.start()
    try:
        await eventually(lambda: second.status.role == "standby")
        sids = [f"run:{uuid.uuid4()}" for _ in range(10)]
        await asyncio.gather(
            *(pg_store.append(s, 0, [NewEvent("tick", {"i": i}) for i in range(100)]) for s in sids)
        )
        await first.drain(timeout=30)
        assert (first.status.published, second.status.published) == (1000, 0)
        await first.stop()  # the active relay goes away: the standby takes over
        await eventually(lambda: second.status.role == "active")
        await pg_store.append(sids[0], 100, [NewEvent("after_failover")])
        await second.drain(timeout=30)
        assert second.status.published == 1
        msgs = await jetstream_messages(nc, subjects, expect=1001)
        seqs = [int(m.headers[wire.H_SEQ]) for m in msgs]  # type: ignore[index]
        assert seqs == sorted(seqs), "a single publisher keeps JetStream in seq order"
        assert second.status.healthy
    finally:
        await first.stop()
        await second.stop()


async def test_open_claim_does_not_block_writers(
    pg_store: PostgresEventStore, database_url: str, nc: NATS, subjects: Subjects
) -> None:
    """A relay holding rows while it waits for NATS acks must never make writers wait."""
    sid = f"run:{uuid.uuid4()}"
    await pg_store.append(sid, 0, [NewEvent("first")])
    async with await psycopg.AsyncConnection.connect(database_url) as claimer, claimer.transaction():
        await claimer.execute("SELECT seq FROM duragraph.outbox FOR UPDATE")
        await asyncio.wait_for(pg_store.append(sid, 1, [NewEvent("second")]), timeout=5)
        await asyncio.wait_for(pg_store.append(f"run:{uuid.uuid4()}", 0, [NewEvent("other")]), timeout=5)


async def test_oversized_event_travels_as_a_reference(
    pg_store: PostgresEventStore, relay: OutboxRelay, nc: NATS, subjects: Subjects
) -> None:
    sid = f"run:{uuid.uuid4()}"
    big = "x" * (9 * 1024 * 1024)  # above the embedded server's 8 MB max_payload
    pg_store.add_after_commit(relay.wake)
    await relay.start()
    received: list[Any] = []
    # poll_interval=30: within this test, events can only arrive through NATS.
    async with StreamSubscription(pg_store, nc, subjects, sid, poll_interval=30) as sub:

        async def consume() -> None:
            async for event in sub:
                received.append(event)

        consumer = asyncio.create_task(consume())
        await asyncio.sleep(0.3)  # caught up (nothing yet) and listening
        await pg_store.append(sid, 0, [NewEvent("huge", {"blob": big}), NewEvent("small")])
        await eventually(lambda: len(received) == 2)
        consumer.cancel()
    assert received[0].data["blob"] == big
    assert received[1].type == "small"
    assert relay.status.last_error is None
    msgs = await jetstream_messages(nc, subjects, expect=2)
    assert msgs[0].headers[wire.H_TRUNCATED] == "1"  # type: ignore[index]
    assert "data" not in json.loads(msgs[0].data)
    assert len(msgs[0].data) < 1024


async def test_relay_without_nats_reports_failures_and_keeps_the_backlog(
    pg_store: PostgresEventStore, pool: Any, nats_server: str, subjects: Subjects
) -> None:
    nc = await connect_nats(nats_server, name="closing")
    relay = OutboxRelay(pool, nc, subjects, retry_min=0.01, retry_max=0.05)
    await nc.close()  # a relay whose NATS connection is gone cannot publish
    await pg_store.append(f"run:{uuid.uuid4()}", 0, [NewEvent("waiting")])
    await relay.start()
    try:
        await eventually(lambda: relay.status.consecutive_failures >= 2)
        assert relay.status.last_error is not None
        assert await relay.backlog() == 1  # nothing was lost
    finally:
        await relay.stop()


async def test_no_stream_fails_the_pass_at_once_and_nothing_is_lost(
    pg_store: PostgresEventStore, pool: Any, nc: NATS
) -> None:
    """JetStream answering "no responders" (no stream, or a stream without a leader) fails the
    pass at once, not after ack_timeout; the rows wait, and go once the stream is there."""
    subjects = Subjects(prefix=f"t{uuid.uuid4().hex[:10]}")  # no stream captures these subjects
    relay = OutboxRelay(pool, nc, subjects, ack_timeout=60, retry_min=0.01, nats_retry_max=0.05)
    await pg_store.append(f"run:{uuid.uuid4()}", 0, [NewEvent("waiting")])
    await relay.start()
    try:
        await eventually(lambda: relay.status.consecutive_failures >= 2, timeout=20)
        assert "NoStreamResponseError" in (relay.status.last_error or "")
        assert relay.status.published == 0
        await ensure_stream(nc, subjects)
        try:
            await relay.drain(timeout=20)
            assert relay.status.published == 1 and relay.status.healthy
            [msg] = await jetstream_messages(nc, subjects, expect=1)
            assert msg.headers[wire.H_TYPE] == "waiting"  # type: ignore[index]
        finally:
            await nc.jetstream().delete_stream(subjects.stream_name)
    finally:
        await relay.stop()


async def test_an_ack_reporting_an_error_fails_the_pass(
    pg_store: PostgresEventStore, pool: Any, nc: NATS
) -> None:
    """A JetStream ack carrying an error (here: the message is larger than the stream accepts)
    fails the pass; nothing is deleted and the relay retries."""
    subjects = Subjects(prefix=f"t{uuid.uuid4().hex[:10]}")
    js = nc.jetstream()
    await js.add_stream(name=subjects.stream_name, subjects=[subjects.all_events], max_msg_size=64)
    relay = OutboxRelay(pool, nc, subjects, ack_timeout=60, retry_min=0.01, nats_retry_max=0.05)
    await pg_store.append(f"run:{uuid.uuid4()}", 0, [NewEvent("too_big", {"x": "y" * 200})])
    await relay.start()
    try:
        await eventually(lambda: relay.status.consecutive_failures >= 2, timeout=20)
        assert "message size exceeds maximum allowed" in (relay.status.last_error or "")
        assert relay.status.published == 0
        assert await relay.backlog() == 1
    finally:
        await relay.stop()
        await js.delete_stream(subjects.stream_name)


async def test_stop_is_prompt_even_when_a_wake_up_races_the_cancellation(
    pg_store: PostgresEventStore, pool: Any, nc: NATS, subjects: Subjects
) -> None:
    """Regression: on Python 3.11 asyncio.wait_for swallowed a cancellation that arrived together
    with a wake-up, and stop() then waited forever for a relay that kept running."""
    for i in range(40):
        relay = OutboxRelay(pool, nc, subjects, batch_size=20)
        pg_store.add_after_commit(relay.wake)
        await relay.start()
        sid = f"run:{uuid.uuid4()}"
        stopped = asyncio.Event()

        async def write(sid: str = sid, stopped: asyncio.Event = stopped) -> None:
            # Wake-ups until the stop has returned (the race is during the stop, not after it).
            for v in range(100):
                if stopped.is_set():
                    return
                await pg_store.append(sid, v, [NewEvent("e")])

        writer = asyncio.create_task(write())
        await asyncio.sleep(0.001 * (i % 20))
        task = relay._task
        assert task is not None
        async with asyncio.timeout(5):
            await relay.stop()
        stopped.set()
        assert task.done(), "the relay task really ended"
        assert relay.status.role == "stopped"
        pg_store._after_commit.clear()
        await writer
