"""Which write of a (task, idx) counts when a task's writes are saved more than once: ``lg_writes``
has one row per event holding a task's writes (migration 0017), and the rule is applied when
reading (``duragraph.lg_pending_writes``), as LangGraph's ``PostgresSaver`` applies it when
writing: a call of special channels only (errors, interrupts, resumes) replaces what was there,
any other call keeps what was there. Also after a rebuild of the read models."""

from __future__ import annotations

from typing import Any

from langgraph.checkpoint.base import WRITES_IDX_MAP, empty_checkpoint
from langgraph.checkpoint.memory import InMemorySaver

from duragraph_lab.langgraph.checkpointer import EventStoreCheckpointer
from duragraph_lab.store.postgres import PostgresEventStore

# LangGraph's special channels (their constants are private since LangGraph 1.0).
ERROR, INTERRUPT = "__error__", "__interrupt__"
assert ERROR in WRITES_IDX_MAP and INTERRUPT in WRITES_IDX_MAP

# (task, writes) saved in this order.
CALLS: list[tuple[str, list[tuple[str, Any]]]] = [
    ("t1", [("a", 1), ("b", 2)]),
    ("t1", [("a", 9), ("c", 3)]),  # saved again at idx 0 and 1: a and b stay
    ("t2", [(ERROR, "first error")]),
    ("t2", [(ERROR, "second error")]),  # special channels only: replaces
    ("t0", [("z", "zero")]),
]


async def _pending(saver: Any, thread: str, calls: list[tuple[str, list[tuple[str, Any]]]]) -> list[Any]:
    config: Any = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    saved = await saver.aput(config, empty_checkpoint(), {"source": "input", "step": -1}, {})
    for task, writes in calls:
        await saver.aput_writes(saved, writes, task)
    found = await saver.aget_tuple(saved)
    assert found is not None
    return list(found.pending_writes)


async def test_the_writes_that_count_are_langgraphs(pg_store: PostgresEventStore) -> None:
    got = await _pending(EventStoreCheckpointer(pg_store), "t-pending", CALLS)
    want = await _pending(InMemorySaver(), "t-pending", CALLS)

    assert sorted(got, key=repr) == sorted(want, key=repr)
    # In LangGraph's order: task path (none here), task id, idx.
    assert got == [("t0", "z", "zero"), ("t1", "a", 1), ("t1", "b", 2), ("t2", ERROR, "second error")]

    async with pg_store.pool.connection() as conn:
        await conn.execute("SELECT duragraph.rebuild_projections()")
    reader = EventStoreCheckpointer(pg_store)
    config: Any = {"configurable": {"thread_id": "t-pending", "checkpoint_ns": ""}}
    found = await reader.aget_tuple(config)
    assert found is not None and list(found.pending_writes) == got


async def test_a_call_mixing_special_and_ordinary_channels_keeps_what_was_there(
    pg_store: PostgresEventStore,
) -> None:
    """As PostgresSaver: such a call is no upsert, its special write does not replace."""
    calls: list[tuple[str, list[tuple[str, Any]]]] = [
        ("t1", [(INTERRUPT, "asked once")]),  # special only: an upsert
        ("t1", [("x", 1), (INTERRUPT, "asked in a mixed call")]),  # no upsert: the interrupt stays
        ("t1", [(INTERRUPT, "asked again")]),  # an upsert again: replaces
        ("t1", [("x", 2)]),  # no upsert: x stays 1
    ]
    got = await _pending(EventStoreCheckpointer(pg_store), "t-mixed", calls)
    assert sorted(got, key=repr) == sorted([("t1", INTERRUPT, "asked again"), ("t1", "x", 1)], key=repr)
