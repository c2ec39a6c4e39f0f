"""The server's side of webhooks (``control.webhooks``): the HTTP POST (tornado's client) and the
body (the run as ``GET /runs/{run_id}`` shows it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from duragraph_lab.api.jsonout import dumps
from duragraph_lab.api.runs import run_json
from duragraph_lab.control.plane import ControlPlane


async def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST ``body``; the receiver's status (a network failure raises). No redirects: a redirect
    could lead past the destination policy."""
    request = HTTPRequest(
        url,
        method="POST",
        body=body,
        headers=headers,
        connect_timeout=timeout,
        request_timeout=timeout,
        follow_redirects=False,
    )
    try:
        response = await AsyncHTTPClient().fetch(request, raise_error=False)
    except HTTPClientError as err:
        return err.code
    if response.code == 599:  # tornado's "no answer" (connection refused, timeout)
        raise ConnectionError(str(response.error or "no answer"))
    return response.code


def run_body(control: ControlPlane) -> Callable[[str], Awaitable[bytes | None]]:
    async def body(run_id: str) -> bytes | None:
        found = await control.run_queries.find(run_id)
        return None if found is None else dumps(run_json(found)).encode()

    return body
