"""Workers, the run queue and the control plane on real PostgreSQL and NATS."""

from __future__ import annotations

import asyncio
import operator
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal, TypedDict

import psycopg
import pytest
from nats.aio.client import Client as NATS

from duragraph_lab.bus import OutboxRelay, Subjects
from duragraph_lab.bus.control_plane import BusLink
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.assistants import default_assistant_id
from duragraph_lab.domain.errors import Conflict, NotFound, ThreadBusy
from duragraph_lab.domain.run import InvalidTransition, RunStatus, fold
from duragraph_lab.graph.compiled import CompiledGraph
from duragraph_lab.graph.context import get_context, interrupt
from duragraph_lab.graph.state_graph import StateGraph
from duragraph_lab.graph.types import END, START
from duragraph_lab.runtime.control_plane import control_plane
from duragraph_lab.store import PostgresEventStore
from duragraph_lab.store.leases import PREFETCH_EVENTS, RunQueue
from duragraph_lab.worker.worker import Worker


class Steps(TypedDict, total=False):
    n: int
    log: Annotated[list[str], operator.add]
    answer: str


def chain(n: int, name: str = "chain", *, sleep: float = 0.0) -> CompiledGraph:
    g = StateGraph(Steps)
    prev = START
    for i in range(n):

        async def node(s: Steps, i: int = i) -> Steps:
            if sleep:
                await asyncio.sleep(sleep)
            return {"n": s.get("n", 0) + 1, "log": [f"n{i}"]}

        g.add_node(f"n{i}", node)
        g.add_edge(prev, f"n{i}")
        prev = f"n{i}"
    g.add_edge(prev, END)
    return g.compile(name=name)


def asking(name: str = "asking") -> CompiledGraph:
    def ask(s: Steps) -> Steps:
        return {"answer": str(interrupt("ok?"))}

    g = StateGraph(Steps)
    g.add_node("ask", ask)
    g.add_edge(START, "ask")
    g.add_edge("ask", END)
    return g.compile(name=name)


class Stack:
    def __init__(self, store: PostgresEventStore, nc: NATS, subjects: Subjects, database_url: str) -> None:
        self.store = store
        self.nc = nc
        self.subjects = subjects
        self.database_url = database_url
        self.control = control_plane(store, BusLink(subjects, nc))
        self.workers: list[Worker] = []

    async def worker(self, *graphs: CompiledGraph, **options: Any) -> Worker:
        w = Worker(list(graphs), self.store, nc=self.nc, subjects=self.subjects, **options)
        await w.start()
        self.workers.append(w)
        return w

    def sql(self, query: str, params: Any = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database_url) as conn:
            return conn.execute(query, params).fetchall()


@pytest.fixture
async def stack(pool: Any, nc: NATS, subjects: Subjects, database_url: str) -> AsyncIterator[Stack]:
    store = PostgresEventStore(pool)
    relay = OutboxRelay(pool, nc, subjects)
    store.add_after_commit(relay.wake)
    await relay.start()
    s = Stack(store, nc, subjects, database_url)
    yield s
    for w in s.workers:
        await w.stop(drain=False)
    await relay.stop()


async def test_a_worker_runs_queued_runs_and_projections_follow(stack: Stack) -> None:
    await stack.worker(chain(4))
    ref = await stack.control.runs.create_run("chain", {"n": 0})
    state = await stack.control.runs.wait(ref.run_id, timeout=20)
    assert state.status is RunStatus.SUCCESS
    assert state.values == {"n": 4, "log": ["n0", "n1", "n2", "n3"]}
    assert stack.sql("SELECT status, step, attempt FROM duragraph.runs WHERE run_id = %s", (ref.run_id,)) == [
        ("success", 3, 1)
    ]
    assert stack.sql(
        "SELECT status, count(*) FROM duragraph.spans WHERE run_id = %s GROUP BY 1", (ref.run_id,)
    ) == [("ok", 4)]
    assert stack.sql(
        "SELECT status, last_run_id::text FROM duragraph.threads WHERE thread_id = %s", (ref.thread_id,)
    ) == [("idle", ref.run_id)]
    assert stack.sql("SELECT state FROM duragraph.run_queue WHERE run_id = %s", (ref.run_id,)) == [("done",)]


