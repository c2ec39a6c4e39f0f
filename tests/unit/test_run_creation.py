"""How a run request starts, decided on the thread as it is (control/run_creation.py): the
multitask strategies, resumes, continuations and forks, without a database."""

from __future__ import annotations

from typing import Any

import pytest

from duragraph_lab.control.run_creation import (
    Checkpoint,
    Resume,
    RunCommand,
    RunRequest,
    ThreadHead,
    created_event,
    decide_start,
    new_run_appends,
    resume_events,
    resume_of,
)
from duragraph_lab.control.targets import Target
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.errors import NotFound, ThreadBusy
from duragraph_lab.domain.run import InvalidTransition, RunState, RunStatus, Task
from duragraph_lab.engine.commands import InvalidRunRequest

THREAD = "0195f0a4-0000-7000-8000-0000000000a1"
LATEST = "0195f0a4-0000-7000-8000-0000000000b1"
NEW = "0195f0a4-0000-7000-8000-0000000000c1"
TARGET = Target(
    assistant_id="0195f0a4-0000-7000-8000-0000000000d1",
    graph_id="g",
    config={"configurable": {"model": "a"}},
    context={},
    metadata={},
    channels={"n": "replace"},
    nodes=["a", "b"],
    interrupt_before=[],
    interrupt_after=["b"],
)


def latest(status: RunStatus, **fields: Any) -> RunState:
    known: dict[str, Any] = {"run_id": LATEST, "thread_id": THREAD, "graph_id": "g", "version": 7}
    return RunState(status=status, channels={"n": "replace"}, last_seq=70, **{**known, **fields})


def head(state: RunState | None = None, *, rolled_back: bool = False) -> ThreadHead:
    return ThreadHead(THREAD, 3, exists=True, latest=state, latest_rolled_back=rolled_back)


def test_an_unknown_multitask_strategy_is_refused() -> None:
    with pytest.raises(InvalidRunRequest, match="multitask_strategy must be one of"):
        RunRequest("g", multitask_strategy="queue")


def test_a_new_thread_starts_fresh_and_is_created_with_the_run() -> None:
    new_thread = ThreadHead(THREAD, 0, exists=False)
    start = decide_start(RunRequest("g", {"n": 1}), new_thread, NEW)
    assert (start.base, start.after_run, start.superseded) == (None, None, ())
    created = created_event(NEW, new_thread, TARGET, RunRequest("g", {"n": 1}, temporary=True), start)
    appends = new_run_appends(new_thread, start, NEW, created, temporary=True)
    assert [(stream, expected, [e.type for e in events]) for stream, expected, events in appends] == [
        (f"thread:{THREAD}", 0, [ev.THREAD_CREATED, ev.THREAD_RUN_ADDED]),
        (f"run:{NEW}", 0, [ev.RUN_CREATED]),
    ]
    assert appends[0][2][0].data == {"thread_id": THREAD, "metadata": {}, "temporary": True}
    assert created.data["new_thread"] is True, "no thread named: the id was made for this run"


def test_only_a_thread_made_for_the_run_is_marked_new() -> None:
    """A thread id a client named may hold checkpoints saved under it before the thread existed
    here (a checkpointer used directly): such a run is not marked, nor is one on a thread that
    exists."""
    named = RunRequest("g", {"n": 1}, thread_id=THREAD)
    fresh = ThreadHead(THREAD, 0, exists=False)
    created = created_event(NEW, fresh, TARGET, named, decide_start(named, fresh, NEW))
    assert "new_thread" not in created.data
    existing = head(latest(RunStatus.SUCCESS))
    created = created_event(NEW, existing, TARGET, named, decide_start(named, existing, NEW))
    assert "new_thread" not in created.data


def test_a_run_after_one_at_rest_continues_from_where_it_ended() -> None:
    start = decide_start(RunRequest("g", {"n": 1}), head(latest(RunStatus.SUCCESS)), NEW)
    assert start.base == {"run_id": LATEST, "seq": 70, "mode": "continue"}


