"""A run's log (``langgraph.checkpointer.RunLog``) for checkpointer tests without an executor."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import NewEvent
from duragraph_lab.store.postgres import PostgresEventStore


class DirectRunLog:
    """A run's log that appends each event at once to the thread's checkpoint stream: what a
    run-bound checkpointer stores, without a run, a lease or the run events."""

    run_id = "r"

    def __init__(self, store: PostgresEventStore, thread_id: str) -> None:
        self.store, self.thread_id = store, thread_id

    async def append(self, events: Sequence[NewEvent]) -> None:
        await self.store.append(ev.checkpoint_stream(self.thread_id), None, list(events))

    async def put_checkpoint(self, event: NewEvent, checkpoint_ns: str) -> None:
        await self.append([event])

    async def put_writes(
        self, event: NewEvent, checkpoint_ns: str, task_id: str, writes: Sequence[Any]
    ) -> None:
        await self.append([event])

    async def flush(self) -> None:
        return None
