"""Run snapshots on real runs: the state at every event read through snapshots equals the fold of
the whole log, for runs with Send fan-out, subgraphs, interrupts and resumes, state edits,
continuations and forks; snapshots are ignorable and disposable. And the API's checkpoints,
which read the state through them, are those the whole log gives."""

from __future__ import annotations

import dataclasses
import operator
import sys
from collections.abc import AsyncIterator
from typing import Annotated, Any, TypedDict

import psycopg
import pytest
from nats.aio.client import Client as NATS

from duragraph_lab.bus import OutboxRelay, Subjects
from duragraph_lab.bus.control_plane import BusLink
from duragraph_lab.control.checkpoints import Checkpoints, Point, is_checkpoint
from duragraph_lab.control.plane import ControlPlane
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import NewEvent
from duragraph_lab.domain.errors import NotFound
from duragraph_lab.domain.run import RunStatus, fold
from duragraph_lab.graph.compiled import CompiledGraph
from duragraph_lab.graph.context import interrupt
from duragraph_lab.graph.state_graph import StateGraph
from duragraph_lab.graph.types import END, START, Send
from duragraph_lab.runtime.control_plane import control_plane
from duragraph_lab.store import PostgresEventStore
from duragraph_lab.store.snapshots import RunSnapshots
from duragraph_lab.worker.worker import Worker


class Work(TypedDict, total=False):
    items: list[int]
    squares: Annotated[list[int], operator.add]
    log: Annotated[list[str], operator.add]
    answer: str
    total: int


def _graph() -> CompiledGraph:
    inner = StateGraph(Work)
    inner.add_node("i1", lambda s: {"log": ["i1"]})
    inner.add_node("i2", lambda s: {"log": ["i2"]})
    inner.add_edge(START, "i1")
    inner.add_edge("i1", "i2")
    inner.add_edge("i2", END)

    def ask(s: Work) -> Work:
        return {"answer": str(interrupt({"total so far": sum(s.get("squares", []))}))}

    g = StateGraph(Work)
    g.add_node("plan", lambda s: {"log": ["plan"]})
    g.add_node("square", lambda arg: {"squares": [arg["x"] ** 2]})
    g.add_node("sub", inner.compile(name="inner"))
    g.add_node("ask", ask)
    g.add_node("reduce", lambda s: {"total": sum(s["squares"]), "log": ["reduce"]})
    g.add_edge(START, "plan")
    g.add_conditional_edges("plan", lambda s: [Send("square", {"x": x}) for x in s["items"]], ["square"])
    g.add_edge("square", "sub")
    g.add_edge("sub", "ask")
    g.add_edge("ask", "reduce")
    g.add_edge("reduce", END)
    return g.compile(name="snapshots")


@pytest.fixture
async def control(pool: Any, nc: NATS, subjects: Subjects) -> AsyncIterator[ControlPlane]:
    store = PostgresEventStore(pool)
    relay = OutboxRelay(pool, nc, subjects)
    store.add_after_commit(relay.wake)
    await relay.start()
    graph = _graph()
    worker = Worker([graph], store, nc=nc, subjects=subjects)
    await worker.start()
    # A snapshot every other event, whatever its size: every read goes through several.
    plane = control_plane(store, BusLink(subjects, nc), snapshot_every=2, snapshot_bytes_per_event=1 << 30)
    # This process has the graph's code, as an API server whose in-process worker serves it:
    # state edits are made here, on the edited run (not as edit requests).
    plane.edits.graph_code = lambda graph_id: graph.spec if graph_id == graph.name else None
    yield plane
    await worker.stop(drain=False)
    await relay.stop()


async def _count(pool: Any) -> int:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) FROM duragraph.run_snapshots")
        row = await cur.fetchone()
        return int(row[0])


async def _runs(control: ControlPlane) -> list[str]:
    """An interrupted run edited and resumed, its thread's next run, and a fork of the first run
    taken mid-way with a state edit."""
    first = await control.runs.create_run("snapshots", {"items": [1, 2, 3]})
    state = await control.runs.wait(first.run_id, 30)
    assert state.status is RunStatus.INTERRUPTED
    await control.edits.update_state(first.thread_id, {"log": ["edited while paused"]})
    await control.runs.resume(first.run_id, "yes")
    assert (await control.runs.wait(first.run_id, 30)).values["total"] == 14
    second = await control.runs.create_run("snapshots", {"items": [4]}, thread_id=first.thread_id)
    await control.runs.wait(second.run_id, 30)
    await control.runs.resume(second.run_id, "again")
    assert (await control.runs.wait(second.run_id, 30)).values["total"] == 30
    events = await control.history.run_events(first.run_id)
    mid = next(e for e in events if e.type == ev.NODE_COMPLETED and e.data["node"] == "square")
    fork = await control.forks.fork(first.run_id, mid.seq, update={"log": ["forked"]}, as_node="plan")
    await control.runs.wait(fork.run_id, 30)
    await control.runs.resume(fork.run_id, "forked answer")
    assert (await control.runs.wait(fork.run_id, 30)).status is RunStatus.SUCCESS
    return [first.run_id, second.run_id, fork.run_id]


