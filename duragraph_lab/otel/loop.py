"""Exporting the traces of runs as they end, from the event log, with a durable cursor.

The loop reads the run end events (``run_completed``, ``run_failed``, ``run_cancelled``,
``run_timed_out``) after its cursor, builds each run's trace from the run's events up to that end
and exports it, then moves the cursor. The cursor lives in PostgreSQL with a lease, so after a
restart (of this server or another) export resumes where it stopped, and with several servers
one exports at a time.

Across streams, events may commit in another order than their seqs (docs/architecture.md,
ordering guarantees): an end event may become visible after one with a higher seq. So the
cursor only moves past end events recorded at least ``settle`` seconds ago; younger ones are
exported at once and remembered in memory, so that they are not exported again while they wait
for the cursor. A server that restarts in that window exports them again, with the same ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from typing import Protocol

from duragraph_lab.control.ports import EventStore
from duragraph_lab.domain.envelope import RecordedEvent
from duragraph_lab.otel.spans import END_TYPES, RunTrace, run_trace

log = logging.getLogger(__name__)


class ExportCursor(Protocol):
    async def claim(self, holder: str, ttl: float) -> int | None: ...

    async def advance(self, holder: str, seq: int, ttl: float) -> bool: ...

    async def release(self, holder: str) -> None: ...


#: Exports one trace (blocking: it runs on a thread); raises when the backend did not take it.
ExportTrace = Callable[[RunTrace], int]


async def trace_of(events: EventStore, run_id: str, until_seq: int | None = None) -> RunTrace:
    """The trace of a run from the log (up to ``until_seq``). Raises ``LookupError`` for a run
    without events."""
    recorded = await events.read_stream(f"run:{run_id}", until_seq=until_seq)
    if not recorded:
        raise LookupError(f"no run {run_id} in the event log")
    return run_trace(run_id, recorded)


class TraceExportLoop:
    def __init__(
        self,
        events: EventStore,
        cursor: ExportCursor,
        export: ExportTrace,
        *,
        holder: str,
        interval: float = 2.0,
        settle: float = 10.0,
        lease_ttl: float = 30.0,
        batch: int = 200,
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        self.events = events
        self.cursor = cursor
        self.export = export
        self.holder = holder
        self.interval = interval
        self.settle = settle
        self.lease_ttl = lease_ttl
        self.batch = batch
        self.on_stop = on_stop  # e.g. the exporters' shutdown (flushes, closes connections)
        self.exported = 0  # traces sent by this loop (figures, tests)
        self._recent: set[int] = set()  # seqs of end events exported but not yet behind the cursor
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="duragraph-otel-export")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self.cursor.release(self.holder)
        if self.on_stop is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.on_stop)

    async def _run(self) -> None:
        delay = self.interval
        while True:
            try:
                await self.run_once()
                delay = self.interval
            except asyncio.CancelledError:
                raise
            except Exception as err:
                # The collector or the database is down: try again later, from the same cursor.
                log.warning("OpenTelemetry export failed, retrying in %.0fs: %s", delay, err)
                delay = min(delay * 2, 60.0)
            await asyncio.sleep(delay)

    async def run_once(self) -> int:
        """One pass: export the runs that ended after the cursor; return how many were sent."""
        seq = await self.cursor.claim(self.holder, self.lease_ttl)
        if seq is None:
            return 0  # another server exports
        ends = await self.events.read_all(
            after_seq=seq, limit=self.batch, types=sorted(END_TYPES), kinds=["run"]
        )
        settled_before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=self.settle)
        advance_to, settled = seq, True
        sent = 0
        for end in ends:
            if end.data.get("ns"):
                continue  # a subgraph's end, not the run's
            if end.seq not in self._recent:
                await self._export(end)
                sent += 1
            settled = settled and _recorded_before(end, settled_before)
            if settled:
                advance_to = end.seq
                self._recent.discard(end.seq)
            else:
                self._recent.add(end.seq)
        if advance_to > seq:
            await self.cursor.advance(self.holder, advance_to, self.lease_ttl)
        return sent

    async def _export(self, end: RecordedEvent) -> None:
        run_id = end.stream_id.split(":", 1)[1]
        trace = await trace_of(self.events, run_id, until_seq=end.seq)
        await asyncio.to_thread(self.export, trace)
        self.exported += 1


def _recorded_before(event: RecordedEvent, when: dt.datetime) -> bool:
    at = event.recorded_at if event.recorded_at.tzinfo else event.recorded_at.replace(tzinfo=dt.UTC)
    return at <= when
