"""How a run request starts, decided on the thread as it is: pure functions, no I/O.

A thread is a chain of runs. A run starts from the state its ``base`` names: the thread's
previous run (``continue``: its values carry over, the graph starts from START), or a point in a
run (``fork``: exactly where that run was, pending tasks included). A run created while the
thread's latest run is still active waits behind it (``after_run``) and starts from wherever that
run ends (``seq`` None): that is how the multitask strategies ``enqueue``, ``interrupt`` and
``rollback`` are built.

A request is followed in one direction: :class:`~duragraph_lab.control.runs.RunControl` reads
the thread (:class:`ThreadHead`), these functions decide what to append (:func:`resume_of` and
:func:`resume_events`, or :func:`decide_start` and :func:`created_event`), the engine's
:mod:`~duragraph_lab.engine.commands` validate and build the events, and the domain's status
machine checks each transition.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from duragraph_lab.control.targets import Target
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import NewEvent
from duragraph_lab.domain.errors import NotFound, ThreadBusy
from duragraph_lab.domain.run import InvalidTransition, RunState, RunStatus
from duragraph_lab.engine import commands
from duragraph_lab.engine.commands import InvalidRunRequest

MULTITASK_STRATEGIES = ("reject", "interrupt", "rollback", "enqueue")
_ACTIVE = (RunStatus.PENDING, RunStatus.RUNNING)

#: One append of a unit of work: ``(stream_id, expected_version, events)``.
Append = tuple[str, int | None, list[NewEvent]]


@dataclass(frozen=True, slots=True)
class RunCommand:
    """``Command(resume=..., update=..., goto=...)`` as a run request's input."""

    resume: Any = None
    has_resume: bool = False
    update: Any = None
    goto: list[Any] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A point in a thread's history: right after event ``seq`` of run ``run_id``."""

    run_id: str
    seq: int


@dataclass(frozen=True, slots=True)
class RunRef:
    run_id: str
    thread_id: str
    assistant_id: str | None
    graph_id: str
    #: The request resumed the thread's interrupted run instead of creating one.
    resumed: bool = False
    #: The run's last event before this request: a stream of what the request caused starts after it.
    after_seq: int = 0


@dataclass(frozen=True, slots=True)
class RunRequest:
    """A request to run ``assistant`` (an assistant id or a graph id); see
    :meth:`~duragraph_lab.control.runs.RunControl.create_run` for what each option means."""

    assistant: str
    input: Any = None
    thread_id: str | None = None
    config: Mapping[str, Any] | None = None
    context: Mapping[str, Any] | None = None
    metadata: Mapping[str, Any] | None = None
    interrupt_before: Sequence[str] | str | None = None
    interrupt_after: Sequence[str] | str | None = None
    after_seconds: float | None = None
    create_thread: bool = True
    multitask_strategy: str = "reject"
    supersede_interrupted: bool = False
    command: RunCommand | None = None
    checkpoint: Checkpoint | None = None
    kwargs: Mapping[str, Any] | None = None
    temporary: bool = False
    #: The new run's id, chosen by the caller (a stream that subscribes to the run's live events
    #: before creating it); None: a new one. A request that resumes a paused run uses that run.
    run_id: str | None = None

    def __post_init__(self) -> None:
        if self.run_id is not None:
            try:
                uuid.UUID(self.run_id)
            except ValueError:
                raise InvalidRunRequest(f"run_id must be a UUID, not {self.run_id!r}") from None
        if self.multitask_strategy not in MULTITASK_STRATEGIES:
            raise InvalidRunRequest(
                f"multitask_strategy must be one of {', '.join(MULTITASK_STRATEGIES)}, "
                f"not {self.multitask_strategy!r}"
            )


@dataclass(frozen=True, slots=True)
class ThreadHead:
    """The thread a request runs on, as it was when the request was decided."""

    thread_id: str
    #: The thread stream's version: the run is added to the thread at it, or not at all.
    version: int
    #: False: the thread is created together with the run.
    exists: bool
    latest: RunState | None = None
    #: The latest run was cancelled with ``action="rollback"``: as if it never ran.
    latest_rolled_back: bool = False


