"""Channel versions stored as deltas (``langgraph/checkpointer.py``): a run's checkpointer stores
a checkpoint whose parent is the checkpoint it stored just before (same thread and namespace) as
the entries of ``channel_versions`` and ``versions_seen`` that changed since that parent, marked
``versions_delta`` in the record; now and then (at most 32 links) it stores them whole again.
Every checkpoint must still read back exactly as LangGraph wrote it: each one LangGraph passed to
``aput`` is recorded and compared with what a reader that wrote nothing gets back, after a
rebuild of the read models and after a prune (values also against LangGraph's ``InMemorySaver``).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import operator
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver, ChannelVersions, Checkpoint, CheckpointMetadata
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph

from duragraph_lab.langgraph.checkpointer import EventStoreCheckpointer
from duragraph_lab.store.postgres import PostgresEventStore
from tests.conformance.run_logs import DirectRunLog

#: Nodes of the linear graph: each of its checkpoints names one more channel and one more node
#: than its parent, so whole versions grow with the run and deltas do not.
_NODES = 40
#: The longest chain of parents a reader may have to follow to versions stored whole.
_MAX_LINKS = 32
# `tag` is written by the input only: a value whose version a delta does not name, found by the
# version its parent had (and `log` is left out, so that step 0 changes 4 versions too).
_FIRST_INPUT: dict[str, Any] = {"n": 0, "tag": "first"}
_SECOND_INPUT: dict[str, Any] = {"n": 100, "tag": "second"}


class Counter(TypedDict, total=False):
    n: int
    log: Annotated[list[int], operator.add]
    tag: str


@dataclasses.dataclass(frozen=True)
class _Step:
    """Node ``s<i>``: one more to ``n``, ``i`` appended to ``log``."""

    i: int

    async def __call__(self, state: Counter) -> dict[str, Any]:
        return {"n": state["n"] + 1, "log": [self.i]}


def _graph() -> StateGraph[Any]:
    g: StateGraph[Any] = StateGraph(Counter)
    for i in range(_NODES):
        g.add_node(f"s{i}", _Step(i))
    g.add_edge(START, "s0")
    for i in range(1, _NODES):
        g.add_edge(f"s{i - 1}", f"s{i}")
    g.add_edge(f"s{_NODES - 1}", END)
    return g


@dataclasses.dataclass(frozen=True)
class _Put:
    """A checkpoint as LangGraph passed it to ``aput`` (copied: LangGraph goes on changing its own)."""

    parent_id: str | None
    checkpoint: dict[str, Any]
    checkpoint_id: str


def _recording(saver: EventStoreCheckpointer, puts: list[_Put]) -> EventStoreCheckpointer:
    """``saver``, recording every checkpoint it is given. Its ``aput`` is replaced on the
    instance, not in a subclass: ``for_run`` builds a plain EventStoreCheckpointer, and the
    checkpointer under test must be exactly the one a run gets."""
    put = saver.aput

    async def aput(
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        parent_id = config["configurable"].get("checkpoint_id")
        given = copy.deepcopy(dict(checkpoint))  # before the saver could touch it
        returned = await put(config, checkpoint, metadata, new_versions)
        puts.append(_Put(parent_id, given, str(returned["configurable"]["checkpoint_id"])))
        return returned

    saver.aput = aput  # type: ignore[method-assign]
    return saver


def _config(thread: str, checkpoint_id: str | None = None) -> Any:
    configurable = {"thread_id": thread, "checkpoint_ns": ""}
    if checkpoint_id is not None:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable, "recursion_limit": 2 * _NODES + 10}


async def _run(saver: BaseCheckpointSaver[Any], thread: str, value: dict[str, Any]) -> None:
    await _graph().compile(checkpointer=saver).ainvoke(value, _config(thread), durability="sync")


async def _run_recorded(store: PostgresEventStore, thread: str) -> list[_Put]:
    """The graph run once on ``thread`` by a run's checkpointer; what LangGraph put, in order."""
    puts: list[_Put] = []
    await _run(
        _recording(EventStoreCheckpointer(store).for_run(DirectRunLog(store, thread)), puts),
        thread,
        _FIRST_INPUT,
    )
    return puts


async def _memory_history(thread: str, inputs: Sequence[dict[str, Any]]) -> list[Any]:
    """The same graph on LangGraph's own saver: its checkpoints' values and pending writes,
    newest first (its ids and versions differ from ours: compared by position)."""
    memory = InMemorySaver()
    for value in inputs:
        await _run(memory, thread, value)
    return _values([t async for t in memory.alist(_config(thread))])


