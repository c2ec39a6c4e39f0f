"""The thread-centric streaming protocol through the official ``langgraph-sdk`` (0.4.x):
``client.threads.stream(...)`` over SSE and WebSocket, sync and async, and the wire itself (raw
HTTP) where the SDK would hide what the server did (it filters and deduplicates on its side)."""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient, SyncLangGraphClient

from tests.apiserver import ApiServer


def _root_done(event: dict[str, Any]) -> bool:
    params = event.get("params") or {}
    return (
        event.get("method") == "lifecycle"
        and not params.get("namespace")
        and (params.get("data") or {}).get("event") in ("completed", "failed")
    )


def wire_events(
    server: ApiServer, thread_id: str, body: dict[str, Any], *, until: Any = _root_done, timeout: float = 30
) -> list[dict[str, Any]]:
    """The protocol events of a raw SSE subscription, up to the first one ``until`` accepts."""
    out: list[dict[str, Any]] = []
    url = f"{server.base}/threads/{thread_id}/stream/events"
    with httpx.stream("POST", url, json=body, headers=server.headers, timeout=timeout) as response:
        assert response.status_code == 200, response.read()
        data = ""
        for line in response.iter_lines():
            if line.startswith("data:"):
                data += line[5:].strip()
            elif not line and data:
                event = json.loads(data)
                data = ""
                out.append(event)
                if until(event):
                    return out
    raise AssertionError(f"the stream ended before the expected event: {out}")


def command(server: ApiServer, thread_id: str, body: Any, *, raw: bytes | None = None) -> tuple[int, Any]:
    response = httpx.post(
        f"{server.base}/threads/{thread_id}/commands",
        content=raw if raw is not None else json.dumps(body).encode(),
        headers={**server.headers, "Content-Type": "application/json"},
        timeout=30,
    )
    return response.status_code, response.json()


def start(server: ApiServer, thread_id: str, assistant: str, input: Any) -> str:
    status, body = command(
        server,
        thread_id,
        {"id": 1, "method": "run.start", "params": {"assistant_id": assistant, "input": input}},
    )
    assert status == 200, body
    assert body["type"] == "success" and body["id"] == 1
    return str(body["result"]["run_id"])


def data(events: list[dict[str, Any]], method: str) -> list[Any]:
    return [e["params"]["data"] for e in events if e["method"] == method]


# -- the SDK, async and sync ------------------------------------------------------------------------
@pytest.mark.sdk("threads.stream[sse]")
async def test_async_run_start_values_updates_lifecycle(client: LangGraphClient) -> None:
    async with client.threads.stream(assistant_id="slow") as thread:
        result = await thread.run.start(input={"n": 0})
        events = [e async for e in thread.subscribe(["values", "updates", "lifecycle"])]
        output = await thread.output.with_timeout(30)
    assert uuid.UUID(result["run_id"])
    assert output["n"] == 5 and output["log"] == ["s0", "s1", "s2", "s3", "s4"]
    lifecycle = [d["event"] for d in data(events, "lifecycle")]
    assert lifecycle[0] == "started" and lifecycle[-1] == "completed"
    assert [u["node"] for u in data(events, "updates")] == ["s0", "s1", "s2", "s3", "s4"]
    assert [v.get("n") for v in data(events, "values")][-1] == 5
    seqs = [e["seq"] for e in events if "seq" in e]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert all(e["type"] == "event" and e["event_id"] for e in events)


@pytest.mark.sdk("threads.stream[sse]")
def test_sync_run_start_values_updates_lifecycle(sync_client: SyncLangGraphClient) -> None:
    with sync_client.threads.stream(assistant_id="slow") as thread:
        thread.run.start(input={"n": 10})
        events = list(thread.subscribe(["values", "lifecycle"]))
        output = thread.output
    assert output["n"] == 15
    assert [d["event"] for d in data(events, "lifecycle")][-1] == "completed"
    assert data(events, "values")[-1]["n"] == 15
    assert not data(events, "updates")  # not subscribed


@pytest.mark.sdk("threads.stream[interrupt answered]", "threads.stream[sse]")
async def test_async_interrupt_answered_by_command(client: LangGraphClient) -> None:
    async with client.threads.stream(assistant_id="asking") as thread:
        await thread.run.start(input={"n": 3})
        for _ in range(300):
            if thread.interrupted:
                break
            await asyncio.sleep(0.05)
        assert thread.interrupted
        [asked] = thread.interrupts
        # The SDK reads the value as `value` (the protocol's `payload` is sent too).
        assert asked["value"] == {"question": "proceed?", "n": 3}
        assert asked["namespace"] == []
        await thread.run.respond("yes")
        output = await thread.output.with_timeout(30)
    assert output["answer"] == "yes" and output["log"] == ["asked", "done:yes"]