def test_no_input_after_an_unfinished_step_runs_that_step_again() -> None:
    failed = latest(RunStatus.ERROR, tasks=[Task("t1", "a", 0)])
    start = decide_start(RunRequest("g"), head(failed), NEW)
    assert start.base == {"run_id": LATEST, "seq": 70, "mode": "fork"}
    assert decide_start(RunRequest("g", {"n": 2}), head(failed), NEW).base == {
        "run_id": LATEST,
        "seq": 70,
        "mode": "continue",
    }


def test_after_a_rolled_back_run_the_thread_goes_on_from_where_that_run_started() -> None:
    before = {"run_id": "0195f0a4-0000-7000-8000-0000000000e1", "seq": 12, "mode": "continue"}
    cancelled = latest(RunStatus.CANCELLED, base=before)
    assert decide_start(RunRequest("g", {"n": 1}), head(cancelled, rolled_back=True), NEW).base == before
    assert decide_start(RunRequest("g", {"n": 1}), head(cancelled), NEW).base == {
        "run_id": LATEST,
        "seq": 70,
        "mode": "continue",
    }


def test_reject_refuses_a_run_while_one_is_active() -> None:
    with pytest.raises(ThreadBusy, match="already has an active run"):
        decide_start(RunRequest("g", {"n": 1}), head(latest(RunStatus.RUNNING)), NEW)


def test_enqueue_waits_behind_the_active_run_and_starts_where_it_ends() -> None:
    start = decide_start(
        RunRequest("g", {"n": 1}, multitask_strategy="enqueue"), head(latest(RunStatus.RUNNING)), NEW
    )
    assert start.after_run == LATEST
    assert start.base == {"run_id": LATEST, "seq": None, "mode": "continue"}
    assert start.superseded == ()


@pytest.mark.parametrize("strategy", ["interrupt", "rollback"])
def test_interrupt_and_rollback_cancel_the_active_run_first(strategy: str) -> None:
    before = {"run_id": "0195f0a4-0000-7000-8000-0000000000e1", "seq": 12, "mode": "continue"}
    running = latest(RunStatus.RUNNING, base=before)
    start = decide_start(RunRequest("g", {"n": 1}, multitask_strategy=strategy), head(running), NEW)
    [(stream, expected, events)] = start.superseded
    assert (stream, expected) == (f"run:{LATEST}", 7), "at the version decided on"
    assert [e.type for e in events] == [ev.RUN_CANCEL_REQUESTED]
    assert events[0].data == {"reason": f"superseded by run {NEW} ({strategy})", "action": strategy}
    assert start.after_run == LATEST
    if strategy == "rollback":
        assert start.base == before, "from the state before the cancelled run"
    else:
        assert start.base == {"run_id": LATEST, "seq": None, "mode": "continue"}
    created = created_event(NEW, head(running), TARGET, RunRequest("g", {"n": 1}), start)
    appends = new_run_appends(head(running), start, NEW, created, temporary=False)
    assert [a[0] for a in appends] == [f"run:{LATEST}", f"thread:{THREAD}", f"run:{NEW}"], "lock order"


def test_new_input_on_a_thread_waiting_for_a_human_supersedes_it_only_when_asked() -> None:
    paused = latest(RunStatus.INTERRUPTED)
    with pytest.raises(ThreadBusy, match="resume or cancel it first"):
        decide_start(RunRequest("g", {"n": 1}), head(paused), NEW)
    start = decide_start(RunRequest("g", {"n": 1}, supersede_interrupted=True), head(paused), NEW)
    [(_, _, events)] = start.superseded
    assert [e.type for e in events] == [ev.RUN_CANCEL_REQUESTED, ev.RUN_CANCELLED]
    assert start.base == {"run_id": LATEST, "seq": None, "mode": "continue"}
    assert start.after_run is None


def test_a_checkpoint_forks_there_or_with_input_starts_fresh_from_it() -> None:
    source = latest(RunStatus.SUCCESS)
    request = RunRequest("g", checkpoint=Checkpoint(LATEST, 55), thread_id=THREAD)
    assert decide_start(request, head(source), NEW, source).base == {
        "run_id": LATEST,
        "seq": 55,
        "mode": "fork",
    }
    fresh = RunRequest("g", {"n": 1}, checkpoint=Checkpoint(LATEST, 55), thread_id=THREAD)
    assert decide_start(fresh, head(source), NEW, source).base == {
        "run_id": LATEST,
        "seq": 55,
        "mode": "continue",
    }
    elsewhere = RunState(run_id=LATEST, thread_id="0195f0a4-0000-7000-8000-0000000000f9")
    with pytest.raises(NotFound, match="is not in thread"):
        decide_start(request, head(source), NEW, elsewhere)


