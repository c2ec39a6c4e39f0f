"""The run queue: leasing runs to workers, extending and releasing leases.

A lease is (worker, epoch). Taking one (``SKIP LOCKED``: workers never wait for each other)
bumps the epoch; every append a worker makes is fenced on it (``duragraph.append_run_events``),
so a worker that lost its lease — paused, partitioned, too slow to heartbeat — cannot write.
An expired lease is simply taken again by the next worker that asks.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from typing import Any

import psycopg_pool

from duragraph_lab.domain.envelope import RecordedEvent
from duragraph_lab.store.connection import unavailable_as_typed
from duragraph_lab.store.postgres import EVENT_COLUMNS, row_to_event

#: A leased run whose stream holds at most this many events comes with them (``Lease.events``):
#: its executor folds them instead of reading the stream in a round trip of its own. A new run
#: has one (``run_created``); a longer stream (a run resumed, or taken over after a crash) is
#: read by its executor as before, so that one acquire never carries a long history.
PREFETCH_EVENTS = 16

_ACQUIRE_COLUMNS = ", ".join(f"e.{column.strip()}" for column in EVENT_COLUMNS.split(","))

# The leased runs, each with its stream's events when it is short (one row per event, the
# lease's columns repeated; one row with NULL events when not prefetched). The events are read
# in the statement's snapshot, as a read right after it would: an append that commits after
# it (a cancel request) is seen by the run's first commit as a version conflict, either way.
_ACQUIRE = f"""
WITH candidate AS (
    SELECT run_id FROM duragraph.run_queue
     WHERE graph_id = ANY(%(graphs)s) AND available_at <= now()
       AND (state = 'queued' OR (state = 'leased' AND lease_expires_at < now()))
     ORDER BY available_at, enqueued_at
     LIMIT %(n)s
       FOR UPDATE SKIP LOCKED
), taken AS (
UPDATE duragraph.run_queue q
   SET state = 'leased', worker_id = %(worker)s, epoch = q.epoch + 1,
       lease_expires_at = now() + make_interval(secs => %(ttl)s),
       expiries = q.expiries + CASE WHEN q.state = 'leased' THEN 1 ELSE 0 END
  FROM candidate c
 WHERE q.run_id = c.run_id
RETURNING q.run_id, q.epoch, q.graph_id, q.available_at, q.enqueued_at
), leased AS (
SELECT l.run_id, l.epoch, l.graph_id, l.available_at, l.enqueued_at, s.stream_id AS prefetched
  FROM taken l
  LEFT JOIN duragraph.streams s ON s.stream_id = 'run:' || l.run_id::text AND s.version <= %(prefetch)s
)
SELECT l.run_id::text, l.epoch, l.graph_id, l.prefetched IS NOT NULL, {_ACQUIRE_COLUMNS}
  FROM leased l
  LEFT JOIN duragraph.events e ON e.stream_id = l.prefetched
 ORDER BY l.available_at, l.enqueued_at, l.run_id, e.version
"""

_EXTEND = """
UPDATE duragraph.run_queue
   SET lease_expires_at = now() + make_interval(secs => %s)
 WHERE worker_id = %s AND state = 'leased' AND run_id = ANY(%s::uuid[])
