"""What the sync and async clients share: configuration, requests as data, and answers to objects.

Each API call is described by a :class:`Call` (method, path, query, body, how to read the
answer); :class:`duragraph_lab.client.DuraGraphClient` and
:class:`duragraph_lab.client.AsyncDuraGraphClient` only send it, so both speak exactly the same API.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypedDict, TypeVar

import httpx

from duragraph_lab._version import __version__
from duragraph_lab.client import models as m
from duragraph_lab.client.errors import (
    DuraGraphAPIError,
    DuraGraphClientError,
    DuraGraphConnectionError,
    DuraGraphTimeoutError,
)

T = TypeVar("T")
API_PATH = "duragraph/api/v1"
ENV_URL = "DURAGRAPH_URL"
ENV_TOKEN = "DURAGRAPH_TOKEN"
DEFAULT_TIMEOUT = 30.0
_RUN_PATH = re.compile(r"/threads/([^/?#]+)/runs/([^/?#]+)")
NO_BODY: Any = object()


# -- configuration -------------------------------------------------------------------------------
_UI_PATH = re.compile(r"/(lab|tree)(/.*)?$")


def api_url(url: str) -> str:
    """The API's base URL (ending in ``/``) from a Jupyter server's base URL, or from a URL that
    already holds ``duragraph/api/v1``. URLs as Jupyter and ``duragraph-lab`` print them at
    start-up work too: ``.../lab?token=...`` (the UI's path is dropped), ``.../duragraph/api/v1/info``.
    Query and fragment are dropped."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DuraGraphClientError(
            f"not an http(s) URL: {url!r} (give the Jupyter server's URL, e.g. http://127.0.0.1:8888/)"
        )
    path = parts.path.rstrip("/")
    at = (path + "/").find(f"/{API_PATH}/")
    if at >= 0:
        path = path[:at]
    else:
        path = _UI_PATH.sub("", path)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, f"{path}/{API_PATH}/", "", ""))