@pytest.mark.sdk("threads.stream[interrupt answered]", "threads.stream[sse]")
def test_sync_interrupt_answered_by_command(sync_client: SyncLangGraphClient) -> None:
    with sync_client.threads.stream(assistant_id="asking") as thread:
        thread.run.start(input={"n": 4})
        for _ in range(300):
            if thread.interrupted:
                break
            time.sleep(0.05)
        assert thread.interrupted
        assert thread.interrupts[0]["value"]["n"] == 4
        thread.run.respond({"ok": True})
        output = thread.output
    assert output["answer"] == {"ok": True}


def test_input_requested_carries_payload_and_value(api_server: ApiServer) -> None:
    thread_id = str(uuid.uuid4())
    start(api_server, thread_id, "asking", {"n": 7})
    events = wire_events(api_server, thread_id, {"channels": ["input"]}, until=lambda e: True)
    [asked] = data(events, "input.requested")
    assert asked["payload"] == asked["value"] == {"question": "proceed?", "n": 7}
    status, body = command(
        api_server,
        thread_id,
        {
            "id": 2,
            "method": "input.respond",
            "params": {"namespace": [], "interrupt_id": asked["interrupt_id"], "response": 1},
        },
    )
    assert status == 200 and body == {"type": "success", "id": 2, "result": {}, "meta": body["meta"]}
    # The resumed run goes on in the same thread stream, to its end.
    tail = wire_events(
        api_server,
        thread_id,
        {"channels": ["lifecycle", "values"], "since": body["meta"]["applied_through_seq"]},
    )
    assert data(tail, "values")[-1]["answer"] == 1


# -- filters ----------------------------------------------------------------------------------------
def test_channel_namespace_and_depth_filters(api_server: ApiServer) -> None:
    thread_id = str(uuid.uuid4())
    start(api_server, thread_id, "nested", {"n": 0})
    everything = wire_events(api_server, thread_id, {"channels": ["updates", "lifecycle"]})
    spaces = {tuple(e["params"]["namespace"]) for e in everything}
    [sub] = [ns for ns in spaces if ns]
    assert sub[0].startswith("sub:")
    assert [u["node"] for u in data([e for e in everything if e["params"]["namespace"]], "updates")] == [
        "i1",
        "i2",
    ]
    # Root only.
    root = wire_events(api_server, thread_id, {"channels": ["updates", "lifecycle"], "depth": 0})
    assert all(e["params"]["namespace"] == [] for e in root)
    assert [u["node"] for u in data(root, "updates")] == ["before", "sub", "after"]
    # The subgraph only (a prefix without the task id matches it), until its own end.
    inner = wire_events(
        api_server,
        thread_id,
        {"channels": ["updates", "lifecycle"], "namespaces": [["sub"]]},
        until=lambda e: e["method"] == "lifecycle" and e["params"]["data"]["event"] == "completed",
    )
    assert {tuple(e["params"]["namespace"]) for e in inner} == {sub}
    assert [u["node"] for u in data(inner, "updates")] == ["i1", "i2"]
    # One channel only.
    lifecycle = wire_events(api_server, thread_id, {"channels": ["lifecycle"]})
    assert {e["method"] for e in lifecycle} == {"lifecycle"}


@pytest.mark.sdk("threads.stream[namespaces]", "threads.stream[sse]")
async def test_sdk_subscription_by_namespace(client: LangGraphClient) -> None:
    async with client.threads.stream(assistant_id="nested") as thread:
        await thread.run.start(input={"n": 0})
        events = [e async for e in thread.subscribe(["updates", "lifecycle"], namespaces=[["sub"]], depth=0)]
    assert events and all(e["params"]["namespace"][0].startswith("sub:") for e in events)
    assert [u["node"] for u in data(events, "updates")] == ["i1", "i2"]


def test_custom_events_are_followed_live(api_server: ApiServer) -> None:
    thread_id = str(uuid.uuid4())
    start(api_server, thread_id, "slow", {})
    wire_events(api_server, thread_id, {"channels": ["lifecycle"]})
    seen: list[dict[str, Any]] = []
    live = threading.Event()
    ends = 0

    def second_end(event: dict[str, Any]) -> bool:
        nonlocal ends
        ends += _root_done(event)
        live.set()  # the first run's end was replayed: the stream now follows the thread
        return ends == 2

    reader = threading.Thread(
        target=lambda: seen.extend(
            wire_events(api_server, thread_id, {"channels": ["custom", "lifecycle"]}, until=second_end)
        )
    )
    reader.start()
    assert live.wait(30)
    start(api_server, thread_id, "custom", {})
    reader.join(60)
    assert ends == 2
    # Custom events are live only (never stored): best effort, a run's first ones may come before
    # the server subscribed to the new run's live events. What comes is in order and whole.
    payloads = [d["payload"] for d in data(seen, "custom")]
    expected = [{"progress": 0}, {"progress": 1}, {"progress": 2}]
    assert payloads and payloads == expected[len(expected) - len(payloads) :], payloads
    assert all("seq" not in e and "event_id" not in e for e in seen if e["method"] == "custom")


