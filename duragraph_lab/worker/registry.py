"""A worker registers the graphs it serves through the control plane
(:class:`duragraph_lab.control.graphs.GraphRegistry`): their topology, and their default
assistants, written by the same command an API request would use."""

from __future__ import annotations

from duragraph_lab.control.assistants import Assistants
from duragraph_lab.control.graphs import GraphRegistry
from duragraph_lab.store.postgres import PostgresEventStore
from duragraph_lab.store.queries.assistants import PgAssistants, PgGraphs


def graph_registry(store: PostgresEventStore) -> GraphRegistry:
    """The control plane's graph registry on the worker's store."""
    return GraphRegistry(store, Assistants(store, PgAssistants(store), PgGraphs(store)))
