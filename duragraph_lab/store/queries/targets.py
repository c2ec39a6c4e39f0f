"""Assistants as run targets (``duragraph.assistants`` with their graph's registered topology)."""

from __future__ import annotations

from duragraph_lab.control.read_models import AssistantGraph
from duragraph_lab.store.postgres import PostgresEventStore


class PgTargetReadModel:
    def __init__(self, store: PostgresEventStore) -> None:
        self.store = store

    async def assistant_graph(self, assistant_id: str) -> AssistantGraph | None:
        rows = await self.store._query(
            "SELECT a.assistant_id::text, a.graph_id, a.config, a.context, a.metadata, g.topology "
            "FROM duragraph.assistants a JOIN duragraph.graphs g USING (graph_id) WHERE a.assistant_id = %s",
            (assistant_id,),
        )
        if not rows:
            return None
        assistant, graph_id, config, context, metadata, topology = rows[0]
        return AssistantGraph(assistant, graph_id, config or {}, context or {}, metadata or {}, topology)

    async def graph_ids(self) -> list[str]:
        rows = await self.store._query("SELECT graph_id FROM duragraph.graphs ORDER BY 1", ())
        return [r[0] for r in rows]