@dataclass(frozen=True, slots=True)
class Resume:
    """The request answers the thread's interrupted run instead of starting one."""

    command: RunCommand
    #: "Run with no input" on a paused thread: go on past the breakpoints, answering nothing.
    past_breakpoints: bool = False


@dataclass(frozen=True, slots=True)
class Start:
    """Where a new run starts: its ``base``, the active run it waits behind, and the appends
    that cancel the runs it supersedes (made first: a worker appending to them locks them first)."""

    base: dict[str, Any] | None
    after_run: str | None = None
    superseded: tuple[Append, ...] = ()


def resume_of(request: RunRequest, head: ThreadHead) -> Resume | None:
    """The resume a request stands for, if it is one: ``Command(resume=...)``, or no input at
    all on a thread whose latest run is waiting for a human."""
    if request.command is not None and request.command.has_resume:
        return Resume(request.command)
    plain = request.input is None and request.command is None and request.checkpoint is None
    if plain and head.latest is not None and head.latest.status is RunStatus.INTERRUPTED:
        return Resume(RunCommand(resume=None, has_resume=True), past_breakpoints=True)
    return None


def resume_events(
    latest: RunState | None, resume: Resume, target: Target, checkpoint: Checkpoint | None
) -> list[NewEvent]:
    """What answering the thread's interrupted run ``latest`` appends to it."""
    if checkpoint is not None:
        raise InvalidRunRequest("a resume answers the thread's pending interrupt: drop the checkpoint")
    if latest is None or latest.run_id is None:
        raise InvalidTransition(None, None, ev.RUN_RESUMED)
    if latest.deleted:
        # Its events stay for the audit trail, but a deleted run never executes again.
        raise NotFound(f"run {latest.run_id} was deleted: it cannot be resumed")
    if latest.status is not RunStatus.INTERRUPTED:
        raise InvalidTransition(latest.run_id, latest.status, ev.RUN_RESUMED)
    command = resume.command
    if command.goto:
        raise InvalidRunRequest("Command(resume=..., goto=...) is not supported: resume, then route")
    if latest.graph_id != target.graph_id:
        raise InvalidRunRequest(
            f"the thread's interrupted run is of graph {latest.graph_id!r}, not {target.graph_id!r}"
        )
    events: list[NewEvent] = []
    if command.update is not None:
        events += commands.update_state(latest, command.update, nodes=target.nodes)
    if resume.past_breakpoints:
        events += commands.resume(latest, None, by_id={})
    else:
        events += commands.resume_command(latest, command.resume)
    return events


def decide_start(request: RunRequest, head: ThreadHead, run_id: str, source: RunState | None = None) -> Start:
    """Where run ``run_id`` starts. ``source``: the run the request's checkpoint is in."""
    base = _checkpoint_base(request, head, source)
    latest = head.latest
    if latest is None:
        return Start(base)
    if latest.status in _ACTIVE:
        return _behind_active(request, head, latest, run_id, base)
    if latest.status is RunStatus.INTERRUPTED:
        return _superseding_interrupted(request, head, latest, run_id, base)
    return Start(base if base is not None else _after_rest(request, latest, head.latest_rolled_back))


def _checkpoint_base(request: RunRequest, head: ThreadHead, source: RunState | None) -> dict[str, Any] | None:
    """From the request's checkpoint: a fork there, or with new input (or a goto) a fresh
    start from that state."""
    checkpoint = request.checkpoint
    if checkpoint is None:
        return None
    assert source is not None
    if source.thread_id != head.thread_id:
        raise NotFound(f"checkpoint of run {checkpoint.run_id} is not in thread {head.thread_id}")
    fresh = request.input is not None or bool(request.command and request.command.goto)
    return {"run_id": source.run_id, "seq": checkpoint.seq, "mode": "continue" if fresh else "fork"}


