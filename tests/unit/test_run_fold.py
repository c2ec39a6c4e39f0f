"""Folding a run's event stream into a RunState: status machine, values at step boundaries,
interrupts and resumes, bases (continuations and forks), namespaces and point-in-time reads."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import RecordedEvent
from duragraph_lab.domain.run import (
    InvalidTransition,
    RunState,
    RunStatus,
    Task,
    TaskResult,
    check_transition,
    fold,
    state_at,
)

RUN_ID = "0195f0a4-0000-7000-8000-00000000a001"
NEXT_RUN_ID = "0195f0a4-0000-7000-8000-00000000a002"
T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
CHANNELS = {"name": "replace", "log": "add", "messages": "add_messages", "best": "custom"}

Spec = tuple[str, dict[str, Any]]


def recorded(specs: Sequence[Spec], *, run_id: str = RUN_ID, first_seq: int = 101) -> list[RecordedEvent]:
    """One run stream, by hand: versions count from 1, global seqs from ``first_seq``."""
    return [
        RecordedEvent(
            seq=first_seq + i,
            stream_id=f"run:{run_id}",
            version=i + 1,
            event_id=uuid.uuid4(),
            type=event_type,
            data=data,
            meta={},
            recorded_at=T0 + timedelta(seconds=i),
        )
        for i, (event_type, data) in enumerate(specs)
    ]


def created(
    input: Any = None, *, run_id: str = RUN_ID, base: dict[str, Any] | None = None, **extra: Any
) -> Spec:
    data: dict[str, Any] = {
        "run_id": run_id,
        "thread_id": "thread-1",
        "graph_id": "graph-1",
        "assistant_id": None,
        "channels": dict(CHANNELS),
        "input": input,
        "config": {"configurable": {"thread_id": "thread-1"}},
        "metadata": {},
        "interrupt_before": [],
        "interrupt_after": [],
        "recursion_limit": 25,
        "timeout": None,
        "base": base,
    }
    data.update(extra)
    return (ev.RUN_CREATED, data)


def started(attempt: int = 1, **extra: Any) -> Spec:
    return (ev.RUN_STARTED, {"attempt": attempt, "worker_id": "worker-1", "epoch": 7, **extra})


def task(task_id: str, node: str, index: int) -> dict[str, Any]:
    return {"id": task_id, "node": node, "index": index, "triggers": ["__start__"]}


def planned(step: int, *tasks: dict[str, Any], **extra: Any) -> Spec:
    return (ev.STEP_PLANNED, {"step": step, "tasks": list(tasks), **extra})


def completed(task_id: str, node: str, update: dict[str, Any], **extra: Any) -> Spec:
    return (ev.NODE_COMPLETED, {"task": task_id, "node": node, "update": update, "goto": [], **extra})


def done(**extra: Any) -> Spec:
    return (ev.RUN_COMPLETED, dict(extra))


# A whole successful run: two tasks in step 0 (finishing out of order), one in step 1.
HAPPY: list[Spec] = [
    created({"log": ["in"], "name": "start"}),
    started(),
    planned(0, task("t-a", "a", 0), task("t-b", "b", 1)),
    completed("t-b", "b", {"log": ["b"]}),
    completed("t-a", "a", {"log": ["a"], "name": "a"}),
    planned(1, task("t-c", "c", 0), custom_values={"best": 9}),
    completed("t-c", "c", {"log": ["c"]}),
    done(),
]


# -- run_created -----------------------------------------------------------------------------------


def test_run_created_applies_the_input_through_the_reducers_and_is_pending() -> None:
    state = fold(recorded([created({"log": ["in"], "name": "n", "messages": "hello"})]))

    assert state.status is RunStatus.PENDING
    assert state.values["log"] == ["in"]
    assert state.values["name"] == "n"
    assert [(m["type"], m["content"]) for m in state.values["messages"]] == [("human", "hello")]
    assert state.channels == CHANNELS
    assert state.step == -1
    assert state.tasks == []


def test_run_created_records_the_request() -> None:
    spec = created(
        {"name": "x"},
        interrupt_before=["a"],
        interrupt_after=["b"],
        recursion_limit=5,
        timeout=30.0,
        metadata={"who": "tests"},
    )

    state = fold(recorded([spec]))

    assert state.run_id == RUN_ID
    assert state.thread_id == "thread-1"
    assert state.graph_id == "graph-1"
    assert state.input == {"name": "x"}
    assert state.interrupt_before == ["a"]
    assert state.interrupt_after == ["b"]
    assert state.recursion_limit == 5
    assert state.timeout == 30.0
    assert state.metadata == {"who": "tests"}
    assert state.config == {"configurable": {"thread_id": "thread-1"}}
    assert state.created_at == T0
    assert state.version == 1
    assert state.last_seq == 101


def test_run_created_without_input_leaves_values_empty() -> None:
    assert fold(recorded([created(None)])).values == {}


def test_run_created_input_with_an_unknown_key_raises() -> None:
    with pytest.raises(ValueError, match="__input__ wrote unknown state key 'nope'"):
        fold(recorded([created({"nope": 1})]))


# -- steps and results -----------------------------------------------------------------------------


def test_run_started_marks_the_run_running_with_its_lease() -> None:
    state = fold(recorded(HAPPY[:2]))

    assert state.status is RunStatus.RUNNING
    assert state.attempt == 1
    assert state.worker_id == "worker-1"
    assert state.epoch == 7


def test_run_started_again_counts_another_lease() -> None:
    state = fold(recorded([created(), started(), (ev.RUN_STARTED, {"worker_id": "worker-2"})]))

    assert state.status is RunStatus.RUNNING
    assert state.attempt == 2
    assert state.worker_id == "worker-2"


def test_step_planned_sets_tasks_and_keeps_values_at_the_step_boundary() -> None:
    state = fold(recorded(HAPPY[:3]))

    assert state.step == 0
    assert [t.id for t in state.tasks] == ["t-a", "t-b"]
    assert [t.id for t in state.pending_tasks] == ["t-a", "t-b"]
    assert state.values == {"log": ["in"], "name": "start"}
    assert state.steps_run == 1


def test_node_completed_records_a_result_but_does_not_change_values() -> None:
    state = fold(recorded(HAPPY[:4]))

    assert state.results == {
        "t-b": TaskResult(task_id="t-b", node="b", update={"log": ["b"]}, goto=[], attempt=1, seq=104)
    }
    assert [t.id for t in state.pending_tasks] == ["t-a"]
    assert state.values == {"log": ["in"], "name": "start"}


def test_values_with_pending_applies_finished_tasks_in_task_order_not_completion_order() -> None:
    state = fold(recorded(HAPPY[:5]))

    assert state.values == {"log": ["in"], "name": "start"}
    assert state.values_with_pending() == {"log": ["in", "a", "b"], "name": "a"}


def test_step_planned_applies_the_previous_step_in_task_order_and_custom_values() -> None:
    state = fold(recorded(HAPPY[:6]))

    assert state.values == {"log": ["in", "a", "b"], "name": "a", "best": 9}
    assert state.step == 1
    assert [t.id for t in state.tasks] == ["t-c"]
    assert state.results == {}
    assert state.steps_run == 2


def test_step_planned_that_does_not_count_leaves_steps_run_alone() -> None:
    state = fold(recorded([*HAPPY[:3], planned(1, task("t-c", "c", 0), counts=False)]))

    assert state.steps_run == 1


def test_run_completed_applies_the_final_results() -> None:
    state = fold(recorded(HAPPY))

    assert state.status is RunStatus.SUCCESS
    assert state.status.terminal
    assert state.values == {"log": ["in", "a", "b", "c"], "name": "a", "best": 9}
    assert state.tasks == []
    assert state.results == {}
    assert state.version == len(HAPPY)
    assert state.last_seq == 100 + len(HAPPY)


def test_run_completed_applies_custom_values() -> None:
    specs = [*HAPPY[:-1], done(custom_values={"best": 11})]

    assert fold(recorded(specs)).values["best"] == 11


def test_a_run_completed_that_carries_adds_to_the_last_step_state_without_the_results() -> None:
    """A LangGraph run's end (since 2026-12-05): the last step_planned's state with what changed;
    the node results of the step are LangGraph's, already in what changed, not applied again."""
    specs = [
        created({"log": ["in"], "name": "start"}),
        started(),
        planned(0, task("t-a", "a", 0), custom_values={"log": ["in"], "name": "start"}),
        # What the node returned, as the update shows it; LangGraph's reducers made "a" of it.
        completed("t-a", "a", {"log": ["raw"], "name": "raw"}),
        done(custom_values={"name": "a"}, carry=True, appended={"log": ["a"]}),
    ]

    state = fold(recorded(specs))

    assert state.status is RunStatus.SUCCESS
    assert state.values == {"log": ["in", "a"], "name": "a"}
    assert state.results == {}
    # The same end written by the factory.
    end = ev.run_completed(custom_values={"name": "a"}, appended={"log": ["a"]})
    assert end.data == {"custom_values": {"name": "a"}, "carry": True, "appended": {"log": ["a"]}}


