"""``StateGraph``: build an agent graph the way LangGraph users already know, then ``compile()``.

Everything that can be checked without running the graph is checked at compile time, with an
error that names the node, edge or state key at fault (:class:`GraphValidationError`).
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypedDict, get_args, get_origin

from duragraph_lab.domain import reducers as red
from duragraph_lab.domain.errors import DuraGraphError
from duragraph_lab.graph.compiled import CompiledGraph
from duragraph_lab.graph.layout import drawn_graph, layered_layout
from duragraph_lab.graph.spec import BranchSpec, GraphSpec, NodeSpec, is_async_callable, takes_config
from duragraph_lab.graph.types import END, START, Command, RetryPolicy

if TYPE_CHECKING:
    import networkx as nx

_RESERVED_CHARS = ("|", ":", "/")


class GraphValidationError(DuraGraphError, ValueError):
    """The graph is malformed; the message names what is wrong and where."""

    code = "graph_invalid"


class MessagesState(TypedDict):
    """A ready-made state: a list of chat messages merged by id."""

    messages: Annotated[list[Any], red.add_messages]


def _channels(schema: Any) -> tuple[dict[str, str], dict[str, Callable[[Any, Any], Any]]]:
    try:
        hints = typing.get_type_hints(schema, include_extras=True)
    except Exception as err:
        raise GraphValidationError(f"cannot read the state schema {schema!r}: {err}") from None
    if not hints:
        raise GraphValidationError(
            f"state schema {getattr(schema, '__name__', schema)!r} declares no keys; use a TypedDict"
        )
    kinds: dict[str, str] = {}
    custom: dict[str, Callable[[Any, Any], Any]] = {}
    for key, hint in hints.items():
        reducer = None
        if get_origin(hint) is Annotated:
            reducer = next((m for m in hint.__metadata__ if callable(m)), None)
            if reducer is None and hint.__metadata__:
                raise GraphValidationError(
                    f"state key {key!r}: Annotated metadata {hint.__metadata__!r} is not a reducer function"
                )
        if reducer is None:
            kinds[key] = red.REPLACE
            continue
        try:
            inspect.signature(reducer).bind(None, None)
        except TypeError:
            raise GraphValidationError(
                f"state key {key!r}: reducer {getattr(reducer, '__name__', reducer)!r} must accept two "
                "positional arguments (current value, update)"
            ) from None
        except ValueError:
            pass  # a builtin without a readable signature: trust it
        kind = red.reducer_name(reducer)
        kinds[key] = kind
        if kind == red.CUSTOM:
            custom[key] = reducer
    return kinds, custom


def _check_name(name: Any, what: str = "node") -> str:
    if not isinstance(name, str) or not name:
        raise GraphValidationError(f"{what} names must be non-empty strings, got {name!r}")
    if name in (START, END):
        raise GraphValidationError(f"{name!r} is reserved; it cannot be a {what} name")
    bad = [c for c in _RESERVED_CHARS if c in name]
    if bad:
        raise GraphValidationError(f"{what} name {name!r} contains reserved character {bad[0]!r}")
    return name


def _command_destinations(fn: Callable[..., Any]) -> tuple[str, ...]:
    """Destinations declared by a return annotation ``-> Command[Literal["a", "b"]]``."""
    try:
        hint = typing.get_type_hints(fn).get("return")
    except Exception:
        return ()
    found: list[str] = []
    options = get_args(hint) if get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    for candidate in options:
        if get_origin(candidate) is Command or getattr(candidate, "__origin__", None) is Command:
            for arg in get_args(candidate):
                if get_origin(arg) is Literal:
                    found += [a for a in get_args(arg) if isinstance(a, str)]
    return tuple(found)


def _literal_targets(fn: Callable[..., Any]) -> tuple[str, ...]:
    """Targets declared by a router's return annotation: ``-> Literal["a", "b"]``, also inside a
    union (``Literal["a"] | None``, ``Literal["a"] | Literal["b"]``); ``None`` is not a target.
    LangGraph itself reads only a bare ``Literal``; a union there draws the router as going
    anywhere. Any other annotation (or none) declares nothing."""
    target = fn if inspect.isfunction(fn) or inspect.ismethod(fn) else type(fn).__call__
    try:
        hint = typing.get_type_hints(target).get("return")
    except Exception:
        return ()
    options = get_args(hint) if get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    found: list[str] = []
    for candidate in options:
        if get_origin(candidate) is Literal:
            found += [a for a in get_args(candidate) if isinstance(a, str) and a not in found]
        elif candidate is not type(None):
            return ()  # e.g. Literal["a"] | str: the router may go elsewhere too
    return tuple(found)


class StateGraph:
    """A graph of nodes over a shared state (a ``TypedDict``; ``Annotated[..., reducer]`` keys
    combine writes, other keys keep the last value)."""

    def __init__(self, state_schema: Any) -> None:
        self.state_schema = state_schema
        self.channels, self.custom_reducers = _channels(state_schema)
        self.nodes: dict[str, NodeSpec] = {}
        self.edges: list[tuple[str, str]] = []
        self.joins: list[tuple[tuple[str, ...], str]] = []
        self.branches: list[BranchSpec] = []
        self._compiled = False

    # -- building ----------------------------------------------------------------------------
    def add_node(
        self,
        node: str | Callable[..., Any] | CompiledGraph,
        action: Callable[..., Any] | CompiledGraph | None = None,
        *,
        retry: RetryPolicy | Sequence[RetryPolicy] | None = None,
        timeout: float | None = None,
        metadata: Mapping[str, Any] | None = None,
        destinations: Sequence[str] | None = None,
    ) -> StateGraph:
        """Add a node: ``add_node("name", fn)``, ``add_node(fn)`` (named after the function), or
        ``add_node("name", compiled_subgraph)``. ``fn(state)`` or ``fn(state, config)``, sync or
        async, returns a dict of state updates, a ``Command``, or ``None``."""
        name: Any = node
        if action is None:
            action = node  # type: ignore[assignment]
            name = getattr(node, "__name__", None) or getattr(node, "name", None)
        name = _check_name(name)
        if name in self.nodes:
            raise GraphValidationError(f"node {name!r} is already in the graph")
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0
        ):
            raise GraphValidationError(f"node {name!r}: timeout must be a positive number of seconds")
        policies = _retry_policies(name, retry)
        if isinstance(action, CompiledGraph):
            spec = NodeSpec(
                name=name,
                fn=None,
                subgraph=action,
                is_async=True,
                retry=policies,
                timeout=float(timeout) if timeout else None,
                metadata=dict(metadata or {}),
                destinations=tuple(destinations or ()),
            )
        elif callable(action):
            _check_node_signature(name, action)
            declared = tuple(destinations or ()) or _command_destinations(action)
            spec = NodeSpec(
                name=name,
                fn=action,
                is_async=is_async_callable(action),
                takes_config=takes_config(action),
                retry=policies,
                timeout=float(timeout) if timeout else None,
                metadata=dict(metadata or {}),
                destinations=declared,
            )
        else:
            raise GraphValidationError(
                f"node {name!r}: expected a function or a compiled graph, got {action!r}"
            )
        self.nodes[name] = spec
        return self

    def add_edge(self, start: str | Sequence[str], end: str) -> StateGraph:
        """``add_edge(a, b)``: b runs after a. ``add_edge([a, b], c)``: c runs once both a and b
        have run (a join)."""
        if isinstance(start, str):
            self.edges.append((start, end))
        else:
            sources = tuple(start)
            if not sources:
                raise GraphValidationError(f"add_edge([], {end!r}): a join needs at least one source")
            if START in sources:
                raise GraphValidationError("START cannot be part of a join")
            self.joins.append((sources, end))
        return self

    def add_conditional_edges(
        self,
        source: str,
        path: Callable[..., Any],
        path_map: Mapping[Hashable, str] | Sequence[str] | None = None,
    ) -> StateGraph:
        """After ``source``, ``path(state)`` returns the next node(s): a name, a list of names,
        ``Send``s, or ``END``; with ``path_map`` its results are looked up there (a list maps each
        name to itself)."""
        if not callable(path):
            raise GraphValidationError(f"add_conditional_edges({source!r}, ...): the router must be callable")
        mapping: dict[Hashable, str] | None
        if path_map is None:
            mapping = None
        elif isinstance(path_map, Mapping):
            mapping = dict(path_map)
        else:
            mapping = {name: name for name in path_map}
        self.branches.append(
            BranchSpec(
                source=source,
                router=path,
                path_map=mapping,
                is_async=is_async_callable(path),
                takes_config=takes_config(path),
                declared=_literal_targets(path) if mapping is None else (),
            )
        )
        return self

    def set_entry_point(self, node: str) -> StateGraph:
        return self.add_edge(START, node)

    def set_conditional_entry_point(
        self, path: Callable[..., Any], path_map: Mapping[Hashable, str] | Sequence[str] | None = None
    ) -> StateGraph:
        return self.add_conditional_edges(START, path, path_map)

    def set_finish_point(self, node: str) -> StateGraph:
        return self.add_edge(node, END)

    def __repr__(self) -> str:
        # A builder method returns the builder (to chain calls), so a notebook cell ending in one
        # shows this: what the graph is so far, not an address.
        state = getattr(self.state_schema, "__name__", repr(self.state_schema))
        edges = len(self.edges) + len(self.joins) + len(self.branches)
        nodes = ", ".join(self.nodes) or "no nodes"
        return f"<StateGraph({state}): {nodes}; {edges} edge{'s' if edges != 1 else ''}>"

    # -- compiling ---------------------------------------------------------------------------
    def compile(
        self,
        name: str | None = None,
        *,
        interrupt_before: Sequence[str] | Literal["*"] | None = None,
        interrupt_after: Sequence[str] | Literal["*"] | None = None,
        checkpointer: Any = None,
    ) -> CompiledGraph:
        """Validate and freeze the graph. ``name`` is the graph id that workers register and runs
        refer to. (``checkpointer`` is accepted for LangGraph compatibility and ignored: every
        DuraGraph run is durable.)"""
        graph_name = _check_name(name or getattr(self.state_schema, "__name__", "graph").lower(), "graph")
        before = self._interrupt_nodes(interrupt_before, "interrupt_before")
        after = self._interrupt_nodes(interrupt_after, "interrupt_after")
        self._validate()
        spec = GraphSpec(
            name=graph_name,
            nodes=dict(self.nodes),
            edges=list(self.edges),
            joins=list(self.joins),
            branches=list(self.branches),
            channels=dict(self.channels),
            reducers=dict(self.custom_reducers),
            interrupt_before=before,
            interrupt_after=after,
            state_schema=self.state_schema,
        )
        drawn = spec.topology()
        spec.layout = layered_layout(drawn_graph([n["id"] for n in drawn["nodes"]], drawn["edges"]))
        return CompiledGraph(spec)

    def _interrupt_nodes(self, value: Sequence[str] | str | None, what: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if value == "*" or (not isinstance(value, str) and "*" in value):
            return tuple(self.nodes)
        if isinstance(value, str):
            value = [value]
        unknown = [n for n in value if n not in self.nodes]
        if unknown:
            raise GraphValidationError(
                f"{what} names unknown node(s) {unknown}; nodes: {', '.join(self.nodes)}"
            )
        return tuple(value)

    def _topology_graph(self) -> nx.DiGraph[str]:
        """Every path the graph may take. A router that declares no targets may go anywhere."""
        import networkx as nx  # imported when compiling, not whenever this package is imported

        g: nx.DiGraph[str] = nx.DiGraph()
        g.add_nodes_from([START, *self.nodes, END])
        g.add_edges_from(self.edges)
        for sources, target in self.joins:
            g.add_edges_from((s, target) for s in sources)
        names = list(self.nodes)
        for branch in self.branches:
            g.add_edges_from((branch.source, t) for _, t in branch.targets(names))
        for node in self.nodes.values():
            g.add_edges_from((node.name, d) for d in node.destinations)
        return g

    def _validate(self) -> None:
        known = set(self.nodes)
        for source, target in self.edges:
            if source == END:
                raise GraphValidationError(f"add_edge({source!r}, {target!r}): END has no outgoing edges")
            if target == START:
                raise GraphValidationError(f"add_edge({source!r}, {target!r}): nothing can lead to START")
            if source != START and source not in known:
                raise GraphValidationError(f"add_edge({source!r}, {target!r}): unknown node {source!r}")
            if target != END and target not in known:
                raise GraphValidationError(f"add_edge({source!r}, {target!r}): unknown node {target!r}")
        for sources, target in self.joins:
            for s in sources:
                if s not in known:
                    raise GraphValidationError(f"add_edge({list(sources)!r}, {target!r}): unknown node {s!r}")
            if target != END and target not in known:
                raise GraphValidationError(
                    f"add_edge({list(sources)!r}, {target!r}): unknown node {target!r}"
                )
        for branch in self.branches:
            if branch.source != START and branch.source not in known:
                raise GraphValidationError(
                    f"add_conditional_edges({branch.source!r}, {branch.name}): unknown node {branch.source!r}"
                )
            for label, target in branch.targets(list(known)):
                if target != END and target not in known:
                    raise GraphValidationError(
                        f"add_conditional_edges({branch.source!r}, {branch.name}): path {label!r} leads to "
                        f"unknown node {target!r}"
                    )
        for node in self.nodes.values():
            for d in node.destinations:
                if d != END and d not in known:
                    raise GraphValidationError(
                        f"node {node.name!r} declares Command destination {d!r}, which is unknown"
                    )
        if not any(s == START for s, _ in self.edges) and not any(b.source == START for b in self.branches):
            raise GraphValidationError("the graph has no entry point: add add_edge(START, <node>)")
        import networkx as nx

        g = self._topology_graph()
        reachable = nx.descendants(g, START)
        unreachable = [n for n in self.nodes if n not in reachable]
        if unreachable:
            raise GraphValidationError(f"node(s) {unreachable} cannot be reached from START")
        for name in self.nodes:
            if g.out_degree(name) == 0:
                raise GraphValidationError(
                    f"node {name!r} has no outgoing edge: add add_edge({name!r}, END) to finish there "
                    "(or declare where its Command(goto=...) may go with destinations=[...])"
                )
        finishing = nx.ancestors(g, END)
        stuck = [n for n in self.nodes if n not in finishing]
        if stuck:
            raise GraphValidationError(f"node(s) {stuck} have no path to END: the run could never finish")


def _retry_policies(name: str, retry: Any) -> tuple[RetryPolicy, ...]:
    if retry is None:
        return ()
    if isinstance(retry, RetryPolicy):
        return (retry,)
    if isinstance(retry, (list, tuple)) and all(isinstance(p, RetryPolicy) for p in retry):
        return tuple(retry)
    raise GraphValidationError(
        f"node {name!r}: retry must be a RetryPolicy (or a list of them), not {retry!r}"
    )


def _check_node_signature(name: str, fn: Callable[..., Any]) -> None:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return  # builtins and some C callables: nothing to check
    for args in ((None,), (None, None)):
        try:
            sig.bind(*args)
            return
        except TypeError:
            continue
    raise GraphValidationError(
        f"node {name!r}: a node is called as fn(state) or fn(state, config), but "
        f"{getattr(fn, '__name__', fn)}{sig} cannot be"
    )
