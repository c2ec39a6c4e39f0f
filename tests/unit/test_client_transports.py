"""The sync and the async client behave the same on the edge cases, one test body for both, on a
scripted server that fails on purpose (tests/faulty_server.py): which stream requests are retried
(reconnects, also after an error answer or no answer) and which are not (a first request, plain
calls), how the run's status decides whether a stream is over, how 4xx/5xx answers and broken
connections map to errors, and how the event log is paged and read as a DataFrame."""

from __future__ import annotations

import urllib.parse
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from duragraph_lab.client import (
    DuraGraphAPIError,
    DuraGraphConnectionError,
    DuraGraphTimeoutError,
    Health,
    StreamPart,
)
from tests.client_flavours import FLAVOURS, AnyClient, close, drain, make, settle
from tests.faulty_server import NO_ANSWER, PREFIX, RUN, THREAD, Cut, Script, expected, serving


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
    client = make(flavour, url, "secret", **{"reconnect_delay": 0.01, "timeout": 5, **kwargs})
    try:
        yield client
    finally:
        await close(client)


def _tuples(parts: list[StreamPart]) -> list[tuple[str, Any, str | None]]:
    return [(p.event, p.data, p.id) for p in parts]


def _streams(script: Script) -> list[tuple[str, str | None]]:
    """Method and Last-Event-ID of each stream request."""
    return [(method, last) for method, path, last in script.requests if path.endswith("/stream")]


def _afters(script: Script) -> list[int]:
    """The ``after`` of each page of the event log asked for."""
    return [
        int(urllib.parse.parse_qs(urllib.parse.urlsplit(p).query)["after"][0])
        for p in script.paths("GET", "/events")
    ]


# -- what is retried -----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_a_reconnect_answered_by_a_restarting_server_is_retried(
    scripted: tuple[Script, str], flavour: str, status: int
) -> None:
    script, url = scripted
    script.cuts = [Cut(3)]
    script.statuses = {1: status, 2: status}
    async with _client(flavour, url) as client:
        parts = await settle(client.runs.stream(THREAD, "g", input={}))
    assert _tuples(parts) == expected(script.total)
    # The run's stream is asked for again and again, from the same id, until it answers.
    assert _streams(script) == [("POST", None), ("GET", "3"), ("GET", "3"), ("GET", "3")]


async def test_a_reconnect_without_an_answer_is_retried(scripted: tuple[Script, str], flavour: str) -> None:
    script, url = scripted
    script.cuts = [Cut(5, extra=9)]
    script.statuses = {1: NO_ANSWER}
    async with _client(flavour, url) as client:
        parts = await settle(client.runs.stream(THREAD, "g", input={}))
    assert _tuples(parts) == expected(script.total)
    assert _streams(script) == [("POST", None), ("GET", "5"), ("GET", "5")]


@pytest.mark.parametrize("status", [400, 404, 500])
async def test_a_reconnect_answered_by_an_error_is_raised(
    scripted: tuple[Script, str], flavour: str, status: int
) -> None:
    script, url = scripted
    script.cuts = [Cut(2)]
    script.statuses = {1: status}
    parts: list[StreamPart] = []
    async with _client(flavour, url) as client:
        with pytest.raises(DuraGraphAPIError) as info:
            await drain(client.runs.stream(THREAD, "g", input={}), parts)
    assert info.value.status == status
    assert _tuples(parts) == expected(script.total)[:5]  # what came before the error, once
    assert _streams(script) == [("POST", None), ("GET", "2")]


@pytest.mark.parametrize("status", [NO_ANSWER, 503])
async def test_a_first_request_that_fails_is_not_retried(
    scripted: tuple[Script, str], flavour: str, status: int
) -> None:
    # A POST .../runs/stream that got no answer may or may not have created a run.
    script, url = scripted
    script.statuses = {0: status}
    async with _client(flavour, url) as client:
        with pytest.raises(DuraGraphConnectionError if status == NO_ANSWER else DuraGraphAPIError):
            await settle(client.runs.stream(THREAD, "g", input={}))
    assert _streams(script) == [("POST", None)]


async def test_plain_calls_are_sent_once(scripted: tuple[Script, str], flavour: str) -> None:
    script, url = scripted
    async with _client(flavour, url) as client:
        with pytest.raises(DuraGraphConnectionError, match=f"{PREFIX}/runs/search"):
            await settle(client.runs.search(status="success"))
        with pytest.raises(DuraGraphConnectionError, match=f"{PREFIX}/openapi.json"):
            await settle(client.openapi())
    assert [(m, p) for m, p, _ in script.requests] == [
        ("POST", f"{PREFIX}/runs/search"),
        ("GET", f"{PREFIX}/openapi.json"),
    ]


# -- when a stream is over -----------------------------------------------------------------------


async def test_a_clean_end_asks_the_run_and_a_restarting_server_means_not_yet(
    scripted: tuple[Script, str], flavour: str
) -> None:
    script, url = scripted
    script.cuts = [Cut(4, clean=True)]
    script.run_answers = [503]
    async with _client(flavour, url) as client:
        parts = await settle(client.runs.stream(THREAD, "g", input={}))
    assert _tuples(parts) == expected(script.total)
    run = f"{PREFIX}/threads/{THREAD}/runs/{RUN}"
    assert [(m, urllib.parse.urlsplit(p).path) for m, p, _ in script.requests] == [
        ("POST", f"{PREFIX}/threads/{THREAD}/runs/stream"),
        ("GET", run),  # 503: perhaps not at rest, so reconnect
        ("GET", f"{run}/stream"),
        ("GET", run),  # at rest: the end
    ]


