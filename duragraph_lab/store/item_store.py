"""The store's items in PostgreSQL (``duragraph.store_items``, migration 0010): the
:class:`duragraph_lab.control.item_store.ItemStorePort`.

A batch is one transaction on one pooled connection (a batch of one statement, a lone get or
put, is that statement on an autocommit connection): its reads first (each GetItem together in
one statement, each search and namespace listing in one of its own), then its writes, the last per
key, in key order. Writers that lock rows in the same order never deadlock each other; should
PostgreSQL still find a deadlock or a serialization failure (a reader refreshing TTLs while a
writer writes), the whole batch is tried again, which is safe: nothing of it was written.

Refreshing a TTL on read never waits: rows another transaction holds are skipped (it is writing
them, which sets their expiry anyway, or refreshing them too). Times are the database's clock
(``now()``: the transaction's start), so every server and worker agrees on what has expired.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import Any

import psycopg
import psycopg_pool

from duragraph_lab.control.item_filter import Compare, Condition, IsList, IsObject
from duragraph_lab.control.item_store import (
    WILDCARD,
    GetItem,
    ItemOp,
    ItemResult,
    ListNamespaces,
    Namespace,
    PutItem,
    SearchItems,
    StoredItem,
)
from duragraph_lab.domain.errors import StoreTransientError
from duragraph_lab.store.connection import unavailable_as_typed

log = logging.getLogger(__name__)

_TABLE = "duragraph.store_items"
_LIVE = "(s.expires_at IS NULL OR s.expires_at > now())"
_ITEM_COLUMNS = "s.prefix, s.key, s.value::text, s.created_at, s.updated_at"
#: Deadlock and serialization failure: the batch is tried again, up to this many times.
_RETRIED_SQLSTATES = frozenset({"40P01", "40001"})
_ATTEMPTS = 5

_GET = f"""
WITH wanted AS (
    SELECT * FROM unnest(%(prefixes)s::text[], %(keys)s::text[], %(refresh)s::boolean[])
        AS w(prefix, key, refresh)
), refreshed AS (
    UPDATE {_TABLE} t SET expires_at = now() + t.ttl_minutes * interval '1 minute'
    WHERE (t.prefix, t.key) IN (
        SELECT s.prefix, s.key FROM {_TABLE} s JOIN wanted w ON s.prefix = w.prefix AND s.key = w.key
        WHERE w.refresh AND s.ttl_minutes IS NOT NULL AND s.expires_at > now()
        FOR UPDATE OF s SKIP LOCKED
    )
)
SELECT {_ITEM_COLUMNS}
FROM {_TABLE} s JOIN (SELECT DISTINCT prefix, key FROM wanted) w ON s.prefix = w.prefix AND s.key = w.key
WHERE {_LIVE}
"""

_REFRESH_FOUND = f"""
, refreshed AS (
    UPDATE {_TABLE} t SET expires_at = now() + t.ttl_minutes * interval '1 minute'
    WHERE (t.prefix, t.key) IN (
        SELECT s.prefix, s.key FROM {_TABLE} s JOIN found f ON s.prefix = f.prefix AND s.key = f.key
        WHERE s.ttl_minutes IS NOT NULL
        FOR UPDATE OF s SKIP LOCKED
    )
)"""

# Taken before writing, in key order, so that two batches writing the same keys queue up
# instead of deadlocking.
_LOCK = f"""
SELECT 1 FROM {_TABLE} s
WHERE (s.prefix, s.key) IN (SELECT * FROM unnest(%(prefixes)s::text[], %(keys)s::text[]))
ORDER BY s.prefix, s.key
FOR UPDATE
"""

_DELETE = f"""
DELETE FROM {_TABLE} s USING unnest(%(prefixes)s::text[], %(keys)s::text[]) AS w(prefix, key)
WHERE s.prefix = w.prefix AND s.key = w.key
"""

# An item that had expired (not yet swept) is replaced as a new one: created now.
_PUT = f"""
INSERT INTO {_TABLE} AS s (prefix, key, value, created_at, updated_at, ttl_minutes, expires_at)
SELECT w.prefix, w.key, w.value::jsonb, now(), now(), w.ttl, now() + w.ttl * interval '1 minute'
FROM unnest(%(prefixes)s::text[], %(keys)s::text[], %(values)s::text[], %(ttls)s::float8[])
    WITH ORDINALITY AS w(prefix, key, value, ttl, n)
ORDER BY w.n
ON CONFLICT (prefix, key) DO UPDATE SET
    value = excluded.value,
    created_at = CASE WHEN s.expires_at <= now() THEN excluded.created_at ELSE s.created_at END,
    updated_at = excluded.updated_at,
    ttl_minutes = excluded.ttl_minutes,
    expires_at = excluded.expires_at
