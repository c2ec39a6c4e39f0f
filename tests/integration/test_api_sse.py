"""SSE: exactly-once delivery across reconnects, the frame format, keep-alives, clean disconnects."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from tests.apiserver import ApiServer


@dataclass(frozen=True)
class Frame:
    event: str
    data: Any
    id: str | None


async def frames(response: httpx.Response) -> AsyncIterator[Frame]:
    """A deliberately small SSE parser: the server's frames are ``event``/``data``/``id`` lines."""
    event, data, event_id = "", [], None
    async for line in response.aiter_lines():
        if line == "":
            if event or data:
                yield Frame(event, json.loads("\n".join(data)) if data else None, event_id)
            event, data, event_id = "", [], None
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
            elif name == "id":
                event_id = value


async def start_run(client: httpx.AsyncClient, graph: str, input: Any, **extra: Any) -> dict[str, Any]:
    thread = (await client.post("/threads", json={})).json()
    response = await client.post(
        f"/threads/{thread['thread_id']}/runs", json={"assistant_id": graph, "input": input, **extra}
    )
    assert response.status_code == 200, response.text
    run: dict[str, Any] = response.json()
    return run


async def read_all(
    client: httpx.AsyncClient, path: str, *, last_event_id: str | None = None, params: Any = None
) -> list[Frame]:
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    async with client.stream("GET", path, headers=headers, params=params) as response:
        assert response.status_code == 200, await response.aread()
        return [f async for f in frames(response)]


def assert_same_frames(got: list[Frame], want: list[Frame]) -> None:
    """Frame by frame, so that a mismatch names the first differing frame in full."""
    for i, (g, w) in enumerate(zip(got, want, strict=False)):
        assert (g.event, g.data, g.id) == (w.event, w.data, w.id), f"frame {i}:\n{g}\n!=\n{w}"
    assert len(got) == len(want), f"{len(got)} frames, expected {len(want)}"


def api(server: ApiServer) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.base, headers=server.headers, timeout=60)


MODES = [("stream_mode", m) for m in ("values", "updates", "debug", "tasks", "checkpoints")]


async def test_reconnect_with_last_event_id_delivers_every_event_once_in_order(api_server: ApiServer) -> None:
    async with api(api_server) as client:
        run = await start_run(client, "slow", {"sleep": 0.15}, stream_mode=["values", "updates"])
        path = f"/threads/{run['thread_id']}/runs/{run['run_id']}/stream"
        received: list[Frame] = []
        # First connection: read until a few durable frames arrived, then drop the connection.
        async with client.stream("GET", path, params=MODES) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["cache-control"] == "no-cache"
            assert response.headers["x-accel-buffering"] == "no"
            assert response.headers["location"].endswith(path)
            async for frame in frames(response):
                received.append(frame)
                if sum(1 for f in received if f.id) >= 4:
                    break
        assert received[0].event == "metadata" and received[0].data["run_id"] == run["run_id"]
        last = [f.id for f in received if f.id][-1]
        assert last is not None
        # Second connection resumes after the last id seen: a new metadata frame, then the rest.
        rest = await read_all(client, path, last_event_id=last, params=MODES)
        assert rest[0].event == "metadata"
        joined = [f for f in received[1:] + rest[1:]]
        # The reference: the whole run streamed in one go once it has finished.
        reference = (await read_all(client, path, params=MODES))[1:]
        assert_same_frames(joined, reference)
        ids = [int(f.id) for f in joined if f.id]
        assert ids == sorted(ids) and len(ids) == len(set(ids)), "ids must increase with no duplicate"
        # Every event of the run that yields a frame in these modes was delivered.
        log = (await client.get(f"/runs/{run['run_id']}/events")).json()["events"]
        kinds = {"run_created", "step_planned", "node_completed", "run_completed"}
        assert {e["seq"] for e in log if e["type"] in kinds} == set(ids)
        assert joined[-1].event in ("values", "checkpoints", "debug") and reference[-1].data is not None


