"""Assistants: a graph plus configuration, versioned. Every change is an event on the
assistant's stream; the ``assistants`` and ``assistant_versions`` tables are its projections."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from duragraph_lab.api import models
from duragraph_lab.api.jsonout import iso, plain
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import NewEvent
from duragraph_lab.domain.errors import Conflict, NotFound, VersionConflict
from duragraph_lab.domain.ids import default_assistant_id
from duragraph_lab.store.postgres import PostgresEventStore

_COLUMNS = "assistant_id::text, graph_id, name, description, config, context, metadata, version, created_at, updated_at"
_SORTABLE = {"assistant_id", "graph_id", "name", "created_at", "updated_at"}


def assistant_json(row: tuple[Any, ...], select: Sequence[str] | None = None) -> dict[str, Any]:
    assistant_id, graph_id, name, description, config, context, metadata, version, created, updated = row
    out = {
        "assistant_id": assistant_id,
        "graph_id": graph_id,
        "name": name,
        "description": description,
        "config": plain(config or {}),
        "context": plain(context or {}),
        "metadata": plain(metadata or {}),
        "version": version,
        "created_at": iso(created),
        "updated_at": iso(updated),
    }
    return {k: v for k, v in out.items() if k in select} if select else out


def _filters(
    metadata: Mapping[str, Any] | None, graph_id: str | None, name: str | None
) -> tuple[str, list[Any]]:
    where, params = ["true"], []
    if metadata:
        where.append("metadata @> %s::jsonb")
        params.append(json.dumps(metadata))
    if graph_id:
        where.append("graph_id = %s")
        params.append(graph_id)
    if name:
        where.append("name ILIKE %s")
        params.append("%" + name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
    return " AND ".join(where), params


class Assistants:
    def __init__(self, store: PostgresEventStore) -> None:
        self.store = store

    async def _row(self, assistant_id: str) -> tuple[Any, ...] | None:
        rows = await self.store._query(
            f"SELECT {_COLUMNS} FROM duragraph.assistants WHERE assistant_id = %s", (assistant_id,)
        )
        return rows[0] if rows else None

    @staticmethod
    def resolve_id(assistant_id: str) -> str:
        """An assistant id, or a graph id meaning that graph's default assistant."""
        try:
            return str(uuid.UUID(str(assistant_id)))
        except ValueError:
            return default_assistant_id(str(assistant_id))

    async def get(self, assistant_id: str) -> dict[str, Any]:
        row = await self._row(self.resolve_id(assistant_id))
        if row is None:
            raise NotFound(f"assistant {assistant_id} does not exist")
        return assistant_json(row)

    async def _graph(self, graph_id: str) -> dict[str, Any]:
        rows = await self.store._query(
            "SELECT topology FROM duragraph.graphs WHERE graph_id = %s", (graph_id,)
        )
        if not rows:
            known = [
                r[0] for r in await self.store._query("SELECT graph_id FROM duragraph.graphs ORDER BY 1", ())
            ]
            raise NotFound(
                f"graph {graph_id!r} is not registered; registered graphs: {', '.join(known) or '(none)'}"
            )
        topology: dict[str, Any] = rows[0][0]
        return topology

    async def create(self, body: models.AssistantCreate) -> dict[str, Any]:
        await self._graph(body.graph_id)
        assistant_id = str(uuid.UUID(body.assistant_id)) if body.assistant_id else str(uuid.uuid4())
        data = {
            "assistant_id": assistant_id,
            "graph_id": body.graph_id,
            "name": body.name or body.graph_id,
            "description": body.description,
            "config": body.config or {},
            "context": body.context or {},
            "metadata": body.metadata or {},
        }
        try:
            await self.store.append(f"assistant:{assistant_id}", 0, [NewEvent(ev.ASSISTANT_CREATED, data)])
        except VersionConflict:
            existing = await self._row(assistant_id)
            if body.if_exists == "do_nothing" and existing is not None:
                return assistant_json(existing)
            raise Conflict(f"assistant {assistant_id} already exists") from None
        return await self.get(assistant_id)

    async def update(self, assistant_id: str, body: models.AssistantPatch) -> dict[str, Any]:
        """A new version with the given fields changed (the others as in the latest version)."""
        assistant_id = self.resolve_id(assistant_id)
        for _ in range(5):
            row = await self._row(assistant_id)
            if row is None:
                raise NotFound(f"assistant {assistant_id} does not exist")
            current = assistant_json(row)
            if body.graph_id is not None:
                await self._graph(body.graph_id)
            versions = await self.store._query(
                "SELECT coalesce(max(version), 0) FROM duragraph.assistant_versions WHERE assistant_id = %s",
                (assistant_id,),
            )
            stream_version = await self.store.stream_version(f"assistant:{assistant_id}")
            data = {
                "graph_id": body.graph_id or current["graph_id"],
                "name": body.name or current["name"],
                "description": body.description if body.description is not None else current["description"],
                "config": body.config if body.config is not None else current["config"],
                "context": body.context if body.context is not None else current["context"],
                "metadata": {**current["metadata"], **(body.metadata or {})},
                "version": int(versions[0][0]) + 1,
            }
            try:
                await self.store.append(
                    f"assistant:{assistant_id}", stream_version, [NewEvent(ev.ASSISTANT_UPDATED, data)]
                )
            except VersionConflict:
                continue
            return await self.get(assistant_id)
        raise Conflict(f"assistant {assistant_id} kept changing while updating it")

    async def delete(self, assistant_id: str) -> None:
        assistant_id = self.resolve_id(assistant_id)
        if await self._row(assistant_id) is None:
            raise NotFound(f"assistant {assistant_id} does not exist")
        await self.store.append(
            f"assistant:{assistant_id}",
            None,
            [NewEvent(ev.ASSISTANT_DELETED, {"assistant_id": assistant_id})],
        )

    async def set_latest(self, assistant_id: str, version: int) -> dict[str, Any]:
        assistant_id = self.resolve_id(assistant_id)
        if await self._row(assistant_id) is None:
            raise NotFound(f"assistant {assistant_id} does not exist")
        rows = await self.store._query(
            "SELECT graph_id, name, description, config, context, metadata FROM duragraph.assistant_versions "
            "WHERE assistant_id = %s AND version = %s",
            (assistant_id, version),
        )
        if not rows:
            raise NotFound(f"assistant {assistant_id} has no version {version}")
        graph_id, name, description, config, context, metadata = rows[0]
        data = {
            "graph_id": graph_id,
            "name": name,
            "description": description,
            "config": config,
            "context": context,
            "metadata": metadata,
            "version": version,
            "set_latest": True,
        }
        await self.store.append(f"assistant:{assistant_id}", None, [NewEvent(ev.ASSISTANT_UPDATED, data)])
        return await self.get(assistant_id)

    async def versions(self, assistant_id: str, body: models.AssistantVersions) -> list[dict[str, Any]]:
        assistant_id = self.resolve_id(assistant_id)
        where, params = "assistant_id = %s", [assistant_id]
        if body.metadata:
            where += " AND metadata @> %s::jsonb"
            params.append(json.dumps(body.metadata))
        rows = await self.store._query(
            "SELECT assistant_id::text, version, graph_id, config, context, metadata, created_at, name, description "
            f"FROM duragraph.assistant_versions WHERE {where} ORDER BY version DESC LIMIT %s OFFSET %s",
            (*params, body.limit, body.offset),
        )
        if not rows and await self._row(assistant_id) is None:
            raise NotFound(f"assistant {assistant_id} does not exist")
        keys = (
            "assistant_id",
            "version",
            "graph_id",
            "config",
            "context",
            "metadata",
            "created_at",
            "name",
            "description",
        )
        return [
            {k: (iso(v) if k == "created_at" else plain(v)) for k, v in zip(keys, r, strict=True)}
            for r in rows
        ]

    async def search(self, body: models.AssistantSearch) -> tuple[list[dict[str, Any]], int]:
        where, params = _filters(body.metadata, body.graph_id, body.name)
        sort = body.sort_by if body.sort_by in _SORTABLE else "created_at"
        order = "ASC" if body.sort_order == "asc" else "DESC"
        rows = await self.store._query(
            f"SELECT {_COLUMNS}, count(*) OVER () FROM duragraph.assistants WHERE {where} "
            f"ORDER BY {sort} {order}, assistant_id LIMIT %s OFFSET %s",
            (*params, body.limit, body.offset),
        )
        total = (
            int(rows[0][-1])
            if rows
            else await self.count(
                models.AssistantCount(metadata=body.metadata, graph_id=body.graph_id, name=body.name)
            )
        )
        return [assistant_json(r[:-1], body.select) for r in rows], total

    async def count(self, body: models.AssistantCount) -> int:
        where, params = _filters(body.metadata, body.graph_id, body.name)
        rows = await self.store._query(f"SELECT count(*) FROM duragraph.assistants WHERE {where}", params)
        return int(rows[0][0])

    # -- the graph -----------------------------------------------------------------------------
    async def graph(self, assistant_id: str, xray: int | bool = False) -> dict[str, Any]:
        """The topology in LangGraph's ``{nodes, edges}`` shape, with DuraGraph's layout, edge
        kinds and labels. ``xray`` draws subgraphs' inner nodes (to that depth; True: all)."""
        assistant = await self.get(assistant_id)
        topology = await self._graph(assistant["graph_id"])
        depth = 1_000 if xray is True else int(xray or 0)
        nodes, edges = _flatten(topology, "", depth)
        drawn = {"nodes": nodes, "edges": edges}
        layout = topology.get("layout") if depth == 0 else _layout(drawn)
        return {
            "graph_id": topology.get("graph_id"),
            "version": topology.get("version"),
            "nodes": nodes,
            "edges": edges,
            "layout": layout,
            "interrupt_before": topology.get("interrupt_before", []),
            "interrupt_after": topology.get("interrupt_after", []),
            "channels": topology.get("channels", {}),
        }

    async def schemas(self, assistant_id: str) -> dict[str, Any]:
        assistant = await self.get(assistant_id)
        topology = await self._graph(assistant["graph_id"])
        schemas = topology.get("schemas") or {}
        return {
            "graph_id": assistant["graph_id"],
            "input_schema": schemas.get("input_schema"),
            "output_schema": schemas.get("output_schema"),
            "state_schema": schemas.get("state_schema"),
            "config_schema": schemas.get("config_schema"),
            "context_schema": schemas.get("context_schema"),
        }

    async def subgraphs(
        self, assistant_id: str, namespace: str | None = None, recurse: bool = False
    ) -> dict[str, Any]:
        """Schemas of the graph's subgraphs by namespace (node names joined by ``|``)."""
        assistant = await self.get(assistant_id)
        topology = await self._graph(assistant["graph_id"])
        found: dict[str, Any] = {}

        def walk(topo: Mapping[str, Any], prefix: str) -> None:
            children = topo.get("subgraph_schemas") or {}
            inner = {n["id"]: n.get("subgraph") for n in topo.get("nodes", []) if n.get("subgraph")}
            for name, schemas in children.items():
                ns = f"{prefix}{name}"
                found[ns] = schemas
                if recurse and isinstance(inner.get(name), Mapping):
                    walk(inner[name], ns + "|")

        walk(topology, "")
        if namespace is not None:
            if namespace not in found:
                raise NotFound(f"graph {assistant['graph_id']!r} has no subgraph {namespace!r}")
            return {namespace: found[namespace]}
        return found


