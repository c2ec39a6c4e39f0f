"""duragraph_lab.events_frame / spans_frame: event logs as typed DataFrames, read in bulk as an
Arrow IPC stream (``GET /runs/{run_id}/events.arrow``, ``GET /threads/{thread_id}/events.arrow``)
from a real server, and compared with the frames made from the JSON pages of ``/events``."""

from __future__ import annotations

import dataclasses
import gc
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pandas as pd
import pyarrow as pa
import pytest

import duragraph_lab
from duragraph_lab.api import eventlog
from duragraph_lab.client import AsyncDuraGraphClient, DuraGraphClient
from duragraph_lab.client.frames import (
    EVENT_COLUMNS,
    events_from_arrow,
    events_from_arrow_chunks,
    events_to_frame,
)
from duragraph_lab.client.models import Event
from duragraph_lab.domain import NewEvent
from duragraph_lab.notebook.frames import UnknownRunOrThread, events_frame, spans_frame
from duragraph_lab.store import bulk_copy
from duragraph_lab.store.eventlog import PgEventLog
from duragraph_lab.store.postgres import PostgresEventStore
from tests.apiserver import ApiServer

DTYPES = {
    "seq": "int64",
    "recorded_at": "datetime64[ns, UTC]",
    "stream": "category",
    "run_id": "str",
    "event_id": "str",
    "type": "category",
    "node": "category",
    "task": "str",
    "step": "Int64",
    "attempt": "Int64",
    "duration_ms": "float64",
    "data": "object",
}


@pytest.fixture
def client(api_server: ApiServer) -> Iterator[DuraGraphClient]:
    with DuraGraphClient(f"http://127.0.0.1:{api_server.port}/", api_server.token) as c:
        yield c


@pytest.fixture
async def aclient(api_server: ApiServer) -> AsyncIterator[AsyncDuraGraphClient]:
    async with AsyncDuraGraphClient(f"http://127.0.0.1:{api_server.port}/", api_server.token) as c:
        yield c


def _paged(client: DuraGraphClient, run_ids: list[str]) -> pd.DataFrame:
    """The reference: every run's JSON pages (3 events per request), merged in seq order."""
    events = [e for run_id in run_ids for e in client.runs.iter_events(run_id, page_size=3)]
    return events_to_frame(sorted(events, key=lambda e: e.seq))


def test_a_run_frame_is_typed_ordered_and_equals_the_json_pages(client: DuraGraphClient) -> None:
    thread = client.threads.create()
    result = client.runs.wait(thread.thread_id, "slow", input={"n": 0})
    assert result.run_id is not None
    frame = duragraph_lab.events_frame(result.run_id, client=client)

    assert list(frame.columns) == list(EVENT_COLUMNS)
    assert {c: str(t) for c, t in frame.dtypes.items()} == DTYPES
    assert frame["seq"].is_monotonic_increasing and frame["seq"].is_unique
    assert frame["recorded_at"].is_monotonic_increasing
    assert (
        list(frame["type"])[:2] == ["run_created", "run_started"]
        and frame["type"].iloc[-1] == "run_completed"
    )
    done = frame[frame["type"] == "node_completed"]
    assert list(done["node"]) == [f"s{i}" for i in range(5)]
    assert list(done["step"]) == list(range(5)) and set(done["attempt"]) == {1}
    assert done["duration_ms"].notna().all() and (done["duration_ms"] >= 0).all()
    assert frame["step"].isna().any()  # run_created has no step: a null, not 0
    assert set(frame["run_id"]) == {result.run_id} and set(frame["stream"]) == {f"run:{result.run_id}"}
    assert all(isinstance(d, dict) for d in frame["data"])

    pd.testing.assert_frame_equal(frame, _paged(client, [result.run_id]))
    # The client's own frame is the same bulk read.
    pd.testing.assert_frame_equal(client.runs.events_frame(result.run_id), frame)


