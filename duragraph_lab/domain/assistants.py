"""The identities of graphs and assistants, derived from a graph's name.

A graph's default assistant has, as in LangGraph servers, the id ``uuid5(NAMESPACE_URL, graph_id)``
(the official SDK relies on it); a graph's registrations are the events of one stream per graph.
"""

from __future__ import annotations

import uuid

#: LangGraph servers name a graph's default assistant uuid5(NAMESPACE_GRAPH, graph_id), where
#: NAMESPACE_GRAPH is the standard URL namespace.
NAMESPACE_GRAPH = uuid.NAMESPACE_URL
_NAMESPACE_GRAPH_STREAM = uuid.UUID("9d0c6d2e-5a43-4a47-9d4f-6a1f2f0c7e11")


def default_assistant_id(graph_id: str) -> str:
    return str(uuid.uuid5(NAMESPACE_GRAPH, graph_id))


def graph_stream(graph_id: str) -> str:
    """The stream of the graph's ``graph_registered`` events."""
    return f"graph:{uuid.uuid5(_NAMESPACE_GRAPH_STREAM, graph_id)}"


def assistant_id_of(ref: str) -> str:
    """An assistant id, or a graph id meaning that graph's default assistant."""
    try:
        return str(uuid.UUID(str(ref)))
    except ValueError:
        return default_assistant_id(str(ref))
