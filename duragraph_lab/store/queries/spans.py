"""Spans (``duragraph.spans``): one per execution of a node."""

from __future__ import annotations

from duragraph_lab.control.read_models import SpanRecord
from duragraph_lab.store.postgres import PostgresEventStore


class PgSpanReadModel:
    def __init__(self, store: PostgresEventStore) -> None:
        self.store = store

    async def of_run(self, run_id: str) -> list[SpanRecord]:
        rows = await self.store._query(
            "SELECT run_id::text, ns, task, attempt, step, node, status, started_at, ended_at, duration_ms, error, seq, "
            "input_tokens, output_tokens "
            "FROM duragraph.spans WHERE run_id = %s ORDER BY seq",
            (run_id,),
        )
        return [SpanRecord(*row) for row in rows]
