"""List channels stored as appends (``langgraph/list_values.py``): a run's checkpointer stores a
list that extends the version it stored before as "that version + the new items". Every
checkpoint must still read back exactly as LangGraph wrote it: compared with the same graph on
LangGraph's ``InMemorySaver``, after a rebuild of the read models and after a prune."""

from __future__ import annotations

import operator
from typing import Annotated, Any

import psycopg
import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph

from duragraph_lab.domain import events as ev
from duragraph_lab.langgraph.checkpointer import EventStoreCheckpointer
from duragraph_lab.langgraph.list_values import ListValues
from duragraph_lab.store.postgres import PostgresEventStore
from tests.conformance.run_logs import DirectRunLog


class Chat(MessagesState, total=False):
    log: Annotated[list[int], operator.add]
    limit: int


async def _say(state: Chat) -> dict[str, Any]:
    i = len(state["messages"])
    # A message changed in place now and then: that version is no append of the one before.
    edit = [{"role": "ai", "content": "edited", "id": "m0"}] if i % 7 == 6 else []
    return {
        "messages": [*edit, {"role": "user" if i % 2 else "ai", "content": f"m {i}", "id": f"m{i}"}],
        "log": [i],
    }


def _graph() -> StateGraph[Any]:
    g: StateGraph[Any] = StateGraph(Chat)
    g.add_node("say", _say)
    g.add_edge(START, "say")
    g.add_conditional_edges("say", lambda s: "say" if len(s["messages"]) < s["limit"] else END, ["say", END])
    return g


def _values(history: list[Any]) -> list[tuple[dict[str, Any], list[Any]]]:
    return [(t.checkpoint["channel_values"], [(c, v) for _, c, v in t.pending_writes]) for t in history]


async def test_every_checkpoint_reads_back_as_langgraph_wrote_it(pg_store: PostgresEventStore) -> None:
    thread = "t-appends"
    saver = EventStoreCheckpointer(pg_store).for_run(DirectRunLog(pg_store, thread))
    saver.lists = ListValues(saver.serde, min_appends=4)
    config: Any = {"configurable": {"thread_id": thread}, "recursion_limit": 100}
    await (
        _graph().compile(checkpointer=saver).ainvoke({"messages": [], "limit": 30}, config, durability="sync")
    )
    memory = InMemorySaver()
    await (
        _graph()
        .compile(checkpointer=memory)
        .ainvoke({"messages": [], "limit": 30}, config, durability="sync")
    )

    expected = _values([t async for t in memory.alist(config)])
    reader = EventStoreCheckpointer(pg_store)  # a reader that wrote nothing (another process)
    assert _values([t async for t in reader.alist(config)]) == expected
    # Both forms were stored: appends, and whole values (the first, every 4th, after an edit).
    blobs = [b for e in await pg_store.read_all(types=["lg_checkpoint"]) for b in e.data["blobs"].values()]
    appends = [b for b in blobs if isinstance(b, dict)]
    assert len(appends) > 20 and len(blobs) - len(appends) > 20
    assert {len(b["append"]) for b in appends} == {1}  # one message, one log item a step
    # The whole value again once the appends since the last one hold as many items as it did
    # (at least 4 here): `log` (never edited) is stored whole at 1, 5, 10 and 20 items.
    logs = [
        e.data["blobs"]["log"]
        for e in await pg_store.read_all(types=["lg_checkpoint"])
        if "log" in e.data["blobs"]
    ]
    assert [i + 1 for i, b in enumerate(logs) if not isinstance(b, dict)] == [1, 5, 10, 20]

    async with pg_store.pool.connection() as conn:
        await conn.execute("SELECT duragraph.rebuild_projections()")
    assert _values([t async for t in reader.alist(config)]) == expected

    await reader.aprune([thread], strategy="keep_latest")
    latest = [t async for t in reader.alist(config)]
    assert _values(latest) == expected[:1]


async def test_each_run_goes_on_with_appends_from_the_checkpoint_it_read(
    pg_store: PostgresEventStore,
) -> None:
    """A conversation run a few messages at a time, each turn a new run: the list is stored as
    one run would store it (appends from turn to turn, whole again geometrically), and every
    checkpoint reads back as LangGraph's ``InMemorySaver`` has it."""
    thread = "t-turns"
    config: Any = {"configurable": {"thread_id": thread}, "recursion_limit": 100}
    memory = InMemorySaver()
    for turn in range(1, 7):
        saver = EventStoreCheckpointer(pg_store).for_run(DirectRunLog(pg_store, thread))
        saver.lists = ListValues(saver.serde, min_appends=4)
        for checkpointer in (saver, memory):
            graph = _graph().compile(checkpointer=checkpointer)
            await graph.ainvoke({"limit": 5 * turn}, config, durability="sync")

    reader = EventStoreCheckpointer(pg_store)
    assert _values([t async for t in reader.alist(config)]) == _values(
        [t async for t in memory.alist(config)]
    )
    logs = [
        e.data["blobs"]["log"]
        for e in await pg_store.read_all(types=["lg_checkpoint"])
        if "log" in e.data["blobs"]
    ]
    assert len(logs) == 30
    assert [i + 1 for i, b in enumerate(logs) if not isinstance(b, dict)] == [1, 5, 10, 20]


