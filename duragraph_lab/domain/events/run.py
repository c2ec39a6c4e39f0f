"""The payloads of a run's stream (``run:<uuid>``) and the one factory that makes each.

Every writer builds its event with these factories, so a payload's shape is stated once. The
payloads are plain JSON-able dicts on the wire; the TypedDicts say which keys they have (a key
in ``NotRequired`` may be absent, as in events written by older releases). "State" values are
``dict[str, Any]`` of state keys; timestamps are Unix epoch seconds.

No ``from __future__ import annotations`` here: Python 3.11's TypedDict only sees ``NotRequired``
in evaluated annotations, and ``catalogue.payload_problems`` reads the required keys at run time.
"""

from collections.abc import Mapping
from typing import Any, Literal, NotRequired, TypedDict

from duragraph_lab.domain.envelope import NewEvent
from duragraph_lab.domain.events import names
from duragraph_lab.domain.events.langgraph import LgCheckpoint, LgWrites
from duragraph_lab.domain.events.spec import EventSpec

State = dict[str, Any]


class RunBase(TypedDict):
    """The state a run starts from: a point of another run (``seq`` None: wherever it ends)."""

    run_id: str
    seq: int | None
    mode: Literal["continue", "fork"]


class PlannedTask(TypedDict):
    id: str  # "<step>.<index>"
    node: str
    index: int
    triggers: list[str]
    arg: NotRequired[Any]  # a task created by Send


class Interrupt(TypedDict):
    id: str
    node: str
    when: Literal["during", "before", "after"]
    value: Any
    ns: str
    task: NotRequired[str]  # absent for "after"
    model_calls: NotRequired[list[dict[str, Any]]]
    tool_calls: NotRequired[list[dict[str, Any]]]
    #: A LangGraph run's: its ``Interrupt``'s fields besides ``value`` and ``id`` (LangGraph 1.x:
    #: ``response_schema``), shown as LangGraph shows the Interrupt; ``None`` for a breakpoint,
    #: for which LangGraph shows no Interrupt at all.
    fields: NotRequired[dict[str, Any] | None]


class EditRequest(TypedDict):
    values: State
    as_node: str | None
    #: How the edited run had come to rest, which the request run mirrors before the edit:
    #: ``status`` and, as its resting event recorded them, ``error`` and ``interrupts``.
    rest: dict[str, Any]


class RunCreated(TypedDict):
    run_id: str
    thread_id: str
    graph_id: str
    assistant_id: str | None
    channels: dict[str, str]
    input: State | None
    config: dict[str, Any]
    metadata: dict[str, Any]
    interrupt_before: list[str]
    interrupt_after: list[str]
    recursion_limit: int
    timeout: float | None
    base: RunBase | None
    update: NotRequired[State | None]
    as_node: NotRequired[str | None]
    goto: NotRequired[list[Any]]
    after_seconds: NotRequired[float]
    after_run: NotRequired[str]
    kwargs: NotRequired[dict[str, Any]]
    #: An edit request: a worker serving the graph applies this edit with the graph's code.
    edit: NotRequired[EditRequest]
    #: The run's thread was made for it (a new id, created in the run's transaction; absent:
    #: otherwise): it holds nothing but what this run writes. Since 2026-12-05.
    new_thread: NotRequired[bool]


class RunStarted(TypedDict):
    worker_id: str
    epoch: int | None
    attempt: int


class StepPlanned(TypedDict):
    step: int
    tasks: list[PlannedTask]
    barriers: dict[str, list[str]]
    custom_values: State
    counts: NotRequired[bool]  # absent in step 0: true
    ns: NotRequired[str]
    checkpoint_id: NotRequired[str]  # LangGraph runs: the LangGraph checkpoint the step starts from
    # LangGraph runs, since 2026-12-04: the state is the previous step_planned's, with
    # custom_values set and appended's items added at the end of those keys' lists (the step's
    # results are not applied again: LangGraph computed them).
    carry: NotRequired[bool]
    appended: NotRequired[dict[str, list[Any]]]
    # LangGraph runs, since 2026-12-04: the checkpoint the step starts from, when it was committed
    # with this event (langgraph.py: merge_langgraph_records).
    langgraph_checkpoint: NotRequired[LgCheckpoint]


