"""The :class:`ChatModel` protocol and :class:`BaseChatModel`, which gives every client the same
recording, replay, message ids and token streaming (see :mod:`duragraph_lab.llm.recording`)."""

from __future__ import annotations

import asyncio
import contextvars
from abc import ABC, abstractmethod
from collections.abc import Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar, runtime_checkable

from duragraph_lab.llm.messages import Message, ai_message, as_message_dicts, text_of
from duragraph_lab.llm.recording import OnDelta, recorded_call
from duragraph_lab.llm.tools import Tool

T = TypeVar("T")


@runtime_checkable
class ChatModel(Protocol):
    """A chat model: messages in (any form :func:`~duragraph_lab.domain.messages.coerce_message`
    reads), one canonical AI message out: ``{"type": "ai", "content": str, "id": str,
    "tool_calls": [{"id", "name", "args": dict}]}``."""

    @property
    def name(self) -> str: ...

    async def ainvoke(self, messages: Sequence[Any], *, tools: Sequence[Tool] | None = None) -> Message: ...

    def invoke(self, messages: Sequence[Any], *, tools: Sequence[Tool] | None = None) -> Message: ...


class BaseChatModel(ABC):
    """Implement :meth:`_agenerate`; calls are then recorded in the run log, replayed on
    re-execution, streamed token by token and given deterministic ids."""

    #: Recorded as each call's ``provider`` (the OpenTelemetry ``gen_ai.provider.name``).
    provider = "duragraph_lab"

    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def name(self) -> str:
        """Recorded as the ``model`` of each call."""
        return self._name

    async def ainvoke(self, messages: Sequence[Any], *, tools: Sequence[Tool] | None = None) -> Message:
        canonical = as_message_dicts(messages)
        offered = list(tools or [])

        details: dict[str, Any] = {"provider": self.provider}

        async def generate(message_id: str, on_delta: OnDelta | None) -> Message:
            raw = await self._agenerate(canonical, offered, message_id=message_id, on_delta=on_delta)
            details.update({k: raw[k] for k in ("usage", "finish_reason", "response_model") if raw.get(k)})
            return ai_message(text_of(raw.get("content")), raw.get("tool_calls"), message_id)

        return await recorded_call(self.name, canonical, [t.name for t in offered], generate, details)

    def invoke(self, messages: Sequence[Any], *, tools: Sequence[Tool] | None = None) -> Message:
        """:meth:`ainvoke` from synchronous code (e.g. a sync node). In async code, await
        :meth:`ainvoke` instead: this blocks the calling thread."""
        return run_blocking(self.ainvoke(messages, tools=tools))

    @abstractmethod
    async def _agenerate(
        self, messages: list[Message], tools: list[Tool], *, message_id: str, on_delta: OnDelta | None
    ) -> Message:
        """Call the model. Return a message dict with ``content`` and ``tool_calls`` (the rest is
        normalised by the caller), and, when the model says, ``usage``
        (``{"input_tokens", "output_tokens"}``), ``finish_reason`` and ``response_model``, which
        are recorded with the call, not put in the message; pass each content chunk to
        ``on_delta`` when it is set."""


def run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion from synchronous code, keeping the node context."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)  # asyncio.run copies this context: the node context follows
    # This thread already runs a loop (Jupyter, an async caller): run on a helper thread.
    context = contextvars.copy_context()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="duragraph-llm") as pool:
        return pool.submit(context.run, asyncio.run, coro).result()
