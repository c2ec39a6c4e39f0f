"""Registering graphs: their topology goes into the log, so the API and the UI can show a graph
even when no worker serving it is up. Registering ensures the graph's default assistant
(:meth:`Assistants.ensure_default`): a worker creates it through the control plane, with the
same event an API request would append."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from duragraph_lab.control.assistants import Assistants
from duragraph_lab.control.ports import EventStore
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.assistants import graph_stream
from duragraph_lab.domain.errors import VersionConflict
from duragraph_lab.graph.compiled import CompiledGraph


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

    async def register(self, graph: CompiledGraph, *, registered_by: str) -> Registration:
        """Record the graph's topology (when it changed) and ensure its default assistant."""
        spec = graph.spec
        stream = graph_stream(spec.name)
        history = await self.events.read_stream(stream)
        registered = next((e.data for e in reversed(history) if e.type == ev.GRAPH_REGISTERED), None)
        changed = registered is None or registered.get("version") != spec.version
        if changed:
            registration = ev.graph_registered(
                graph_id=spec.name,
                version=spec.version,
                topology=spec.to_json(),
                channels=spec.channels,
                nodes=list(spec.nodes),
                registered_by=registered_by,
            )
            # Another worker registering at the same moment wins the race; its topology is the same.
            with contextlib.suppress(VersionConflict):
                await self.events.append(stream, len(history), [registration])
        assistant_id = await self.assistants.ensure_default(spec.name)
        return Registration(spec.name, spec.version, changed, assistant_id)
