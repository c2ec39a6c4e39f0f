"""An offline, deterministic chat model: demos and tests run without a network or an API key."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Sequence
from typing import Any

from duragraph_lab.llm.base import BaseChatModel
from duragraph_lab.llm.errors import ScriptExhausted
from duragraph_lab.llm.messages import Message, text_of
from duragraph_lab.llm.recording import OnDelta
from duragraph_lab.llm.tools import Tool

_ASKS_MATH = re.compile(r"\b(what(?:'s| is| are)|calculate|compute|evaluate|how much is|solve)\b", re.I)
_EXPRESSION = re.compile(r"-?[\d(][\d\s.+\-*/%()]*")
_HAS_OPERATOR = re.compile(r"[\d)]\s*(?:\*\*|[-+*/%])\s*[\d(]")
_ASKS_TIME = re.compile(r"\b(time|date|today|clock|what day)\b", re.I)
_CHUNK = re.compile(r"\S+\s*|\s+")


class ScriptedChatModel(BaseChatModel):
    """Deterministic answers, streamed word by word (``token_delay`` seconds apart), the first
    one ``first_token_delay`` seconds after the call (a real model's time to first token, so a
    run can be watched; 0 by default here, see :func:`duragraph_lab.llm.get_chat_model`).

    Without ``responses``, it answers by rule, from the conversation's end:

    * after a tool result: ``"The result is <tool output>."``;
    * a human message asking arithmetic ("what is 2 + 3", "calculate 7*6") when a tool named
      ``calculator`` is offered: a call to it with ``{"expression": "2 + 3"}``;
    * a human message asking the time or date when a tool named ``clock`` is offered: a call to it;
    * anything else: ``"You said: <the last human message>"``.

    With ``responses`` (message dicts or strings), call *n* returns ``responses[n]`` (its id is
    replaced by the call's id) and a call beyond the last raises :class:`ScriptExhausted`. The
    position is shared by every caller of this instance.
    """

    provider = "duragraph_lab.scripted"

    def __init__(
        self,
        responses: Sequence[Message | str] | None = None,
        *,
        token_delay: float = 0.01,
        first_token_delay: float = 0.0,
        name: str = "scripted",
    ) -> None:
        super().__init__(name)
        self.responses = list(responses) if responses is not None else None
        self.token_delay = token_delay
        self.first_token_delay = first_token_delay
        self.calls = 0  # calls actually answered (replayed ones are not)
        self._lock = threading.Lock()  # sync invoke() may run from several threads

    async def _agenerate(
        self, messages: list[Message], tools: list[Tool], *, message_id: str, on_delta: OnDelta | None
    ) -> Message:
        with self._lock:
            index = self.calls
            self.calls += 1
        if self.responses is None:
            reply = rule_based_reply(messages, [t.name for t in tools])
        elif index < len(self.responses):
            scripted = self.responses[index]
            reply = {"content": scripted} if isinstance(scripted, str) else dict(scripted)
        else:
            raise ScriptExhausted(
                f"{self.name}: call #{index + 1}, but only {len(self.responses)} responses are scripted"
            )
        if self.first_token_delay > 0:
            await asyncio.sleep(self.first_token_delay)
        await self._stream(text_of(reply.get("content")), on_delta)
        return {**reply, **_accounting(messages, reply)}

    async def _stream(self, content: str, on_delta: OnDelta | None) -> None:
        for i, chunk in enumerate(_CHUNK.findall(content)):
            if i and self.token_delay > 0:
                await asyncio.sleep(self.token_delay)
            if on_delta is not None:
                on_delta(chunk)


def _accounting(messages: Sequence[Message], reply: Message) -> dict[str, Any]:
    """What a real model reports with a reply: its token usage (here one token per word or
    punctuation mark, a stand-in for a tokenizer) and why it stopped."""
    prompt = sum(len(_CHUNK.findall(text_of(m.get("content")))) for m in messages)
    answer = len(_CHUNK.findall(text_of(reply.get("content")))) + 8 * len(reply.get("tool_calls") or [])
    return {
        "usage": {"input_tokens": prompt, "output_tokens": answer},
        "finish_reason": "tool_calls" if reply.get("tool_calls") else "stop",
    }


def rule_based_reply(messages: Sequence[Message], tool_names: Sequence[str]) -> dict[str, Any]:
    """The default answer of :class:`ScriptedChatModel` (see its docstring)."""
    if messages and messages[-1].get("type") == "tool":
        return {"content": f"The result is {text_of(messages[-1].get('content')).strip().rstrip('.')}."}
    text = next((text_of(m.get("content")) for m in reversed(messages) if m.get("type") == "human"), "")
    expression = arithmetic_in(text)
    if expression is not None and "calculator" in tool_names:
        return {"content": "", "tool_calls": [{"name": "calculator", "args": {"expression": expression}}]}
    if _ASKS_TIME.search(text) and "clock" in tool_names:
        return {"content": "", "tool_calls": [{"name": "clock", "args": {}}]}
    return {"content": f"You said: {text.strip()}"}


def arithmetic_in(text: str) -> str | None:
    """The arithmetic expression a message asks about ("what is 2 + 3?" -> "2 + 3"), if any.
    A bare expression counts; inside a sentence, only after "what is", "calculate", ... (so a
    date like 2024-05-01 in passing is not taken for a subtraction)."""
    candidates = [c for c in _EXPRESSION.findall(text) if _HAS_OPERATOR.search(c)]
    if not candidates:
        return None
    expression = max(candidates, key=len).strip().rstrip(".").strip()
    while expression.endswith(")") and expression.count(")") > expression.count("("):
        expression = expression[:-1].rstrip()
    bare = text.strip().rstrip("?=. ").strip() == expression
    return expression if bare or _ASKS_MATH.search(text) else None