RETURNING run_id::text, epoch
"""


@dataclass(frozen=True, slots=True)
class Lease:
    run_id: str
    epoch: int
    graph_id: str
    #: The run's stream as of the lease when it was short (see PREFETCH_EVENTS), else None.
    events: tuple[RecordedEvent, ...] | None = field(default=None, compare=False, repr=False)


class RunQueue:
    def __init__(self, pool: psycopg_pool.AsyncConnectionPool) -> None:
        self.pool = pool

    async def acquire(self, worker_id: str, graph_ids: list[str], n: int, ttl: float) -> list[Lease]:
        """Lease up to ``n`` runnable runs of these graphs (queued, or with an expired lease)."""
        if n <= 0 or not graph_ids:
            return []
        async with unavailable_as_typed(), self.pool.connection() as conn:
            cur = await conn.execute(
                _ACQUIRE,
                {"graphs": graph_ids, "n": n, "worker": worker_id, "ttl": ttl, "prefetch": PREFETCH_EVENTS},
            )
            rows = await cur.fetchall()
        leases: dict[str, tuple[int, str, list[RecordedEvent] | None]] = {}
        for run_id, epoch, graph_id, prefetched, *event in rows:
            if run_id not in leases:
                leases[run_id] = (epoch, graph_id, [] if prefetched else None)
            events = leases[run_id][2]
            if events is not None and event[0] is not None:
                events.append(row_to_event(event))
        return [
            Lease(run_id, epoch, graph_id, tuple(events) if events else None)
            for run_id, (epoch, graph_id, events) in leases.items()
        ]

    async def extend(self, worker_id: str, leases: dict[str, int], ttl: float) -> set[str]:
        """Extend these leases; return the run ids whose lease this worker no longer holds."""
        held = await self.renew(worker_id, list(leases), ttl)
        return {run_id for run_id, epoch in leases.items() if held.get(run_id) != epoch}

    async def renew(self, worker_id: str, run_ids: list[str], ttl: float) -> dict[str, int]:
        """Extend this worker's leases on these runs to ``ttl`` seconds from the statement's
        start; return run id -> epoch for each run the worker holds (the others it lost)."""
        if not run_ids:
            return {}
        async with unavailable_as_typed(), self.pool.connection() as conn:
            cur = await conn.execute(_EXTEND, (ttl, worker_id, run_ids))
            return {run_id: epoch for run_id, epoch in await cur.fetchall()}

    async def release(self, worker_id: str, run_id: str, epoch: int) -> bool:
        """Give a run back (drain): queued at once for another worker, if we still hold it."""
        async with unavailable_as_typed(), self.pool.connection() as conn:
            cur = await conn.execute(
                "UPDATE duragraph.run_queue SET state = 'queued', worker_id = NULL, lease_expires_at = NULL "
                "WHERE run_id = %s AND worker_id = %s AND epoch = %s AND state = 'leased'",
                (run_id, worker_id, epoch),
            )
            return cur.rowcount == 1

    async def heartbeat_worker(self, worker_id: str, graphs: list[str]) -> None:
        async with unavailable_as_typed(), self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO duragraph.workers (worker_id, hostname, pid, graphs, started_at, heartbeat_at) "
                "VALUES (%s, %s, %s, %s, now(), now()) "
                "ON CONFLICT (worker_id) DO UPDATE SET graphs = excluded.graphs, heartbeat_at = now()",
                (worker_id, socket.gethostname(), os.getpid(), graphs),
            )

    async def forget_worker(self, worker_id: str) -> None:
        async with unavailable_as_typed(), self.pool.connection() as conn:
            await conn.execute("DELETE FROM duragraph.workers WHERE worker_id = %s", (worker_id,))

    async def stats(self) -> dict[str, Any]:
        async with unavailable_as_typed(), self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT state, count(*), sum(expiries) FROM duragraph.run_queue GROUP BY state"
            )
            rows = await cur.fetchall()
        return {state: {"runs": n, "lease_expiries": int(e or 0)} for state, n, e in rows}


async def reap_expired(pool: psycopg_pool.AsyncConnectionPool) -> list[str]:
    """Put runs whose lease expired (their worker died, hung or lost the network) back in the
    queue at once, counting the expiry; return their ids. Workers would take them anyway when
    they next ask; reaping makes the expiry visible (metrics) and lets the caller wake them."""
    async with unavailable_as_typed(), pool.connection() as conn:
        cur = await conn.execute(
            "UPDATE duragraph.run_queue SET state = 'queued', worker_id = NULL, lease_expires_at = NULL, "
            "available_at = now(), expiries = expiries + 1 "
            "WHERE state = 'leased' AND lease_expires_at < now() RETURNING run_id::text"
        )
        return [r[0] for r in await cur.fetchall()]
