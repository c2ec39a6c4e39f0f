"""Group commit: the run appends of many concurrent runs made durable by one statement.

A worker serving many runs would otherwise pay one round trip, one transaction and one WAL
flush per node, on as many connections as it has runs in flight. Here appends wait in a queue
while a batch is being written; the next batch takes everything that queued meanwhile, so a lone
run is written at once (nothing waits on a timer) and a busy worker writes large batches.

Each append in a batch is checked on its own by ``duragraph.append_run_events_batch`` (lease,
then expected version), so one run's conflict or lost lease fails only that run's append. An
append is acknowledged (its future resolved) only once the statement that wrote it returned on
an autocommit connection, that is, once it committed. Should the statement fail as a whole (a
duplicate event id, a deadlock), the batch is appended again one by one, so each caller gets the
outcome of its own append.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
import psycopg_pool

from duragraph_lab.domain import codec
from duragraph_lab.domain.envelope import NewEvent, RecordedEvent
from duragraph_lab.domain.errors import StoreTransientError, VersionConflict
from duragraph_lab.engine.errors import LeaseLost
from duragraph_lab.store.connection import unavailable_as_typed
from duragraph_lab.store.validation import decoded

log = logging.getLogger(__name__)

_APPEND_BATCH = (
    "SELECT item, seq, version, recorded_at, error, detail "
    "FROM duragraph.append_run_events_batch(%s::jsonb, %s)"
)


@dataclass(slots=True)
class RunAppend:
    """One run's append, validated and encoded by the caller."""

    run_id: str  # canonical UUID text
    expected_version: int | None
    events: Sequence[NewEvent]
    encoded: list[dict[str, Any]]
    payload: str  # ``encoded`` as a JSON array
    worker_id: str | None
    epoch: int | None
    texts: list[tuple[str, str]] | None = None  # each event's data and meta as JSON text
    #: The read-model rows the append writes itself (:func:`~duragraph_lab.store.step_rows.step_rows`),
    #: as JSON; None: the events trigger projects its events.
    rows: str | None = None
    done: asyncio.Future[list[RecordedEvent]] = field(init=False)

    @property
    def stream_id(self) -> str:
        return f"run:{self.run_id}"


#: Appends one run alone (the fallback when a batch fails as a whole); raises what a lone
#: append raises.
AppendOne = Callable[[RunAppend], Awaitable[list[RecordedEvent]]]


