"""Reading a big slice of the event log out of PostgreSQL fast: several ``COPY ... TO STDOUT``
at once over ranges of the log, handed over in log order.

Two costs dominate a million-event read, and each has its answer here:

- PostgreSQL turns each jsonb payload into text on one core per query: the log is cut into
  ranges of about :data:`RANGE_EVENTS` events and :data:`PARALLEL` ranges are copied at once,
  each on its own connection (a bounded window: memory holds a few ranges, whatever the size).
- A COPY sends one protocol message per row, and psycopg hands each to Python on its own: about
  2-3 µs a row, seconds for a million. asyncpg (when installed; it is a dependency) collects the
  rows in C and hands over buffers of tens of kilobytes. Small reads (one range) use a pooled
  psycopg connection instead: opening connections would cost more than it saves.

Ranges follow the streams: one stream (a run) is cut by version, which within a stream is seq
order (the store's guarantee) and is read through the (stream_id, version) index. Streams whose
seq intervals overlap (runs of a thread that ran at the same time) are read together, ordered by
seq; small consecutive streams share a range. So the ranges, in order, are the log in seq order.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from duragraph_lab.store.postgres import PostgresEventStore

#: Events per COPY when a log is read in ranges.
RANGE_EVENTS = 100_000
#: COPYs running at once (PostgreSQL serialises one query's output on one core).
PARALLEL = 2


@dataclass(frozen=True, slots=True)
class Range:
    """Some events of the log, only those with ``seq > after``: of one stream (between versions
    ``low`` and ``high`` when given), or of several streams (between seqs ``low`` and ``high``
    when given), in seq order."""

    streams: tuple[str, ...]
    after: int
    low: int | None = None
    high: int | None = None
    events: int = 0  # about how many (for packing)

    def where(self, placeholder: Callable[[int], str]) -> tuple[str, tuple[Any, ...]]:
        """The WHERE ... ORDER BY of the range's query, with its parameters."""
        one = len(self.streams) == 1
        sql = f"stream_id = {placeholder(1)} AND seq > {placeholder(2)}"
        if not one:
            sql = f"stream_id = ANY({placeholder(1)}) AND seq > {placeholder(2)}"
        params: tuple[Any, ...] = (self.streams[0] if one else list(self.streams), self.after)
        if self.low is not None and self.high is not None:
            column = "version" if one else "seq"
            sql += f" AND {column} BETWEEN {placeholder(3)} AND {placeholder(4)}"
            params += (self.low, self.high)
        return sql + (" ORDER BY version" if one else " ORDER BY seq"), params


@dataclass(frozen=True, slots=True)
class _Interval:
    stream: str
    first: int  # seq of the first event with seq > after
    last: int  # seq of the stream's last event
    low: int  # version of that first event
    high: int  # the stream's version (its last event's)


async def plan(store: PostgresEventStore, streams: list[str], *, after: int = 0) -> list[Range]:
    """The ranges that read the events of ``streams`` with ``seq > after``, in seq order."""
    intervals = await _intervals(store, streams, after)
    # Streams whose seq intervals overlap are read together (one query ordered by seq).
    groups: list[list[_Interval]] = []
    reach = 0  # the last seq of the current group
    for iv in sorted(intervals, key=lambda i: i.first):
        if groups and iv.first < reach:
            groups[-1].append(iv)
        else:
            groups.append([iv])
        reach = max(reach, iv.last) if len(groups[-1]) > 1 else iv.last
    ranges: list[Range] = []
    for group in groups:
        size = sum(g.high - g.low + 1 for g in group)
        if size > RANGE_EVENTS:
            ranges += _split(group, size, after)
            continue
        last = ranges[-1] if ranges else None
        if last is not None and last.low is None and last.events + size <= RANGE_EVENTS:
            # Small neighbours share a range (a thread of many short runs: not a COPY per run).
            ranges[-1] = Range(
                last.streams + tuple(g.stream for g in group), after, events=last.events + size
            )
        else:
            ranges.append(Range(tuple(g.stream for g in group), after, events=size))
    return ranges


