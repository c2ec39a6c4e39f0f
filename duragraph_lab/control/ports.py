"""The ports of the control plane: what it needs from storage and from whatever executes runs.

Implemented by ``store/`` (PostgreSQL) and ``bus/`` (NATS); tests may use the in-memory store
where the same contract tests also run against PostgreSQL. Read models have their own ports,
next to the services that use them (``control/<service>.py``), each a small Protocol of typed
queries whose SQL lives in ``store/queries/``.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from duragraph_lab.domain.envelope import NewEvent, RecordedEvent


class UnitOfWork(Protocol):
    """Appends that commit or fail together (one database transaction)."""

    async def append(
        self, stream_id: str, expected_version: int | None, events: Sequence[NewEvent]
    ) -> list[RecordedEvent]: ...


class EventStore(Protocol):
    """The event log: appends with optimistic concurrency, reads by stream and by global seq."""

    async def append(
        self, stream_id: str, expected_version: int | None, events: Sequence[NewEvent]
    ) -> list[RecordedEvent]:
        """Append atomically at ``expected_version`` (``VersionConflict`` otherwise)."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """A unit of work: its appends (and the read models they update) commit together."""
        ...

    async def read_stream(
        self,
        stream_id: str,
        *,
        after_version: int = 0,
        after_seq: int = 0,
        until_seq: int | None = None,
        limit: int | None = None,
    ) -> list[RecordedEvent]: ...

    async def read_all(
        self,
        *,
        after_seq: int = 0,
        until_seq: int | None = None,
        limit: int = 1000,
        types: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
    ) -> list[RecordedEvent]: ...

    async def stream_version(self, stream_id: str) -> int: ...

    async def last_seq(self) -> int: ...


class RunSignals(Protocol):
    """Telling whatever executes runs that something changed (best effort: executors also poll
    and re-check the log at every commit, so a lost signal only delays)."""

    async def runs_queued(self) -> None:
        """New runs are waiting for an executor."""
        ...

    async def cancel_requested(self, run_id: str) -> None:
        """The run's cancel request is in the log: stop its nodes now."""
        ...