def _layout(drawn: Mapping[str, Any]) -> dict[str, Any]:
    """A layered layout of an expanded (x-ray) drawing."""
    import networkx as nx  # only here: the API does not need networkx otherwise

    from duragraph_lab.graph.layout import layered_layout

    g: nx.DiGraph[str] = nx.DiGraph()
    g.add_nodes_from(n["id"] for n in drawn["nodes"])
    g.add_edges_from((e["source"], e["target"]) for e in drawn["edges"])
    return layered_layout(g)


def _flatten(
    topology: Mapping[str, Any], prefix: str, depth: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """LangGraph-shaped nodes and edges; subgraphs expanded to ``depth`` as ``outer:inner``."""
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    expanded: dict[str, Mapping[str, Any]] = {}
    for node in topology.get("nodes", []):
        sub = node.get("subgraph")
        if depth > 0 and isinstance(sub, Mapping):
            expanded[node["id"]] = sub
            inner_nodes, inner_edges = _flatten(sub, f"{prefix}{node['id']}:", depth - 1)
            nodes += [n for n in inner_nodes if n["kind"] not in ("start", "end")]
            edges += [e for e in inner_edges if not _touches_ends(e, f"{prefix}{node['id']}:")]
            continue
        kind = node.get("kind", "node")
        nodes.append(
            {
                "id": prefix + node["id"],
                "type": "schema" if kind in ("start", "end") else "runnable",
                "data": {"name": node["id"]} if kind not in ("start", "end") else node["id"],
                "kind": kind,
                "metadata": node.get("metadata") or {},
                "retry": node.get("retry"),
                "timeout": node.get("timeout"),
            }
        )
    for edge in topology.get("edges", []):
        for source in _endpoints(edge["source"], expanded, prefix, "__end__"):
            for target in _endpoints(edge["target"], expanded, prefix, "__start__"):
                out = {
                    "source": source,
                    "target": target,
                    "conditional": bool(edge.get("conditional")),
                    "kind": edge.get("kind", "static"),
                }
                if edge.get("label") is not None and edge.get("conditional"):
                    out["data"] = edge["label"]
                edges.append(out)
    return nodes, edges


def _endpoints(name: str, expanded: Mapping[str, Mapping[str, Any]], prefix: str, side: str) -> list[str]:
    """An edge to (from) an expanded subgraph goes to its entry (from its exit) nodes."""
    sub = expanded.get(name)
    if sub is None:
        return [prefix + name]
    edges = sub.get("edges", [])
    if side == "__start__":
        return [
            f"{prefix}{name}:{e['target']}"
            for e in edges
            if e["source"] == "__start__" and e["target"] != "__end__"
        ]
    return [
        f"{prefix}{name}:{e['source']}"
        for e in edges
        if e["target"] == "__end__" and e["source"] != "__start__"
    ]


def _touches_ends(edge: Mapping[str, Any], prefix: str) -> bool:
    return edge["source"] in (prefix + "__start__", prefix + "__end__") or edge["target"] in (
        prefix + "__start__",
        prefix + "__end__",
    )
