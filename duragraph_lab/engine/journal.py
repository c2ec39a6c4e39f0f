"""The Journal port: how the engine reads and writes a run's history.

The engine never sees a database. A PostgreSQL journal (``duragraph_lab.store.journal``) commits
each batch in one transaction together with the outbox and projections, fenced by the worker's
lease, and knows the deadline of that lease; the memory journal (``engine.memory``) backs
in-process runs and fast tests. Both run the same engine contract tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from duragraph_lab.domain.envelope import NewEvent, RecordedEvent

#: Ephemeral live-event kinds (published, never stored): a node began; a custom stream event;
#: an LLM token chunk.
LIVE_NODE_STARTED = "node_started"
LIVE_CUSTOM = "custom"
LIVE_MESSAGES = "messages"
#: A LangGraph run's own stream part (``debug``, ``tasks``, ``checkpoints``; a subgraph's
#: ``values``/``updates``): ``{"mode": ..., "chunk": ...}`` as LangGraph emitted it.
LIVE_LANGGRAPH = "langgraph"


class Journal(Protocol):
    worker_id: str

    async def read(self, run_id: str, *, after_version: int = 0) -> list[RecordedEvent]:
        """The run's events after ``after_version``, in order."""
        ...

    async def commit(
        self, run_id: str, expected_version: int, events: Sequence[NewEvent]
    ) -> list[RecordedEvent]:
        """Append atomically at ``expected_version``. Raises ``VersionConflict`` if someone else
        wrote to the run (e.g. a cancel request) and ``LeaseLost`` if this worker's lease is gone."""
        ...

    def check_lease(self, run_id: str) -> None:
        """Raise ``LeaseLost`` if this worker may no longer start work on the run: its lease
        deadline has passed, so another worker may hold the run by now. The executor asks before
        every node attempt and after every commit; a journal without leases never raises."""
        ...

    def emit(self, run_id: str, kind: str, payload: dict[str, Any]) -> None:
        """Publish an ephemeral live event (best effort, never stored)."""
        ...
