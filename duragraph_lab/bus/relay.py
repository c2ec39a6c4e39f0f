"""The outbox relay: publishes committed events to JetStream, at least once, in seq order.

**Leadership is a lease.** Every API replica runs a relay; the one holding the lease in
``duragraph.relay_lease`` (:mod:`duragraph_lab.store.relay_lease`) publishes, the others stand by.
The leader renews the lease every third of its TTL (``lease_ttl``, default 5 s) on the connection
it publishes with: a few renewals per TTL, never one per event. A standby asks again when the lease
would expire (at most ``standby_poll`` apart) and takes it over once it has, bumping the epoch. So
a leader that dies, hangs or is frozen (SIGSTOP) is replaced about one TTL after its last renewal,
whether or not its TCP connection stays open (an advisory lock held on that connection did not
let go: a frozen leader kept it, and nobody published). A relay that stops cleanly lets its lease
expire at once.

The leader keeps its own deadline on the monotonic clock: the *send* time of its last confirmed
renewal plus the TTL. The database computes the expiry from the moment it runs the renewal, later
than that send, so the leader's deadline passes before any standby may take the lease. Before
every pass, again between reading a batch and publishing it, and before each message of the batch,
the leader checks the deadline; once it has passed (the process was paused, the database answered
too slowly) or a renewal finds the lease gone, it stops publishing at once, forgets what it had
published but not deleted, and contends again as a standby (it gets the lease back at once if
nobody took it meanwhile).

**Two publishers at once** can still happen in one narrow case: a leader frozen after its last
check but before nats-py's flusher wrote the batch to the socket sends that batch when it resumes,
while the new leader publishes. Every message of that late batch was read from the outbox before
the freeze, so the new leader had already published it (it starts from the oldest outbox row):
JetStream drops the late copies by ``Nats-Msg-Id`` if they arrive within the duplicate window (10
minutes by default, see :mod:`duragraph_lab.bus.jetstream`), and stream subscriptions drop them by
version anyway (:mod:`duragraph_lab.bus.subscription` takes only the next version of a stream). A
leader frozen for longer than the duplicate window would add those late messages to JetStream a
second time: subscriptions still deliver each event once; only a raw JetStream consumer sees the
extra copies. Order: had two relays ever interleaved new events, a subscription would see a version
ahead of the one it expects and read the gap from PostgreSQL, then drop the late copies, so SSE
clients get no gap and no duplicate either way. Nothing is lost in any case: a row leaves the
outbox only after JetStream acknowledged it.

**Passes.** Each pass reads a batch of outbox rows with their events' JSON text (one read-only
statement: no transaction, no commit to flush), publishes them pipelined with ``Nats-Msg-Id =
event_id``, each asking for its JetStream ack on its own reply subject, and waits for every ack.
Published rows are deleted later, several passes at a time (when the batch is full, or
``delete_interval`` after the first: an idle relay wakes up for it), and the passes in between
skip them. A relay that stops before deleting leaves rows that the
next one publishes again, as does any failure before the acks; JetStream drops the duplicates by
message id (and subscribers by version). The relay touches only outbox rows and never locks them,
so it never makes a writer wait.

Wake-ups never touch the writers' transactions: in-process writers call :meth:`wake` after
commit; other processes publish an empty core-NATS message on the wake subject
(:class:`RelayWaker`: at once after a quiet spell, then at most one every 20 ms). With no
wake-ups the relay still polls, backing off while idle. A wake-up is served at once after a pass that found nothing; after a pass that published, the next pass
starts ``pass_interval`` (10 ms) after it began at the earliest, so that the commits made
meanwhile share one pass: a pass costs about the same CPU for one event as for ten.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import random
import socket
import time
import uuid
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
import psycopg_pool
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js.errors import APIError, NoStreamResponseError

from duragraph_lab.bus import local, wire
from duragraph_lab.bus.background import Background
from duragraph_lab.bus.rest import RestAnnouncer
from duragraph_lab.bus.subjects import Subjects
from duragraph_lab.domain.envelope import RecordedEvent
from duragraph_lab.store import outbox, relay_lease
from duragraph_lab.store.relay_lease import OutboxReport

log = logging.getLogger(__name__)


def relay_identity() -> str:
    """Who holds the lease, as /health shows it: host, process, and a token for this relay."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class _LeaseLapsed(Exception):
    """The lease's deadline passed in the middle of a pass: publish nothing more."""