class GroupCommit:
    """Batches run appends; at most ``max_in_flight`` batches of ``max_batch`` at a time."""

    def __init__(
        self,
        pool: psycopg_pool.AsyncConnectionPool,
        append_one: AppendOne,
        on_commit: Callable[[Sequence[RecordedEvent]], None],
        *,
        max_batch: int = 256,
        max_in_flight: int = 2,
    ) -> None:
        self.pool = pool
        self.append_one = append_one
        self.on_commit = on_commit
        self.max_batch = max_batch
        self.max_in_flight = max_in_flight
        self._queue: list[RunAppend] = []
        self._in_flight = 0
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        #: Statements written and appends they carried (tests, metrics).
        self.batches = 0
        self.appends = 0

    async def append(self, item: RunAppend) -> list[RecordedEvent]:
        if not self._queue and self._in_flight == 0 and not self._scheduled:
            # Nothing else to write: write this one now, on the caller's own task (a run alone,
            # as in a linear graph, pays nothing for grouping). Appends made meanwhile queue up
            # and are grouped behind it.
            self._in_flight += 1
            try:
                return await self.append_one(item)
            finally:
                self._in_flight -= 1
                if self._queue and not self._scheduled:
                    self._scheduled = True
                    asyncio.get_running_loop().call_soon(self._start)
        loop = asyncio.get_running_loop()
        item.done = loop.create_future()
        self._queue.append(item)
        if not self._scheduled:
            # Start on the next turn of the loop, not now: appends made in this turn by other
            # runs join the same batch.
            self._scheduled = True
            loop.call_soon(self._start)
        return await item.done

    def _start(self) -> None:
        self._scheduled = False
        while self._queue and self._in_flight < self.max_in_flight:
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            batch = [a for a in batch if not a.done.done()]  # callers cancelled while queued
            if not batch:
                continue
            self._in_flight += 1
            task = asyncio.create_task(self._write(batch), name="duragraph-group-commit")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _write(self, batch: list[RunAppend]) -> None:
        try:
            recorded = await self._write_batch(batch)
        except BaseException as err:
            for item in batch:
                if not item.done.done():
                    item.done.set_exception(err)
            if not isinstance(err, Exception):
                raise
            recorded = []
        finally:
            self._in_flight -= 1
            if self._queue:
                self._start()
        if recorded:
            self.on_commit(recorded)

    async def _write_batch(self, batch: list[RunAppend]) -> list[RecordedEvent]:
        # A lone append takes the plain fenced statement (less work for PostgreSQL than the
        # batch's loop); so do mixed worker ids (a worker's store serves one worker).
        if len(batch) == 1 or any(a.worker_id != batch[0].worker_id for a in batch):
            return await self._one_by_one(batch)
        # One JSON text built from the payloads the callers encoded (a text[] parameter would
        # be escaped element by element by the driver: a sizeable cost at this rate).
        document = "[" + ",".join(_item_json(a) for a in batch) + "]"
        params = (document, batch[0].worker_id)
        try:
            async with unavailable_as_typed(), self.pool.connection() as conn:
                cur = await conn.execute(_APPEND_BATCH, params)
                rows = await cur.fetchall()
        except (psycopg.Error, StoreTransientError) as err:
            # Not an outage but a statement that failed as a whole (a duplicate event id, a
            # deadlock), so nothing of the batch was written. Each append alone says whose it was.
            log.info("group commit of %d appends failed (%s); appending them one by one", len(batch), err)
            return await self._one_by_one(batch)
        self.batches += 1
        self.appends += len(batch)
        by_item: dict[int, list[tuple[Any, ...]]] = {}
        for row in rows:
            by_item.setdefault(row[0], []).append(row)
        committed: list[RecordedEvent] = []
        for i, item in enumerate(batch, start=1):
            outcome = by_item.get(i, [])
            if len(outcome) == 1 and outcome[0][4] is not None:
                _, _, _, _, error, detail = outcome[0]
                failure: Exception = (
                    LeaseLost(detail)
                    if error == "DG423"
                    else VersionConflict(item.stream_id, item.expected_version, int(detail or 0))
                )
                if not item.done.done():
                    item.done.set_exception(failure)
                continue
            texts: list[tuple[str, str] | None] = (
                list(item.texts) if item.texts is not None else [None] * len(item.events)
            )
            recorded = [
                RecordedEvent(
                    seq=seq,
                    stream_id=item.stream_id,
                    version=version,
                    event_id=event.event_id,
                    type=event.type,
                    # What a reader will get back: decoded copies that share nothing with the caller.
                    data=codec.from_jsonable(enc["data"]) if text is None else decoded(enc["data"], text[0]),
                    meta=codec.from_jsonable(enc["meta"]) if text is None else decoded(enc["meta"], text[1]),
                    recorded_at=recorded_at,
                    json_text=text,
                )
                for (_, seq, version, recorded_at, _, _), event, enc, text in zip(
                    outcome, item.events, item.encoded, texts, strict=True
                )
            ]
            committed += recorded
            if not item.done.done():
                item.done.set_result(recorded)
        return committed

    async def _one_by_one(self, batch: list[RunAppend]) -> list[RecordedEvent]:
        # on_commit is told by the lone appends themselves.
        for item in batch:
            try:
                result = await self.append_one(item)
            except Exception as err:
                if not item.done.done():
                    item.done.set_exception(err)
            else:
                if not item.done.done():
                    item.done.set_result(result)
        return []


def _item_json(item: RunAppend) -> str:
    expected = "null" if item.expected_version is None else str(int(item.expected_version))
    epoch = "null" if item.epoch is None else str(int(item.epoch))
    # run_id is the canonical text of a UUID (see PostgresEventStore.append): nothing to escape.
    rows = "" if item.rows is None else f',"rows":{item.rows}'
    return f'{{"run":"{item.run_id}","expected":{expected},"epoch":{epoch},"events":{item.payload}{rows}}}'
