"""Event logs in bulk: the events of a run (of every run of a thread) as CSV blocks in seq order,
what a DataFrame of a million events is built from (the API turns the blocks into Arrow).

The port is implemented by :class:`duragraph_lab.store.eventlog.PgEventLog` (several ``COPY``
at once); :data:`COLUMNS` is the contract between the two sides.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

#: The CSV's columns, in order. ``recorded_at_us``: microseconds since the epoch; ``step``,
#: ``attempt`` and ``duration_ms``: the payload's JSON text under that key (a number, or not).
COLUMNS = (
    "seq",
    "stream",
    "event_id",
    "type",
    "recorded_at_us",
    "node",
    "task",
    "step",
    "attempt",
    "duration_ms",
    "data",
)


class BulkEventLog(Protocol):
    async def streams_of(self, *, run_id: str | None = None, thread_id: str | None = None) -> list[str]:
        """The streams whose events make the log: the run's, or those of every run of the
        thread. Raises NotFound for an id that is not a run (a thread) with events."""
        ...

    def csv_ranges(self, streams: list[str], *, after: int = 0) -> AsyncIterator[bytes]:
        """The CSV (:data:`COLUMNS`) of the events of ``streams`` with ``seq > after``, one block
        per range of the log, in seq order; a block may be empty."""
        ...
