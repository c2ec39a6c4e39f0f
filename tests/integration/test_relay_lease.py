"""Relay leadership as a lease, on the real database: taking, renewing, expiring, handing over,
and a leader that steps down once its own deadline has passed (a pause, simulated by its clock)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from nats.aio.client import Client as NATS

from duragraph_lab.bus import OutboxRelay, Subjects, wire
from duragraph_lab.domain import NewEvent
from duragraph_lab.store import PostgresEventStore, relay_lease
from tests.helpers import eventually, jetstream_messages


@pytest.fixture
async def conns(database_url: str) -> AsyncIterator[tuple[psycopg.AsyncConnection[Any], ...]]:
    a = await psycopg.AsyncConnection.connect(database_url, autocommit=True)
    b = await psycopg.AsyncConnection.connect(database_url, autocommit=True)
    yield a, b
    await a.close()
    await b.close()


async def test_lease_is_taken_renewed_and_taken_over_only_once_expired(
    conns: tuple[psycopg.AsyncConnection[Any], ...],
) -> None:
    a, b = conns
    # Each step below may come late on a loaded machine (never early): the sleeps leave 0.6 s
    # for that where lateness matters (the renewal before the first TTL ends, the refused take
    # before the renewed one ends); where it does not (a take after expiry), lateness only helps.
    ttl = 1.5
    epoch, before = await relay_lease.take(a, "a", ttl)
    assert (epoch, before.holder, before.held) == (1, "", False)  # seeded: nobody, expired
    epoch_b, seen = await relay_lease.take(b, "b", ttl)
    assert epoch_b is None
    assert seen.holder == "a" and seen.epoch == 1 and 0 < seen.expires_in_seconds <= ttl
    await asyncio.sleep(0.9)
    assert await relay_lease.renew(a, "a", 1, ttl)  # renewed before it expired ...
    await asyncio.sleep(0.9)
    assert (await relay_lease.take(b, "b", ttl))[0] is None  # ... so it holds past its first TTL
    await asyncio.sleep(0.8)
    epoch_b, seen = await relay_lease.take(b, "b", 30)  # expired: taken over, a new epoch
    assert epoch_b == 2 and seen.holder == "a" and seen.expires_in_seconds <= 0
    assert not await relay_lease.renew(a, "a", 1, ttl), "the old holder learns it lost the lease"
    assert (await relay_lease.take(a, "a", ttl))[0] is None
    report = await relay_lease.report(a)
    assert report.lease.holder == "b" and report.lease.epoch == 2 and report.lease.held
    assert report.lease.renewed_seconds_ago < 1
    # Its own lease a holder takes again at once (a relay reconnecting after a database error).
    assert (await relay_lease.take(b, "b", 30))[0] == 3
    await relay_lease.release(b, "b", 3)  # a clean stop: no need to wait 30 s
    assert (await relay_lease.take(a, "a", ttl))[0] == 4


async def test_report_gives_the_global_lag_whoever_publishes(
    pg_store: PostgresEventStore, conns: tuple[psycopg.AsyncConnection[Any], ...]
) -> None:
    a, _ = conns
    empty = await relay_lease.report(a)
    assert (empty.backlog, empty.lag_seconds) == (0, 0.0)
    committed = await pg_store.append(f"run:{uuid.uuid4()}", 0, [NewEvent("waiting"), NewEvent("too")])
    await asyncio.sleep(0.3)
    waiting = await relay_lease.report(a)
    assert waiting.backlog == 2 and 0.3 <= waiting.lag_seconds < 5
    # Rows the caller published already (not deleted yet) do not count.
    assert (await relay_lease.report(a, [e.seq for e in committed])).backlog == 0


def relay(pool: Any, nc: NATS, subjects: Subjects, **kw: Any) -> OutboxRelay:
    return OutboxRelay(pool, nc, subjects, **{"standby_poll": 0.1, **kw})


async def test_leader_renews_a_few_times_per_ttl_not_per_event_and_keeps_the_lease(
    pg_store: PostgresEventStore, pool: Any, nc: NATS, subjects: Subjects
) -> None:
    # A TTL a late renewal (a loaded machine's event loop) cannot outlast by accident: renewals
    # come every half second, a lapse takes 1.5 s.
    ttl = 1.5
    first, second = relay(pool, nc, subjects, lease_ttl=ttl), relay(pool, nc, subjects, lease_ttl=ttl)
    pg_store.add_after_commit(first.wake)
    await first.start()
    await eventually(lambda: first.status.role == "active")
    await second.start()
    try:
        begin = time.monotonic()
        sids = [f"run:{uuid.uuid4()}" for _ in range(10)]
        for version in range(55):  # over 3 TTLs of steady writes, 550 events
            await asyncio.gather(*(pg_store.append(s, version, [NewEvent("tick")]) for s in sids))
            await asyncio.sleep(0.09)
        await first.drain(timeout=30)
        elapsed = time.monotonic() - begin
        assert elapsed > 3 * ttl
        assert second.status.role == "standby" and second.status.leader == first.holder
        assert (first.status.published, second.status.published) == (550, 0)
        assert first.status.step_downs == 0 and first.status.epoch == 1
        # One renewal per third of the TTL at most, and they did happen (or the lease would have
        # expired and the standby taken over).
        assert elapsed / ttl <= first.status.renewals <= elapsed / (ttl / 3) + 1
    finally:
        await first.stop()
        await second.stop()


async def test_standby_takes_over_once_a_silent_leader_lease_expires(
    pg_store: PostgresEventStore, pool: Any, nc: NATS, subjects: Subjects
) -> None:
    ttl = 2.0
    first, second = relay(pool, nc, subjects, lease_ttl=ttl), relay(pool, nc, subjects, lease_ttl=ttl)
    await first.start()
    await eventually(lambda: first.status.role == "active")
    await second.start()
    await eventually(lambda: second.status.role == "standby")
    sid = f"run:{uuid.uuid4()}"
    try:
        # The leader vanishes without a word (as a killed process would): no clean release.
        assert first._task is not None
        first._task.cancel()
        vanished = time.monotonic()
        await pg_store.append(sid, 0, [NewEvent("while_nobody_leads")])
        await eventually(lambda: second.status.role == "active", timeout=5)
        took = time.monotonic() - vanished
        # Not before the lease expired (it was renewed at most a third of the TTL before), and
        # soon after: the standby asks again as the lease would expire (a second allowed for a
        # loaded machine; a standby asking only once per TTL could be a whole TTL late).
        assert 2 * ttl / 3 - 0.05 <= took <= ttl + 1.0, took
        await second.drain()
        msgs = await jetstream_messages(nc, subjects, expect=1)
        assert msgs[0].headers[wire.H_STREAM] == sid  # type: ignore[index]
        assert second.status.epoch == 2
    finally:
        await first.stop()
        await second.stop()


async def test_clean_stop_hands_over_without_waiting_for_the_ttl(
    pool: Any, nc: NATS, subjects: Subjects
) -> None:
    first = relay(pool, nc, subjects, lease_ttl=30)
    second = relay(pool, nc, subjects, lease_ttl=30)
    await first.start()
    await eventually(lambda: first.status.role == "active")
    await second.start()
    await eventually(lambda: second.status.role == "standby")
    stopped = time.monotonic()
    await first.stop()
    await eventually(lambda: second.status.role == "active", timeout=15)
    assert time.monotonic() - stopped < 10  # far from the 30 s TTL, whatever the machine's load
    await second.stop()


class Clock:
    """A monotonic clock a test can push forward, as a pause (SIGSTOP, a stalled VM) would."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