# -- since ------------------------------------------------------------------------------------------
def test_reconnect_with_since_has_no_gap_and_no_duplicate(api_server: ApiServer) -> None:
    thread_id = str(uuid.uuid4())
    start(api_server, thread_id, "slow", {"n": 0})
    body = {"channels": ["values", "updates", "tasks", "lifecycle", "checkpoints"]}
    full = wire_events(api_server, thread_id, body)
    ids = [e["event_id"] for e in full]
    assert len(ids) == len(set(ids))
    cursors = [(i, e["seq"]) for i, e in enumerate(full) if "seq" in e]
    assert len(cursors) > 4
    for index, seq in cursors[1:-1]:
        rest = wire_events(api_server, thread_id, {**body, "since": seq})
        assert [e["event_id"] for e in rest] == ids[index + 1 :], f"since={seq}"


# -- WebSocket --------------------------------------------------------------------------------------
@pytest.mark.sdk("threads.stream[websocket]")
async def test_websocket_transport(api_server: ApiServer, client: LangGraphClient) -> None:
    # The SDK's WebSocket handshake carries the headers given to threads.stream (not the client's).
    async with client.threads.stream(
        assistant_id="slow", transport="websocket", headers=api_server.headers
    ) as thread:
        await thread.run.start(input={"n": 1})
        events = [e async for e in thread.subscribe(["values", "updates", "lifecycle"])]
        output = await thread.output.with_timeout(30)
    assert output["n"] == 6
    assert [u["node"] for u in data(events, "updates")] == ["s0", "s1", "s2", "s3", "s4"]
    assert data(events, "lifecycle")[-1]["event"] == "completed"


@pytest.mark.sdk("threads.stream[interrupt answered]", "threads.stream[websocket]")
def test_sync_websocket_interrupt(api_server: ApiServer, sync_client: SyncLangGraphClient) -> None:
    with sync_client.threads.stream(
        assistant_id="asking", transport="websocket", headers=api_server.headers
    ) as thread:
        thread.run.start(input={"n": 2})
        for _ in range(300):
            if thread.interrupted:
                break
            time.sleep(0.05)
        assert thread.interrupted
        thread.run.respond("ws")
        assert thread.output["answer"] == "ws"


async def test_websocket_commands_and_refusals(api_server: ApiServer) -> None:
    thread_id = str(uuid.uuid4())
    start(api_server, thread_id, "slow", {"n": 0})
    url = api_server.base.replace("http://", "ws://") + f"/threads/{thread_id}/stream/events"
    # No token: the upgrade is refused, with the 401 that says how to pass one.
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        async with websockets.connect(url):
            pass
    assert refused.value.response.status_code == 401
    assert b'"unauthorized"' in refused.value.response.body
    async with websockets.connect(url, additional_headers=api_server.headers) as ws:
        await ws.send(
            json.dumps(
                {
                    "id": 1,
                    "method": "subscription.subscribe",
                    "params": {"channels": ["lifecycle"], "since": 0},
                }
            )
        )
        # The stored events first (replayed), the answer, then the live ones.
        frames: list[dict[str, Any]] = []
        while not frames or not _root_done(frames[-1]):
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))
        [answer] = [f for f in frames if f["type"] != "event"]
        assert answer["type"] == "success" and answer["result"]["subscription_id"]
        events = [f for f in frames if f["type"] == "event"]
        assert {e["method"] for e in events} == {"lifecycle"}
        await ws.send(json.dumps({"id": 2, "method": "state.get", "params": {"namespace": []}}))
        state = json.loads(await asyncio.wait_for(ws.recv(), 30))
        assert state["id"] == 2 and state["result"]["values"]["n"] == 5
        await ws.send(json.dumps({"id": 3, "method": "no.such"}))
        error = json.loads(await asyncio.wait_for(ws.recv(), 30))
        assert error == {"type": "error", "id": 3, "error": "unknown_command", "message": error["message"]}
    # A thread that does not exist yet: the socket stays open (a run.start over it may create
    # the thread, as the JS SDK does) and its events come once it exists.
    fresh = str(uuid.uuid4())
    url = api_server.base.replace("http://", "ws://") + f"/threads/{fresh}/stream/events"
    async with websockets.connect(url, additional_headers=api_server.headers) as ws:
        await ws.send(
            json.dumps({"id": 1, "method": "subscription.subscribe", "params": {"channels": ["lifecycle"]}})
        )
        assert json.loads(await asyncio.wait_for(ws.recv(), 30))["type"] == "success"
        await ws.send(json.dumps({"id": 2, "method": "state.get", "params": {"namespace": []}}))
        missing = json.loads(await asyncio.wait_for(ws.recv(), 30))
        assert missing["type"] == "error" and missing["id"] == 2 and missing["error"] == "not_found"
        await ws.send(
            json.dumps({"id": 3, "method": "run.start", "params": {"assistant_id": "slow", "input": {}}})
        )
        events: list[dict[str, Any]] = []
        while not events or not _root_done(events[-1]):
            frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if frame["type"] == "event":
                events.append(frame)
            else:
                assert frame["type"] == "success" and frame["id"] == 3 and frame["result"]["run_id"]
        assert [e["params"]["data"]["event"] for e in events] == ["started", "completed"]
    # An id that cannot name a thread: closed with 4000 + 404.
    bad = api_server.base.replace("http://", "ws://") + "/threads/not-a-uuid/stream/events"
    async with websockets.connect(bad, additional_headers=api_server.headers) as ws:
        with pytest.raises(websockets.exceptions.ConnectionClosedError) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4404