async def test_the_state_at_every_event_through_snapshots_is_the_fold_of_the_log(
    control: ControlPlane, pool: Any
) -> None:
    runs = await _runs(control)
    plain = control_plane(control.store, snapshot_every=0)  # folds every run from its first event
    for run_id in runs:
        events = await control.history.run_events(run_id)
        assert any(e.data.get("ns") for e in events), "the subgraph's events are in the run's stream"
        for rounds in ("writing snapshots", "reading them"):
            for event in events:
                expected = await plain.history.state(run_id, at_seq=event.seq)
                assert await control.history.state(run_id, at_seq=event.seq) == expected, (rounds, event)
            assert await control.history.state(run_id) == await plain.history.state(run_id)
    lengths = [len(await control.history.run_events(r)) for r in runs]
    assert await _count(pool) == sum(n // 2 for n in lengths), "one snapshot every other event"

    # Disposable: without them, the same states (and they come back).
    async with pool.connection() as conn:
        await conn.execute("DELETE FROM duragraph.run_snapshots")
    run_id = runs[-1]
    last = (await control.history.run_events(run_id))[-1]
    assert await control.history.state(run_id, at_seq=last.seq) == await plain.history.state(
        run_id, at_seq=last.seq
    )
    assert await _count(pool) > 0


async def test_snapshots_of_another_fold_or_of_another_state_shape_are_ignored(
    control: ControlPlane, pool: Any
) -> None:
    ref = await control.runs.create_run("snapshots", {"items": [2]})
    await control.runs.wait(ref.run_id, 30)
    events = await control.history.run_events(ref.run_id)
    last = events[-1]
    expected = await control.history.state(ref.run_id, at_seq=last.seq)
    snapshot, after = await RunSnapshots(control.store).read(ref.run_id, last.seq)
    assert snapshot is not None and after == events[snapshot.version :]
    assert await RunSnapshots(control.store, fold_code="another-fold").read(ref.run_id) == (
        None,
        events,
    )
    async with pool.connection() as conn:
        # A state of another shape: as if written by another version of RunState.
        await conn.execute("UPDATE duragraph.run_snapshots SET state = '{\"step\": 99}'")
    assert await RunSnapshots(control.store).read(ref.run_id, last.seq) == (None, events)
    assert await control.history.state(ref.run_id, at_seq=last.seq) == expected


async def test_a_missing_snapshot_table_only_costs_speed(control: ControlPlane, pool: Any) -> None:
    ref = await control.runs.create_run("snapshots", {"items": [3]})
    await control.runs.wait(ref.run_id, 30)
    expected = await control.history.state(ref.run_id)
    async with pool.connection() as conn:
        await conn.execute("DROP TABLE duragraph.run_snapshots")
    assert await control.history.state(ref.run_id) == expected
    assert await RunSnapshots(control.store).read(ref.run_id) == (
        None,
        await control.history.run_events(ref.run_id),
    )


@dataclasses.dataclass
class Coordinate:
    x: int


async def test_no_snapshot_is_stored_from_values_decoded_without_their_class(
    pg_store: PostgresEventStore, pool: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    control = control_plane(pg_store, snapshot_every=1, snapshot_bytes_per_event=1 << 30)
    run_id = "0195f0a4-0000-7000-8000-0000000000f1"
    created = {
        "run_id": run_id,
        "thread_id": "0195f0a4-0000-7000-8000-0000000000f2",
        "graph_id": "g",
        "channels": {"p": "replace"},
        "input": {"p": Coordinate(1)},
    }
    await pg_store.append(f"run:{run_id}", 0, [NewEvent(ev.RUN_CREATED, created)])
    # This process "lacks" the class: the value decodes as its fields, and is not stored so.
    monkeypatch.delitem(sys.modules, __name__)
    assert (await control.history.state(run_id)).values == {"p": {"x": 1}}
    assert await _count(pool) == 0
    monkeypatch.undo()
    assert (await control.history.state(run_id)).values == {"p": Coordinate(1)}
    assert await _count(pool) == 1
    assert (await control.history.state(run_id)).values == {"p": Coordinate(1)}, "read back from the snapshot"


async def test_snapshot_rows_hold_the_state_after_their_event(
    control: ControlPlane, database_url: str
) -> None:
    ref = await control.runs.create_run("snapshots", {"items": [1]})
    await control.runs.wait(ref.run_id, 30)
    await control.history.state(ref.run_id)
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT s.version, s.seq, e.seq FROM duragraph.run_snapshots s JOIN duragraph.events e "
            "ON e.stream_id = 'run:' || s.run_id AND e.version = s.version WHERE s.run_id = %s",
            (ref.run_id,),
        ).fetchall()
    assert rows and all(version % 2 == 0 and seq == event_seq for version, seq, event_seq in rows)


async def _reference_point(checkpoints: Checkpoints, run_id: str, seq: int | None) -> Point:
    """What a checkpoint was before it read only what it needs: the whole run, folded."""
    events = await checkpoints._events(run_id)
    base = await checkpoints._base(events)
    marks = [e for e in events if is_checkpoint(e)]
    if seq is None:
        anchor, upto = (marks[-1] if marks else events[0]), events[-1].seq
    else:
        anchor = next(e for e in events if e.seq == seq)
        later = [c.seq for c in marks if c.seq > seq]
        upto = seq if not is_checkpoint(anchor) else later[0] - 1 if later else events[-1].seq
    state = fold([e for e in events if e.seq <= upto], base)
    earlier = [c for c in marks if c.seq < anchor.seq]
    parent = earlier[-1] if earlier else await checkpoints._parent_of_run(events)
    return Point(run_id, anchor, state, parent)


async def test_a_checkpoint_of_any_event_is_the_one_the_whole_log_gives(control: ControlPlane) -> None:
    runs = await _runs(control)
    checkpoints = control.checkpoints
    thread_id = (await control.history.state(runs[0])).thread_id
    assert thread_id is not None
    for run_id in runs:
        events = await control.history.run_events(run_id)
        for event in events:
            point = await checkpoints.at(thread_id, str(event.event_id))
            assert point == await _reference_point(checkpoints, run_id, event.seq), event
        assert await checkpoints._point(run_id, None) == await _reference_point(checkpoints, run_id, None)
    with pytest.raises(NotFound, match="has no event with seq"):
        await checkpoints._point(runs[0], (await control.history.run_events(runs[1]))[0].seq)


async def _reference_history(
    checkpoints: Checkpoints, thread_id: str, limit: int, before: tuple[str, int] | None
) -> list[Point]:
    """The thread's history as it was before it read only what the page needs: every visited
    run read and folded whole."""
    out: list[Point] = []
    for run_id in reversed(await checkpoints.thread_runs(thread_id)):
        events = await checkpoints._events(run_id)
        marks = [e for e in events if is_checkpoint(e) and (before is None or e.seq < before[1])]
        if not marks:
            continue
        base = await checkpoints._base(events)
        run_parent = await checkpoints._parent_of_run(events)
        out += reversed(checkpoints._fold_points(run_id, events, marks, base, run_parent))
        if len(out) >= limit:
            break
    out.sort(key=lambda p: p.event.seq, reverse=True)
    return out[:limit]


async def test_a_history_page_is_the_one_the_whole_log_gives(control: ControlPlane) -> None:
    runs = await _runs(control)
    checkpoints = control.checkpoints
    thread_id = (await control.history.state(runs[0])).thread_id
    assert thread_id is not None
    befores: list[tuple[str, int] | None] = [None]
    for run_id in runs:
        befores += [(run_id, e.seq) for e in await control.history.run_events(run_id)]
    for limit in (1, 3, 10, 1000):
        for before in befores:
            got = await checkpoints.history(thread_id, limit=limit, before=before)
            assert got == await _reference_history(checkpoints, thread_id, limit, before), (limit, before)
    everything = await checkpoints.history(thread_id, limit=1000)
    assert len(everything) > 10 and len({p.event.seq for p in everything}) == len(everything)


async def test_a_fork_of_a_long_run_starts_from_the_sources_snapshot(
    control: ControlPlane, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = await _runs(control)
    fork, source = runs[2], runs[0]
    expected = await control_plane(control.store, snapshot_every=0).history.state(fork)
    await control.history.state(source)  # the source's snapshots, as its readers leave them
    async with control.store.pool.connection() as conn:  # the fork's own: its first read
        await conn.execute("DELETE FROM duragraph.run_snapshots WHERE run_id = %s", (fork,))
    read: list[str] = []
    real = control.store.read_stream

    async def spy(stream_id: str, **kwargs: Any) -> Any:
        read.append(stream_id)
        return await real(stream_id, **kwargs)

    monkeypatch.setattr(control.store, "read_stream", spy)
    cold = control_plane(control.store, snapshot_every=2, snapshot_bytes_per_event=1 << 30)
    assert await cold.history.state(fork) == expected
    assert f"run:{source}" not in read, "the source run is not read whole"


@pytest.mark.timeout(120)  # resolving every link through state() again wedged the reader
async def test_a_thread_of_many_runs_resolves_its_chain(pg_store: PostgresEventStore) -> None:
    thread_id, previous = "0195f0a4-0000-7000-8000-0000000000e0", None
    for i in range(400):
        run_id = f"0195f0a4-0000-7000-8000-{i:012d}"
        created = {
            "run_id": run_id,
            "thread_id": thread_id,
            "graph_id": "g",
            "channels": {"log": "add"},
            "input": {"log": [i]},
            "base": None
            if previous is None
            else {"run_id": previous[0], "seq": previous[1], "mode": "continue"},
        }
        recorded = await pg_store.append(
            f"run:{run_id}",
            0,
            [NewEvent(ev.RUN_CREATED, created), NewEvent(ev.RUN_STARTED, {}), NewEvent(ev.RUN_COMPLETED, {})],
        )
        previous = (run_id, recorded[-1].seq)
    assert previous is not None
    state = await control_plane(pg_store).history.state(previous[0])  # a cold cache: the whole chain
    assert state.values["log"] == list(range(400))