def test_two_tasks_writing_a_replace_key_in_one_step_fail_the_fold() -> None:
    specs = [
        *HAPPY[:3],
        completed("t-a", "a", {"name": "from a"}),
        completed("t-b", "b", {"name": "from b"}),
        planned(1, task("t-c", "c", 0)),
    ]

    with pytest.raises(ValueError, match="state key 'name' was written by both a and b"):
        fold(recorded(specs))


def test_node_failed_counts_failed_attempts_per_task_until_the_next_step() -> None:
    failed = (ev.NODE_FAILED, {"task": "t-a", "node": "a", "error": {"type": "ValueError"}})
    specs = [*HAPPY[:3], failed, failed, (ev.NODE_FAILED, {"task": "t-b", "node": "b"})]

    state = fold(recorded(specs))
    after_step = fold(recorded([*specs, planned(1, task("t-c", "c", 0))]))

    assert state.failed_attempts == {"t-a": 2, "t-b": 1}
    assert after_step.failed_attempts == {}


def test_unknown_event_types_are_tolerated_but_advance_the_version() -> None:
    state = fold(recorded([*HAPPY[:3], ("custom_note", {"text": "hi"})]))

    assert state.status is RunStatus.RUNNING
    assert state.version == 4


def test_fold_does_not_keep_references_to_event_data() -> None:
    events = recorded(HAPPY)

    state = fold(events)
    state.values["log"].append("mutated")

    assert fold(events).values["log"] == ["in", "a", "b", "c"]


