"""Both clients on a real server (the session's ``api_server``), one test body for each: streams
cut on purpose and resumed with ``Last-Event-ID``, the thread's stream across cuts, error answers
(404, 409, 422, 403), the event log page by page and as a DataFrame; and one run read by both
clients gives the same answers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pandas as pd
import pytest

from duragraph_lab.client import DuraGraphAPIError, StreamPart
from tests.apiserver import ApiServer
from tests.client_flavours import FLAVOURS, AnyClient, close, make, settle, take_until
from tests.cutting import cutting

DURABLE_MODES = ["values", "updates", "debug", "tasks", "checkpoints"]


@pytest.fixture(params=FLAVOURS)
def flavour(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@asynccontextmanager
async def _client(
    flavour: str, api_server: ApiServer, token: str | None = None, **kwargs: Any
) -> AsyncIterator[AnyClient]:
    client = make(flavour, f"http://127.0.0.1:{api_server.port}/", token or api_server.token, **kwargs)
    try:
        yield client
    finally:
        await close(client)


def _tuples(parts: list[StreamPart]) -> list[tuple[str, Any, str | None]]:
    return [(p.event, p.data, p.id) for p in parts]


@pytest.mark.parametrize("cuts", [[150], [40, 900, 2500], [1, 1, 1]])
async def test_a_cut_stream_resumes_exactly_once(
    api_server: ApiServer, flavour: str, cuts: list[int]
) -> None:
    transport = cutting(flavour, cuts)
    async with _client(flavour, api_server, transport=transport, reconnect_delay=0.01) as client:
        thread = await settle(client.threads.create())
        parts = await settle(
            client.runs.stream(thread.thread_id, "slow", input={"sleep": 0.05}, stream_mode=DURABLE_MODES)
        )
        run_id = parts[0].data["run_id"]
        assert (await settle(client.runs.get(run_id))).status == "success"
    async with _client(flavour, api_server) as plain:
        replay = await settle(plain.runs.join_stream(run_id, stream_mode=DURABLE_MODES))
    assert _tuples(parts) == _tuples(replay)
    assert len(transport.streams) == len(cuts) + 1
    assert transport.streams[0][0] == "POST"
    for method, path, _ in transport.streams[1:]:
        assert (method, path) == ("GET", f"/duragraph/api/v1/threads/{thread.thread_id}/runs/{run_id}/stream")
    sent = [last for _, _, last in transport.streams[1:] if last is not None]
    assert sent == sorted(sent, key=int) and set(sent) <= {p.id for p in parts}


async def test_a_thread_stream_follows_runs_across_cuts(api_server: ApiServer, flavour: str) -> None:
    transport = cutting(flavour, [200, 700])
    async with _client(flavour, api_server, transport=transport, reconnect_delay=0.01) as client:
        thread = await settle(client.threads.create())
        first = await settle(client.runs.wait(thread.thread_id, "slow", input={"n": 0}))
        second = await settle(client.runs.wait(thread.thread_id, "slow", input={"n": 0}))
        done = {"status": "run_done", "run_id": second.run_id}
        parts = await take_until(
            client.threads.join_stream(thread.thread_id), lambda p: p.event == "metadata" and p.data == done
        )
    assert len(transport.streams) == 3
    markers = [(p.data.get("run_id"), p.data.get("status")) for p in parts if p.event == "metadata"]
    assert markers == [
        (first.run_id, None),
        (first.run_id, "run_done"),
        (second.run_id, None),
        (second.run_id, "run_done"),
    ]
    assert [p.data["n"] for p in parts if p.event == "values"] == [0, 1, 2, 3, 4, 5] * 2
    ids = [int(p.id) for p in parts if p.id is not None]
    assert ids == sorted(set(ids)) and len(ids) == 12


async def test_error_answers(api_server: ApiServer, flavour: str) -> None:
    missing = str(uuid.uuid4())
    async with _client(flavour, api_server) as client:
        for call in (
            lambda: client.runs.get(missing),
            lambda: client.runs.events(missing),
            lambda: client.threads.get(missing),
            lambda: client.runs.join_stream(missing),
            lambda: client.runs.events_frame(missing),
        ):
            with pytest.raises(DuraGraphAPIError) as info:
                await settle(call())
            assert (info.value.status, info.value.code) == (404, "not_found"), info.value
            assert missing in info.value.message and info.value.not_found
        thread = await settle(client.threads.create())
        with pytest.raises(DuraGraphAPIError) as info:
            await settle(client.runs.stream(thread.thread_id, "slow", input={}, stream_mode="sideways"))
        assert (info.value.status, info.value.code) == (422, "validation_error") and info.value.details
        busy = await settle(client.runs.create(thread.thread_id, "slow", input={"sleep": 5}))
        with pytest.raises(DuraGraphAPIError) as info:
            await settle(client.runs.create(thread.thread_id, "slow", input={}, multitask_strategy="reject"))
        assert info.value.status == 409 and info.value.conflict
        await settle(client.runs.cancel(busy.run_id, thread_id=thread.thread_id, wait=True))
    async with _client(flavour, api_server, token="wrong-token") as stranger:
        with pytest.raises(DuraGraphAPIError) as info:
            await settle(stranger.health())
        assert info.value.status == 401 and info.value.code == "unauthorized"


async def test_the_event_log_page_by_page_and_as_a_frame(api_server: ApiServer, flavour: str) -> None:
    async with _client(flavour, api_server) as client:
        result = await settle(client.runs.wait(None, "slow", input={"n": 1}, on_completion="keep"))
        run_id = result.run_id
        whole = await settle(client.runs.events(run_id, limit=10_000))
        assert not whole.has_more and len(whole.events) > 10
        first = await settle(client.runs.events(run_id, limit=4))
        assert first.has_more and first.next_after == whole.events[3].seq
        assert list(first.events) == list(whole.events[:4])
        paged = await settle(client.runs.iter_events(run_id, page_size=3))
        assert paged == list(whole.events)
        later = await settle(client.runs.iter_events(run_id, after=whole.events[5].seq, page_size=2))
        assert later == list(whole.events[6:])
        arrow = await settle(client.runs.events_frame(run_id))
        pages = await settle(client.runs.events_frame(run_id, page_size=5))
    assert list(arrow["seq"]) == list(pages["seq"]) == [e.seq for e in whole.events]
    pd.testing.assert_series_equal(arrow["type"], pages["type"])
    assert list(arrow["data"]) == list(pages["data"]) == [e.data for e in whole.events]


async def test_both_clients_read_a_run_the_same_way(api_server: ApiServer) -> None:
    async with _client("sync", api_server) as sync, _client("async", api_server) as aio:
        thread = await settle(sync.threads.create())
        live = await settle(
            aio.runs.stream(thread.thread_id, "slow", input={"sleep": 0.02}, stream_mode=DURABLE_MODES)
        )
        run_id = live[0].data["run_id"]
        answers = []
        for client in (sync, aio):
            answers.append(
                (
                    _tuples(await settle(client.runs.join_stream(run_id, stream_mode=DURABLE_MODES))),
                    _tuples(await settle(client.runs.join_stream(run_id, last_event_id=live[-1].id))),
                    await settle(client.runs.iter_events(run_id, page_size=7)),
                    await settle(client.runs.spans(run_id)),
                    await settle(client.threads.state(thread.thread_id)),
                    await settle(client.threads.history(thread.thread_id, limit=3)),
                    await settle(client.runs.get(run_id)),
                    (await settle(client.runs.events_frame(run_id)))["seq"].tolist(),
                )
            )
    assert answers[0] == answers[1]
    assert answers[0][0] == _tuples(live)
    assert [p[0] for p in answers[0][1]] == ["metadata"]  # nothing after the last id
