"""Follow one stream: catch up from PostgreSQL, then live from NATS — gap-free, no duplicates.

Order and completeness come from the stream's ``version`` (1, 2, 3, ... with no holes), not from
NATS: a live message is delivered only if it is exactly the next version. An older version is a
duplicate (dropped); a newer one means something was missed (NATS restarted, the relay published
out of order, a body was too big to travel) and the gap is filled from PostgreSQL. While NATS is
quiet the subscription also re-reads PostgreSQL every ``poll_interval``, so a message lost at the
very end of a stream — or NATS being down altogether — delays events but never loses them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from duragraph_lab.bus import local, wire
from duragraph_lab.bus.subjects import Subjects
from duragraph_lab.bus.watching import watchers
from duragraph_lab.domain.envelope import RecordedEvent
from duragraph_lab.domain.streams import StreamId, StreamKind
from duragraph_lab.store.port import EventStore

log = logging.getLogger(__name__)
_FLUSHES: set[asyncio.Future[None]] = set()


async def safe_flush(nc: NATS, timeout: float) -> None:
    """``nc.flush()`` whose PING future is not cancelled when we stop waiting.

    nats-py keeps each PING's future in a list and sets its result when the PONG arrives; a
    future cancelled meanwhile (its own timeout, or the caller cancelled: an SSE client that went
    away while its subscription was being set up) makes that raise in the read loop, which drops
    and re-establishes the whole connection, losing the core-NATS messages in flight. So the flush
    runs on its own (shielded) and we only stop waiting for it. (asyncio.timeout, not wait_for:
    on 3.11 wait_for can swallow the cancellation of a request that went away.)"""
    flush = asyncio.ensure_future(nc.flush(timeout=60))
    _FLUSHES.add(flush)
    flush.add_done_callback(_flushed)
    async with asyncio.timeout(timeout):
        await asyncio.shield(flush)


def _flushed(flush: asyncio.Future[None]) -> None:
    _FLUSHES.discard(flush)
    if not flush.cancelled():
        flush.exception()  # retrieved: a flush that failed with its connection is not news


class StreamSubscription:
    """``async with StreamSubscription(...) as sub: async for event in sub: ...``"""

    def __init__(
        self,
        store: EventStore,
        nc: NATS | None,
        subjects: Subjects,
        stream_id: str,
        *,
        after_version: int = 0,
        after_seq: int = 0,
        poll_interval: float = 1.0,
        page_size: int = 1000,
    ) -> None:
        self.store = store
        self.nc = nc
        self.subjects = subjects
        self.stream_id = str(StreamId.parse(stream_id))
        self.last_version = after_version
        self._after_seq = after_seq
        self.poll_interval = poll_interval
        self.page_size = page_size
        # NATS messages (JetStream copies), the relay's own hand-overs and workers' fresh events.
        self._queue: asyncio.Queue[Msg | local.LocalMessage | RecordedEvent] = asyncio.Queue()
        self._sub: Any = None
        self._fresh_sub: Any = None
        self._stop_local: Any = None
        self._unwatch: Callable[[], None] | None = None
        self.delivered = 0

    async def __aenter__(self) -> StreamSubscription:
        await self._subscribe()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _subscribe(self) -> None:
        if self.nc is None:
            return

        async def on_msg(msg: Msg) -> None:
            self._queue.put_nowait(msg)

        if self._stop_local is None:
            # Events relayed by this process come straight from the relay (see bus.local).
            key = local.feed_key(self.subjects.prefix, self.stream_id)
            self._stop_local = local.listen(self.nc, key, self._queue.put_nowait)

        async def on_fresh(msg: Msg) -> None:
            try:
                events = wire.events_from_fresh(msg.data)
            except Exception:  # the relay's copy or PostgreSQL will bring them
                log.debug("undecodable fresh events on %s", msg.subject)
                return
            for event in events:
                self._queue.put_nowait(event)

        try:
            # Bounded like the flush below: a NATS client that cannot take a subscription now
            # (its flush queue full behind a stalled socket) must not hold the stream up; it
            # polls PostgreSQL meanwhile and subscribes again later.
            async with asyncio.timeout(2):
                if self._fresh_sub is None and StreamId.parse(self.stream_id).kind is StreamKind.RUN:
                    # Workers announce what they commit to runs someone watches (see
                    # bus.relay.RelayWaker and bus.watching): subscribe, then say we watch.
                    self._fresh_sub = await self.nc.subscribe(
                        self.subjects.fresh(self.stream_id), cb=on_fresh
                    )
                    if self._unwatch is None:
                        self._unwatch = await watchers(self.nc, self.subjects).watch(self.stream_id)
                self._sub = await self.nc.subscribe(self.subjects.stream(self.stream_id), cb=on_msg)
            # The server must know about the subscription before we read PostgreSQL, or an event
            # committed in between would be neither in our catch-up nor in our live feed.
            await safe_flush(self.nc, timeout=2)
        except TimeoutError:
            log.warning(
                "subscription to %s is poll-only for now: NATS did not take it within 2s", self.stream_id
            )
        except Exception as err:
            log.info("subscription to %s is poll-only for now: %s", self.stream_id, err)

    async def aclose(self) -> None:
        stop_local, self._stop_local = self._stop_local, None
        if stop_local is not None:
            stop_local()
        unwatch, self._unwatch = self._unwatch, None
        if unwatch is not None:
            unwatch()
        for sub in (self._sub, self._fresh_sub):
            if sub is not None:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()
        self._sub = self._fresh_sub = None

    def __aiter__(self) -> AsyncIterator[RecordedEvent]:
        return self._events()

    async def _catch_up(self) -> AsyncIterator[RecordedEvent]:
        while True:
            page = await self.store.read_stream(
                self.stream_id,
                after_version=self.last_version,
                after_seq=self._after_seq,
                limit=self.page_size,
            )
            for event in page:
                if event.version != self.last_version + 1 and self.last_version != 0:
                    log.error(
                        "stream %s: version %d after %d", self.stream_id, event.version, self.last_version
                    )
                self.last_version = event.version
                self._after_seq = 0  # from now on versions alone say where we are
                self.delivered += 1
                yield event
            if len(page) < self.page_size:
                return

    async def _events(self) -> AsyncIterator[RecordedEvent]:
        if self._after_seq and not self.last_version:
            # Start from a global seq (an SSE Last-Event-ID): find the stream version at that seq.
            # Head first, then the first event after the seq: if there is none, every event up to
            # that head was already committed with a seq <= after_seq, so the head is our position.
            head = await self.store.stream_version(self.stream_id)
            first = await self.store.read_stream(self.stream_id, after_seq=self._after_seq, limit=1)
            self.last_version = first[0].version - 1 if first else head
            self._after_seq = 0
        async for event in self._catch_up():
            yield event
        while True:
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
                # races with a message, leaving a consumer that cannot be stopped.
                async with asyncio.timeout(self.poll_interval):
                    msg = await self._queue.get()
            except TimeoutError:
                async for event in self._catch_up():
                    yield event
                if self._sub is None and self.nc is not None and self.nc.is_connected:
                    await self._subscribe()
                continue
            if isinstance(msg, RecordedEvent):
                version, whole = msg.version, True
            else:
                headers = msg.headers or {}
                try:
                    version = int(headers[wire.H_VERSION])
                except (KeyError, ValueError):
                    continue  # not one of ours
                whole = wire.H_TRUNCATED not in headers
            if version <= self.last_version:
                continue  # a duplicate, or already read from PostgreSQL
            if version == self.last_version + 1 and whole:
                event = msg if isinstance(msg, RecordedEvent) else wire.event_from_body(msg.data)
                self.last_version = version
                self.delivered += 1
                yield event
            else:
                async for event in self._catch_up():
                    yield event
