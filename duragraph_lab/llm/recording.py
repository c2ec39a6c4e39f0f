"""Model calls inside a node: recorded in the task's result, answered from it on re-execution.

Inside a running node, the i-th model call of a task execution
* gets the AI message id ``uuid5(idempotency_key, i)``, so a re-executed task produces the same ids;
* streams its tokens as ``("messages", {"id": <message id>, "delta": <text>})`` live events;
* is appended to ``ctx.recorded_calls`` as ``{"model", "request", "response"}``, plus what the
  client learnt about the call (:data:`CALL_DETAILS`: ``provider``, ``usage`` as
  ``{"input_tokens", "output_tokens"}``, ``finish_reason``, ``response_model``) and when it
  started and ended (``started_at``/``finished_at``, epoch seconds of the worker's clock), which
  the executor stores in the task's ``node_completed`` event. The request is recorded as a digest (message
  count, hash, tool names), not a copy: a conversation's prompt grows with every turn, and copying
  it into every call would make the log grow quadratically;
* during re-execution (``ctx.replay_calls`` set) returns the i-th recorded response without
  calling the model at all.

Outside a node, calls go straight to the model (random message id, nothing recorded).
"""

from __future__ import annotations

import copy
import hashlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from duragraph_lab.domain import codec
from duragraph_lab.graph.context import NodeContext, current_context
from duragraph_lab.llm.errors import RecordedModelError, ReplayExhausted
from duragraph_lab.llm.messages import Message

log = logging.getLogger(__name__)

OnDelta = Callable[[str], None]
#: ``generate(message_id, on_delta)``: actually call the model.
Generate = Callable[[str, OnDelta | None], Awaitable[Message]]
#: The keys a client may add to a recorded call (``details`` of :func:`recorded_call`); a replayed
#: call keeps those of the call it replays.
CALL_DETAILS = ("provider", "usage", "finish_reason", "response_model")


def call_message_id(idempotency_key: str, index: int) -> str:
    """The id of the AI message produced by the ``index``-th model call of a task."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{idempotency_key}/model_call/{index}"))


async def recorded_call(
    model: str,
    messages: Sequence[Message],
    tool_names: Sequence[str],
    generate: Generate,
    details: dict[str, Any] | None = None,
) -> Message:
    """Make one model call with the recording and replay rules of the module docstring.
    ``details`` is read once ``generate`` returned: ``generate`` may fill it with the
    :data:`CALL_DETAILS` of the call (token usage, ...), which are recorded with it."""
    ctx = current_context()
    if ctx is None:
        return await generate(str(uuid.uuid4()), None)
    # The slot is taken before the call, so concurrent calls of one node get distinct indexes.
    index = len(ctx.recorded_calls)
    entry: dict[str, Any] = {
        "model": model,
        "request": request_digest(messages, tool_names),
        "response": None,
        "started_at": time.time(),
    }
    ctx.recorded_calls.append(entry)
    replaying = ctx.replay_calls is not None and (index < len(ctx.replay_calls) or not ctx.replay_then_live)
    if replaying:
        response = _replayed(ctx, index)
        recorded = (ctx.replay_calls or [])[index]
        entry.update({k: recorded[k] for k in CALL_DETAILS if k in recorded})
    else:
        try:
            message_id = call_message_id(ctx.idempotency_key, index)
            response = await generate(message_id, _emitter(ctx, message_id))
        except Exception as err:
            # Kept (not removed) so later calls keep their indexes; replayed as RecordedModelError.
            entry["error"] = f"{type(err).__name__}: {err}"
            entry["finished_at"] = time.time()
            raise
        entry.update({k: v for k, v in (details or {}).items() if k in CALL_DETAILS and v is not None})
    entry["response"] = response
    entry["finished_at"] = time.time()
    return copy.deepcopy(response)


def request_digest(messages: Sequence[Message], tool_names: Sequence[str]) -> dict[str, Any]:
    """Enough to tell whether a re-executed call asked the same thing, at a fixed size."""
    try:
        text = codec.dumps(list(messages))
    except Exception:
        text = repr(list(messages))
    return {
        "messages": len(messages),
        "sha256": hashlib.sha256(text.encode()).hexdigest()[:32],
        "tools": list(tool_names),
    }


def _replayed(ctx: NodeContext, index: int) -> Message:
    calls = ctx.replay_calls or []
    if index >= len(calls):
        raise ReplayExhausted(
            f"node {ctx.node!r} made model call #{index + 1} on re-execution, but only {len(calls)} "
            "were recorded for this task: the node's code now calls the model more often"
        )
    recorded = calls[index]
    if recorded.get("response") is None:
        raise RecordedModelError(recorded.get("error") or "the recorded model call has no response")
    response: Message = copy.deepcopy(recorded["response"])
    return response


def _emitter(ctx: NodeContext, message_id: str) -> OnDelta | None:
    emit = ctx.emit
    if emit is None:
        return None

    def on_delta(chunk: str) -> None:
        if not chunk:
            return
        try:
            emit("messages", {"id": message_id, "delta": chunk})
        except Exception:
            # Live tokens are best effort: a publishing failure must not fail the model call.
            log.debug("dropped a live token chunk of message %s", message_id, exc_info=True)

    return on_delta
