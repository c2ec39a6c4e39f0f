"""Registering graphs: their topology goes into the log, so the API and the UI can show a graph
even when no worker serving it is up. Registering creates the graph's default assistant (whose
id, as in LangGraph servers, is ``uuid5(NAMESPACE_URL, graph_id)``) if it does not exist yet."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import NewEvent
from duragraph_lab.domain.errors import VersionConflict
from duragraph_lab.domain.ids import default_assistant_id
from duragraph_lab.graph.compiled import CompiledGraph
from duragraph_lab.store.postgres import PostgresEventStore

_NAMESPACE_GRAPH_STREAM = uuid.UUID("9d0c6d2e-5a43-4a47-9d4f-6a1f2f0c7e11")


def graph_stream(graph_id: str) -> str:
    return f"graph:{uuid.uuid5(_NAMESPACE_GRAPH_STREAM, graph_id)}"


async def register_graph(
    store: PostgresEventStore, graph: CompiledGraph, *, registered_by: str
) -> dict[str, Any]:
    """Record the graph's topology (when it changed) and ensure its default assistant."""
    spec = graph.spec
    stream = graph_stream(spec.name)
    history = await store.read_stream(stream)
    registered = next((e.data for e in reversed(history) if e.type == ev.GRAPH_REGISTERED), None)
    changed = registered is None or registered.get("version") != spec.version
    if changed:
        topology = spec.to_json()
        data = {
            "graph_id": spec.name,
            "version": spec.version,
            "topology": topology,
            "channels": spec.channels,
            "nodes": list(spec.nodes),
            "registered_by": registered_by,
        }
        # Another worker registering at the same moment wins the race; its topology is the same.
        with contextlib.suppress(VersionConflict):
            await store.append(stream, len(history), [NewEvent(ev.GRAPH_REGISTERED, data)])
    assistant_id = default_assistant_id(spec.name)
    with contextlib.suppress(VersionConflict):  # it exists already
        await store.append(
            f"assistant:{assistant_id}",
            0,
            [
                NewEvent(
                    ev.ASSISTANT_CREATED,
                    {
                        "assistant_id": assistant_id,
                        "graph_id": spec.name,
                        "name": spec.name,
                        "config": {},
                        "context": {},
                        "metadata": {"created_by": "system"},
                    },
                )
            ],
        )
    return {"graph_id": spec.name, "version": spec.version, "changed": changed, "assistant_id": assistant_id}