async def _leading(
    pool: Any, nc: NATS, subjects: Subjects, store: PostgresEventStore
) -> tuple[OutboxRelay, Clock]:
    clock = Clock()
    # Long idle polls: the relay passes only when woken, so the test decides when it looks.
    r = relay(pool, nc, subjects, lease_ttl=30, clock=clock, idle_poll_min=30, idle_poll_max=30)
    store.add_after_commit(r.wake)
    await r.start()
    await eventually(lambda: r.status.role == "active")
    await store.append(f"run:{uuid.uuid4()}", 0, [NewEvent("before")])
    await eventually(lambda: r.status.published == 1)
    return r, clock


async def _intrude(database_url: str) -> None:
    """Another relay took the lease (as it may once the leader's lease expired)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE duragraph.relay_lease SET holder = 'intruder', epoch = epoch + 1, "
            "expires_at = now() + interval '1 minute'"
        )


async def test_leader_past_its_deadline_publishes_nothing_and_stands_by(
    pg_store: PostgresEventStore, pool: Any, nc: NATS, subjects: Subjects, database_url: str
) -> None:
    r, clock = await _leading(pool, nc, subjects, pg_store)
    try:
        clock.offset += 31  # paused longer than the TTL: meanwhile another relay took over
        await _intrude(database_url)
        await pg_store.append(f"run:{uuid.uuid4()}", 0, [NewEvent("not_yours_to_publish")])
        await eventually(lambda: r.status.role == "standby", timeout=5)
        assert r.status.step_downs == 1 and "deadline passed" in (r.status.last_step_down or "")
        assert r.status.leader == "intruder"
        await asyncio.sleep(0.5)
        assert r.status.published == 1
        await jetstream_messages(nc, subjects, expect=1)
    finally:
        await r.stop()


async def test_leader_past_its_deadline_takes_its_lease_back_when_nobody_else_did(
    pg_store: PostgresEventStore, pool: Any, nc: NATS, subjects: Subjects
) -> None:
    r, clock = await _leading(pool, nc, subjects, pg_store)
    try:
        clock.offset += 31
        await pg_store.append(f"run:{uuid.uuid4()}", 0, [NewEvent("after_the_pause")])
        # It stopped, checked with the database, and leads again under a new epoch: it publishes
        # the new event, and the first one again (published, not deleted yet, and forgotten when
        # it stepped down): JetStream drops that copy.
        await eventually(lambda: r.status.published == 3, timeout=5)
        assert r.status.step_downs == 1 and r.status.epoch == 2 and r.status.role == "active"
        await jetstream_messages(nc, subjects, expect=2)
    finally:
        await r.stop()


async def test_leader_that_finds_its_lease_taken_at_renewal_stops_publishing(
    pg_store: PostgresEventStore, pool: Any, nc: NATS, subjects: Subjects, database_url: str
) -> None:
    r, clock = await _leading(pool, nc, subjects, pg_store)
    try:
        await _intrude(database_url)
        clock.offset += 15  # half the TTL: not past the deadline, but a renewal is due
        await pg_store.append(f"run:{uuid.uuid4()}", 0, [NewEvent("not_yours_either")])
        await eventually(lambda: r.status.role == "standby", timeout=5)
        assert "taken over" in (r.status.last_step_down or "")
        await asyncio.sleep(0.5)
        assert r.status.published == 1
        await jetstream_messages(nc, subjects, expect=1)
    finally:
        await r.stop()


async def test_leader_whose_read_outlived_its_lease_publishes_nothing_it_read(
    pg_store: PostgresEventStore, pool: Any, nc: NATS, subjects: Subjects, database_url: str
) -> None:
    """The database answers the leader's read only after its lease expired (and a standby took
    over): the leader checks its deadline before it publishes, so the batch goes out once, from
    the new leader."""
    ttl = 1.0
    first = relay(pool, nc, subjects, lease_ttl=ttl, idle_poll_min=30, idle_poll_max=30)
    second = relay(pool, nc, subjects, lease_ttl=ttl)
    await first.start()
    await eventually(lambda: first.status.role == "active")
    await second.start()
    await eventually(lambda: second.status.role == "standby")
    sid = f"run:{uuid.uuid4()}"
    await pg_store.append(sid, 0, [NewEvent("read_too_late")])  # nobody wakes the relays
    try:
        async with (
            await psycopg.AsyncConnection.connect(database_url) as locker,
            locker.transaction(),
        ):
            await locker.execute("LOCK TABLE duragraph.outbox IN ACCESS EXCLUSIVE MODE")
            first.wake()  # its read now waits for the lock, its lease runs out meanwhile
            await eventually(lambda: second.status.role == "active", timeout=5)
            await asyncio.sleep(0.3)  # the new leader's read waits for the lock too
        await eventually(lambda: second.status.published == 1, timeout=5)
        await eventually(lambda: first.status.role == "standby", timeout=5)
        assert "deadline passed" in (first.status.last_step_down or "")
        assert first.status.published == 0, "the old leader published what it read too late"
        await jetstream_messages(nc, subjects, expect=1)
    finally:
        await first.stop()
        await second.stop()
