"""DuraGraph Lab: durable, observable agent graphs for Jupyter.

    from duragraph_lab import StateGraph, MessagesState, START, END, interrupt

The graph API is imported on first use, so that loading the Jupyter server extension (which
imports this package) stays cheap.
"""

from __future__ import annotations

import importlib
import time
from typing import Any

from duragraph_lab._version import __version__

#: When this package was first imported: the start of `duragraph-lab dev` for start-up figures.
IMPORTED_AT = time.time()

# Spelled out rather than read from duragraph_lab.graph.__all__ so that importing this package
# does not import the graph API; tests/unit/test_public_api.py keeps the two lists equal.
_GRAPH_API = {
    "END",
    "START",
    "Command",
    "CompiledGraph",
    "GraphInterrupt",
    "GraphValidationError",
    "Interrupt",
    "MessagesState",
    "NodeContext",
    "RetryPolicy",
    "Send",
    "StateGraph",
    "add_messages",
    "get_context",
    "get_stream_writer",
    "interrupt",
}

# The notebook's DataFrame views (pandas and the client are imported on first use too).
_FRAMES_API = {"events_frame", "spans_frame"}

__all__ = ["__version__", *sorted(_GRAPH_API), *sorted(_FRAMES_API)]


def __getattr__(name: str) -> Any:
    if name in _GRAPH_API:
        return getattr(importlib.import_module("duragraph_lab.graph"), name)
    if name in _FRAMES_API:
        return getattr(importlib.import_module("duragraph_lab.notebook.frames"), name)
    raise AttributeError(f"module 'duragraph_lab' has no attribute {name!r}")


def load_ipython_extension(shell: Any) -> None:
    """``%load_ext duragraph_lab``: the ``%duragraph`` magics (imported only now)."""
    from duragraph_lab.extras import check

    check(("IPython", "anywidget", "ipywidgets", "pandas", "pyarrow"), "notebook", "%load_ext duragraph_lab")
    importlib.import_module("duragraph_lab.notebook.magics").load_ipython_extension(shell)


def unload_ipython_extension(shell: Any) -> None:
    importlib.import_module("duragraph_lab.notebook.magics").unload_ipython_extension(shell)


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from duragraph_lab.api.extension import DuraGraphApp

    return [{"module": "duragraph_lab.api.extension", "app": DuraGraphApp}]