def test_objects_with_run_or_thread_ids_are_accepted(client: DuraGraphClient) -> None:
    thread = client.threads.create()
    result = client.runs.wait(thread.thread_id, "slow", input={})
    assert result.run_id is not None
    run = client.runs.get(result.run_id)
    by_id = events_frame(result.run_id, client=client)
    pd.testing.assert_frame_equal(events_frame(run, client=client), by_id)
    pd.testing.assert_frame_equal(events_frame(result, client=client), by_id)
    # A Thread (only .thread_id) and a bare thread id: the thread's frame.
    pd.testing.assert_frame_equal(events_frame(client.threads.get(thread.thread_id), client=client), by_id)
    pd.testing.assert_frame_equal(events_frame(thread.thread_id, client=client), by_id)


def test_a_thread_frame_covers_all_its_runs_in_seq_order(client: DuraGraphClient) -> None:
    thread = client.threads.create()
    other = client.threads.create()
    run_ids = []
    for n in range(3):
        result = client.runs.wait(thread.thread_id, "slow", input={"n": n})
        assert result.run_id is not None
        run_ids.append(result.run_id)
        client.runs.wait(other.thread_id, "slow", input={})  # interleaved: must not show up
    frame = events_frame(thread.thread_id, client=client)
    assert {c: str(t) for c, t in frame.dtypes.items()} == DTYPES
    assert frame["seq"].is_monotonic_increasing and frame["seq"].is_unique
    assert list(dict.fromkeys(frame["run_id"])) == run_ids
    assert (frame["type"] == "run_completed").sum() == 3
    pd.testing.assert_frame_equal(frame, _paged(client, run_ids))
    pd.testing.assert_frame_equal(client.threads.events_frame(thread.thread_id), frame)

    # after: only the events after a seq (here: the last two runs).
    cut = int(frame.loc[frame["run_id"] == run_ids[0], "seq"].max())
    tail = events_frame(thread.thread_id, client=client, after=cut)
    pd.testing.assert_frame_equal(
        tail, frame[frame["seq"] > cut].reset_index(drop=True), check_categorical=False
    )
    assert list(dict.fromkeys(tail["run_id"])) == run_ids[1:]

    spans = spans_frame(thread.thread_id, client=client)
    assert len(spans) == 15 and spans["seq"].is_monotonic_increasing
    assert list(dict.fromkeys(spans["run_id"])) == run_ids
    assert (
        str(spans["status"].dtype) == "category" and str(spans["started_at"].dtype) == "datetime64[ns, UTC]"
    )
    assert list(spans_frame(run_ids[1], client=client)["seq"]) == list(
        spans.loc[spans["run_id"] == run_ids[1], "seq"]
    )


def test_payload_modes(client: DuraGraphClient) -> None:
    thread = client.threads.create()
    result = client.runs.wait(thread.thread_id, "slow", input={})
    assert result.run_id is not None
    full = events_frame(result.run_id, client=client)
    text = events_frame(result.run_id, client=client, payload="json")
    assert all(isinstance(d, str) for d in text["data"])
    assert [duragraph_lab.client.frames._loads()(d) for d in text["data"]] == list(full["data"])
    bare = events_frame(result.run_id, client=client, payload="none")
    assert list(bare.columns) == [c for c in EVENT_COLUMNS if c != "data"]
    pd.testing.assert_frame_equal(bare, full.drop(columns=["data"]))
    with pytest.raises(ValueError, match="payload must be one of"):
        events_frame(result.run_id, client=client, payload="pickle")


def test_a_thread_without_runs_has_an_empty_typed_frame(client: DuraGraphClient) -> None:
    thread = client.threads.create()
    frame = events_frame(thread, client=client)
    assert len(frame) == 0 and list(frame.columns) == list(EVENT_COLUMNS)
    assert {c: str(t) for c, t in frame.dtypes.items()} == DTYPES
    assert len(spans_frame(thread, client=client)) == 0


