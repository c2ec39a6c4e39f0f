"""Request bodies are refused before they are read: without credentials (or with wrong ones) a
400 MB body costs the server nothing, whether announced by Content-Length or sent chunked; an
authenticated body announced over the limit is refused from its headers, and a chunked one as
soon as it passes the limit.

The senders are raw sockets, so that what the server reads is what it took from the socket:
a sender that the server stops reading from can push no more than the sockets' buffers hold.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import psutil
import pytest

from tests.api_cases import Database
from tests.apiserver import ApiServer

MiB = 1024 * 1024
HUGE = 400 * MiB
LIMIT = 10 * MiB  # the server's default max_body_bytes
#: What a sender may push into a connection the server no longer reads: the kernel's send and
#: receive buffers on loopback hold a few MB; a server reading the body takes all 400.
UNREAD_BOUND = 64 * MiB
GROWTH_BOUND = 50 * MiB


@pytest.fixture(scope="module")
def db(api_server: ApiServer) -> Iterator[Database]:
    database = Database(api_server)
    database.quiet(timeout=60)
    yield database
    database.close()


@dataclass
class Upload:
    """One POST whose body is sent until the server stops taking it."""

    server: ApiServer
    path: str
    headers: dict[str, str]
    size: int
    chunked: bool = False
    sent: int = 0
    seconds: float = 0.0
    answer: bytes = b""
    error: str = ""
    _thread: threading.Thread = field(init=False, repr=False)

    def start(self) -> Upload:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def join(self, timeout: float = 120.0) -> Upload:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"the upload to {self.path} is still running"
        return self

    def _run(self) -> None:
        started = time.monotonic()
        head = [f"POST /duragraph/api/v1{self.path} HTTP/1.1", f"Host: 127.0.0.1:{self.server.port}"]
        head += [f"{name}: {value}" for name, value in self.headers.items()]
        head.append("Transfer-Encoding: chunked" if self.chunked else f"Content-Length: {self.size}")
        block = b"\0" * MiB
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=30) as sock:
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
            try:
                while self.sent < self.size:
                    sock.sendall(b"%x\r\n%s\r\n" % (len(block), block) if self.chunked else block)
                    self.sent += len(block)
                if self.chunked:
                    sock.sendall(b"0\r\n\r\n")
            except OSError as err:  # the server answered and closed the connection
                self.error = repr(err)
            self.answer = read_answer(sock)
        self.seconds = time.monotonic() - started

    @property
    def status(self) -> int:
        return int(self.answer.split(b" ", 2)[1]) if self.answer.startswith(b"HTTP/1.1 ") else 0

    @property
    def body(self) -> bytes:
        return self.answer.partition(b"\r\n\r\n")[2]


def read_answer(sock: socket.socket) -> bytes:
    answer = b""
    try:
        while chunk := sock.recv(65536):
            answer += chunk
    except OSError:
        pass  # reset after the answer was read
    return answer


class RssWatch:
    """The server process's resident memory, sampled every 10 ms until stopped."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.baseline = self.process.memory_info().rss
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak - self.baseline


CREDENTIALS = [{}, {"Authorization": "token not-the-token"}, {"Authorization": "Bearer not-the-token"}]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_three_unauthenticated_400mb_bodies_are_not_read(
    api_server: ApiServer, db: Database, chunked: bool
) -> None:
    assert api_server.proc is not None
    before = db.snapshot()
    watch = RssWatch(api_server.proc.pid)
    uploads = [
        Upload(
            api_server, "/threads", {"Content-Type": "application/json", **credentials}, HUGE, chunked
        ).start()
        for credentials in CREDENTIALS
    ]
    for upload in uploads:
        upload.join()
    growth = watch.stop()
    print(
        f"\n{'chunked' if chunked else 'content-length'}: server RSS {watch.baseline / MiB:.0f} MB, "
        f"peak +{growth / MiB:.1f} MB; sent before refusal (MB): "
        f"{[round(u.sent / MiB) for u in uploads]}; seconds: {[round(u.seconds, 2) for u in uploads]}"
    )
    assert growth < GROWTH_BOUND, f"the server grew by {growth / MiB:.0f} MB"
    for upload in uploads:
        assert upload.sent < UNREAD_BOUND, (
            f"the server took {upload.sent / MiB:.0f} MB of an unauthenticated body"
        )
        assert upload.seconds < 10, upload.seconds
        assert upload.status == 401, upload.answer[:300]
        assert b'"error": "unauthorized"' in upload.body, upload.body
    assert db.snapshot() == before


def test_an_oversized_body_is_refused_from_its_headers(api_server: ApiServer, db: Database) -> None:
    """Nothing of the body is sent: the answer comes from the Content-Length alone."""
    before = db.snapshot()
    with socket.create_connection(("127.0.0.1", api_server.port), timeout=10) as sock:
        sock.sendall(
            f"POST /duragraph/api/v1/threads HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: token {api_server.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {LIMIT + 1}\r\n\r\n".encode()
        )
        answer = read_answer(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b"connection: close" in head.lower()
    assert b'"error": "body_too_large"' in body and str(LIMIT).encode() in body, body
    assert db.snapshot() == before


def test_a_chunked_body_is_refused_when_it_passes_the_limit(api_server: ApiServer, db: Database) -> None:
    """The limit itself is accepted; one byte more is answered at once, before the body ends."""
    before = db.snapshot()
    with socket.create_connection(("127.0.0.1", api_server.port), timeout=10) as sock:
        sock.sendall(
            f"POST /duragraph/api/v1/threads/count HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: token {api_server.token}\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        pad = b" " * MiB
        for _ in range(LIMIT // MiB):
            sock.sendall(b"%x\r\n%s\r\n" % (len(pad), pad))
        sock.settimeout(1.0)
        with pytest.raises(TimeoutError):
            sock.recv(1)  # at the limit: no answer yet
        sock.settimeout(10)
        sock.sendall(b"1\r\n \r\n")
        answer = read_answer(sock)  # without the terminating chunk: the body has not ended
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), answer[:300]
    assert b'"error": "body_too_large"' in body, body
    assert db.snapshot() == before


def test_a_chunked_body_of_exactly_the_limit_is_accepted(api_server: ApiServer) -> None:
    with socket.create_connection(("127.0.0.1", api_server.port), timeout=30) as sock:
        sock.sendall(
            f"POST /duragraph/api/v1/threads/count HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            f"Authorization: token {api_server.token}\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        body = b"{}" + b" " * (LIMIT - 2)
        for start in range(0, LIMIT, MiB):
            piece = body[start : start + MiB]
            sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        sock.sendall(b"0\r\n\r\n")
        answer = read_answer(sock)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]


def test_a_refused_small_body_leaves_the_answer_readable(api_server: ApiServer, db: Database) -> None:
    """A small body with a wrong token is read (and dropped) before the answer, so that a client
    writing its whole request before reading gets the answer rather than a reset."""
    for _ in range(20):
        conn = http.client.HTTPConnection("127.0.0.1", api_server.port, timeout=10)
        try:
            body = b'{"metadata": {"pad": "' + b"x" * 30_000 + b'"}}'
            conn.request("POST", "/duragraph/api/v1/threads", body, {"Authorization": "token wrong"})
            response = conn.getresponse()
            assert response.status == 401
            assert b'"unauthorized"' in response.read()
        finally:
            conn.close()