# -- other commands ---------------------------------------------------------------------------------
async def test_a_later_websocket_subscription_replays_what_it_matches(api_server: ApiServer) -> None:
    """As LangGraph's server does (langgraph-api 0.16.7, ``install_subscription_with_replay``): a
    subscription first gets the stored events it matches (from its ``since``; without one, from
    the thread's latest run) up to where the connection is, then its answer counts them
    (``replayed_events``, langchain-protocol's ``SubscribeResult``), then what comes next."""
    thread_id = str(uuid.uuid4())
    start(api_server, thread_id, "slow", {"n": 0})
    # The run has ended before the socket opens: everything is replayed.
    wire_events(api_server, thread_id, {"channels": ["lifecycle"], "since": 0})
    url = api_server.base.replace("http://", "ws://") + f"/threads/{thread_id}/stream/events"

    async def answered(ws: Any, command_id: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The frames before command ``command_id``'s answer, and the answer."""
        out: list[dict[str, Any]] = []
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if frame.get("id") == command_id and frame["type"] in ("success", "error"):
                return out, frame
            out.append(frame)

    async with websockets.connect(url, additional_headers=api_server.headers) as ws:
        first = {"channels": ["lifecycle"], "since": 0}
        await ws.send(json.dumps({"id": 1, "method": "subscription.subscribe", "params": first}))
        got, answer = await answered(ws, 1)
        assert {e["method"] for e in got} == {"lifecycle"} and _root_done(got[-1])
        assert answer["result"]["replayed_events"] == len(got) == 2  # started, completed
        # A new subscription for `updates` gets the run's five updates replayed.
        await ws.send(
            json.dumps({"id": 2, "method": "subscription.subscribe", "params": {"channels": ["updates"]}})
        )
        updates, answer = await answered(ws, 2)
        assert [u["params"]["data"]["node"] for u in updates] == ["s0", "s1", "s2", "s3", "s4"]
        assert len({u["event_id"] for u in updates}) == 5 and all("seq" in u for u in updates)
        assert answer["result"]["replayed_events"] == 5
        # With a since: only what comes after it.
        cut = updates[2]["seq"]
        await ws.send(
            json.dumps(
                {
                    "id": 3,
                    "method": "subscription.subscribe",
                    "params": {"channels": ["values"], "since": cut},
                }
            )
        )
        values, answer = await answered(ws, 3)
        assert values and all(v["seq"] > cut for v in values)
        # s2's update is its node's result; the state after it (n=3) is the next stored event.
        assert [v["params"]["data"]["n"] for v in values] == [3, 4, 5]
        assert answer["result"]["replayed_events"] == 3
        # subscription.reconnect: the same, its since mandatory, the client's subscription id kept.
        await ws.send(
            json.dumps({"id": 4, "method": "subscription.reconnect", "params": {"channels": ["updates"]}})
        )
        refused = json.loads(await asyncio.wait_for(ws.recv(), 30))
        assert refused["type"] == "error" and refused["id"] == 4 and refused["error"] == "invalid_argument"
        params = {"channels": ["updates"], "since": cut, "subscription_id": "mine"}
        await ws.send(json.dumps({"id": 5, "method": "subscription.reconnect", "params": params}))
        again, answer = await answered(ws, 5)
        assert answer == {
            "type": "success",
            "id": 5,
            "result": {"subscription_id": "mine", "replayed_events": 2},
        }
        assert [f["params"]["data"]["node"] for f in again] == ["s3", "s4"]
        # Then what comes next, live: a second run's lifecycle to the first subscription.
        await ws.send(
            json.dumps({"id": 6, "method": "run.start", "params": {"assistant_id": "slow", "input": {}}})
        )
        live: list[dict[str, Any]] = []
        while not live or not _root_done(live[-1]):
            frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if frame.get("method") == "lifecycle":
                live.append(frame)
        assert [e["params"]["data"]["event"] for e in live] == ["started", "completed"]


async def test_a_later_websocket_subscription_gets_the_live_events_the_connection_had(
    api_server: ApiServer,
) -> None:
    """Token deltas and custom events are never stored, but a connection keeps those it received
    (bounded), and a later subscription on it gets them replayed where they came among the stored
    events, as LangGraph's connection-scoped session buffer does."""
    thread_id = str(uuid.uuid4())
    start(api_server, thread_id, "slow", {})
    wire_events(api_server, thread_id, {"channels": ["lifecycle"]})
    url = api_server.base.replace("http://", "ws://") + f"/threads/{thread_id}/stream/events"

    async def until_answer(ws: Any, command_id: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if frame.get("id") == command_id and frame["type"] in ("success", "error"):
                return out, frame
            out.append(frame)

    async with websockets.connect(url, additional_headers=api_server.headers) as ws:
        first = {"channels": ["lifecycle", "custom", "messages"]}
        await ws.send(json.dumps({"id": 1, "method": "subscription.subscribe", "params": first}))
        await until_answer(ws, 1)  # the finished run's lifecycle, replayed
        had: list[dict[str, Any]] = []
        since: dict[int, int] = {}
        for command_id, assistant, given in ((2, "chat", HUMAN_2_PLUS_3), (3, "custom", {})):
            await ws.send(
                json.dumps(
                    {
                        "id": command_id,
                        "method": "run.start",
                        "params": {"assistant_id": assistant, "input": given},
                    }
                )
            )
            frames, answer = await until_answer(ws, command_id)
            assert answer["type"] == "success", answer
            since[command_id] = answer["meta"]["applied_through_seq"]
            while not frames or not _root_done(frames[-1]):
                frames.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))
            had += frames
        # Both runs have ended. A new subscription, from the chat run on (its since is the seq
        # before the chat run's first event), gets its messages, token deltas included.
        later = {"channels": ["messages", "custom"], "since": since[2]}
        await ws.send(json.dumps({"id": 5, "method": "subscription.subscribe", "params": later}))
        replayed, answer = await until_answer(ws, 5)
    assert answer["result"]["replayed_events"] == len(replayed)
    messages = data(replayed, "messages")
    deltas = [m for m in messages if m["event"] == "content-block-delta"]
    assert deltas and all(m["delta"]["type"] == "text-delta" for m in deltas)
    streamed = {m["id"] for m in deltas}
    starts = [m["id"] for m in messages if m["event"] == "message-start"]
    finishes = [m["id"] for m in messages if m["event"] == "message-finish"]
    assert streamed <= set(starts) and sorted(starts) == sorted(set(starts)) == sorted(finishes)
    # Each delta comes after its message's start and before its finish, as it came.
    for message_id in streamed:
        order = [m["event"] for m in messages if m["id"] == message_id]
        assert order[0] == "message-start" and order[-1] == "message-finish", order
    # The custom events the connection received live (a run's first ones may come before the
    # server follows it: best effort), replayed the same.
    assert data(replayed, "custom") == data(had, "custom")


