"""The Run aggregate: its status machine and ``fold(events) -> RunState``.

A run's stream holds its request, each superstep's plan, each task's result and the lifecycle
events. Folding any prefix of it gives the run's status and the graph state at that point, with
no graph code: built-in reducers are applied here, and custom reducers' results are recorded in
the plans. Writers validate a transition against the folded state before appending
(:func:`check_transition`); an invalid transition raises and nothing is written.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, cast

from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import RecordedEvent
from duragraph_lab.domain.errors import DuraGraphError
from duragraph_lab.domain.reducers import CUSTOM as CUSTOM_KIND
from duragraph_lab.domain.reducers import apply_writes


class RunStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    ERROR = "error"
    INTERRUPTED = "interrupted"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({RunStatus.SUCCESS, RunStatus.ERROR, RunStatus.TIMEOUT, RunStatus.CANCELLED})
_ACTIVE = frozenset({RunStatus.PENDING, RunStatus.RUNNING})
_ANY_LIVE = frozenset({RunStatus.PENDING, RunStatus.RUNNING, RunStatus.INTERRUPTED})
_AT_REST = _TERMINAL | {RunStatus.INTERRUPTED}

#: Events after which a run is at rest (ended, or paused for a human), when they are the run's
#: own: a subgraph's ``run_completed`` (its ``ns`` set) is not.
RESTING_EVENTS = frozenset(
    {ev.RUN_COMPLETED, ev.RUN_FAILED, ev.RUN_TIMED_OUT, ev.RUN_CANCELLED, ev.RUN_INTERRUPTED}
)


def brings_to_rest(event_type: str, data: Mapping[str, Any]) -> bool:
    """Whether an event of a run's stream leaves the run at rest (see :data:`RESTING_EVENTS`)."""
    return event_type in RESTING_EVENTS and not data.get("ns")


# Which statuses each event may follow. run_created is only valid on an empty stream.
ALLOWED_FROM: dict[str, frozenset[RunStatus]] = {
    ev.RUN_STARTED: _ACTIVE,  # a re-dispatch after a lost lease starts a running run again
    ev.STEP_PLANNED: frozenset({RunStatus.RUNNING}),
    ev.NODE_COMPLETED: frozenset({RunStatus.RUNNING}),
    ev.NODE_FAILED: frozenset({RunStatus.RUNNING}),
    ev.SUBGRAPH_STARTED: frozenset({RunStatus.RUNNING}),
    ev.RUN_INTERRUPTED: frozenset({RunStatus.RUNNING}),
    ev.RUN_RESUMED: frozenset({RunStatus.INTERRUPTED}),
    ev.RUN_COMPLETED: frozenset({RunStatus.RUNNING}),
    ev.RUN_FAILED: _ACTIVE,
    ev.RUN_TIMED_OUT: _ACTIVE,
    ev.RUN_CANCEL_REQUESTED: _ANY_LIVE,
    ev.RUN_CANCELLED: _ANY_LIVE,
    # Edits and deletions never race an executor: only a paused or finished run takes them.
    ev.STATE_UPDATED: _AT_REST,
    ev.RUN_DELETED: _AT_REST,
}


#: The result key of a state edit (a fork's, or an update of a run paused mid-step) that waits
#: for its step to close. Several edits get keys ``__fork__``, ``__fork__:<seq>``, ...
FORK_WRITE = "__fork__"


def is_edit(task_id: str) -> bool:
    return task_id == FORK_WRITE or task_id.startswith(FORK_WRITE + ":")


# What a user asking for the refused transition should know.
_TRANSITION_HINTS = {
    ev.RUN_RESUMED: " (only an interrupted run can be resumed)",
    ev.RUN_CANCEL_REQUESTED: " (the run has already ended)",
}


class InvalidTransition(DuraGraphError):
    """An event that the run's current status does not allow."""

    code = "invalid_transition"

    def __init__(self, run_id: str | None, status: RunStatus | None, event_type: str) -> None:
        where = f"run {run_id}" if run_id else "the run"
        state = f"is {status.value}" if status else "does not exist"
        hint = _TRANSITION_HINTS.get(event_type, "")
        super().__init__(f"{where} {state}: {event_type} is not allowed{hint}")
        self.status = status
        self.event_type = event_type


