"""The event store contract. Every implementation runs it: PostgreSQL and the in-memory fake."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Sequence

import pytest

from duragraph_lab.domain import (
    DuplicateEvent,
    EncodingError,
    InvalidEvent,
    InvalidStreamId,
    NewEvent,
    RecordedEvent,
    UnknownStreamKind,
    VersionConflict,
)
from duragraph_lab.store import EventStore, InMemoryEventStore, PostgresEventStore


@pytest.fixture(params=["postgres", "memory"])
def store(request: pytest.FixtureRequest) -> EventStore:
    if request.param == "memory":
        return InMemoryEventStore()
    pg: PostgresEventStore = request.getfixturevalue("pg_store")
    return pg


def run_id() -> str:
    return f"run:{uuid.uuid4()}"


def events(n: int, type_: str = "happened", **data: object) -> list[NewEvent]:
    return [NewEvent(type_, {"i": i, **data}) for i in range(n)]


async def test_append_then_read_back(store: EventStore) -> None:
    sid = run_id()
    when = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)
    recorded = await store.append(sid, 0, [NewEvent("started", {"at": when, "ids": (1, 2)}, {"by": "test"})])
    assert [(e.version, e.type) for e in recorded] == [(1, "started")]
    [read] = await store.read_stream(sid)
    assert read.seq == recorded[0].seq
    assert read.event_id == recorded[0].event_id
    assert read.data == {"at": when, "ids": (1, 2)}
    assert read.meta == {"by": "test"}
    assert read.stream_id == sid
    assert read.recorded_at.tzinfo is not None
    assert await store.stream_version(sid) == 1


async def test_versions_are_contiguous_and_seq_increases(store: EventStore) -> None:
    sid = run_id()
    await store.append(sid, 0, events(3))
    await store.append(sid, 3, events(2))
    await store.append(sid, None, events(1))
    read = await store.read_stream(sid)
    assert [e.version for e in read] == [1, 2, 3, 4, 5, 6]
    seqs = [e.seq for e in read]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 6


async def test_read_stream_paging(store: EventStore) -> None:
    sid = run_id()
    await store.append(sid, 0, events(10))
    page = await store.read_stream(sid, after_version=3, limit=4)
    assert [e.version for e in page] == [4, 5, 6, 7]
    all_events = await store.read_stream(sid)
    after_seq = await store.read_stream(sid, after_seq=all_events[6].seq)
    assert [e.version for e in after_seq] == [8, 9, 10]
    until = await store.read_stream(sid, after_version=2, until_seq=all_events[5].seq)
    assert [e.version for e in until] == [3, 4, 5, 6]
    assert await store.read_stream(sid, until_seq=all_events[0].seq - 1) == []
    assert await store.read_stream(run_id()) == []
    assert await store.stream_version(run_id()) == 0


@pytest.mark.parametrize(("setup", "expected"), [(0, 1), (2, 0), (2, 1), (2, 3), (0, 5)])
async def test_wrong_expected_version_is_a_typed_conflict_and_writes_nothing(
    store: EventStore, setup: int, expected: int
) -> None:
    sid = run_id()
    if setup:
        await store.append(sid, 0, events(setup))
    before = await store.last_seq()
    with pytest.raises(VersionConflict) as info:
        await store.append(sid, expected, events(2, "late"))
    assert info.value.stream_id == sid
    assert info.value.expected == expected
    assert info.value.actual == setup
    assert await store.stream_version(sid) == setup
    assert [e.type for e in await store.read_stream(sid)] == ["happened"] * setup
    assert [e for e in await store.read_all(after_seq=before) if e.stream_id == sid] == []


async def test_concurrent_writers_one_wins_per_version(store: EventStore) -> None:
    sid = run_id()
    await store.append(sid, 0, events(1))
    results = await asyncio.gather(
        *(store.append(sid, 1, [NewEvent("attempt", {"writer": w})]) for w in range(8)),
        return_exceptions=True,
    )
    winners = [r for r in results if isinstance(r, list)]
    losers = [r for r in results if isinstance(r, VersionConflict)]
    assert len(winners) == 1
    assert len(losers) == 7
    assert all(c.actual == 2 for c in losers)
    assert [e.version for e in await store.read_stream(sid)] == [1, 2]


async def test_optimistic_retry_loop_under_contention_loses_nothing(store: EventStore) -> None:
    """Many writers each append 10 events with read-check-retry: every event lands exactly once."""
    sid = run_id()
    writers, per_writer = 6, 10

    async def writer(w: int) -> int:
        conflicts = 0
        for i in range(per_writer):
            while True:
                version = await store.stream_version(sid)
                try:
                    await store.append(sid, version, [NewEvent("tick", {"w": w, "i": i})])
                    break
                except VersionConflict:
                    conflicts += 1
        return conflicts

    await asyncio.gather(*(writer(w) for w in range(writers)))
    read = await store.read_stream(sid)
    assert [e.version for e in read] == list(range(1, writers * per_writer + 1))
    assert sorted((e.data["w"], e.data["i"]) for e in read) == [
        (w, i) for w in range(writers) for i in range(per_writer)
    ]
    for w in range(writers):  # each writer's own events stay in its order
        assert [e.data["i"] for e in read if e.data["w"] == w] == list(range(per_writer))


async def test_streams_are_independent(store: EventStore) -> None:
    a, b = run_id(), f"thread:{uuid.uuid4()}"
    await asyncio.gather(store.append(a, 0, events(3)), store.append(b, 0, events(2)))
    assert await store.stream_version(a) == 3
    assert await store.stream_version(b) == 2


async def test_transaction_spanning_streams_is_atomic(store: EventStore) -> None:
    a, b = run_id(), run_id()
    await store.append(b, 0, events(1))
    with pytest.raises(VersionConflict):
        async with store.transaction() as tx:
            await tx.append(a, 0, events(2))
            await tx.append(b, 0, events(1))  # b already exists: the whole unit rolls back
    assert await store.read_stream(a) == []
    assert await store.stream_version(a) == 0
    async with store.transaction() as tx:
        await tx.append(a, 0, events(2))
        await tx.append(b, 1, events(1))
    assert await store.stream_version(a) == 2
    assert await store.stream_version(b) == 2


async def test_a_held_stream_takes_no_append_until_the_unit_of_work_ends(store: EventStore) -> None:
    sid = f"thread:{uuid.uuid4()}"
    await store.append(sid, 0, events(2))
    async with store.transaction() as tx:
        assert await tx.hold(sid) == 2
        assert await tx.hold(run_id()) == 0, "a stream with no events is at version 0"
        writer = asyncio.create_task(store.append(sid, 2, events(1)))
        await asyncio.sleep(0.3)
        assert not writer.done(), "another writer's append waits for the holder"
        assert await store.stream_version(sid) == 2
    assert [e.version for e in await writer] == [3]
    assert await store.stream_version(sid) == 3


async def test_exception_in_transaction_body_rolls_back(store: EventStore) -> None:
    sid = run_id()
    with pytest.raises(RuntimeError, match="boom"):
        async with store.transaction() as tx:
            await tx.append(sid, 0, events(1))
            raise RuntimeError("boom")
    assert await store.read_stream(sid) == []


@pytest.mark.parametrize(
    ("stream_id", "error"),
    [
        (f"flow:{uuid.uuid4()}", UnknownStreamKind),
        ("run:nope", InvalidStreamId),
        ("no-colon", InvalidStreamId),
    ],
)
async def test_bad_stream_ids_write_nothing(
    store: EventStore, stream_id: str, error: type[Exception]
) -> None:
    before = await store.last_seq()
    with pytest.raises(error):
        await store.append(stream_id, None, events(1))
    assert await store.last_seq() == before


async def test_unencodable_payload_writes_nothing(store: EventStore) -> None:
    sid = run_id()
    with pytest.raises(EncodingError) as info:
        await store.append(sid, 0, [NewEvent("ok", {"fine": 1}), NewEvent("bad", {"x": [1, object()]})])
    assert "event #1 (bad) data" in str(info.value)
    assert info.value.path == "$['x'][1]"
    assert await store.read_stream(sid) == []
    with pytest.raises(EncodingError, match="meta"):
        await store.append(sid, 0, [NewEvent("ok", meta={"bad": float("nan")})])
    assert await store.stream_version(sid) == 0


@pytest.mark.parametrize("expected", [-1, 1.5, "1", True])
async def test_bad_expected_version_is_rejected(store: EventStore, expected: object) -> None:
    with pytest.raises(InvalidEvent, match="expected_version"):
        await store.append(run_id(), expected, events(1))  # type: ignore[arg-type]


async def test_empty_and_malformed_appends_are_rejected(store: EventStore) -> None:
    with pytest.raises(InvalidEvent, match="nothing to append"):
        await store.append(run_id(), 0, [])
    with pytest.raises(InvalidEvent, match="expected NewEvent"):
        await store.append(run_id(), 0, [{"type": "x"}])  # type: ignore[list-item]
    same = NewEvent("x")
    with pytest.raises(InvalidEvent, match="duplicate event_id"):
        await store.append(run_id(), 0, [same, same])


async def test_retried_append_with_same_event_id_is_detected(store: EventStore) -> None:
    sid = run_id()
    event = NewEvent("once")
    await store.append(sid, None, [event])
    with pytest.raises(DuplicateEvent) as info:
        await store.append(sid, None, [NewEvent("other"), event])
    assert info.value.event_id == str(event.event_id)
    assert [e.type for e in await store.read_stream(sid)] == ["once"]


async def test_read_all_by_seq_range_type_and_kind(store: EventStore) -> None:
    start = await store.last_seq()
    r, t = run_id(), f"thread:{uuid.uuid4()}"
    await store.append(r, 0, [NewEvent("run_created"), NewEvent("node_completed"), NewEvent("run_finished")])
    await store.append(t, 0, [NewEvent("thread_created"), NewEvent("node_completed")])
    mine = await store.read_all(after_seq=start)
    assert [e.type for e in mine] == [
        "run_created",
        "node_completed",
        "run_finished",
        "thread_created",
        "node_completed",
    ]
    assert [e.seq for e in mine] == sorted(e.seq for e in mine)
    by_type = await store.read_all(after_seq=start, types=["node_completed"])
    assert [e.stream_id for e in by_type] == [r, t]
    by_kind = await store.read_all(after_seq=start, kinds=["thread"])
    assert [e.type for e in by_kind] == ["thread_created", "node_completed"]
    window = await store.read_all(after_seq=mine[0].seq, until_seq=mine[2].seq)
    assert [e.seq for e in window] == [mine[1].seq, mine[2].seq]
    assert len(await store.read_all(after_seq=start, limit=2)) == 2
    assert await store.last_seq() == mine[-1].seq


async def test_after_commit_sees_committed_events_only(store: EventStore) -> None:
    seen: list[Sequence[RecordedEvent]] = []
    store.add_after_commit(seen.append)
    store.add_after_commit(lambda _events: 1 / 0)  # a failing hook must not fail the append
    sid = run_id()
    await store.append(sid, 0, events(2))
    with pytest.raises(VersionConflict):
        await store.append(sid, 0, events(1))
    with pytest.raises(RuntimeError):
        async with store.transaction() as tx:
            await tx.append(run_id(), 0, events(1))
            raise RuntimeError
    assert len(seen) == 1
    assert [e.version for e in seen[0]] == [1, 2]


async def test_stored_events_do_not_alias_caller_objects(store: EventStore) -> None:
    sid = run_id()
    payload = {"items": [1, 2]}
    await store.append(sid, 0, [NewEvent("x", payload)])
    payload["items"].append(3)
    [read] = await store.read_stream(sid)
    assert read.data == {"items": [1, 2]}


@pytest.mark.parametrize("bad", ["nul\x00inside", "lone \udc80 surrogate"], ids=["nul", "surrogate"])
async def test_text_the_database_cannot_hold_is_a_typed_error(store: EventStore, bad: str) -> None:
    sid = run_id()
    with pytest.raises(EncodingError) as info:
        await store.append(sid, 0, [NewEvent("text", {"messages": [{"content": bad}]})])
    assert info.value.path == "$['messages'][0]['content']"
    assert await store.read_stream(sid) == []


async def test_transaction_is_unusable_after_a_failed_append(store: EventStore) -> None:
    from duragraph_lab.store.validation import UnitOfWorkAborted

    a, b = run_id(), run_id()
    await store.append(a, 0, events(1))
    with pytest.raises(UnitOfWorkAborted, match="can only roll back"):
        async with store.transaction() as tx:
            with pytest.raises(VersionConflict):
                await tx.append(a, 0, events(1))
            await tx.append(b, 0, events(1))  # the caller carried on regardless
    assert await store.stream_version(b) == 0


async def test_appended_events_do_not_alias_caller_objects(store: EventStore) -> None:
    payload = {"items": [1, 2], "when": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)}
    [recorded] = await store.append(run_id(), 0, [NewEvent("x", payload)])
    payload["items"].append(3)
    assert recorded.data == {"items": [1, 2], "when": dt.datetime(2026, 1, 1, tzinfo=dt.UTC)}


async def test_memory_store_refuses_nested_transactions_instead_of_deadlocking() -> None:
    store = InMemoryEventStore()
    async with store.transaction() as tx:
        await tx.append(run_id(), 0, events(1))
        with pytest.raises(RuntimeError, match="already open in this task"):
            await store.append(run_id(), 0, events(1))