async def test_registration_stores_topology_and_creates_the_default_assistant(stack: Stack) -> None:
    await stack.worker(chain(2))
    topology = stack.sql("SELECT topology FROM duragraph.graphs WHERE graph_id = 'chain'")[0][0]
    assert [n["id"] for n in topology["nodes"]] == ["__start__", "n0", "n1", "__end__"]
    assert topology["layout"]["nodes"]
    assistant = stack.sql("SELECT assistant_id::text, graph_id, name FROM duragraph.assistants")
    assert assistant == [(default_assistant_id("chain"), "chain", "chain")]
    registrations = stack.sql("SELECT count(*) FROM duragraph.events WHERE type = 'graph_registered'")
    await stack.worker(chain(2))  # the same graph again: nothing new
    assert stack.sql("SELECT count(*) FROM duragraph.events WHERE type = 'graph_registered'") == registrations
    await stack.worker(chain(3))  # a new version
    assert (
        stack.sql("SELECT count(*) FROM duragraph.events WHERE type = 'graph_registered'")[0][0]
        == registrations[0][0] + 1
    )
    assert (
        len(stack.sql("SELECT topology FROM duragraph.graphs WHERE graph_id = 'chain'")[0][0]["nodes"]) == 5
    )


async def test_runs_by_assistant_id_and_unknown_targets(stack: Stack) -> None:
    await stack.worker(chain(1))
    ref = await stack.control.runs.create_run(default_assistant_id("chain"), {"n": 1})
    assert (await stack.control.runs.wait(ref.run_id, 20)).values["n"] == 2
    with pytest.raises(NotFound, match="registered graphs: chain"):
        await stack.control.runs.create_run("nope", {})
    with pytest.raises(NotFound, match="does not exist"):
        await stack.control.history.state(str(uuid.uuid4()))
    with pytest.raises(NotFound, match="not a valid id"):
        await stack.control.history.state("not-a-uuid")


async def test_a_thread_continues_and_allows_one_active_run(stack: Stack) -> None:
    worker = await stack.worker(chain(2, sleep=0.3))
    first = await stack.control.runs.create_run("chain", {"n": 0})
    with pytest.raises(ThreadBusy, match="already has an active run"):
        await stack.control.runs.create_run("chain", {"n": 0}, thread_id=first.thread_id)
    await stack.control.runs.wait(first.run_id, 20)
    second = await stack.control.runs.create_run("chain", None, thread_id=first.thread_id)
    state = await stack.control.runs.wait(second.run_id, 20)
    assert state.values == {"n": 4, "log": ["n0", "n1", "n0", "n1"]}
    assert worker.completed == 2


async def test_concurrent_run_creation_on_one_thread_has_one_winner(stack: Stack) -> None:
    await stack.worker(chain(1, sleep=0.5))
    thread_id = await stack.control.threads.create_thread()
    results = await asyncio.gather(
        *(stack.control.runs.create_run("chain", {"n": i}, thread_id=thread_id) for i in range(5)),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(r, ThreadBusy) for r in results if isinstance(r, BaseException))