@dataclass(slots=True)
class Task:
    """One node execution in a superstep. ``id`` is unique in the run and stable on re-execution."""

    id: str
    node: str
    index: int
    arg: Any = None  # the Send() argument, when the task was sent one
    has_arg: bool = False
    triggers: list[str] = field(default_factory=list)

    def to_json(self) -> ev.PlannedTask:
        out: ev.PlannedTask = {
            "id": self.id,
            "node": self.node,
            "index": self.index,
            "triggers": self.triggers,
        }
        if self.has_arg:
            out["arg"] = self.arg
        return out

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Task:
        return cls(
            id=raw["id"],
            node=raw["node"],
            index=raw["index"],
            arg=raw.get("arg"),
            has_arg="arg" in raw,
            triggers=list(raw.get("triggers", [])),
        )


@dataclass(slots=True)
class TaskResult:
    task_id: str
    node: str
    update: dict[str, Any]
    goto: list[Any]  # routing decided by the node (Command.goto) or its routers: names or Sends
    attempt: int
    seq: int


@dataclass(slots=True)
class RunState:
    """Everything known about a run after some prefix of its events."""

    run_id: str | None = None
    thread_id: str | None = None
    graph_id: str | None = None
    assistant_id: str | None = None
    status: RunStatus | None = None
    channels: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)  # at the last step boundary
    step: int = -1
    tasks: list[Task] = field(default_factory=list)
    results: dict[str, TaskResult] = field(default_factory=dict)  # finished tasks of this step
    failed_attempts: dict[str, int] = field(default_factory=dict)
    resumes: dict[str, list[Any]] = field(default_factory=dict)  # resume values per task
    # Model calls an interrupted task made before pausing: replayed when it runs again.
    replay_calls: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    interrupts: list[dict[str, Any]] = field(default_factory=list)
    passed_before: int | None = None  # a resume let this step past interrupt_before
    barriers: dict[str, list[str]] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    cancel_requested: bool = False
    config: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    input: Any = None
    interrupt_before: list[str] = field(default_factory=list)
    interrupt_after: list[str] = field(default_factory=list)
    recursion_limit: int = 25
    timeout: float | None = None
    base: dict[str, Any] | None = None
    entry: list[Any] | None = None  # where step 0 goes (Command(goto=...)) instead of START's edges
    deleted: bool = False
    created_at: Any = None
    attempt: int = 0  # leases so far
    worker_id: str | None = None
    epoch: int | None = None
    steps_run: int = 0  # supersteps executed by this run (the recursion limit counts these)
    #: The nodes whose writes were applied last (the last step's, or an edit's ``as_node``):
    #: LangGraph's "last node that updated the state", the writer of an edit without as_node.
    last_writers: list[str] = field(default_factory=list)
    #: The edit this run exists to make (an edit request a worker executes), if it is one.
    edit_request: dict[str, Any] | None = None
    version: int = 0
    last_seq: int = 0

    @property
    def pending_tasks(self) -> list[Task]:
        return [t for t in self.tasks if t.id not in self.results]

    @property
    def edits(self) -> list[TaskResult]:
        """State edits waiting for the current step to close, in the order they were made."""
        return sorted((r for tid, r in self.results.items() if is_edit(tid)), key=lambda r: r.seq)

    def values_with_pending(self) -> dict[str, Any]:
        """The state if this step's finished tasks were applied now (built-in reducers only)."""
        return self.apply_results()

    def apply_results(self, custom: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``values`` with this step's results applied (see :func:`apply_step`)."""
        order = {t.id: i for i, t in enumerate(self.tasks)}
        done = sorted(
            (r for tid, r in self.results.items() if not is_edit(tid)),
            key=lambda r: order.get(r.task_id, 1 << 30),
        )
        writes = [(r.node, r.update) for r in done]
        return apply_step(self.values, writes, self.edits, self.channels, custom)

    def clone(self) -> RunState:
        return copy.deepcopy(self)


def apply_step(
    values: Mapping[str, Any],
    writes: Sequence[tuple[str, Mapping[str, Any]]],
    edits: Sequence[TaskResult],
    channels: Mapping[str, str],
    custom: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A step's writes in plan order, then the state edits made while it was open, each applied
    on its own so that an edit never "conflicts" with the step's writes."""
    out = apply_writes(values, writes, channels, custom=custom)
    for edit in edits:
        out = apply_edit(out, edit.node, edit.update, channels, custom)
    return out


def apply_edit(
    values: Mapping[str, Any],
    writer: str,
    update: Mapping[str, Any],
    channels: Mapping[str, str],
    custom: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A state edit through the reducers. A custom-reducer key is reduced when its reducer is at
    hand (in the executor) and overwritten otherwise: readers of the log cannot run user code,
    so an edit made outside a worker records, and means, the key's new value."""
    out = apply_writes(values, [(writer, update)], channels, custom=custom)
    if custom is None:
        for key, value in update.items():
            if channels.get(key) == CUSTOM_KIND:
                out[key] = value
    return out


def check_transition(state: RunState, event_type: str) -> None:
    """Raise :class:`InvalidTransition` unless ``event_type`` may follow ``state``."""
    if event_type == ev.RUN_CREATED:
        if state.status is not None:
            raise InvalidTransition(state.run_id, state.status, event_type)
        return
    allowed = ALLOWED_FROM.get(event_type)
    if allowed is None:
        return  # not a lifecycle event (unknown types are tolerated for forward compatibility)
    if state.status not in allowed:
        raise InvalidTransition(state.run_id, state.status, event_type)


def fold(events: Iterable[RecordedEvent], base: RunState | None = None, *, ns: str = "") -> RunState:
    """The run after ``events``. ``base``: the state the run started from (a thread's previous
    run, or the point a fork was taken). ``ns``: fold a subgraph's namespaced events instead."""
    state = base.clone() if base is not None else RunState()
    for event in events:
        if event.data.get("ns", "") != ns:
            continue
        apply(state, event)
    return state


def apply(state: RunState, event: RecordedEvent) -> None:
    """Fold one event into ``state`` (in place), checking that the transition is allowed."""
    t = event.type
    if t in (ev.RUN_CREATED, ev.SUBGRAPH_STARTED):
        _created(state, event)
    else:
        check_transition(state, t)
        handler = _HANDLERS.get(t)
        if handler is not None:
            handler(state, event)
    state.version = event.version
    state.last_seq = event.seq


def _created(state: RunState, event: RecordedEvent) -> None:
    d = cast("ev.RunCreated", event.data)
    if event.type == ev.RUN_CREATED and state.status is not None and state.run_id == d.get("run_id"):
        # A second run_created for the same run. (A base — the thread's previous run, or the
        # point a fork starts from — is another run's state and may be followed by ours.)
        raise InvalidTransition(state.run_id, state.status, ev.RUN_CREATED)
    base = d.get("base")
    base_mode = base.get("mode") if base else None
    if base_mode == "fork":
        # A fork continues exactly where its source was: same step, same finished tasks.
        state.steps_run = 0
        state.attempt = 0
        state.worker_id = state.epoch = None
        state.failed_attempts = {}
    else:
        # A fresh run, or a continuation of the thread's previous run: its values carry over,
        # everything else starts anew.
        keep, writers = state.values, state.last_writers
        fresh = RunState()
        for name in RunState.__slots__:
            setattr(state, name, getattr(fresh, name))
        state.values, state.last_writers = keep, writers
    state.status = RunStatus.PENDING if event.type == ev.RUN_CREATED else RunStatus.RUNNING
    state.run_id = d.get("run_id", state.run_id)
    state.thread_id = d.get("thread_id")
    state.graph_id = d.get("graph_id")
    state.assistant_id = d.get("assistant_id")
    state.channels = dict(d.get("channels", {}))
    state.config = dict(d.get("config", {}))
    state.metadata = dict(d.get("metadata", {}))
    state.input = d.get("input")
    state.interrupt_before = list(d.get("interrupt_before", []))
    state.interrupt_after = list(d.get("interrupt_after", []))
    state.recursion_limit = int(d.get("recursion_limit", 25))
    state.timeout = d.get("timeout")
    state.base = dict(base) if base is not None else None
    state.entry = list(d["goto"]) if d.get("goto") else None
    edit = d.get("edit")
    state.edit_request = dict(edit) if edit else None
    state.created_at = event.recorded_at
    state.error = None
    state.interrupts = []
    state.cancel_requested = False
    update = d.get("update")  # a fork's state edit, applied as if written by d["as_node"]
    if update:
        writer = d.get("as_node") or FORK_WRITE
        if state.results:
            # Forked mid-step: the edit lands after the step's recorded writes, when it closes.
            key = FORK_WRITE if FORK_WRITE not in state.results else f"{FORK_WRITE}:{event.seq}"
            state.results[key] = TaskResult(key, writer, dict(update), [], 1, event.seq)
        else:
            state.values = apply_writes(state.values, [(writer, update)], state.channels)
    if d.get("input") is not None and isinstance(d["input"], Mapping):
        state.values = apply_writes(state.values, [("__input__", d["input"])], state.channels)


def _started(state: RunState, event: RecordedEvent) -> None:
    d = cast("ev.RunStarted", event.data)
    state.status = RunStatus.RUNNING
    # An edit request's edit is made in the commit that starts it: a later start (a resume of
    # the request run, which mirrors a paused run) executes the graph, not the edit again.
    state.edit_request = None
    state.attempt = int(d.get("attempt", state.attempt + 1))
    state.worker_id = d.get("worker_id")
    state.epoch = d.get("epoch")


def _step_planned(state: RunState, event: RecordedEvent) -> None:
    d = cast("ev.StepPlanned", event.data)
    _note_writers(state)
    if d.get("carry"):
        state.values = _carried(state.values, d)
    else:
        state.values = state.apply_results()
        state.values.update(d.get("custom_values", {}))
    state.step = int(d["step"])
    state.tasks = [Task.from_json(t) for t in d.get("tasks", [])]
    state.results = {}
    state.failed_attempts = {}
    state.resumes = {}
    state.replay_calls = {}
    state.barriers = {k: list(v) for k, v in d.get("barriers", {}).items()}
    if d.get("counts", True):
        state.steps_run += 1


def _carried(values: Mapping[str, Any], d: Mapping[str, Any]) -> dict[str, Any]:
    """A LangGraph run's state at a step_planned or run_completed that carries the state on:
    the previous step's plus what changed (LangGraph computed the results: not applied again)."""
    out = dict(values)
    for key, items in (d.get("appended") or {}).items():
        out[key] = [*(out.get(key) or []), *items]
    out.update(d.get("custom_values", {}))
    return out


def _node_completed(state: RunState, event: RecordedEvent) -> None:
    d = cast("ev.NodeCompleted", event.data)
    task_id = d["task"]
    state.results[task_id] = TaskResult(
        task_id=task_id,
        node=d["node"],
        update=dict(d.get("update") or {}),
        goto=list(d.get("goto", [])),
        attempt=int(d.get("attempt", 1)),
        seq=event.seq,
    )


def _node_failed(state: RunState, event: RecordedEvent) -> None:
    d = cast("ev.NodeFailed", event.data)
    task_id = d["task"]
    state.failed_attempts[task_id] = state.failed_attempts.get(task_id, 0) + 1


def _interrupted(state: RunState, event: RecordedEvent) -> None:
    d = cast("ev.RunInterrupted", event.data)
    state.status = RunStatus.INTERRUPTED
    state.interrupts = [dict(i) for i in d.get("interrupts", [])]


def _resumed(state: RunState, event: RecordedEvent) -> None:
    d = cast("ev.RunResumed", event.data)
    resume = d.get("resume")
    by_id = d.get("by_id")
    for intr in state.interrupts:
        if intr.get("when") == "before":
            state.passed_before = state.step
        elif intr.get("when") == "during" and intr.get("task"):
            if intr.get("model_calls"):
                state.replay_calls[intr["task"]] = list(intr["model_calls"])
            if by_id is None:
                state.resumes.setdefault(intr["task"], []).append(resume)
            elif intr.get("id") in by_id:
                state.resumes.setdefault(intr["task"], []).append(by_id[intr["id"]])
            # An interrupt not named in by_id gets no answer: its node will ask again.
    state.interrupts = []
    state.status = RunStatus.RUNNING


def _completed(state: RunState, event: RecordedEvent) -> None:
    d = cast("ev.RunCompleted", event.data)
    _note_writers(state)
    if d.get("carry"):
        state.values = _carried(state.values, d)
    else:
        state.values = state.apply_results()
        state.values.update(d.get("custom_values", {}))
    state.results = {}
    state.tasks = []
    state.status = RunStatus.SUCCESS


def _failed(state: RunState, event: RecordedEvent) -> None:
    d = cast("ev.RunFailed", event.data)
    state.status = RunStatus.ERROR
    state.error = dict(d.get("error", {}))


def _cancel_requested(state: RunState, event: RecordedEvent) -> None:
    state.cancel_requested = True


def _cancelled(state: RunState, event: RecordedEvent) -> None:
    state.status = RunStatus.CANCELLED
    state.interrupts = []


def _note_writers(state: RunState) -> None:
    """Before a step's results are applied: remember whose writes they are."""
    nodes = [r.node for tid, r in state.results.items() if not is_edit(tid)]
    if nodes:
        state.last_writers = nodes


def _state_updated(state: RunState, event: RecordedEvent) -> None:
    d = cast("ev.StateUpdated", event.data)
    writer = d.get("as_node") or "__update__"
    update = dict(d.get("values") or {})
    plan = d.get("next")
    if plan is not None:
        # As if ``as_node`` had just completed: its write applied, the step it leads to planned
        # (the pending step, and any interrupt of it, replaced). A paused run waits before that
        # step, so that a resume with no input runs it; a run at rest leaves it for the next run.
        state.values = apply_edit(state.values, writer, update, state.channels)
        state.step = int(plan["step"])
        state.tasks = [Task.from_json(t) for t in plan.get("tasks", [])]
        state.barriers = {k: list(v) for k, v in plan.get("barriers", {}).items()}
        state.results = {}
        state.failed_attempts = {}
        state.resumes = {}
        state.replay_calls = {}
        state.last_writers = [writer]
        if state.status is RunStatus.INTERRUPTED:
            state.interrupts = [
                {
                    "id": f"{t.id}:before",
                    "task": t.id,
                    "node": t.node,
                    "when": "before",
                    "value": None,
                    "ns": "",
                }
                for t in state.tasks
            ]
        return
    if state.status is RunStatus.INTERRUPTED and any(not is_edit(t) for t in state.results):
        # Paused in the middle of a step: the edit lands after the step's recorded writes.
        key = FORK_WRITE if FORK_WRITE not in state.results else f"{FORK_WRITE}:{event.seq}"
        state.results[key] = TaskResult(key, writer, update, [], 1, event.seq)
    else:
        state.values = apply_edit(state.values, writer, update, state.channels)
        if d.get("as_node"):
            state.last_writers = [writer]


def _deleted(state: RunState, event: RecordedEvent) -> None:
    state.deleted = True


def _timed_out(state: RunState, event: RecordedEvent) -> None:
    d = event.data
    state.status = RunStatus.TIMEOUT
    state.error = dict(d.get("error", {"type": "RunTimeout"}))


_HANDLERS = {
    ev.RUN_STARTED: _started,
    ev.NODE_COMPLETED: _node_completed,
    ev.STEP_PLANNED: _step_planned,
    ev.NODE_FAILED: _node_failed,
    ev.RUN_INTERRUPTED: _interrupted,
    ev.RUN_RESUMED: _resumed,
    ev.RUN_COMPLETED: _completed,
    ev.RUN_FAILED: _failed,
    ev.RUN_CANCEL_REQUESTED: _cancel_requested,
    ev.RUN_CANCELLED: _cancelled,
    ev.RUN_TIMED_OUT: _timed_out,
    ev.STATE_UPDATED: _state_updated,
    ev.RUN_DELETED: _deleted,
}


def state_at(events: Sequence[RecordedEvent], seq: int, base: RunState | None = None) -> RunState:
    """The run as it was right after the event with global ``seq`` (events after it ignored)."""
    return fold((e for e in events if e.seq <= seq), base)