class NodeCompleted(TypedDict):
    step: int
    task: str
    node: str
    attempt: int
    update: State
    goto: list[Any]
    started_at: float
    finished_at: float
    duration_ms: float
    model_calls: NotRequired[list[dict[str, Any]]]
    tool_calls: NotRequired[list[dict[str, Any]]]  # the tools the task ran, each timed
    ns: NotRequired[str]
    #: A LangGraph task whose writes came from the graph's cache (its CachePolicy): not executed.
    cached: NotRequired[bool]
    #: LangGraph runs, since 2026-12-04: the task's writes, committed with this event.
    langgraph_writes: NotRequired[LgWrites]


class NodeFailed(TypedDict):
    step: int
    task: str
    node: str
    attempt: int
    error: dict[str, Any]
    will_retry: bool
    retry_in: float
    started_at: float
    finished_at: float
    ns: NotRequired[str]
    #: The model and tool calls the failed attempt made (as in ``node_completed``).
    model_calls: NotRequired[list[dict[str, Any]]]
    tool_calls: NotRequired[list[dict[str, Any]]]


class RunInterrupted(TypedDict):
    step: int
    interrupts: list[Interrupt]
    ns: NotRequired[str]


class RunResumed(TypedDict):
    resume: Any
    by_id: NotRequired[dict[str, Any]]
    ns: NotRequired[str]


class RunCompleted(TypedDict):
    custom_values: NotRequired[State]
    ns: NotRequired[str]
    # LangGraph runs, since 2026-12-05: as in step_planned, the final state is the last
    # step_planned's with custom_values set and appended's items added at the end of those keys'
    # lists (a conversation's run no longer ends with every message of the thread again).
    carry: NotRequired[bool]
    appended: NotRequired[dict[str, list[Any]]]


class RunFailed(TypedDict):
    error: dict[str, Any]
    ns: NotRequired[str]


class RunCancelRequested(TypedDict):
    reason: str
    action: NotRequired[Literal["interrupt", "rollback"]]  # absent in old logs: "interrupt"


class RunCancelled(TypedDict):
    reason: NotRequired[str]


class RunTimedOut(TypedDict):
    error: dict[str, Any]


class SubgraphStarted(TypedDict):
    ns: str
    graph_id: str
    channels: dict[str, str]
    input: State
    recursion_limit: int


class StreamPart(TypedDict):
    mode: str  # debug, tasks, checkpoints; with stream_subgraphs, a subgraph's values/updates too
    ns: str  # the emitting subgraph's namespace as LangGraph names it ("inner:<task id>"; "": root)
    chunk: Any  # LangGraph's chunk, as the JSON the SSE stream sends
    key: str  # the part's, also in its live event: a stream sends it once (from either)


class StreamParts(TypedDict):
    parts: list[StreamPart]


class EditPlan(TypedDict):
    step: int
    tasks: list[PlannedTask]
    barriers: dict[str, list[str]]


class StateUpdated(TypedDict):
    values: State
    as_node: str | None
    #: Custom-reducer keys the writer reduced: their ``values`` entry is the reducer's result.
    reduced: NotRequired[list[str]]
    #: What runs next, decided by ``as_node``'s edges and routers on the edited state (recorded,
    #: as routers are code): it replaces the run's pending step. Absent: the pending step stays.
    next: NotRequired[EditPlan]
    #: LangGraph runs, an edit a worker made (an edit request): the tasks LangGraph plans from
    #: the edit's checkpoint, ``{"checkpoint_id", "tasks": [{"id", "node"}]}``, for thread states
    #: read without the graph's code (LangGraph routes the run itself).
    planned: NotRequired[dict[str, Any]]


class EditRefused(TypedDict):
    error: dict[str, Any]


class RunDeleted(TypedDict):
    pass


class WebhookAttemptFailed(TypedDict):
    end_seq: int
    url: str
    attempt: int
    error: str
    retry_at: str


class WebhookDelivered(TypedDict):
    end_seq: int
    url: str
    attempt: int
    status: int


class WebhookAbandoned(TypedDict):
    end_seq: int
    url: str
    attempts: int
    error: str


def _with_ns(data: Mapping[str, Any], ns: str) -> dict[str, Any]:
    # Root-graph events carry no "ns" key at all (it means ""), so old and new logs read alike.
    return {**data, "ns": ns} if ns else dict(data)


def run_created(data: RunCreated) -> NewEvent:
    """The request; ``engine.commands.run_created`` validates it and is its only caller."""
    return NewEvent(names.RUN_CREATED, data)


def run_started(*, worker_id: str, epoch: int | None, attempt: int) -> NewEvent:
    return NewEvent(names.RUN_STARTED, RunStarted(worker_id=worker_id, epoch=epoch, attempt=attempt))