async def test_interrupt_resume_and_concurrent_resumes(stack: Stack) -> None:
    await stack.worker(asking())
    ref = await stack.control.runs.create_run("asking", {})
    state = await stack.control.runs.wait(ref.run_id, 20)
    assert state.status is RunStatus.INTERRUPTED
    assert state.interrupts[0]["value"] == "ok?"
    assert stack.sql("SELECT status FROM duragraph.threads WHERE thread_id = %s", (ref.thread_id,)) == [
        ("interrupted",)
    ]
    with pytest.raises(ThreadBusy, match="interrupted run"):
        await stack.control.runs.create_run("asking", {}, thread_id=ref.thread_id)
    results = await asyncio.gather(
        stack.control.runs.resume(ref.run_id, "yes"),
        stack.control.runs.resume(ref.run_id, "no"),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    loser = next(r for r in results if isinstance(r, BaseException))
    assert isinstance(loser, (Conflict, InvalidTransition))
    state = await stack.control.runs.wait(ref.run_id, 20)
    assert state.status is RunStatus.SUCCESS
    assert state.values["answer"] in ("yes", "no")
    resumed = stack.sql(
        "SELECT count(*) FROM duragraph.events WHERE stream_id = %s AND type = 'run_resumed'",
        (f"run:{ref.run_id}",),
    )
    assert resumed == [(1,)]
    with pytest.raises(InvalidTransition, match="is success"):
        await stack.control.runs.resume(ref.run_id, "again")


async def test_cancel_a_running_run_through_nats(stack: Stack) -> None:
    started = asyncio.Event()

    async def long(s: Steps) -> Steps:
        started.set()
        await asyncio.sleep(60)
        return {}

    g = StateGraph(Steps)
    g.add_node("long", long)
    g.add_edge(START, "long")
    g.add_edge("long", END)
    await stack.worker(g.compile(name="long"))
    ref = await stack.control.runs.create_run("long", {})
    await asyncio.wait_for(started.wait(), 10)
    await stack.control.runs.cancel(ref.run_id)
    state = await stack.control.runs.wait(ref.run_id, 10)
    assert state.status is RunStatus.CANCELLED
    assert stack.sql(
        "SELECT status, cancel_requested FROM duragraph.runs WHERE run_id = %s", (ref.run_id,)
    ) == [("cancelled", True)]
    with pytest.raises(InvalidTransition):
        await stack.control.runs.cancel(ref.run_id)


async def test_cancel_a_queued_run_without_any_worker(stack: Stack) -> None:
    worker = await stack.worker(chain(1))
    await worker.stop(drain=False)  # registered, but nobody serves it now
    ref = await stack.control.runs.create_run("chain", {})
    state = await stack.control.runs.cancel(ref.run_id)
    assert state.status is RunStatus.CANCELLED
    assert stack.sql("SELECT state FROM duragraph.run_queue WHERE run_id = %s", (ref.run_id,)) == [("done",)]


async def test_failing_runs_do_not_affect_others(stack: Stack) -> None:
    def boom(s: Steps) -> Steps:
        raise RuntimeError("this node is broken")

    g = StateGraph(Steps)
    g.add_node("boom", boom)
    g.add_edge(START, "boom")
    g.add_edge("boom", END)
    await stack.worker(g.compile(name="boom"), chain(3))
    bad = [await stack.control.runs.create_run("boom", {}) for _ in range(3)]
    good = [await stack.control.runs.create_run("chain", {"n": 0}) for _ in range(3)]
    for ref in bad:
        state = await stack.control.runs.wait(ref.run_id, 20)
        assert state.status is RunStatus.ERROR
        assert state.error is not None
        assert state.error["message"] == "this node is broken"
    for ref in good:
        assert (await stack.control.runs.wait(ref.run_id, 20)).values["n"] == 3
    assert stack.sql("SELECT status FROM duragraph.threads WHERE thread_id = %s", (bad[0].thread_id,)) == [
        ("error",)
    ]


async def test_fork_through_the_control_plane(stack: Stack) -> None:
    await stack.worker(chain(4))
    ref = await stack.control.runs.create_run("chain", {"n": 0})
    await stack.control.runs.wait(ref.run_id, 20)
    events = await stack.control.history.run_events(ref.run_id)
    boundary = next(e for e in events if e.type == ev.STEP_PLANNED and e.data["step"] == 2)
    fork = await stack.control.forks.fork(ref.run_id, boundary.seq, update={"n": 50})
    state = await stack.control.runs.wait(fork.run_id, 20)
    assert state.status is RunStatus.SUCCESS
    assert state.values["n"] == 52
    assert state.metadata["forked_from"] == {
        "run_id": ref.run_id,
        "seq": boundary.seq,
        "position": events.index(boundary),
        "edited": ["n"],
    }
    with pytest.raises(NotFound, match="no event with seq"):
        await stack.control.forks.fork(ref.run_id, 10**12)


async def test_expired_lease_is_taken_over_and_the_old_worker_is_fenced(stack: Stack) -> None:
    """A worker that stops heartbeating loses its run to another worker; its late commit is
    refused (the in-process version of the SIGSTOP fault test)."""
    release = asyncio.Event()
    executions: list[str] = []

    async def slow(s: Steps) -> Steps:
        executions.append(get_context().idempotency_key)
        if len(executions) == 1:
            await release.wait()  # the first worker is "paused" here
        return {"log": ["slow"]}

    def graph() -> CompiledGraph:
        g = StateGraph(Steps)
        g.add_node("slow", slow)
        g.add_edge(START, "slow")
        g.add_edge("slow", END)
        return g.compile(name="slow")

    first = await stack.worker(graph(), lease_ttl=0.5, heartbeat_interval=3600)
    ref = await stack.control.runs.create_run("slow", {})
    for _ in range(500):  # until the first worker is inside the node
        if executions:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.7)  # the lease expires; the first worker does not notice
    second = await stack.worker(graph(), lease_ttl=30)
    state = await stack.control.runs.wait(ref.run_id, 20)
    assert state.status is RunStatus.SUCCESS
    release.set()  # the first worker wakes up and tries to commit its (stale) result
    await asyncio.sleep(0.5)
    completed = stack.sql(
        "SELECT count(*) FROM duragraph.events WHERE stream_id = %s AND type = 'node_completed'",
        (f"run:{ref.run_id}",),
    )
    assert completed == [(1,)], "the stale worker could not append"
    started = stack.sql(
        "SELECT data->>'worker_id', data->>'epoch' FROM duragraph.events WHERE stream_id = %s AND type = 'run_started' ORDER BY seq",
        (f"run:{ref.run_id}",),
    )
    assert [w for w, _ in started] == [first.worker_id, second.worker_id]
    assert [int(e) for _, e in started] == [1, 2]
    assert len(set(executions)) == 1, "both executions used the same idempotency key"
    assert stack.sql("SELECT expiries FROM duragraph.run_queue WHERE run_id = %s", (ref.run_id,)) == [(1,)]


