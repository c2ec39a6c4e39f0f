"""The client's SSE parser, and exactly-once delivery across reconnects.

The reconnect tests run both clients (sync and async, one test body) against a tiny scripted HTTP
server (tests/faulty_server.py) that cuts connections where each test says: mid-frame, between the
frames of one event, or with a clean end of the body before the run is at rest; and that honours
(or ignores) ``Last-Event-ID``.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from duragraph_lab.client import (
    DuraGraphAPIError,
    DuraGraphClient,
    DuraGraphClientError,
    DuraGraphConnectionError,
    SSEDecoder,
    StreamPart,
    api_url,
)
from duragraph_lab.client.sse import RawEvent, Resumption, parse
from tests.client_flavours import FLAVOURS, AnyClient, close, drain, make, settle
from tests.faulty_server import RUN, THREAD, Cut, Script, event_frames, expected, frame, serving

# -- the parser ----------------------------------------------------------------------------------


def _events(*chunks: bytes) -> list[RawEvent]:
    decoder = SSEDecoder()
    return [e for chunk in chunks for e in decoder.feed(chunk)]


def test_frames_with_lf_crlf_and_cr_line_ends() -> None:
    for sep in (b"\n", b"\r\n", b"\r"):
        body = sep.join([b"event: values", b'data: {"a":1}', b"id: 7", b"", b'data: "x"', b"", b""])
        assert parse(body) == [StreamPart("values", {"a": 1}, "7"), StreamPart("message", "x", None)]


def test_every_split_point_gives_the_same_events() -> None:
    body = (
        ": heartbeat\r\n\r\n"
        'event: metadata\r\ndata: {"run_id":"r"}\r\n\r\n'
        'event: messages\r\ndata: ["h\u00e9llo \u2603"]\r\n\r\n'
        'event: updates\rdata: {"n":2}\rid: 12\r\r'
        'event: values\ndata: {"n":3}\nid: 13\n\n'
    ).encode()
    whole = [(e.event, e.data, e.id) for e in _events(body)]
    assert [e[0] for e in whole] == ["metadata", "messages", "updates", "values"]
    assert whole[1][1] == '["h\u00e9llo \u2603"]'
    for i in range(1, len(body)):
        for j in range(i, len(body)):
            split = _events(body[:i], body[i:j], body[j:])
            assert [(e.event, e.data, e.id) for e in split] == whole, (i, j)


def test_multiline_data_comments_and_odd_fields() -> None:
    decoder = SSEDecoder()
    body = (
        b"\xef\xbb\xbfdata: first\n"  # a BOM, dropped
        b"data:second\n"  # no space after the colon
        b"data\n"  # a field with no colon: empty value
        b": a comment\n"
        b"unknown: ignored\n"
        b"retry: 1500\n"
        b"retry: soon\n"  # not digits: ignored
        b"\n"
    )
    (event,) = list(decoder.feed(body))
    assert event.event == "message"
    assert event.data == "first\nsecond\n"
    assert decoder.retry == 1500
    assert decoder.comments == 1


def test_ids_persist_but_parts_carry_only_their_own() -> None:
    decoder = SSEDecoder()
    events = list(
        decoder.feed(b"event: a\ndata: 1\nid: 5\n\nevent: b\ndata: 2\n\nevent: c\ndata: 3\nid: x\x00y\n\n")
    )
    assert [(e.event, e.id, e.last_event_id) for e in events] == [
        ("a", "5", "5"),
        ("b", None, "5"),
        ("c", None, "5"),
    ]


def test_events_without_data_and_unterminated_events_are_not_dispatched() -> None:
    assert parse(b"event: metadata\n\nevent: values\ndata: {}\n") == []
    assert parse(b"event: lonely\nid: 3\n\n") == []


def test_data_that_is_not_json_stays_text() -> None:
    assert parse(b"event: error\ndata: oops {\n\n") == [StreamPart("error", "oops {", None)]


# -- exactly once, as bookkeeping ----------------------------------------------------------------


def _raw(event: str, data: Any, event_id: int | None = None) -> RawEvent:
    return RawEvent(event, json.dumps(data), None if event_id is None else str(event_id), "")


def test_resumption_skips_the_repeated_metadata_and_the_partial_event() -> None:
    r = Resumption()
    out: list[StreamPart] = []
    for raw in [
        _raw("metadata", {"run_id": "r", "attempt": 1}),
        _raw("values", {"n": 1}, 10),
        _raw("custom", 1),
    ]:
        out += r.accept(raw)
    out += r.accept(_raw("values", {"n": 2}))  # first frame of event 11, whose id frame is lost
    r.reconnected()
    for raw in [
        _raw("metadata", {"run_id": "r", "attempt": 2}),  # the same run: skipped
        _raw("values", {"n": 2}),  # repeated
        _raw("updates", {"a": 2}, 11),
        _raw("values", {"n": 3}, 12),
    ]:
        out += r.accept(raw)
    assert [(p.event, p.data, p.id) for p in out] == [
        ("metadata", {"run_id": "r", "attempt": 1}, None),
        ("values", {"n": 1}, "10"),
        ("custom", 1, None),
        ("values", {"n": 2}, None),
        ("updates", {"a": 2}, "11"),
        ("values", {"n": 3}, "12"),
    ]
    assert r.last_id == "12"


def test_resumption_drops_what_a_server_replays_from_the_start() -> None:
    r = Resumption()
    first = [_raw("metadata", {"run_id": "r"}), _raw("values", {"n": 1}), _raw("updates", {"n": 1}, 1)]
    out = [p for raw in first for p in r.accept(raw)]
    r.reconnected()
    again = [*first, _raw("values", {"n": 2}), _raw("updates", {"n": 2}, 2)]
    out += [p for raw in again for p in r.accept(raw)]
    assert [(p.event, p.id) for p in out] == [
        ("metadata", None),
        ("values", None),
        ("updates", "1"),
        ("values", None),
        ("updates", "2"),
    ]


def test_resumption_releases_held_frames_when_the_stream_ends() -> None:
    r = Resumption()
    out = r.accept(_raw("metadata", {"run_id": "r"})) + r.accept(_raw("values", {"n": 1}, 1))
    r.reconnected()
    out += r.accept(_raw("metadata", {"run_id": "r"}))
    out += r.accept(_raw("custom", {"late": True}))
    assert len(out) == 2  # held: the server has not said where it resumed yet
    out += r.finish()
    assert [p.event for p in out] == ["metadata", "values", "custom"]


def test_a_metadata_frame_of_another_run_is_not_a_repeat() -> None:
    r = Resumption()
    r.accept(_raw("metadata", {"run_id": "a"}))
    r.accept(_raw("values", {}, 1))
    r.reconnected()
    out = r.accept(_raw("metadata", {"run_id": "b"})) + r.accept(_raw("values", {}, 2))
    assert [(p.event, p.data) for p in out] == [("metadata", {"run_id": "b"}), ("values", {})]


def test_a_thread_stream_resumed_after_a_run_done_marker() -> None:
    r = Resumption()
    first = [
        _raw("metadata", {"run_id": "r1", "attempt": 1}),
        _raw("values", {"n": 1}, 76),
        _raw("values", {"n": 2}, 88),
        _raw("metadata", {"status": "run_done", "run_id": "r1"}),
    ]
    out = [p for raw in first for p in r.accept(raw)]
    r.reconnected()
    # The server resumes after 88 inside run r1: it announces r1 again (a later attempt, even).
    again = [
        _raw("metadata", {"run_id": "r1", "attempt": 2}),
        _raw("metadata", {"status": "run_done", "run_id": "r1"}),
        _raw("metadata", {"run_id": "r2", "attempt": 1}),
        _raw("values", {"n": 0}, 90),
        _raw("metadata", {"status": "run_done", "run_id": "r2"}),
    ]
    out += [p for raw in again for p in r.accept(raw)]
    assert [(p.event, p.data.get("run_id"), p.data.get("status"), p.id) for p in out] == [
        ("metadata", "r1", None, None),
        ("values", None, None, "76"),
        ("values", None, None, "88"),
        ("metadata", "r1", "run_done", None),
        ("metadata", "r2", None, None),
        ("values", None, None, "90"),
        ("metadata", "r2", "run_done", None),
    ]


# -- against a scripted server, with both clients ------------------------------------------------


@pytest.fixture
def scripted() -> Iterator[tuple[Script, str]]:
    script = Script()
    with serving(script) as url:
        yield script, url


@pytest.fixture(params=FLAVOURS)
def flavour(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@asynccontextmanager
async def _client(flavour: str, url: str, **kwargs: Any) -> AsyncIterator[AnyClient]:
    client = make(flavour, url, "secret", reconnect_delay=0.01, timeout=5, **kwargs)
    try:
        yield client
    finally:
        await close(client)


def _tuples(parts: list[StreamPart]) -> list[tuple[str, Any, str | None]]:
    return [(p.event, p.data, p.id) for p in parts]


async def test_uninterrupted_stream(scripted: tuple[Script, str], flavour: str) -> None:
    script, url = scripted
    async with _client(flavour, url) as client:
        parts = await settle(client.runs.stream(THREAD, "g", input={}))
    assert _tuples(parts) == expected(script.total)
    # One stream request, then one look at the run: it is at rest, so the end is the end.
    assert [r[0] for r in script.requests] == ["POST", "GET"]


CUTS = {
    "dropped mid-frame": [Cut(3, extra=17), Cut(4, extra=5)],
    "dropped between the frames of one event": [Cut(2, extra=len(frame("values", {"n": 3})) + 4)],
    "dropped after a live frame": [Cut(3, extra=len(frame("custom", {"live": 4})) + 2)],
    "dropped right after an id": [Cut(5), Cut(0), Cut(1)],
    "premature clean end": [Cut(4, clean=True), Cut(2, extra=40, clean=True)],
    "all at once": [
        Cut(1, extra=3),
        Cut(3, clean=True),
        Cut(0, extra=80),
        Cut(2, extra=len(event_frames(1)) - 2),
    ],
}


@pytest.mark.parametrize("honour", [True, False], ids=["resumes", "server-restarts-from-0"])
@pytest.mark.parametrize("name", list(CUTS))
async def test_reconnects_deliver_every_part_once_in_order(
    scripted: tuple[Script, str], flavour: str, name: str, honour: bool
) -> None:
    script, url = scripted
    script.cuts = CUTS[name]
    script.honour_last_event_id = honour
    script.live_every = 1000 if not honour else 4  # a restarting server would repeat live frames
    async with _client(flavour, url) as client:
        parts = await settle(client.runs.stream(THREAD, "g", input={}))
    assert _tuples(parts) == expected(script.total, script.live_every)
    streams = [r for r in script.requests if r[1].endswith("/stream")]
    assert len(streams) == len(script.cuts) + 1
    # Reconnects go to the run's own stream (on our server, not the Content-Location's host),
    # sending the last id received.
    assert streams[0][0] == "POST"
    assert all(r[0] == "GET" and f"/threads/{THREAD}/runs/{RUN}/stream" in r[1] for r in streams[1:])
    ids = [r[2] for r in streams]
    assert ids[0] is None
    delivered = [p.id for p in parts if p.id is not None]
    assert all(i is None or i in delivered for i in ids[1:])
    assert [int(i or 0) for i in ids] == sorted(int(i or 0) for i in ids)


async def test_join_stream_resumes_after_the_given_id(scripted: tuple[Script, str], flavour: str) -> None:
    script, url = scripted
    script.cuts = [Cut(2, extra=11)]
    async with _client(flavour, url) as client:
        parts = await settle(
            client.runs.join_stream(RUN, thread_id=THREAD, stream_mode=["values"], last_event_id=6)
        )
    want = expected(script.total)
    start = want.index(("updates", {"step": 6}, "6")) + 1
    assert _tuples(parts) == [want[0], *want[start:]]
    assert script.requests[0][2] == "6"
    assert "stream_mode=values" in script.requests[0][1]
    assert "stream_mode=values" in script.requests[1][1]


async def test_gives_up_after_max_reconnects(scripted: tuple[Script, str], flavour: str) -> None:
    script, url = scripted
    script.cuts = [Cut(0, extra=5)] * 10
    async with _client(flavour, url, max_reconnects=3) as client:
        parts: list[StreamPart] = []
        with pytest.raises(DuraGraphConnectionError, match="gave up after 3 reconnects") as info:
            await drain(client.runs.stream(THREAD, "g", input={}), parts)
    assert url.rstrip("/") in str(info.value)
    assert parts == [StreamPart("metadata", {"run_id": RUN, "attempt": 1}, None)]
    assert len([r for r in script.requests if r[1].endswith("/stream")]) == 4


async def test_progress_resets_the_reconnect_budget(scripted: tuple[Script, str], flavour: str) -> None:
    script, url = scripted
    script.cuts = [Cut(1)] * 11  # eleven drops, each after one more event
    async with _client(flavour, url, max_reconnects=1) as client:
        parts = await settle(client.runs.stream(THREAD, "g", input={}))
    assert _tuples(parts) == expected(script.total)


async def test_an_error_answer_is_raised_not_retried(scripted: tuple[Script, str], flavour: str) -> None:
    script, url = scripted
    script.statuses = {0: 409}
    async with _client(flavour, url) as client:
        with pytest.raises(DuraGraphAPIError) as info:
            await settle(client.runs.stream(THREAD, "g", input={}))
        assert (info.value.status, info.value.code, info.value.message) == (409, "conflict", "thread is busy")
        assert len(script.requests) == 1
        with pytest.raises(DuraGraphAPIError) as info:
            await settle(client.runs.join_stream("nope", thread_id=THREAD))
        assert info.value.status == 404


async def test_unreachable_server_names_the_url(flavour: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    async with _client(flavour, url) as client:
        with pytest.raises(DuraGraphConnectionError, match=f"127.0.0.1:{port}/duragraph/api/v1/health"):
            await settle(client.health())
        with pytest.raises(DuraGraphConnectionError, match=f"127.0.0.1:{port}"):
            await settle(client.runs.stream(THREAD, "g", input={}))


def test_sends_the_token(scripted: tuple[Script, str]) -> None:
    _, url = scripted
    with DuraGraphClient(url, token="t0k") as client:
        assert client.settings.headers["Authorization"] == "token t0k"
    with DuraGraphClient(url + "lab?token=abc") as client:
        assert client.settings.headers["Authorization"] == "token abc"


@pytest.mark.parametrize(
    ("given", "api"),
    [
        ("http://h:8888", "http://h:8888/duragraph/api/v1/"),
        ("http://h:8888/", "http://h:8888/duragraph/api/v1/"),
        ("https://h/user/bob/", "https://h/user/bob/duragraph/api/v1/"),
        ("http://h:8888/duragraph/api/v1", "http://h:8888/duragraph/api/v1/"),
        ("http://h:8888/base/duragraph/api/v1/", "http://h:8888/base/duragraph/api/v1/"),
        ("http://h:8888/duragraph/api/v1/info?token=x", "http://h:8888/duragraph/api/v1/"),
        ("http://h:8888/lab?token=x", "http://h:8888/duragraph/api/v1/"),
        ("http://h:8888/base/lab/tree/a.ipynb", "http://h:8888/base/duragraph/api/v1/"),
    ],
)
def test_api_url(given: str, api: str) -> None:
    assert api_url(given) == api


def test_not_a_url() -> None:
    with pytest.raises(DuraGraphClientError, match="not an http"):
        DuraGraphClient("localhost:8888")


def test_defaults_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DURAGRAPH_URL", "http://example.invalid:8888/base/")
    monkeypatch.setenv("DURAGRAPH_TOKEN", "envtoken")
    with DuraGraphClient() as client:
        assert client.url == "http://example.invalid:8888/base/duragraph/api/v1/"
        assert client.settings.headers["Authorization"] == "token envtoken"
    monkeypatch.delenv("DURAGRAPH_URL")
    with pytest.raises(DuraGraphClientError, match="DURAGRAPH_URL"):
        DuraGraphClient()
