"""A client for OpenAI-compatible Chat Completions endpoints (OpenAI, vLLM, Ollama, LM Studio, ...)."""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import urlsplit

import httpx

from duragraph_lab.llm.base import BaseChatModel
from duragraph_lab.llm.errors import MissingAPIKey, ModelResponseError
from duragraph_lab.llm.messages import Message
from duragraph_lab.llm.openai_format import (
    DONE,
    CompletionAccumulator,
    from_openai_completion,
    parse_sse_line,
    to_openai_messages,
    to_openai_tools,
)
from duragraph_lab.llm.recording import OnDelta
from duragraph_lab.llm.tools import Tool

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MODEL = "gpt-4o-mini"


class OpenAIChatModel(BaseChatModel):
    """Streams ``POST {base_url}/chat/completions`` and returns the canonical AI message.

    Arguments default to the environment: ``DURAGRAPH_LLM_BASE_URL`` (else OpenAI's),
    ``DURAGRAPH_LLM_API_KEY`` (else ``OPENAI_API_KEY``), ``DURAGRAPH_LLM_MODEL`` (else
    ``gpt-4o-mini``). Without a key, OpenAI's own endpoint raises :class:`MissingAPIKey` here;
    other endpoints (a local server) are called without ``Authorization``.

    An HTTP error status raises ``httpx.HTTPStatusError`` (``error.response.status_code``), which
    the default retry policy retries for 429 and 5xx; connection errors and timeouts are
    retried too.
    """

    provider = "openai"  # the protocol spoken; the server behind base_url may be another

    def __init__(
        self,
        model: str | None = None,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        temperature: float | None = None,
    ) -> None:
        self.model = model or os.environ.get("DURAGRAPH_LLM_MODEL") or DEFAULT_MODEL
        super().__init__(self.model)
        self.base_url = (base_url or os.environ.get("DURAGRAPH_LLM_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.api_key = api_key or os.environ.get("DURAGRAPH_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY")
        self.timeout = timeout
        self.temperature = temperature
        if not self.api_key and urlsplit(self.base_url).hostname == "api.openai.com":
            raise MissingAPIKey(
                f"{self.base_url} needs an API key: set DURAGRAPH_LLM_API_KEY (or OPENAI_API_KEY), pass "
                "api_key=..., or point DURAGRAPH_LLM_BASE_URL at an OpenAI-compatible server"
            )

    def __repr__(self) -> str:
        return f"OpenAIChatModel(model={self.model!r}, base_url={self.base_url!r})"  # never the key

    def request_body(self, messages: list[Message], tools: list[Tool]) -> dict[str, Any]:
        """The JSON body sent for a call."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": to_openai_messages(messages),
            "stream": True,
            # The last chunk then carries the token usage, recorded with the call.
            "stream_options": {"include_usage": True},
        }
        if tools:
            body["tools"] = to_openai_tools(tools)
        if self.temperature is not None:
            body["temperature"] = self.temperature
        return body

    async def _agenerate(
        self, messages: list[Message], tools: list[Tool], *, message_id: str, on_delta: OnDelta | None
    ) -> Message:
        headers = {"Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        # A client per call: sync invoke() runs each call on its own event loop, and a pooled
        # client cannot move between loops.
        async with (
            httpx.AsyncClient(timeout=self.timeout) as client,
            client.stream(
                "POST",
                f"{self.base_url}/chat/completions",
                json=self.request_body(messages, tools),
                headers=headers,
            ) as response,
        ):
            if response.is_error:
                await response.aread()
                raise httpx.HTTPStatusError(
                    f"{response.status_code} from {response.request.url}: {response.text[:500]}",
                    request=response.request,
                    response=response,
                )
            if response.headers.get("content-type", "").startswith("application/json"):
                # A server that ignores "stream": one whole completion.
                await response.aread()
                try:
                    whole = from_openai_completion(json.loads(response.text))
                except json.JSONDecodeError as err:
                    raise ModelResponseError(f"malformed completion: {response.text[:200]!r}") from err
                if on_delta is not None and whole["content"]:
                    on_delta(whole["content"])
                return whole
            return await _read_stream(response, on_delta)


async def _read_stream(response: httpx.Response, on_delta: OnDelta | None) -> Message:
    acc = CompletionAccumulator()
    async for line in response.aiter_lines():
        chunk = parse_sse_line(line.strip())
        if chunk is None:
            continue
        if chunk is DONE:
            break
        delta = acc.add_chunk(chunk)
        if delta and on_delta is not None:
            on_delta(delta)
    return acc.message()