# -- interrupts and resumes ------------------------------------------------------------------------


def _interrupted(*interrupts: dict[str, Any]) -> Spec:
    return (ev.RUN_INTERRUPTED, {"step": 0, "interrupts": list(interrupts)})


def _during(task_id: str, interrupt_id: str, value: Any = "?") -> dict[str, Any]:
    return {"when": "during", "task": task_id, "id": interrupt_id, "value": value, "ns": ""}


def _resumed(resume: Any = None, by_id: dict[str, Any] | None = None) -> Spec:
    data: dict[str, Any] = {"resume": resume}
    if by_id:
        data["by_id"] = by_id
    return (ev.RUN_RESUMED, data)


def test_run_interrupted_records_the_interrupts() -> None:
    state = fold(recorded([*HAPPY[:3], _interrupted(_during("t-a", "i-1", "approve?"))]))

    assert state.status is RunStatus.INTERRUPTED
    assert not state.status.terminal
    assert state.interrupts == [_during("t-a", "i-1", "approve?")]


def test_run_resumed_by_id_answers_only_the_named_interrupts() -> None:
    specs = [
        *HAPPY[:3],
        _interrupted(_during("t-a", "i-1"), _during("t-b", "i-2")),
        _resumed("ignored", by_id={"i-2": "no"}),
    ]

    state = fold(recorded(specs))

    assert state.status is RunStatus.RUNNING
    assert state.interrupts == []
    # t-a was not answered: when it runs again, its interrupt() asks again.
    assert state.resumes == {"t-b": ["no"]}


def test_run_resumed_with_a_bare_value_answers_every_task() -> None:
    specs = [*HAPPY[:3], _interrupted(_during("t-a", "i-1")), _resumed("yes")]

    assert fold(recorded(specs)).resumes == {"t-a": ["yes"]}


def test_a_second_interrupt_of_the_same_task_appends_another_resume_value() -> None:
    specs = [
        *HAPPY[:3],
        _interrupted(_during("t-a", "i-1")),
        _resumed("first"),
        _interrupted(_during("t-a", "i-3")),
        _resumed("second"),
    ]

    assert fold(recorded(specs)).resumes == {"t-a": ["first", "second"]}


