"""What a node can ask about its own execution: ids, the stream writer, interrupts.

The engine sets a :class:`NodeContext` around every node call (a contextvar, so it follows the
node into threads started with ``asyncio.to_thread`` and into nested async calls).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from duragraph_lab.graph.types import GraphInterrupt, Interrupt

StreamEmit = Callable[[str, Any], None]


@dataclass(slots=True)
class NodeContext:
    run_id: str
    thread_id: str | None
    graph_id: str
    step: int
    node: str
    task_id: str
    attempt: int
    #: When the engine started this attempt (``time.time()``), before calling the node.
    started_at: float = 0.0
    ns: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    resume_values: list[Any] = field(default_factory=list)
    emit: StreamEmit | None = None  # ephemeral stream events: ("custom" | "messages", payload)
    # Model calls made by this task, recorded with its result so replays need no network.
    recorded_calls: list[dict[str, Any]] = field(default_factory=list)
    replay_calls: list[dict[str, Any]] | None = None  # set when re-executing from the log
    # Tool calls run by this task (llm.tools.run_tool_calls): name, call id, their own times.
    recorded_tools: list[dict[str, Any]] = field(default_factory=list)
    # With replay_calls: answer the recorded calls from the log, then call models for real (a
    # resumed node re-running up to where it was interrupted), instead of refusing more calls.
    replay_then_live: bool = False
    _interrupts_seen: int = 0

    @property
    def idempotency_key(self) -> str:
        """``run:step:node:task`` — stable across re-executions of the same task (e.g. after a
        worker crash), so side effects can be de-duplicated on it."""
        prefix = f"{self.ns}/" if self.ns else ""
        return f"{self.run_id}:{prefix}{self.step}:{self.node}:{self.task_id}"

    def next_interrupt(self, value: Any) -> Any:
        index = self._interrupts_seen
        self._interrupts_seen += 1
        if index < len(self.resume_values):
            return self.resume_values[index]
        raise GraphInterrupt(Interrupt(value=value, id=f"{self.ns}{self.task_id}:{index}"))


_current: contextvars.ContextVar[NodeContext | None] = contextvars.ContextVar("duragraph_node", default=None)


class OutsideNode(RuntimeError):
    """A node-only function was called outside of a running node."""


def current_context() -> NodeContext | None:
    """The running node's context, or ``None`` outside of a node."""
    return _current.get()


def get_context() -> NodeContext:
    """The running node's context (run id, step, idempotency key, ...)."""
    ctx = _current.get()
    if ctx is None:
        raise OutsideNode("get_context() and interrupt() only work inside a node of a running graph")
    return ctx


def interrupt(value: Any) -> Any:
    """Pause the run and surface ``value`` (e.g. a question) to the user.

    When the run is resumed with ``Command(resume=answer)``, the node runs again from its start and
    this call returns ``answer``. Several calls in one node are matched to resumes in order.
    """
    return get_context().next_interrupt(value)


def get_stream_writer() -> Callable[[Any], None]:
    """A function that streams a custom event (e.g. progress) to live subscribers; not stored."""
    ctx = _current.get()
    if ctx is None or ctx.emit is None:
        return lambda _payload: None
    emit = ctx.emit
    return lambda payload: emit("custom", payload)


def set_context(ctx: NodeContext | None) -> contextvars.Token[NodeContext | None]:
    return _current.set(ctx)


def reset_context(token: contextvars.Token[NodeContext | None]) -> None:
    _current.reset(token)
