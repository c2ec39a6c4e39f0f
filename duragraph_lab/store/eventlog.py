"""Event logs in bulk, out of PostgreSQL: the events of a run (of every run of a thread) as CSV,
in seq order, range by range (:mod:`duragraph_lab.store.bulk_copy`: several ``COPY ... TO
STDOUT`` at once), with the per-event columns a DataFrame wants (node, task, step, attempt,
duration_ms) read from the jsonb payload server-side, and the payload itself as JSON text.

What turns the CSV into Arrow record batches is the API's (:mod:`duragraph_lab.api.eventlog`).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from duragraph_lab.control.eventlog import COLUMNS
from duragraph_lab.domain.errors import NotFound
from duragraph_lab.store import bulk_copy
from duragraph_lab.store.postgres import PostgresEventStore

# The per-event columns are read from the payload with a key lookup in the binary jsonb (nearly
# free); the numbers travel as their JSON text and the reader makes them numbers: a JSON string,
# bool or object under the key is quoted or not a number, so it reads as "not there". Casting
# them in SQL (jsonb_typeof + ::float8 per column) cost PostgreSQL more than the rest of the
# query together.
SELECT = (
    "SELECT seq, stream_id, event_id, type, (extract(epoch FROM recorded_at) * 1000000)::bigint, "
    "data->>'node', data->>'task', data->'step', data->'attempt', data->'duration_ms', "
    "data::text FROM duragraph.events"
)


__all__ = ["COLUMNS", "PgEventLog"]


class PgEventLog:
    """:class:`duragraph_lab.control.eventlog.BulkEventLog` on PostgreSQL."""

    def __init__(self, store: PostgresEventStore) -> None:
        self.store = store

    async def streams_of(self, *, run_id: str | None = None, thread_id: str | None = None) -> list[str]:
        return await streams_of(self.store, run_id=run_id, thread_id=thread_id)

    def csv_ranges(self, streams: list[str], *, after: int = 0) -> AsyncIterator[bytes]:
        return csv_ranges(self.store, streams, after=after)


async def streams_of(
    store: PostgresEventStore, *, run_id: str | None = None, thread_id: str | None = None
) -> list[str]:
    """See :meth:`duragraph_lab.control.eventlog.BulkEventLog.streams_of`."""
    if run_id is not None:
        rid = _uuid(run_id, "run")
        if await store.stream_version(f"run:{rid}") == 0:
            raise NotFound(f"run {run_id} does not exist")
        return [f"run:{rid}"]
    assert thread_id is not None
    tid = _uuid(thread_id, "thread")
    rows = await store._query(
        "SELECT EXISTS (SELECT 1 FROM duragraph.threads WHERE thread_id = %s), "
        "coalesce((SELECT array_agg('run:' || run_id::text) FROM duragraph.runs WHERE thread_id = %s), "
        "'{}'::text[])",
        (tid, tid),
    )
    exists, streams = rows[0]
    if not exists:
        raise NotFound(f"thread {thread_id} does not exist")
    return list(streams)


def _uuid(value: str, kind: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise NotFound(f"{kind} {value!r} is not a valid id") from None


async def csv_ranges(
    store: PostgresEventStore, streams: list[str], *, after: int = 0
) -> AsyncIterator[bytes]:
    """The CSV (:data:`COLUMNS`) of the events of ``streams`` with ``seq > after``, one block per
    range of the log, in seq order; a block may be empty."""
    ranges = await bulk_copy.plan(store, streams, after=after)
    async for _, data in bulk_copy.copy_ranges(store, SELECT, ranges):
        yield data