def step_planned(
    *,
    step: int,
    tasks: list[PlannedTask],
    barriers: dict[str, list[str]],
    custom_values: State,
    counts: bool | None = None,
    ns: str = "",
    checkpoint_id: str | None = None,
    appended: State | None = None,
) -> NewEvent:
    """``appended`` (LangGraph runs): the state is the previous step's (``carry``), with
    ``custom_values`` set and these lists' items added at the end of those keys' values."""
    data = StepPlanned(step=step, tasks=tasks, barriers=barriers, custom_values=custom_values)
    if counts is not None:
        data["counts"] = counts
    if checkpoint_id is not None:
        data["checkpoint_id"] = checkpoint_id
    if appended is not None:
        data["carry"] = True
        data["appended"] = {k: list(v) for k, v in appended.items()}
    return NewEvent(names.STEP_PLANNED, _with_ns(data, ns))


def node_completed(
    *,
    step: int,
    task: str,
    node: str,
    attempt: int,
    update: State,
    goto: list[Any],
    started_at: float,
    finished_at: float,
    model_calls: list[dict[str, Any]] | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    ns: str = "",
    cached: bool = False,
) -> NewEvent:
    data = NodeCompleted(
        step=step,
        task=task,
        node=node,
        attempt=attempt,
        update=update,
        goto=goto,
        started_at=started_at,
        finished_at=finished_at,
        duration_ms=round((finished_at - started_at) * 1000, 3),
    )
    if model_calls:
        data["model_calls"] = model_calls
    if tool_calls:
        data["tool_calls"] = tool_calls
    if cached:
        data["cached"] = True
    return NewEvent(names.NODE_COMPLETED, _with_ns(data, ns))


def node_failed(
    *,
    step: int,
    task: str,
    node: str,
    attempt: int,
    error: dict[str, Any],
    will_retry: bool,
    retry_in: float,
    started_at: float,
    finished_at: float,
    ns: str = "",
    model_calls: list[dict[str, Any]] | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
) -> NewEvent:
    data = NodeFailed(
        step=step,
        task=task,
        node=node,
        attempt=attempt,
        error=error,
        will_retry=will_retry,
        retry_in=retry_in,
        started_at=started_at,
        finished_at=finished_at,
    )
    if model_calls:
        data["model_calls"] = model_calls
    if tool_calls:
        data["tool_calls"] = tool_calls
    return NewEvent(names.NODE_FAILED, _with_ns(data, ns))


def run_interrupted(*, step: int, interrupts: list[Interrupt], ns: str = "") -> NewEvent:
    return NewEvent(names.RUN_INTERRUPTED, _with_ns(RunInterrupted(step=step, interrupts=interrupts), ns))


def run_resumed(resume: Any, *, by_id: Mapping[str, Any] | None = None, ns: str = "") -> NewEvent:
    data = RunResumed(resume=resume)
    if by_id is not None:
        data["by_id"] = dict(by_id)
    return NewEvent(names.RUN_RESUMED, _with_ns(data, ns))


def run_completed(
    *, custom_values: State | None = None, ns: str = "", appended: State | None = None
) -> NewEvent:
    """``appended`` (LangGraph runs): the final state is the last step's (``carry``), with
    ``custom_values`` set and these lists' items added at the end of those keys' values."""
    data = RunCompleted()
    if custom_values is not None:
        data["custom_values"] = custom_values
    if appended is not None:
        data["carry"] = True
        data["appended"] = {k: list(v) for k, v in appended.items()}
    return NewEvent(names.RUN_COMPLETED, _with_ns(data, ns))


def run_failed(error: dict[str, Any], *, ns: str = "") -> NewEvent:
    return NewEvent(names.RUN_FAILED, _with_ns(RunFailed(error=error), ns))


def run_cancel_requested(*, reason: str, action: Literal["interrupt", "rollback"]) -> NewEvent:
    return NewEvent(names.RUN_CANCEL_REQUESTED, RunCancelRequested(reason=reason, action=action))


def run_cancelled(reason: str | None = None) -> NewEvent:
    data = RunCancelled()
    if reason is not None:
        data["reason"] = reason
    return NewEvent(names.RUN_CANCELLED, data)


def run_timed_out(timeout: float | None) -> NewEvent:
    error = {"type": "RunTimeout", "message": f"run exceeded its timeout of {timeout}s"}
    return NewEvent(names.RUN_TIMED_OUT, RunTimedOut(error=error))