async def test_a_first_websocket_subscription_counts_what_it_replays(api_server: ApiServer) -> None:
    """While the run goes on: the stored events up to the subscription are replayed and counted,
    the rest follow live, none twice."""
    thread_id = str(uuid.uuid4())
    start(api_server, thread_id, "slow", {"n": 0, "sleep": 0.3})
    wire_events(
        api_server, thread_id, {"channels": ["updates"]}, until=lambda e: e["params"]["data"]["node"] == "s1"
    )
    url = api_server.base.replace("http://", "ws://") + f"/threads/{thread_id}/stream/events"
    async with websockets.connect(url, additional_headers=api_server.headers) as ws:
        sub = {"channels": ["updates", "lifecycle"]}
        await ws.send(json.dumps({"id": 1, "method": "subscription.subscribe", "params": sub}))
        frames: list[dict[str, Any]] = []
        while not frames or not _root_done(frames[-1]):
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))
    [at] = [i for i, f in enumerate(frames) if f["type"] == "success"]
    assert frames[at]["result"]["replayed_events"] == at >= 3  # started, s0, s1 at least
    events = [f for f in frames if f["type"] == "event"]
    assert [e["params"]["data"]["node"] for e in events if e["method"] == "updates"] == [
        "s0",
        "s1",
        "s2",
        "s3",
        "s4",
    ]
    assert len({e["event_id"] for e in events}) == len(events)


