"""The engine's behaviour, on both journals: in memory (fast) and on PostgreSQL (the real one).

Every test also checks the central promise of the event log: folding the recorded events, with
no graph code, gives exactly the state the executor computed.
"""

from __future__ import annotations

import asyncio
import operator
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Annotated, Any, TypedDict

import psycopg
import pytest

from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import NewEvent, RecordedEvent
from duragraph_lab.domain.reducers import add_messages
from duragraph_lab.domain.run import InvalidTransition, RunState, RunStatus, fold
from duragraph_lab.engine import commands
from duragraph_lab.engine.executor import RunExecutor
from duragraph_lab.engine.history import HistoryCache, load_run
from duragraph_lab.engine.journal import Journal
from duragraph_lab.engine.memory import MemoryJournal
from duragraph_lab.engine.replay import reexecute
from duragraph_lab.graph.compiled import CompiledGraph
from duragraph_lab.graph.context import get_context, get_stream_writer, interrupt
from duragraph_lab.graph.state_graph import StateGraph
from duragraph_lab.graph.types import END, START, Command, RetryPolicy, Send
from duragraph_lab.store import PostgresEventStore, open_pool
from duragraph_lab.store.journal import PostgresJournal


class Harness:
    """Create runs and drive them with an executor, on one journal."""

    def __init__(self, journal: Journal, append: Any, database_url: str | None = None) -> None:
        self.journal = journal
        self.append = append
        self.cache = HistoryCache()
        self.database_url = database_url
        self.live: list[tuple[str, str, dict[str, Any]]] = []

    async def start(
        self,
        graph: CompiledGraph,
        input: Any,
        *,
        base: dict[str, Any] | None = None,
        update: Any = None,
        thread_id: str | None = None,
        **options: Any,
    ) -> str:
        run_id = str(uuid.uuid4())
        created = commands.run_created(
            run_id=run_id,
            thread_id=thread_id or str(uuid.uuid4()),
            graph_id=graph.name,
            assistant_id=None,
            channels=graph.spec.channels,
            nodes=list(graph.spec.nodes),
            input=input,
            config=options.pop("config", None),
            interrupt_before=options.pop("interrupt_before", None) or list(graph.spec.interrupt_before),
            interrupt_after=options.pop("interrupt_after", None) or list(graph.spec.interrupt_after),
            base=base,
            update=update,
        )
        await self.append(run_id, 0, [created])
        return run_id

    def executor(self, graph: CompiledGraph, run_id: str) -> RunExecutor:
        return RunExecutor(graph.spec, self.journal, run_id, cache=self.cache)

    async def run(self, graph: CompiledGraph, input: Any, **options: Any) -> tuple[str, RunState]:
        run_id = await self.start(graph, input, **options)
        return run_id, await self.executor(graph, run_id).run()

    async def events(self, run_id: str) -> list[RecordedEvent]:
        return await self.journal.read(run_id)

    async def folded(self, run_id: str) -> RunState:
        events, base = await load_run(run_id, lambda r: self.journal.read(r), None)
        return fold(events, base)

    async def resume(self, run_id: str, value: Any = None, **kw: Any) -> None:
        state = await self.folded(run_id)
        await self.append(run_id, state.version, commands.resume(state, value, **kw))

    async def cancel(self, run_id: str) -> None:
        state = await self.folded(run_id)
        await self.append(run_id, state.version, commands.cancel(state))


