"""Follow one run: its durable events (gap-free, in order, from a global seq) merged with its
ephemeral live events, until the run comes to rest.

The durable side is a :class:`~duragraph_lab.bus.subscription.StreamSubscription` (catch-up from
PostgreSQL, then NATS, deduplicated by version). The live side is the run's core-NATS subject.
Both feed one queue; closing the iterator (a client that went away) cancels the pump and drops
both subscriptions, so nothing outlives the request.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from duragraph_lab.api.streaming import is_final
from duragraph_lab.bus.subjects import Subjects
from duragraph_lab.bus.subscription import StreamSubscription
from duragraph_lab.domain import codec
from duragraph_lab.domain.envelope import RecordedEvent
from duragraph_lab.store.postgres import PostgresEventStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Item:
    event: RecordedEvent | None = None
    live: dict[str, Any] | None = None


_DONE = Item()


async def follow_run(
    store: PostgresEventStore,
    nc: NATS | None,
    subjects: Subjects,
    run_id: str,
    *,
    after_seq: int = 0,
    live: bool = True,
    poll_interval: float = 1.0,
) -> AsyncIterator[Item]:
    """Items of run ``run_id`` after global seq ``after_seq``; ends once the run is at rest
    (finished, or paused for a human) and every event up to then was delivered."""
    stream_id = f"run:{run_id}"
    queue: asyncio.Queue[Item] = asyncio.Queue()
    live_sub: Any = None
    if live and nc is not None and nc.is_connected:

        async def on_live(msg: Msg) -> None:
            try:
                queue.put_nowait(Item(live=codec.from_jsonable(json.loads(msg.data))))
            except (ValueError, TypeError):
                log.debug("dropped an undecodable live event of run %s", run_id)

        with contextlib.suppress(Exception):  # live events are best effort
            live_sub = await nc.subscribe(subjects.live(run_id), cb=on_live)
    subscription = StreamSubscription(
        store, nc, subjects, stream_id, after_seq=after_seq, poll_interval=poll_interval
    )

    async def pump() -> None:
        try:
            async with subscription:
                async for event in subscription:
                    queue.put_nowait(Item(event=event))
        finally:
            queue.put_nowait(_DONE)

    pump_task = asyncio.create_task(pump(), name=f"follow-{run_id}")
    last: RecordedEvent | None = None
    try:
        if await _at_rest_at_head(store, run_id, after_seq=after_seq):
            return
        while True:
            try:
                async with asyncio.timeout(poll_interval * 5):
                    item = await queue.get()
            except TimeoutError:
                if await _at_rest_at_head(
                    store, run_id, after_seq=after_seq, after_version=last.version if last else None
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
                if is_final(item.event) and await store.stream_version(stream_id) <= item.event.version:
                    return
    finally:
        pump_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump_task
        if live_sub is not None:
            with contextlib.suppress(Exception):
                await live_sub.unsubscribe()


async def _at_rest_at_head(
    store: PostgresEventStore, run_id: str, *, after_seq: int, after_version: int | None = None
) -> bool:
    """Whether the run is at rest and everything it has was delivered: up to stream version
    ``after_version`` when events were delivered, else up to global seq ``after_seq``."""
    rows = await store._query(
        "SELECT r.status, s.version, (SELECT max(e.seq) FROM duragraph.events e WHERE e.stream_id = s.stream_id) "
        "FROM duragraph.streams s LEFT JOIN duragraph.runs r ON r.run_id = %s::uuid WHERE s.stream_id = %s",
        (run_id, f"run:{run_id}"),
    )
    if not rows:
        return True  # no such run: nothing will ever come
    status, version, head_seq = rows[0]
    if status in ("pending", "running"):
        return False
    if after_version is not None:
        return bool(version <= after_version)
    return head_seq is None or head_seq <= after_seq