@pytest.mark.parametrize("ident", [str(uuid.uuid4()), "not-a-run", "../threads"])
def test_unknown_ids_raise_a_clear_error(client: DuraGraphClient, ident: str) -> None:
    with pytest.raises(UnknownRunOrThread, match="is neither a run nor a thread"):
        events_frame(ident, client=client)
    with pytest.raises(UnknownRunOrThread, match="is neither a run nor a thread"):
        spans_frame(ident, client=client)


def test_unknown_ids_of_objects_and_wrong_arguments(client: DuraGraphClient) -> None:
    class Handle:
        run_id = str(uuid.uuid4())
        thread_id = None

    with pytest.raises(UnknownRunOrThread, match=f"run '{Handle.run_id}' does not exist"):
        events_frame(Handle(), client=client)
    with pytest.raises(UnknownRunOrThread, match="does not exist"):
        spans_frame(Handle(), client=client)
    with pytest.raises(TypeError, match="expected a run id, a thread id"):
        events_frame(42, client=client)
    with pytest.raises(UnknownRunOrThread, match="empty"):
        events_frame("  ", client=client)


def test_the_arrow_route(api_server: ApiServer, client: DuraGraphClient) -> None:
    thread = client.threads.create()
    result = client.runs.wait(thread.thread_id, "slow", input={})
    url = f"{api_server.base}/runs/{result.run_id}/events.arrow"
    response = httpx.get(url, headers=api_server.headers)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/vnd.apache.arrow.stream"
    assert len(events_from_arrow(response.content)) == len(client.runs.events(result.run_id or "").events)

    for path, status, code in [
        (f"/runs/{uuid.uuid4()}/events.arrow", 404, "not_found"),
        ("/runs/nope/events.arrow", 404, "not_found"),
        (f"/threads/{uuid.uuid4()}/events.arrow", 404, "not_found"),
        (f"/runs/{result.run_id}/events.arrow?after=-1", 422, "validation_error"),
        (f"/threads/{thread.thread_id}/events.arrow?after=x", 422, "validation_error"),
    ]:
        bad = httpx.get(api_server.base + path, headers=api_server.headers)
        assert bad.status_code == status, path
        assert bad.headers["Content-Type"].startswith("application/json") and bad.json()["error"] == code
    assert httpx.get(url).status_code == 401  # no token


async def test_the_async_client(aclient: AsyncDuraGraphClient, client: DuraGraphClient) -> None:
    thread = await aclient.threads.create()
    result = await aclient.runs.wait(thread.thread_id, "slow", input={})
    assert result.run_id is not None
    frame = await aclient.runs.events_frame(result.run_id)
    pd.testing.assert_frame_equal(frame, events_frame(result.run_id, client=client))
    pd.testing.assert_frame_equal(await aclient.threads.events_frame(thread.thread_id), frame)


# -- the server side on its own: batches and awkward payloads -----------------------------------

AWKWARD: list[dict[str, Any]] = [
    {"node": "a,b", "step": 1, "attempt": 2, "duration_ms": 1.25, "task": "t\n1"},
    {"node": 'quote "q"', "text": "line\nbreak\r\n\ttab, comma", "step": "3", "attempt": True},
    {"node": None, "step": 2**70, "duration_ms": "fast", "unicode": "été ✓ 🦜", "nested": {"a": [1, None]}},
    {"node": "", "step": -1.7, "attempt": 0, "duration_ms": 0},
    {},
]