async def test_drain_gives_unfinished_runs_back(stack: Stack) -> None:
    first = await stack.worker(chain(3, sleep=1.0), drain_timeout=0.2)
    ref = await stack.control.runs.create_run("chain", {"n": 0})
    for _ in range(500):  # until the run executes
        if first.active:
            break
        await asyncio.sleep(0.02)
    await first.stop(drain=True)  # cannot finish in 0.2 s: the run goes back to the queue
    assert stack.sql("SELECT state FROM duragraph.run_queue WHERE run_id = %s", (ref.run_id,)) == [
        ("queued",)
    ]
    await stack.worker(chain(3, sleep=0.01))
    state = await stack.control.runs.wait(ref.run_id, 20)
    assert state.status is RunStatus.SUCCESS
    assert state.values["n"] == 3


async def test_lease_queries(pool: Any, stack: Stack) -> None:
    await stack.worker(chain(1))
    for w in stack.workers:
        await w.stop(drain=False)
    stack.workers.clear()
    queue = RunQueue(pool)
    refs = [await stack.control.runs.create_run("chain", {}) for _ in range(3)]
    a = await queue.acquire("A", ["chain"], 2, ttl=30)
    b = await queue.acquire("B", ["chain"], 5, ttl=30)
    assert len(a) == 2
    assert len(b) == 1
    assert {x.run_id for x in a + b} == {r.run_id for r in refs}
    assert await queue.acquire("C", ["chain"], 5, ttl=30) == []
    assert await queue.extend("A", {a[0].run_id: a[0].epoch, b[0].run_id: b[0].epoch}, ttl=30) == {
        b[0].run_id
    }
    assert await queue.release("A", a[0].run_id, a[0].epoch)
    assert [x.run_id for x in await queue.acquire("C", ["chain"], 5, ttl=30)] == [a[0].run_id]
    assert (await queue.acquire("C", ["other"], 5, ttl=30)) == []