def test_state_cancel_tree_and_checkpoints_commands(api_server: ApiServer) -> None:
    thread_id = str(uuid.uuid4())
    run_id = start(api_server, thread_id, "slow", {"n": 0, "sleep": 2})
    status, body = command(api_server, thread_id, {"id": 5, "method": "run.cancel", "params": {}})
    assert status == 200 and body["result"] == {}
    events = wire_events(api_server, thread_id, {"channels": ["lifecycle"]})
    assert events[-1]["params"]["data"]["event"] == "failed"
    assert "cancel" in events[-1]["params"]["data"]["error"]
    status, tree = command(
        api_server, thread_id, {"id": 6, "method": "agent.getTree", "params": {"run_id": run_id}}
    )
    assert status == 200 and tree["result"]["tree"]["graph_name"] == "slow"
    status, listed = command(
        api_server, thread_id, {"id": 7, "method": "state.listCheckpoints", "params": {"limit": 2}}
    )
    assert status == 200 and 1 <= len(listed["result"]["checkpoints"]) <= 2


def _tree(server: ApiServer, thread_id: str) -> dict[str, Any]:
    status, body = command(server, thread_id, {"id": 8, "method": "agent.getTree", "params": {}})
    assert status == 200 and body["type"] == "success", body
    return dict(body["result"]["tree"])


def _shape(tree: dict[str, Any]) -> Any:
    """A tree with each namespace segment's task id left out (``sub:<task>`` -> ``sub``)."""
    return (
        [s.partition(":")[0] for s in tree["namespace"]],
        tree["status"],
        tree["graph_name"],
        [_shape(c) for c in tree.get("children", [])],
    )


def test_agent_get_tree_has_the_subgraphs(api_server: ApiServer) -> None:
    """``agent.getTree`` (langchain-protocol's ``AgentTreeNode``): the root and every subgraph
    namespace the run entered, with its status and graph name, as LangGraph's server builds it
    from the run's lifecycle (a subgraph is completed once execution leaves it)."""
    thread_id = str(uuid.uuid4())
    start(api_server, thread_id, "nested", {"n": 0})
    wire_events(api_server, thread_id, {"channels": ["lifecycle"], "since": 0})
    tree = _tree(api_server, thread_id)
    assert _shape(tree) == ([], "completed", "nested", [(["sub"], "completed", "inner", [])])
    (child,) = tree["children"]
    assert child["namespace"][0].startswith("sub:") and "children" not in child

    # Interrupted inside the subgraph: the subgraph is where the run waits.
    asked = str(uuid.uuid4())
    start(api_server, asked, "lifecycle", {"n": 0})
    waiting = wire_events(
        api_server,
        asked,
        {"channels": ["lifecycle", "input"], "since": 0},
        until=lambda e: (
            e["method"] == "lifecycle"
            and not e["params"]["namespace"]
            and e["params"]["data"]["event"] == "interrupted"
        ),
    )
    question = data(waiting, "input.requested")[-1]  # the subgraph's, then the root's
    assert _shape(_tree(api_server, asked)) == (
        [],
        "interrupted",
        "lifecycle",
        [(["review"], "interrupted", "review", [])],
    )
    # Answered: the subgraph completes, then the run.
    status, body = command(
        api_server,
        asked,
        {
            "id": 9,
            "method": "input.respond",
            "params": {"interrupt_id": question["interrupt_id"], "response": "yes"},
        },
    )
    assert status == 200, body
    wire_events(api_server, asked, {"channels": ["lifecycle"]})
    assert _shape(_tree(api_server, asked)) == (
        [],
        "completed",
        "lifecycle",
        [(["review"], "completed", "review", [])],
    )


# -- two API servers --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def second_server(api_server: ApiServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    status, connection = api_server.api("worker/connection", token=api_server.token)
    assert status == 200, connection
    data_dir: Path = tmp_path_factory.mktemp("second") / "data"
    server = ApiServer(
        data_dir,
        env={
            "DURAGRAPH_DATABASE_URL": connection["database_url"],
            "DURAGRAPH_NATS_URL": connection["nats_url"],
        },
    )
    server.start()
    try:
        yield server
    finally:
        server.kill()
        shutil.rmtree(data_dir, ignore_errors=True)


def test_two_api_servers(api_server: ApiServer, second_server: ApiServer) -> None:
    thread_id = str(uuid.uuid4())
    start(api_server, thread_id, "asking", {"n": 9})
    # Followed on the other server, answered there, finished on the first.
    asked = wire_events(second_server, thread_id, {"channels": ["input"]}, until=lambda e: True)
    interrupt_id = asked[0]["params"]["data"]["interrupt_id"]
    status, body = command(
        second_server,
        thread_id,
        {
            "id": 1,
            "method": "input.respond",
            "params": {"namespace": [], "interrupt_id": interrupt_id, "response": "b"},
        },
    )
    assert status == 200, body
    on_first = wire_events(
        api_server,
        thread_id,
        {"channels": ["values", "lifecycle"], "since": body["meta"]["applied_through_seq"]},
    )
    on_second = wire_events(
        second_server,
        thread_id,
        {"channels": ["values", "lifecycle"], "since": body["meta"]["applied_through_seq"]},
    )
    assert data(on_first, "values")[-1]["answer"] == "b"
    assert [e["event_id"] for e in on_first] == [e["event_id"] for e in on_second]


