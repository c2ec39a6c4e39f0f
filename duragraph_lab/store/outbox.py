"""The outbox (``duragraph.outbox``): events committed and not yet published to NATS. The relay
claims a batch, publishes it, and forgets the published rows later, several batches at a time.

The functions take the connection the relay publishes with (it also holds the relay's lease)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

# Rows already published (and not deleted yet) are passed in and skipped. The outbox's oldest seqs
# first (its primary key), then each one's event by one probe of the events' primary key: the
# LATERAL subquery with LIMIT 1 is never folded into a join. As a join ordered by seq with a
# LIMIT, PostgreSQL may walk the events table in seq order from its start and probe the outbox
# for each event, or scan the whole table for a hash join; and `seq = ANY(ARRAY(subquery))`, once
# psycopg prepares it, may be given a generic plan that scans every event on every claim (seen in
# the benchmarks on a fresh database: 1,100 rows read per LangGraph step, growing with the log).
_CLAIM = """
SELECT e.seq, e.stream_id, e.version, e.event_id::text, e.type, e.data::text, e.meta::text, e.recorded_at
FROM (SELECT o.seq FROM duragraph.outbox o WHERE o.seq <> ALL(%s::bigint[]) ORDER BY o.seq LIMIT %s) o,
     LATERAL (SELECT * FROM duragraph.events x WHERE x.seq = o.seq LIMIT 1) e
ORDER BY o.seq
"""
_FORGET = "DELETE FROM duragraph.outbox WHERE seq = ANY(%s::bigint[])"


async def claim(
    conn: psycopg.AsyncConnection[Any], published: Sequence[int], limit: int
) -> list[tuple[Any, ...]]:
    """Up to ``limit`` rows waiting in the outbox, oldest first, but those in ``published``:
    ``(seq, stream_id, version, event_id, type, data JSON, meta JSON, recorded_at)``."""
    cur = await conn.execute(_CLAIM, (_bigint_array(published), limit))
    return await cur.fetchall()


def _bigint_array(seqs: Sequence[int]) -> str:
    """``seqs`` as an array literal. psycopg's list dumper looks at every element to choose the
    array's type, at every claim: a join costs far less (the statement casts it to bigint[])."""
    return "{" + ",".join(map(str, seqs)) + "}"


async def forget(conn: psycopg.AsyncConnection[Any], seqs: Sequence[int]) -> None:
    """Delete published rows."""
    await conn.execute(_FORGET, (list(seqs),))


async def waiting(conn: psycopg.AsyncConnection[Any]) -> int:
    """How many rows the outbox holds (published or not)."""
    cur = await conn.execute("SELECT count(*) FROM duragraph.outbox")
    row = await cur.fetchone()
    return int(row[0]) if row is not None else 0
