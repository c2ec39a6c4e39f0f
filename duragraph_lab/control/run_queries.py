"""Run queries: a run (in its thread), a thread's runs, runs across threads, a run's event log
page by page, its spans."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from duragraph_lab.control.ports import EventStore
from duragraph_lab.control.read_models import (
    RunFilter,
    RunOrder,
    RunReadModel,
    RunRecord,
    SpanReadModel,
    SpanRecord,
    ThreadReadModel,
)
from duragraph_lab.domain.envelope import RecordedEvent
from duragraph_lab.domain.errors import NotFound
from duragraph_lab.domain.ids import parse_id


@dataclass(frozen=True, slots=True)
class EventPage:
    run_id: str
    events: list[RecordedEvent]
    #: The cursor of the next page (None: this is the last).
    next_after: int | None
    has_more: bool


class RunQueries:
    def __init__(
        self, store: EventStore, runs: RunReadModel, threads: ThreadReadModel, spans: SpanReadModel
    ) -> None:
        self.store = store
        self.runs = runs
        self.threads = threads
        self.span_read_model = spans

    async def get(self, run_id: str, thread_id: str | None = None) -> RunRecord:
        """The run (in thread ``thread_id`` when given); NotFound for a run deleted or not there."""
        found = await self.find(run_id)
        if found is None or (thread_id is not None and found.thread_id != parse_id(thread_id, "thread")):
            where = f" in thread {thread_id}" if thread_id else ""
            raise NotFound(f"run {run_id} does not exist{where}")
        return found

    async def find(self, run_id: str) -> RunRecord | None:
        """The run, or None when it is not (or no longer) in the read model."""
        return await self.runs.get(parse_id(run_id, "run"))

    async def status(self, run_id: str) -> str | None:
        return await self.runs.status(parse_id(run_id, "run"))

    async def of_thread(
        self, thread_id: str, *, limit: int = 10, offset: int = 0, status: str | None = None
    ) -> list[RunRecord]:
        """The thread's runs, newest first (state edits are not runs a user started)."""
        thread_id = parse_id(thread_id, "thread")
        if await self.threads.get(thread_id) is None:
            raise NotFound(f"thread {thread_id} does not exist")
        return await self.runs.of_thread(thread_id, status=status, limit=limit, offset=offset)

    async def search(
        self,
        where: RunFilter,
        *,
        order: RunOrder = "created_at",
        ascending: bool = False,
        limit: int = 10,
        offset: int = 0,
    ) -> tuple[list[RunRecord], int]:
        """Runs across threads, newest first unless told otherwise, and how many match."""
        return await self.runs.search(where, order=order, ascending=ascending, limit=limit, offset=offset)

    async def count(self, where: RunFilter) -> int:
        return await self.runs.count(where)

    async def with_status(self, statuses: Sequence[str]) -> list[str]:
        """Every run in one of ``statuses`` (of every thread), oldest first."""
        return await self.runs.ids_with_status(statuses)

    async def events(self, run_id: str, *, after: int = 0, limit: int = 1000) -> EventPage:
        """The run's events after global seq ``after``, at most ``limit`` of them."""
        run_id = parse_id(run_id, "run")
        page = await self.store.read_stream(f"run:{run_id}", after_seq=after, limit=limit + 1)
        if not page and after == 0 and await self.store.stream_version(f"run:{run_id}") == 0:
            raise NotFound(f"run {run_id} does not exist")
        more = len(page) > limit
        page = page[:limit]
        return EventPage(run_id, page, page[-1].seq if page and more else None, more)

    async def spans(self, run_id: str) -> list[SpanRecord]:
        """The run's node executions, in the order they started."""
        run = await self.get(run_id)
        return await self.span_read_model.of_run(run.run_id)
