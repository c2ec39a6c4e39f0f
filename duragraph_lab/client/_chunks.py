"""A body handed to a decoder as it arrives (``Call.read_chunks``: event logs as DataFrames).

This is the one step where the sync and the async client differ by more than ``await``: the async
one must not block its event loop while pyarrow and pandas decode. Both versions are therefore
written here, side by side; the client generator maps ``aread_chunked`` to ``read_chunked``.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
from collections.abc import Callable, Iterator
from typing import TypeVar

import httpx

T = TypeVar("T")


def read_chunked(response: httpx.Response, read: Callable[[Iterator[bytes]], T]) -> T:
    """``read`` over the body's chunks, decoding while the rest is on its way."""
    return read(response.iter_bytes())


async def aread_chunked(response: httpx.Response, read: Callable[[Iterator[bytes]], T]) -> T:
    """The body is read on the event loop and handed, chunk by chunk, to ``read`` running in a
    thread (decoding as it arrives, without blocking the loop)."""
    chunks: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()

    def body() -> Iterator[bytes]:
        while (chunk := chunks.get()) is not None:
            yield chunk

    reading = asyncio.ensure_future(asyncio.to_thread(read, body()))
    try:
        async for chunk in response.aiter_bytes():
            if reading.done():  # the reader failed: its error is raised below
                break
            chunks.put(chunk)
    except BaseException:
        chunks.put(None)  # the reader ends (on a truncated body) ...
        with contextlib.suppress(Exception):
            await reading  # ... and its error is this one's consequence
        raise
    chunks.put(None)
    return await reading
