"""``lg_blobs`` holds one row per version a checkpoint stores values at (migration 0018), not one
per channel: LangGraph gives every channel a step updates the same new version. Which channels an
event holds at that version is read from the event, so a channel is never read at a version
that only another channel of the same event has."""

from __future__ import annotations

from typing import Any, TypedDict

import pytest
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph

from duragraph_lab.langgraph.checkpointer import EventStoreCheckpointer
from duragraph_lab.store.postgres import PostgresEventStore
from tests.conformance.run_logs import DirectRunLog


class Three(TypedDict):
    n: int
    text: str
    seen: list[int]


async def _step(state: Three) -> dict[str, Any]:
    return {"n": state["n"] + 1, "text": f"step {state['n']}", "seen": [*state["seen"], state["n"]]}


def _graph() -> Any:
    g: StateGraph[Any] = StateGraph(Three)
    g.add_node("step", _step)
    g.add_edge(START, "step")
    g.add_conditional_edges("step", lambda s: "step" if s["n"] < 6 else END, ["step", END])
    return g


async def _count(store: PostgresEventStore, sql: str, *params: Any) -> int:
    rows = await store._query(sql, params)
    return int(rows[0][0])


async def test_a_step_is_one_row_and_reads_back_as_langgraph_wrote_it(pg_store: PostgresEventStore) -> None:
    thread = "t-blob-versions"
    config: Any = {"configurable": {"thread_id": thread}, "recursion_limit": 50}
    saver = EventStoreCheckpointer(pg_store).for_run(DirectRunLog(pg_store, thread))
    await (
        _graph()
        .compile(checkpointer=saver)
        .ainvoke({"n": 0, "text": "", "seen": []}, config, durability="sync")
    )
    memory = InMemorySaver()
    await (
        _graph()
        .compile(checkpointer=memory)
        .ainvoke({"n": 0, "text": "", "seen": []}, config, durability="sync")
    )

    rows = await _count(pg_store, "SELECT count(*) FROM duragraph.lg_blobs WHERE thread_id = %s", thread)
    versions = await _count(
        pg_store,
        "SELECT count(DISTINCT (c.checkpoint_ns, v.value)) FROM duragraph.lg_checkpoints c "
        "JOIN duragraph.events e ON e.seq = c.seq, "
        "LATERAL jsonb_each_text(coalesce(e.data->'langgraph_checkpoint', e.data)->'checkpoint'->'channel_versions') v "
        "WHERE c.thread_id = %s",
        thread,
    )
    channels = await _count(
        pg_store,
        "SELECT count(*) FROM duragraph.lg_blobs b JOIN duragraph.events e ON e.seq = b.seq, "
        "LATERAL jsonb_object_keys(coalesce(e.data->'langgraph_checkpoint', e.data)->'blobs') k "
        "WHERE b.thread_id = %s",
        thread,
    )
    # Six steps of three channels each, their branch channel too: a row per step, not per value.
    assert 0 < rows <= versions and channels >= 3 * rows

    def values(history: list[Any]) -> list[dict[str, Any]]:
        return [t.checkpoint["channel_values"] for t in history]

    reader = EventStoreCheckpointer(pg_store)  # another process: reads the read models alone
    expected = values([t async for t in memory.alist(config)])
    assert values([t async for t in reader.alist(config)]) == expected
    async with pg_store.pool.connection() as conn:
        await conn.execute("SELECT duragraph.rebuild_projections()")
    assert (
        await _count(pg_store, "SELECT count(*) FROM duragraph.lg_blobs WHERE thread_id = %s", thread) == rows
    )
    assert values([t async for t in reader.alist(config)]) == expected


@pytest.mark.parametrize("saver_kind", ["ours", "langgraph"])
async def test_a_channel_is_not_read_at_another_channels_version(
    pg_store: PostgresEventStore, saver_kind: str
) -> None:
    """One put stores a at version 1 and b at version 2; a later checkpoint names b at version 1,
    which was never stored for b: b has no value there (as in LangGraph's own savers), rather
    than whatever the event holding version 1 of another channel holds for b."""
    saver: Any = EventStoreCheckpointer(pg_store) if saver_kind == "ours" else InMemorySaver()
    config: Any = {"configurable": {"thread_id": "t-cross", "checkpoint_ns": ""}}
    first = empty_checkpoint()
    first["channel_values"] = {"a": "A", "b": "B"}
    first["channel_versions"] = {"a": "1", "b": "2"}
    config = await saver.aput(config, first, {"step": 0}, {"a": "1", "b": "2"})
    second = empty_checkpoint()
    second["channel_values"] = {"a": "A"}
    second["channel_versions"] = {"a": "1", "b": "1"}
    await saver.aput(config, second, {"step": 1}, {})

    latest = await saver.aget_tuple({"configurable": {"thread_id": "t-cross", "checkpoint_ns": ""}})
    assert latest is not None and latest.checkpoint["id"] == second["id"]
    assert latest.checkpoint["channel_values"] == {"a": "A"}
    earlier = await saver.aget_tuple(config)
    assert earlier is not None and earlier.checkpoint["channel_values"] == {"a": "A", "b": "B"}
