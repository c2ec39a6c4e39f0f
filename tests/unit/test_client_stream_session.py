"""The resume protocol of streams, without I/O (duragraph_lab/client/_stream.py): what each
connection asks for, what an answer or a broken connection means, how long to wait before the
next one, and when to give up. The transports only move bytes between httpx and this."""

from __future__ import annotations

import httpx
import pytest

from duragraph_lab.client import DuraGraphAPIError, DuraGraphConnectionError, StreamPart
from duragraph_lab.client._common import Settings, settings
from duragraph_lab.client._stream import StreamSession, create_stream, join_stream, thread_stream
from duragraph_lab.client.models import Run

URL = "http://127.0.0.1:9/"
API = "http://127.0.0.1:9/duragraph/api/v1/"
THREAD, RUN = "t-1", "r-1"


def _settings(max_reconnects: int = 5, reconnect_delay: float = 0.25) -> Settings:
    return settings(URL, "secret", 5.0, None, max_reconnects, reconnect_delay)


def _answer(session: StreamSession, status: int = 200, **headers: str) -> httpx.Response:
    method, path, _ = session.request()
    content_type = "text/event-stream" if status == 200 else "application/json"
    body = b"" if status == 200 else b'{"error": "unavailable", "message": "restarting"}'
    return httpx.Response(
        status,
        headers={"Content-Type": content_type, **headers},
        content=body,
        request=httpx.Request(method, API + path),
    )


def _frame(seq: int) -> bytes:
    return f'event: values\ndata: {{"n": {seq}}}\nid: {seq}\n\n'.encode()


def _connect(session: StreamSession, *chunks: bytes, **headers: str) -> list[StreamPart]:
    assert session.opened(_answer(session, **headers))
    return [part for chunk in chunks for part in session.feed(chunk)]