def subgraph_started(
    *, ns: str, graph_id: str, channels: dict[str, str], input: State, recursion_limit: int
) -> NewEvent:
    data = SubgraphStarted(
        ns=ns, graph_id=graph_id, channels=channels, input=input, recursion_limit=recursion_limit
    )
    return NewEvent(names.SUBGRAPH_STARTED, data)


def state_updated(
    *,
    values: State,
    as_node: str | None,
    reduced: list[str] | None = None,
    next: EditPlan | None = None,
    planned: dict[str, Any] | None = None,
) -> NewEvent:
    data = StateUpdated(values=values, as_node=as_node)
    if reduced:
        data["reduced"] = reduced
    if next is not None:
        data["next"] = next
    if planned is not None:
        data["planned"] = planned
    return NewEvent(names.STATE_UPDATED, data)


def edit_refused(*, error: dict[str, Any]) -> NewEvent:
    return NewEvent(names.EDIT_REFUSED, EditRefused(error=error))


def run_deleted() -> NewEvent:
    return NewEvent(names.RUN_DELETED, RunDeleted())


def stream_parts(parts: list[StreamPart]) -> NewEvent:
    return NewEvent(names.STREAM_PARTS, StreamParts(parts=parts))


def webhook_attempt_failed(*, end_seq: int, url: str, attempt: int, error: str, retry_at: str) -> NewEvent:
    data = WebhookAttemptFailed(end_seq=end_seq, url=url, attempt=attempt, error=error, retry_at=retry_at)
    return NewEvent(names.WEBHOOK_ATTEMPT_FAILED, data)


def webhook_delivered(*, end_seq: int, url: str, attempt: int, status: int) -> NewEvent:
    data = WebhookDelivered(end_seq=end_seq, url=url, attempt=attempt, status=status)
    return NewEvent(names.WEBHOOK_DELIVERED, data)


def webhook_abandoned(*, end_seq: int, url: str, attempts: int, error: str) -> NewEvent:
    data = WebhookAbandoned(end_seq=end_seq, url=url, attempts=attempts, error=error)
    return NewEvent(names.WEBHOOK_ABANDONED, data)


#: The catalogue entries of these types (catalogue.py gathers them), in the order of docs/events.md.
RUN_EVENT_SPECS = (
    EventSpec(names.RUN_CREATED, RunCreated, "run", "the request: input, config, graph, thread, base"),
    EventSpec(names.RUN_STARTED, RunStarted, "run", "an executor took up the run (every lease)"),
    EventSpec(names.STEP_PLANNED, StepPlanned, "run", "the tasks of a superstep; closes the previous one"),
    EventSpec(names.NODE_COMPLETED, NodeCompleted, "run", "one task's update and routing"),
    EventSpec(names.NODE_FAILED, NodeFailed, "run", "one failed attempt of a task"),
    EventSpec(names.RUN_INTERRUPTED, RunInterrupted, "run", "paused, waiting for a resume"),
    EventSpec(names.RUN_RESUMED, RunResumed, "run", "Command(resume=...) for an interrupted run"),
    EventSpec(names.RUN_COMPLETED, RunCompleted, "run", "the run (or subgraph) reached END"),
    EventSpec(names.RUN_FAILED, RunFailed, "run", "the run (or subgraph) failed for good"),
    EventSpec(names.RUN_CANCEL_REQUESTED, RunCancelRequested, "run", "a request to stop the run"),
    EventSpec(names.RUN_CANCELLED, RunCancelled, "run", "the run stopped on request"),
    EventSpec(names.RUN_TIMED_OUT, RunTimedOut, "run", "the run exceeded its timeout"),
    EventSpec(names.SUBGRAPH_STARTED, SubgraphStarted, "run", "a subgraph node began its supersteps"),
    EventSpec(names.STREAM_PARTS, StreamParts, "run", "LangGraph's own stream parts, for resumed streams"),
    EventSpec(names.STATE_UPDATED, StateUpdated, "run", "a state edit on a paused or finished run"),
    EventSpec(names.EDIT_REFUSED, EditRefused, "run", "an edit request the graph's code refused"),
    EventSpec(names.RUN_DELETED, RunDeleted, "run", "removed from the read models; events stay"),
    EventSpec(names.WEBHOOK_ATTEMPT_FAILED, WebhookAttemptFailed, "run", "a webhook attempt failed"),
    EventSpec(names.WEBHOOK_DELIVERED, WebhookDelivered, "run", "a run's end was POSTed to its webhook"),
    EventSpec(names.WEBHOOK_ABANDONED, WebhookAbandoned, "run", "a webhook delivery given up (or refused)"),
)
