"""Runs (``duragraph.runs``): one run, a thread's runs, runs across threads, where a run's
stream stands."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from duragraph_lab.control.read_models import RestPosition, RunFilter, RunOrder, RunRecord
from duragraph_lab.store.postgres import PostgresEventStore

_COLUMNS = (
    "run_id::text, thread_id::text, assistant_id::text, graph_id, status, metadata, kwargs, multitask_strategy, "
    "error, step, attempt, worker_id, created_at, updated_at, started_at, ended_at, input_tokens, output_tokens"
)
# State edits are recorded as runs of their own kind: not runs a user started.
_NOT_AN_EDIT = "kwargs->>'kind' IS DISTINCT FROM 'update_state'"
_ORDER: dict[RunOrder, str] = {"created_at": "created_at", "updated_at": "updated_at"}


def run_filter_sql(where: RunFilter) -> tuple[str, list[Any]]:
    """``where`` as a condition on ``duragraph.runs`` and its parameters."""
    conditions = [_NOT_AN_EDIT]
    params: list[Any] = []
    if where.statuses is not None:
        conditions.append("status = ANY(%s)")
        params.append(list(where.statuses))
    for column, value in (
        ("assistant_id", where.assistant_id),
        ("thread_id", where.thread_id),
        ("graph_id", where.graph_id),
    ):
        if value is not None:
            conditions.append(f"{column} = %s")
            params.append(value)
    if where.ids is not None:
        conditions.append("run_id = ANY(%s::uuid[])")
        params.append(list(where.ids))
    if where.thread_ids is not None:
        conditions.append("thread_id = ANY(%s::uuid[])")
        params.append(list(where.thread_ids))
    if where.metadata:
        conditions.append("metadata @> %s::jsonb")
        params.append(json.dumps(where.metadata))
    if where.created_after is not None:
        conditions.append("created_at > %s")
        params.append(where.created_after)
    if where.created_before is not None:
        conditions.append("created_at < %s")
        params.append(where.created_before)
    return " AND ".join(conditions), params


def _record(row: Sequence[Any]) -> RunRecord:
    (run_id, thread_id, assistant_id, graph_id, status, metadata, kwargs, strategy, error, step, attempt,
     worker_id, created, updated, started, ended, input_tokens, output_tokens) = row  # fmt: skip
    return RunRecord(
        run_id,
        thread_id,
        assistant_id,
        graph_id,
        status,
        metadata or {},
        kwargs or {},
        strategy,
        error,
        step,
        attempt,
        worker_id,
        created,
        updated,
        started,
        ended,
        input_tokens,
        output_tokens,
    )


class PgRunReadModel:
    def __init__(self, store: PostgresEventStore) -> None:
        self.store = store

    async def get(self, run_id: str) -> RunRecord | None:
        rows = await self.store._query(f"SELECT {_COLUMNS} FROM duragraph.runs WHERE run_id = %s", (run_id,))
        return _record(rows[0]) if rows else None

    async def status(self, run_id: str) -> str | None:
        rows = await self.store._query("SELECT status FROM duragraph.runs WHERE run_id = %s", (run_id,))
        return str(rows[0][0]) if rows else None

    async def of_thread(
        self, thread_id: str, *, status: str | None, limit: int, offset: int
    ) -> list[RunRecord]:
        where, params = f"thread_id = %s AND {_NOT_AN_EDIT}", [thread_id]
        if status:
            where += " AND status = %s"
            params.append(status)
        rows = await self.store._query(
            f"SELECT {_COLUMNS} FROM duragraph.runs WHERE {where} "
            "ORDER BY created_at DESC, run_id LIMIT %s OFFSET %s",
            (*params, limit, offset),
        )
        return [_record(r) for r in rows]

    async def search(
        self, where: RunFilter, *, order: RunOrder, ascending: bool, limit: int, offset: int
    ) -> tuple[list[RunRecord], int]:
        condition, params = run_filter_sql(where)
        ordering = f"{_ORDER[order]} {'ASC' if ascending else 'DESC'}, run_id"
        rows = await self.store._query(
            f"SELECT {_COLUMNS}, count(*) OVER () FROM duragraph.runs WHERE {condition} "
            f"ORDER BY {ordering} LIMIT %s OFFSET %s",
            (*params, limit, offset),
        )
        # A page past the end has no row to carry the total: count apart.
        total = int(rows[0][-1]) if rows else await self.count(where)
        return [_record(r[:-1]) for r in rows], total

    async def count(self, where: RunFilter) -> int:
        condition, params = run_filter_sql(where)
        rows = await self.store._query(f"SELECT count(*) FROM duragraph.runs WHERE {condition}", params)
        return int(rows[0][0])

    async def ids_with_status(self, statuses: Sequence[str]) -> list[str]:
        rows = await self.store._query(
            "SELECT run_id::text FROM duragraph.runs WHERE status = ANY(%s) ORDER BY created_at",
            (list(statuses),),
        )
        return [r[0] for r in rows]

    async def thread_run_ids(self, thread_id: str, *, statuses: Sequence[str] | None = None) -> list[str]:
        where, params = "thread_id = %s", list[Any]([thread_id])
        if statuses is not None:
            where += " AND status = ANY(%s)"
            params.append(list(statuses))
        rows = await self.store._query(
            f"SELECT run_id::text FROM duragraph.runs WHERE {where} ORDER BY created_at, run_id", params
        )
        return [r[0] for r in rows]

    async def rest_position(self, run_id: str) -> RestPosition | None:
        rows = await self.store._query(
            "SELECT r.status, s.version, "
            "(SELECT max(e.seq) FROM duragraph.events e WHERE e.stream_id = s.stream_id) "
            "FROM duragraph.streams s LEFT JOIN duragraph.runs r ON r.run_id = %s::uuid WHERE s.stream_id = %s",
            (run_id, f"run:{run_id}"),
        )
        if not rows:
            return None
        status, version, head_seq = rows[0]
        return RestPosition(status, int(version), None if head_seq is None else int(head_seq))