@pytest.fixture(params=["memory", "postgres"])
async def h(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    if request.param == "memory":
        journal = MemoryJournal()

        async def append(run_id: str, expected: int, events: list[NewEvent]) -> None:
            journal.append(run_id, expected, events)

        harness = Harness(journal, append)
        journal.live.append(lambda r, k, p: harness.live.append((r, k, p)))
        yield harness
    else:
        # Only sync fixtures can be requested from inside an async one: open the pool here.
        database_url: str = request.getfixturevalue("database_url")
        pool = await open_pool(database_url, min_size=1, max_size=8)
        store = PostgresEventStore(pool)
        harness_live: list[tuple[str, str, dict[str, Any]]] = []
        pg_journal = PostgresJournal(
            store, worker_id="test", live=lambda r, k, p: harness_live.append((r, k, p))
        )

        async def pg_append(run_id: str, expected: int, events: list[NewEvent]) -> None:
            await store.append(f"run:{run_id}", expected, events)

        harness = Harness(pg_journal, pg_append, database_url)
        harness.live = harness_live
        yield harness
        await pool.close()


async def assert_log_matches(h: Harness, run_id: str, state: RunState) -> None:
    """Folding the log (no code) reproduces the executor's final state."""
    assert (await h.folded(run_id)).values == state.values
    assert (await h.folded(run_id)).status == state.status


# -- graphs used below ----------------------------------------------------------------------------


class Counted(TypedDict, total=False):
    n: int
    log: Annotated[list[str], operator.add]


def linear(n: int, name: str = "linear") -> CompiledGraph:
    g = StateGraph(Counted)
    prev = START
    for i in range(n):
        g.add_node(f"n{i}", lambda s, i=i: {"n": s.get("n", 0) + 1, "log": [f"n{i}"]})
        g.add_edge(prev, f"n{i}")
        prev = f"n{i}"
    g.add_edge(prev, END)
    return g.compile(name=name)


# -- supersteps, reducers, routing ------------------------------------------------------------------


async def test_linear_graph_runs_each_node_once_in_order(h: Harness) -> None:
    run_id, state = await h.run(linear(6), {"n": 0})
    assert state.status is RunStatus.SUCCESS
    assert state.values == {"n": 6, "log": [f"n{i}" for i in range(6)]}
    events = await h.events(run_id)
    assert [e.data["node"] for e in events if e.type == ev.NODE_COMPLETED] == [f"n{i}" for i in range(6)]
    assert events[-1].type == ev.RUN_COMPLETED
    await assert_log_matches(h, run_id, state)


async def test_one_commit_per_node(h: Harness) -> None:
    if h.database_url is None:
        return  # transactions are only visible in PostgreSQL (xmin)
    run_id, state = await h.run(linear(10), {"n": 0})
    assert state.status is RunStatus.SUCCESS
    with psycopg.connect(h.database_url) as conn:
        row = conn.execute(
            "SELECT count(DISTINCT xmin::text) FROM duragraph.events WHERE stream_id = %s", (f"run:{run_id}",)
        ).fetchone()
    # run_created, run_started + plan of step 0, then exactly one transaction per node.
    assert row == (12,)


async def test_parallel_branches_join_and_apply_writes_in_plan_order(h: Harness) -> None:
    async def slow(s: Counted) -> Counted:
        await asyncio.sleep(0.05)
        return {"log": ["slow"]}

    async def fast(s: Counted) -> Counted:
        return {"log": ["fast"]}

    g = StateGraph(Counted)
    g.add_node("split", lambda s: {"log": ["split"]})
    g.add_node("slow", slow)
    g.add_node("fast", fast)
    g.add_node("join", lambda s: {"log": [f"join saw {len(s['log'])}"]})
    g.add_edge(START, "split")
    g.add_edge("split", "slow")
    g.add_edge("split", "fast")
    g.add_edge(["slow", "fast"], "join")
    g.add_edge("join", END)
    run_id, state = await h.run(g.compile(name="join"), {})
    # slow finished last but was planned first: writes are applied in plan order.
    assert state.values["log"] == ["split", "slow", "fast", "join saw 3"]
    events = await h.events(run_id)
    planned = [e.data for e in events if e.type == ev.STEP_PLANNED]
    assert [[t["node"] for t in p["tasks"]] for p in planned] == [["split"], ["slow", "fast"], ["join"]]
    await assert_log_matches(h, run_id, state)


async def test_join_waits_across_steps(h: Harness) -> None:
    g = StateGraph(Counted)
    g.add_node("a", lambda s: {"log": ["a"]})
    g.add_node("b1", lambda s: {"log": ["b1"]})
    g.add_node("b2", lambda s: {"log": ["b2"]})
    g.add_node("c", lambda s: {"log": ["c"]})
    g.add_edge(START, "a")
    g.add_edge(START, "b1")
    g.add_edge("b1", "b2")
    g.add_edge(["a", "b2"], "c")  # a is done at step 0, b2 only at step 1
    g.add_edge("c", END)
    run_id, state = await h.run(g.compile(name="late_join"), {})
    assert state.values["log"] == ["a", "b1", "b2", "c"]
    await assert_log_matches(h, run_id, state)


async def test_conditional_loop_and_recursion_limit(h: Harness) -> None:
    g = StateGraph(Counted)
    g.add_node("inc", lambda s: {"n": s.get("n", 0) + 1})
    g.add_edge(START, "inc")
    g.add_conditional_edges("inc", lambda s: "inc" if s["n"] < 5 else END, ["inc", END])
    graph = g.compile(name="loop")
    run_id, state = await h.run(graph, {"n": 0})
    assert state.values["n"] == 5
    await assert_log_matches(h, run_id, state)

    run_id, state = await h.run(graph, {"n": -100}, config={"recursion_limit": 10})
    assert state.status is RunStatus.ERROR
    assert state.error is not None
    assert state.error["type"] == "GraphRecursionError"
    assert "recursion limit of 10" in state.error["message"]
    assert state.values["n"] == -90, "ten steps ran, then the limit stopped the run"


async def test_send_fans_out_with_arguments(h: Harness) -> None:
    class MapState(TypedDict, total=False):
        items: list[int]
        squares: Annotated[list[int], operator.add]
        total: int

    g = StateGraph(MapState)
    g.add_node("plan", lambda s: {})
    g.add_node("square", lambda arg: {"squares": [arg["x"] ** 2]})
    g.add_node("reduce", lambda s: {"total": sum(s["squares"])})
    g.add_edge(START, "plan")
    g.add_conditional_edges("plan", lambda s: [Send("square", {"x": x}) for x in s["items"]], ["square"])
    g.add_edge("square", "reduce")
    g.add_edge("reduce", END)
    run_id, state = await h.run(g.compile(name="mapreduce"), {"items": [1, 2, 3, 4]})
    assert state.values["squares"] == [1, 4, 9, 16]
    assert state.values["total"] == 30
    events = await h.events(run_id)
    squares = [e for e in events if e.type == ev.NODE_COMPLETED and e.data["node"] == "square"]
    assert len(squares) == 4, "one task per Send"
    reduce_runs = [e for e in events if e.type == ev.NODE_COMPLETED and e.data["node"] == "reduce"]
    assert len(reduce_runs) == 1, "reduce is triggered by four tasks but runs once"
    await assert_log_matches(h, run_id, state)


async def test_command_updates_and_routes(h: Harness) -> None:
    def decide(s: Counted) -> Command:  # type: ignore[type-arg]
        return Command(update={"log": ["decide"]}, goto="right" if s.get("n") else "left")

    g = StateGraph(Counted)
    g.add_node("decide", decide, destinations=["left", "right"])
    g.add_node("left", lambda s: {"log": ["left"]})
    g.add_node("right", lambda s: {"log": ["right"]})
    g.add_edge(START, "decide")
    g.add_edge("left", END)
    g.add_edge("right", END)
    graph = g.compile(name="command")
    _, left = await h.run(graph, {"n": 0})
    run_id, right = await h.run(graph, {"n": 1})
    assert left.values["log"] == ["decide", "left"]
    assert right.values["log"] == ["decide", "right"]
    await assert_log_matches(h, run_id, right)


async def test_messages_merge_by_id_with_ids_fixed_in_the_log(h: Harness) -> None:
    class Chat(TypedDict):
        messages: Annotated[list[Any], add_messages]

    def reply(s: Chat) -> Chat:
        last = s["messages"][-1]
        return {"messages": [("ai", f"echo: {last['content']}"), {"role": "assistant", "content": "second"}]}

    def edit(s: Chat) -> Chat:
        first = s["messages"][0]
        return {"messages": [{**first, "content": "edited"}]}

    g = StateGraph(Chat)
    g.add_node("reply", reply)
    g.add_node("edit", edit)
    g.add_edge(START, "reply")
    g.add_edge("reply", "edit")
    g.add_edge("edit", END)
    run_id, state = await h.run(g.compile(name="chat"), {"messages": ["hello"]})
    contents = [(m["type"], m["content"]) for m in state.values["messages"]]
    assert contents == [("human", "edited"), ("ai", "echo: hello"), ("ai", "second")]
    assert len({m["id"] for m in state.values["messages"]}) == 3
    await assert_log_matches(h, run_id, state)


def keep_max(current: int, update: int) -> int:
    return max(current, update)


class Peak(TypedDict, total=False):
    peak: Annotated[int, keep_max]
    seen: Annotated[list[int], operator.add]


async def test_custom_reducer_results_are_recorded(h: Harness) -> None:
    g = StateGraph(Peak)
    for name, value in (("a", 3), ("b", 9), ("c", 4)):
        g.add_node(name, lambda s, v=value: {"peak": v, "seen": [v]})
        g.add_edge(START, name)
        g.add_edge(name, END)
    run_id, state = await h.run(g.compile(name="peak"), {"peak": 5})
    assert state.values == {"peak": 9, "seen": [3, 9, 4]}
    # A reader without keep_max (the API) folds the same value from the log.
    await assert_log_matches(h, run_id, state)


# -- failures ----------------------------------------------------------------------------------------


async def test_retries_with_backoff_then_success(h: Harness) -> None:
    attempts: Counter[str] = Counter()

    def flaky(s: Counted) -> Counted:
        attempts["flaky"] += 1
        if attempts["flaky"] < 3:
            raise ConnectionError(f"try {attempts['flaky']}")
        return {"log": ["ok"]}

    g = StateGraph(Counted)
    g.add_node("flaky", flaky, retry=RetryPolicy(initial_interval=0.01, jitter=False, max_attempts=3))
    g.add_edge(START, "flaky")
    g.add_edge("flaky", END)
    run_id, state = await h.run(g.compile(name="flaky"), {})
    assert state.status is RunStatus.SUCCESS
    assert attempts["flaky"] == 3
    events = await h.events(run_id)
    failures = [e.data for e in events if e.type == ev.NODE_FAILED]
    assert [(f["attempt"], f["will_retry"], f["error"]["type"]) for f in failures] == [
        (1, True, "ConnectionError"),
        (2, True, "ConnectionError"),
    ]
    assert next(e.data["attempt"] for e in events if e.type == ev.NODE_COMPLETED) == 3


async def test_node_raising_ends_the_run_with_a_precise_error(h: Harness) -> None:
    def broken(s: Counted) -> Counted:
        raise ValueError("bad input: n must be positive")

    g = StateGraph(Counted)
    g.add_node("ok", lambda s: {"log": ["ok"]})
    g.add_node("broken", broken, retry=RetryPolicy(initial_interval=0.01, max_attempts=3))
    g.add_edge(START, "ok")
    g.add_edge("ok", "broken")
    g.add_edge("broken", END)
    run_id, state = await h.run(g.compile(name="broken"), {})
    assert state.status is RunStatus.ERROR
    assert state.error is not None
    assert (state.error["type"], state.error["node"], state.error["step"]) == ("ValueError", "broken", 1)
    assert "n must be positive" in state.error["message"]
    assert "Traceback" in state.error["traceback"]
    failures = [e for e in await h.events(run_id) if e.type == ev.NODE_FAILED]
    assert len(failures) == 1, "ValueError is a programming error: not retried by default"
    assert state.values["log"] == ["ok"]
    await assert_log_matches(h, run_id, state)


async def test_node_timeout(h: Harness) -> None:
    async def sleepy(s: Counted) -> Counted:
        await asyncio.sleep(5)
        return {}

    g = StateGraph(Counted)
    g.add_node("sleepy", sleepy, timeout=0.1)
    g.add_edge(START, "sleepy")
    g.add_edge("sleepy", END)
    begin = time.monotonic()
    _, state = await h.run(g.compile(name="sleepy"), {})
    assert time.monotonic() - begin < 3
    assert state.status is RunStatus.ERROR
    assert state.error is not None
    assert state.error["type"] == "NodeTimeoutError"
    assert "within 0.1s" in state.error["message"]


async def test_sync_node_timeout_and_retry(h: Harness) -> None:
    calls: Counter[str] = Counter()

    def slow_then_fast(s: Counted) -> Counted:
        calls["n"] += 1
        if calls["n"] == 1:
            time.sleep(0.5)
        return {"log": [f"call {calls['n']}"]}

    g = StateGraph(Counted)
    g.add_node("x", slow_then_fast, timeout=0.1, retry=RetryPolicy(initial_interval=0.01, jitter=False))
    g.add_edge(START, "x")
    g.add_edge("x", END)
    _, state = await h.run(g.compile(name="retimeout"), {})
    assert state.status is RunStatus.SUCCESS, state.error
    assert state.values["log"] == ["call 2"]


@pytest.mark.parametrize(
    ("returns", "message"),
    [
        ("not a dict", "returned str; expected a dict of state updates"),
        ({"nope": 1}, "wrote unknown state key 'nope'"),
        ({"log": [object()]}, "cannot be stored"),
    ],
)
async def test_invalid_updates_fail_the_run(h: Harness, returns: Any, message: str) -> None:
    g = StateGraph(Counted)
    g.add_node("bad", lambda s: returns)
    g.add_edge(START, "bad")
    g.add_edge("bad", END)
    _, state = await h.run(g.compile(name="bad"), {})
    assert state.status is RunStatus.ERROR
    assert state.error is not None
    assert state.error["type"] == "InvalidUpdateError"
    assert message in state.error["message"]


async def test_router_returning_unknown_node(h: Harness) -> None:
    g = StateGraph(Counted)
    g.add_node("a", lambda s: {})
    g.add_node("b", lambda s: {})
    g.add_edge(START, "a")
    g.add_conditional_edges("a", lambda s: "nowhere")
    g.add_edge("b", END)
    _, state = await h.run(g.compile(name="lost"), {})
    assert state.status is RunStatus.ERROR
    assert state.error is not None
    assert "returned unknown node 'nowhere'" in state.error["message"]


async def test_two_writes_to_a_plain_key_in_one_step(h: Harness) -> None:
    g = StateGraph(Counted)
    g.add_node("a", lambda s: {"n": 1})
    g.add_node("b", lambda s: {"n": 2})
    g.add_edge(START, "a")
    g.add_edge(START, "b")
    g.add_edge("a", END)
    g.add_edge("b", END)
    _, state = await h.run(g.compile(name="clash"), {})
    assert state.status is RunStatus.ERROR
    assert state.error is not None
    assert "written by both" in state.error["message"]


async def test_bad_run_requests_are_refused_before_anything_is_written(h: Harness) -> None:
    with pytest.raises(commands.InvalidRunRequest, match="unknown state key"):
        await h.start(linear(1), {"bogus": 1})
    with pytest.raises(commands.InvalidRunRequest, match="recursion_limit"):
        await h.start(linear(1), {}, config={"recursion_limit": 0})
    with pytest.raises(commands.InvalidRunRequest, match="interrupt_before names unknown"):
        await h.start(linear(1), {}, interrupt_before=["ghost"])


# -- interrupts --------------------------------------------------------------------------------------


class Approval(TypedDict, total=False):
    draft: str
    decision: str
    log: Annotated[list[str], operator.add]


def approval_graph() -> CompiledGraph:
    def write(s: Approval) -> Approval:
        return {"draft": "hello world", "log": ["write"]}

    def review(s: Approval) -> Approval:
        answer = interrupt({"question": "approve?", "draft": s["draft"]})
        second = interrupt("are you sure?") if answer == "yes" else "n/a"
        return {"decision": f"{answer}/{second}", "log": ["review"]}

    g = StateGraph(Approval)
    g.add_node("write", write)
    g.add_node("review", review)
    g.add_edge(START, "write")
    g.add_edge("write", "review")
    g.add_edge("review", END)
    return g.compile(name="approval")


async def test_interrupt_pauses_and_resume_continues_exactly_there(h: Harness) -> None:
    graph = approval_graph()
    run_id, state = await h.run(graph, {})
    assert state.status is RunStatus.INTERRUPTED
    assert state.interrupts[0]["value"] == {"question": "approve?", "draft": "hello world"}
    assert state.values["log"] == ["write"]
    with pytest.raises(InvalidTransition, match="is interrupted"):
        await h.append(run_id, state.version, [NewEvent(ev.RUN_COMPLETED, {})]) if False else fold(
            [*await h.events(run_id), _fake(state, ev.NODE_COMPLETED)]
        )
    await h.resume(run_id, "yes")
    state = await h.executor(graph, run_id).run()
    assert state.status is RunStatus.INTERRUPTED
    assert state.interrupts[0]["value"] == "are you sure?"
    await h.resume(run_id, "certain")
    state = await h.executor(graph, run_id).run()
    assert state.status is RunStatus.SUCCESS
    assert state.values["decision"] == "yes/certain"
    assert state.values["log"] == ["write", "review"], "write did not run again"
    await assert_log_matches(h, run_id, state)


def _fake(state: RunState, type_: str) -> RecordedEvent:
    from datetime import UTC, datetime

    return RecordedEvent(
        10**9,
        f"run:{state.run_id}",
        state.version + 1,
        uuid.uuid4(),
        type_,
        {"task": "x", "node": "x"},
        {},
        datetime.now(UTC),
    )


async def test_resume_of_a_run_that_is_not_interrupted_is_refused(h: Harness) -> None:
    run_id, _ = await h.run(linear(1), {})
    with pytest.raises(InvalidTransition, match="is success"):
        await h.resume(run_id, "x")


async def test_interrupt_before_and_after(h: Harness) -> None:
    graph = linear(3, "stops")
    run_id, state = await h.run(graph, {"n": 0}, interrupt_before=["n1"], interrupt_after=["n2"])
    assert state.status is RunStatus.INTERRUPTED
    assert state.interrupts[0]["when"] == "before"
    assert state.values["log"] == ["n0"]
    await h.resume(run_id)
    state = await h.executor(graph, run_id).run()
    assert state.status is RunStatus.INTERRUPTED
    assert state.interrupts[0]["when"] == "after"
    assert state.values["log"] == ["n0", "n1", "n2"]
    await h.resume(run_id)
    state = await h.executor(graph, run_id).run()
    assert state.status is RunStatus.SUCCESS
    assert state.values["n"] == 3
    await assert_log_matches(h, run_id, state)


# -- subgraphs ---------------------------------------------------------------------------------------


def nested_graph() -> CompiledGraph:
    class Inner(TypedDict, total=False):
        log: Annotated[list[str], operator.add]
        note: str

    inner = StateGraph(Inner)
    inner.add_node("i1", lambda s: {"log": ["i1"]})

    def ask(s: Inner) -> Inner:
        return {"log": [f"i2:{interrupt('inner question')}"], "note": "private"}

    inner.add_node("i2", ask)
    inner.add_edge(START, "i1")
    inner.add_edge("i1", "i2")
    inner.add_edge("i2", END)
    g = StateGraph(Counted)
    g.add_node("before", lambda s: {"log": ["before"]})
    g.add_node("sub", inner.compile(name="inner"))
    g.add_node("after", lambda s: {"log": ["after"]})
    g.add_edge(START, "before")
    g.add_edge("before", "sub")
    g.add_edge("sub", "after")
    g.add_edge("after", END)
    return g.compile(name="outer")


async def test_subgraph_events_are_namespaced_and_interrupts_bubble(h: Harness) -> None:
    graph = nested_graph()
    run_id, state = await h.run(graph, {})
    assert state.status is RunStatus.INTERRUPTED
    assert state.interrupts[0]["value"] == "inner question"
    await h.resume(run_id, "answer")
    state = await h.executor(graph, run_id).run()
    assert state.status is RunStatus.SUCCESS, state.error
    assert state.values["log"] == ["before", "i1", "i2:answer", "after"]
    assert "note" not in state.values, "a key the parent does not have stays in the subgraph"
    events = await h.events(run_id)
    inner = [e for e in events if e.data.get("ns")]
    assert {e.data["ns"] for e in inner} == {"sub:1.0:1|"}  # node:task:attempt
    assert [e.data["node"] for e in inner if e.type == ev.NODE_COMPLETED] == ["i1", "i2"]
    # i1 ran once, even though the subgraph node was run twice (before and after the interrupt).
    await assert_log_matches(h, run_id, state)


# -- cancellation, deadlines, crashes -------------------------------------------------------------------


async def test_cancel_request_stops_a_running_node(h: Harness) -> None:
    started = asyncio.Event()

    async def long(s: Counted) -> Counted:
        started.set()
        await asyncio.sleep(30)
        return {}

    g = StateGraph(Counted)
    g.add_node("long", long)
    g.add_edge(START, "long")
    g.add_edge("long", END)
    graph = g.compile(name="long")
    run_id = await h.start(graph, {})
    executor = h.executor(graph, run_id)
    task = asyncio.create_task(executor.run())
    await asyncio.wait_for(started.wait(), 5)
    await h.cancel(run_id)  # the log says so; the worker hears it (here: directly)
    executor.request_cancel()
    state = await asyncio.wait_for(task, 5)
    assert state.status is RunStatus.CANCELLED
    assert (await h.folded(run_id)).status is RunStatus.CANCELLED


async def test_cancel_noticed_at_the_next_commit(h: Harness) -> None:
    gate = asyncio.Event()

    async def first(s: Counted) -> Counted:
        await gate.wait()
        return {"log": ["first"]}

    g = StateGraph(Counted)
    g.add_node("first", first)
    g.add_node("second", lambda s: {"log": ["second"]})
    g.add_edge(START, "first")
    g.add_edge("first", "second")
    g.add_edge("second", END)
    graph = g.compile(name="late_cancel")
    run_id = await h.start(graph, {})
    task = asyncio.create_task(h.executor(graph, run_id).run())
    for _ in range(500):  # until the executor has started the run
        if (await h.folded(run_id)).status is RunStatus.RUNNING:
            break
        await asyncio.sleep(0.01)
    await h.cancel(run_id)  # no notification: the executor's next commit conflicts
    gate.set()
    state = await asyncio.wait_for(task, 5)
    assert state.status is RunStatus.CANCELLED
    assert "second" not in (await h.folded(run_id)).values.get("log", [])


async def test_cancel_before_start_needs_no_worker(h: Harness) -> None:
    graph = linear(2, "never")
    run_id = await h.start(graph, {})
    await h.cancel(run_id)
    state = await h.executor(graph, run_id).run()
    assert state.status is RunStatus.CANCELLED
    assert not [e for e in await h.events(run_id) if e.type == ev.NODE_COMPLETED]


async def test_run_timeout(h: Harness) -> None:
    async def slow(s: Counted) -> Counted:
        await asyncio.sleep(10)
        return {}

    g = StateGraph(Counted)
    g.add_node("slow", slow)
    g.add_edge(START, "slow")
    g.add_edge("slow", END)
    _, state = await h.run(g.compile(name="deadline"), {}, config={"timeout": 0.3})
    assert state.status is RunStatus.TIMEOUT
    assert state.error is not None
    assert "timeout of 0.3s" in state.error["message"]


async def test_crash_mid_node_reruns_only_the_node_in_flight(h: Harness) -> None:
    executions: Counter[str] = Counter()
    keys: dict[str, set[str]] = {}
    hang = asyncio.Event()

    def make(name: str) -> Any:
        async def node(s: Counted) -> Counted:
            executions[name] += 1
            keys.setdefault(name, set()).add(get_context().idempotency_key)
            if name == "n2" and executions[name] == 1:
                hang.set()
                await asyncio.sleep(30)  # the worker "dies" here
            return {"log": [name]}

        return node

    g = StateGraph(Counted)
    prev = START
    for name in ("n0", "n1", "n2", "n3"):
        g.add_node(name, make(name))
        g.add_edge(prev, name)
        prev = name
    g.add_edge(prev, END)
    graph = g.compile(name="crash")
    run_id = await h.start(graph, {})
    first = asyncio.create_task(h.executor(graph, run_id).run())
    await asyncio.wait_for(hang.wait(), 5)
    first.cancel()  # like kill -9: no more writes from this executor
    with pytest.raises(asyncio.CancelledError):
        await first
    state = await h.executor(graph, run_id).run()  # "another worker"
    assert state.status is RunStatus.SUCCESS
    assert state.values["log"] == ["n0", "n1", "n2", "n3"]
    assert executions == Counter({"n0": 1, "n1": 1, "n2": 2, "n3": 1})
    assert len(keys["n2"]) == 1, "the re-executed node saw the same idempotency key"
    started = [e.data["attempt"] for e in await h.events(run_id) if e.type == ev.RUN_STARTED]
    assert started == [1, 2]


async def test_stream_writer_and_live_events(h: Harness) -> None:
    def chatty(s: Counted) -> Counted:
        write = get_stream_writer()
        write({"progress": 0.5})
        write({"progress": 1.0})
        return {}

    g = StateGraph(Counted)
    g.add_node("chatty", chatty)
    g.add_edge(START, "chatty")
    g.add_edge("chatty", END)
    run_id, _ = await h.run(g.compile(name="chatty"), {})
    kinds = [(k, p.get("node")) for r, k, p in h.live if r == run_id]
    assert ("node_started", "chatty") in kinds
    custom = [p["payload"] for r, k, p in h.live if r == run_id and k == "custom"]
    assert custom == [{"progress": 0.5}, {"progress": 1.0}]
    assert not [e for e in await h.events(run_id) if "progress" in str(e.data)], (
        "custom events are not stored"
    )


# -- threads, forks, replay ------------------------------------------------------------------------------


async def test_thread_continuation_stores_only_deltas(h: Harness) -> None:
    graph = linear(2, "turns")
    thread = str(uuid.uuid4())
    first, _ = await h.run(graph, {"n": 10}, thread_id=thread)
    seq = (await h.events(first))[-1].seq
    second, state2 = await h.run(
        graph, None, thread_id=thread, base={"run_id": first, "seq": seq, "mode": "continue"}
    )
    assert state2.values == {"n": 14, "log": ["n0", "n1", "n0", "n1"]}
    created = (await h.events(second))[0]
    assert created.data.get("input") is None, "the new run does not copy the thread's state"
    await assert_log_matches(h, second, state2)


async def test_fork_from_an_event_with_an_update(h: Harness) -> None:
    graph = linear(4, "forkable")
    run_id, _ = await h.run(graph, {"n": 0})
    events = await h.events(run_id)
    # Right after n1 completed (and step 2 was planned): state n=2, log [n0, n1].
    point = next(e for e in events if e.type == ev.NODE_COMPLETED and e.data["node"] == "n1")
    fork_id = await h.start(
        graph, None, base={"run_id": run_id, "seq": point.seq, "mode": "fork"}, update={"n": 100}
    )
    state = await h.executor(graph, fork_id).run()
    assert state.status is RunStatus.SUCCESS
    assert state.values == {"n": 102, "log": ["n0", "n1", "n2", "n3"]}
    forked_nodes = [e.data["node"] for e in await h.events(fork_id) if e.type == ev.NODE_COMPLETED]
    assert forked_nodes == ["n2", "n3"], "the fork continued exactly where its source was"


async def test_reexecution_finds_the_first_divergence(h: Harness) -> None:
    graph = linear(4, "replayed")
    run_id, _ = await h.run(graph, {"n": 0})
    events = await h.events(run_id)
    report = await reexecute(graph.spec, events)
    assert report.identical
    assert report.tasks_checked == 4

    g = StateGraph(Counted)
    prev = START
    for i in range(4):
        behaviour = (
            (lambda s: {"n": s.get("n", 0) + 10, "log": ["n2"]})
            if i == 2
            else (lambda s, i=i: {"n": s.get("n", 0) + 1, "log": [f"n{i}"]})
        )
        g.add_node(f"n{i}", behaviour)
        g.add_edge(prev, f"n{i}")
        prev = f"n{i}"
    g.add_edge(prev, END)
    changed = g.compile(name="replayed")
    report = await reexecute(changed.spec, events)
    assert not report.identical
    d = report.divergence
    assert d is not None
    assert (d.step, d.node, d.field) == (2, "n2", "update")
    assert d.expected["n"] == 3
    assert d.actual["n"] == 12
    assert report.to_json()["divergence"]["node"] == "n2"


async def test_state_at_any_event(h: Harness) -> None:
    graph = linear(3, "scrub")
    run_id, _ = await h.run(graph, {"n": 0})
    events = await h.events(run_id)
    from duragraph_lab.domain.run import state_at

    history = [state_at(events, e.seq).values.get("n") for e in events]
    # n grows by one at each step boundary, never decreases, ends at 3.
    assert history == sorted(history)
    assert history[-1] == 3
    assert history[0] == 0


async def test_live_events_from_a_sync_node_running_in_a_thread(h: Harness) -> None:
    def sync_chatty(s: Counted) -> Counted:
        get_stream_writer()({"from": "a thread"})
        return {}

    g = StateGraph(Counted)
    g.add_node("sync_chatty", sync_chatty)
    g.add_edge(START, "sync_chatty")
    g.add_edge("sync_chatty", END)
    run_id, state = await h.run(g.compile(name="sync_chatty"), {})
    assert state.status is RunStatus.SUCCESS, state.error
    await asyncio.sleep(0.05)  # handed to the loop: delivered on its next turn
    assert [p["payload"] for r, k, p in h.live if r == run_id and k == "custom"] == [{"from": "a thread"}]


# -- regressions from review ----------------------------------------------------------------------


def extend_in_place(current: list[str], update: list[str]) -> list[str]:
    current.extend(update)  # a reducer that mutates its first argument, as users write them
    return current


class Mutating(TypedDict, total=False):
    items: Annotated[list[str], extend_in_place]
    seen: list[str]


async def test_in_place_reducers_and_mutated_inputs_never_diverge_from_the_log(h: Harness) -> None:
    def mutate(s: Mutating) -> Mutating:
        s["items"].append("sneaky")  # changes its input in place, then returns an update
        return {"items": ["x"], "seen": list(s["items"])}

    g = StateGraph(Mutating)
    g.add_node("mutate", mutate)
    g.add_node("after", lambda s: {"seen": list(s["items"])})
    g.add_edge(START, "mutate")
    g.add_edge("mutate", "after")
    g.add_edge("after", END)
    run_id, state = await h.run(g.compile(name="mutating"), {"items": ["i"]})
    assert state.values["items"] == ["i", "x"], "the reducer ran once, on an untouched value"
    assert state.values["seen"] == ["i", "x"], "the next node saw the state the log records"
    await assert_log_matches(h, run_id, state)


async def test_a_node_leaking_cancelled_error_fails_instead_of_looping(h: Harness) -> None:
    calls: Counter[str] = Counter()

    async def leaky(s: Counted) -> Counted:
        calls["leaky"] += 1
        inner = asyncio.create_task(asyncio.sleep(10))
        inner.cancel()
        await inner  # raises CancelledError into the node
        return {}

    g = StateGraph(Counted)
    g.add_node("leaky", leaky)
    g.add_edge(START, "leaky")
    g.add_edge("leaky", END)
    _, state = await asyncio.wait_for(h.run(g.compile(name="leaky"), {}), 10)
    assert state.status is RunStatus.ERROR
    assert state.error is not None
    assert state.error["type"] == "CancelledError"
    assert calls["leaky"] == 1


async def test_a_final_failure_is_committed_with_the_run_failure(h: Harness) -> None:
    g = StateGraph(Counted)
    g.add_node("bad", lambda s: 1 / 0)
    g.add_edge(START, "bad")
    g.add_edge("bad", END)
    run_id, _ = await h.run(g.compile(name="div0"), {})
    events = await h.events(run_id)
    failed, ended = events[-2], events[-1]
    assert (failed.type, ended.type) == (ev.NODE_FAILED, ev.RUN_FAILED)
    if h.database_url is not None:
        with psycopg.connect(h.database_url) as conn:
            xmins = conn.execute(
                "SELECT xmin::text FROM duragraph.events WHERE seq IN (%s, %s)", (failed.seq, ended.seq)
            ).fetchall()
        assert len({x for (x,) in xmins}) == 1, "one transaction"


async def test_subgraph_retry_runs_the_subgraph_again(h: Harness) -> None:
    calls: Counter[str] = Counter()

    class Inner(TypedDict, total=False):
        log: Annotated[list[str], operator.add]

    def flaky(s: Inner) -> Inner:
        calls["flaky"] += 1
        if calls["flaky"] == 1:
            raise ConnectionError("first try fails")
        return {"log": ["inner ok"]}

    inner = StateGraph(Inner)
    inner.add_node("flaky", flaky)
    inner.add_edge(START, "flaky")
    inner.add_edge("flaky", END)
    g = StateGraph(Counted)
    g.add_node(
        "sub", inner.compile(name="inner_flaky"), retry=RetryPolicy(initial_interval=0.01, jitter=False)
    )
    g.add_edge(START, "sub")
    g.add_edge("sub", END)
    run_id, state = await h.run(g.compile(name="outer_retry"), {})
    assert state.status is RunStatus.SUCCESS, state.error
    assert state.values["log"] == ["inner ok"]
    assert calls["flaky"] == 2
    await assert_log_matches(h, run_id, state)


async def test_resume_by_id_leaves_unnamed_interrupts_pending(h: Harness) -> None:
    def ask(name: str) -> Any:
        def node(s: Counted) -> Counted:
            return {"log": [f"{name}:{interrupt(name)}"]}

        return node

    g = StateGraph(Counted)
    g.add_node("a", ask("a"))
    g.add_node("b", ask("b"))
    g.add_edge(START, "a")
    g.add_edge(START, "b")
    g.add_edge("a", END)
    g.add_edge("b", END)
    graph = g.compile(name="two_questions")
    run_id, state = await h.run(graph, {})
    ids = {i["value"]: i["id"] for i in state.interrupts}
    assert set(ids) == {"a", "b"}
    with pytest.raises(commands.InvalidRunRequest, match="2 interrupts are pending"):
        await h.resume(run_id, "ambiguous")
    await h.resume(run_id, by_id={ids["b"]: "B"})
    state = await h.executor(graph, run_id).run()
    assert state.status is RunStatus.INTERRUPTED
    assert [i["value"] for i in state.interrupts] == ["a"], "a was not answered: it asks again"
    await h.resume(run_id, "A")
    state = await h.executor(graph, run_id).run()
    assert state.status is RunStatus.SUCCESS
    assert sorted(state.values["log"]) == ["a:A", "b:B"]


async def test_run_timeout_does_not_count_time_waiting_for_a_human(h: Harness) -> None:
    graph = approval_graph()
    run_id, state = await h.run(graph, {}, config={"timeout": 1.0})
    assert state.status is RunStatus.INTERRUPTED
    await asyncio.sleep(1.2)  # longer than the timeout, but nobody was executing
    await h.resume(run_id, "no")
    state = await h.executor(graph, run_id).run()
    assert state.status is RunStatus.SUCCESS, state.error


async def test_command_routing_into_a_parent_graph_is_refused_clearly(h: Harness) -> None:
    from duragraph_lab.graph.types import PARENT

    g = StateGraph(Counted)
    g.add_node("c", lambda s: Command(graph=PARENT, goto="elsewhere"), destinations=[END])
    g.add_edge(START, "c")
    _, state = await h.run(g.compile(name="parent_goto"), {})
    assert state.status is RunStatus.ERROR
    assert state.error is not None
    assert "routing into a parent graph is not supported" in state.error["message"]


async def test_model_calls_before_an_interrupt_are_replayed_on_resume(h: Harness) -> None:
    from duragraph_lab.llm import ScriptedChatModel

    model = ScriptedChatModel(responses=["draft one", "final"], token_delay=0)

    async def write_then_ask(s: Counted) -> Counted:
        draft = await model.ainvoke([{"type": "human", "content": "write"}])
        answer = interrupt({"draft": draft["content"]})
        final = await model.ainvoke([{"type": "human", "content": f"finish {answer}"}])
        return {"log": [draft["content"], str(answer), final["content"]]}

    g = StateGraph(Counted)
    g.add_node("write", write_then_ask)
    g.add_edge(START, "write")
    g.add_edge("write", END)
    graph = g.compile(name="replay_on_resume")
    run_id, state = await h.run(graph, {})
    assert state.interrupts[0]["value"] == {"draft": "draft one"}
    assert len(state.interrupts[0]["model_calls"]) == 1
    await h.resume(run_id, "ok")
    state = await h.executor(graph, run_id).run()
    # The first call was answered from the log: the scripted model was asked only twice in all.
    assert state.values["log"] == ["draft one", "ok", "final"]
    report = await reexecute(graph.spec, await h.events(run_id))
    assert report.identical, report.to_json()


async def test_interrupt_after_does_not_escape_the_recursion_limit(h: Harness) -> None:
    graph = linear(3, "limited")
    _, state = await h.run(graph, {"n": 0}, interrupt_after=["n0"], config={"recursion_limit": 1})
    assert state.status is RunStatus.ERROR
    assert state.error is not None
    assert state.error["type"] == "GraphRecursionError"
    assert state.values["log"] == ["n0"]


async def test_subgraph_node_timeout(h: Harness) -> None:
    class Inner(TypedDict, total=False):
        log: Annotated[list[str], operator.add]

    async def slow(s: Inner) -> Inner:
        await asyncio.sleep(5)
        return {}

    inner = StateGraph(Inner)
    inner.add_node("slow", slow)
    inner.add_edge(START, "slow")
    inner.add_edge("slow", END)
    g = StateGraph(Counted)
    g.add_node("sub", inner.compile(name="slow_inner"), timeout=0.2)
    g.add_edge(START, "sub")
    g.add_edge("sub", END)
    _, state = await asyncio.wait_for(h.run(g.compile(name="slow_outer"), {}), 10)
    assert state.status is RunStatus.ERROR
    assert state.error is not None
    assert state.error["type"] == "NodeTimeoutError"
