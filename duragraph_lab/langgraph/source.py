"""Where a LangGraph graph comes from: a compiled graph, or a factory called per run.

The contract between a project's loader (``langgraph.json``, a ``module:attr`` reference, a
notebook) and the engine that executes runs: :class:`GraphSource` gives the engine a compiled
graph for one run (or one read), with DuraGraph's checkpointer and store attached, exactly as
LangGraph Platform would (it always overrides a graph's own checkpointer and store).
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any, Literal, Protocol

#: Why a graph is built (LangGraph Platform's access contexts): a factory may build differently
#: for a run than for drawing the graph or reading a thread's state.
Access = Literal["threads.create_run", "threads.read", "threads.update", "assistants.read"]


class GraphSource(Protocol):
    """One graph id of a project."""

    graph_id: str
    description: str | None

    def build(
        self,
        config: dict[str, Any],
        *,
        access: Access,
        checkpointer: Any | None,
        store: Any | None,
        context: dict[str, Any] | None = None,
    ) -> AbstractAsyncContextManager[Any]:
        """An async context manager yielding the compiled graph (a ``langgraph`` ``Pregel``) for
        this config, with ``checkpointer`` and ``store`` attached; a factory is called (and, if it
        is a context manager, entered and left) per use, as LangGraph Platform does."""
        ...