@dataclass(slots=True)
class RelayStatus:
    running: bool = False
    role: str = "stopped"  # "active" | "standby" | "stopped"
    holder: str = ""  # this relay's identity in the lease
    epoch: int | None = None  # of the lease while this relay holds it
    leader: str | None = None  # who held the lease when this relay last looked
    published: int = 0
    batches: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    last_error: str | None = None
    last_published_at: float | None = None
    renewals: int = 0
    step_downs: int = 0
    last_step_down: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "role": self.role,
            "holder": self.holder,
            "epoch": self.epoch,
            "published": self.published,
            "batches": self.batches,
            "failures": self.failures,
            "consecutive_failures": self.consecutive_failures,
            "last_error": self.last_error,
            "last_published_at": self.last_published_at,
            "renewals": self.renewals,
            "step_downs": self.step_downs,
            "last_step_down": self.last_step_down,
        }

    @property
    def healthy(self) -> bool:
        return self.running and self.consecutive_failures == 0


class OutboxRelay:
    def __init__(
        self,
        pool: psycopg_pool.AsyncConnectionPool,
        nc: NATS,
        subjects: Subjects,
        *,
        batch_size: int = 500,
        ack_timeout: float = 5.0,
        idle_poll_min: float = 0.005,
        idle_poll_max: float = 0.5,
        retry_min: float = 0.05,
        retry_max: float = 5.0,
        nats_retry_max: float = 1.0,
        lease_ttl: float = 5.0,
        standby_poll: float = 1.0,
        delete_interval: float = 0.1,
        pass_interval: float = 0.01,
        holder: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        observer: Callable[[Sequence[tuple[str, str, str]]], None] | None = None,
    ) -> None:
        if lease_ttl <= 0:
            raise ValueError(f"lease_ttl must be positive, not {lease_ttl}")
        self.pool = pool
        #: Told ``(stream_id, type, data JSON)`` of every batch published (metrics); never fails a batch.
        self.observer = observer
        self.nc = nc
        #: JetStream's acks come to ``<inbox>.<pass>_<index>`` (one subscription, made on the first
        #: pass) and are counted for the pass in flight, ``_acks``.
        self._ack_sub: Any = None
        self._ack_prefix = ""
        self._acks: _Acks | None = None
        self._passes = 0
        self.subjects = subjects
        self.batch_size = batch_size
        self.ack_timeout = ack_timeout
        self.idle_poll_min = idle_poll_min
        self.idle_poll_max = idle_poll_max
        self.retry_min = retry_min
        self.retry_max = retry_max
        # NATS failures back off less than database ones: a JetStream cluster electing a new
        # stream leader answers again within seconds, and a retry costs one outbox read.
        self.nats_retry_max = min(nats_retry_max, retry_max)
        self.lease_ttl = lease_ttl
        self.standby_poll = standby_poll
        self.delete_interval = delete_interval
        if pass_interval < 0:
            raise ValueError(f"pass_interval must not be negative, not {pass_interval}")
        #: After a pass that published, the next one starts no sooner than this after it began:
        #: commits arriving meanwhile (a run commits a step every few ms) share one pass.
        self.pass_interval = pass_interval
        self.holder = holder or relay_identity()
        #: Monotonic clock of the lease deadline (a test may pass one it controls).
        self._clock = clock
        self._epoch: int | None = None
        #: When the last confirmed renewal (or the taking) of the lease was sent, and the deadline
        #: that gives: past it, the database may already have handed the lease to another relay.
        self._renewal_sent = 0.0
        self._deadline = 0.0
        #: Seqs published (acknowledged by JetStream) but still in the outbox, and since when.
        self._published: list[int] = []
        self._published_since = 0.0
        self.status = RelayStatus(holder=self.holder)
        self._wake = asyncio.Event()
        self._contended = asyncio.Event()  # set once the first attempt at the lease is over
        self._task: asyncio.Task[None] | None = None
        self._wake_sub: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False

    # -- control -----------------------------------------------------------------------------
    async def start(self, settle_timeout: float = 5.0) -> None:
        """Start contending for the lease; return once the relay knows whether it leads (or its
        first attempt failed, or ``settle_timeout`` passed)."""
        if self._task is not None:
            return
        self._stopping = False
        self._loop = asyncio.get_running_loop()

        async def on_wake(_msg: Msg) -> None:
            self._wake.set()

        try:
            self._wake_sub = await self.nc.subscribe(self.subjects.relay_wake, cb=on_wake)
        except Exception as err:  # NATS down at start: polling still works
            log.warning("relay: cannot subscribe to wake-ups yet: %s", err)
        self.status.running = True
        self._contended.clear()
        self._task = asyncio.create_task(self._run(), name="duragraph-outbox-relay")
        self._task.add_done_callback(self._on_task_done)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(settle_timeout):
                await self._contended.wait()

    async def stop(self) -> None:
        self._stopping = True  # also ends the loops should a cancellation ever get lost
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # stop() itself was cancelled: don't pretend the relay stopped
        for sub in (self._wake_sub, self._ack_sub):
            if sub is not None:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()
        self._wake_sub = self._ack_sub = None
        self.status.running = False
        self.status.role = "stopped"

    def wake(self, _events: Sequence[RecordedEvent] = ()) -> None:
        """Ask for a pass now. Safe from any thread; usable as an after-commit callback."""
        loop = self._loop
        if loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wake.set()
        else:
            loop.call_soon_threadsafe(self._wake.set)

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait until the outbox is empty: everything published and deleted (tests, graceful
        shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            async with self.pool.connection() as conn:
                left = await outbox.waiting(conn)
            if left == 0:
                return
            self.wake()
            await asyncio.sleep(0.01)
        raise TimeoutError(f"outbox not drained within {timeout}s")

    async def report(self) -> OutboxReport:
        """The outbox's backlog and lag, whoever publishes it, and the lease. Rows this relay
        published but has not deleted yet are not counted as waiting."""
        async with self.pool.connection() as conn:
            return await relay_lease.report(conn, self._published)

    async def backlog(self) -> int:
        """Events committed and not yet published."""
        return (await self.report()).backlog

    async def lag_seconds(self) -> float:
        """Age of the oldest unpublished event (0 when the outbox is empty)."""
        return (await self.report()).lag_seconds

    # -- leadership --------------------------------------------------------------------------
    async def _run(self) -> None:
        retry = self.retry_min
        while not self._stopping:
            try:
                wait = await self._contend()
                retry = self.retry_min
            except asyncio.CancelledError:
                raise
            except Exception as err:  # the database: reconnect, then contend again
                self._record_failure(f"{type(err).__name__}: {err}")
                self._contended.set()
                wait = retry * (0.5 + random.random())
                retry = min(retry * 2, self.retry_max)
            if wait > 0:
                await asyncio.sleep(wait)

    async def _contend(self) -> float:
        """Take the lease and publish while it holds; return how long to wait before asking again."""
        async with self.pool.connection() as conn:
            sent = self._clock()
            epoch, lease = await relay_lease.take(conn, self.holder, self.lease_ttl)
            if epoch is None:
                self._stand_by(lease.holder)
                self._contended.set()
                # Ask again as the lease would expire (renewed, it will not have), checking at
                # least every standby_poll: a leader that stops cleanly releases it early.
                return min(self.standby_poll, max(lease.expires_in_seconds, 0.0) + 0.01)
            self._epoch, self._renewal_sent, self._deadline = epoch, sent, sent + self.lease_ttl
            self.status.role, self.status.epoch, self.status.leader = "active", epoch, self.holder
            self._clear_failures()
            self._contended.set()
            if lease.holder != self.holder:
                log.info(
                    "relay %s leads (lease epoch %d)%s",
                    self.holder,
                    epoch,
                    f", taken over from {lease.holder}" if lease.holder else "",
                )
            try:
                reason = await self._lead(conn)
            finally:
                # What we published and did not delete: the next leader publishes it again, and
                # JetStream drops the copies. A relay no longer leading deletes nothing.
                self._published.clear()
                self._epoch = self.status.epoch = None
                if self._stopping and not conn.broken:
                    await self._release(conn, epoch)
            if self._stopping:
                return 0.0
            self.status.step_downs += 1
            self.status.last_step_down = reason
            self.status.role = "standby"
            log.warning("relay %s stops publishing: %s", self.holder, reason)
            return 0.0

    def _stand_by(self, leader: str) -> None:
        if self.status.role != "standby" or self.status.leader != (leader or None):
            log.info("relay %s stands by (the lease is held by %s)", self.holder, leader or "nobody")
        self.status.role, self.status.leader = "standby", leader or None
        self._clear_failures()

    async def _release(self, conn: psycopg.AsyncConnection[Any], epoch: int) -> None:
        """A clean stop: let a standby take over now rather than after the TTL."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await relay_lease.release(conn, self.holder, epoch)

    def _lapsed(self) -> bool:
        return self._clock() >= self._deadline

    async def _keep_lease(self, conn: psycopg.AsyncConnection[Any]) -> str | None:
        """None while we hold the lease (renewed once a third of its TTL has passed since the
        last renewal was sent), else why we no longer may publish."""
        now = self._clock()
        if now >= self._deadline:
            # Paused (SIGSTOP, a suspended VM), or a pass slower than two thirds of the TTL.
            return (
                f"lease deadline passed {now - self._deadline:.1f}s ago (was this process paused or stalled?)"
            )
        if now - self._renewal_sent < self.lease_ttl / 3:
            return None
        assert self._epoch is not None
        if not await relay_lease.renew(conn, self.holder, self._epoch, self.lease_ttl):
            return f"lease epoch {self._epoch} was taken over by another relay"
        self._renewal_sent, self._deadline = now, now + self.lease_ttl
        self.status.renewals += 1
        if self._lapsed():
            return "lease renewal confirmed only after its deadline"
        return None

    async def _lead(self, conn: psycopg.AsyncConnection[Any]) -> str:
        """Publish passes on our connection while the lease holds; return why we stopped.
        A database error ends the leadership by exception (the caller reconnects)."""
        idle = self.idle_poll_min
        retry = self.retry_min
        not_before = 0.0  # no pass before this (back-off after a failed one)
        while not self._stopping:
            lost = await self._keep_lease(conn)
            if lost is not None:
                return lost
            now = self._clock()
            if now < not_before:
                await self._rest(not_before - now, wakeable=False)
                continue
            began = time.monotonic()
            try:
                published = await self._pass(conn)
            except _LeaseLapsed:
                continue  # _keep_lease says why
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # stop() cancelled us
                # A future inside the client was cancelled (pending acks dropped on disconnect).
                self._record_failure("publish cancelled by the NATS client")
                published = -1
            except psycopg.Error:
                raise  # a database problem: give up the connection, reconnect, contend again
            except Exception as err:  # NATS trouble: keep leading, retry with back-off
                self._record_failure(f"{type(err).__name__}: {err}")
                published = -1
            if published < 0:
                not_before = self._clock() + retry * (0.5 + random.random())
                retry = min(retry * 2, self.nats_retry_max)
                continue
            retry = self.retry_min
            self._clear_failures()
            if published >= self.batch_size:
                idle = self.idle_poll_min
                continue  # more is probably waiting
            if published:
                idle = self.idle_poll_min
                lost = await self._gather(conn, began + self.pass_interval)
                if lost is not None:
                    return lost
            await self._rest(idle, wakeable=True)
            idle = min(idle * 2, self.idle_poll_max)
        return "stopping"

    async def _gather(self, conn: psycopg.AsyncConnection[Any], until: float) -> str | None:
        """After a pass that published: no other pass before ``until`` (monotonic), so that the
        commits made meanwhile go out in one pass (their wake-ups stay pending). Each pass costs a
        read, a NATS write, the acks and a few wake-ups of this process however few events it
        carries, and a run commits a step every few ms. After a pass that found nothing, a wake-up
        is served at once. The lease is renewed, and published rows deleted, when due meanwhile.
        Return None, or why we no longer may publish."""
        while not self._stopping and (wait := until - time.monotonic()) > 0:
            lost = await self._keep_lease(conn)
            if lost is not None:
                return lost
            await self._rest(wait, wakeable=False)
            if self._published and time.monotonic() - self._published_since >= self.delete_interval:
                await self._forget_published(conn)
        return None

    async def _rest(self, seconds: float, *, wakeable: bool) -> None:
        """Wait ``seconds`` (or until woken), but not past the time the lease is due for renewal."""
        due = self._renewal_sent + self.lease_ttl / 3 - self._clock()
        if self._published:  # published rows are deleted delete_interval after the first
            due = min(due, self._published_since + self.delete_interval - time.monotonic())
        seconds = max(0.0, min(seconds, due))
        if wakeable:
            await self._wait_for_wake(seconds)
        else:
            await asyncio.sleep(seconds)

    async def _wait_for_wake(self, seconds: float) -> None:
        # asyncio.timeout, not asyncio.wait_for: on Python 3.11, wait_for returns normally when the
        # wake-up and a cancellation arrive together, swallowing the cancellation, and stop()
        # would then wait forever for a relay that keeps running.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        self._wake.clear()

    # -- publishing --------------------------------------------------------------------------
    async def _pass(self, conn: psycopg.AsyncConnection[Any]) -> int:
        """Publish one batch; return how many events were published."""
        if not self.nc.is_connected:
            raise ConnectionError("NATS is not connected")
        self._wake.clear()
        max_payload = max(1024, int(getattr(self.nc, "max_payload", 1024 * 1024)) - 4096)
        rows = await outbox.claim(conn, self._published, self.batch_size)
        if not rows:
            # Idle: tidy up, but not at every pause of a busy writer (a run that commits a step
            # every few ms leaves the relay idle between its steps: a delete, and its WAL flush,
            # per step would compete with the run's own commits). See _rest: an idle relay wakes
            # up by the time they are due.
            if self._published and time.monotonic() - self._published_since >= self.delete_interval:
                await self._forget_published(conn)
            return 0
        if self._ack_sub is None:
            self._ack_prefix = self.nc.new_inbox() + "."
            self._ack_sub = await self.nc.subscribe(self._ack_prefix + "*", cb=self._on_ack)
        self._passes += 1
        acks = self._acks = _Acks(f"{self._ack_prefix}{self._passes}_", len(rows))
        nearby = local.has_listeners(self.nc)
        # Plain publishes with a reply subject each, pipelined (nats-py writes them in one go when
        # this task next waits), rather than JetStream's publish_async: that costs a future, a
        # done-callback, a semaphore and a random token per message, and its ack handler decodes
        # every ack into a PubAck; here an ack is counted (and read only if it reports an error).
        try:
            async with asyncio.timeout(self.ack_timeout):
                for index, row in enumerate(rows):
                    # The read may have waited, and so may a publish (a full pending buffer): the
                    # lease must still be ours for each message that leaves (a clock read: ~50 ns).
                    if self._lapsed():
                        raise _LeaseLapsed  # the rows stay in the outbox
                    await self._publish(row, acks.reply + str(index), max_payload, nearby)
            await self._await_acks(acks)
        finally:
            self._acks = None  # acks that come later are for nobody
            if not acks.done.done():
                acks.done.cancel()
            elif not acks.done.cancelled():
                acks.done.exception()  # looked at (a failure nobody awaited would be logged)
        if not self._published:
            self._published_since = time.monotonic()
        self._published += [row[0] for row in rows]
        if (
            len(self._published) >= self.batch_size
            or time.monotonic() - self._published_since >= self.delete_interval
        ):
            await self._forget_published(conn)
        if self.observer is not None:
            try:
                self.observer([(r[1], r[4], r[5]) for r in rows])
            except Exception:
                log.exception("relay observer failed")
        self.status.published += len(rows)
        self.status.batches += 1
        self.status.last_published_at = time.time()
        return len(rows)

    async def _publish(self, row: tuple[Any, ...], reply: str, max_payload: int, nearby: bool) -> None:
        seq, stream_id, version, event_id, event_type, data_json, meta_json, recorded_at = row
        headers = wire.headers_for(seq, stream_id, version, event_id, event_type)
        body = wire.body_from_row(
            seq, stream_id, version, event_id, event_type, data_json, meta_json, recorded_at
        )
        if len(body) > max_payload:
            headers[wire.H_TRUNCATED] = "1"
            body = wire.truncated_body(seq, stream_id, version, event_id, event_type)
        await self.nc.publish(self.subjects.event(stream_id, event_type), body, reply=reply, headers=headers)
        if nearby:  # subscriptions in this process: hand them the event now
            local.deliver(self.nc, local.feed_key(self.subjects.prefix, stream_id), headers, body)

    async def _forget_published(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Delete the published rows from the outbox. Deleting them one pass at a time would
        cost a commit (a WAL flush) per pass, competing with the writers' commits."""
        if not self._published:
            return
        done = list(self._published)
        await outbox.forget(conn, done)
        del self._published[: len(done)]

    async def _await_acks(self, acks: _Acks) -> None:
        """Every ack, or an exception: the rows stay in the outbox and the next pass publishes them
        again. The first failed ack ends the wait: when a JetStream cluster loses the stream's
        leader, some acks fail at once (no responders) and the rest never come; waiting out the
        timeout for those would only delay the re-publish (JetStream drops the copies by id)."""
        try:
            async with asyncio.timeout(self.ack_timeout):
                await acks.done
        except TimeoutError:
            raise TimeoutError(
                f"{acks.expected - acks.received} of {acks.expected} JetStream acks missing "
                f"after {self.ack_timeout}s"
            ) from None

    async def _on_ack(self, msg: Msg) -> None:
        acks = self._acks
        if acks is None or not msg.subject.startswith(acks.reply):
            return  # the ack of a pass given up (timed out, failed, lease lapsed)
        try:
            index = int(msg.subject[len(acks.reply) :])
        except ValueError:
            return
        status = msg.headers.get("Status") if msg.headers else None
        if status:  # 503: no responders, the stream has no leader (yet)
            acks.fail(NoStreamResponseError() if status == "503" else NatsError(f"JetStream status {status}"))
        elif b'"error"' in msg.data and "error" in (answer := json.loads(msg.data)):
            acks.fail(_api_error(answer["error"]))
        else:
            acks.ack(index)

    def _record_failure(self, reason: str) -> None:
        self.status.failures += 1
        self.status.consecutive_failures += 1
        self.status.last_error = reason
        if self.status.consecutive_failures in (1, 10) or self.status.consecutive_failures % 100 == 0:
            log.warning("relay: %s; retrying", reason)

    def _clear_failures(self) -> None:
        if self.status.consecutive_failures:
            log.info("relay: recovered after %d failed attempts", self.status.consecutive_failures)
            self.status.consecutive_failures = 0
            self.status.last_error = None

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        self.status.running = False
        self.status.role = "stopped"
        if not task.cancelled() and task.exception() is not None:
            self.status.last_error = f"relay stopped: {task.exception()!r}"
            log.error("relay stopped unexpectedly", exc_info=task.exception())


def _api_error(error: dict[str, Any]) -> Exception:
    """nats-py's error for a JetStream API error answer (``from_error`` raises it)."""
    try:
        APIError.from_error(error)
    except Exception as err:
        return err
    return APIError(description=str(error))


class _Acks:
    """JetStream's acks of one pass's messages: counted as they come, one future for them all."""

    __slots__ = ("acked", "done", "expected", "received", "reply")

    def __init__(self, reply: str, expected: int) -> None:
        self.reply = reply  # message i asks for its ack on reply + str(i)
        self.expected = expected
        self.received = 0
        self.acked = bytearray(expected)
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def ack(self, index: int) -> None:
        if 0 <= index < self.expected and not self.acked[index] and not self.done.done():
            self.acked[index] = 1
            self.received += 1
            if self.received == self.expected:
                self.done.set_result(None)

    def fail(self, error: BaseException) -> None:
        if not self.done.done():
            self.done.set_exception(error)


class RelayWaker:
    """After-commit callback for writers outside the relay's process (workers).

    - The relay's wake-up: an empty message on its wake subject, at once after a quiet spell,
      then at most one every ``wake_interval`` (20 ms) while commits keep coming, the last one
      after the last commit. The relay, once woken, gathers what commits meanwhile for its own
      ``pass_interval`` anyway, and a message per commit cost the NATS server a wake-up each:
      ~190 µs of its CPU a step of a run alone (docs/benchmarks.md, tenth session).
    - The events just committed, one message per stream on its ``fresh`` subject, so that stream
      subscriptions (SSE) get them without waiting for the relay: once per turn of the event loop,
      and only for the streams someone watches (``watched``: bus.watching). Without ``watched``,
      for every stream.
    - An empty message on a run's ``at_rest`` subject when a commit left the run at rest (its
      end, or an interrupt: bus.rest): those waiting for it (``runs.wait``, ``join``) learn it at
      once, not after the relay's next pass. One small message a run, watched or not.

    They leave in one write to the NATS socket when they go together."""

    def __init__(
        self,
        nc: NATS,
        subjects: Subjects,
        *,
        watched: Container[str] | None = None,
        wake_interval: float = 0.02,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if wake_interval < 0:
            raise ValueError(f"wake_interval must not be negative, not {wake_interval}")
        self.nc = nc
        self.subjects = subjects
        self.subject = subjects.relay_wake
        self.watched = watched
        self.wake_interval = wake_interval
        self._clock = clock
        self._events: list[RecordedEvent] = []
        self._rests = RestAnnouncer(nc, subjects)
        self._fresh_pending = False
        self._wake_pending = False
        self._last_wake = -math.inf
        # A lost wake-up only delays the relay until its next poll; lost fresh events come
        # from JetStream or PostgreSQL instead.
        self._background = Background()
        #: Wake-ups sent (tests, metrics).
        self.wakes = 0

    def __call__(self, events: Sequence[RecordedEvent] = ()) -> None:
        loop = asyncio.get_running_loop()
        if events:
            watched = self.watched
            if watched is None:
                self._events.extend(events)
            else:
                # Most commits are of one stream: one lookup for a run of its events.
                last, keep = "", False
                for event in events:
                    if event.stream_id != last:
                        last, keep = event.stream_id, event.stream_id in watched
                    if keep:
                        self._events.append(event)
            self._rests(events)
            if self._events and not self._fresh_pending:
                self._fresh_pending = True
                loop.call_soon(self._send_fresh)
        if not self._wake_pending:
            self._wake_pending = True
            delay = self._last_wake + self.wake_interval - self._clock()
            if delay > 0:
                loop.call_later(delay, self._send_wake)
            else:
                loop.call_soon(self._send_wake)

    def _send_wake(self) -> None:
        self._wake_pending = False
        self._last_wake = self._clock()
        self.wakes += 1
        self._background.spawn(self.nc.publish(self.subject, b""))

    def _send_fresh(self) -> None:
        self._fresh_pending = False
        events, self._events = self._events, []
        if events:
            self._background.spawn(self._publish_fresh(events))

    async def _publish_fresh(self, events: list[RecordedEvent]) -> None:
        by_stream: dict[str, list[RecordedEvent]] = {}
        for event in events:
            by_stream.setdefault(event.stream_id, []).append(event)
        max_payload = max(1024, int(getattr(self.nc, "max_payload", 1024 * 1024)) - 4096)
        for stream_id, committed in by_stream.items():
            await self.nc.publish(self.subjects.fresh(stream_id), wire.fresh_message(committed, max_payload))
