"""The outbox relay's leadership lease (migration 0008) and the outbox's lag, as every server sees them.

One row: the relay that holds it publishes the outbox; the others stand by. Taking the lease
succeeds when it has expired (or is already ours) and bumps the epoch; renewing succeeds only for
the holder of the current epoch, so a relay that lost the lease learns it at its next renewal.
Every time is the database's clock, the one clock all relays share.

The functions take a connection: the active relay renews on the connection it publishes with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

# The outer SELECT reads the row as it was before the UPDATE (one snapshot for the statement):
# when the lease is not taken, that is who holds it and until when.
_TAKE = """
WITH taken AS (
    UPDATE duragraph.relay_lease
       SET holder = %(holder)s, epoch = epoch + 1, acquired_at = now(), renewed_at = now(),
           expires_at = now() + make_interval(secs => %(ttl)s)
     WHERE expires_at <= now() OR holder = %(holder)s
    RETURNING epoch
)
SELECT (SELECT epoch FROM taken), l.holder, l.epoch,
       extract(epoch FROM clock_timestamp() - l.renewed_at)::float8,
       extract(epoch FROM l.expires_at - clock_timestamp())::float8
  FROM duragraph.relay_lease l
"""

_RENEW = """
UPDATE duragraph.relay_lease
   SET renewed_at = now(), expires_at = now() + make_interval(secs => %(ttl)s)
 WHERE holder = %(holder)s AND epoch = %(epoch)s
"""

_RELEASE = """
UPDATE duragraph.relay_lease SET expires_at = now()
 WHERE holder = %(holder)s AND epoch = %(epoch)s AND expires_at > now()
"""

# Rows the caller published but has not deleted yet are passed in and not counted.
_REPORT = """
SELECT (SELECT count(*) FROM duragraph.outbox WHERE seq <> ALL(%(skip)s::bigint[])),
       (SELECT extract(epoch FROM clock_timestamp() - e.recorded_at)::float8
          FROM duragraph.events e
         WHERE e.seq = (SELECT min(seq) FROM duragraph.outbox WHERE seq <> ALL(%(skip)s::bigint[]))),
       l.holder, l.epoch,
       extract(epoch FROM clock_timestamp() - l.renewed_at)::float8,
       extract(epoch FROM l.expires_at - clock_timestamp())::float8
  FROM duragraph.relay_lease l
"""


@dataclass(frozen=True, slots=True)
class RelayLease:
    """The lease as the database has it."""

    holder: str  # "" until a relay first takes it
    epoch: int
    renewed_seconds_ago: float
    expires_in_seconds: float  # negative once expired

    @property
    def held(self) -> bool:
        return bool(self.holder) and self.expires_in_seconds > 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "holder": self.holder or None,
            "epoch": self.epoch,
            "held": self.held,
            "renewed_seconds_ago": round(self.renewed_seconds_ago, 3),
            "expires_in_seconds": round(self.expires_in_seconds, 3),
        }


@dataclass(frozen=True, slots=True)
class OutboxReport:
    backlog: int  # committed events not yet published
    lag_seconds: float  # age of the oldest of them, 0 when there is none
    lease: RelayLease


def _lease(row: Sequence[Any]) -> RelayLease:
    holder, epoch, renewed_ago, expires_in = row
    return RelayLease(str(holder), int(epoch), float(renewed_ago), float(expires_in))


async def take(conn: psycopg.AsyncConnection[Any], holder: str, ttl: float) -> tuple[int | None, RelayLease]:
    """Take the lease for ``ttl`` seconds if it expired or is ``holder``'s already: ``(epoch,
    ...)``; else ``(None, the lease as another relay holds it)``."""
    cur = await conn.execute(_TAKE, {"holder": holder, "ttl": ttl})
    row = await cur.fetchone()
    if row is None:
        raise RuntimeError("duragraph.relay_lease has no row (migration 0008 seeds it)")
    return (int(row[0]) if row[0] is not None else None), _lease(row[1:])


async def renew(conn: psycopg.AsyncConnection[Any], holder: str, epoch: int, ttl: float) -> bool:
    """Extend the lease to ``ttl`` seconds from now; False when ``holder`` no longer holds
    ``epoch`` (another relay took the lease over)."""
    cur = await conn.execute(_RENEW, {"holder": holder, "epoch": epoch, "ttl": ttl})
    return cur.rowcount == 1


async def release(conn: psycopg.AsyncConnection[Any], holder: str, epoch: int) -> None:
    """Let the lease expire now (a relay stopping cleanly), so a standby need not wait out its TTL."""
    await conn.execute(_RELEASE, {"holder": holder, "epoch": epoch})


async def report(conn: psycopg.AsyncConnection[Any], skip: Sequence[int] = ()) -> OutboxReport:
    """How far behind the outbox is, whoever publishes it, and who holds the lease."""
    cur = await conn.execute(_REPORT, {"skip": list(skip)})
    row = await cur.fetchone()
    if row is None:
        raise RuntimeError("duragraph.relay_lease has no row (migration 0008 seeds it)")
    return OutboxReport(int(row[0]), float(row[1]) if row[1] is not None else 0.0, _lease(row[2:]))
