"""The event store contract, implemented by PostgreSQL (production) and memory (fast tests).

Both implementations run the same contract test suite (tests/integration/test_event_store_contract.py),
so code written against this protocol behaves the same on either.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from duragraph_lab.domain.envelope import NewEvent, RecordedEvent

#: Called after a transaction that appended events has committed (never on rollback).
AfterCommit = Callable[[Sequence[RecordedEvent]], None]


class UnitOfWork(Protocol):
    """One transaction: appends to one or more streams commit or roll back together."""

    async def append(
        self, stream_id: str, expected_version: int | None, events: Sequence[NewEvent]
    ) -> list[RecordedEvent]:
        """Append ``events`` to ``stream_id``.

        ``expected_version`` is ``None`` (append at any version), ``0`` (the stream must not exist)
        or the stream's current version. A mismatch raises ``VersionConflict``; a malformed stream
        id, event or payload raises before anything is written. After a conflict or duplicate the
        unit of work is aborted: further appends raise ``UnitOfWorkAborted`` and it rolls back.
        """
        ...

    async def hold(self, stream_id: str) -> int:
        """The stream's current version (0: no such stream), held still until the unit of work
        ends: no other append to the stream commits meanwhile."""
        ...


class EventStore(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """Open a unit of work; it commits when the block exits normally and rolls back otherwise."""
        ...

    async def append(
        self, stream_id: str, expected_version: int | None, events: Sequence[NewEvent]
    ) -> list[RecordedEvent]:
        """Append in a transaction of its own (see :meth:`UnitOfWork.append`)."""
        ...

    async def read_stream(
        self,
        stream_id: str,
        *,
        after_version: int = 0,
        after_seq: int = 0,
        until_seq: int | None = None,
        limit: int | None = None,
    ) -> list[RecordedEvent]:
        """Events of one stream in version order, after the given version and/or global seq, up
        to ``until_seq`` (included) when given."""
        ...

    async def read_all(
        self,
        *,
        after_seq: int = 0,
        until_seq: int | None = None,
        limit: int = 1000,
        types: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
    ) -> list[RecordedEvent]:
        """Events of all streams in ``seq`` order within ``(after_seq, until_seq]``, optionally
        filtered by event type and stream kind."""
        ...

    async def stream_version(self, stream_id: str) -> int:
        """The stream's current version; 0 if it has no events."""
        ...

    async def last_seq(self) -> int:
        """The highest committed ``seq``; 0 for an empty store."""
        ...

    def add_after_commit(self, callback: AfterCommit) -> None:
        """Register a callback run after each committed append (used to wake the outbox relay)."""
        ...
