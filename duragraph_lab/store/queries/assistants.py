"""The ``assistants``, ``assistant_versions`` and ``graphs`` read models (see
:class:`duragraph_lab.control.assistants.AssistantReadModel` and ``GraphCatalog``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from duragraph_lab.control.assistants import AssistantFilter, AssistantRecord, AssistantVersion
from duragraph_lab.store.postgres import PostgresEventStore

_COLUMNS = (
    "assistant_id::text, graph_id, name, description, config, context, metadata, version, "
    "created_at, updated_at"
)
_VERSION_COLUMNS = (
    "assistant_id::text, version, graph_id, config, context, metadata, created_at, name, description"
)
#: The columns a search may sort by (anything else sorts by created_at).
_SORTABLE = {"assistant_id", "graph_id", "name", "created_at", "updated_at"}


def like_pattern(text: str) -> str:
    """An ILIKE pattern matching ``text`` anywhere, its wildcards taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _where(where: AssistantFilter) -> tuple[str, list[Any]]:
    clauses, params = ["true"], []
    if where.metadata:
        clauses.append("metadata @> %s::jsonb")
        params.append(json.dumps(where.metadata))
    if where.graph_id:
        clauses.append("graph_id = %s")
        params.append(where.graph_id)
    if where.name:
        clauses.append("name ILIKE %s")
        params.append(like_pattern(where.name))
    return " AND ".join(clauses), params


class PgAssistants:
    def __init__(self, store: PostgresEventStore) -> None:
        self.store = store

    async def assistant(self, assistant_id: str) -> AssistantRecord | None:
        rows = await self.store._query(
            f"SELECT {_COLUMNS} FROM duragraph.assistants WHERE assistant_id = %s", (assistant_id,)
        )
        return AssistantRecord(*rows[0]) if rows else None

    async def version(self, assistant_id: str, version: int) -> AssistantVersion | None:
        rows = await self.store._query(
            f"SELECT {_VERSION_COLUMNS} FROM duragraph.assistant_versions "
            "WHERE assistant_id = %s AND version = %s",
            (assistant_id, version),
        )
        return AssistantVersion(*rows[0]) if rows else None

    async def latest_version(self, assistant_id: str) -> int:
        rows = await self.store._query(
            "SELECT coalesce(max(version), 0) FROM duragraph.assistant_versions WHERE assistant_id = %s",
            (assistant_id,),
        )
        return int(rows[0][0])

    async def versions(
        self, assistant_id: str, *, metadata: Mapping[str, Any] | None, limit: int, offset: int
    ) -> list[AssistantVersion]:
        where, params = "assistant_id = %s", [assistant_id]
        if metadata:
            where += " AND metadata @> %s::jsonb"
            params.append(json.dumps(metadata))
        rows = await self.store._query(
            f"SELECT {_VERSION_COLUMNS} FROM duragraph.assistant_versions WHERE {where} "
            "ORDER BY version DESC LIMIT %s OFFSET %s",
            (*params, limit, offset),
        )
        return [AssistantVersion(*r) for r in rows]

    async def search(
        self, where: AssistantFilter, *, sort_by: str | None, ascending: bool, limit: int, offset: int
    ) -> tuple[list[AssistantRecord], int]:
        sql, params = _where(where)
        column = sort_by if sort_by in _SORTABLE else "created_at"
        order = "ASC" if ascending else "DESC"
        rows = await self.store._query(
            f"SELECT {_COLUMNS}, count(*) OVER () FROM duragraph.assistants WHERE {sql} "
            f"ORDER BY {column} {order}, assistant_id LIMIT %s OFFSET %s",
            (*params, limit, offset),
        )
        # A page past the end has no row to carry the total: count on its own.
        total = int(rows[0][-1]) if rows else await self.count(where)
        return [AssistantRecord(*r[:-1]) for r in rows], total

    async def count(self, where: AssistantFilter) -> int:
        sql, params = _where(where)
        rows = await self.store._query(f"SELECT count(*) FROM duragraph.assistants WHERE {sql}", params)
        return int(rows[0][0])


class PgGraphs:
    def __init__(self, store: PostgresEventStore) -> None:
        self.store = store

    async def topology(self, graph_id: str) -> dict[str, Any] | None:
        rows = await self.store._query(
            "SELECT topology FROM duragraph.graphs WHERE graph_id = %s", (graph_id,)
        )
        found: dict[str, Any] | None = rows[0][0] if rows else None
        return found

    async def graph_ids(self) -> list[str]:
        return [r[0] for r in await self.store._query("SELECT graph_id FROM duragraph.graphs ORDER BY 1", ())]
