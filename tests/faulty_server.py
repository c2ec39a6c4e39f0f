"""A tiny scripted HTTP server (stdlib ``http.server`` in a thread) that speaks just enough of the
API for the client's tests, and fails where each test says.

Streams (``POST .../threads/{THREAD}/runs/stream``, ``GET .../runs/{RUN}/stream``): connections
cut mid-frame, between the frames of one event, or with a clean end of the body before the run is
at rest; ``Last-Event-ID`` honoured or ignored; error answers, or no answer at all, on chosen
connections. The run (``GET .../threads/{THREAD}/runs/{RUN}``) is at rest once the whole stream
has been sent; its answers can be scripted too.

Plain calls: error answers in the server's JSON and as a proxy's pages, a body that is not JSON,
a connection closed before answering, a late answer, the event log page by page, and the event
log as an Arrow stream (optionally cut).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import socket
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

THREAD, RUN = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"
PREFIX = "/duragraph/api/v1"
#: A stream answer that is no answer: the connection is closed before a status line.
NO_ANSWER = 0


def frame(event: str, data: Any, event_id: int | None = None) -> bytes:
    out = f"event: {event}\ndata: {json.dumps(data)}\n"
    if event_id is not None:
        out += f"id: {event_id}\n"
    return (out + "\n").encode()


def event_frames(seq: int) -> bytes:
    """Durable event ``seq``: two frames, only the last one with the id (as our server does)."""
    return frame("values", {"n": seq}) + frame("updates", {"step": seq}, seq)


@dataclass
class Cut:
    """How connection ``i`` ends: after ``events`` whole events (counted from where it resumed),
    plus ``extra`` bytes of the next ones; ``clean`` ends the body properly (a premature EOF)
    instead of dropping the connection."""

    events: int
    extra: int = 0
    clean: bool = False


def log_event(seq: int) -> dict[str, Any]:
    """Event ``seq`` of the run's log, as ``GET /runs/{id}/events`` gives it."""
    return {
        "seq": seq,
        "event_id": f"{seq:08d}-0000-0000-0000-000000000000",
        "stream_id": f"run:{RUN}",
        "version": seq,
        "type": "node_completed" if seq % 2 else "step_planned",
        "recorded_at": (dt.datetime(2025, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=seq)).isoformat(),
        "data": {"node": f"n{seq % 3}", "step": seq // 2, "attempt": 1, "duration_ms": 1.5},
        "meta": {},
    }


@dataclass
class Script:
    total: int = 12
    cuts: list[Cut] = field(default_factory=list)
    honour_last_event_id: bool = True
    live_every: int = 4  # a live (id-less, never replayed) frame before every 4th event
    #: Stream connection number -> the status answered instead of a stream (NO_ANSWER: none).
    statuses: dict[int, int] = field(default_factory=dict)
    stream_content_type: str = "text/event-stream; charset=utf-8"
    #: Statuses answered to the run's GET, in order, before its real status.
    run_answers: list[int] = field(default_factory=list)
    #: The run's event log: how many events, and whether pages lie about ``has_more``.
    log_events: int = 10
    endless_pages: bool = False
    #: Bytes of the Arrow body sent before the connection is dropped (None: all of it).
    arrow_cut: int | None = None
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    connections: int = 0
    done: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def body(self, after: int) -> tuple[bytes, Cut | None]:
        cut = self.cuts[self.connections] if self.connections < len(self.cuts) else None
        self.connections += 1
        out = frame("metadata", {"run_id": RUN, "attempt": 1})
        start = after + 1 if self.honour_last_event_id else 1
        for sent_events, seq in enumerate(range(start, self.total + 1)):
            block = event_frames(seq)
            if seq % self.live_every == 0 and seq > after:
                block = frame("custom", {"live": seq}) + block
            if cut is not None and sent_events == cut.events:
                return out + block[: cut.extra], cut
            out += block
        self.done = True
        return out, None

    def paths(self, method: str, suffix: str) -> list[str]:
        """The paths of the requests made so far with ``method`` whose path ends with ``suffix``."""
        return [
            p for m, p, _ in self.requests if m == method and urllib.parse.urlsplit(p).path.endswith(suffix)
        ]


def expected(total: int, live_every: int = 4) -> list[tuple[str, Any, str | None]]:
    out: list[tuple[str, Any, str | None]] = [("metadata", {"run_id": RUN, "attempt": 1}, None)]
    for seq in range(1, total + 1):
        if seq % live_every == 0:
            out.append(("custom", {"live": seq}, None))
        out += [("values", {"n": seq}, None), ("updates", {"step": seq}, str(seq))]
    return out


def arrow_log(events: int) -> bytes:
    """The run's log as ``GET /runs/{id}/events.arrow`` sends it (an Arrow IPC stream)."""
    import pyarrow as pa

    rows = [log_event(seq) for seq in range(1, events + 1)]
    table = pa.table(
        {
            "seq": pa.array([r["seq"] for r in rows], pa.int64()),
            "recorded_at": pa.array(
                [dt.datetime.fromisoformat(r["recorded_at"]) for r in rows], pa.timestamp("us", tz="UTC")
            ),
            "stream": pa.array([r["stream_id"] for r in rows]),
            "event_id": pa.array([r["event_id"] for r in rows]),
            "type": pa.array([r["type"] for r in rows]),
            "node": pa.array([r["data"]["node"] for r in rows]),
            "task": pa.array([None] * len(rows), pa.string()),
            "step": pa.array([r["data"]["step"] for r in rows], pa.int64()),
            "attempt": pa.array([r["data"]["attempt"] for r in rows], pa.int64()),
            "duration_ms": pa.array([r["data"]["duration_ms"] for r in rows], pa.float64()),
            "data": pa.array([json.dumps(r["data"]) for r in rows]),
        }
    )
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=64):
            writer.write_batch(batch)
    return sink.getvalue()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    script: Script

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, body: Any) -> None:
        self._send(status, json.dumps(body).encode(), "application/json")

    def _chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

    def _drop(self) -> None:
        """Close the connection where it stands (httpx sees an incomplete body, or no answer)."""
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True

    def _record(self) -> None:
        self.script.requests.append((self.command, self.path, self.headers.get("Last-Event-ID")))

    def _stream(self) -> None:
        script = self.script
        with script.lock:
            self._record()
            status = script.statuses.get(script.connections)
            if status is not None:
                script.connections += 1
                if status == NO_ANSWER:
                    self._drop()
                else:
                    self._json(status, {"error": "conflict", "message": "thread is busy"})
                return
            after = int(self.headers.get("Last-Event-ID") or 0)
            body, cut = script.body(after)
        self.send_response(200)
        self.send_header("Content-Type", script.stream_content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Content-Location", f"http://elsewhere{PREFIX}/threads/{THREAD}/runs/{RUN}")
        self.end_headers()
        for i in range(0, len(body), 50):  # in pieces: frames split across chunks
            self._chunk(body[i : i + 50])
        if cut is not None and not cut.clean:
            self._drop()
            return
        self.wfile.write(b"0\r\n\r\n")

    def _run(self) -> None:
        script = self.script
        with script.lock:
            self._record()
            answer = script.run_answers.pop(0) if script.run_answers else 200
            status = "success" if script.done else "running"
        if answer != 200:
            self._json(answer, {"error": "unavailable", "message": "try again"})
        else:
            self._json(200, {"run_id": RUN, "thread_id": THREAD, "status": status})

    def _events(self, query: dict[str, list[str]]) -> None:
        after, limit = int(query["after"][0]), int(query["limit"][0])
        total = self.script.log_events
        seqs = [s for s in range(after + 1, total + 1)][:limit]
        has_more = self.script.endless_pages or (bool(seqs) and seqs[-1] < total)
        self._json(
            200,
            {
                "run_id": RUN,
                "events": [log_event(s) for s in seqs],
                "has_more": has_more,
                "next_after": seqs[-1] if seqs and has_more else None,
            },
        )

    def _arrow(self) -> None:
        body = arrow_log(self.script.log_events)
        cut = self.script.arrow_cut
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.apache.arrow.stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        sent = body if cut is None else body[:cut]
        for i in range(0, len(sent), 512):
            self._chunk(sent[i : i + 512])
        if cut is not None:
            self._drop()
            return
        self.wfile.write(b"0\r\n\r\n")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == f"{PREFIX}/threads/{THREAD}/runs/stream":
            self._stream()
            return
        with self.script.lock:
            self._record()
        if self.path == f"{PREFIX}/threads":
            self._send(502, b"Bad Gateway: the upstream server went away", "text/plain")
        elif self.path == f"{PREFIX}/runs/search":
            self._drop()  # no answer: a request that may or may not have been handled
        else:
            self._json(404, {"error": "not_found", "message": self.path})

    def do_GET(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        path, query = parts.path, urllib.parse.parse_qs(parts.query)
        if path == f"{PREFIX}/threads/{THREAD}/runs/{RUN}/stream":
            self._stream()
            return
        if path == f"{PREFIX}/threads/{THREAD}/runs/{RUN}":
            self._run()
            return
        with self.script.lock:
            self._record()
        if path == f"{PREFIX}/health":
            self._json(
                503, {"status": "degraded", "version": "9", "postgres": {"ok": False}, "nats": {"ok": True}}
            )
        elif path == f"{PREFIX}/info":
            self._send(200, b"<html>a login page</html>", "text/html")
        elif path == f"{PREFIX}/threads/{THREAD}":
            page = b"<html><head><title>500 : Internal Server Error</title></head><body>oops</body></html>"
            self._send(500, page, "text/html")
        elif path == f"{PREFIX}/runs/{RUN}/events":
            self._events(query)
        elif path == f"{PREFIX}/runs/{RUN}/events.arrow":
            self._arrow()
        elif path == f"{PREFIX}/openapi.json":
            self._drop()
        elif path == f"{PREFIX}/metrics":
            time.sleep(1.0)  # longer than the tests' client timeout
            self._send(200, b"late\n", "text/plain")
        else:
            self._json(
                404,
                {
                    "error": "not_found",
                    "message": f"no route {path}",
                    "details": [{"loc": ["path"], "msg": "unknown"}],
                },
            )


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that goes away mid-answer (it gave up, or raised on what it read) is a
        # scripted case, not a server error; anything else is still reported.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def serving(script: Script) -> Iterator[str]:
    """The server's URL while it runs ``script``."""
    handler = type("Handler", (_Handler,), {"script": script})
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