def _values(history: Sequence[Any]) -> list[Any]:
    return [(t.checkpoint["channel_values"], [(c, v) for _, c, v in t.pending_writes]) for t in history]


def _without_values(checkpoint: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in checkpoint.items() if k != "channel_values"}


def _differences(got: Mapping[str, Any], want: Mapping[str, Any]) -> dict[str, Any]:
    """What differs, narrowed to the differing entries of the version maps (a 40-entry map in a
    failure message hides the one entry that is wrong)."""
    out: dict[str, Any] = {}
    for key in sorted(set(got) | set(want)):
        g, w = got.get(key, "<absent>"), want.get(key, "<absent>")
        if g == w:
            continue
        if isinstance(g, dict) and isinstance(w, dict):
            out[key] = {
                k: (g.get(k, "<absent>"), w.get(k, "<absent>"))
                for k in sorted(set(g) | set(w))
                if g.get(k, "<absent>") != w.get(k, "<absent>")
            }
        else:
            out[key] = (g, w)
    return out


def _changed(versions: Mapping[str, Any], parent: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``versions`` that differ from ``parent``'s (for versions_seen: a node's
    whole map; every node here has seen one channel, so per channel would be the same)."""
    return {k: v for k, v in versions.items() if parent.get(k) != v}


async def _assert_reads_back(
    reader: EventStoreCheckpointer, thread: str, puts: Sequence[_Put], expected_values: list[Any]
) -> None:
    """Every recorded checkpoint, by id and listed, is what LangGraph put: the whole checkpoint
    (versions, id, ts, v, updated_channels) and its values; the values and pending writes as
    ``InMemorySaver`` has them."""
    for i, put in enumerate(puts):
        got = await reader.aget_tuple(_config(thread, put.checkpoint_id))
        assert got is not None, f"checkpoint {i} ({put.checkpoint_id}) not found"
        diff = _differences(_without_values(got.checkpoint), _without_values(put.checkpoint))
        assert not diff, f"checkpoint {i} ({put.checkpoint_id}) read back differs (got, put): {diff}"
        assert got.checkpoint["channel_values"] == put.checkpoint["channel_values"], f"checkpoint {i}"
        parent = got.parent_config["configurable"]["checkpoint_id"] if got.parent_config else None
        assert parent == put.parent_id, f"checkpoint {i}"

    listed = [t async for t in reader.alist(_config(thread))]
    newest_first = list(reversed(puts))
    assert [t.config["configurable"]["checkpoint_id"] for t in listed] == [
        p.checkpoint_id for p in newest_first
    ]
    for i, (got_tuple, put) in enumerate(zip(listed, newest_first, strict=True)):
        diff = _differences(_without_values(got_tuple.checkpoint), _without_values(put.checkpoint))
        assert not diff, f"listed checkpoint {i} ({put.checkpoint_id}) differs (got, put): {diff}"
        assert got_tuple.checkpoint["channel_values"] == put.checkpoint["channel_values"]
    assert _values(listed) == expected_values


async def _rebuild(store: PostgresEventStore) -> None:
    async with store.pool.connection() as conn:
        await conn.execute("SELECT duragraph.rebuild_projections()")


async def test_every_checkpoint_reads_back_as_langgraph_put_it(pg_store: PostgresEventStore) -> None:
    thread = "t-deltas"
    puts = await _run_recorded(pg_store, thread)
    assert len(puts) == _NODES + 2  # the input, then one a step (the first applies the input)
    # One chain: each checkpoint's parent is the one put before it.
    assert [p.parent_id for p in puts] == [None, *(p.checkpoint_id for p in puts[:-1])]

    expected = await _memory_history(thread, [_FIRST_INPUT])
    reader = EventStoreCheckpointer(pg_store)  # a reader that wrote nothing (another process)
    await _assert_reads_back(reader, thread, puts, expected)

    await _rebuild(pg_store)
    await _assert_reads_back(reader, thread, puts, expected)

    # The latest's parent is pruned: its versions must be whole, whatever chain it was stored in.
    await reader.aprune([thread], strategy="keep_latest")
    latest = [t async for t in reader.alist(_config(thread))]
    assert [t.config["configurable"]["checkpoint_id"] for t in latest] == [puts[-1].checkpoint_id]
    got = await reader.aget_tuple(_config(thread))
    assert got is not None
    assert _without_values(got.checkpoint) == _without_values(puts[-1].checkpoint)
    assert got.checkpoint["channel_values"] == puts[-1].checkpoint["channel_values"]
    assert _values(latest) == expected[:1]


async def test_a_runs_checkpoints_store_the_versions_that_changed(pg_store: PostgresEventStore) -> None:
    """The stored form: mostly deltas of the checkpoint stored just before, whole again now and
    then, no chain longer than 32 links, and far fewer bytes than whole versions."""
    thread = "t-delta-form"
    puts = await _run_recorded(pg_store, thread)
    put_by_id = {p.checkpoint_id: p.checkpoint for p in puts}

    events = await pg_store.read_all(types=["lg_checkpoint"])
    assert [e.data["checkpoint_id"] for e in events] == [p.checkpoint_id for p in puts]
    links: dict[str, int] = {}  # checkpoint id -> links to one stored whole
    delta_sizes: list[int] = []
    stored_bytes = whole_bytes = 0
    for i, event in enumerate(events):
        data, checkpoint_id = event.data, event.data["checkpoint_id"]
        stored = data["checkpoint"]
        # Our versions are strings: the checkpoint is stored as plain JSON (see _json_exact).
        assert isinstance(stored, dict), f"checkpoint {i} stored serialized"
        put = put_by_id[checkpoint_id]
        base = data["parent_checkpoint_id"] if data.get("versions_delta") else None
        if base is None:
            links[checkpoint_id] = 0
            want_versions, want_seen = put["channel_versions"], put["versions_seen"]
        else:
            # A delta of the checkpoint stored just before, which is this one's parent.
            assert i > 0 and base == events[i - 1].data["checkpoint_id"], f"checkpoint {i}: {base}"
            assert data["versions_delta"] is True, f"checkpoint {i}"
            links[checkpoint_id] = links[base] + 1
            parent = put_by_id[base]
            want_versions = _changed(put["channel_versions"], parent["channel_versions"])
            want_seen = _changed(put["versions_seen"], parent["versions_seen"])
            delta_sizes.append(len(stored["channel_versions"]))
        kind = "whole" if base is None else f"delta of {base}"
        assert stored["channel_versions"] == want_versions, f"checkpoint {i} ({kind}): channel_versions"
        assert stored["versions_seen"] == want_seen, f"checkpoint {i} ({kind}): versions_seen"
        stored_bytes += len(json.dumps(_without_values(stored)))
        stored_bytes += len(json.dumps({"versions_delta": True})) if base is not None else 0
        whole_bytes += len(json.dumps(_without_values(put)))

    assert links[events[0].data["checkpoint_id"]] == 0, "the first checkpoint has no parent: stored whole"
    n = len(events)
    assert len(delta_sizes) > n // 2, (
        f"only {len(delta_sizes)} of {n} checkpoints stored as version deltas (versions_delta): "
        "a run's checkpoint whose parent it stored just before should mostly be a delta"
    )
    # A step changes 4 channel versions: n, log (step 0: tag), the trigger it consumed and the
    # next node's (and one node's versions_seen).
    assert max(delta_sizes) <= 4
    assert max(links.values()) <= _MAX_LINKS, f"a chain of {max(links.values())} links"
    wholes_after_first = [i for i, e in enumerate(events) if i > 0 and links[e.data["checkpoint_id"]] == 0]
    assert wholes_after_first, "stored whole again now and then (not only the first)"
    assert stored_bytes < 0.4 * whole_bytes, (
        f"stored checkpoints take {stored_bytes} bytes of JSON, whole versions {whole_bytes} "
        f"({stored_bytes / whole_bytes:.0%}, expected under 40%)"
    )


async def test_a_second_run_goes_on_from_the_checkpoint_it_read(pg_store: PostgresEventStore) -> None:
    """A new run on the thread (a new run's checkpointer: it stored nothing yet) continues the
    chain from the latest checkpoint; its first checkpoint may be whole or a delta of the one it
    read, and every checkpoint of both runs reads back as LangGraph put it."""
    thread = "t-delta-runs"
    puts: list[_Put] = []
    for value in (_FIRST_INPUT, _SECOND_INPUT):
        saver = _recording(EventStoreCheckpointer(pg_store).for_run(DirectRunLog(pg_store, thread)), puts)
        await _run(saver, thread, value)
    assert len(puts) == 2 * (_NODES + 2)
    # The second run's input checkpoint is a child of the first run's last one: one chain.
    assert [p.parent_id for p in puts] == [None, *(p.checkpoint_id for p in puts[:-1])]

    expected = await _memory_history(thread, [_FIRST_INPUT, _SECOND_INPUT])
    reader = EventStoreCheckpointer(pg_store)
    await _assert_reads_back(reader, thread, puts, expected)
    await _rebuild(pg_store)
    await _assert_reads_back(reader, thread, puts, expected)


async def test_a_checkpointer_bound_to_no_run_stores_whole_versions(pg_store: PostgresEventStore) -> None:
    """Without a run it may not be the thread's only writer: no delta of what it stored before."""
    thread = "t-no-run"
    puts: list[_Put] = []
    await _run(_recording(EventStoreCheckpointer(pg_store), puts), thread, _FIRST_INPUT)

    events = await pg_store.read_all(types=["lg_checkpoint"])
    assert [e.data["checkpoint_id"] for e in events] == [p.checkpoint_id for p in puts]
    assert [e.data.get("versions_delta") for e in events] == [None] * len(events)
    for event, put in zip(events, puts, strict=True):
        stored = event.data["checkpoint"]
        assert isinstance(stored, dict)
        assert stored["channel_versions"] == put.checkpoint["channel_versions"]
        assert stored["versions_seen"] == put.checkpoint["versions_seen"]
    reader = EventStoreCheckpointer(pg_store)
    await _assert_reads_back(reader, thread, puts, await _memory_history(thread, [_FIRST_INPUT]))


async def test_a_checkpoint_that_json_cannot_hold_breaks_the_chain(pg_store: PostgresEventStore) -> None:
    """Only the changes are checked for JSON exactness (the rest was, when stored): a checkpoint
    whose changed versions JSON cannot hold (an infinite float) is serialized whole, and the next
    one starts a new chain, stored whole: every checkpoint still reads back as put."""
    thread = "t-delta-serialized"
    saver = EventStoreCheckpointer(pg_store).for_run(DirectRunLog(pg_store, thread))
    puts: list[_Put] = []
    parent: str | None = None
    versions: dict[str, Any] = {f"c{i}": f"{1:032}.0" for i in range(10)}
    seen: dict[str, Any] = {f"node{i}": {f"c{i}": f"{1:032}.0"} for i in range(10)}
    for step in range(6):
        versions = {**versions, "c0": f"{step + 2:032}.0"}
        seen = {**seen, "node0": {"c0": versions["c0"]}}
        if step == 2:
            versions["c1"] = float("inf")  # LangGraph's versions may be floats; JSON has no inf
        elif step == 3:
            versions["c1"] = f"{step:032}.0"
        checkpoint: dict[str, Any] = {
            "v": 4, "id": f"1f0{step:05d}-0000-6000-8000-000000000000", "ts": f"2026-12-05T00:00:0{step}+00:00",
            "channel_values": {"c0": step}, "channel_versions": dict(versions),
            "versions_seen": copy.deepcopy(seen), "updated_channels": ["c0"],
        }  # fmt: skip
        config = _config(thread, parent)
        given = copy.deepcopy(checkpoint)
        made = await saver.aput(config, checkpoint, {"source": "loop", "step": step}, {"c0": versions["c0"]})  # type: ignore[arg-type]
        parent = str(made["configurable"]["checkpoint_id"])
        puts.append(_Put(config["configurable"].get("checkpoint_id"), given, parent))
    await saver.run.flush()  # type: ignore[union-attr]

    events = await pg_store.read_all(types=["lg_checkpoint"])
    forms = [
        "serialized" if not isinstance(e.data["checkpoint"], dict) else
        "delta" if e.data.get("versions_delta") else "whole"
        for e in events
    ]  # fmt: skip
    assert forms == ["whole", "delta", "serialized", "whole", "delta", "delta"]
    reader = EventStoreCheckpointer(pg_store)
    for i, put in enumerate(puts):
        got = await reader.aget_tuple(_config(thread, put.checkpoint_id))
        assert got is not None, f"checkpoint {i}"
        diff = _differences(_without_values(got.checkpoint), _without_values(put.checkpoint))
        assert not diff, f"checkpoint {i} ({forms[i]}) read back differs (got, put): {diff}"
