"""Compiled graph specifications: what the engine executes and what the UI draws."""

from __future__ import annotations

import copy
import hashlib
import inspect
import json
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from duragraph_lab.graph.schema import state_json_schema, with_property_order
from duragraph_lab.graph.types import END, START, RetryPolicy

if TYPE_CHECKING:
    from duragraph_lab.graph.compiled import CompiledGraph


def takes_config(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` wants the run config as a second argument: it has a parameter named
    ``config``, or a second positional parameter without a default (``def node(state, cfg)``).
    A defaulted parameter (``lambda s, i=i: ...``) is not a config parameter."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    if any(p.name == "config" for p in params):
        return True
    required = [
        p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    return len(required) >= 2


def is_async_callable(fn: Callable[..., Any]) -> bool:
    call = type(fn).__call__ if not inspect.isfunction(fn) and not inspect.ismethod(fn) else None
    return inspect.iscoroutinefunction(fn) or (call is not None and inspect.iscoroutinefunction(call))


def code_fingerprint(fn: Callable[..., Any] | None) -> str:
    """Changes when a function's code changes (bytecode and constants, not just its name)."""
    if fn is None:
        return ""
    code = getattr(fn, "__code__", None) or getattr(type(fn).__call__, "__code__", None)
    if code is None:
        return getattr(fn, "__qualname__", type(fn).__qualname__)
    return hashlib.sha256(
        code.co_code + repr(code.co_consts).encode() + repr(code.co_names).encode()
    ).hexdigest()[:16]


@dataclass(slots=True)
class NodeSpec:
    name: str
    fn: Callable[..., Any] | None
    subgraph: CompiledGraph | None = None
    is_async: bool = False
    takes_config: bool = False
    retry: tuple[RetryPolicy, ...] = ()
    timeout: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    destinations: tuple[str, ...] = ()  # where Command(goto=...) may go (declared)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.name,
            "kind": "subgraph" if self.subgraph is not None else "node",
            "retry": self.retry[0].to_json() if self.retry else None,
            "timeout": self.timeout,
            "metadata": self.metadata,
        }
        if self.subgraph is not None:
            out["subgraph"] = self.subgraph.spec.topology()
        return out


@dataclass(slots=True)
class BranchSpec:
    """A conditional edge: ``router(state)`` picks the next node(s) after ``source``."""

    source: str
    router: Callable[..., Any]
    path_map: dict[Hashable, str] | None
    is_async: bool = False
    takes_config: bool = False
    #: Targets declared by the router's return annotation (``-> Literal["a", "b"]``), used for
    #: drawing and validation when there is no path map; the router's result is not checked.
    declared: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return getattr(self.router, "__name__", type(self.router).__name__)

    @property
    def anywhere(self) -> bool:
        """Nothing says where the router may go (no path map, no ``Literal`` annotation)."""
        return self.path_map is None and not self.declared

    def targets(self, all_nodes: list[str]) -> list[tuple[str, str]]:
        """``(label, target)`` pairs this branch may take: its path map, else its declared
        targets, else every node and END (:attr:`anywhere`)."""
        if self.path_map is not None:
            return [(str(label), target) for label, target in self.path_map.items()]
        if self.declared:
            return [(target, target) for target in self.declared]
        return [(target, target) for target in [*all_nodes, END]]


@dataclass(slots=True)
class GraphSpec:
    name: str
    nodes: dict[str, NodeSpec]
    edges: list[tuple[str, str]]
    joins: list[tuple[tuple[str, ...], str]]
    branches: list[BranchSpec]
    channels: dict[str, str]
    reducers: dict[str, Callable[[Any, Any], Any]]
    interrupt_before: tuple[str, ...] = ()
    interrupt_after: tuple[str, ...] = ()
    state_schema: Any = None
    layout: dict[str, Any] = field(default_factory=dict)

    def topology(self) -> dict[str, Any]:
        """Nodes, edges (static, join, conditional with labels, Command destinations), channels
        and interrupt points: everything needed to draw the graph, without code."""
        node_names = list(self.nodes)
        edges: list[dict[str, Any]] = [
            {"source": s, "target": t, "kind": "static", "conditional": False} for s, t in self.edges
        ]
        for sources, target in self.joins:
            edges += [{"source": s, "target": target, "kind": "join", "conditional": False} for s in sources]
        for branch in self.branches:
            edges += [
                {
                    "source": branch.source,
                    "target": target,
                    "kind": "conditional",
                    "conditional": True,
                    "label": label,
                    "router": branch.name,
                    # True: nothing says where the router may go, so it may go to any node;
                    # the renderer draws these as one "may go anywhere" edge.
                    "inferred": branch.anywhere,
                }
                for label, target in branch.targets(node_names)
            ]
        for node in self.nodes.values():
            edges += [
                {"source": node.name, "target": d, "kind": "command", "conditional": True, "label": d}
                for d in node.destinations
            ]
        return {
            "graph_id": self.name,
            "nodes": [
                {"id": START, "kind": "start"},
                *(n.to_json() for n in self.nodes.values()),
                {"id": END, "kind": "end"},
            ],
            "edges": edges,
            "channels": dict(self.channels),
            "interrupt_before": list(self.interrupt_before),
            "interrupt_after": list(self.interrupt_after),
        }

    @property
    def version(self) -> str:
        """Changes when the topology or any node's or router's code changes."""
        material = {
            "topology": self.topology(),
            "code": {
                n.name: n.subgraph.version if n.subgraph is not None else code_fingerprint(n.fn)
                for n in self.nodes.values()
            },
            "routers": [code_fingerprint(b.router) for b in self.branches],
            "reducers": {k: code_fingerprint(f) for k, f in self.reducers.items()},
            # A changed state type (a key's type, not just its name) is a new version too.
            "schema": self.schemas()["state_schema"],
        }
        return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def schemas(self) -> dict[str, Any]:
        """JSON Schemas as LangGraph's ``GET /assistants/{id}/schemas`` serves them (without
        ``graph_id``). Input and output are the state schema (no separate input/output types
        yet); there is no config or context schema. Not part of the topology: it does not change
        the version."""
        state = with_property_order(state_json_schema(self.state_schema, self.channels))
        return {
            "input_schema": copy.deepcopy(state),
            "output_schema": copy.deepcopy(state),
            "state_schema": state,
            "config_schema": None,
            "context_schema": None,
        }

    def subgraph_schemas(self) -> dict[str, dict[str, Any]]:
        """The :meth:`schemas` of each subgraph node, by node name (direct children only)."""
        return {n.name: n.subgraph.spec.schemas() for n in self.nodes.values() if n.subgraph is not None}

    def to_json(self) -> dict[str, Any]:
        return {
            **self.topology(),
            "version": self.version,
            "layout": self.layout,
            "schemas": self.schemas(),
            "subgraph_schemas": self.subgraph_schemas(),
        }

    def out_edges(self, node: str) -> list[str]:
        return [t for s, t in self.edges if s == node]

    def branches_from(self, node: str) -> list[BranchSpec]:
        return [b for b in self.branches if b.source == node]

    def joins_waiting_on(self, node: str) -> list[tuple[tuple[str, ...], str]]:
        return [(sources, target) for sources, target in self.joins if node in sources]


def join_key(sources: tuple[str, ...], target: str) -> str:
    return f"join:{'+'.join(sources)}->{target}"