def _behind_active(
    request: RunRequest, head: ThreadHead, latest: RunState, run_id: str, base: dict[str, Any] | None
) -> Start:
    """The thread's latest run is active: reject, or wait behind it (cancelling it first for
    ``interrupt`` and ``rollback``)."""
    strategy = request.multitask_strategy
    if strategy == "reject":
        raise ThreadBusy(
            f"thread {head.thread_id} already has an active run ({latest.run_id}); wait for it, "
            "or choose multitask_strategy enqueue, interrupt or rollback"
        )
    assert latest.run_id is not None
    superseded: tuple[Append, ...] = ()
    if strategy in ("interrupt", "rollback"):
        cancel = commands.cancel(latest, f"superseded by run {run_id} ({strategy})", strategy)
        superseded = ((f"run:{latest.run_id}", latest.version, cancel),)
    if base is None:
        if strategy == "rollback":
            # The state before the cancelled run: where it started from.
            base = {**latest.base, "mode": "continue"} if latest.base else None
        else:
            base = {"run_id": latest.run_id, "seq": None, "mode": "continue"}
    return Start(base, after_run=latest.run_id, superseded=superseded)


def _superseding_interrupted(
    request: RunRequest, head: ThreadHead, latest: RunState, run_id: str, base: dict[str, Any] | None
) -> Start:
    """New input on a thread waiting for a human: cancel that run (LangGraph's behaviour) when
    the request allows it, and continue from where it stopped."""
    if not request.supersede_interrupted:
        raise ThreadBusy(
            f"thread {head.thread_id} has an interrupted run ({latest.run_id}): resume or cancel it first"
        )
    cancel = commands.cancel(latest, f"superseded by run {run_id}")
    if base is None:
        base = {"run_id": latest.run_id, "seq": None, "mode": "continue"}
    return Start(base, superseded=((f"run:{latest.run_id}", latest.version, cancel),))


def _after_rest(request: RunRequest, latest: RunState, rolled_back: bool) -> dict[str, Any] | None:
    """The thread's latest run is at rest."""
    if rolled_back:
        # Rolled back: as if it never ran, from the state it started from.
        return {**latest.base, "mode": "continue"} if latest.base else None
    # With no input, a step it left unfinished (a failure, a cancel) runs again; otherwise the
    # graph starts from START on the state the run left.
    unfinished = bool(latest.tasks) and request.input is None and request.command is None
    return {"run_id": latest.run_id, "seq": latest.last_seq, "mode": "fork" if unfinished else "continue"}


def created_event(
    run_id: str, head: ThreadHead, target: Target, request: RunRequest, start: Start
) -> NewEvent:
    """The new run's ``run_created`` (validated by the engine's commands)."""
    command = request.command
    return commands.run_created(
        run_id=run_id,
        thread_id=head.thread_id,
        graph_id=target.graph_id,
        assistant_id=target.assistant_id,
        channels=target.channels,
        nodes=target.nodes,
        input=request.input,
        config=target.merged_config(request.config, request.context),
        metadata=request.metadata,
        interrupt_before=target.interrupt_before
        if request.interrupt_before is None
        else request.interrupt_before,
        interrupt_after=target.interrupt_after
        if request.interrupt_after is None
        else request.interrupt_after,
        base=start.base,
        update=command.update if command is not None else None,
        goto=command.goto if command is not None else None,
        kwargs=request.kwargs or None,
        after_run=start.after_run,
        after_seconds=request.after_seconds,
        # A thread id made for this run (none was asked for) can hold nothing else; one a client
        # named may hold checkpoints saved under it before the thread existed here.
        new_thread=request.thread_id is None,
    )


def new_run_appends(
    head: ThreadHead, start: Start, run_id: str, created: NewEvent, *, temporary: bool
) -> list[Append]:
    """Everything the new run's unit of work appends, in lock order: the superseded runs' streams
    first (as a worker appending to them would lock them), then the thread, then the run."""
    thread_events = [] if head.exists else [ev.thread_created(head.thread_id, temporary=temporary)]
    thread_events.append(ev.thread_run_added(run_id))
    return [
        *start.superseded,
        (f"thread:{head.thread_id}", head.version, thread_events),
        (f"run:{run_id}", 0, [created]),
    ]
