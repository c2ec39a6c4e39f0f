"""A compiled graph: an immutable spec, its topology, and in-process execution for notebooks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from duragraph_lab.graph.spec import GraphSpec


class CompiledGraph:
    """What ``StateGraph.compile()`` returns: serve it with a worker, or run it in-process."""

    def __init__(self, spec: GraphSpec) -> None:
        self.spec = spec

    @property
    def name(self) -> str:
        """The graph id: what workers register and runs refer to."""
        return self.spec.name

    @property
    def version(self) -> str:
        return self.spec.version

    def to_json(self) -> dict[str, Any]:
        """Topology (nodes, edges, conditional edges with labels, subgraphs), channels, interrupt
        points and a layered layout."""
        return self.spec.to_json()

    def get_graph(self) -> dict[str, Any]:
        return self.spec.topology()

    # In-process execution (on an in-memory event store) for notebooks and tests. The engine is
    # imported when first needed: the graph layer does not depend on it otherwise.
    def invoke(self, input: Any, config: dict[str, Any] | None = None, **options: Any) -> dict[str, Any]:
        """Run to completion (or to an interrupt) in this process and return the state; an
        interrupted run's state has ``__interrupt__``. With ``config={"configurable":
        {"thread_id": ...}}`` successive calls continue one thread, and ``Command(resume=...)``
        resumes it."""
        from duragraph_lab.engine.local import run_sync

        return run_sync(self, input, config, **options)

    async def ainvoke(
        self, input: Any, config: dict[str, Any] | None = None, **options: Any
    ) -> dict[str, Any]:
        from duragraph_lab.engine.local import run_async

        return await run_async(self, input, config, **options)

    def __repr__(self) -> str:
        return f"<CompiledGraph {self.name!r}: {len(self.spec.nodes)} nodes, version {self.version}>"
