"""duragraph_lab.client against a real server (the session's ``api_server``): typed answers,
streams (also cut mid-run and resumed), the event log page by page and as a DataFrame, spans,
replay, forks, and errors."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from duragraph_lab.client import (
    AsyncDuraGraphClient,
    DuraGraphAPIError,
    DuraGraphClient,
    Event,
    Run,
    RunResult,
    StreamPart,
    Thread,
    ThreadState,
)
from tests.apiserver import ApiServer
from tests.cutting import AsyncCuttingTransport, CuttingTransport

# Every durable stream mode: a replay of a finished run gives exactly the frames it gave live.
DURABLE_MODES = ["values", "updates", "debug", "tasks", "checkpoints"]


@pytest.fixture
def client(api_server: ApiServer) -> Iterator[DuraGraphClient]:
    with DuraGraphClient(f"http://127.0.0.1:{api_server.port}/", api_server.token) as c:
        yield c


@pytest.fixture
async def aclient(api_server: ApiServer) -> AsyncIterator[AsyncDuraGraphClient]:
    async with AsyncDuraGraphClient(f"http://127.0.0.1:{api_server.port}/", api_server.token) as c:
        yield c


def _tuples(parts: list[StreamPart]) -> list[tuple[str, Any, str | None]]:
    return [(p.event, p.data, p.id) for p in parts]


# -- sync ----------------------------------------------------------------------------------------


def test_system(client: DuraGraphClient) -> None:
    health = client.health()
    assert health.ok and health.postgres["ok"] and health.nats["ok"]
    assert {"slow", "asking", "chat"} <= set(health.graphs)
    info = client.info()
    assert info.name == "duragraph-lab" and info.version == health.version
    assert info.started_at is not None and info.started_at.tzinfo is not None
    assert "/runs/{run_id}/events" in client.openapi()["paths"]
    assert "duragraph_" in client.metrics()


def test_assistants(client: DuraGraphClient) -> None:
    slow = client.assistants.get("slow")
    assert slow.graph_id == "slow" and slow.version >= 1 and slow.created_at is not None
    assert client.assistants.get(slow.assistant_id) == slow
    found = client.assistants.search(graph_id="slow", limit=100)
    assert slow.assistant_id in {a.assistant_id for a in found}
    graph = client.assistants.graph("slow")
    assert graph.node_ids == ["__start__", "s0", "s1", "s2", "s3", "s4", "__end__"]
    assert {(e["source"], e["target"]) for e in graph.edges} >= {("s0", "s1"), ("s4", "__end__")}
    schemas = client.assistants.schemas("slow")
    assert schemas.state_schema is not None and "log" in schemas.state_schema["properties"]


def test_threads(client: DuraGraphClient) -> None:
    marker = uuid.uuid4().hex
    thread = client.threads.create(metadata={"marker": marker})
    assert isinstance(thread, Thread) and thread.status == "idle" and thread.metadata == {"marker": marker}
    assert client.threads.get(thread.thread_id).thread_id == thread.thread_id
    updated = client.threads.update(thread.thread_id, metadata={"more": 1})
    assert updated.metadata == {"marker": marker, "more": 1}
    assert [t.thread_id for t in client.threads.search(metadata={"marker": marker})] == [thread.thread_id]
    assert client.threads.count(metadata={"marker": marker}) == 1
    client.threads.delete(thread.thread_id)
    with pytest.raises(DuraGraphAPIError) as info:
        client.threads.get(thread.thread_id)
    assert (info.value.status, info.value.code) == (404, "not_found")
    assert client.threads.search(metadata={"marker": marker}) == []


def test_run_create_join_get_list(client: DuraGraphClient) -> None:
    thread = client.threads.create()
    run = client.runs.create(thread.thread_id, "slow", input={"n": 10}, metadata={"who": "test"})
    assert isinstance(run, Run) and run.thread_id == thread.thread_id and run.metadata == {"who": "test"}
    result = client.runs.join(run.run_id)
    assert isinstance(result, RunResult)
    assert result.values == {"n": 15, "log": ["s0", "s1", "s2", "s3", "s4"]}
    assert not result.interrupted and not result.failed
    done = client.runs.get(run.run_id, thread_id=thread.thread_id)
    assert done.status == "success" and done.at_rest and done.ended_at is not None
    assert done.started_at is not None and done.created_at is not None
    assert done.created_at <= done.started_at <= done.ended_at
    second = client.runs.wait(thread.thread_id, "slow", input={"n": 0})
    assert second.values["n"] == 5 and second.thread_id == thread.thread_id
    listed = client.runs.list(thread.thread_id)
    assert [r.run_id for r in listed] == [second.run_id, run.run_id]
    assert [r.run_id for r in client.runs.list(thread.thread_id, limit=1, offset=1)] == [run.run_id]


def test_stateless_wait_and_stream(client: DuraGraphClient) -> None:
    result = client.runs.wait(None, "slow", input={"n": 1})
    assert result.values["n"] == 6 and result.run_id is not None
    parts = list(client.runs.stream(None, "slow", input={"n": 2}, stream_mode="updates"))
    assert [p.event for p in parts] == ["metadata"] + ["updates"] * 5
    assert parts[-1].data == {"s4": {"n": 7, "log": ["s4"]}}


def test_stream_then_join_stream_replays_it(client: DuraGraphClient) -> None:
    thread = client.threads.create()
    live = list(
        client.runs.stream(thread.thread_id, "slow", input={"sleep": 0.05}, stream_mode=DURABLE_MODES)
    )
    assert live[0].event == "metadata" and [p.event for p in live].count("metadata") == 1
    run_id = live[0].data["run_id"]
    assert live[-1].event in DURABLE_MODES
    values = [p.data for p in live if p.event == "values"]
    assert values[-1] == {"sleep": 0.05, "n": 5, "log": ["s0", "s1", "s2", "s3", "s4"]}
    ids = [int(p.id) for p in live if p.id is not None]
    assert ids == sorted(set(ids))
    replay = list(client.runs.join_stream(run_id, thread_id=thread.thread_id, stream_mode=DURABLE_MODES))
    assert _tuples(replay) == _tuples(live)
    # After an id: only what followed it.
    later = list(client.runs.join_stream(run_id, stream_mode=DURABLE_MODES, last_event_id=ids[2]))
    assert later[0].event == "metadata"
    assert _tuples(later[1:]) == _tuples(live[live.index(next(p for p in live if p.id == str(ids[2]))) + 1 :])


@pytest.mark.parametrize("cuts", [[150], [40, 900, 2500], [1, 1, 1], [700, 700, 700, 700]])
def test_a_cut_stream_resumes_exactly_once(api_server: ApiServer, cuts: list[int]) -> None:
    transport = CuttingTransport(cuts)
    with DuraGraphClient(
        f"http://127.0.0.1:{api_server.port}/", api_server.token, transport=transport, reconnect_delay=0.01
    ) as client:
        thread = client.threads.create()
        parts = list(
            client.runs.stream(thread.thread_id, "slow", input={"sleep": 0.1}, stream_mode=DURABLE_MODES)
        )
        run_id = parts[0].data["run_id"]
        assert client.runs.get(run_id).status == "success"
    with DuraGraphClient(f"http://127.0.0.1:{api_server.port}/", api_server.token) as plain:
        replay = list(plain.runs.join_stream(run_id, stream_mode=DURABLE_MODES))
    assert _tuples(parts) == _tuples(replay)
    assert len(transport.streams) == len(cuts) + 1
    assert transport.streams[0][0] == "POST"
    for method, path, _ in transport.streams[1:]:
        assert (method, path) == ("GET", f"/duragraph/api/v1/threads/{thread.thread_id}/runs/{run_id}/stream")
    sent = [last for _, _, last in transport.streams[1:] if last is not None]
    assert sent == sorted(sent, key=int)
    assert set(sent) <= {p.id for p in parts}


def _until_run_done(parts: Iterator[StreamPart], run_id: str) -> list[StreamPart]:
    out = []
    for part in parts:
        out.append(part)
        if part.event == "metadata" and part.data == {"status": "run_done", "run_id": run_id}:
            return out
    raise AssertionError(f"the thread stream ended before run {run_id} was done")


@pytest.mark.parametrize("cuts", [[], [200, 700], [5, 600, 1]])
def test_thread_stream_follows_runs_across_cuts(api_server: ApiServer, cuts: list[int]) -> None:
    transport = CuttingTransport(cuts)
    url = f"http://127.0.0.1:{api_server.port}/"
    with DuraGraphClient(url, api_server.token, transport=transport, reconnect_delay=0.01) as client:
        thread = client.threads.create()
        first = client.runs.wait(thread.thread_id, "slow", input={"n": 0})
        second = client.runs.wait(thread.thread_id, "slow", input={"n": 0})
        parts = _until_run_done(client.threads.join_stream(thread.thread_id), second.run_id or "")
    assert len(transport.streams) == len(cuts) + 1
    markers = [(p.data.get("run_id"), p.data.get("status")) for p in parts if p.event == "metadata"]
    assert markers == [
        (first.run_id, None),
        (first.run_id, "run_done"),
        (second.run_id, None),
        (second.run_id, "run_done"),
    ]
    values = [p.data["n"] for p in parts if p.event == "values"]
    assert values == [0, 1, 2, 3, 4, 5] * 2
    ids = [int(p.id) for p in parts if p.id is not None]
    assert ids == sorted(set(ids)) and len(ids) == 12


def test_interrupt_and_resume(client: DuraGraphClient) -> None:
    thread = client.threads.create()
    paused = client.runs.wait(thread.thread_id, "asking", input={"n": 4})
    assert paused.interrupted and paused.values == {"n": 4}
    (intr,) = paused.interrupts
    assert intr.value == {"question": "proceed?", "n": 4} and intr.node == "ask"
    assert client.runs.get(paused.run_id or "").status == "interrupted"
    state = client.threads.state(thread.thread_id)
    assert isinstance(state, ThreadState) and state.next == ("ask",) and state.interrupts == (intr,)
    assert client.threads.get(thread.thread_id).status == "interrupted"
    parts = list(
        client.runs.stream(thread.thread_id, "asking", command={"resume": "yes"}, stream_mode="updates")
    )
    assert parts[0].data["run_id"] == paused.run_id  # a resume continues the same run
    assert [p.data for p in parts[1:]] == [
        {"ask": {"log": ["asked"], "answer": "yes"}},
        {"done": {"log": ["done:yes"]}},
    ]
    assert client.threads.state(thread.thread_id).values["log"] == ["asked", "done:yes"]


def test_state_history_and_update_state(client: DuraGraphClient) -> None:
    thread = client.threads.create()
    client.runs.wait(thread.thread_id, "slow", input={"n": 0})
    history = client.threads.history(thread.thread_id, limit=3)
    assert len(history) == 3
    assert history[0].checkpoint_id == client.threads.state(thread.thread_id).checkpoint_id
    assert history[1].checkpoint_id == (
        history[0].parent_checkpoint.checkpoint_id if history[0].parent_checkpoint else None
    )
    older = client.threads.state(thread.thread_id, history[2].checkpoint_id)
    assert older.values["n"] < history[0].values["n"]
    edit = client.threads.update_state(thread.thread_id, {"n": 100}, as_node="s4")
    assert edit.checkpoint_id is not None
    now = client.threads.state(thread.thread_id)
    assert now.values["n"] == 100 and now.checkpoint_id == edit.checkpoint_id


def test_event_log_pages_frames_spans_and_replay(client: DuraGraphClient) -> None:
    thread = client.threads.create()
    result = client.runs.wait(thread.thread_id, "slow", input={"n": 1})
    run_id = result.run_id
    assert run_id is not None
    everything = client.runs.events(run_id, limit=10_000)
    assert not everything.has_more and everything.next_after is None
    events = list(everything.events)
    assert all(isinstance(e, Event) and e.run_id == run_id for e in events)
    assert [e.type for e in events][:2] == ["run_created", "run_started"] and events[
        -1
    ].type == "run_completed"
    assert [e.seq for e in events] == sorted({e.seq for e in events})
    completed = [e for e in events if e.type == "node_completed"]
    assert [(e.node, e.step, e.attempt) for e in completed] == [(f"s{i}", i, 1) for i in range(5)]
    assert all(e.duration_ms is not None and e.duration_ms >= 0 for e in completed)

    first = client.runs.events(run_id, limit=3)
    assert first.has_more and first.next_after == events[2].seq and list(first.events) == events[:3]
    second = client.runs.events(run_id, after=first.next_after or 0, limit=3)
    assert list(second.events) == events[3:6]
    assert list(client.runs.iter_events(run_id, page_size=2)) == events
    assert list(client.runs.iter_events(run_id, after=events[4].seq, page_size=4)) == events[5:]

    frame = client.runs.events_frame(run_id, page_size=4)
    assert len(frame) == len(events)
    assert list(frame["seq"]) == [e.seq for e in events]
    assert str(frame["recorded_at"].dtype) == "datetime64[ns, UTC]"
    assert str(frame["type"].dtype) == "category" and str(frame["node"].dtype) == "category"
    assert str(frame["step"].dtype) == "Int64" and str(frame["attempt"].dtype) == "Int64"
    assert str(frame["duration_ms"].dtype) == "float64" and str(frame["seq"].dtype) == "int64"
    assert frame["recorded_at"].is_monotonic_increasing
    assert frame["recorded_at"].iloc[0].to_pydatetime() == events[0].recorded_at
    rows = frame[frame["type"] == "node_completed"]
    assert list(rows["node"]) == ["s0", "s1", "s2", "s3", "s4"] and rows["duration_ms"].notna().all()
    assert frame.loc[0, "data"] == events[0].data
    assert set(frame["run_id"]) == {run_id}

    spans = client.runs.spans(run_id)
    assert [(s.node, s.step, s.attempt, s.status) for s in spans] == [(f"s{i}", i, 1, "ok") for i in range(5)]
    assert [s.seq for s in spans] == [e.seq for e in completed]
    assert all(s.started_at and s.ended_at and s.started_at <= s.ended_at for s in spans)
    sframe = client.runs.spans_frame(run_id)
    assert list(sframe["node"]) == [s.node for s in spans]
    assert (
        str(sframe["started_at"].dtype) == "datetime64[ns, UTC]" and str(sframe["status"].dtype) == "category"
    )

    report = client.runs.replay(run_id)
    assert report.identical and report.tasks_checked == 5 and report.divergence is None
    assert report.run_id == run_id


def test_failed_run(client: DuraGraphClient) -> None:
    thread = client.threads.create()
    result = client.runs.wait(thread.thread_id, "slow", input={"fail": True})
    assert result.failed and result.error == {"error": "ValueError", "message": "step 2 failed as asked"}
    parts = list(client.runs.join_stream(result.run_id or "", stream_mode="updates"))
    assert parts[-1] == StreamPart("error", result.error, parts[-1].id)
    spans = client.runs.spans(result.run_id or "")
    assert spans[-1].node == "s2" and spans[-1].status == "error" and spans[-1].error is not None


def test_cancel_and_fork(client: DuraGraphClient) -> None:
    thread = client.threads.create()
    run = client.runs.create(thread.thread_id, "slow", input={"n": 0, "sleep": 5})
    cancelled = client.runs.cancel(run.run_id, wait=True)
    assert cancelled is not None and (cancelled.run_id, cancelled.thread_id) == (run.run_id, thread.thread_id)
    assert client.runs.get(run.run_id).status == "cancelled"
    with pytest.raises(DuraGraphAPIError) as info:
        client.runs.cancel(run.run_id, thread_id=thread.thread_id)
    assert info.value.status == 409
    other = client.runs.create(thread.thread_id, "slow", input={"sleep": 5})
    assert client.runs.cancel(other.run_id, thread_id=thread.thread_id) is None  # 202, no body
    assert client.runs.join(other.run_id).values["sleep"] == 5
    assert client.runs.get(other.run_id).status == "cancelled"

    # (The cancelled run's input stays in the thread's state: reset its sleep.)
    done = client.runs.wait(thread.thread_id, "slow", input={"n": 0, "sleep": 0})
    assert done.run_id is not None
    after_s1 = next(
        e for e in client.runs.iter_events(done.run_id) if e.type == "node_completed" and e.node == "s1"
    )
    fork = client.runs.fork(done.run_id, after_s1.seq, update={"n": 1000})
    assert fork.run_id != done.run_id
    forked = client.runs.join(fork.run_id)
    assert forked.values["n"] == 1003  # s2, s3 and s4 ran again, from the edited state
    assert forked.values["log"] == ["s0", "s1", "s2", "s3", "s4"]


def test_errors(client: DuraGraphClient, api_server: ApiServer) -> None:
    missing = str(uuid.uuid4())
    for name, call in (
        (missing, lambda: client.runs.get(missing)),
        (missing, lambda: client.runs.events(missing)),
        (missing, lambda: client.runs.spans(missing)),
        (missing, lambda: client.runs.replay(missing)),
        (missing, lambda: client.threads.get(missing)),
        (missing, lambda: client.threads.delete(missing)),
        (missing, lambda: list(client.runs.join_stream(missing))),
        ("no-such-graph", lambda: client.assistants.get("no-such-graph")),
    ):
        with pytest.raises(DuraGraphAPIError) as info:
            call()
        assert (info.value.status, info.value.code) == (404, "not_found"), info.value
        assert name in info.value.message and name in str(info.value)
    thread = client.threads.create()
    with pytest.raises(DuraGraphAPIError) as info:
        client.runs.create(thread.thread_id, "slow", input={}, stream_mode="sideways")
    assert (info.value.status, info.value.code) == (422, "validation_error")
    assert "stream_mode" in info.value.message and info.value.details
    busy = client.runs.create(thread.thread_id, "slow", input={"sleep": 5})
    with pytest.raises(DuraGraphAPIError) as info:
        client.runs.create(thread.thread_id, "slow", input={}, multitask_strategy="reject")
    assert info.value.status == 409 and info.value.conflict
    client.runs.cancel(busy.run_id, thread_id=thread.thread_id, wait=True)
    with DuraGraphClient(f"http://127.0.0.1:{api_server.port}/", "wrong-token") as stranger:
        with pytest.raises(DuraGraphAPIError) as info:
            stranger.health()
        assert info.value.status == 401 and "Authorization: token <token>" in str(info.value)


# -- async ---------------------------------------------------------------------------------------


async def test_async_flow(aclient: AsyncDuraGraphClient) -> None:
    assert (await aclient.health()).ok
    thread = await aclient.threads.create(metadata={"async": True})
    assert (await aclient.threads.get(thread.thread_id)).metadata == {"async": True}
    run = await aclient.runs.create(thread.thread_id, "slow", input={"n": 0})
    result = await aclient.runs.join(run.run_id, thread_id=thread.thread_id)
    assert result.values["n"] == 5
    parts = [
        p async for p in aclient.runs.stream(thread.thread_id, "slow", input={"n": 0}, stream_mode="values")
    ]
    assert parts[0].event == "metadata" and parts[-1].data == {
        "n": 5,
        "log": ["s0", "s1", "s2", "s3", "s4"] * 2,
    }
    run_id = parts[0].data["run_id"]
    replay = [
        p async for p in aclient.runs.join_stream(run_id, thread_id=thread.thread_id, stream_mode="values")
    ]
    assert _tuples(replay) == _tuples(parts)

    page = await aclient.runs.events(run_id, limit=4)
    assert page.has_more and len(page.events) == 4
    events = [e async for e in aclient.runs.iter_events(run_id, page_size=3)]
    assert events[:4] == list(page.events) and events[-1].type == "run_completed"
    frame = await aclient.runs.events_frame(run_id)
    assert list(frame["seq"]) == [e.seq for e in events]
    assert str(frame["recorded_at"].dtype) == "datetime64[ns, UTC]"
    spans = await aclient.runs.spans(run_id)
    assert [s.node for s in spans] == ["s0", "s1", "s2", "s3", "s4"]
    assert len(await aclient.runs.spans_frame(run_id)) == 5
    report = await aclient.runs.replay(run_id)
    assert report.identical and report.tasks_checked == 5
    runs = await aclient.runs.list(thread.thread_id)
    assert [r.run_id for r in runs] == [run_id, run.run_id]
    with pytest.raises(DuraGraphAPIError) as info:
        await aclient.runs.get(str(uuid.uuid4()))
    assert (info.value.status, info.value.code) == (404, "not_found")
    await aclient.threads.delete(thread.thread_id)
    with pytest.raises(DuraGraphAPIError):
        await aclient.threads.get(thread.thread_id)


async def test_async_cut_stream_resumes_exactly_once(api_server: ApiServer) -> None:
    transport = AsyncCuttingTransport([300, 5, 1200])
    url = f"http://127.0.0.1:{api_server.port}/"
    async with AsyncDuraGraphClient(
        url, api_server.token, transport=transport, reconnect_delay=0.01
    ) as client:
        thread = await client.threads.create()
        parts = [
            p
            async for p in client.runs.stream(
                thread.thread_id, "slow", input={"sleep": 0.1}, stream_mode=DURABLE_MODES
            )
        ]
    async with AsyncDuraGraphClient(url, api_server.token) as plain:
        replay = [p async for p in plain.runs.join_stream(parts[0].data["run_id"], stream_mode=DURABLE_MODES)]
    assert _tuples(parts) == _tuples(replay)
    assert len(transport.streams) == 4