def test_resume_values_are_cleared_by_the_next_step() -> None:
    specs = [
        *HAPPY[:3],
        _interrupted(_during("t-a", "i-1")),
        _resumed("yes"),
        planned(1, task("t-c", "c", 0)),
    ]

    assert fold(recorded(specs)).resumes == {}


def test_resuming_a_before_interrupt_lets_the_step_pass() -> None:
    before = {"when": "before", "nodes": ["a", "b"], "id": "b-0", "ns": ""}
    specs = [*HAPPY[:3], _interrupted(before), _resumed(None)]

    state = fold(recorded(specs))

    assert state.passed_before == 0
    assert state.resumes == {}
    assert state.status is RunStatus.RUNNING


def test_an_after_interrupt_resumes_without_resume_values() -> None:
    after = {"when": "after", "nodes": ["a"], "id": "a-0", "ns": ""}
    state = fold(recorded([*HAPPY[:3], _interrupted(after), _resumed("ignored")]))

    assert state.resumes == {}
    assert state.passed_before is None


# -- failure, cancellation, timeout ----------------------------------------------------------------


def test_run_failed_keeps_the_error() -> None:
    error = {"type": "ValueError", "message": "boom", "node": "a"}

    state = fold(recorded([*HAPPY[:3], (ev.RUN_FAILED, {"error": error})]))

    assert state.status is RunStatus.ERROR
    assert state.status.terminal
    assert state.error == error


def test_run_failed_is_allowed_on_a_pending_run() -> None:
    state = fold(recorded([created(), (ev.RUN_FAILED, {"error": {"type": "Lost"}})]))

    assert state.status is RunStatus.ERROR


def test_run_timed_out_without_an_error_gets_a_default_one() -> None:
    state = fold(recorded([*HAPPY[:3], (ev.RUN_TIMED_OUT, {})]))

    assert state.status is RunStatus.TIMEOUT
    assert state.error == {"type": "RunTimeout"}


def test_cancel_requested_keeps_the_run_running_until_cancelled() -> None:
    requested = (ev.RUN_CANCEL_REQUESTED, {"reason": "stop"})
    cancelled = (ev.RUN_CANCELLED, {"reason": "stop"})

    asked = fold(recorded([*HAPPY[:3], requested]))
    stopped = fold(recorded([*HAPPY[:3], requested, cancelled]))

    assert asked.status is RunStatus.RUNNING
    assert asked.cancel_requested is True
    assert stopped.status is RunStatus.CANCELLED
    assert stopped.status.terminal


def test_cancelling_an_interrupted_run_clears_its_interrupts() -> None:
    specs = [
        *HAPPY[:3],
        _interrupted(_during("t-a", "i-1")),
        (ev.RUN_CANCEL_REQUESTED, {"reason": "stop"}),
        (ev.RUN_CANCELLED, {"reason": "stop"}),
    ]

    state = fold(recorded(specs))

    assert state.status is RunStatus.CANCELLED
    assert state.interrupts == []


# -- invalid transitions ---------------------------------------------------------------------------

_SUCCESS = HAPPY
_INTERRUPTED = [*HAPPY[:3], _interrupted(_during("t-a", "i-1"))]
_CANCELLED = [*HAPPY[:3], (ev.RUN_CANCEL_REQUESTED, {}), (ev.RUN_CANCELLED, {})]
_FAILED = [*HAPPY[:3], (ev.RUN_FAILED, {"error": {}})]


