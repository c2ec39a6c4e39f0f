"""The ports of the control plane: what it needs from storage and from whatever executes runs.

Implemented by ``store/`` (PostgreSQL) and ``bus/`` (NATS); tests may use the in-memory store
where the same contract tests also run against PostgreSQL. Read models have their own ports,
each a small Protocol of typed queries whose SQL lives in ``store/queries/``: those of runs,
threads, spans, run targets and the checkpoint index in :mod:`duragraph_lab.control.read_models`.

What executes runs (today the native engine's workers) is reached only through
:class:`RunSignals` and :class:`Reexecutor`, and what runs produce only through the event log and
:class:`EventFeed`: a second execution engine plugs in behind the same commands by serving the
same ports.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterable, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from duragraph_lab.domain.envelope import NewEvent, RecordedEvent
from duragraph_lab.domain.snapshots import Snapshot, TakenSnapshot

#: Stops a subscription (what :class:`EventFeed`'s listeners return).
Unsubscribe = Callable[[], Awaitable[None]]


class UnitOfWork(Protocol):
    """Appends that commit or fail together (one database transaction)."""

    async def append(
        self, stream_id: str, expected_version: int | None, events: Sequence[NewEvent]
    ) -> list[RecordedEvent]: ...

    async def hold(self, stream_id: str) -> int:
        """The stream's current version (0: no such stream), held still until the unit of work
        ends: no other append to the stream commits meanwhile."""
        ...


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


class RunSnapshotStore(Protocol):
    """Snapshots of folded runs: a disposable cache (a failure to read or write one only costs
    speed, never a wrong state)."""

    async def read(
        self, run_id: str, at_seq: int | None = None
    ) -> tuple[Snapshot | None, list[RecordedEvent]]:
        """The run's nearest snapshot at or before ``at_seq`` (None: it has none) and the run's
        events after it (after nothing: all of them), up to ``at_seq``."""
        ...

    async def save(self, run_id: str, taken: Sequence[TakenSnapshot]) -> None:
        """Store snapshots (one already stored for the same event is kept: it holds the same state)."""
        ...


class RunSignals(Protocol):
    """Telling whatever executes runs that something changed (best effort: executors also poll
    and re-check the log at every commit, so a lost signal only delays). A cancel request needs
    no signal of its own: it is an event of the run, which executors follow."""

    async def runs_queued(self) -> None:
        """Runs became runnable (created, resumed, requeued): executors look at the queue now."""
        ...


class Reexecutor(Protocol):
    """Re-executing a recorded run with the graph code an executor serves now."""

    async def reexecute(self, graph_id: str, run_id: str, *, timeout: float) -> dict[str, Any]:
        """The report of one executor serving ``graph_id`` that re-ran the run (its
        ``worker_id`` included); ``WorkerUnavailable`` when none answers in ``timeout`` seconds."""
        ...


class EventFeed(Protocol):
    """Events as they happen: a stream's durable events (gap-free, in order) and a run's
    ephemeral live events (tokens, custom events, node starts: never stored)."""

    def follow(
        self, stream_id: str, *, after_seq: int = 0, poll_interval: float = 1.0
    ) -> AbstractAsyncContextManager[AsyncIterable[RecordedEvent]]:
        """The stream's events after global seq ``after_seq``, caught up from the log and then
        live, each exactly once; open until the caller stops iterating and leaves the block."""
        ...

    async def on_live(self, run_id: str, callback: Callable[[dict[str, Any]], None]) -> Unsubscribe:
        """Call ``callback`` with each live event of the run from now on (best effort)."""
        ...

    async def on_appended(self, stream_id: str, callback: Callable[[], None]) -> Unsubscribe:
        """Call ``callback`` when events are appended to the stream (a hint: best effort)."""
        ...

    async def on_at_rest(self, run_id: str, callback: Callable[[], None]) -> Unsubscribe:
        """Call ``callback`` when a commit of the run's worker leaves it at rest, as soon as
        that worker says so (a hint: best effort; :meth:`on_appended` says it too, later)."""
        ...


class OperationalFigures(Protocol):
    """What ``/metrics`` reads from the read models at scrape time."""

    async def runs_by_status(self) -> dict[str, int]: ...

    async def live_workers(self) -> int:
        """Workers with a heartbeat in the last minute."""
        ...


@dataclass(frozen=True, slots=True)
class WorkerPresence:
    """A worker that announced itself (registration, then a heartbeat every lease_ttl / 3)."""

    worker_id: str
    hostname: str | None
    pid: int | None
    graphs: tuple[str, ...]
    started_at: dt.datetime
    heartbeat_at: dt.datetime


#: A worker whose last heartbeat is older than this is taken for gone.
WORKER_ALIVE_SECONDS = 60.0


class WorkerDirectory(Protocol):
    """Which workers are alive and the graphs each serves."""

    async def live_workers(self, within: float = WORKER_ALIVE_SECONDS) -> list[WorkerPresence]:
        """Workers with a heartbeat in the last ``within`` seconds, oldest first."""
        ...
