"""What ``GET /metrics`` reads from PostgreSQL at scrape time: runs by status, live workers."""

from __future__ import annotations

from duragraph_lab.store.postgres import PostgresEventStore


async def runs_by_status(store: PostgresEventStore) -> dict[str, int]:
    rows = await store._query("SELECT status, count(*) FROM duragraph.runs GROUP BY status", ())
    return {str(status): int(n) for status, n in rows}


async def live_workers(store: PostgresEventStore) -> int:
    """Workers with a heartbeat in the last minute."""
    rows = await store._query(
        "SELECT count(*) FROM duragraph.workers WHERE heartbeat_at > now() - interval '60 seconds'", ()
    )
    return int(rows[0][0])


class PgOperationalFigures:
    """:class:`duragraph_lab.control.ports.OperationalFigures` on PostgreSQL."""

    def __init__(self, store: PostgresEventStore) -> None:
        self.store = store

    async def runs_by_status(self) -> dict[str, int]:
        return await runs_by_status(self.store)

    async def live_workers(self) -> int:
        return await live_workers(self.store)