@pytest.mark.sdk("threads.stream[sse]", "threads.stream[two API servers]")
async def test_sdk_on_two_servers(api_server: ApiServer, second_server: ApiServer) -> None:
    thread_id = str(uuid.uuid4())
    async with (
        get_client(url=api_server.base, headers=api_server.headers) as first,
        get_client(url=second_server.base, headers=second_server.headers) as second,
    ):
        async with first.threads.stream(thread_id, assistant_id="slow") as starter:
            await starter.run.start(input={"n": 0})
        async with second.threads.stream(thread_id, assistant_id="slow") as follower:
            events = [e async for e in follower.subscribe(["updates", "lifecycle"])]
    assert [u["node"] for u in data(events, "updates")] == ["s0", "s1", "s2", "s3", "s4"]


# -- bad input --------------------------------------------------------------------------------------
BAD_COMMANDS = [
    (b"{not json", 400, "invalid_json"),
    (b"[]", 422, "validation_error"),
    (b'{"method": "run.start"}', 422, "validation_error"),
    (b'{"id": -1, "method": "run.start"}', 422, "validation_error"),
    (b'{"id": 1}', 422, "validation_error"),
    (b'{"id": 1, "method": "run.start", "extra": 1}', 422, "validation_error"),
    (b'{"id": 1, "method": "no.such"}', 400, "unknown_command"),
    (b'{"id": 1, "method": "run.start", "params": {}}', 422, "invalid_argument"),
    (
        b'{"id": 1, "method": "run.start", "params": {"assistant_id": "no-such-graph"}}',
        404,
        "not_found",
    ),
    (
        b'{"id": 1, "method": "run.start", "params": {"assistant_id": "slow", "config": 3}}',
        422,
        "invalid_argument",
    ),
    (b'{"id": 1, "method": "run.start", "params": []}', 422, "validation_error"),
    (b'{"id": 1, "method": "input.respond", "params": {"interrupt_id": "x", "response": 1}}', 404, None),
    (b'{"id": 1, "method": "input.inject", "params": {}}', 422, "not_supported"),
    (
        b'{"id": 1, "method": "subscription.subscribe", "params": {"channels": ["values"]}}',
        422,
        "not_supported",
    ),
]


@pytest.mark.parametrize(("raw", "status", "code"), BAD_COMMANDS)
def test_bad_commands_are_4xx_json(api_server: ApiServer, raw: bytes, status: int, code: str | None) -> None:
    thread_id = str(uuid.uuid4())
    got, body = command(api_server, thread_id, None, raw=raw)
    assert got == status, body
    assert body["message"]
    if code is not None:
        assert body["error"] == code
    # Nothing was written: the thread does not exist.
    assert api_server.request("GET", f"/threads/{thread_id}")[0] == 404


BAD_SUBSCRIPTIONS = [
    ({}, 422),
    ({"channels": []}, 422),
    ({"channels": ["no-such-channel"]}, 422),
    ({"channels": ["values"], "depth": -1}, 422),
    ({"channels": ["values"], "since": "x"}, 422),
    ({"channels": ["values"], "namespaces": "sub"}, 422),
]


@pytest.mark.parametrize(("body", "status"), BAD_SUBSCRIPTIONS)
def test_bad_subscriptions_are_4xx_json(api_server: ApiServer, body: dict[str, Any], status: int) -> None:
    thread_id = str(uuid.uuid4())
    start(api_server, thread_id, "slow", {})
    response = httpx.post(
        f"{api_server.base}/threads/{thread_id}/stream/events",
        json=body,
        headers=api_server.headers,
        timeout=30,
    )
    assert response.status_code == status
    assert response.json()["error"] in ("validation_error", "invalid_argument")


def test_stream_of_a_missing_thread_is_404(api_server: ApiServer) -> None:
    for thread_id in (str(uuid.uuid4()), "not-a-uuid"):
        response = httpx.post(
            f"{api_server.base}/threads/{thread_id}/stream/events",
            json={"channels": ["values"]},
            headers=api_server.headers,
            timeout=30,
        )
        assert response.status_code == 404, response.text
        assert response.json()["error"] == "not_found"


def test_wrong_interrupt_id_is_404_no_such_interrupt(api_server: ApiServer) -> None:
    thread_id = str(uuid.uuid4())
    start(api_server, thread_id, "asking", {})
    wire_events(api_server, thread_id, {"channels": ["input"]}, until=lambda e: True)
    status, body = command(
        api_server,
        thread_id,
        {
            "id": 4,
            "method": "input.respond",
            "params": {"namespace": [], "interrupt_id": "nope", "response": 1},
        },
    )
    assert status == 404 and body["error"] == "no_such_interrupt" and body["id"] == 4


