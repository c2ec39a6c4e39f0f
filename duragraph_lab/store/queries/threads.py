"""Threads (``duragraph.threads``): one thread, searches and counts, expired temporary threads."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from duragraph_lab.control.read_models import ThreadFilter, ThreadOrder, ThreadRecord
from duragraph_lab.store.postgres import PostgresEventStore

_COLUMNS = "thread_id::text, status, metadata, created_at, updated_at, last_run_id::text"
_ORDER: dict[ThreadOrder, str] = {
    "thread_id": "thread_id",
    "status": "status",
    "created_at": "created_at",
    "updated_at": "updated_at",
}


def _filter_sql(where: ThreadFilter) -> tuple[str, list[Any]]:
    conditions = ["true"]
    params: list[Any] = []
    if where.metadata:
        conditions.append("metadata @> %s::jsonb")
        params.append(json.dumps(where.metadata))
    if where.status:
        conditions.append("status = %s")
        params.append(where.status)
    if where.ids is not None:
        conditions.append("thread_id = ANY(%s::uuid[])")
        params.append(list(where.ids))
    return " AND ".join(conditions), params


def _record(row: Sequence[Any]) -> ThreadRecord:
    thread_id, status, metadata, created, updated, last_run = row
    return ThreadRecord(thread_id, status, metadata or {}, created, updated, last_run)


class PgThreadReadModel:
    def __init__(self, store: PostgresEventStore) -> None:
        self.store = store

    async def get(self, thread_id: str) -> ThreadRecord | None:
        rows = await self.store._query(
            f"SELECT {_COLUMNS} FROM duragraph.threads WHERE thread_id = %s", (thread_id,)
        )
        return _record(rows[0]) if rows else None

    async def search(
        self, where: ThreadFilter, *, order: ThreadOrder, ascending: bool, limit: int | None, offset: int
    ) -> tuple[list[ThreadRecord], int]:
        condition, params = _filter_sql(where)
        ordering = f"{_ORDER[order]} {'ASC' if ascending else 'DESC'}, thread_id"
        if limit is None:
            rows = await self.store._query(
                f"SELECT {_COLUMNS} FROM duragraph.threads WHERE {condition} ORDER BY {ordering}", params
            )
            return [_record(r) for r in rows], len(rows)
        rows = await self.store._query(
            f"SELECT {_COLUMNS}, count(*) OVER () FROM duragraph.threads WHERE {condition} "
            f"ORDER BY {ordering} LIMIT %s OFFSET %s",
            (*params, limit, offset),
        )
        return [_record(r[:-1]) for r in rows], int(rows[0][-1]) if rows else 0

    async def count(self, where: ThreadFilter) -> int:
        condition, params = _filter_sql(where)
        rows = await self.store._query(f"SELECT count(*) FROM duragraph.threads WHERE {condition}", params)
        return int(rows[0][0])

    async def expired_temporary(self, grace_seconds: float, *, limit: int) -> list[str]:
        rows = await self.store._query(
            "SELECT thread_id::text FROM duragraph.threads WHERE temporary AND status IN ('idle', 'error') "
            "AND updated_at < now() - make_interval(secs => %s) LIMIT %s",
            (grace_seconds, limit),
        )
        return [r[0] for r in rows]
