"""The StateGraph builder API, reducers and compilation to a GraphSpec (see docs/engine.md)."""

from duragraph_lab.domain.reducers import add_messages
from duragraph_lab.graph.compiled import CompiledGraph
from duragraph_lab.graph.context import NodeContext, get_context, get_stream_writer, interrupt
from duragraph_lab.graph.state_graph import GraphValidationError, MessagesState, StateGraph
from duragraph_lab.graph.types import END, START, Command, GraphInterrupt, Interrupt, RetryPolicy, Send

__all__ = [
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
]
