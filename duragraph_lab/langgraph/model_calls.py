"""LangChain chat model and tool calls made inside a LangGraph run, recorded as model calls.

The executor gives LangGraph a :class:`CallRecorder` as a callback handler of the run; LangChain
calls it when a chat model or a tool starts and ends inside a node. Each call is kept under the
LangGraph task that made it (from ``langgraph_checkpoint_ns`` in the callback metadata; a call
made inside a subgraph is the subgraph's task's, under the subgraph's namespace) until the
executor records the event that ends that task's attempt: its ``node_completed``, which carries
them as the native engine's do, its ``node_failed`` (a failed attempt), or the interrupt it
raised (in ``run_interrupted``):

* ``model_calls``: ``{"model", "provider", "request": {"messages": <count>, "tools": [names]},
  "response_model", "response_id", "usage": {"input_tokens", "output_tokens"}, "finish_reason",
  "started_at", "finished_at"}`` (``"error"`` instead of the response fields when the call
  failed). Neither the prompt nor the answer is copied: the answer is in the task's update;
* ``tool_calls``: ``{"name", "id" (the tool call id), "started_at", "finished_at"}`` plus
  ``"error"`` when the tool raised or answered with an error status.

Times are the worker's clock (epoch seconds), as the node's own ``started_at``/``finished_at``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler


class CallRecorder(BaseCallbackHandler):
    """Collects the calls of a run's tasks; :meth:`take` hands one task's calls over."""

    # Called in the caller's thread or event loop, not in a thread pool: recording is a few dict
    # operations, and the calls of a task must be in by the time the task's result is streamed.
    run_inline = True

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open: dict[UUID, tuple[str, str, dict[str, Any]]] = {}  # run id → (task, kind, call)
        self._models: dict[str, list[dict[str, Any]]] = {}
        self._tools: dict[str, list[dict[str, Any]]] = {}

    # Only model and tool events are wanted: the others (every node and runnable of the graph
    # is a chain) are not dispatched to this handler at all.
    @property
    def ignore_chain(self) -> bool:
        return True

    @property
    def ignore_retriever(self) -> bool:
        return True

    @property
    def ignore_retry(self) -> bool:
        return True

    @property
    def ignore_custom_event(self) -> bool:
        return True

    def take(self, task_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The finished model and tool calls of ``task_id`` (in start order), forgotten here."""
        with self._lock:
            return self._models.pop(task_id, []), self._tools.pop(task_id, [])

    # -- chat models -------------------------------------------------------------------------------
    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[Any]],
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        task = _task_of(metadata)
        if task is None:
            return  # a model called outside any task (a graph factory, say): not a node's call
        meta = metadata or {}
        params = kwargs.get("invocation_params") or {}
        model = meta.get("ls_model_name") or params.get("model") or params.get("model_name")
        call: dict[str, Any] = {
            "model": str(model or (serialized or {}).get("name") or params.get("_type") or "unknown"),
            "provider": meta.get("ls_provider"),
            "request": {
                "messages": len(messages[0]) if messages else 0,
                "tools": _tool_names(params.get("tools")),
            },
            "started_at": time.time(),
        }
        self._start(run_id, task, "model", call)

    def on_llm_end(self, response: Any, *, run_id: UUID, **kwargs: Any) -> None:
        opened = self._finish(run_id)
        if opened is None:
            return
        task, kind, call = opened
        if kind != "model":
            return
        call.update(_response_details(response))
        self._keep(self._models, task, call)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        opened = self._finish(run_id)
        if opened is not None and opened[1] == "model":
            opened[2]["error"] = f"{type(error).__name__}: {error}"
            self._keep(self._models, opened[0], opened[2])

    # -- tools -------------------------------------------------------------------------------------
    def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        task = _task_of(metadata)
        if task is None:
            return
        call: dict[str, Any] = {
            "name": str(kwargs.get("name") or (serialized or {}).get("name") or "tool"),
            "id": kwargs.get("tool_call_id"),
            "started_at": time.time(),
        }
        self._start(run_id, task, "tool", call)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        opened = self._finish(run_id)
        if opened is None or opened[1] != "tool":
            return
        task, _, call = opened
        if call.get("id") is None and getattr(output, "tool_call_id", None):
            call["id"] = str(output.tool_call_id)
        if getattr(output, "status", None) == "error":
            call["error"] = str(getattr(output, "content", "") or "error")[:500]
        self._keep(self._tools, task, call)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        opened = self._finish(run_id)
        if opened is not None and opened[1] == "tool":
            opened[2]["error"] = f"{type(error).__name__}: {error}"[:500]
            self._keep(self._tools, opened[0], opened[2])

    # -- bookkeeping -------------------------------------------------------------------------------
    def _start(self, run_id: UUID, task: str, kind: str, call: dict[str, Any]) -> None:
        with self._lock:
            self._open[run_id] = (task, kind, call)

    def _finish(self, run_id: UUID) -> tuple[str, str, dict[str, Any]] | None:
        with self._lock:
            opened = self._open.pop(run_id, None)
        if opened is not None:
            opened[2]["finished_at"] = time.time()
        return opened

    def _keep(self, into: dict[str, list[dict[str, Any]]], task: str, call: dict[str, Any]) -> None:
        clean = {k: v for k, v in call.items() if v is not None}
        with self._lock:
            calls = into.setdefault(task, [])
            calls.append(clean)
            calls.sort(key=lambda c: float(c.get("started_at") or 0.0))


def _task_of(metadata: Mapping[str, Any] | None) -> str | None:
    """The id of the task a call belongs to, the innermost: LangGraph names a task's namespace
    ``node:task_id``, a subgraph's task's ``parent_node:parent_task|node:task_id``."""
    ns = (metadata or {}).get("langgraph_checkpoint_ns")
    if not isinstance(ns, str) or ":" not in ns:
        return None
    return ns.rsplit("|", 1)[-1].rsplit(":", 1)[1]


def _tool_names(tools: Any) -> list[str]:
    names: list[str] = []
    for tool in tools if isinstance(tools, Sequence) and not isinstance(tools, str) else []:
        if isinstance(tool, Mapping):
            function = tool.get("function")
            name = function.get("name") if isinstance(function, Mapping) else tool.get("name")
            if name:
                names.append(str(name))
    return names


def _response_details(response: Any) -> dict[str, Any]:
    """What the LLM result says about the call: the answer's id, model, usage, finish reason."""
    generations = getattr(response, "generations", None) or [[]]
    generation = generations[0][0] if generations and generations[0] else None
    message = getattr(generation, "message", None)
    meta: Mapping[str, Any] = getattr(message, "response_metadata", None) or {}
    info: Mapping[str, Any] = getattr(generation, "generation_info", None) or {}
    details: dict[str, Any] = {
        "response_id": meta.get("id") or getattr(message, "id", None),
        "response_model": meta.get("model_name") or meta.get("model"),
        "finish_reason": meta.get("finish_reason") or meta.get("stop_reason") or info.get("finish_reason"),
    }
    usage = getattr(message, "usage_metadata", None)
    if not usage:
        # Older integrations report usage in llm_output (OpenAI's shape) only.
        raw = (getattr(response, "llm_output", None) or {}).get("token_usage") or {}
        usage = {"input_tokens": raw.get("prompt_tokens"), "output_tokens": raw.get("completion_tokens")}
    counted = {k: int(usage[k]) for k in ("input_tokens", "output_tokens") if isinstance(usage.get(k), int)}
    if counted:
        details["usage"] = counted
    return {k: str(v) if k != "usage" else v for k, v in details.items() if v is not None}
