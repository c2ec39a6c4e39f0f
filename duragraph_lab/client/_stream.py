"""A run's stream across connections, without I/O: where to read it, what each answer means,
which parts to deliver, and when (and how long after) to reconnect.

The clients only move bytes between httpx and a :class:`StreamSession`, and sleep when it says so
(``duragraph_lab.client._async.client.AsyncDuraGraphClient.stream_parts``, and its generated
twin). Every decision of the resume protocol is here, once:

- a first request that fails is not retried (a ``POST .../runs/stream`` that got no answer may or
  may not have created a run); neither is an error answer, unless a connection had already
  succeeded and the answer is a 502/503/504 (a server restarting, a proxy in between);
- a connection that drops, or a body that ends while the run is neither finished nor paused, is
  resumed from ``GET .../threads/{thread_id}/runs/{run_id}/stream`` with ``Last-Event-ID``;
- reconnects back off (``reconnect_delay`` doubling, or the server's ``retry:``), and the budget
  (``max_reconnects`` in a row) starts over whenever something new arrives;
- :class:`duragraph_lab.client.sse.Resumption` delivers every part exactly once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from duragraph_lab.client import _calls as c
from duragraph_lab.client import models as m
from duragraph_lab.client._common import (
    NO_BODY,
    Call,
    Settings,
    api_error,
    backoff,
    connection_error,
    modes,
    query,
    run_location,
    run_path,
    runs_path,
    seg,
)
from duragraph_lab.client.errors import DuraGraphAPIError, DuraGraphConnectionError
from duragraph_lab.client.sse import Resumption, SSEDecoder, StreamPart, decode_data

#: Answers worth another try on reconnect (a server restarting, a proxy in between).
RETRY_STATUSES = frozenset({502, 503, 504})


# -- where a stream is read from -------------------------------------------------------------------
@dataclass
class StreamTarget:
    """Where a stream is read from, and where to reconnect to once the run is known (a thread's
    stream, ``follows_thread``, reconnects to itself and ends only when the server ends it)."""

    method: str
    path: str
    params: list[tuple[str, str]]
    body: Any = NO_BODY
    run_id: str | None = None
    thread_id: str | None = None
    rejoin_params: list[tuple[str, str]] = field(default_factory=list)
    last_event_id: str | None = None
    follows_thread: bool = False

    def learn(self, response: httpx.Response) -> None:
        """The run's ids from ``Content-Location`` (set on create-and-stream answers)."""
        if self.follows_thread:
            return
        thread_id, run_id = run_location(
            response.headers.get("Content-Location") or response.headers.get("Location")
        )
        if run_id is not None:
            self.run_id, self.thread_id = run_id, thread_id

    def learn_metadata(self, data: Any) -> None:
        if self.follows_thread:
            return
        if self.run_id is None and isinstance(data, Mapping) and data.get("run_id"):
            self.run_id = str(data["run_id"])

    @property
    def can_rejoin(self) -> bool:
        return self.run_id is not None or self.follows_thread

    def rejoin(self) -> None:
        """From now on, read the run's own stream (``GET .../runs/{id}/stream``)."""
        if self.follows_thread:
            return
        assert self.run_id is not None
        if self.method != "GET":
            self.method, self.body, self.params = "GET", NO_BODY, list(self.rejoin_params)
        self.path = run_path(self.run_id, self.thread_id, "/stream")

    def request(self, headers: Mapping[str, str], resume_from: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {"params": self.params, "headers": {**headers, "Accept": "text/event-stream"}}
        if self.body is not NO_BODY:
            out["content"] = json.dumps(self.body, separators=(",", ":"), default=str).encode()
            out["headers"]["Content-Type"] = "application/json"
        last = resume_from if resume_from is not None else self.last_event_id
        if last is not None:
            out["headers"]["Last-Event-ID"] = last
        return out


def create_stream(thread_id: str | None, body: dict[str, Any]) -> StreamTarget:
    """``POST .../runs/stream``; reconnects follow the run's own stream (its modes are stored)."""
    return StreamTarget("POST", runs_path(thread_id, "/stream"), [], body=body)


def join_stream(
    run_id: str,
    thread_id: str | None,
    stream_mode: str | Sequence[str] | None,
    last_event_id: str | int | None,
) -> StreamTarget:
    params = query(stream_mode=modes(stream_mode))
    return StreamTarget(
        "GET",
        run_path(run_id, thread_id, "/stream"),
        params,
        run_id=run_id,
        thread_id=thread_id,
        rejoin_params=list(params),
        last_event_id=None if last_event_id is None else str(last_event_id),
    )


def thread_stream(
    thread_id: str, stream_mode: str | Sequence[str] | None, last_event_id: str | int | None
) -> StreamTarget:
    """``GET /threads/{id}/stream``: the thread's runs one after another (it stays open)."""
    return StreamTarget(
        "GET",
        f"threads/{seg(thread_id)}/stream",
        query(stream_modes=",".join(modes(stream_mode) or []) or None),
        last_event_id=None if last_event_id is None else str(last_event_id),
        follows_thread=True,
    )


def check_event_stream(response: httpx.Response) -> None:
    content_type = response.headers.get("Content-Type", "")
    if "text/event-stream" not in content_type:
        raise DuraGraphAPIError(
            response.status_code,
            "not_an_event_stream",
            f"expected text/event-stream, got {content_type or 'no content type'}",
            method=response.request.method,
            url=str(response.request.url),
        )


# -- one stream, many connections ----------------------------------------------------------------
class StreamSession:
    """The resume protocol of one stream, fed by a transport. One connection goes:

    ``request()`` → (read the body of a non-2xx answer) → ``opened(response)``, and when that is
    true, ``feed(chunk)`` for each chunk then ``body_ended()``; or ``dropped(err)`` on a
    transport error. Then ``rest_check()`` says whether the run's status decides the end
    (``at_rest(run)``/``at_rest_despite(err)`` read the answer), and the stream either ends
    (``finish()``: the parts still held) or goes on after ``reconnect()`` seconds.
    """

    def __init__(self, target: StreamTarget, settings: Settings) -> None:
        self.target = target
        self._settings = settings
        self._resume = Resumption()
        if target.last_event_id is not None:
            self._resume.last_id = target.last_event_id
            self._resume.last_seq = int(target.last_event_id) if target.last_event_id.isdigit() else None
        self._decoder = SSEDecoder()
        self._failures = 0  # reconnects in a row without anything new
        self._connected = False  # a connection has been answered with an event stream
        self._retry_hint: int | None = None  # the server's ``retry:``, in ms
        self._reason = ""  # why the current connection needs a successor ("": it ended cleanly)

    @property
    def url(self) -> str:
        return self._settings.base_url + self.target.path

    def request(self) -> tuple[str, str, dict[str, Any]]:
        """Method, path and httpx keyword arguments of the next connection."""
        self._reason = ""
        target = self.target
        return target.method, target.path, target.request({}, self._resume.last_id)

    def opened(self, response: httpx.Response) -> bool:
        """Whether to read the body as events. A non-2xx answer (its body read already) is raised,
        or, once a connection has succeeded, a 502/503/504 means reconnect."""
        if not response.is_success:
            if not (self._connected and response.status_code in RETRY_STATUSES):
                raise api_error(response)
            self._reason = f"HTTP {response.status_code}"
            return False
        check_event_stream(response)
        self.target.learn(response)
        self._connected = True
        self._decoder = SSEDecoder()
        return True

    def feed(self, chunk: bytes) -> Iterator[StreamPart]:
        """The parts that ``chunk`` completes, each delivered once across connections. Lazily:
        a part is made when the previous one has been taken (a chunk holds hundreds of frames;
        parts kept alive together until the chunk is done would cost the garbage collector)."""
        resume = self._resume
        for raw in self._decoder.feed(chunk):
            if raw.event == "metadata":
                self.target.learn_metadata(decode_data(raw.data))
            last, parts = resume.last_id, resume.accept(raw)
            if parts or resume.last_id != last:
                self._failures = 0  # progress: the reconnect budget starts over
            yield from parts

    def body_ended(self) -> None:
        """The body ended without a transport error."""
        self._retry_hint = self._decoder.retry

    def dropped(self, err: httpx.TransportError) -> None:
        """A transport error: raised as a connection error unless the stream can be resumed."""
        if not (self._connected and self.target.can_rejoin):
            raise connection_error(self.url, err) from err
        self._reason = f"{type(err).__name__}: {err}"

    def rest_check(self) -> Call[m.Run] | None:
        """After a connection that ended cleanly, on a run's own stream: the request whose answer
        says whether the run is at rest (the stream is over) or the body ended early."""
        target = self.target
        if self._reason or not target.can_rejoin or target.follows_thread:
            return None
        assert target.run_id is not None
        return c.run_get(target.run_id, target.thread_id)

    @property
    def over(self) -> bool:
        """Whether the last connection ended the stream without asking about the run: a clean
        end of a stream that cannot be (or is never) rejoined by run."""
        target = self.target
        return not self._reason and (not target.can_rejoin or target.follows_thread)

    def at_rest(self, run: m.Run) -> bool:
        if not run.at_rest:
            self._reason = "the stream ended before the run came to rest"
        return run.at_rest

    def at_rest_despite(self, err: DuraGraphAPIError | DuraGraphConnectionError) -> bool:
        """The answer to :meth:`rest_check` was an error: a deleted run counts as finished; an
        unreachable or restarting server as not yet; anything else is raised."""
        if isinstance(err, DuraGraphAPIError):
            if err.status == 404:
                return True
            if err.status not in RETRY_STATUSES:
                raise err
        self._reason = "the stream ended before the run came to rest"
        return False

    def finish(self) -> list[StreamPart]:
        """The stream is over: the parts held back since the last reconnect."""
        return self._resume.finish()

    def reconnect(self) -> float:
        """Seconds to wait before the next connection, to the run's own stream after what was
        received; a :class:`DuraGraphConnectionError` when ``max_reconnects`` ran out."""
        s = self._settings
        self._failures += 1
        if self._failures > s.max_reconnects:
            raise DuraGraphConnectionError(
                self.url, f"gave up after {s.max_reconnects} reconnects ({self._reason})"
            )
        delay = backoff(s, self._failures, self._retry_hint)
        self.target.rejoin()
        self._resume.reconnected()
        return delay