def test_backoff_doubles_up_to_five_seconds_then_gives_up() -> None:
    session = StreamSession(join_stream(RUN, THREAD, None, None), _settings(max_reconnects=7))
    _connect(session)
    delays = [session.reconnect() for _ in range(7)]
    assert delays == [0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    with pytest.raises(DuraGraphConnectionError, match="gave up after 7 reconnects"):
        session.reconnect()


def test_the_servers_retry_is_used_capped() -> None:
    session = StreamSession(join_stream(RUN, THREAD, None, None), _settings())
    _connect(session, b"retry: 1500\n\n")
    session.body_ended()
    assert session.reconnect() == 1.5
    _connect(session, b"retry: 60000\n\n")
    session.body_ended()
    assert session.reconnect() == 5.0


def test_anything_new_starts_the_budget_over() -> None:
    session = StreamSession(join_stream(RUN, THREAD, None, None), _settings(max_reconnects=2))
    _connect(session, _frame(1))
    assert [session.reconnect(), session.reconnect()] == [0.25, 0.5]
    assert _connect(session, _frame(1)) == []  # a repeat is not progress ...
    with pytest.raises(DuraGraphConnectionError):
        session.reconnect()
    session = StreamSession(join_stream(RUN, THREAD, None, None), _settings(max_reconnects=2))
    _connect(session, _frame(1))
    assert [session.reconnect(), session.reconnect()] == [0.25, 0.5]
    assert _connect(session, _frame(2)) == [StreamPart("values", {"n": 2}, "2")]  # ... a new id is
    assert session.reconnect() == 0.25


def test_a_created_run_is_rejoined_by_its_own_stream_after_the_last_id() -> None:
    body = {"assistant_id": "g", "input": {}}
    session = StreamSession(create_stream(THREAD, body), _settings())
    method, path, kwargs = session.request()
    assert (method, path, kwargs["headers"].get("Last-Event-ID")) == (
        "POST",
        f"threads/{THREAD}/runs/stream",
        None,
    )
    assert kwargs["content"] == b'{"assistant_id":"g","input":{}}'
    location = f"http://elsewhere/duragraph/api/v1/threads/{THREAD}/runs/{RUN}"
    assert _connect(session, _frame(7), b"event: values\ndata: {}\n", **{"Content-Location": location})
    session.dropped(httpx.ReadError("cut"))
    assert session.rest_check() is None and not session.over
    session.reconnect()
    method, path, kwargs = session.request()
    assert (method, path, kwargs["params"]) == ("GET", f"threads/{THREAD}/runs/{RUN}/stream", [])
    assert kwargs["headers"]["Last-Event-ID"] == "7" and "content" not in kwargs


def test_a_joined_stream_keeps_its_modes_and_starts_after_the_given_id() -> None:
    session = StreamSession(join_stream(RUN, None, ["values", "updates"], 41), _settings())
    method, path, kwargs = session.request()
    modes = [("stream_mode", "values"), ("stream_mode", "updates")]
    assert (method, path, kwargs["params"], kwargs["headers"]["Last-Event-ID"]) == (
        "GET",
        f"runs/{RUN}/stream",
        modes,
        "41",
    )
    assert _connect(session, _frame(41)) == []  # already had it
    session.dropped(httpx.RemoteProtocolError("cut"))
    session.reconnect()
    assert session.request()[2]["params"] == modes


def test_what_a_connection_that_ends_cleanly_means() -> None:
    session = StreamSession(join_stream(RUN, THREAD, None, None), _settings(max_reconnects=0))
    _connect(session, _frame(1))
    session.body_ended()
    assert not session.over
    check = session.rest_check()  # the run's status decides
    assert check is not None and (check.method, check.path) == ("GET", f"threads/{THREAD}/runs/{RUN}")
    assert session.at_rest(Run.from_json({"run_id": RUN, "thread_id": THREAD, "status": "interrupted"}))
    assert session.at_rest_despite(DuraGraphAPIError(404, "not_found", "no run"))  # deleted: over
    for not_yet in (DuraGraphAPIError(503, "unavailable", "x"), DuraGraphConnectionError(API, "refused")):
        assert not session.at_rest_despite(not_yet)
    with pytest.raises(DuraGraphAPIError, match="403 forbidden"):
        session.at_rest_despite(DuraGraphAPIError(403, "forbidden", "no"))
    assert not session.at_rest(Run.from_json({"run_id": RUN, "thread_id": THREAD, "status": "running"}))
    with pytest.raises(
        DuraGraphConnectionError, match=r"0 reconnects \(the stream ended before the run came"
    ):
        session.reconnect()


def test_a_thread_stream_ends_when_the_server_ends_it() -> None:
    session = StreamSession(thread_stream(THREAD, None, None), _settings())
    _connect(session, b'event: metadata\ndata: {"run_id": "other"}\n\n')
    session.body_ended()
    assert session.rest_check() is None and session.over
    assert session.target.run_id is None  # a thread's stream is not one run's
    session.dropped(httpx.ReadError("cut"))  # but a drop resumes it
    session.reconnect()
    assert session.request()[1] == f"threads/{THREAD}/stream"


def test_failures_before_a_stream_was_answered_are_raised() -> None:
    session = StreamSession(create_stream(None, {"assistant_id": "g"}), _settings())
    with pytest.raises(DuraGraphConnectionError, match=f"{API}runs/stream: refused"):
        session.dropped(httpx.ConnectError("refused"))
    with pytest.raises(DuraGraphAPIError, match="503 unavailable"):
        session.opened(_answer(session, 503))


def test_a_restarting_server_is_retried_once_a_stream_was_answered() -> None:
    session = StreamSession(join_stream(RUN, THREAD, None, None), _settings())
    _connect(session)
    session.dropped(httpx.ReadError("cut"))
    session.reconnect()
    assert not session.opened(_answer(session, 503))
    assert session.rest_check() is None and not session.over
    session.reconnect()
    with pytest.raises(DuraGraphAPIError, match="409"):
        session.opened(_answer(session, 409))


def test_a_stateless_run_without_ids_cannot_be_resumed() -> None:
    session = StreamSession(create_stream(None, {"assistant_id": "g"}), _settings())
    _connect(session, _frame(1))  # no Content-Location, no metadata: the run is unknown
    with pytest.raises(DuraGraphConnectionError, match="cut"):
        session.dropped(httpx.ReadError("cut"))
    session.body_ended()
    assert session.rest_check() is None and session.over
