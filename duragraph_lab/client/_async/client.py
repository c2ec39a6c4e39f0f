"""The client itself: its connection, sending calls, following streams, and the system routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from types import TracebackType
from typing import Any, TypeVar

import httpx

from duragraph_lab.client import _calls as c
from duragraph_lab.client import models as m
from duragraph_lab.client._async.assistants import Assistants
from duragraph_lab.client._async.evals import Datasets, Experiments
from duragraph_lab.client._async.runs import Runs
from duragraph_lab.client._async.threads import Threads
from duragraph_lab.client._chunks import aread_chunked
from duragraph_lab.client._common import DEFAULT_TIMEOUT, Call, connection_error, raise_for_status, settings
from duragraph_lab.client._stream import StreamSession, StreamTarget
from duragraph_lab.client.errors import DuraGraphAPIError, DuraGraphConnectionError
from duragraph_lab.client.sse import StreamPart

T = TypeVar("T")


class AsyncDuraGraphClient:
    """An asyncio client of DuraGraph Lab's API, mounted by the Jupyter server extension.

    ``url`` is the Jupyter server's URL (``http://127.0.0.1:8888/``, or a URL already ending in
    ``duragraph/api/v1``; a ``?token=`` in it is used when no token is given); ``token`` the
    server's token (sent as ``Authorization: token ...``). Both default to ``DURAGRAPH_URL`` and
    ``DURAGRAPH_TOKEN``. Streams that lose their connection reconnect up to ``max_reconnects``
    times in a row, waiting ``reconnect_delay`` seconds and doubling (at most 5 s).

    Use it as an async context manager, or await :meth:`close`.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
        max_reconnects: int = 5,
        reconnect_delay: float = 0.25,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings(url, token, timeout, headers, max_reconnects, reconnect_delay)
        self._http = httpx.AsyncClient(
            base_url=self.settings.base_url,
            headers=self.settings.headers,
            timeout=self.settings.timeout,
            transport=transport,
        )
        self.assistants = Assistants(self)
        self.threads = Threads(self)
        self.runs = Runs(self)
        self.datasets = Datasets(self)
        self.experiments = Experiments(self)

    @property
    def url(self) -> str:
        """The API's base URL (``.../duragraph/api/v1/``)."""
        return self.settings.base_url

    def __repr__(self) -> str:
        return f"AsyncDuraGraphClient({self.url!r})"

    async def __aenter__(self) -> AsyncDuraGraphClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    # -- plumbing ------------------------------------------------------------------------------
    async def call(self, call: Call[T]) -> T:
        """Send one request and read its answer (raises DuraGraphAPIError on a non-2xx)."""
        if call.read_chunks is not None:
            return await self._call_chunks(call, call.read_chunks)
        try:
            response = await self._http.request(call.method, call.path, **call.kwargs())
        except httpx.TransportError as err:
            raise connection_error(self.url + call.path, err) from err
        return call.answer(response)

    async def _call_chunks(self, call: Call[T], read: Callable[[Iterator[bytes]], T]) -> T:
        try:
            async with self._http.stream(call.method, call.path, **call.kwargs()) as response:
                if not response.is_success:
                    await response.aread()
                    raise_for_status(response, call.accept)
                return await aread_chunked(response, read)
        except httpx.TransportError as err:
            raise connection_error(self.url + call.path, err) from err

    async def stream_parts(self, target: StreamTarget) -> AsyncIterator[StreamPart]:
        """Read an SSE stream of a run, reconnecting with ``Last-Event-ID`` when the connection
        drops (or the body ends before the run is at rest); every part once, in order."""
        session = StreamSession(target, self.settings)
        while True:
            method, path, kwargs = session.request()
            try:
                async with self._http.stream(method, path, **kwargs) as response:
                    if not response.is_success:
                        await response.aread()
                    if session.opened(response):
                        async for chunk in response.aiter_bytes():
                            for part in session.feed(chunk):
                                yield part
                        session.body_ended()
            except httpx.TransportError as err:
                session.dropped(err)
            if await self._stream_over(session):
                for part in session.finish():
                    yield part
                return
            await asyncio.sleep(session.reconnect())

    async def _stream_over(self, session: StreamSession) -> bool:
        """Whether the connection that just ended was the stream's last (asking the run whether
        it is at rest when the stream's end depends on it)."""
        check = session.rest_check()
        if check is None:
            return session.over
        try:
            run = await self.call(check)
        except (DuraGraphAPIError, DuraGraphConnectionError) as err:
            return session.at_rest_despite(err)
        return session.at_rest(run)

    # -- system --------------------------------------------------------------------------------
    async def health(self) -> m.Health:
        """PostgreSQL, NATS, the relay and the worker (also when the server answers 503)."""
        return await self.call(c.health())

    async def info(self) -> m.Info:
        return await self.call(c.info())

    async def worker_connection(self) -> m.WorkerConnection:
        """Where a worker reaches the server's PostgreSQL and NATS (for ``serve`` from a kernel)."""
        return await self.call(c.worker_connection())

    async def workers(self) -> dict[str, Any]:
        """The live workers and the graphs each serves: ``{"workers": [...], "graphs": {graph: [worker ids]}}``."""
        return await self.call(c.workers())

    async def metrics(self) -> str:
        """Prometheus text exposition."""
        return await self.call(c.metrics())

    async def openapi(self) -> dict[str, Any]:
        return await self.call(c.openapi())