async def test_an_append_to_a_version_not_stored_is_refused(pg_store: PostgresEventStore) -> None:
    """The projection refuses it: a checkpoint that could not be read back is never stored."""
    event = ev.lg_checkpoint(
        thread_id="t-missing",
        checkpoint_ns="",
        checkpoint_id="c1",
        parent_checkpoint_id=None,
        metadata={},
        checkpoint=("msgpack", b"\x80"),
        new_versions={"messages": "2"},
        channel_versions={"messages": "2"},
        blobs={"messages": ev.ListAppend("1", (("msgpack", b"\x01"),))},
    )
    with pytest.raises(psycopg.Error, match="not stored"):
        await pg_store.append(ev.checkpoint_stream("t-missing"), None, [event])


async def test_a_checkpoint_stored_in_the_earlier_form_reads_as_before(pg_store: PostgresEventStore) -> None:
    """An event written before these formats (the checkpoint serialized, its versions repeated,
    whole values only) reads back as it was written, and a run goes on from it with appends."""
    from langgraph.checkpoint.base import empty_checkpoint

    saver = EventStoreCheckpointer(pg_store)
    thread = "t-earlier"
    checkpoint = empty_checkpoint()
    old_version = f"{1:032}.{0.25:016}"
    checkpoint["channel_versions"] = {"log": old_version}
    values = {"log": [1, 2]}
    event = ev.lg_checkpoint(
        thread_id=thread,
        checkpoint_ns="",
        checkpoint_id=checkpoint["id"],
        parent_checkpoint_id=None,
        metadata={"source": "input", "step": -1},
        checkpoint=saver.serde.dumps_typed(checkpoint),
        new_versions={"log": old_version},
        channel_versions={"log": old_version},
        blobs={"log": saver.serde.dumps_typed(values["log"])},
    )
    assert isinstance(event.data["checkpoint"], list) and "new_versions" in event.data
    await pg_store.append(ev.checkpoint_stream(thread), None, [event])
    config: Any = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
    got = await saver.aget_tuple(config)
    assert got is not None and got.checkpoint["channel_values"] == values
    assert got.metadata == {"source": "input", "step": -1}

    # A run's checkpointer goes on: its versions keep the thread's width, and its values are
    # appends to what it read (the earlier form's whole value), then to what it stored.
    run = EventStoreCheckpointer(pg_store).for_run(DirectRunLog(pg_store, thread))
    for i in (3, 4):
        latest = await run.aget_tuple(config)
        assert latest is not None
        nxt = dict(latest.checkpoint)
        version = run.get_next_version(max(nxt["channel_versions"].values()), None)
        nxt["channel_versions"] = {"log": version}
        nxt["channel_values"] = {"log": [*latest.checkpoint["channel_values"]["log"], i]}
        nxt["id"] = empty_checkpoint()["id"]
        config = await run.aput(latest.config, nxt, {"source": "loop", "step": i}, {"log": version})  # type: ignore[arg-type]
        assert len(version.split(".")[0]) == 32
    assert (await saver.aget_tuple(config)).checkpoint["channel_values"] == {"log": [1, 2, 3, 4]}  # type: ignore[union-attr]
    blobs = [e.data["blobs"]["log"] for e in await pg_store.read_all(types=["lg_checkpoint"])]
    assert [isinstance(b, dict) for b in blobs[-3:]] == [False, True, True]