def token_in_url(url: str) -> str | None:
    """The ``?token=`` of a URL as Jupyter prints it at start-up."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    values = query.get("token")
    return values[0] if values else None


@dataclass(frozen=True)
class Settings:
    base_url: str  # the API's, ending in "/"
    headers: dict[str, str]
    timeout: httpx.Timeout
    max_reconnects: int
    reconnect_delay: float
    max_reconnect_delay: float

    @property
    def local(self) -> bool:
        """Whether the server is on this machine (loopback): bulk bodies go uncompressed."""
        host = urllib.parse.urlsplit(self.base_url).hostname or ""
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False


def settings(
    url: str | None,
    token: str | None,
    timeout: float | httpx.Timeout | None,
    headers: Mapping[str, str] | None,
    max_reconnects: int,
    reconnect_delay: float,
) -> Settings:
    raw = url if url is not None else os.environ.get(ENV_URL)
    if not raw:
        raise DuraGraphClientError(f"no server URL: pass url=... (the Jupyter server's URL) or set {ENV_URL}")
    if token is None:
        token = os.environ.get(ENV_TOKEN) or token_in_url(raw)
    out = {"Accept": "application/json", "User-Agent": f"duragraph-lab-client/{__version__}"}
    if token:
        out["Authorization"] = f"token {token}"
    out.update(headers or {})
    if max_reconnects < 0 or reconnect_delay < 0:
        raise DuraGraphClientError("max_reconnects and reconnect_delay must not be negative")
    return Settings(
        base_url=api_url(raw),
        headers=out,
        timeout=timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout),
        max_reconnects=max_reconnects,
        reconnect_delay=reconnect_delay,
        max_reconnect_delay=max(reconnect_delay, 5.0),
    )


def backoff(s: Settings, failures: int, retry_ms: int | None) -> float:
    """Delay before reconnect number ``failures`` (1-based): the server's ``retry:`` if it sent
    one, else exponential from ``reconnect_delay``, capped."""
    if retry_ms is not None:
        return min(retry_ms / 1000, s.max_reconnect_delay)
    return float(min(s.reconnect_delay * 2 ** (failures - 1), s.max_reconnect_delay))


# -- requests as data ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str
    read: Callable[[httpx.Response], T]
    params: list[tuple[str, str]] = field(default_factory=list)
    body: Any = NO_BODY
    accept: tuple[int, ...] = ()  # non-2xx statuses whose body is an answer (health: 503)
    #: Reads a 2xx body as it arrives (chunks), instead of ``read`` on the whole response.
    read_chunks: Callable[[Iterator[bytes]], T] | None = None

    def answer(self, response: httpx.Response) -> T:
        """The answer read from a whole response; a non-2xx (not in ``accept``) is raised."""
        raise_for_status(response, self.accept)
        return self.read(response)

    def kwargs(self) -> dict[str, Any]:
        out: dict[str, Any] = {"params": self.params}
        if self.body is not NO_BODY:
            out["content"] = json.dumps(self.body, separators=(",", ":"), default=str).encode()
            out["headers"] = {"Content-Type": "application/json"}
        return out


def seg(value: str) -> str:
    """One path segment (ids are sent as given, escaped)."""
    if not isinstance(value, str) or not value:
        raise DuraGraphClientError(f"an id must be a non-empty string, not {value!r}")
    return urllib.parse.quote(value, safe="")


def compact(body: Mapping[str, Any]) -> dict[str, Any]:
    """A request body without the options left unset (None)."""
    return {k: v for k, v in body.items() if v is not None}


def query(**params: Any) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out.append((name, "true" if value else "false"))
        elif isinstance(value, (list, tuple)):
            out += [(name, str(v)) for v in value]
        else:
            out.append((name, str(value)))
    return out


def modes(stream_mode: str | Sequence[str] | None) -> list[str] | None:
    if stream_mode is None:
        return None
    return [stream_mode] if isinstance(stream_mode, str) else list(stream_mode)


# -- answers -------------------------------------------------------------------------------------
def raise_for_status(response: httpx.Response, accept: tuple[int, ...] = ()) -> None:
    if response.is_success or response.status_code in accept:
        return
    raise api_error(response)


def api_error(response: httpx.Response) -> DuraGraphAPIError:
    """The server's ``{"error", "message"}``; a Jupyter or proxy page gets a code of its own."""
    status = response.status_code
    body: Any = None
    code, message, details = f"http_{status}", response.reason_phrase or "error", None
    try:
        text = response.text
    except Exception:  # not read (a stream): there is nothing more to say
        text = ""
    if text.strip():
        try:
            body = json.loads(text)
        except ValueError:
            body = text
            title = re.search(r"<title>(.*?)</title>", text, re.S | re.I)
            message = f"{message} ({title.group(1).strip()})" if title else f"{message}: {text.strip()[:200]}"
    if isinstance(body, Mapping):
        code = str(body.get("error") or code)
        message = str(body.get("message") or body.get("detail") or message)
        details = body.get("details")
    return DuraGraphAPIError(
        status,
        code,
        message,
        method=response.request.method,
        url=str(response.request.url),
        details=details,
        body=body,
    )


def connection_error(url: str, err: Exception) -> DuraGraphConnectionError:
    reason = str(err) or type(err).__name__
    if isinstance(err, httpx.TimeoutException):
        return DuraGraphTimeoutError(url, f"timed out ({type(err).__name__}): {reason}")
    return DuraGraphConnectionError(url, reason)


def json_body(response: httpx.Response) -> Any:
    # Long-polled answers (/wait, /join) start with keep-alive newlines: JSON skips whitespace.
    text = response.text
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        raise DuraGraphAPIError(
            response.status_code,
            "invalid_response",
            f"the server's answer is not JSON: {text[:200]!r}",
            method=response.request.method,
            url=str(response.request.url),
        ) from None


