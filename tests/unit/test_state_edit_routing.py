"""An edit made with the graph's code (LangGraph's ``update_state``): applied as if ``as_node``
had just completed — its reducers applied, the step its edges and routers lead to planned and
recorded — and what a run with no input then executes. The real engine on a memory journal."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from duragraph_lab.domain.envelope import NewEvent
from duragraph_lab.domain.run import RunState, RunStatus, fold
from duragraph_lab.engine import commands
from duragraph_lab.engine.commands import InvalidRunRequest
from duragraph_lab.engine.edits import AMBIGUOUS, edit_event
from duragraph_lab.engine.executor import RunExecutor
from duragraph_lab.engine.memory import MemoryJournal
from tests.api_graphs import routed

SPEC = routed.spec


def _run(
    journal: MemoryJournal, events: list[NewEvent] | None = None, **created: Any
) -> tuple[str, RunState]:
    run_id = commands.new_id()
    first = commands.run_created(
        run_id=run_id,
        thread_id="t",
        graph_id="routed",
        assistant_id=None,
        channels=SPEC.channels,
        nodes=list(SPEC.nodes),
        **created,
    )
    journal.append(f"{run_id}", 0, [first, *(events or [])])
    return run_id, asyncio.run(RunExecutor(SPEC, journal, run_id).run())


def _state(journal: MemoryJournal, run_id: str, base: RunState | None = None) -> RunState:
    return fold(asyncio.run(journal.read(run_id)), base)


def test_as_node_routes_through_its_router_on_the_edited_state_and_a_fork_runs_next() -> None:
    journal = MemoryJournal()
    run_id, done = _run(journal, input={"n": 0})
    assert done.status is RunStatus.SUCCESS and done.values["log"] == ["a", "b", "d"]
    assert done.last_writers == ["d"]

    event = asyncio.run(edit_event(SPEC, done, {"n": 50, "high": 3}, "a"))
    assert event.data["as_node"] == "a" and event.data["reduced"] == ["high"]
    assert event.data["values"] == {"n": 50, "high": 5}  # keep_max(5, 3): the reducer's result
    assert [t["node"] for t in event.data["next"]["tasks"]] == ["c"]  # the router on n=50
    journal.append(run_id, done.version, [event])
    edited = _state(journal, run_id)
    assert edited.status is RunStatus.SUCCESS and [t.node for t in edited.pending_tasks] == ["c"]
    assert edited.values["n"] == 50 and edited.last_writers == ["a"]

    # A run with no input on the thread: a fork of the edited run executes what is next.
    _, after = _run(journal, base={"run_id": run_id, "seq": edited.last_seq, "mode": "fork"})
    assert after.status is RunStatus.SUCCESS and after.values["log"] == ["a", "b", "d", "c"]


def test_static_edges_end_and_the_last_writer_when_as_node_is_omitted() -> None:
    journal = MemoryJournal()
    _, done = _run(journal, input={"n": 0})
    static = asyncio.run(edit_event(SPEC, done, {}, "b"))
    assert [t["node"] for t in static.data["next"]["tasks"]] == ["d"]
    # Omitted: the node that wrote last (d), whose edge goes to END: nothing next.
    inferred = asyncio.run(edit_event(SPEC, done, {"n": 7}, None))
    assert inferred.data["as_node"] == "d" and "next" not in inferred.data
    with pytest.raises(InvalidRunRequest, match="not a node of the graph"):
        asyncio.run(edit_event(SPEC, done, {}, "nope"))


def test_two_nodes_that_wrote_together_make_an_edit_without_as_node_ambiguous() -> None:
    journal = MemoryJournal()
    run_id, paused = _run(journal, input={"n": 99}, interrupt_before=["d"])
    assert paused.status is RunStatus.INTERRUPTED and sorted(paused.last_writers) == ["b", "c"]
    with pytest.raises(InvalidRunRequest, match=AMBIGUOUS):
        asyncio.run(edit_event(SPEC, paused, {"n": 1}, None))

    # Named: c leads to END, so the paused step (d) is replaced by nothing; resuming ends the run.
    event = asyncio.run(edit_event(SPEC, paused, {"n": 1}, "c"))
    assert event.data["next"]["tasks"] == []
    journal.append(run_id, paused.version, [event])
    edited = _state(journal, run_id)
    assert edited.status is RunStatus.INTERRUPTED and edited.pending_tasks == [] and edited.interrupts == []
    journal.append(run_id, edited.version, commands.resume(edited, None, by_id={}))
    final = asyncio.run(RunExecutor(SPEC, journal, run_id).run())
    assert final.status is RunStatus.SUCCESS and "d" not in final.values["log"]


def test_an_interrupted_run_waits_before_the_new_next_step_and_a_resume_runs_it() -> None:
    journal = MemoryJournal()
    run_id, paused = _run(journal, input={"n": 0}, interrupt_before=["d"])
    assert [t.node for t in paused.pending_tasks] == ["d"]
    same = asyncio.run(edit_event(SPEC, paused, {"n": 3}, "b"))
    assert "next" not in same.data  # b leads to d, which is what was pending: left as it was

    event = asyncio.run(edit_event(SPEC, paused, {"n": 60}, "a"))
    journal.append(run_id, paused.version, [event])
    edited = _state(journal, run_id)
    assert [t.node for t in edited.pending_tasks] == ["c"]
    assert [(i["node"], i["when"]) for i in edited.interrupts] == [("c", "before")]
    journal.append(run_id, edited.version, commands.resume(edited, None, by_id={}))
    final = asyncio.run(RunExecutor(SPEC, journal, run_id).run())
    assert final.status is RunStatus.SUCCESS and final.values["log"] == ["a", "b", "c"]


def test_an_edit_request_mirrors_the_rest_of_the_edited_run_then_edits_or_refuses() -> None:
    journal = MemoryJournal()
    source_id, paused = _run(journal, input={"n": 99}, interrupt_before=["d"])
    base = {"run_id": source_id, "seq": paused.last_seq, "mode": "fork"}
    rest = {"status": "interrupted", "step": paused.step, "interrupts": paused.interrupts}
    request_id, refused = _run(journal, base=base, edit={"values": {"n": 1}, "as_node": None, "rest": rest})
    events = asyncio.run(journal.read(request_id))
    assert [e.type for e in events] == ["run_created", "run_started", "run_interrupted", "edit_refused"]
    assert AMBIGUOUS in events[-1].data["error"]["message"]
    assert refused.status is RunStatus.INTERRUPTED and refused.values == paused.values

    request_id, edited = _run(journal, base=base, edit={"values": {"n": 1}, "as_node": "b", "rest": rest})
    assert [e.type for e in asyncio.run(journal.read(request_id))][-1] == "state_updated"
    assert edited.status is RunStatus.INTERRUPTED and [t.node for t in edited.pending_tasks] == ["d"]
    assert edited.values["n"] == 1


def test_a_resumed_edit_request_run_executes_the_graph_not_the_edit_again() -> None:
    journal = MemoryJournal()
    source_id, paused = _run(journal, input={"n": 99}, interrupt_before=["d"])
    base = {"run_id": source_id, "seq": paused.last_seq, "mode": "fork"}
    rest = {"status": "interrupted", "step": paused.step, "interrupts": paused.interrupts}
    request_id, edited = _run(journal, base=base, edit={"values": {"n": 7}, "as_node": "b", "rest": rest})
    assert edited.edit_request is None and edited.values["n"] == 7
    journal.append(request_id, edited.version, commands.resume(edited, None, by_id={}))
    final = asyncio.run(RunExecutor(SPEC, journal, request_id).run())
    assert final.status is RunStatus.SUCCESS and final.values["log"][-1] == "d"
    assert [e.type for e in asyncio.run(journal.read(request_id))].count("state_updated") == 1
