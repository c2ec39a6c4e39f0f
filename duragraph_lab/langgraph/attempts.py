"""The attempts of a LangGraph run's tasks, as the native engine records them.

LangGraph retries a task whose node has a ``RetryPolicy`` inside its runner: nothing of the
failed attempts reaches its stream modes or its checkpoints. Each attempt is one invocation of
the node's runnable, so a callback handler on the run's config sees them: ``on_chain_start``
(the task's id is in the metadata's ``langgraph_checkpoint_ns``, ``node:task_id``, after its
subgraph's ``parent:task_id|`` for a subgraph's task), then
``on_chain_error`` or ``on_chain_end``. A failure (with the calls the attempt made, taken from
the run's :class:`~duragraph_lab.langgraph.model_calls.CallRecorder` when it raised) is written
as ``node_failed`` once its fate is
known: when the next attempt of the task starts (``will_retry``, ``retry_in`` the wait LangGraph
made), or when the run fails (:meth:`TaskAttempts.last_failures`, not retried).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import AsyncCallbackHandler

from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import NewEvent
from duragraph_lab.engine.errors import error_record

if TYPE_CHECKING:
    from duragraph_lab.langgraph.model_calls import CallRecorder


@dataclass(slots=True)
class _Attempt:
    task: str
    node: str
    step: int
    number: int
    started_at: float
    #: LangGraph's namespace of the task ("node:task_id", "parent:id|node:task_id")
    checkpoint_ns: str


@dataclass(slots=True)
class _Failure:
    attempt: _Attempt
    error: dict[str, Any]
    finished_at: float
    #: the model and tool calls the attempt made (see model_calls.py)
    calls: tuple[list[dict[str, Any]], list[dict[str, Any]]] = ([], [])

    def event(self, *, will_retry: bool, retry_in: float) -> NewEvent:
        a = self.attempt
        from duragraph_lab.langgraph.executor import space

        return ev.node_failed(
            step=a.step,
            task=a.task,
            node=a.node,
            attempt=a.number,
            error=self.error,
            will_retry=will_retry,
            retry_in=retry_in,
            started_at=a.started_at,
            finished_at=self.finished_at,
            # A subgraph's task: under the subgraph's namespace, as its node_completed.
            ns=space(a.checkpoint_ns.split("|")[:-1]),
            model_calls=self.calls[0],
            tool_calls=self.calls[1],
        )


class TaskAttempts(AsyncCallbackHandler):
    """Counts the attempts of the graph's tasks (its subgraphs' too) and writes the failed ones
    (see the module)."""

    # Awaited in turn rather than through asyncio.gather (a task per handler per event, on every
    # node run): its work is a few dict operations, and a write only when a task is retried.
    run_inline = True

    @property
    def ignore_llm(self) -> bool:  # chains only: a task's attempt is its node's runnable
        return True

    @property
    def ignore_chat_model(self) -> bool:
        return True

    @property
    def ignore_retriever(self) -> bool:
        return True

    @property
    def ignore_agent(self) -> bool:
        return True

    @property
    def ignore_retry(self) -> bool:
        return True

    @property
    def ignore_custom_event(self) -> bool:
        return True

    def __init__(
        self, write: Callable[[Sequence[NewEvent]], Awaitable[object]], calls: CallRecorder | None = None
    ) -> None:
        super().__init__()
        self.write = write
        #: where the attempts' model and tool calls are kept, taken into their node_failed
        self.calls = calls
        #: callback run id of a running attempt -> the attempt
        self._running: dict[uuid.UUID, _Attempt] = {}
        #: task id -> attempts started
        self.attempts: dict[str, int] = {}
        #: task id -> its last failure, not yet known to be retried
        self._failed: dict[str, _Failure] = {}

    def attempt(self, task_id: str) -> int:
        """The number of the task's current (last started) attempt, 1 if none was seen."""
        return self.attempts.get(task_id, 1)

    def executed(self, task_id: str) -> bool:
        """Whether an attempt of the task was seen: LangGraph ran its node (a task whose writes
        came from the graph's cache has none)."""
        return task_id in self.attempts

    async def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        tags: list[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        node = (metadata or {}).get("langgraph_node")
        ns = str((metadata or {}).get("langgraph_checkpoint_ns") or "")
        # A task's own runnable: named after its node, its namespace ending in "node:task_id",
        # and not something the task calls (which inherits the task's metadata). A subgraph's
        # tasks run inside their parent's task, under a longer namespace.
        parent = self._running.get(parent_run_id) if parent_run_id is not None else None
        last = ns.rsplit("|", 1)[-1]
        if node is None or kwargs.get("name") != node or not last.startswith(f"{node}:"):
            return
        if parent is not None and parent.checkpoint_ns == ns:
            return
        task_id = last.split(":", 1)[1]
        number = self.attempts.get(task_id, 0) + 1
        self.attempts[task_id] = number
        now = time.time()
        step = int((metadata or {}).get("langgraph_step", -1))
        self._running[run_id] = _Attempt(task_id, str(node), step, number, now, ns)
        failed = self._failed.pop(task_id, None)
        if failed is not None:
            await self.write([failed.event(will_retry=True, retry_in=max(0.0, now - failed.finished_at))])

    async def on_chain_error(
        self,
        error: BaseException,
        *,
        run_id: uuid.UUID,
        parent_run_id: uuid.UUID | None = None,
        **kwargs: Any,
    ) -> None:
        attempt = self._running.pop(run_id, None)
        if attempt is None:
            return
        from langgraph.errors import GraphBubbleUp

        if isinstance(error, GraphBubbleUp):
            return  # an interrupt or a Command for the parent graph: not a failure
        calls = self.calls.take(attempt.task) if self.calls is not None else ([], [])
        self._failed[attempt.task] = _Failure(attempt, error_record(error), time.time(), calls)

    async def on_chain_end(
        self, outputs: Any, *, run_id: uuid.UUID, parent_run_id: uuid.UUID | None = None, **kwargs: Any
    ) -> None:
        self._running.pop(run_id, None)

    def last_failures(self) -> list[NewEvent]:
        """The failures not followed by another attempt (the run failed with them)."""
        failed, self._failed = self._failed, {}
        return [f.event(will_retry=False, retry_in=0.0) for f in failed.values()]