def test_commands_need_a_token(api_server: ApiServer) -> None:
    response = httpx.post(
        f"{api_server.base}/threads/{uuid.uuid4()}/commands",
        json={"id": 1, "method": "run.start", "params": {"assistant_id": "slow"}},
        timeout=30,
    )
    assert response.status_code == 401 and response.json()["error"] == "unauthorized"


# -- messages, tools, RemoteGraph ---------------------------------------------------------------------
HUMAN_2_PLUS_3 = {"messages": [{"type": "human", "content": "what is 2 + 3?"}]}


@pytest.mark.sdk("threads.stream[messages and tools]", "threads.stream[sse]")
async def test_messages_and_tools_channels(client: LangGraphClient) -> None:
    async with client.threads.stream(assistant_id="chat") as thread:
        await thread.run.start(input=HUMAN_2_PLUS_3)
        events = [e async for e in thread.subscribe(["messages", "tools", "lifecycle"])]
        output = await thread.output.with_timeout(30)
    messages = data(events, "messages")
    starts = [m for m in messages if m["event"] == "message-start"]
    finishes = [m for m in messages if m["event"] == "message-finish"]
    assert starts and len(starts) == len({m["id"] for m in starts}) == len(finishes)
    tools = data(events, "tools")
    started = [t for t in tools if t["event"] == "tool-started"]
    finished = [t for t in tools if t["event"] == "tool-finished"]
    assert started and [t["tool_call_id"] for t in started] == [t["tool_call_id"] for t in finished]
    assert output["messages"][-1]["type"] == "ai"


def test_live_tokens_are_content_block_deltas(api_server: ApiServer) -> None:
    thread_id = str(uuid.uuid4())
    start(api_server, thread_id, "slow", {})
    wire_events(api_server, thread_id, {"channels": ["lifecycle"]})
    seen: list[dict[str, Any]] = []
    live = threading.Event()
    ends = 0

    def second_end(event: dict[str, Any]) -> bool:
        nonlocal ends
        ends += _root_done(event)
        live.set()
        return ends == 2

    reader = threading.Thread(
        target=lambda: seen.extend(
            wire_events(api_server, thread_id, {"channels": ["messages", "lifecycle"]}, until=second_end)
        )
    )
    reader.start()
    assert live.wait(30)
    time.sleep(0.5)  # the stream follows the thread: the next run's live tokens reach it
    start(api_server, thread_id, "chat", HUMAN_2_PLUS_3)
    reader.join(60)
    messages = data(seen, "messages")
    deltas = [m for m in messages if m["event"] == "content-block-delta"]
    assert deltas and all(m["delta"]["type"] == "text-delta" for m in deltas)
    # Every streamed message was started once (live) and finished once (from the log).
    streamed = {m["id"] for m in deltas}
    starts = [m["id"] for m in messages if m["event"] == "message-start"]
    finishes = [m["id"] for m in messages if m["event"] == "message-finish"]
    assert streamed <= set(starts) and sorted(starts) == sorted(set(starts)) == sorted(finishes)


@pytest.mark.sdk("RemoteGraph.astream_events[version=v3]")
async def test_remote_graph_astream_events_v3(api_server: ApiServer) -> None:
    from langgraph.pregel.remote import RemoteGraph

    graph = RemoteGraph("slow", url=api_server.base, headers=api_server.headers)
    async with await graph.astream_events({"n": 0}, version="v3") as run:
        snapshots = [s async for s in run.values]
        output = await run.output()
    assert output["n"] == 5
    assert snapshots and snapshots[-1]["n"] == 5


@pytest.mark.sdk("RemoteGraph.stream_events[version=v3]")
def test_remote_graph_stream_events_v3(api_server: ApiServer) -> None:
    from langgraph.pregel.remote import RemoteGraph

    graph = RemoteGraph("slow", url=api_server.base, headers=api_server.headers)
    with graph.stream_events({"n": 1}, version="v3") as run:
        assert run.output["n"] == 6  # a property on the sync stream


def test_deleting_the_thread_ends_its_stream(api_server: ApiServer) -> None:
    thread_id = str(uuid.uuid4())
    start(api_server, thread_id, "slow", {})
    wire_events(api_server, thread_id, {"channels": ["lifecycle"]})
    ended = threading.Event()

    def follow() -> None:
        with pytest.raises(AssertionError, match="the stream ended"):
            wire_events(api_server, thread_id, {"channels": ["lifecycle"]}, until=lambda e: False)
        ended.set()

    reader = threading.Thread(target=follow)
    reader.start()
    time.sleep(1.0)
    assert not ended.is_set()  # a thread's stream stays open after its runs
    assert api_server.request("DELETE", f"/threads/{thread_id}")[0] == 204
    reader.join(30)
    assert ended.is_set()
