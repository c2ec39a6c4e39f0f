"""Registering graphs: their topology goes into the log, so the API and the UI can show a graph
even when no worker serving it is up. Registering also creates the graph's default assistant,
in the same transaction (:meth:`Assistants.default_created`: the event an API request would
append).

Both engines register the same way: a native graph describes itself
(:meth:`GraphDescription.of`), a LangGraph graph is described from ``compiled.get_graph()`` by
:mod:`duragraph_lab.langgraph.topology`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from duragraph_lab.control.assistants import Assistants
from duragraph_lab.control.ports import EventStore
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.assistants import graph_stream
from duragraph_lab.domain.envelope import NewEvent
from duragraph_lab.domain.errors import VersionConflict
from duragraph_lab.graph.compiled import CompiledGraph

#: Registrations of one graph racing each other: each attempt sees the others' work.
_REGISTER_ATTEMPTS = 5

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
        """Record the graph's topology (when it changed) and ensure its default assistant, in one
        transaction: a graph seen registered can be run by its graph id (which names that
        assistant) at once, and an assistant seen is of a registered graph."""
        found = graph if isinstance(graph, GraphDescription) else GraphDescription.of(graph)
        stream = graph_stream(found.graph_id)
        assistant_id, assistant_stream, created = self.assistants.default_created(
            found.graph_id, found.description
        )
        for _ in range(_REGISTER_ATTEMPTS):
            history = await self.events.read_stream(stream)
            registered = next((e.data for e in reversed(history) if e.type == ev.GRAPH_REGISTERED), None)
            changed = registered is None or registered.get("version") != found.version
            appends: list[tuple[str, int, list[NewEvent]]] = []
            if changed:
                appends.append((stream, len(history), [self._registration(found, registered_by)]))
            # A default assistant that exists, or existed (deleted: it stays deleted), is kept.
            if await self.events.stream_version(assistant_stream) == 0:
                appends.append((assistant_stream, 0, [created]))
            if not appends:
                return Registration(found.graph_id, found.version, False, assistant_id)
            try:
                async with self.events.transaction() as tx:
                    for stream_id, expected, events in appends:
                        await tx.append(stream_id, expected, events)
            except VersionConflict:
                continue  # another worker registered it meanwhile: look again
            return Registration(found.graph_id, found.version, changed, assistant_id)
        # Workers kept registering this graph at the same moment; each of them recorded it.
        return Registration(found.graph_id, found.version, False, assistant_id)

    @staticmethod
    def _registration(found: GraphDescription, registered_by: str) -> NewEvent:
        return ev.graph_registered(
            graph_id=found.graph_id,
            version=found.version,
            topology=found.topology,
            channels=found.channels,
            nodes=found.nodes,
            registered_by=registered_by,
            engine=None if found.engine == NATIVE else found.engine,
        )
