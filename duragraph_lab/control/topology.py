"""A registered graph's topology as the API shows it: LangGraph's ``{nodes, edges}`` drawing (with
subgraphs expanded to a depth), the graph's schemas, and its subgraphs' schemas by namespace.

Pure functions of the ``topology`` a ``graph_registered`` event recorded
(:meth:`duragraph_lab.graph.spec.GraphSpec.to_json`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from duragraph_lab.domain.errors import NotFound

#: ``xray=True``: every level of subgraphs.
_ALL_LEVELS = 1_000


#: The keys of an edge in LangGraph's drawing (``langchain_core.runnables.graph.Edge``): clients
#: such as ``RemoteGraph.get_graph`` build ``Edge(**edge)`` and refuse any other key.
LANGGRAPH_EDGE_KEYS = ("source", "target", "data", "conditional")


def drawing(topology: Mapping[str, Any], xray: int | bool = False, details: bool = False) -> dict[str, Any]:
    """The topology in LangGraph's ``{nodes, edges}`` shape, with DuraGraph's layout. ``xray``
    draws subgraphs' inner nodes (to that depth; True: all). ``details`` adds to each edge what
    the Lab's drawings use (``kind``, ``router``, ``inferred``); without it edges have LangGraph's
    keys only."""
    depth = _ALL_LEVELS if xray is True else int(xray or 0)
    nodes, edges = _flatten(topology, "", depth)
    layout = topology.get("layout") if depth == 0 else _layout(nodes, edges)
    if not details:
        edges = [{k: e[k] for k in LANGGRAPH_EDGE_KEYS if k in e} for e in edges]
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


def schemas(graph_id: str, topology: Mapping[str, Any]) -> dict[str, Any]:
    found = topology.get("schemas") or {}
    return {
        "graph_id": graph_id,
        "input_schema": found.get("input_schema"),
        "output_schema": found.get("output_schema"),
        "state_schema": found.get("state_schema"),
        "config_schema": found.get("config_schema"),
        "context_schema": found.get("context_schema"),
    }


def subgraph_schemas(
    graph_id: str, topology: Mapping[str, Any], namespace: str | None = None, recurse: bool = False
) -> dict[str, Any]:
    """Schemas of the graph's subgraphs by namespace (node names joined by ``|``): the first
    level, every level with ``recurse``, or only ``namespace`` (NotFound if it has none)."""
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
            raise NotFound(f"graph {graph_id!r} has no subgraph {namespace!r}")
        return {namespace: found[namespace]}
    return found


def _layout(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]) -> dict[str, Any]:
    """A layered layout of an expanded (x-ray) drawing."""
    from duragraph_lab.graph.layout import drawn_graph, layered_layout

    return layered_layout(drawn_graph([n["id"] for n in nodes], edges))


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
                if edge.get("inferred"):
                    out["inferred"] = True  # the router declares nothing: it may go anywhere
                if edge.get("router"):
                    out["router"] = edge["router"]
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
