"""The read models the run control plane queries: runs, threads, spans, the assistants runs
target, and the index of the log that locates checkpoints. Each port is a small Protocol of
typed queries; their records are plain values. The SQL is in ``store/queries/``.

Read models follow the log in the transaction that appends to it, so a read after a write sees
the write; they can be rebuilt from the events alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from duragraph_lab.domain.envelope import RecordedEvent

# -- runs ------------------------------------------------------------------------------------

#: Run statuses a run can be cancelled in, and those a worker is (or will be) executing it in.
LIVE_STATUSES = ("pending", "running", "interrupted")
ACTIVE_STATUSES = ("pending", "running")


@dataclass(frozen=True, slots=True)
class RunRecord:
    run_id: str
    thread_id: str | None
    assistant_id: str | None
    graph_id: str | None
    status: str
    metadata: Mapping[str, Any]
    kwargs: Mapping[str, Any]
    multitask_strategy: str | None
    error: Any
    step: int | None
    attempt: int | None
    worker_id: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    #: Tokens its model calls reported (None: none did).
    input_tokens: int | None = None
    output_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class RunFilter:
    """Runs across threads (every field left None matches everything). State edits are recorded
    as runs of their own kind: never matched, they are not runs a user started."""

    statuses: Sequence[str] | None = None
    assistant_id: str | None = None
    thread_id: str | None = None
    graph_id: str | None = None
    ids: Sequence[str] | None = None
    metadata: Mapping[str, Any] | None = None
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None
    thread_ids: Sequence[str] | None = None


RunOrder = Literal["created_at", "updated_at"]


@dataclass(frozen=True, slots=True)
class RestPosition:
    """Whether a run may still change, and how far its stream goes."""

    status: str | None  # None: not in the read model (deleted, or never created)
    version: int
    head_seq: int | None


class RunReadModel(Protocol):
    async def get(self, run_id: str) -> RunRecord | None: ...

    async def status(self, run_id: str) -> str | None: ...

    async def of_thread(
        self, thread_id: str, *, status: str | None, limit: int, offset: int
    ) -> list[RunRecord]:
        """The thread's runs (not state edits), newest first."""
        ...

    async def search(
        self, where: RunFilter, *, order: RunOrder, ascending: bool, limit: int, offset: int
    ) -> tuple[list[RunRecord], int]:
        """A page of matching runs and how many match in all."""
        ...

    async def count(self, where: RunFilter) -> int: ...

    async def ids_with_status(self, statuses: Sequence[str]) -> list[str]:
        """Runs in any of ``statuses`` (of every thread), oldest first."""
        ...

    async def thread_run_ids(self, thread_id: str, *, statuses: Sequence[str] | None = None) -> list[str]:
        """The thread's runs in the read model (not deleted), oldest first; only those in
        ``statuses`` when given."""
        ...

    async def rest_position(self, run_id: str) -> RestPosition | None:
        """None: the run has no stream at all."""
        ...


# -- threads ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ThreadRecord:
    thread_id: str
    status: str
    metadata: Mapping[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime
    last_run_id: str | None


@dataclass(frozen=True, slots=True)
class ThreadFilter:
    metadata: Mapping[str, Any] | None = None
    status: str | None = None
    ids: Sequence[str] | None = None  # valid thread ids only


ThreadOrder = Literal["thread_id", "status", "created_at", "updated_at"]


class ThreadReadModel(Protocol):
    async def get(self, thread_id: str) -> ThreadRecord | None: ...

    async def search(
        self, where: ThreadFilter, *, order: ThreadOrder, ascending: bool, limit: int | None, offset: int
    ) -> tuple[list[ThreadRecord], int]:
        """A page of matching threads (``limit`` None: all of them) and how many match in all."""
        ...

    async def count(self, where: ThreadFilter) -> int: ...

    async def expired_temporary(self, grace_seconds: float, *, limit: int) -> list[str]:
        """Temporary threads (of stateless runs) at rest for longer than ``grace_seconds``."""
        ...


# -- spans -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpanRecord:
    """One execution of a node (an attempt of a task)."""

    run_id: str
    ns: str
    task: str
    attempt: int
    step: int
    node: str
    status: str
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    duration_ms: float | None
    error: Any
    seq: int
    #: Tokens the execution's model calls reported (None: none did).
    input_tokens: int | None = None
    output_tokens: int | None = None


class SpanReadModel(Protocol):
    async def of_run(self, run_id: str) -> list[SpanRecord]:
        """The run's spans in the order they started."""
        ...


# -- assistants, as run targets --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AssistantGraph:
    """An assistant with its graph's registered topology."""

    assistant_id: str
    graph_id: str
    config: Mapping[str, Any]
    context: Mapping[str, Any]
    metadata: Mapping[str, Any]
    topology: Mapping[str, Any]


class TargetReadModel(Protocol):
    async def assistant_graph(self, assistant_id: str) -> AssistantGraph | None: ...

    async def graph_ids(self) -> list[str]:
        """Every registered graph, by name."""
        ...


# -- the log, indexed for checkpoints --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventLocation:
    stream_id: str
    seq: int
    #: The thread of the run whose stream holds the event (None: not a run's, or deleted).
    thread_id: str | None


class CheckpointIndex(Protocol):
    """Single events of a run's stream found through the log's indexes, so that locating a
    checkpoint costs the same in a long run as in a short one. A checkpoint is an event of a
    checkpoint type outside any subgraph (see :mod:`duragraph_lab.control.checkpoints`)."""

    async def locate(self, event_id: str) -> EventLocation | None: ...

    async def locate_langgraph(self, thread_id: str, checkpoint_id: str) -> EventLocation | None:
        """Where a LangGraph checkpoint of the thread's root graph is in a run's stream: the
        run's ``step_planned`` for it when there is one, else its ``lg_checkpoint`` event (None:
        no such checkpoint, or not saved during a run)."""
        ...

    async def at_seq(self, stream_id: str, seq: int) -> RecordedEvent | None:
        """The event with ``seq``, if it belongs to ``stream_id``."""
        ...

    async def first(self, stream_id: str) -> RecordedEvent | None: ...

    async def last(self, stream_id: str) -> RecordedEvent | None: ...

    async def last_checkpoint(
        self, stream_id: str, *, before_version: int | None = None
    ) -> RecordedEvent | None: ...

    async def next_checkpoint(self, stream_id: str, *, after_version: int) -> RecordedEvent | None: ...

    async def last_checkpoints(
        self, stream_id: str, limit: int, *, before_seq: int | None = None, before_version: int | None = None
    ) -> list[RecordedEvent]:
        """Up to ``limit`` of the stream's last checkpoints before the bounds, oldest first."""
        ...
