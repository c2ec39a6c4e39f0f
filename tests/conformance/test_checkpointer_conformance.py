"""``langgraph-checkpoint-conformance`` (LangGraph's own suite for checkpointers, from PyPI)
against the event-store checkpointer on the real PostgreSQL: every capability it detects passes,
and it detects all of them."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import ALL_CAPABILITIES

from duragraph_lab.langgraph.checkpointer import EventStoreCheckpointer
from duragraph_lab.store.postgres import PostgresEventStore


async def test_every_capability_passes(pg_store: PostgresEventStore) -> None:
    @checkpointer_test(name="DuraGraphEventStore")
    async def factory() -> AsyncGenerator[EventStoreCheckpointer, None]:
        yield EventStoreCheckpointer(pg_store)

    report = await validate(factory)
    failures = {name: r.failures for name, r in report.results.items() if not r.passed}
    assert failures == {}, report.to_dict() if hasattr(report, "to_dict") else failures
    assert {name for name, r in report.results.items() if r.detected} == {c.value for c in ALL_CAPABILITIES}
    assert all(r.tests_failed == 0 and r.tests_passed > 0 for r in report.results.values())


async def test_checkpoints_are_events_and_survive_a_rebuild(pg_store: PostgresEventStore) -> None:
    """No checkpoint tables: the read models come back from the log alone."""
    saver = EventStoreCheckpointer(pg_store)
    config = {"configurable": {"thread_id": "t-rebuild", "checkpoint_ns": ""}}
    from langgraph.checkpoint.base import empty_checkpoint

    checkpoint = empty_checkpoint()
    checkpoint["channel_values"] = {"x": [1, 2, 3]}
    checkpoint["channel_versions"] = {"x": "1"}
    stored = await saver.aput(config, checkpoint, {"source": "input", "step": -1}, {"x": "1"})  # type: ignore[arg-type]
    await saver.aput_writes(stored, [("x", 4)], "task-1", "path")
    events = await pg_store.read_all(types=["lg_checkpoint", "lg_writes"])
    assert [e.type for e in events] == ["lg_checkpoint", "lg_writes"]
    assert events[0].stream_id.startswith("checkpoints:")
    async with pg_store.pool.connection() as conn:
        await conn.execute("SELECT duragraph.rebuild_projections()")
    tup = await saver.aget_tuple(stored)
    assert tup is not None
    assert tup.checkpoint["channel_values"] == {"x": [1, 2, 3]}
    assert tup.pending_writes == [("task-1", "x", 4)]


async def test_a_checkpoint_stores_only_the_values_that_changed(pg_store: PostgresEventStore) -> None:
    """Deltas: a checkpoint's event holds the values of its new versions only; the others are
    read from the events that hold their versions."""
    from langgraph.checkpoint.base import empty_checkpoint

    saver = EventStoreCheckpointer(pg_store)
    config: Any = {"configurable": {"thread_id": "t-delta", "checkpoint_ns": ""}}
    big = list(range(1000))
    for step in range(3):
        checkpoint = empty_checkpoint()
        checkpoint["channel_values"] = {"big": big, "n": step}
        checkpoint["channel_versions"] = {"big": "1", "n": str(step + 1)}
        new_versions = {"big": "1", "n": str(step + 1)} if step == 0 else {"n": str(step + 1)}
        config = await saver.aput(config, checkpoint, {"step": step}, new_versions)
    events = await pg_store.read_all(types=["lg_checkpoint"])
    assert [sorted(e.data["blobs"]) for e in events] == [["big", "n"], ["n"], ["n"]]
    latest = await saver.aget_tuple({"configurable": {"thread_id": "t-delta", "checkpoint_ns": ""}})
    assert latest is not None and latest.checkpoint["channel_values"] == {"big": big, "n": 2}
    thread: Any = {"configurable": {"thread_id": "t-delta"}}
    history = [t.checkpoint["channel_values"]["n"] async for t in saver.alist(thread)]
    assert history == [2, 1, 0]


def test_versions_sort_as_they_increase_and_keep_a_threads_width(pg_store: PostgresEventStore) -> None:
    saver = EventStoreCheckpointer(pg_store)
    versions = [saver.get_next_version(None, None)]
    for _ in range(12):
        versions.append(saver.get_next_version(versions[-1], None))
    assert versions == sorted(versions) and len({v.split(".")[0] for v in versions}) == 13
    assert {len(v) for v in versions} == {23}
    assert saver.get_next_version("0000000009.5", None).startswith("0000000010.")
    # Versions of the 51-character form (written before) go on in that form's width.
    old = f"{41:032}.{0.5:016}"
    new = saver.get_next_version(old, None)
    assert new.startswith(f"{42:032}.") and new > old
    assert saver.get_next_version(7, None).startswith("0000000008.")  # type: ignore[arg-type]