def read(parse: Callable[[Any], T]) -> Callable[[httpx.Response], T]:
    def reader(response: httpx.Response) -> T:
        return parse(json_body(response))

    return reader


def read_list(parse: Callable[[Any], T]) -> Callable[[httpx.Response], list[T]]:
    def reader(response: httpx.Response) -> list[T]:
        body = json_body(response)
        return [parse(item) for item in body or ()]

    return reader


def read_none(response: httpx.Response) -> None:
    return None


def read_result(response: httpx.Response) -> m.RunResult:
    thread_id, run_id = run_location(response.headers.get("Content-Location"))
    return m.RunResult.from_json(json_body(response), run_id=run_id, thread_id=thread_id)


def read_json(response: httpx.Response) -> Any:
    return json_body(response)


def read_text(response: httpx.Response) -> str:
    return response.text


def run_location(value: str | None) -> tuple[str | None, str | None]:
    """``(thread_id, run_id)`` from a ``Content-Location``/``Location`` header."""
    if not value:
        return None, None
    found = _RUN_PATH.search(urllib.parse.urlsplit(value).path)
    if not found:
        return None, None
    return urllib.parse.unquote(found.group(1)), urllib.parse.unquote(found.group(2))


# -- run requests --------------------------------------------------------------------------------
class RunOptions(TypedDict, total=False):
    """Options of a new run (``runs.create``/``wait``/``stream``), as in the LangGraph API."""

    input: Any
    command: Mapping[str, Any] | None  # {"resume": ..., "update": {...}, "goto": ...}
    stream_mode: str | Sequence[str] | None
    stream_subgraphs: bool | None
    config: Mapping[str, Any] | None
    context: Mapping[str, Any] | None
    metadata: Mapping[str, Any] | None
    interrupt_before: str | Sequence[str] | None
    interrupt_after: str | Sequence[str] | None
    multitask_strategy: str | None  # reject, interrupt, rollback, enqueue
    if_not_exists: str | None  # create, reject
    checkpoint_id: str | None  # fork the thread from this checkpoint
    after_seconds: float | None
    on_disconnect: str | None  # cancel, continue
    on_completion: str | None  # stateless runs: delete (default) or keep the thread
    extra: Mapping[str, Any] | None  # any other body field, sent as given


_LISTS = ("interrupt_before", "interrupt_after")


def run_body(assistant_id: str, options: RunOptions) -> dict[str, Any]:
    """The JSON body of a new run; options left unset (None) are not sent."""
    if not isinstance(assistant_id, str) or not assistant_id:
        raise DuraGraphClientError("assistant_id must be an assistant id or a graph id")
    opts: dict[str, Any] = dict(options)
    unknown = set(opts) - set(RunOptions.__annotations__)
    if unknown:
        raise DuraGraphClientError(f"unknown run option(s): {', '.join(sorted(unknown))}")
    extra = opts.pop("extra", None)
    body: dict[str, Any] = {"assistant_id": assistant_id}
    for name, value in opts.items():
        if value is None:
            continue
        if name == "stream_mode":
            value = modes(value)
        elif name in _LISTS and value != "*":
            value = [value] if isinstance(value, str) else list(value)
        elif isinstance(value, Mapping):
            value = dict(value)
        body[name] = value
    body.update(extra or {})
    return body


def runs_path(thread_id: str | None, suffix: str = "") -> str:
    """``threads/{id}/runs{suffix}``, or the stateless ``runs{suffix}`` without a thread."""
    base = f"threads/{seg(thread_id)}/runs" if thread_id is not None else "runs"
    return base + suffix


def run_path(run_id: str, thread_id: str | None, suffix: str = "") -> str:
    if thread_id is not None:
        return f"threads/{seg(thread_id)}/runs/{seg(run_id)}{suffix}"
    return f"runs/{seg(run_id)}{suffix}"