@pytest.mark.parametrize(
    ("prefix", "event", "status"),
    [
        pytest.param(HAPPY[:1], completed("t-a", "a", {}), "pending", id="node_completed-on-pending"),
        pytest.param(HAPPY[:1], planned(0), "pending", id="step_planned-on-pending"),
        pytest.param(HAPPY[:1], done(), "pending", id="run_completed-on-pending"),
        pytest.param(HAPPY[:1], _resumed("x"), "pending", id="run_resumed-on-pending"),
        pytest.param(HAPPY[:3], _resumed("x"), "running", id="run_resumed-on-running"),
        pytest.param(HAPPY[:1], created(), "pending", id="run_created-twice"),
        pytest.param(_SUCCESS, planned(2), "success", id="step_planned-after-success"),
        pytest.param(_SUCCESS, started(2), "success", id="run_started-after-success"),
        pytest.param(_SUCCESS, (ev.RUN_CANCEL_REQUESTED, {}), "success", id="cancel-after-success"),
        pytest.param(_SUCCESS, (ev.RUN_FAILED, {}), "success", id="run_failed-after-success"),
        pytest.param(_SUCCESS, done(), "success", id="run_completed-twice"),
        pytest.param(_SUCCESS, created(), "success", id="run_created-after-success"),
        pytest.param(_INTERRUPTED, planned(1), "interrupted", id="step_planned-on-interrupted"),
        pytest.param(_INTERRUPTED, done(), "interrupted", id="run_completed-on-interrupted"),
        pytest.param(_INTERRUPTED, (ev.RUN_FAILED, {}), "interrupted", id="run_failed-on-interrupted"),
        pytest.param(_CANCELLED, started(2), "cancelled", id="run_started-after-cancelled"),
        pytest.param(_FAILED, _resumed("x"), "error", id="run_resumed-after-error"),
    ],
)
def test_invalid_transitions_raise_and_name_the_status(prefix: list[Spec], event: Spec, status: str) -> None:
    with pytest.raises(InvalidTransition) as info:
        fold(recorded([*prefix, event]))

    assert str(info.value).startswith(f"run {RUN_ID} is {status}: {event[0]} is not allowed")
    assert info.value.status is RunStatus(status)
    assert info.value.event_type == event[0]


@pytest.mark.parametrize("event", [completed("t-a", "a", {}), started(), done()])
def test_events_before_run_created_say_the_run_does_not_exist(event: Spec) -> None:
    with pytest.raises(InvalidTransition) as info:
        fold(recorded([event]))

    assert str(info.value) == f"the run does not exist: {event[0]} is not allowed"
    assert info.value.status is None


def test_check_transition_allows_cancel_from_every_live_status() -> None:
    for status in (RunStatus.PENDING, RunStatus.RUNNING, RunStatus.INTERRUPTED):
        check_transition(RunState(status=status), ev.RUN_CANCEL_REQUESTED)
        check_transition(RunState(status=status), ev.RUN_CANCELLED)
    with pytest.raises(InvalidTransition):
        check_transition(RunState(status=RunStatus.TIMEOUT), ev.RUN_CANCELLED)


# -- bases: continuations and forks ----------------------------------------------------------------


def _previous_run() -> RunState:
    return fold(recorded(HAPPY))


def test_a_continuation_of_a_finished_run_starts_from_its_values() -> None:
    previous = _previous_run()
    base_ref = {"run_id": RUN_ID, "seq": previous.last_seq, "mode": "continue"}
    events = recorded([created({"log": ["more"]}, run_id=NEXT_RUN_ID, base=base_ref)], run_id=NEXT_RUN_ID)

    state = fold(events, base=previous)

    assert state.status is RunStatus.PENDING
    assert state.run_id == NEXT_RUN_ID
    assert state.values == {"log": ["in", "a", "b", "c", "more"], "name": "a", "best": 9}
    assert state.step == -1
    assert state.base == base_ref


def test_a_fork_of_an_interrupted_run_keeps_its_step_and_finished_tasks() -> None:
    source = fold(recorded([*HAPPY[:4], _interrupted(_during("t-a", "i-1"))]))
    base_ref = {"run_id": RUN_ID, "seq": source.last_seq, "mode": "fork"}
    events = recorded([created(None, run_id=NEXT_RUN_ID, base=base_ref)], run_id=NEXT_RUN_ID)

    state = fold(events, base=source)

    assert state.status is RunStatus.PENDING
    assert state.step == 0
    assert [t.id for t in state.tasks] == ["t-a", "t-b"]
    assert list(state.results) == ["t-b"]


def _statusless_base() -> RunState:
    """A base with no status of its own, so that run_created is accepted on top of it."""
    return RunState(
        channels=dict(CHANNELS),
        values={"log": ["old"], "name": "before"},
        step=3,
        tasks=[Task(id="t-x", node="a", index=0), Task(id="t-y", node="b", index=1)],
        results={
            "t-x": TaskResult(task_id="t-x", node="a", update={"log": ["x"]}, goto=[], attempt=1, seq=50)
        },
        failed_attempts={"t-y": 2},
        steps_run=4,
        attempt=3,
        worker_id="worker-old",
        epoch=5,
        error={"type": "Old"},
    )