async def test_a_lease_brings_a_short_runs_events(pool: Any, stack: Stack) -> None:
    """The acquire returns each leased run's stream when it is short: exactly what reading the
    stream returns, in the queue's order; a longer stream is left for the executor to read."""
    await stack.worker(chain(PREFETCH_EVENTS))
    long_run = await stack.control.runs.create_run("chain", {"n": 0})
    assert (await stack.control.runs.wait(long_run.run_id, timeout=20)).status is RunStatus.SUCCESS
    for w in stack.workers:
        await w.stop(drain=False)
    stack.workers.clear()
    assert len(await stack.store.read_stream(f"run:{long_run.run_id}")) > PREFETCH_EVENTS
    refs = [await stack.control.runs.create_run("chain", {"n": i}) for i in range(3)]
    # The finished run queued again (as a run taken over after a crash is): no events with it.
    stack.sql("UPDATE duragraph.run_queue SET state = 'queued', available_at = now() + interval '1 hour' "
              "WHERE run_id = %s RETURNING run_id", (long_run.run_id,))  # fmt: skip
    leases = await RunQueue(pool).acquire("A", ["chain"], 5, ttl=30)
    assert [x.run_id for x in leases] == [r.run_id for r in refs]
    for lease in leases:
        stored = await stack.store.read_stream(f"run:{lease.run_id}")
        assert lease.events is not None and [e.type for e in lease.events] == [ev.RUN_CREATED]
        assert [(e.seq, str(e.event_id), e.version, e.data, e.recorded_at) for e in lease.events] == [
            (e.seq, str(e.event_id), e.version, e.data, e.recorded_at) for e in stored
        ]
    stack.sql("UPDATE duragraph.run_queue SET available_at = now() WHERE run_id = %s RETURNING run_id",
              (long_run.run_id,))  # fmt: skip
    [again] = await RunQueue(pool).acquire("B", ["chain"], 5, ttl=30)
    assert again.run_id == long_run.run_id and again.events is None


async def test_a_run_started_from_its_lease_is_not_read_again(stack: Stack) -> None:
    """Native and LangGraph runs start from the events their lease brought: the worker reads
    no stream of a new run (a read at start would cost each run a round trip)."""
    from langgraph.graph import StateGraph as LangGraphStateGraph

    from duragraph_lab.langgraph.loading import as_source

    class Counter(TypedDict):
        n: int

    lg = LangGraphStateGraph(Counter)
    lg.add_node("add", lambda s: {"n": s["n"] + 1})
    lg.add_edge(START, "add")
    lg.add_edge("add", END)
    worker = await stack.worker(chain(2), as_source("lg_add", lg.compile(), None, "test"))  # type: ignore[arg-type]
    reads: list[str] = []
    read = worker.journal.read

    async def counted(run_id: str, *, after_version: int = 0) -> list[Any]:
        reads.append(run_id)
        return await read(run_id, after_version=after_version)

    worker.journal.read = counted  # type: ignore[method-assign]
    native = await stack.control.runs.create_run("chain", {"n": 0})
    assert (await stack.control.runs.wait(native.run_id, timeout=20)).values["n"] == 2
    lg_run = await stack.control.runs.create_run("lg_add", {"n": 1})
    assert (await stack.control.runs.wait(lg_run.run_id, timeout=20)).values == {"n": 2}
    assert reads == []