async def test_checking_an_append_reads_one_entry_however_long_the_thread(
    pg_store: PostgresEventStore,
) -> None:
    """The projection checks that an append's base is stored with one probe of ``lg_blobs``'
    primary key: it does not read the thread's other blobs (it did, through a generic plan
    matching by thread alone: a step's cost grew with the thread's history). Counted by
    PostgreSQL: the index entries read in the appends' transaction."""
    from duragraph_lab.store.postgres import PgUnitOfWork

    thread, stream = "t-long", ev.checkpoint_stream("t-long")
    whole = ("msgpack", b"\x01")

    def checkpoint(i: int) -> Any:
        # "messages" extends the version before (after the first); five other channels, whole
        # each time, fill the thread's blobs.
        version = f"{i + 1:08}"
        blobs: dict[str, Any] = {f"c{k}": whole for k in range(5)}
        blobs["messages"] = whole if i == 0 else ev.ListAppend(f"{i:08}", (whole,))
        return ev.lg_checkpoint(
            thread_id=thread, checkpoint_ns="", checkpoint_id=f"c{i:04}",
            parent_checkpoint_id=f"c{i - 1:04}" if i else None, metadata={},
            checkpoint=("msgpack", b"\x80"), new_versions={ch: version for ch in blobs},
            channel_versions={ch: version for ch in blobs}, blobs=blobs,
        )  # fmt: skip

    for i in range(60):  # 360 blobs of the thread
        await pg_store.append(stream, None, [checkpoint(i)])

    async def entries_read(conn: psycopg.AsyncConnection[Any]) -> int:
        cur = await conn.execute(
            "SELECT pg_stat_get_xact_tuples_returned('duragraph.lg_blobs_pkey'::regclass)"
        )
        row = await cur.fetchone()
        assert row is not None
        return int(row[0])

    async with pg_store.pool.connection() as conn:
        await conn.set_autocommit(False)
        try:
            before = await entries_read(conn)
            # Ten appends in one session: PL/pgSQL plans a statement for its values the first
            # five times, then may keep one generic plan.
            for i in range(60, 70):
                await PgUnitOfWork(conn).append(stream, None, [checkpoint(i)])
            read = await entries_read(conn) - before
        finally:
            await conn.rollback()
            await conn.set_autocommit(True)
    assert read <= 10, f"10 appends read {read} entries of lg_blobs' primary key (one probe each expected)"


async def test_a_runs_checkpointer_says_which_lists_extend_the_checkpoint_before(
    pg_store: PostgresEventStore,
) -> None:
    """What the run's event writer is told (list_values.RootPuts): for each root checkpoint whose
    ``messages`` LangGraph stored as the previous checkpoint's plus one message, that channel and
    how many it held before; nothing for a checkpoint it does not extend (an edit in place)."""
    thread = "t-root-puts"
    saver = EventStoreCheckpointer(pg_store).for_run(DirectRunLog(pg_store, thread))
    assert saver.root_puts is not None
    seen: list[tuple[str, dict[str, int], int]] = []
    put = saver.aput

    async def aput(config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
        before = config["configurable"].get("checkpoint_id")
        made = await put(config, checkpoint, metadata, new_versions)
        after = str(made["configurable"]["checkpoint_id"])
        if before is not None:
            assert saver.root_puts is not None
            messages = checkpoint["channel_values"].get("messages", [])
            seen.append((after, saver.root_puts.extended(str(before), after), len(messages)))
        return made

    saver.aput = aput  # type: ignore[method-assign]
    config: Any = {"configurable": {"thread_id": thread}, "recursion_limit": 100}
    await (
        _graph().compile(checkpointer=saver).ainvoke({"messages": [], "limit": 20}, config, durability="sync")
    )

    extended = [(found["messages"], n) for _, found, n in seen if "messages" in found]
    assert len(extended) >= 10, seen
    # Each says the list held all but the new message before.
    assert all(before == n - 1 for before, n in extended), extended
    # The step that first edits a message in place (the 7th, see _say) is no extension of the
    # one before (later edits write the same content again: extensions).
    assert [found for _, found, n in seen if n == 7] == [{"log": 6}], seen
    assert any("log" in found for _, found, _ in seen)  # the other list channel too


async def test_the_latest_checkpoints_id_is_read_without_the_checkpoint(pg_store: PostgresEventStore) -> None:
    """What a run asks before it starts (is the checkpoint it was created at still the latest?):
    the id aget_tuple's latest has, and None for a thread with no checkpoint."""
    thread = "t-latest"
    saver = EventStoreCheckpointer(pg_store).for_run(DirectRunLog(pg_store, thread))
    config: Any = {"configurable": {"thread_id": thread}, "recursion_limit": 100}
    assert await saver.latest_checkpoint_id(thread) is None
    for limit in (3, 6):
        await (
            _graph()
            .compile(checkpointer=saver)
            .ainvoke({"messages": [], "limit": limit}, config, durability="sync")
        )
        latest = await saver.aget_tuple(config)
        assert latest is not None
        assert (
            await EventStoreCheckpointer(pg_store).latest_checkpoint_id(thread)
            == latest.config["configurable"]["checkpoint_id"]
        )
