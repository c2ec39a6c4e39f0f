"""An in-memory event store with the same contract as the PostgreSQL one.

For fast engine unit tests only. It runs the same contract suite as PostgreSQL
(tests/integration/test_event_store_contract.py). Payloads go through the JSON codec on the way
in and out, so it rejects and normalises exactly what PostgreSQL would, and stored events never
alias the caller's objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from duragraph_lab.domain import codec
from duragraph_lab.domain.envelope import NewEvent, RecordedEvent
from duragraph_lab.domain.errors import DuplicateEvent, VersionConflict
from duragraph_lab.store.port import AfterCommit
from duragraph_lab.store.validation import UnitOfWorkAborted, check_append, encode_events

log = logging.getLogger(__name__)


class _Staged:
    def __init__(self) -> None:
        self.events: list[RecordedEvent] = []
        self.heads: dict[str, int] = {}


class MemoryUnitOfWork:
    def __init__(self, store: InMemoryEventStore) -> None:
        self._store = store
        self._staged = _Staged()
        self._failed: BaseException | None = None

    def _head(self, stream_id: str) -> int:
        return self._staged.heads.get(stream_id, self._store._heads.get(stream_id, 0))

    async def append(
        self, stream_id: str, expected_version: int | None, events: Sequence[NewEvent]
    ) -> list[RecordedEvent]:
        if self._failed is not None:
            raise UnitOfWorkAborted(self._failed)
        parsed = check_append(stream_id, expected_version, events)
        encoded = encode_events(events)
        key = str(parsed)
        head = self._head(key)
        try:
            if expected_version is not None and expected_version != head:
                raise VersionConflict(key, expected_version, head)
            staged_ids = {e.event_id for e in self._staged.events}
            for event in events:
                if event.event_id in self._store._ids or event.event_id in staged_ids:
                    raise DuplicateEvent(str(event.event_id))
        except (VersionConflict, DuplicateEvent) as err:
            self._failed = err  # as in PostgreSQL, the transaction is now aborted
            raise
        recorded = []
        for i, (event, enc) in enumerate(zip(events, encoded, strict=True)):
            self._store._seq += 1  # like a PostgreSQL sequence: consumed even if rolled back
            recorded.append(
                RecordedEvent(
                    seq=self._store._seq,
                    stream_id=key,
                    version=head + i + 1,
                    event_id=event.event_id,
                    type=event.type,
                    data=codec.from_jsonable(enc["data"]),
                    meta=codec.from_jsonable(enc["meta"]),
                    recorded_at=datetime.now(UTC),
                )
            )
        self._staged.heads[key] = head + len(events)
        self._staged.events.extend(recorded)
        return recorded

    async def hold(self, stream_id: str) -> int:
        """The stream's version; held still already: a unit of work here holds the store's lock."""
        return self._head(stream_id)


class InMemoryEventStore:
    def __init__(self) -> None:
        self._events: list[RecordedEvent] = []
        self._ids: set[object] = set()
        self._heads: dict[str, int] = {}
        self._seq = 0
        # One transaction at a time: the strictest isolation, which is what the contract promises
        # per stream (PostgreSQL serialises on the stream row; we serialise on everything).
        self._lock = asyncio.Lock()
        self._holder: asyncio.Task[Any] | None = None
        self._after_commit: list[AfterCommit] = []

    def add_after_commit(self, callback: AfterCommit) -> None:
        self._after_commit.append(callback)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[MemoryUnitOfWork]:
        if self._holder is not None and self._holder is asyncio.current_task():
            # PostgreSQL would run the inner call on another connection; here it would deadlock.
            raise RuntimeError("InMemoryEventStore: a transaction is already open in this task")
        async with self._lock:
            self._holder = asyncio.current_task()
            try:
                uow = MemoryUnitOfWork(self)
                yield uow
            finally:
                self._holder = None
            staged = uow._staged
            self._events.extend(staged.events)
            self._ids.update(e.event_id for e in staged.events)
            self._heads.update(staged.heads)
        if staged.events:
            for callback in self._after_commit:
                try:
                    callback(staged.events)
                except Exception:
                    log.exception("after-commit callback %r failed", callback)

    async def append(
        self, stream_id: str, expected_version: int | None, events: Sequence[NewEvent]
    ) -> list[RecordedEvent]:
        async with self.transaction() as uow:
            return await uow.append(stream_id, expected_version, events)

    async def read_stream(
        self,
        stream_id: str,
        *,
        after_version: int = 0,
        after_seq: int = 0,
        until_seq: int | None = None,
        limit: int | None = None,
    ) -> list[RecordedEvent]:
        found = [
            e
            for e in self._events
            if e.stream_id == stream_id
            and e.version > after_version
            and e.seq > after_seq
            and (until_seq is None or e.seq <= until_seq)
        ]
        return found[:limit] if limit is not None else found

    async def read_all(
        self,
        *,
        after_seq: int = 0,
        until_seq: int | None = None,
        limit: int = 1000,
        types: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
    ) -> list[RecordedEvent]:
        out = []
        for e in self._events:
            if e.seq <= after_seq or (until_seq is not None and e.seq > until_seq):
                continue
            if types is not None and e.type not in types:
                continue
            if kinds is not None and e.stream_kind not in kinds:
                continue
            out.append(e)
            if len(out) >= limit:
                break
        return out

    async def stream_version(self, stream_id: str) -> int:
        return self._heads.get(stream_id, 0)

    async def last_seq(self) -> int:
        return self._events[-1].seq if self._events else 0
