"""Registering graphs: their topology goes into the log, so the API and the UI can show a graph
even when no worker serving it is up. Registering ensures the graph's default assistant
(:meth:`Assistants.ensure_default`): a worker creates it through the control plane, with the
same event an API request would append.

Both engines register the same way: a native graph describes itself
(:meth:`GraphDescription.of`), a LangGraph graph is described from ``compiled.get_graph()`` by
:mod:`duragraph_lab.langgraph.topology`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from duragraph_lab.control.assistants import Assistants
from duragraph_lab.control.ports import EventStore
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.assistants import graph_stream
from duragraph_lab.domain.errors import VersionConflict
from duragraph_lab.graph.compiled import CompiledGraph

#: Which engine executes a graph's runs (``topology["engine"]``; absent means native).
NATIVE = "native"
LANGGRAPH = "langgraph"


@dataclass(frozen=True, slots=True)
class GraphDescription:
    """What a ``graph_registered`` event records of a graph: everything needed to draw it and to
    start its runs, without its code."""

    graph_id: str
    #: Changes when the topology or the code changes.
    version: str
    #: ``GraphSpec.to_json()``'s shape: nodes, edges, channels, interrupt points, version,
    #: layout, schemas, subgraph schemas (and ``engine`` for LangGraph graphs).
    topology: dict[str, Any]
    #: State key → reducer kind.
    channels: dict[str, str]
    nodes: list[str]
    engine: str = NATIVE
    #: For the default assistant (a ``langgraph.json`` entry's ``description``).
    description: str | None = None

    @classmethod
    def of(cls, graph: CompiledGraph) -> GraphDescription:
        spec = graph.spec
        return cls(spec.name, spec.version, spec.to_json(), dict(spec.channels), list(spec.nodes))


@dataclass(frozen=True, slots=True)
class Registration:
    graph_id: str
    version: str
    #: The topology was recorded now (it was new, or differed from the last one recorded).
    changed: bool
    assistant_id: str


class GraphRegistry:
    def __init__(self, events: EventStore, assistants: Assistants) -> None:
        self.events = events
        self.assistants = assistants

    async def register(self, graph: CompiledGraph | GraphDescription, *, registered_by: str) -> Registration:
        """Record the graph's topology (when it changed) and ensure its default assistant."""
        found = graph if isinstance(graph, GraphDescription) else GraphDescription.of(graph)
        # The default assistant first: once the graph is seen registered, a run can be created by
        # its graph id (which names that assistant) at once, with no moment in between where the
        # graph is listed but "not found".
        assistant_id = await self.assistants.ensure_default(found.graph_id, found.description)
        stream = graph_stream(found.graph_id)
        history = await self.events.read_stream(stream)
        registered = next((e.data for e in reversed(history) if e.type == ev.GRAPH_REGISTERED), None)
        changed = registered is None or registered.get("version") != found.version
        if changed:
            registration = ev.graph_registered(
                graph_id=found.graph_id,
                version=found.version,
                topology=found.topology,
                channels=found.channels,
                nodes=found.nodes,
                registered_by=registered_by,
                engine=None if found.engine == NATIVE else found.engine,
            )
            # Another worker registering at the same moment wins the race; its topology is the same.
            with contextlib.suppress(VersionConflict):
                await self.events.append(stream, len(history), [registration])
        return Registration(found.graph_id, found.version, changed, assistant_id)