async def test_a_clean_end_of_a_deleted_run_ends_the_stream(
    scripted: tuple[Script, str], flavour: str
) -> None:
    script, url = scripted
    script.cuts = [Cut(4, clean=True)]
    script.run_answers = [404]
    async with _client(flavour, url) as client:
        parts = await settle(client.runs.stream(THREAD, "g", input={}))
    assert _tuples(parts) == expected(script.total)[:10]  # events 1-4 (and the live frame of 4)
    assert len(_streams(script)) == 1


async def test_a_clean_end_and_an_error_about_the_run_is_raised(
    scripted: tuple[Script, str], flavour: str
) -> None:
    script, url = scripted
    script.cuts = [Cut(4, clean=True)]
    script.run_answers = [500]
    async with _client(flavour, url) as client:
        with pytest.raises(DuraGraphAPIError) as info:
            await settle(client.runs.stream(THREAD, "g", input={}))
    assert info.value.status == 500
    assert len(_streams(script)) == 1


async def test_an_answer_that_is_not_an_event_stream(scripted: tuple[Script, str], flavour: str) -> None:
    script, url = scripted
    script.stream_content_type = "application/json"
    async with _client(flavour, url) as client:
        with pytest.raises(DuraGraphAPIError) as info:
            await settle(client.runs.join_stream(RUN, thread_id=THREAD))
    assert (info.value.status, info.value.code) == (200, "not_an_event_stream")
    assert "application/json" in info.value.message


# -- answers and errors --------------------------------------------------------------------------


async def test_4xx_and_5xx_answers_map_to_api_errors(scripted: tuple[Script, str], flavour: str) -> None:
    _, url = scripted
    async with _client(flavour, url) as client:
        # Ours: {"error", "message", "details"}.
        with pytest.raises(DuraGraphAPIError) as info:
            await settle(client.runs.get("missing"))
        err = info.value
        assert (err.status, err.code, err.message) == (404, "not_found", f"no route {PREFIX}/runs/missing")
        assert err.details == [{"loc": ["path"], "msg": "unknown"}] and err.not_found
        assert (err.method, err.url) == ("GET", f"{url.rstrip('/')}{PREFIX}/runs/missing")
        assert isinstance(err.body, dict) and err.body["error"] == "not_found"
        # An HTML error page: its title.
        with pytest.raises(DuraGraphAPIError) as info:
            await settle(client.threads.get(THREAD))
        err = info.value
        assert (err.status, err.code) == (500, "http_500")
        assert err.message == "Internal Server Error (500 : Internal Server Error)"
        # A proxy's text: its start.
        with pytest.raises(DuraGraphAPIError) as info:
            await settle(client.threads.create())
        err = info.value
        assert (err.status, err.code, err.method) == (502, "http_502", "POST")
        assert err.message == "Bad Gateway: Bad Gateway: the upstream server went away"
        # A 2xx that is not JSON.
        with pytest.raises(DuraGraphAPIError) as info:
            await settle(client.info())
        assert (info.value.status, info.value.code) == (200, "invalid_response")
        # A 503 whose body is the answer.
        health = await settle(client.health())
        assert isinstance(health, Health) and not health.ok and health.postgres == {"ok": False}


async def test_a_late_answer_is_a_timeout(scripted: tuple[Script, str], flavour: str) -> None:
    _, url = scripted
    async with _client(flavour, url, timeout=0.2) as client:
        with pytest.raises(DuraGraphTimeoutError, match=f"{PREFIX}/metrics: timed out"):
            await settle(client.metrics())


# -- the event log -------------------------------------------------------------------------------


async def test_the_event_log_page_by_page(scripted: tuple[Script, str], flavour: str) -> None:
    script, url = scripted
    script.log_events = 10
    async with _client(flavour, url) as client:
        events = await settle(client.runs.iter_events(RUN, page_size=3))
        assert [e.seq for e in events] == list(range(1, 11))
        assert _afters(script) == [0, 3, 6, 9]
        later = await settle(client.runs.iter_events(RUN, after=8, page_size=5))
        assert [e.seq for e in later] == [9, 10]
        frame = await settle(client.runs.events_frame(RUN, page_size=4))
    assert list(frame["seq"]) == list(range(1, 11))
    assert list(frame["node"]) == [e.node for e in events]
    assert _afters(script)[-3:] == [0, 4, 8]


async def test_paging_stops_at_an_empty_page(scripted: tuple[Script, str], flavour: str) -> None:
    script, url = scripted
    script.log_events, script.endless_pages = 7, True  # has_more is always true
    async with _client(flavour, url) as client:
        events = await settle(client.runs.iter_events(RUN, page_size=4))
    assert [e.seq for e in events] == list(range(1, 8))
    assert _afters(script) == [0, 4, 7]


async def test_the_event_log_as_an_arrow_stream(scripted: tuple[Script, str], flavour: str) -> None:
    script, url = scripted
    script.log_events = 1000  # 16 record batches, in 512-byte chunks
    async with _client(flavour, url) as client:
        frame = await settle(client.runs.events_frame(RUN))
        assert list(frame["seq"]) == list(range(1, 1001))
        assert str(frame["recorded_at"].dtype) == "datetime64[ns, UTC]" and frame.loc[0, "data"]["step"] == 0
        script.arrow_cut = 20_000  # the connection breaks while the body is decoded
        with pytest.raises(DuraGraphConnectionError, match=r"events\.arrow: peer closed connection"):
            await settle(client.runs.events_frame(RUN))