async def test_arrow_stream_in_many_batches_with_awkward_payloads(
    pg_store: PostgresEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = str(uuid.uuid4())
    stream = f"run:{run_id}"
    payloads = [dict(AWKWARD[i % len(AWKWARD)], i=i) for i in range(2000)]
    version = 0
    for start in range(0, len(payloads), 500):
        chunk = payloads[start : start + 500]
        await pg_store.append(stream, version, [NewEvent(f"type_{i % 3}", p) for i, p in enumerate(chunk)])
        version += len(chunk)
    monkeypatch.setattr(eventlog, "SLICE_BYTES", 4096)  # dozens of record batches
    monkeypatch.setattr(bulk_copy, "RANGE_EVENTS", 150)  # and 14 ranges, copied two at a time

    chunks = [
        c
        async for c in eventlog.arrow_stream(
            PgEventLog(pg_store), await PgEventLog(pg_store).streams_of(run_id=run_id)
        )
    ]
    assert len(chunks) == 14 + 2  # the schema, a chunk per range, the end-of-stream marker
    assert len(list(pa.ipc.open_stream(b"".join(chunks)))) > 20  # record batches
    frame = events_from_arrow(b"".join(chunks))
    # Read as it arrives, in pieces of any size (here: 1,000 bytes), the frame is the same.
    body = b"".join(chunks)
    pieces = (body[i : i + 1000] for i in range(0, len(body), 1000))
    pd.testing.assert_frame_equal(events_from_arrow_chunks(pieces), frame)
    with pytest.raises((OSError, pa.ArrowInvalid)):  # a body cut short is an error, not a shorter frame
        events_from_arrow_chunks([body[: len(body) // 2]])
    # Reading turns the cyclic GC off for a while; it is left as it was found, error or not.
    assert gc.isenabled()
    gc.disable()
    try:
        events_from_arrow(body)
        assert not gc.isenabled()
    finally:
        gc.enable()

    recorded = await pg_store.read_stream(stream, limit=10_000)
    # (The JSON path's own frame cannot hold a step of 2**70: it is left out there.)
    expected = events_to_frame(
        dataclasses.replace(event, step=None)
        for event in (
            Event.from_json(
                {
                    "seq": e.seq,
                    "stream_id": e.stream_id,
                    "event_id": str(e.event_id),
                    "type": e.type,
                    "data": dict(e.data),
                    "recorded_at": e.recorded_at.isoformat(),
                }
            )
            for e in recorded
        )
    )
    assert list(frame["data"]) == payloads
    # Where the payload's values are not what the columns hold, the columns say "not there".
    assert frame.loc[1, "step"] is pd.NA and frame.loc[1, "attempt"] is pd.NA  # "3", True
    assert frame.loc[2, "step"] is pd.NA and pd.isna(frame.loc[2, "duration_ms"])  # 2**70, "fast"
    assert frame.loc[3, "step"] == -1 and frame.loc[3, "node"] == ""
    assert frame.loc[0, "task"] == "t\n1" and frame.loc[1, "node"] == 'quote "q"'
    comparable = ["seq", "recorded_at", "stream", "run_id", "event_id", "type", "duration_ms", "data"]
    pd.testing.assert_frame_equal(frame[comparable], expected[comparable])

    tail = events_from_arrow(
        b"".join(
            [
                c
                async for c in eventlog.arrow_stream(
                    PgEventLog(pg_store), [stream], after=int(frame["seq"].iloc[-3])
                )
            ]
        )
    )
    assert list(tail["seq"]) == list(frame["seq"].iloc[-2:])


def test_tokens_per_node_execution_and_per_run(client: DuraGraphClient) -> None:
    """The demo chat's scripted model reports usage: the spans frame has it per node execution
    (Int64, <NA> where no model was called), the run its total."""
    thread = client.threads.create()
    result = client.runs.wait(
        thread.thread_id, "chat", input={"messages": [{"type": "human", "content": "what is 2 + 3"}]}
    )
    assert result.run_id is not None
    spans = spans_frame(result.run_id, client=client)
    assert str(spans["input_tokens"].dtype) == "Int64" and str(spans["output_tokens"].dtype) == "Int64"
    by_node = spans.groupby("node", observed=True)[["input_tokens", "output_tokens"]].sum()
    assert by_node.loc["agent", "input_tokens"] > 0 and by_node.loc["tools", "input_tokens"] == 0
    assert spans.loc[spans["node"] == "tools", "input_tokens"].isna().all()
    run = client.runs.get(result.run_id)
    assert run.usage == {
        "input_tokens": int(spans["input_tokens"].sum()),
        "output_tokens": int(spans["output_tokens"].sum()),
    }
