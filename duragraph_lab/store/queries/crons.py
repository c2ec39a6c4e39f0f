"""The crons read model (``duragraph.crons``, migration 0012; filled by projections/crons.sql):
the :class:`duragraph_lab.control.crons.CronReadModel`."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from duragraph_lab.control.crons import SORT_KEYS, CronFilter, CronRecord
from duragraph_lab.store.postgres import PostgresEventStore

_COLUMNS = (
    "cron_id::text, assistant_id, graph_id, thread_id::text, schedule, timezone, end_time, enabled, "
    "on_run_completed, payload, metadata, user_id, next_run_date, last_fired_at, last_run_id::text, "
    "fire_count, version, created_at, updated_at"
)


def _where(where: CronFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = ["TRUE"]
    params: list[Any] = []
    if where.assistant_id is not None:
        clauses.append("(assistant_id = %s OR graph_id = %s)")
        params += [where.assistant_id, where.assistant_id]
    if where.thread_id is not None:
        clauses.append("thread_id = %s::uuid")
        params.append(where.thread_id)
    if where.enabled is not None:
        clauses.append("enabled = %s")
        params.append(where.enabled)
    if where.metadata:
        clauses.append("metadata @> %s::jsonb")
        params.append(json.dumps(where.metadata))
    return " AND ".join(clauses), params


class PgCrons:
    def __init__(self, store: PostgresEventStore) -> None:
        self.store = store

    async def get(self, cron_id: str) -> CronRecord | None:
        rows = await self.store._query(
            f"SELECT {_COLUMNS} FROM duragraph.crons WHERE cron_id = %s::uuid", (cron_id,)
        )
        return CronRecord(*rows[0]) if rows else None

    async def search(
        self, where: CronFilter, *, sort_by: str, ascending: bool, limit: int, offset: int
    ) -> list[CronRecord]:
        assert sort_by in SORT_KEYS  # a column name: checked by the control plane, never a value
        sql, params = _where(where)
        direction = "ASC" if ascending else "DESC"
        rows = await self.store._query(
            f"SELECT {_COLUMNS} FROM duragraph.crons WHERE {sql} "
            f"ORDER BY {sort_by} {direction} NULLS LAST, cron_id LIMIT %s OFFSET %s",
            [*params, limit, offset],
        )
        return [CronRecord(*row) for row in rows]

    async def count(self, where: CronFilter) -> int:
        sql, params = _where(where)
        rows = await self.store._query(f"SELECT count(*) FROM duragraph.crons WHERE {sql}", params)
        return int(rows[0][0])

    async def due(self, limit: int) -> tuple[dt.datetime, list[CronRecord]]:
        # now(), not clock_timestamp(): the same instant the rows were compared with. The
        # database's clock, so every server agrees on what is due.
        rows = await self.store._query(
            f"SELECT now(), {_COLUMNS} FROM duragraph.crons "
            "WHERE enabled AND next_run_date <= now() ORDER BY next_run_date LIMIT %s",
            (limit,),
        )
        now = rows[0][0] if rows else dt.datetime.now(dt.UTC)
        return now, [CronRecord(*row[1:]) for row in rows]