def test_a_resume_is_a_command_or_no_input_on_a_paused_thread() -> None:
    paused = head(latest(RunStatus.INTERRUPTED))
    command = RunCommand(resume="yes", has_resume=True)
    assert resume_of(RunRequest("g", command=command), head(latest(RunStatus.SUCCESS))) == Resume(command)
    assert resume_of(RunRequest("g"), paused) == Resume(RunCommand(has_resume=True), past_breakpoints=True)
    assert resume_of(RunRequest("g", {"n": 1}), paused) is None
    assert resume_of(RunRequest("g"), head(latest(RunStatus.SUCCESS))) is None


def test_resume_events_answer_the_interrupt_after_an_optional_edit() -> None:
    paused = latest(RunStatus.INTERRUPTED, interrupts=[{"id": "i1", "when": "during", "task": "t1"}])
    command = RunCommand(resume="yes", has_resume=True, update={"n": 5})
    events = resume_events(paused, Resume(command), TARGET, None)
    assert [(e.type, e.data) for e in events] == [
        (ev.STATE_UPDATED, {"values": {"n": 5}, "as_node": None}),
        (ev.RUN_RESUMED, {"resume": "yes"}),
    ]
    past = resume_events(paused, Resume(RunCommand(has_resume=True), past_breakpoints=True), TARGET, None)
    assert [(e.type, e.data) for e in past] == [(ev.RUN_RESUMED, {"resume": None, "by_id": {}})]


@pytest.mark.parametrize(
    ("state", "command", "checkpoint", "error", "message"),
    [
        (latest(RunStatus.INTERRUPTED), RunCommand(has_resume=True), Checkpoint(LATEST, 1), InvalidRunRequest, "drop the checkpoint"),
        (None, RunCommand(has_resume=True), None, InvalidTransition, "does not exist"),
        (latest(RunStatus.INTERRUPTED, deleted=True), RunCommand(has_resume=True), None, NotFound, "was deleted"),
        (latest(RunStatus.SUCCESS), RunCommand(has_resume=True), None, InvalidTransition, "is success"),
        (latest(RunStatus.INTERRUPTED), RunCommand(has_resume=True, goto=["a"]), None, InvalidRunRequest, "goto"),
        (latest(RunStatus.INTERRUPTED, graph_id="other"), RunCommand(has_resume=True), None, InvalidRunRequest, "of graph 'other'"),
    ],
)  # fmt: skip
def test_a_resume_that_cannot_be_is_refused_before_anything_is_written(
    state: RunState | None,
    command: RunCommand,
    checkpoint: Checkpoint | None,
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        resume_events(state, Resume(command), TARGET, checkpoint)


def test_the_created_run_carries_the_request_and_the_assistants_defaults() -> None:
    request = RunRequest(
        "g",
        {"n": 1},
        config={"configurable": {"user": "u"}},
        context={"tone": "dry"},
        after_seconds=2,
        kwargs={"stream_mode": ["values"]},
        multitask_strategy="enqueue",
    )
    start = decide_start(request, head(latest(RunStatus.RUNNING)), NEW)
    created = created_event(NEW, head(latest(RunStatus.RUNNING)), TARGET, request, start)
    data = created.data
    assert data["config"] == {"configurable": {"model": "a", "user": "u"}, "context": {"tone": "dry"}}
    assert (data["interrupt_before"], data["interrupt_after"]) == ([], ["b"]), "the graph's breakpoints"
    assert (data["after_run"], data["after_seconds"], data["kwargs"]) == (
        LATEST,
        2.0,
        {"stream_mode": ["values"]},
    )
    assert data["base"] == {"run_id": LATEST, "seq": None, "mode": "continue"}