def test_a_continuation_keeps_only_the_base_values() -> None:
    base = _statusless_base()
    base_ref = {"run_id": RUN_ID, "seq": 60, "mode": "continue"}
    events = recorded([created({"log": ["new"]}, run_id=NEXT_RUN_ID, base=base_ref)], run_id=NEXT_RUN_ID)

    state = fold(events, base=base)

    assert state.values == {"log": ["old", "new"], "name": "before"}
    assert state.step == -1
    assert state.tasks == []
    assert state.results == {}
    assert state.failed_attempts == {}
    assert state.steps_run == 0
    assert state.attempt == 0
    assert state.worker_id is None
    assert state.error is None
    assert state.status is RunStatus.PENDING


def test_a_fork_keeps_step_tasks_and_results_but_not_the_lease() -> None:
    base = _statusless_base()
    base_ref = {"run_id": RUN_ID, "seq": 60, "mode": "fork"}
    events = recorded([created(None, run_id=NEXT_RUN_ID, base=base_ref)], run_id=NEXT_RUN_ID)

    state = fold(events, base=base)

    assert state.step == 3
    assert [t.id for t in state.tasks] == ["t-x", "t-y"]
    assert list(state.results) == ["t-x"]
    assert state.values == {"log": ["old"], "name": "before"}
    assert state.steps_run == 0
    assert state.attempt == 0
    assert state.worker_id is None
    assert state.epoch is None
    assert state.failed_attempts == {}
    assert state.error is None
    assert state.run_id == NEXT_RUN_ID


def test_a_fork_applies_its_state_edit_as_the_named_node_and_then_its_pending_results() -> None:
    base = _statusless_base()
    base_ref = {"run_id": RUN_ID, "seq": 60, "mode": "fork"}
    specs = [
        created(None, run_id=NEXT_RUN_ID, base=base_ref, update={"name": "edited"}, as_node="a"),
        started(),
        completed("t-y", "b", {"log": ["y"]}),
        planned(4, task("t-z", "c", 0)),
    ]

    state = fold(recorded(specs, run_id=NEXT_RUN_ID), base=base)

    assert state.values == {"log": ["old", "x", "y"], "name": "edited"}
    assert state.step == 4
    assert state.steps_run == 1


def test_fold_does_not_modify_its_base() -> None:
    base = _statusless_base()
    events = recorded([created({"log": ["new"]}, run_id=NEXT_RUN_ID)], run_id=NEXT_RUN_ID)

    fold(events, base=base)

    assert base.values == {"log": ["old"], "name": "before"}
    assert base.step == 3
    assert base.status is None


# -- namespaces (subgraphs) ------------------------------------------------------------------------

SUBGRAPH_RUN: list[Spec] = [
    created({"log": ["in"]}),
    started(),
    planned(0, task("t-sub", "sub", 0)),
    (ev.SUBGRAPH_STARTED, {"ns": "sub:t-sub", "channels": {"inner": "add"}, "input": {"inner": [1]}}),
    (ev.STEP_PLANNED, {"ns": "sub:t-sub", "step": 0, "tasks": [task("s-1", "x", 0)]}),
    (ev.NODE_COMPLETED, {"ns": "sub:t-sub", "task": "s-1", "node": "x", "update": {"inner": [2]}}),
    (ev.RUN_COMPLETED, {"ns": "sub:t-sub"}),
    completed("t-sub", "sub", {"log": ["sub done"]}),
    done(),
]


def test_fold_with_ns_applies_only_that_subgraphs_events() -> None:
    child = fold(recorded(SUBGRAPH_RUN), ns="sub:t-sub")

    assert child.status is RunStatus.SUCCESS
    assert child.channels == {"inner": "add"}
    assert child.values == {"inner": [1, 2]}
    assert child.last_seq == 107


def test_fold_without_ns_ignores_namespaced_events() -> None:
    parent = fold(recorded(SUBGRAPH_RUN))

    assert parent.status is RunStatus.SUCCESS
    assert parent.values == {"log": ["in", "sub done"]}
    assert parent.run_id == RUN_ID


