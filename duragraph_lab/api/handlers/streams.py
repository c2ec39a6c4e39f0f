"""Writing server-sent events and long-polled JSON from tornado handlers.

The body is produced by a task that feeds a queue; the handler writes what arrives and a
keep-alive when nothing does. When the client goes away (tornado reports the closed connection,
or a write fails) the producer task is cancelled, which closes its subscriptions: nothing
outlives the request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from tornado.iostream import StreamClosedError

from duragraph_lab.api.handlers.base import ApiError, DuraGraphHandler, http_error
from duragraph_lab.api.jsonout import dumps
from duragraph_lab.api.sse import KEEPALIVE, frame

log = logging.getLogger(__name__)
_END = object()


class StreamingHandler(DuraGraphHandler):
    _closed: asyncio.Event | None = None

    def on_connection_close(self) -> None:
        if self._closed is not None:
            self._closed.set()
        super().on_connection_close()

    async def _pump(self, body: AsyncIterator[bytes], queue: asyncio.Queue[Any]) -> None:
        try:
            async for chunk in body:
                await queue.put(chunk)
        except asyncio.CancelledError:
            raise
        except Exception as err:
            await queue.put(err)
        finally:
            await queue.put(_END)

    async def _drain(
        self,
        body: AsyncIterator[bytes],
        *,
        keepalive: bytes,
        on_error: Callable[[BaseException], bytes],
        on_disconnect: Callable[[], Awaitable[None]] | None = None,
    ) -> bool:
        """Write ``body`` as it comes; returns whether the client stayed to the end."""
        self._closed = asyncio.Event()
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=256)
        producer = asyncio.create_task(self._pump(body, queue), name="duragraph-stream")
        metrics = self.backend.metrics
        metrics.stream_opened()
        completed = False
        # One watcher of the connection for the whole stream, and a task to wait on the queue
        # only when it is empty: the frames of a busy stream cost no task each.
        closed = asyncio.ensure_future(self._closed.wait())
        try:
            while True:
                if queue.empty():
                    getter = asyncio.ensure_future(queue.get())
                    done, _ = await asyncio.wait(
                        {getter, closed},
                        timeout=self.backend.keepalive_seconds,
                        return_when=asyncio.FIRST_COMPLETED,
                    )
                    if getter not in done:
                        getter.cancel()
                        if self._closed.is_set():
                            break
                        await self._write(keepalive)
                        continue
                    item = getter.result()
                else:
                    item = queue.get_nowait()
                if item is _END:
                    completed = True
                    break
                if isinstance(item, BaseException):
                    log.warning("stream of %s failed: %r", self.request.path, item, exc_info=item)
                    await self._write(on_error(item))
                    completed = True
                    break
                await self._write(item)
        except StreamClosedError:
            pass
        finally:
            closed.cancel()
            producer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await producer
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await body.aclose()  # type: ignore[attr-defined]
            metrics.stream_closed()
        if not completed and on_disconnect is not None:
            with contextlib.suppress(Exception):
                await on_disconnect()
        return completed

    async def _write(self, chunk: bytes) -> None:
        if self._closed is not None and self._closed.is_set():
            raise StreamClosedError()
        self.write(chunk)
        await self.flush()

    # -- server-sent events --------------------------------------------------------------------
    def start_sse(self, headers: dict[str, str] | None = None) -> None:
        self.set_status(200)
        self.set_header("Content-Type", "text/event-stream; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")
        self.set_header("Connection", "keep-alive")
        for name, value in (headers or {}).items():
            self.set_header(name, value)

    async def send_sse(
        self,
        body: AsyncIterator[bytes],
        *,
        headers: dict[str, str] | None = None,
        on_disconnect: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.start_sse(headers)
        try:
            await self.flush()
        except StreamClosedError:
            return

        def on_error(err: BaseException) -> bytes:
            mapped = http_error(err)
            if isinstance(mapped, ApiError):
                return frame("error", {"error": mapped.code, "message": mapped.message})
            return frame(
                "error", {"error": "internal_error", "message": "internal error (see the server log)"}
            )

        await self._drain(body, keepalive=KEEPALIVE, on_error=on_error, on_disconnect=on_disconnect)
        if not self._finished:
            with contextlib.suppress(StreamClosedError):
                self.finish(set_content_type="text/event-stream; charset=utf-8")

    # -- long polls ----------------------------------------------------------------------------
    async def send_json_when_ready(
        self,
        result: Awaitable[Any],
        *,
        headers: dict[str, str] | None = None,
        on_disconnect: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """A JSON answer that may take long (``/wait``, ``/join``): the status line goes out at
        once and a newline every few seconds keeps proxies from timing out (JSON parsers skip
        leading whitespace); the JSON follows when ready."""

        async def body() -> AsyncIterator[bytes]:
            yield dumps(await result).encode()

        self.set_status(200)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Accel-Buffering", "no")
        for name, value in (headers or {}).items():
            self.set_header(name, value)

        def on_error(err: BaseException) -> bytes:
            mapped = http_error(err)
            code, message = (mapped.code, mapped.message) if mapped else ("internal_error", "internal error")
            return dumps({"__error__": {"error": code, "message": message}}).encode()

        await self._drain(body(), keepalive=b"\n", on_error=on_error, on_disconnect=on_disconnect)
        if not self._finished:
            with contextlib.suppress(StreamClosedError):
                self.finish(set_content_type="application/json")
