"""The executor's lease discipline (Journal.check_lease), on a memory journal whose lease the
test ends at chosen moments: no node attempt starts once the lease deadline has passed."""

from __future__ import annotations

import operator
import uuid
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypedDict

import pytest

from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import NewEvent, RecordedEvent
from duragraph_lab.domain.run import RunStatus
from duragraph_lab.engine import commands
from duragraph_lab.engine.errors import LeaseLost
from duragraph_lab.engine.executor import RunExecutor
from duragraph_lab.engine.memory import MemoryJournal
from duragraph_lab.graph.compiled import CompiledGraph
from duragraph_lab.graph.context import get_context
from duragraph_lab.graph.state_graph import StateGraph
from duragraph_lab.graph.types import END, START, RetryPolicy


class Log(TypedDict, total=False):
    log: Annotated[list[str], operator.add]


class LeasedJournal(MemoryJournal):
    """A memory journal with a lease that ends when ``ends_after`` says so about a commit (the
    commit itself lands: its answer is what comes too late)."""

    def __init__(self, ends_after: Callable[[Sequence[NewEvent]], bool]) -> None:
        super().__init__()
        self.ends_after = ends_after
        self.expired = False
        self.checks = 0

    async def commit(
        self, run_id: str, expected_version: int, events: Sequence[NewEvent]
    ) -> list[RecordedEvent]:
        recorded = await super().commit(run_id, expected_version, events)
        if self.ends_after(events):
            self.expired = True
        return recorded

    def check_lease(self, run_id: str) -> None:
        self.checks += 1
        if self.expired:
            raise LeaseLost(f"the lease of run {run_id} expired")


def completes(node: str) -> Callable[[Sequence[NewEvent]], bool]:
    return lambda events: any(e.type == ev.NODE_COMPLETED and e.data["node"] == node for e in events)


def chain(names: Sequence[str], calls: list[str], **node_options: Any) -> CompiledGraph:
    g = StateGraph(Log)
    prev = START
    for name in names:

        def run(s: Log, name: str = name) -> Log:
            calls.append(f"{name}#{get_context().attempt}")
            return {"log": [name]}

        g.add_node(name, run, **node_options)
        g.add_edge(prev, name)
        prev = name
    g.add_edge(prev, END)
    return g.compile(name="chain")


async def start(journal: MemoryJournal, graph: CompiledGraph) -> str:
    run_id = str(uuid.uuid4())
    created = commands.run_created(
        run_id=run_id,
        thread_id=str(uuid.uuid4()),
        graph_id=graph.name,
        assistant_id=None,
        channels=graph.spec.channels,
        nodes=list(graph.spec.nodes),
        input={},
    )
    journal.append(run_id, 0, [created])
    return run_id


def types(journal: MemoryJournal, run_id: str) -> list[str]:
    return [e.type for e in journal.streams[run_id]]


async def test_a_commit_answered_after_the_deadline_starts_nothing_more() -> None:
    calls: list[str] = []
    graph = chain(["a", "b", "c"], calls)
    journal = LeasedJournal(completes("a"))
    run_id = await start(journal, graph)
    with pytest.raises(LeaseLost):
        await RunExecutor(graph.spec, journal, run_id).run()
    assert calls == ["a#1"], "b never started: another worker may have run it already"
    # a's result is in the log (the commit landed), with the next step's plan: another worker
    # continues from there.
    assert types(journal, run_id)[-2:] == [ev.NODE_COMPLETED, ev.STEP_PLANNED]


async def test_no_attempt_starts_after_a_retry_back_off_that_outlived_the_lease() -> None:
    calls: list[str] = []
    graph = StateGraph(Log)

    def flaky(s: Log) -> Log:
        calls.append(f"flaky#{get_context().attempt}")
        raise ConnectionError("the first attempt fails")

    graph.add_node("flaky", flaky, retry=RetryPolicy(max_attempts=3, initial_interval=0.01, jitter=False))
    graph.add_edge(START, "flaky")
    graph.add_edge("flaky", END)
    compiled = graph.compile(name="flaky")
    # The lease ends while the node waits for its second attempt (the failure's commit is the
    # last thing this worker hears in time).
    journal = LeasedJournal(lambda events: any(e.type == ev.NODE_FAILED for e in events))
    run_id = await start(journal, compiled)
    with pytest.raises(LeaseLost):
        await RunExecutor(compiled.spec, journal, run_id).run()
    assert calls == ["flaky#1"]
    assert types(journal, run_id)[-1] == ev.NODE_FAILED


async def test_a_run_picked_up_past_its_deadline_runs_nothing() -> None:
    calls: list[str] = []
    graph = chain(["a"], calls)
    journal = LeasedJournal(lambda events: False)
    run_id = await start(journal, graph)
    journal.expired = True  # the acquire's answer, or the log's read, came too late
    with pytest.raises(LeaseLost):
        await RunExecutor(graph.spec, journal, run_id).run()
    assert calls == []
    assert types(journal, run_id) == [ev.RUN_CREATED]


async def test_the_commit_that_ends_the_run_is_not_a_lost_lease() -> None:
    """Nothing is left to start after ``run_completed``: the run is done, however late the
    answer came."""
    calls: list[str] = []
    graph = chain(["a", "b"], calls)
    journal = LeasedJournal(lambda events: any(e.type == ev.RUN_COMPLETED for e in events))
    run_id = await start(journal, graph)
    state = await RunExecutor(graph.spec, journal, run_id).run()
    assert state.status is RunStatus.SUCCESS
    assert calls == ["a#1", "b#1"]


async def test_the_lease_is_checked_before_every_step_and_attempt() -> None:
    calls: list[str] = []
    graph = chain(["a", "b", "c"], calls)
    journal = LeasedJournal(lambda events: False)
    run_id = await start(journal, graph)
    await RunExecutor(graph.spec, journal, run_id).run()
    # Once on pick-up, then per commit that does not end the run (start + a + b), per step
    # (3) and per attempt (3).
    assert journal.checks == 1 + 3 + 3 + 3


async def test_the_memory_journal_holds_no_lease_to_lose() -> None:
    MemoryJournal().check_lease("any run")  # in-process runs cannot be taken over