async def test_a_langgraph_run_on_a_thread_made_for_it_reads_no_checkpoint(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run whose thread was made for it (no thread named) asks the database for no checkpoint:
    the thread holds only what the run saves, so its start's read of the thread's latest and a
    subgraph's read in the task that runs it are answered without a query. A run continuing the
    thread, or on a thread a client named, reads as before, and goes on from what it read."""
    from langgraph.graph import StateGraph as LangGraphStateGraph

    from duragraph_lab.langgraph.loading import as_source
    from duragraph_lab.store.queries.lg_checkpoints import PgLangGraphCheckpoints

    class Inner(TypedDict):
        n: int

    class Outer(TypedDict):
        n: int
        log: Annotated[list[str], operator.add]

    inner = LangGraphStateGraph(Inner)
    inner.add_node("twice", lambda s: {"n": s["n"] * 2})
    inner.add_edge(START, "twice")
    inner.add_edge("twice", END)
    outer = LangGraphStateGraph(Outer)
    outer.add_node("add", lambda s: {"n": s["n"] + 1, "log": ["add"]})
    outer.add_node("sub", inner.compile())
    outer.add_edge(START, "add")
    outer.add_edge("add", "sub")
    outer.add_edge("sub", END)
    await stack.worker(as_source("lg_sub_reads", outer.compile(), None, "test"))  # type: ignore[arg-type]
    reads: list[tuple[str, str]] = []
    get = PgLangGraphCheckpoints.get

    async def counted(
        self: PgLangGraphCheckpoints, thread_id: str, checkpoint_ns: str, checkpoint_id: Any
    ) -> Any:
        reads.append((thread_id, checkpoint_ns.split(":")[0]))
        return await get(self, thread_id, checkpoint_ns, checkpoint_id)

    monkeypatch.setattr(PgLangGraphCheckpoints, "get", counted)
    first = await stack.control.runs.create_run("lg_sub_reads", {"n": 1, "log": ["a"]})
    assert (await stack.control.runs.wait(first.run_id, timeout=20)).values == {"n": 4, "log": ["a", "add"]}
    assert reads == []

    # The thread holds the first run's checkpoints now: the next run reads them and goes on.
    again = await stack.control.runs.create_run("lg_sub_reads", {"log": ["b"]}, thread_id=first.thread_id)
    state = await stack.control.runs.wait(again.run_id, timeout=20)
    assert state.values == {"n": 10, "log": ["a", "add", "b", "add"]}
    assert (first.thread_id, "") in reads and (first.thread_id, "sub") in reads

    named = str(uuid.uuid4())
    reads.clear()
    third = await stack.control.runs.create_run("lg_sub_reads", {"n": 0, "log": []}, thread_id=named)
    assert (await stack.control.runs.wait(third.run_id, timeout=20)).values == {"n": 2, "log": ["add"]}
    assert (named, "") in reads


# -- regressions from review ----------------------------------------------------------------------


async def test_compile_time_interrupts_apply_to_worker_runs(stack: Stack) -> None:
    g = StateGraph(Steps)
    g.add_node("a", lambda s: {"log": ["a"]})
    g.add_node("b", lambda s: {"log": ["b"]})
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_edge("b", END)
    await stack.worker(g.compile(name="paused_before_b", interrupt_before=["b"]))
    ref = await stack.control.runs.create_run("paused_before_b", {})
    state = await stack.control.runs.wait(ref.run_id, 20)
    assert state.status is RunStatus.INTERRUPTED
    assert state.values["log"] == ["a"]
    await stack.control.runs.resume(ref.run_id)
    assert (await stack.control.runs.wait(ref.run_id, 20)).values["log"] == ["a", "b"]


async def test_a_worker_re_leasing_its_own_run_keeps_one_executor(stack: Stack) -> None:
    """Heartbeats too slow for the TTL: the worker takes its own run again and must not start a
    second executor for it (that would run nodes twice and race its own commits)."""
    calls: list[str] = []

    async def slow(s: Steps) -> Steps:
        calls.append(get_context().idempotency_key)
        await asyncio.sleep(1.5)  # the 0.4 s lease expires meanwhile, several times
        return {"log": ["slow"]}

    g = StateGraph(Steps)
    g.add_node("slow", slow)
    g.add_edge(START, "slow")
    g.add_edge("slow", END)
    await stack.worker(
        g.compile(name="self_lease"), lease_ttl=0.4, heartbeat_interval=3600, poll_interval=0.1
    )
    ref = await stack.control.runs.create_run("self_lease", {})
    state = await stack.control.runs.wait(ref.run_id, 20)
    assert state.status is RunStatus.SUCCESS, state.error
    assert len(calls) == 1


async def test_drain_keeps_heartbeating_so_no_node_runs_twice(stack: Stack) -> None:
    calls: list[str] = []

    async def slowish(s: Steps) -> Steps:
        calls.append("x")
        await asyncio.sleep(2.0)
        return {"log": ["done"]}

    g = StateGraph(Steps)
    g.add_node("slowish", slowish)
    g.add_edge(START, "slowish")
    g.add_edge("slowish", END)
    graph = g.compile(name="drained")
    first = await stack.worker(graph, lease_ttl=0.9, drain_timeout=5)
    ref = await stack.control.runs.create_run("drained", {})
    for _ in range(500):
        if calls:
            break
        await asyncio.sleep(0.02)
    other = await stack.worker(graph, lease_ttl=30, poll_interval=0.1)  # eager to take expired leases
    await first.stop(drain=True)  # finishes within the drain timeout, heartbeating meanwhile
    state = await stack.control.runs.wait(ref.run_id, 20)
    assert state.status is RunStatus.SUCCESS
    assert calls == ["x"], "the run never changed hands"
    assert other.completed == 0


async def test_a_store_blip_returns_the_run_instead_of_failing_it(stack: Stack) -> None:
    from duragraph_lab.domain import StoreUnavailable

    worker = await stack.worker(chain(3), poll_interval=0.1)
    real_commit = worker.journal.commit
    blips = {"left": 1}

    async def flaky_commit(run_id: str, expected: int, events: Any) -> Any:
        if blips["left"] and any(e.type == ev.NODE_COMPLETED for e in events):
            blips["left"] -= 1
            raise StoreUnavailable("simulated: the database went away for a moment")
        return await real_commit(run_id, expected, events)

    worker.journal.commit = flaky_commit  # type: ignore[method-assign]
    ref = await stack.control.runs.create_run("chain", {"n": 0})
    state = await stack.control.runs.wait(ref.run_id, 20)
    assert state.status is RunStatus.SUCCESS, state.error
    assert state.values["n"] == 3


async def test_fork_and_resume_respect_the_thread(stack: Stack) -> None:
    await stack.worker(asking())
    ref = await stack.control.runs.create_run("asking", {})
    await stack.control.runs.wait(ref.run_id, 20)
    events = await stack.control.history.run_events(ref.run_id)
    with pytest.raises(ThreadBusy, match="interrupted run"):
        await stack.control.forks.fork(ref.run_id, events[0].seq)
    await stack.control.runs.cancel(ref.run_id)
    fork = await stack.control.forks.fork(
        ref.run_id, events[0].seq
    )  # from the very start, on the same thread
    state = await stack.control.runs.wait(fork.run_id, 20)
    assert state.status is RunStatus.INTERRUPTED, "the fork asks again"
    with pytest.raises(InvalidTransition):
        await stack.control.runs.resume(ref.run_id, "late")  # the original run is cancelled
    await stack.control.runs.resume(fork.run_id, "yes")
    assert (await stack.control.runs.wait(fork.run_id, 20)).values["answer"] == "yes"


class _CountingEvent(asyncio.Event):
    """The lease loop's wake-up event, counting how often the loop waits on it."""

    waits = 0

    async def wait(self) -> Literal[True]:
        self.waits += 1
        return await super().wait()


@pytest.mark.timeout(60)  # the bug this guards against froze the event loop: no asyncio timeout fires
async def test_wake_ups_while_every_slot_is_busy_do_not_spin_the_lease_loop(stack: Stack) -> None:
    worker = await stack.worker(chain(3, "slow", sleep=0.4), concurrency=1)
    wake = _CountingEvent()
    worker._wake = wake
    first = await stack.control.runs.create_run("slow", {"n": 0})
    # While the only slot is busy, more runs arrive: each one publishes a wake-up on NATS.
    await asyncio.sleep(0.3)
    others = [await stack.control.runs.create_run("slow", {"n": 0}) for _ in range(2)]
    for ref in (first, *others):
        state = await stack.control.runs.wait(ref.run_id, timeout=30)
        assert state.status is RunStatus.SUCCESS
    # A handful of turns per run (a wake-up, a finished run, a poll) — not one per microsecond.
    assert 0 < wake.waits < 100, wake.waits


async def test_state_at_an_event_reads_the_run_only_up_to_it(stack: Stack) -> None:
    await stack.worker(chain(3, "upto"))
    ref = await stack.control.runs.create_run("upto", {"n": 0})
    assert (await stack.control.runs.wait(ref.run_id, timeout=20)).status is RunStatus.SUCCESS
    events = await stack.store.read_stream(f"run:{ref.run_id}")
    # At every event: what the whole log folded up to that event gives.
    for i, event in enumerate(events):
        state = await stack.control.history.state(ref.run_id, at_seq=event.seq)
        expected = fold(events[: i + 1], None)
        assert (state.status, state.values, state.step) == (expected.status, expected.values, expected.step)
    final = await stack.control.history.state(ref.run_id, at_seq=events[-1].seq)
    assert final.status is RunStatus.SUCCESS and final.values["n"] == 3
    with pytest.raises(NotFound, match="no events up to seq"):
        await stack.control.history.state(ref.run_id, at_seq=events[0].seq - 1)
    with pytest.raises(NotFound, match="does not exist"):
        await stack.control.history.state(str(uuid.uuid4()), at_seq=events[-1].seq)
