"""Follow runs and threads as they happen. A run: its durable events (gap-free, in order, from
a global seq) merged with its ephemeral live events, until the run comes to rest; and the state
a stream of it starts from. A thread: its own events (runs added, edits, its deletion).

The durable side is the :class:`~duragraph_lab.control.ports.EventFeed`'s stream (caught up from
the log, then live, deduplicated). The live side is the run's live events. Both feed one queue;
closing the iterator (a client that went away) cancels the pump and drops both subscriptions,
so nothing outlives the request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from duragraph_lab.control.history import RunHistory
from duragraph_lab.control.ports import EventFeed, EventStore
from duragraph_lab.control.read_models import ACTIVE_STATUSES, RunReadModel
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import RecordedEvent
from duragraph_lab.domain.run import RunState, fold

log = logging.getLogger(__name__)

FINAL_TYPES = frozenset(
    {ev.RUN_COMPLETED, ev.RUN_FAILED, ev.RUN_CANCELLED, ev.RUN_TIMED_OUT, ev.RUN_INTERRUPTED}
)


def is_final(event: RecordedEvent) -> bool:
    """Whether the run is at rest after this event (a stream of it may end here)."""
    return event.type in FINAL_TYPES and not event.data.get("ns")


@dataclass(frozen=True, slots=True)
class Item:
    event: RecordedEvent | None = None
    live: dict[str, Any] | None = None


_DONE = Item()


class LiveTap:
    """A run's live events, subscribed to before the run exists: what a stream that creates its
    run listens with, so that the first tokens (published by a worker as soon as it starts the
    run, maybe before the creating request could subscribe) are not lost. Hand it to
    :meth:`Follower.run`, which then owns it; :meth:`close` it if the run is never followed."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Item] = asyncio.Queue()
        self._unsubscribe: Any = None

    def put(self, data: dict[str, Any]) -> None:
        self.queue.put_nowait(Item(live=data))

    async def close(self) -> None:
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            await unsubscribe()


@dataclass(frozen=True, slots=True)
class StreamStart:
    """A run as it was at a stream's starting point: its root state, its subgraphs' (by
    namespace) and the events up to there."""

    root: RunState
    spaces: dict[str, RunState]
    before: list[RecordedEvent]


class Follower:
    def __init__(self, store: EventStore, history: RunHistory, runs: RunReadModel, feed: EventFeed) -> None:
        self.store = store
        self.history = history
        self.runs = runs
        self.feed = feed

    async def start(self, run_id: str, after_seq: int, *, subgraphs: bool = False) -> StreamStart:
        """The run as it was at ``after_seq`` (its starting state for 0), and its subgraphs'."""
        events, base = await self.history.load(run_id)
        before = [e for e in events if e.seq <= after_seq]
        root = fold(before, base) if before else (base.clone() if base is not None else RunState())
        spaces: dict[str, RunState] = {}
        if subgraphs and before:
            for ns in sorted({str(e.data["ns"]) for e in before if e.data.get("ns")}):
                try:
                    spaces[ns] = fold(before, ns=ns)
                except Exception:  # a namespace that cannot be folded alone is skipped, not fatal
                    log.debug("cannot fold namespace %s of run %s", ns, run_id)
        return StreamStart(root, spaces, before)

    async def head_seq(self, run_id: str) -> int:
        """The global seq of the run's last event (0: none)."""
        position = await self.runs.rest_position(run_id)
        return (position.head_seq or 0) if position is not None else 0

    def thread(
        self, thread_id: str, *, poll_interval: float = 1.0
    ) -> AbstractAsyncContextManager[AsyncIterable[RecordedEvent]]:
        """A thread's events as they happen (runs added, edits, its deletion), from its first."""
        return self.feed.follow(f"thread:{thread_id}", poll_interval=poll_interval)

    async def tap_live(self, run_id: str) -> LiveTap:
        """Subscribe to ``run_id``'s live events now, before the run is created (see LiveTap)."""
        tap = LiveTap()
        tap._unsubscribe = await self.feed.on_live(run_id, tap.put)
        return tap

    async def run(
        self,
        run_id: str,
        *,
        after_seq: int = 0,
        live: bool | LiveTap = True,
        poll_interval: float = 1.0,
    ) -> AsyncIterator[Item]:
        """Items of run ``run_id`` after global seq ``after_seq``; ends once the run is at rest
        (finished, or paused for a human) and every event up to then was delivered. ``live``: a
        :class:`LiveTap` subscribed earlier (closed when this ends), or whether to subscribe."""
        tap = live if isinstance(live, LiveTap) else None
        try:
            async for item in self._run(run_id, after_seq, bool(live), tap, poll_interval):
                yield item
        finally:
            if tap is not None:
                await tap.close()

    async def _run(
        self, run_id: str, after_seq: int, live: bool, tap: LiveTap | None, poll_interval: float
    ) -> AsyncIterator[Item]:
        stream_id = f"run:{run_id}"
        if await self._at_rest_at_head(run_id, after_seq=after_seq):
            # Checked before any subscription: a client resuming a run that has ended gets its
            # end at once, even from a server whose bus subscriptions are still being set up
            # (a subscribe during a NATS leader election can take seconds).
            return
        queue: asyncio.Queue[Item] = tap.queue if tap is not None else asyncio.Queue()
        unsubscribe = None
        if live and tap is None:
            unsubscribe = await self.feed.on_live(run_id, lambda data: queue.put_nowait(Item(live=data)))
        subscription = self.feed.follow(stream_id, after_seq=after_seq, poll_interval=poll_interval)

        async def pump() -> None:
            try:
                async with subscription as events:
                    async for event in events:
                        queue.put_nowait(Item(event=event))
            finally:
                queue.put_nowait(_DONE)

        pump_task = asyncio.create_task(pump(), name=f"follow-{run_id}")
        last: RecordedEvent | None = None
        try:
            if await self._at_rest_at_head(run_id, after_seq=after_seq):
                return
            while True:
                try:
                    async with asyncio.timeout(poll_interval * 5):
                        item = await queue.get()
                except TimeoutError:
                    if await self._at_rest_at_head(
                        run_id, after_seq=after_seq, after_version=last.version if last else None
                    ):
                        return
                    continue
                if item is _DONE:
                    error = None if pump_task.cancelled() else pump_task.exception()
                    if error is not None:
                        raise error
                    return
                yield item
                if item.event is not None:
                    last = item.event
                    if (
                        is_final(item.event)
                        and await self.store.stream_version(stream_id) <= item.event.version
                    ):
                        return
        finally:
            pump_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pump_task
            if unsubscribe is not None:
                await unsubscribe()

    async def _at_rest_at_head(
        self, run_id: str, *, after_seq: int, after_version: int | None = None
    ) -> bool:
        """Whether the run is at rest and everything it has was delivered: up to stream version
        ``after_version`` when events were delivered, else up to global seq ``after_seq``."""
        position = await self.runs.rest_position(run_id)
        if position is None:
            return True  # no such run: nothing will ever come
        if position.status in ACTIVE_STATUSES:
            return False
        if after_version is not None:
            return position.version <= after_version
        return position.head_seq is None or position.head_seq <= after_seq