async def test_stream_ends_when_the_run_finishes_and_replays_a_finished_run(api_server: ApiServer) -> None:
    async with api(api_server) as client:
        thread = (await client.post("/threads", json={})).json()
        async with client.stream(
            "POST",
            f"/threads/{thread['thread_id']}/runs/stream",
            json={"assistant_id": "slow", "input": {"sleep": 0}, "stream_mode": ["values"]},
        ) as response:
            live = [f async for f in frames(response)]
            run_url = response.headers["content-location"]
        assert live[0].event == "metadata"
        values = [f.data for f in live if f.event == "values"]
        assert values[-1]["n"] == 5 and values[-1]["log"] == ["s0", "s1", "s2", "s3", "s4"]
        # The run is over: its status is final by the time the stream has closed.
        run = (await client.get(run_url)).json()
        assert run["status"] == "success"
        # Joining it afterwards replays it from the log, the same frames.
        replay = await read_all(client, f"/threads/{thread['thread_id']}/runs/{run['run_id']}/stream")
        assert_same_frames(replay[1:], live[1:])
        # After the last id there is nothing more: the stream ends at once.
        tail = await read_all(
            client, f"/threads/{thread['thread_id']}/runs/{run['run_id']}/stream", last_event_id=live[-1].id
        )
        assert [f.event for f in tail] == ["metadata"]


async def test_keepalives_on_an_idle_stream(api_server: ApiServer) -> None:
    # The server under test sends a keep-alive comment every second (keepalive_seconds=1).
    async with api(api_server) as client:
        # Each step sleeps 2.5 s: more than two keep-alive intervals with no frame to send.
        run = await start_run(client, "slow", {"sleep": 2.5})
        path = f"/threads/{run['thread_id']}/runs/{run['run_id']}/stream"
        comments, frames_seen = 0, 0
        async with client.stream("GET", path, params=[("stream_mode", "values")]) as response:
            async for line in response.aiter_lines():
                if line.startswith(": heartbeat"):
                    comments += 1
                    if comments == 2:
                        break
                elif line.startswith("event:"):
                    frames_seen += 1
        assert comments == 2
        assert frames_seen <= 3, "the keep-alives came between frames, not instead of them"
        await client.post(f"/threads/{run['thread_id']}/runs/{run['run_id']}/cancel")


async def test_client_disconnect_leaves_no_stream_behind(api_server: ApiServer) -> None:
    async with api(api_server) as client:
        run = await start_run(client, "slow", {"sleep": 0.3})
        path = f"/threads/{run['thread_id']}/runs/{run['run_id']}/stream"
        for _ in range(5):
            async with client.stream("GET", path) as response:
                async for _frame in frames(response):
                    break  # leave after the first frame
        # The server notices each closed connection and drops its subscriptions: its gauge of
        # open streams returns to what it was (other tests' streams are closed by now too).
        for _ in range(100):
            metrics = (await client.get("/metrics")).text
            gauge = next(line for line in metrics.splitlines() if line.startswith("duragraph_sse_clients "))
            if float(gauge.split()[1]) == 0:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"streams still open: {gauge}")
        assert (await client.get(f"/threads/{run['thread_id']}/runs/{run['run_id']}/join")).json()["n"] == 5


async def test_on_disconnect_cancel_cancels_the_run(api_server: ApiServer) -> None:
    async with api(api_server) as client:
        thread = (await client.post("/threads", json={})).json()
        async with client.stream(
            "POST",
            f"/threads/{thread['thread_id']}/runs/stream",
            json={"assistant_id": "slow", "input": {"sleep": 0.5}, "on_disconnect": "cancel"},
        ) as response:
            run_url = response.headers["content-location"]
            async for frame in frames(response):
                if frame.event == "values":
                    break
        for _ in range(100):
            run = (await client.get(run_url)).json()
            if run["duragraph_status"] == "cancelled":
                break
            await asyncio.sleep(0.1)
        assert (run["status"], run["duragraph_status"]) == ("interrupted", "cancelled")
        assert run["error"] is None


async def test_a_failed_run_ends_its_stream_with_an_error_event(api_server: ApiServer) -> None:
    async with api(api_server) as client:
        thread = (await client.post("/threads", json={})).json()
        async with client.stream(
            "POST",
            f"/threads/{thread['thread_id']}/runs/stream",
            json={"assistant_id": "slow", "input": {"fail": True}, "stream_mode": "updates"},
        ) as response:
            got = [f async for f in frames(response)]
        assert got[-1].event == "error"
        assert got[-1].data == {"error": "ValueError", "message": "step 2 failed as asked"}
        assert [f.event for f in got[:-1]] == ["metadata", "updates", "updates"]