def _split(group: list[_Interval], size: int, after: int) -> list[Range]:
    """A big group in ranges of about RANGE_EVENTS: one stream by version, overlapping streams
    by seq (evenly over their seq interval: the events are about evenly spread)."""
    if len(group) == 1:
        iv = group[0]
        return [
            Range(
                (iv.stream,),
                after,
                low,
                min(low + RANGE_EVENTS - 1, iv.high),
                min(RANGE_EVENTS, iv.high - low + 1),
            )
            for low in range(iv.low, iv.high + 1, RANGE_EVENTS)
        ]
    first, last = min(g.first for g in group), max(g.last for g in group)
    parts = -(-size // RANGE_EVENTS)
    width = -(-(last - first + 1) // parts)
    streams = tuple(g.stream for g in group)
    return [
        Range(streams, after, low, min(low + width - 1, last), size // parts)
        for low in range(first, last + 1, width)
    ]


async def _intervals(store: PostgresEventStore, streams: list[str], after: int) -> list[_Interval]:
    if not streams:
        return []
    # A stream's first and last seq are those of its versions 1 and N (version order is seq
    # order within a stream): two index lookups per stream, whatever its length.
    rows = await store._query(
        "SELECT s.stream_id, s.version, "
        "(SELECT seq FROM duragraph.events e WHERE e.stream_id = s.stream_id AND e.version = 1), "
        "(SELECT seq FROM duragraph.events e WHERE e.stream_id = s.stream_id AND e.version = s.version) "
        "FROM duragraph.streams s WHERE s.stream_id = ANY(%s) AND s.version > 0",
        (streams,),
    )
    out: list[_Interval] = []
    for stream, version, first, last in rows:
        if first is None or last is None or last <= after:
            continue
        low = 1
        if first <= after:
            # The first event past ``after``: from the seq index, it is near.
            found = await store._query(
                "SELECT version, seq FROM duragraph.events WHERE seq > %s AND stream_id = %s "
                "ORDER BY seq LIMIT 1",
                (after, stream),
            )
            if not found:
                continue
            low, first = found[0]
        out.append(_Interval(stream, first, last, low, version))
    return out


async def copy_ranges(
    store: PostgresEventStore, select: str, ranges: list[Range]
) -> AsyncIterator[tuple[Range, bytes]]:
    """The CSV of ``select`` over each range, in the order of ``ranges`` (at most
    :data:`PARALLEL` COPYs at once, at most PARALLEL + 1 ranges held)."""
    if not ranges:
        return
    asyncpg = _asyncpg()
    conninfo = store.pool.conninfo  # a pool may also be given a function that makes it
    if len(ranges) == 1 or asyncpg is None or not isinstance(conninfo, str):
        for r in ranges:
            yield r, await _copy_psycopg(store, select, r)
        return
    connections: asyncio.Queue[Any] = asyncio.Queue()
    opened: list[Any] = []
    window: deque[asyncio.Task[bytes]] = deque()
    try:
        params = _asyncpg_params(conninfo)
        for _ in range(min(PARALLEL, len(ranges))):
            conn = await asyncpg.connect(**params)
            opened.append(conn)
            connections.put_nowait(conn)

        async def fetch(r: Range) -> bytes:
            conn = await connections.get()
            try:
                return await _copy_asyncpg(conn, select, r)
            finally:
                connections.put_nowait(conn)

        pending = iter(ranges)
        for r in pending:
            window.append(asyncio.ensure_future(fetch(r)))
            if len(window) > PARALLEL:
                break
        for r in ranges:
            data = await window.popleft()
            nxt = next(pending, None)
            if nxt is not None:
                window.append(asyncio.ensure_future(fetch(nxt)))
            yield r, data
    finally:
        for task in window:
            task.cancel()
        for task in window:
            with contextlib.suppress(BaseException):
                await task
        for conn in opened:
            with contextlib.suppress(Exception):
                await conn.close(timeout=5)


def _asyncpg() -> Any | None:
    try:
        return importlib.import_module("asyncpg")
    except ImportError:  # pragma: no cover - a dependency; psycopg does the same, slower
        return None


async def _copy_psycopg(store: PostgresEventStore, select: str, r: Range) -> bytes:
    where, params = r.where(lambda _: "%s")
    parts: list[bytes] = []
    sql = f"COPY ({select} WHERE {where}) TO STDOUT (FORMAT csv)"
    async with store.pool.connection() as conn, conn.cursor() as cur, cur.copy(sql, params) as copy:
        async for chunk in copy:
            parts.append(bytes(chunk))
    return b"".join(parts)


async def _copy_asyncpg(conn: Any, select: str, r: Range) -> bytes:
    where, params = r.where(lambda i: f"${i}")
    parts: list[bytes] = []

    async def sink(chunk: bytes) -> None:
        parts.append(bytes(chunk))

    output: Callable[[bytes], Awaitable[None]] = sink
    await conn.copy_from_query(f"{select} WHERE {where}", *params, output=output, format="csv")
    return b"".join(parts)


_ASYNCPG_KEYS = {"host": "host", "port": "port", "user": "user", "password": "password", "dbname": "database"}


def _asyncpg_params(conninfo: str) -> dict[str, Any]:
    """asyncpg's connect() arguments for a libpq connection string (URL or key=value)."""
    conninfo_to_dict = importlib.import_module("psycopg.conninfo").conninfo_to_dict
    info = conninfo_to_dict(conninfo)
    out: dict[str, Any] = {target: info[key] for key, target in _ASYNCPG_KEYS.items() if info.get(key)}
    if "port" in out:
        out["port"] = int(str(out["port"]).split(",")[0])
    if info.get("sslmode"):
        out["ssl"] = info["sslmode"]
    out["server_settings"] = {"application_name": "duragraph-eventlog"}
    return out