def test_a_subgraph_in_progress_is_running() -> None:
    child = fold(recorded(SUBGRAPH_RUN[:6]), ns="sub:t-sub")

    assert child.status is RunStatus.RUNNING
    assert child.values == {"inner": [1]}
    assert child.values_with_pending() == {"inner": [1, 2]}


def test_fold_with_an_unknown_ns_sees_nothing() -> None:
    state = fold(recorded(SUBGRAPH_RUN), ns="other")

    assert state.status is None
    assert state.version == 0


# -- state_at --------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", range(1, len(HAPPY) + 1))
def test_state_at_a_seq_equals_folding_the_prefix(count: int) -> None:
    events = recorded(HAPPY)

    at = state_at(events, events[count - 1].seq)

    assert at == fold(events[:count])
    assert at.last_seq == events[count - 1].seq


def test_state_at_ignores_later_events_whatever_their_order_in_the_list() -> None:
    events = recorded(HAPPY)

    at = state_at(events, 105)

    assert at.status is RunStatus.RUNNING
    assert at.values_with_pending() == {"log": ["in", "a", "b"], "name": "a"}
    assert at.version == 5


def test_state_at_uses_the_given_base() -> None:
    base = _statusless_base()
    events = recorded([created({"log": ["new"]}, run_id=NEXT_RUN_ID), started()], run_id=NEXT_RUN_ID)

    at = state_at(events, events[0].seq, base)

    assert at.status is RunStatus.PENDING
    assert at.values["log"] == ["old", "new"]


# -- Task serialisation ----------------------------------------------------------------------------


def test_task_json_round_trips_with_and_without_a_send_argument() -> None:
    plain = {"id": "t1", "node": "a", "index": 0, "triggers": ["__start__"]}
    sent = {"id": "t2", "node": "b", "index": 1, "triggers": [], "arg": None}

    assert Task.from_json(plain).to_json() == plain
    assert Task.from_json(sent).has_arg is True
    assert Task.from_json(sent).to_json() == sent


def test_a_refused_resume_says_which_runs_can_be_resumed() -> None:
    with pytest.raises(InvalidTransition, match=r"only an interrupted run can be resumed"):
        raise InvalidTransition(RUN_ID, RunStatus.SUCCESS, ev.RUN_RESUMED)


def test_a_langgraph_step_carries_the_previous_steps_state() -> None:
    """``carry``: the state is the previous step's with ``custom_values`` set and ``appended``
    added; the step's results are not applied again (LangGraph computed the state)."""
    msg = {"type": "ai", "content": "hi", "id": "m0"}

    def lg_planned(step: int, custom: dict[str, Any], appended: dict[str, Any] | None = None) -> Spec:
        event = ev.step_planned(step=step, tasks=[], barriers={}, custom_values=custom, appended=appended)
        return ("step_planned", dict(event.data))

    result = ("node_completed", {"step": 0, "task": "t", "node": "say", "attempt": 1, "update": {"messages": [{"role": "ai", "content": "hi"}]}, "goto": []})  # fmt: skip
    events = recorded(
        [
            created({}),
            started(),
            lg_planned(0, {"messages": [], "name": "a", "log": [1]}),
            result,
            lg_planned(1, {"name": "b"}, {"messages": [msg]}),
            lg_planned(2, {}, {"messages": [msg], "log": [2]}),
        ]
    )
    assert fold(events[:5]).values == {"messages": [msg], "name": "b", "log": [1]}
    assert fold(events).values == {"messages": [msg, msg], "name": "b", "log": [1, 2]}
    assert "carry" not in events[2].data and events[4].data["carry"] is True


def test_only_a_runs_own_end_or_interrupt_brings_it_to_rest() -> None:
    from duragraph_lab.domain.run import brings_to_rest

    assert brings_to_rest("run_completed", {}) and brings_to_rest("run_interrupted", {"ns": ""})
    assert all(brings_to_rest(t, {}) for t in ("run_failed", "run_timed_out", "run_cancelled"))
    # A subgraph's end (under its namespace) is not the run's; nor is any other event.
    assert not brings_to_rest("run_completed", {"ns": "inner:1"})
    assert not any(
        brings_to_rest(t, {}) for t in ("run_started", "step_planned", "node_completed", "run_resumed")
    )
