"""Workers send live only what someone watches, and wake the relay without a message per commit
(duragraph_lab/bus/watching.py, RelayWaker). Real NATS and PostgreSQL: the messages are counted
on the wire."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from duragraph_lab.bus import OutboxRelay, RelayWaker, StreamSubscription, Subjects, connect_nats
from duragraph_lab.bus.live import LivePublisher, follow_live
from duragraph_lab.bus.watching import WatchedStreams, Watchers, watchers
from duragraph_lab.domain import NewEvent
from duragraph_lab.store import PostgresEventStore
from tests.helpers import eventually


async def _count(nc: NATS, subject: str) -> tuple[list[tuple[float, bytes]], Any]:
    got: list[tuple[float, bytes]] = []

    async def on_msg(msg: Msg) -> None:
        got.append((time.monotonic(), msg.data))

    sub = await nc.subscribe(subject, cb=on_msg)
    await nc.flush()
    return got, sub


async def test_a_worker_sends_fresh_and_live_events_only_for_watched_runs(
    pool: Any, nats_server: str, nc: NATS, subjects: Subjects
) -> None:
    # The worker: its own NATS connection, as a worker process has.
    worker_nc = await connect_nats(nats_server, name="worker")
    watched = WatchedStreams(worker_nc, subjects)
    await watched.start()
    try:
        store = PostgresEventStore(pool)
        store.add_after_commit(RelayWaker(worker_nc, subjects, watched=watched))
        live = LivePublisher(worker_nc, subjects, watched=watched)
        seen, unseen = str(uuid.uuid4()), str(uuid.uuid4())
        fresh_seen, s1 = await _count(nc, subjects.fresh(f"run:{seen}"))
        fresh_unseen, s2 = await _count(nc, subjects.fresh(f"run:{unseen}"))
        live_seen, s3 = await _count(nc, subjects.live(seen))
        live_unseen, s4 = await _count(nc, subjects.live(unseen))
        received: list[int] = []
        # The API server's side: a stream subscription of one run says it watches it.
        async with StreamSubscription(store, nc, subjects, f"run:{seen}", poll_interval=30) as sub:

            async def consume() -> None:
                async for event in sub:
                    received.append(event.version)

            consumer = asyncio.create_task(consume())
            await eventually(lambda: f"run:{seen}" in watched, timeout=5)
            assert f"run:{unseen}" not in watched
            for version in range(3):
                await store.append(f"run:{seen}", version, [NewEvent("e", {"v": version})])
                await store.append(f"run:{unseen}", version, [NewEvent("e", {"v": version})])
                live(seen, "node_started", {"node": "a"})
                live(unseen, "node_started", {"node": "a"})
            # No relay runs and nothing is polled: only the worker's fresh messages bring them.
            await eventually(lambda: received == [1, 2, 3], timeout=5)
            await eventually(lambda: len(live_seen) == 3, timeout=5)
            consumer.cancel()
        assert len(fresh_seen) == 3
        await asyncio.sleep(0.3)  # anything sent for the other run would have arrived by now
        assert fresh_unseen == [] and live_unseen == []
        for s in (s1, s2, s3, s4):
            await s.unsubscribe()
    finally:
        await watched.stop()
        await worker_nc.close()


async def test_a_worker_that_starts_after_the_watch_asks_for_it(
    nats_server: str, nc: NATS, subjects: Subjects
) -> None:
    stream = f"run:{uuid.uuid4()}"
    release = await watchers(nc, subjects).watch(stream)
    worker_nc = await connect_nats(nats_server, name="worker")
    watched = WatchedStreams(worker_nc, subjects)
    try:
        await asyncio.sleep(0.2)
        began = time.monotonic()
        await watched.start()
        # The next renewal is seconds away: only the answer to the worker's query explains this.
        await eventually(lambda: stream in watched, timeout=1)
        assert time.monotonic() - began < 1
    finally:
        release()
        await watched.stop()
        await worker_nc.close()


async def test_a_watch_lasts_while_renewed_and_expires_after(nc: NATS, subjects: Subjects) -> None:
    mine = Watchers(nc, subjects, renew_interval=0.1)
    watched = WatchedStreams(nc, subjects, ttl=0.4)
    await watched.start()
    stream = f"run:{uuid.uuid4()}"
    try:
        release = await mine.watch(stream)
        again = await mine.watch(stream)  # two watchers of one run in this process
        await eventually(lambda: stream in watched, timeout=5)
        await asyncio.sleep(1.0)  # well past the TTL: renewed meanwhile
        assert stream in watched
        release()
        await asyncio.sleep(1.0)  # the other watcher still renews it
        assert stream in watched and mine.watched == [stream]
        again()
        assert mine.watched == []
        await eventually(lambda: stream not in watched, timeout=2)
    finally:
        await watched.stop()


async def test_wake_ups_come_at_once_then_at_most_one_per_interval(
    pool: Any, nats_server: str, nc: NATS, subjects: Subjects
) -> None:
    worker_nc = await connect_nats(nats_server, name="worker")
    wakes, sub = await _count(nc, subjects.relay_wake)
    try:
        store = PostgresEventStore(pool)
        waker = RelayWaker(worker_nc, subjects, watched=set(), wake_interval=0.5)
        store.add_after_commit(waker)
        stream = f"run:{uuid.uuid4()}"
        first = time.monotonic()
        for version in range(20):  # a run committing steps back to back
            await store.append(stream, version, [NewEvent("step")])
        await eventually(lambda: len(wakes) >= 1, timeout=5)
        assert wakes[0][0] - first < 0.3, "the first commit after a quiet spell wakes the relay at once"
        await eventually(lambda: len(wakes) >= 2, timeout=5)
        await asyncio.sleep(0.8)
        # 20 commits, 2 wake-ups: the first at once, one for the rest after the interval.
        assert len(wakes) == 2 and waker.wakes == 2
        assert wakes[1][0] - wakes[0][0] >= 0.45
        quiet = time.monotonic()
        await store.append(stream, 20, [NewEvent("after_pause")])
        await eventually(lambda: len(wakes) == 3, timeout=5)
        assert wakes[2][0] - quiet < 0.3
    finally:
        await sub.unsubscribe()
        await worker_nc.close()


async def test_a_relay_woken_less_often_still_publishes_every_commit_soon(
    pool: Any, nats_server: str, nc: NATS, subjects: Subjects
) -> None:
    """The relay polls only every 30 s here: every event of a burst reaches JetStream because the
    last wake-up comes after the last commit."""
    relay = OutboxRelay(pool, nc, subjects, idle_poll_min=30, idle_poll_max=30)
    await relay.start()
    worker_nc = await connect_nats(nats_server, name="worker")
    try:
        store = PostgresEventStore(pool)
        store.add_after_commit(RelayWaker(worker_nc, subjects, watched=set(), wake_interval=0.2))
        stream = f"run:{uuid.uuid4()}"
        for version in range(30):
            await store.append(stream, version, [NewEvent("step", {"i": version})])
            await asyncio.sleep(0.01)
        await eventually(lambda: relay.status.published == 30, timeout=3)
    finally:
        await relay.stop()
        await worker_nc.close()


async def test_follow_live_watches_the_run_it_follows(nats_server: str, nc: NATS, subjects: Subjects) -> None:
    worker_nc = await connect_nats(nats_server, name="worker")
    watched = WatchedStreams(worker_nc, subjects)
    await watched.start()
    live = LivePublisher(worker_nc, subjects, watched=watched)
    run_id = str(uuid.uuid4())
    got: list[dict[str, Any]] = []

    async def follow() -> None:
        async for event in follow_live(nc, subjects, run_id):
            got.append(event)

    follower = asyncio.create_task(follow())
    try:
        await eventually(lambda: f"run:{run_id}" in watched, timeout=5)
        live(run_id, "custom", {"payload": {"progress": 50}})
        await eventually(lambda: len(got) == 1, timeout=5)
        assert got[0]["kind"] == "custom" and got[0]["payload"] == {"progress": 50}
    finally:
        follower.cancel()
        await asyncio.gather(follower, return_exceptions=True)
        await watched.stop()
        await worker_nc.close()


async def test_a_watch_cancelled_while_announcing_is_not_kept(nc: NATS, subjects: Subjects) -> None:
    """A subscription that gives up (its 2 s bound) while its watch is being announced leaves no
    watch behind to be renewed for ever."""
    mine = Watchers(nc, subjects)
    announced = asyncio.Event()
    real = mine._announce

    async def slow_announce(stream_ids: list[str]) -> None:
        announced.set()
        await asyncio.sleep(10)
        await real(stream_ids)

    mine._announce = slow_announce  # type: ignore[method-assign]
    watching = asyncio.create_task(mine.watch(f"run:{uuid.uuid4()}"))
    await announced.wait()
    watching.cancel()
    await asyncio.gather(watching, return_exceptions=True)
    assert mine.watched == []


async def test_a_waiter_learns_of_the_runs_end_from_its_worker_not_the_relay(
    pool: Any, nats_server: str, nc: NATS, subjects: Subjects
) -> None:
    """``wait_at_rest`` (``runs.wait``, ``join``) wakes on the worker's ``at_rest`` message right
    after the commit that ends the run: no relay runs here, and its own polls are by then
    0.8 s apart."""
    from duragraph_lab.bus.control_plane import BusLink
    from duragraph_lab.domain import events as ev
    from duragraph_lab.domain.run import RunStatus
    from duragraph_lab.runtime.control_plane import control_plane
    from duragraph_lab.worker.registry import graph_registry
    from tests.integration.test_crons_control import _graph

    api_store = PostgresEventStore(pool)
    await graph_registry(api_store).register(_graph(), registered_by="test")
    plane = control_plane(api_store, BusLink(subjects, nc))
    worker_nc = await connect_nats(nats_server, name="worker")
    try:
        worker_store = PostgresEventStore(pool)
        worker_store.add_after_commit(
            RelayWaker(worker_nc, subjects, watched=WatchedStreams(worker_nc, subjects))
        )
        ref = await plane.runs.create_run("tick", {"n": 0})
        stream = f"run:{ref.run_id}"
        rests, sub = await _count(nc, subjects.at_rest(str(ref.run_id)))
        waiter = asyncio.create_task(plane.runs.wait_at_rest(str(ref.run_id), timeout=30))
        await asyncio.sleep(1.0)  # polled at 0, 0.05, 0.15, 0.35, 0.75 s; next at 1.55 s
        assert not waiter.done()
        started = ev.run_started(worker_id="w", epoch=None, attempt=1)
        await worker_store.append(stream, 1, [started])
        await worker_store.append(stream, 2, [ev.run_completed(custom_values={"n": 1})])
        ended = time.monotonic()
        state = await asyncio.wait_for(waiter, 5)
        assert state.status is RunStatus.SUCCESS
        assert time.monotonic() - ended < 0.3  # the next poll was 0.55 s away
        assert len(rests) == 1  # one message, for the end only (not for run_started)
        await sub.unsubscribe()
    finally:
        await worker_nc.close()
