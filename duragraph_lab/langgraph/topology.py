"""A LangGraph graph described for registration, from the graph itself.

The drawing is ``compiled.get_graph()``'s: its nodes, its edges, conditional ones (routers,
``Command`` destinations declared by a node's return annotation) drawn as branches labelled with
the router's key (or the target), and each subgraph node (``compiled.get_subgraphs()``) with the
subgraph's own topology nested, so the API's x-ray expansion and the dashboard draw them as
they draw native subgraphs. State keys come from the ``StateGraph``'s channels, each with its
reducer kind. The version changes when the drawing, the schemas or a node's code changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import warnings
from typing import Any

from duragraph_lab.control.graphs import LANGGRAPH, GraphDescription
from duragraph_lab.domain import reducers as red
from duragraph_lab.domain.errors import DuraGraphError
from duragraph_lab.graph.layout import drawn_graph, layered_layout
from duragraph_lab.graph.schema import state_json_schema, with_property_order
from duragraph_lab.graph.spec import code_fingerprint
from duragraph_lab.langgraph.source import GraphSource

_START, _END = "__start__", "__end__"


class GraphBuildError(DuraGraphError):
    """Building a graph to describe it failed (a factory raised, or returned no graph)."""

    code = "graph_build_error"


async def describe_source(source: GraphSource, store: Any | None = None) -> GraphDescription:
    """Build the graph once (a factory is called with an empty config, for ``assistants.read``,
    as LangGraph Platform does to draw it) and describe it; :class:`GraphBuildError`, one line,
    when that fails."""
    try:
        async with source.build(
            {"configurable": {}}, access="assistants.read", checkpointer=None, store=store
        ) as graph:
            return describe(source.graph_id, graph, source.description)
    except DuraGraphError:
        raise
    except Exception as err:
        text = str(err).strip().splitlines()
        reason = f"{type(err).__name__}: {text[0]}" if text else type(err).__name__
        raise GraphBuildError(f"graph {source.graph_id!r}: building it to draw it failed: {reason}") from err


def describe(graph_id: str, graph: Any, description: str | None = None) -> GraphDescription:
    """The description of a compiled LangGraph graph served as ``graph_id``."""
    topology = _topology(graph_id, graph)
    material = {
        "topology": topology,
        "schemas": topology["schemas"],
        "code": _code(graph),
    }
    version = hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()[:16]
    topology["version"] = version
    nodes = [n["id"] for n in topology["nodes"] if n["kind"] in ("node", "subgraph")]
    return GraphDescription(
        graph_id,
        version,
        topology,
        dict(topology["channels"]),
        nodes,
        engine=LANGGRAPH,
        description=description,
    )


def _topology(graph_id: str, graph: Any) -> dict[str, Any]:
    drawn = graph.get_graph()
    subgraphs: dict[str, Any] = {}
    with contextlib.suppress(Exception):  # a graph that cannot list them draws flat
        subgraphs = dict(graph.get_subgraphs())
    nodes: list[dict[str, Any]] = [{"id": _START, "kind": "start"}]
    for node in drawn.nodes.values():
        if node.id in (_START, _END):
            continue
        entry: dict[str, Any] = {
            "id": node.id,
            "kind": "subgraph" if node.id in subgraphs else "node",
            "retry": None,
            "timeout": None,
            "metadata": _jsonable(node.metadata or {}),
        }
        if node.id in subgraphs:
            entry["subgraph"] = _topology(node.id, subgraphs[node.id])
        nodes.append(entry)
    nodes.append({"id": _END, "kind": "end"})
    anywhere = _anywhere_sources(graph)
    edges: list[dict[str, Any]] = []
    for edge in drawn.edges:
        if edge.conditional:
            label = str(edge.data) if edge.data is not None else edge.target
            edges.append(
                {
                    "source": edge.source,
                    "target": edge.target,
                    "kind": "conditional",
                    "conditional": True,
                    "label": label,
                    # as in native topologies: the router declares nothing, it may go anywhere
                    "inferred": edge.source in anywhere,
                }
            )
        else:
            edges.append(
                {"source": edge.source, "target": edge.target, "kind": "static", "conditional": False}
            )
    # get_graph() cannot see where such a router goes (it draws an edge to END, or nothing):
    # say "anywhere" the way native topologies do, an inferred edge to every node and END.
    declared = {tuple(map(str, e)) for e in getattr(getattr(graph, "builder", None), "edges", ()) or ()}
    edges = [
        e
        for e in edges
        if not (e["source"] in anywhere and e["target"] == _END and not e["conditional"])
        or (e["source"], _END) in declared
    ]
    node_ids = [n["id"] for n in nodes if n["kind"] in ("node", "subgraph")]
    for source in sorted(anywhere):
        edges += [
            {
                "source": source,
                "target": target,
                "kind": "conditional",
                "conditional": True,
                "label": target,
                "inferred": True,
            }
            for target in [*node_ids, _END]
        ]
    # Static edges get_graph() did not reach (behind such a router) are still edges of the graph.
    drawn_ids = {n["id"] for n in nodes}
    present = {(e["source"], e["target"]) for e in edges}
    edges += [
        {"source": s, "target": t, "kind": "static", "conditional": False}
        for s, t in sorted(declared)
        if (s, t) not in present and s in drawn_ids and t in drawn_ids
    ]
    layout_graph = drawn_graph([n["id"] for n in nodes], edges)
    return {
        "graph_id": graph_id,
        "engine": LANGGRAPH,
        "nodes": nodes,
        "edges": edges,
        "channels": channels(graph),
        "interrupt_before": _names(getattr(graph, "interrupt_before_nodes", ())),
        "interrupt_after": _names(getattr(graph, "interrupt_after_nodes", ())),
        "layout": layered_layout(layout_graph),
        "schemas": schemas(graph),
        "subgraph_schemas": {name: schemas(sub) for name, sub in subgraphs.items()},
    }


def _anywhere_sources(graph: Any) -> set[str]:
    """Nodes with a router that declares no targets (no path map, no bare ``Literal`` return
    annotation: LangGraph's ``Branch.ends`` is None), which ``get_graph()`` draws as going to
    every node."""
    branches = getattr(getattr(graph, "builder", None), "branches", None)
    if not isinstance(branches, dict):
        return set()
    return {
        str(source)
        for source, by_name in branches.items()
        if isinstance(by_name, dict) and any(getattr(b, "ends", ()) is None for b in by_name.values())
    }


def channels(graph: Any) -> dict[str, str]:
    """State key → reducer kind (``replace``, ``add``, ``add_messages``, ``custom``)."""
    builder = getattr(graph, "builder", None)
    found = getattr(builder, "channels", None)
    if not isinstance(found, dict):
        keys = getattr(graph, "stream_channels_list", None) or []
        return {str(k): red.REPLACE for k in keys if not str(k).startswith("__")}
    out: dict[str, str] = {}
    for key, channel in found.items():
        if str(key).startswith("__"):
            continue
        operator = getattr(channel, "operator", None)
        if not callable(operator):
            out[str(key)] = red.REPLACE
        elif getattr(operator, "__name__", "") == "_add_messages" and str(
            getattr(operator, "__module__", "")
        ).startswith("langgraph."):
            out[str(key)] = red.ADD_MESSAGES  # LangGraph's add_messages, as wrapped by langgraph
        else:
            out[str(key)] = red.reducer_name(operator)
    return out


def schemas(graph: Any) -> dict[str, Any]:
    """JSON Schemas as ``GET /assistants/{id}/schemas`` serves them. Where LangGraph cannot
    produce one (pydantic refuses a ``typing.TypedDict`` state before Python 3.12), the
    builder's own type is described by DuraGraph's generator, as for native graphs, so a
    client always gets an input schema to build a form from."""

    def attempt(method: str) -> Any:
        fn = getattr(graph, method, None)
        if fn is None:
            return None
        try:
            with warnings.catch_warnings():  # get_config_jsonschema is deprecated, still served
                warnings.simplefilter("ignore")
                return _jsonable(fn())
        except Exception:
            return None

    builder = getattr(graph, "builder", None)
    keys = channels(graph)

    def ours(attribute: str) -> Any:
        state_type = getattr(builder, attribute, None)
        if builder is None or state_type is None:
            return None
        own = set(getattr(state_type, "__annotations__", {}) or {})
        return state_json_schema(state_type, {k: v for k, v in keys.items() if not own or k in own})

    return {
        "input_schema": with_property_order(attempt("get_input_jsonschema") or ours("input_schema")),
        "output_schema": with_property_order(attempt("get_output_jsonschema") or ours("output_schema")),
        "state_schema": with_property_order(attempt("get_input_jsonschema") or ours("state_schema")),
        "config_schema": attempt("get_config_jsonschema"),
        "context_schema": attempt("get_context_jsonschema"),
    }


def _code(graph: Any) -> dict[str, str]:
    """A fingerprint of each node's function, so a change of code is a new version."""
    out: dict[str, str] = {}
    for name, node in (getattr(graph, "nodes", None) or {}).items():
        bound = getattr(node, "bound", None)
        fn = getattr(bound, "func", None) or getattr(bound, "afunc", None)
        if callable(fn):
            out[str(name)] = code_fingerprint(fn)
    return out


def _names(value: Any) -> list[str]:
    if value == "*":
        return ["*"]
    return [str(v) for v in value or ()]


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
