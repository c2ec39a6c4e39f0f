"""Worker presence: the ``workers`` table the run queue keeps (a row per worker, inserted at its
registration, refreshed by its heartbeats, deleted when it stops)."""

from __future__ import annotations

from duragraph_lab.control.ports import WORKER_ALIVE_SECONDS, WorkerPresence
from duragraph_lab.store.postgres import PostgresEventStore


class PgWorkerDirectory:
    """:class:`duragraph_lab.control.ports.WorkerDirectory` on PostgreSQL."""

    def __init__(self, store: PostgresEventStore) -> None:
        self.store = store

    async def live_workers(self, within: float = WORKER_ALIVE_SECONDS) -> list[WorkerPresence]:
        rows = await self.store._query(
            "SELECT worker_id, hostname, pid, graphs, started_at, heartbeat_at FROM duragraph.workers "
            "WHERE heartbeat_at > now() - make_interval(secs => %s) ORDER BY started_at, worker_id",
            (within,),
        )
        return [
            WorkerPresence(str(w), h, None if p is None else int(p), tuple(g or ()), started, beat)
            for w, h, p, g, started, beat in rows
        ]
