"""httpx transports that cut stream responses after a given number of bytes (a network failure,
to httpx), for the client's tests against a real server; and which stream requests were made."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx


class _CutStream(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, budget: int) -> None:
        self.inner, self.budget = inner, budget

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.inner:
            if len(chunk) >= self.budget:
                yield chunk[: self.budget]
                raise httpx.ReadError("connection cut by the test")
            self.budget -= len(chunk)
            yield chunk

    def close(self) -> None:
        self.inner.close()


class CuttingTransport(httpx.HTTPTransport):
    """Cuts the n-th stream response after ``cuts[n]`` bytes (a network failure to httpx)."""

    def __init__(self, cuts: list[int]) -> None:
        super().__init__()
        self.cuts = list(cuts)
        self.streams: list[tuple[str, str, str | None]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if not request.url.path.endswith("/stream"):
            return response
        self.streams.append((request.method, request.url.path, request.headers.get("Last-Event-ID")))
        if not self.cuts:
            return response
        assert isinstance(response.stream, httpx.SyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_CutStream(response.stream, self.cuts.pop(0)),
            request=request,
            extensions=response.extensions,
        )


class _AsyncCutStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, budget: int) -> None:
        self.inner, self.budget = inner, budget

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.inner:
            if len(chunk) >= self.budget:
                yield chunk[: self.budget]
                raise httpx.ReadError("connection cut by the test")
            self.budget -= len(chunk)
            yield chunk

    async def aclose(self) -> None:
        await self.inner.aclose()


class AsyncCuttingTransport(httpx.AsyncHTTPTransport):
    def __init__(self, cuts: list[int]) -> None:
        super().__init__()
        self.cuts = list(cuts)
        self.streams: list[tuple[str, str, str | None]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if not request.url.path.endswith("/stream"):
            return response
        self.streams.append((request.method, request.url.path, request.headers.get("Last-Event-ID")))
        if not self.cuts:
            return response
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_AsyncCutStream(response.stream, self.cuts.pop(0)),
            request=request,
            extensions=response.extensions,
        )


def cutting(flavour: str, cuts: list[int]) -> CuttingTransport | AsyncCuttingTransport:
    """A cutting transport for the ``"sync"`` or the ``"async"`` client."""
    return CuttingTransport(cuts) if flavour == "sync" else AsyncCuttingTransport(cuts)
