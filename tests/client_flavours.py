"""Both clients under one test body. A test takes a ``flavour`` ("sync" or "async"), makes its
client with :func:`make`, and passes whatever a call returns through :func:`settle`: a sync
answer as it is, an async one awaited, a stream (either kind) drained into a list. So a test
written once checks that ``DuraGraphClient`` and ``AsyncDuraGraphClient`` behave the same."""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterator
from contextlib import aclosing, closing
from typing import Any

from duragraph_lab.client import AsyncDuraGraphClient, DuraGraphClient, StreamPart

FLAVOURS = ("sync", "async")
AnyClient = DuraGraphClient | AsyncDuraGraphClient


def make(flavour: str, url: str, token: str | None = "secret", **kwargs: Any) -> AnyClient:
    if flavour == "sync":
        return DuraGraphClient(url, token, **kwargs)
    assert flavour == "async", flavour
    return AsyncDuraGraphClient(url, token, **kwargs)


async def settle(value: Any) -> Any:
    """What a call of either client gives: awaited, or drained when it is a stream."""
    if inspect.isawaitable(value):
        return await value
    if isinstance(value, AsyncIterator):
        return [item async for item in value]
    if isinstance(value, Iterator):
        return list(value)
    return value


async def drain(stream: Iterator[StreamPart] | AsyncIterator[StreamPart], into: list[StreamPart]) -> None:
    """Read a stream into ``into`` as it comes (what arrived stays there when it raises)."""
    if isinstance(stream, AsyncIterator):
        async for part in stream:
            into.append(part)
    else:
        into.extend(stream)


async def take_until(
    stream: Iterator[StreamPart] | AsyncIterator[StreamPart], last: Callable[[StreamPart], bool]
) -> list[StreamPart]:
    """The parts of a stream up to the first for which ``last`` is true; then the stream is closed
    (a thread's stream does not end by itself)."""
    out: list[StreamPart] = []
    if isinstance(stream, AsyncGenerator):
        async with aclosing(stream):
            async for part in stream:
                out.append(part)
                if last(part):
                    return out
    else:
        assert isinstance(stream, Generator)
        with closing(stream):
            for part in stream:
                out.append(part)
                if last(part):
                    return out
    raise AssertionError(f"the stream ended before the part looked for: {out[-3:]}")


async def close(client: AnyClient) -> None:
    await settle(client.close())
