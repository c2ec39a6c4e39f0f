"""Who watches which run live: workers send a run's fresh and live events only while someone does.

A worker can announce each commit's events on the run's ``fresh`` subject (bus.relay.RelayWaker)
and its ephemeral live events (node started, tokens: bus.live) so that an SSE stream gets them
without waiting for the relay. Most runs have no such watcher, and each message sent for nobody
still costs the worker a socket write and ``nats-server`` a wake-up, per commit (measured:
docs/benchmarks.md, tenth session). So the processes that watch say so:

- :class:`Watchers` (the API server's side, one per NATS connection): a stream subscription or a
  live-event listener of a run registers its watch; the first watch of a run is announced at
  once (a JSON list of stream ids on ``_<prefix>.watching``), and every watched run again every
  ``RENEW_INTERVAL`` and whenever a worker asks (``_<prefix>.watching.query``).
- :class:`WatchedStreams` (a worker's side): the runs announced within ``WATCH_TTL``.

No stored event depends on these messages: a committed event a worker does not send ``fresh``,
a subscription gets from the relay's JetStream copy or from PostgreSQL (its catch-up and its
polls), as it would when a fresh message is lost. Ephemeral live events (tokens, node started) are
at most once anyway: a listener that joins a running run gets them once its watch has reached the
run's worker. A watch announced on the connection that then creates
the run reaches every worker before the run's wake-up does (NATS keeps a connection's messages in
order), so the run's first events are sent live too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from duragraph_lab.bus.subjects import Subjects

log = logging.getLogger(__name__)

#: A worker forgets a watch that was not announced again within this many seconds.
WATCH_TTL = 10.0
#: How often a watching process announces its watches again (well within the TTL: a renewal may
#: be lost, or a worker may start between two).
RENEW_INTERVAL = 3.0
#: Stream ids per announcement (a uuid stream id is 40 bytes: far below any NATS max_payload).
_CHUNK = 1000


class Watchers:
    """This process's watches on one NATS connection (see the module's doc)."""

    def __init__(self, nc: NATS, subjects: Subjects, *, renew_interval: float = RENEW_INTERVAL) -> None:
        self.nc = nc
        self.subjects = subjects
        self.renew_interval = renew_interval
        self._counts: dict[str, int] = {}
        self._renewal: asyncio.Task[None] | None = None
        self._query_sub: Any = None

    @property
    def watched(self) -> list[str]:
        return list(self._counts)

    async def watch(self, stream_id: str) -> Callable[[], None]:
        """Watch ``stream_id`` until the returned function is called. The first watch of a stream
        is announced before this returns (on this connection: ahead of whatever it sends next)."""
        # Everything that may wait (and so be cancelled) comes first: a watch is counted only
        # once this cannot fail, or a cancelled caller would leave it renewed for ever.
        if self._query_sub is None:
            with contextlib.suppress(Exception):  # NATS down: the renewals will announce it
                self._query_sub = await self.nc.subscribe(self.subjects.watching_query, cb=self._on_query)
        if stream_id not in self._counts:
            await self._announce([stream_id])
        self._counts[stream_id] = self._counts.get(stream_id, 0) + 1
        if self._renewal is None or self._renewal.done():
            self._renewal = asyncio.create_task(self._renew(), name="duragraph-watch-renewal")
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            left = self._counts.get(stream_id, 0) - 1
            if left > 0:
                self._counts[stream_id] = left
            else:
                self._counts.pop(stream_id, None)

        return release

    async def _on_query(self, _msg: Msg) -> None:
        await self._announce(self.watched)

    async def _renew(self) -> None:
        while self._counts:
            await asyncio.sleep(self.renew_interval)
            await self._announce(self.watched)

    async def _announce(self, stream_ids: list[str]) -> None:
        for start in range(0, len(stream_ids), _CHUNK):
            try:
                await self.nc.publish(
                    self.subjects.watching, json.dumps(stream_ids[start : start + _CHUNK]).encode()
                )
            except Exception as err:  # best effort: a worker then sends nothing live for a while
                log.debug("watch announcement not sent: %s", err)
                return


# One registry per NATS connection and subject prefix: a server's subscriptions share theirs.
_registries: weakref.WeakKeyDictionary[NATS, dict[str, Watchers]] = weakref.WeakKeyDictionary()


def watchers(nc: NATS, subjects: Subjects) -> Watchers:
    """The :class:`Watchers` of ``nc`` for ``subjects``' prefix."""
    by_prefix = _registries.setdefault(nc, {})
    found = by_prefix.get(subjects.prefix)
    if found is None:
        found = by_prefix[subjects.prefix] = Watchers(nc, subjects)
    return found


class WatchedStreams:
    """A worker's view of the watched runs: those announced within ``ttl`` seconds."""

    def __init__(
        self,
        nc: NATS,
        subjects: Subjects,
        *,
        ttl: float = WATCH_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.nc = nc
        self.subjects = subjects
        self.ttl = ttl
        self._clock = clock
        self._until: dict[str, float] = {}
        self._sub: Any = None
        self._swept = clock()

    async def start(self) -> None:
        """Listen to announcements, and ask the watching processes for theirs (a worker that
        starts now would otherwise learn of a watch only at its next renewal)."""
        if self._sub is not None:
            return
        self._sub = await self.nc.subscribe(self.subjects.watching, cb=self._on_announcement)
        await self.nc.publish(self.subjects.watching_query, b"")

    async def stop(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _on_announcement(self, msg: Msg) -> None:
        try:
            stream_ids = json.loads(msg.data)
        except ValueError:
            log.debug("undecodable watch announcement on %s", msg.subject)
            return
        if isinstance(stream_ids, list):
            self.note(s for s in stream_ids if isinstance(s, str))

    def note(self, stream_ids: Iterable[str]) -> None:
        """Streams watched as of now."""
        now = self._clock()
        until = now + self.ttl
        for stream_id in stream_ids:
            self._until[stream_id] = until
        if now - self._swept > self.ttl:  # forget the expired ones now and then, not per lookup
            self._swept = now
            self._until = {s: t for s, t in self._until.items() if t > now}

    def __contains__(self, stream_id: object) -> bool:
        until = self._until.get(stream_id) if isinstance(stream_id, str) else None
        return until is not None and until > self._clock()
