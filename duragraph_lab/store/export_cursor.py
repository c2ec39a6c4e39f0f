"""Durable export cursors with a lease (migration 0014): the OpenTelemetry exporter's position in
the event log. Times are the database's clock, the one every server shares."""

from __future__ import annotations

from duragraph_lab.store.postgres import PostgresEventStore

# A new cursor starts at the end of the log: turning the exporter on exports the runs that end
# from then on (older runs: `duragraph-lab otel export --run ID`).
_SEED = """
INSERT INTO duragraph.export_cursors (name, seq)
SELECT %(name)s, coalesce((SELECT max(seq) FROM duragraph.events), 0)
ON CONFLICT (name) DO NOTHING
"""

_CLAIM = """
UPDATE duragraph.export_cursors
   SET holder = %(holder)s, expires_at = now() + make_interval(secs => %(ttl)s)
 WHERE name = %(name)s AND (holder = %(holder)s OR expires_at <= now())
RETURNING seq
"""

_ADVANCE = """
UPDATE duragraph.export_cursors
   SET seq = greatest(seq, %(seq)s), updated_at = now(),
       expires_at = now() + make_interval(secs => %(ttl)s)
 WHERE name = %(name)s AND holder = %(holder)s
"""

_RELEASE = """
UPDATE duragraph.export_cursors SET expires_at = now() WHERE name = %(name)s AND holder = %(holder)s
"""


class PgExportCursor:
    """The cursor ``name``: :meth:`claim` takes (or renews) its lease and returns its seq, None
    while another holder's lease runs; :meth:`advance` moves it forward (never back)."""

    def __init__(self, store: PostgresEventStore, name: str = "otel") -> None:
        self.store = store
        self.name = name

    async def claim(self, holder: str, ttl: float) -> int | None:
        async with self.store.pool.connection() as conn:
            await conn.execute(_SEED, {"name": self.name})
            row = await (
                await conn.execute(_CLAIM, {"name": self.name, "holder": holder, "ttl": ttl})
            ).fetchone()
        return None if row is None else int(row[0])

    async def advance(self, holder: str, seq: int, ttl: float) -> bool:
        async with self.store.pool.connection() as conn:
            cur = await conn.execute(_ADVANCE, {"name": self.name, "holder": holder, "seq": seq, "ttl": ttl})
            return cur.rowcount == 1

    async def release(self, holder: str) -> None:
        async with self.store.pool.connection() as conn:
            await conn.execute(_RELEASE, {"name": self.name, "holder": holder})