"""

_SWEEP = f"""
DELETE FROM {_TABLE} s WHERE (s.prefix, s.key) IN (
    SELECT t.prefix, t.key FROM {_TABLE} t WHERE t.expires_at <= now()
    ORDER BY t.expires_at LIMIT %s FOR UPDATE SKIP LOCKED
)
"""


def namespace_text(namespace: Namespace) -> str:
    """How a namespace is stored: its labels joined with '.' (labels never contain one)."""
    return ".".join(namespace)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class PgItemStore:
    """:class:`~duragraph_lab.control.item_store.ItemStorePort` on a psycopg async pool (the
    event store's: the same database, and the runtime role's DML privileges are all it needs)."""

    def __init__(self, pool: psycopg_pool.AsyncConnectionPool) -> None:
        self.pool = pool

    async def apply(self, ops: Sequence[ItemOp]) -> list[ItemResult]:
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                async with unavailable_as_typed(), self.pool.connection() as conn:
                    if _statements(ops) == 1:
                        # One statement on an autocommit connection is atomic by itself: one
                        # round trip instead of three (what a lone get or put costs).
                        return await self._apply(conn, ops)
                    async with conn.transaction():
                        return await self._apply(conn, ops)
            except StoreTransientError as err:
                if err.sqlstate not in _RETRIED_SQLSTATES or attempt == _ATTEMPTS:
                    raise
                log.debug("store batch: %s; attempt %d", err.reason, attempt + 1)
                await asyncio.sleep(0.005 * 2**attempt)
        raise AssertionError("unreachable")

    async def _apply(self, conn: psycopg.AsyncConnection[Any], ops: Sequence[ItemOp]) -> list[ItemResult]:
        results: list[ItemResult] = [None] * len(ops)
        gets = [(i, op) for i, op in enumerate(ops) if isinstance(op, GetItem)]
        if gets:
            await self._get(conn, gets, results)
        for i, op in enumerate(ops):
            if isinstance(op, SearchItems):
                results[i] = await self._search(conn, op)
            elif isinstance(op, ListNamespaces):
                results[i] = await self._list(conn, op)
        # The last write of each key wins; in key order (see _LOCK).
        writes: dict[tuple[str, str], PutItem] = {}
        for op in ops:
            if isinstance(op, PutItem):
                writes[(namespace_text(op.namespace), op.key)] = op
        if writes:
            await self._write(conn, writes)
        return results

    async def _get(
        self, conn: psycopg.AsyncConnection[Any], gets: list[tuple[int, GetItem]], results: list[ItemResult]
    ) -> None:
        params = {
            "prefixes": [namespace_text(op.namespace) for _, op in gets],
            "keys": [op.key for _, op in gets],
            "refresh": [op.refresh_ttl for _, op in gets],
        }
        cur = await conn.execute(_GET, params)
        found = {(row[0], row[1]): _item(row) for row in await cur.fetchall()}
        for i, op in gets:
            results[i] = found.get((namespace_text(op.namespace), op.key))

    async def _search(self, conn: psycopg.AsyncConnection[Any], op: SearchItems) -> list[StoredItem]:
        where: list[str] = [_LIVE]
        params: list[Any] = []
        if op.prefix:
            text = namespace_text(op.prefix)
            where.append("(s.prefix = %s OR s.prefix LIKE %s)")
            params += [text, _like_escape(text) + ".%"]
        for condition in op.conditions:
            clause, values = _condition_sql(condition)
            where.append(clause)
            params += values
        query = (
            f"WITH found AS (SELECT s.prefix, s.key, s.value, s.created_at, s.updated_at FROM {_TABLE} s "
            f"WHERE {' AND '.join(where)} ORDER BY s.updated_at DESC, s.prefix, s.key LIMIT %s OFFSET %s)"
        )
        params += [op.limit, op.offset]
        if op.refresh_ttl:
            query += _REFRESH_FOUND
        query += f" SELECT {_ITEM_COLUMNS} FROM found s ORDER BY s.updated_at DESC, s.prefix, s.key"
        cur = await conn.execute(query, params)
        return [_item(row) for row in await cur.fetchall()]

    async def _list(self, conn: psycopg.AsyncConnection[Any], op: ListNamespaces) -> list[Namespace]:
        where: list[str] = [_LIVE]
        params: list[Any] = []
        for pattern, from_end in ((op.prefix, False), (op.suffix, True)):
            if pattern is None:
                continue
            where.append("cardinality(a.labels) >= %s")
            params.append(len(pattern))
            for index, label in enumerate(pattern):
                if label == WILDCARD:
                    continue
                offset = len(pattern) - index - 1
                where.append("a.labels[cardinality(a.labels) - %s] = %s" if from_end else "a.labels[%s] = %s")
                params += [offset, label] if from_end else [index + 1, label]
            if not from_end:
                # The labels before the first wildcard narrow the rows by the primary key's index.
                fixed = []
                for label in pattern:
                    if label == WILDCARD:
                        break
                    fixed.append(label)
                if fixed:
                    text = namespace_text(tuple(fixed))
                    where.append("(s.prefix = %s OR s.prefix LIKE %s)")
                    params += [text, _like_escape(text) + ".%"]
        labels = "a.labels" if op.max_depth is None else "a.labels[1:%s]"
        head = [] if op.max_depth is None else [op.max_depth]
        query = (
            f"SELECT DISTINCT {labels} AS ns FROM {_TABLE} s, "
            "LATERAL (SELECT string_to_array(s.prefix, '.') AS labels) a "
            f"WHERE {' AND '.join(where)} ORDER BY ns LIMIT %s OFFSET %s"
        )
        cur = await conn.execute(query, [*head, *params, op.limit, op.offset])
        return [tuple(row[0]) for row in await cur.fetchall()]

    async def _write(
        self, conn: psycopg.AsyncConnection[Any], writes: dict[tuple[str, str], PutItem]
    ) -> None:
        ordered = sorted(writes.items())
        if len(ordered) > 1:
            await conn.execute(
                _LOCK, {"prefixes": [p for (p, _), _ in ordered], "keys": [k for (_, k), _ in ordered]}
            )
        deletes = [(p, k) for (p, k), op in ordered if op.value_json is None]
        puts = [(p, k, op) for (p, k), op in ordered if op.value_json is not None]
        if deletes:
            await conn.execute(
                _DELETE, {"prefixes": [p for p, _ in deletes], "keys": [k for _, k in deletes]}
            )
        if puts:
            await conn.execute(
                _PUT,
                {
                    "prefixes": [p for p, _, _ in puts],
                    "keys": [k for _, k, _ in puts],
                    "values": [op.value_json for _, _, op in puts],
                    "ttls": [op.ttl_minutes for _, _, op in puts],
                },
            )

    async def sweep_expired(self, *, batch_size: int = 1000) -> int:
        total = 0
        while True:
            async with unavailable_as_typed(), self.pool.connection() as conn:
                cur = await conn.execute(_SWEEP, (batch_size,))
                deleted = cur.rowcount
            total += deleted
            if deleted < batch_size:
                return total


def _statements(ops: Sequence[ItemOp]) -> int:
    """How many statements a batch takes (see :meth:`PgItemStore._apply`)."""
    gets = any(isinstance(op, GetItem) for op in ops)
    reads = sum(isinstance(op, (SearchItems, ListNamespaces)) for op in ops)
    keys = {(op.namespace, op.key) for op in ops if isinstance(op, PutItem)}
    return int(gets) + reads + (0 if not keys else 1 if len(keys) == 1 else 3)


def _condition_sql(condition: Condition) -> tuple[str, list[Any]]:
    """A condition on ``s.value`` as SQL and its parameters. No cast can fail on stored data:
    types are compared before values, and jsonb compares two numbers as numbers."""
    path = [str(p) for p in condition.path]
    at = "(s.value #> %s::text[])"
    if isinstance(condition, IsObject):
        return f"jsonb_typeof{at} = 'object'", [path]
    if isinstance(condition, IsList):
        return (
            f"CASE WHEN jsonb_typeof{at} = 'array' THEN jsonb_array_length{at} = %s ELSE false END",
            [path, path, condition.length],
        )
    assert isinstance(condition, Compare)
    parent = _parent_sql(condition.path)
    if condition.operator in ("$eq", "$ne"):
        # A missing field equals null (as in InMemoryStore); its parent must be an object.
        sign = "=" if condition.operator == "$eq" else "<>"
        clause = f"coalesce(s.value #> %s::text[], 'null'::jsonb) {sign} %s::jsonb"
        return f"{parent[0]}{clause}", [*parent[1], path, json.dumps(condition.operand, ensure_ascii=False)]
    sign = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}[condition.operator]
    if condition.numeric:
        return (
            f"jsonb_typeof{at} = 'number' AND {at} {sign} %s::jsonb",
            [path, path, json.dumps(condition.operand)],
        )
    return (
        f"jsonb_typeof{at} = 'string' AND (s.value #>> %s::text[]) {sign} %s COLLATE \"C\"",
        [path, path, condition.operand],
    )


def _parent_sql(path: tuple[str | int, ...]) -> tuple[str, list[Any]]:
    """An equality deep in the value needs its containers: each parent an object (for a key) or
    an array (for an index), as InMemoryStore walks them."""
    clauses, params = [], []
    for depth in range(1, len(path)):
        kind = "array" if isinstance(path[depth], int) else "object"
        clauses.append(f"jsonb_typeof(s.value #> %s::text[]) = '{kind}' AND ")
        params.append([str(p) for p in path[:depth]])
    return "".join(clauses), params


def _item(row: Sequence[Any]) -> StoredItem:
    prefix, key, value, created_at, updated_at = row
    # The value's JSON text is parsed here, not by the pool's codec: a stored object is the
    # user's JSON, in which a key like the codec's tag means nothing.
    return StoredItem(tuple(prefix.split(".")), key, json.loads(value), created_at, updated_at)
