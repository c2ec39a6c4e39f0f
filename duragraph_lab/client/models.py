"""Typed views of the API's JSON answers.

Every object is a frozen dataclass built by ``from_json`` from what the server returns (see
``duragraph_lab/api`` and ``GET /openapi.json``); timestamps become timezone-aware datetimes and
the whole answer stays available as ``raw`` (fields a newer server adds are not lost).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from duragraph_lab.client.messages import with_messages
from duragraph_lab.domain.run import RunStatus

Json = dict[str, Any]

#: Run statuses after which nothing happens until someone acts (a resume, a new run).
AT_REST_STATUSES: frozenset[str] = frozenset(
    s.value
    for s in (
        RunStatus.SUCCESS,
        RunStatus.ERROR,
        RunStatus.TIMEOUT,
        RunStatus.CANCELLED,
        RunStatus.INTERRUPTED,
    )
)


def parse_datetime(value: Any) -> dt.datetime | None:
    """An ISO 8601 timestamp (or epoch seconds) as an aware datetime (UTC when no offset)."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        out = value
    elif isinstance(value, (int, float)):
        out = dt.datetime.fromtimestamp(value, dt.UTC)
    else:
        text = str(value)
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        out = dt.datetime.fromisoformat(text)
    return out if out.tzinfo is not None else out.replace(tzinfo=dt.UTC)


def _required_datetime(value: Any) -> dt.datetime:
    out = parse_datetime(value)
    if out is None:
        raise ValueError("a required timestamp is missing")
    return out


def _dict(value: Any) -> Json:
    return dict(value) if isinstance(value, Mapping) else {}


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _opt_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _opt_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


# -- assistants ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Assistant:
    assistant_id: str
    graph_id: str
    name: str
    description: str | None
    config: Json
    context: Json
    metadata: Json
    version: int
    created_at: dt.datetime | None
    updated_at: dt.datetime | None
    #: Whether a live worker serves the graph (None: the server did not say, e.g. with ``select``).
    served: bool | None = None
    raw: Json = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Assistant:
        return cls(
            assistant_id=str(body["assistant_id"]),
            graph_id=str(body.get("graph_id") or ""),
            name=str(body.get("name") or ""),
            description=_opt_str(body.get("description")),
            config=_dict(body.get("config")),
            context=_dict(body.get("context")),
            metadata=_dict(body.get("metadata")),
            version=int(body.get("version") or 1),
            created_at=parse_datetime(body.get("created_at")),
            updated_at=parse_datetime(body.get("updated_at")),
            served=body["served"] if isinstance(body.get("served"), bool) else None,
            raw=dict(body),
        )


@dataclass(frozen=True, slots=True)
class AssistantGraph:
    """An assistant's topology: LangGraph's ``{nodes, edges}`` plus DuraGraph's layout."""

    graph_id: str | None
    version: str | None
    nodes: tuple[Json, ...]
    edges: tuple[Json, ...]
    layout: Json | None
    interrupt_before: tuple[str, ...]
    interrupt_after: tuple[str, ...]
    raw: Json = field(default_factory=dict, repr=False, compare=False)

    @property
    def node_ids(self) -> list[str]:
        return [str(n.get("id")) for n in self.nodes]

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> AssistantGraph:
        layout = body.get("layout")
        return cls(
            graph_id=_opt_str(body.get("graph_id")),
            version=_opt_str(body.get("version")),
            nodes=tuple(_dict(n) for n in body.get("nodes") or ()),
            edges=tuple(_dict(e) for e in body.get("edges") or ()),
            layout=dict(layout) if isinstance(layout, Mapping) else None,
            interrupt_before=tuple(str(n) for n in body.get("interrupt_before") or ()),
            interrupt_after=tuple(str(n) for n in body.get("interrupt_after") or ()),
            raw=dict(body),
        )


@dataclass(frozen=True, slots=True)
class GraphSchemas:
    """JSON Schemas of a graph's input, output, state, config and context (None: not known)."""

    graph_id: str
    input_schema: Json | None
    output_schema: Json | None
    state_schema: Json | None
    config_schema: Json | None
    context_schema: Json | None
    raw: Json = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> GraphSchemas:
        def schema(key: str) -> Json | None:
            value = body.get(key)
            return dict(value) if isinstance(value, Mapping) else None

        return cls(
            graph_id=str(body.get("graph_id") or ""),
            input_schema=schema("input_schema"),
            output_schema=schema("output_schema"),
            state_schema=schema("state_schema"),
            config_schema=schema("config_schema"),
            context_schema=schema("context_schema"),
            raw=dict(body),
        )


# -- threads and state ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Interrupt:
    """A pending ``interrupt(value)``: resume it with ``command={"resume": ...}``."""

    value: Any
    id: str
    when: str | None = None
    node: str | None = None

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Interrupt:
        return cls(
            value=body.get("value"),
            id=str(body.get("id") or ""),
            when=_opt_str(body.get("when")),
            node=_opt_str(body.get("node")),
        )


def _interrupts(items: Any) -> tuple[Interrupt, ...]:
    return tuple(Interrupt.from_json(i) for i in items or () if isinstance(i, Mapping))


@dataclass(frozen=True, slots=True)
class Thread:
    thread_id: str
    status: str
    created_at: dt.datetime | None
    updated_at: dt.datetime | None
    metadata: Json
    values: Json | None
    interrupts: dict[str, tuple[Interrupt, ...]]
    error: Any = None
    raw: Json = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Thread:
        values = body.get("values")
        interrupts = body.get("interrupts")
        return cls(
            thread_id=str(body["thread_id"]),
            status=str(body.get("status") or ""),
            created_at=parse_datetime(body.get("created_at")),
            updated_at=parse_datetime(body.get("updated_at")),
            metadata=_dict(body.get("metadata")),
            values=dict(values) if isinstance(values, Mapping) else None,
            interrupts={str(k): _interrupts(v) for k, v in interrupts.items()}
            if isinstance(interrupts, Mapping)
            else {},
            error=body.get("error"),
            raw=dict(body),
        )


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A point in a thread's history (``checkpoint_id`` = the event id of a checkpoint event)."""

    thread_id: str
    checkpoint_id: str
    checkpoint_ns: str = ""
    checkpoint_map: Json | None = None

    @classmethod
    def from_json(cls, body: Any) -> Checkpoint | None:
        if not isinstance(body, Mapping) or not body.get("checkpoint_id"):
            return None
        checkpoint_map = body.get("checkpoint_map")
        return cls(
            thread_id=str(body.get("thread_id") or ""),
            checkpoint_id=str(body["checkpoint_id"]),
            checkpoint_ns=str(body.get("checkpoint_ns") or ""),
            checkpoint_map=dict(checkpoint_map) if isinstance(checkpoint_map, Mapping) else None,
        )


@dataclass(frozen=True, slots=True)
class StateTask:
    """A task of a checkpoint: planned, done (``result``), failed (``error``) or interrupted."""

    id: str
    name: str
    error: str | None
    interrupts: tuple[Interrupt, ...]
    result: Any = None
    state: Any = None

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> StateTask:
        return cls(
            id=str(body.get("id") or ""),
            name=str(body.get("name") or ""),
            error=_opt_str(body.get("error")),
            interrupts=_interrupts(body.get("interrupts")),
            result=body.get("result"),
            state=body.get("state"),
        )


@dataclass(frozen=True, slots=True)
class ThreadState:
    """LangGraph's ``ThreadState``, plus where the checkpoint is in DuraGraph's event log."""

    values: Json
    next: tuple[str, ...]
    tasks: tuple[StateTask, ...]
    checkpoint: Checkpoint | None
    parent_checkpoint: Checkpoint | None
    metadata: Json | None
    created_at: dt.datetime | None
    interrupts: tuple[Interrupt, ...]
    run_id: str | None = None
    seq: int | None = None
    status: str | None = None
    raw: Json = field(default_factory=dict, repr=False, compare=False)

    @property
    def checkpoint_id(self) -> str | None:
        return self.checkpoint.checkpoint_id if self.checkpoint is not None else None

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> ThreadState:
        metadata = body.get("metadata")
        return cls(
            values=with_messages(_dict(body.get("values"))),
            next=tuple(str(n) for n in body.get("next") or ()),
            tasks=tuple(StateTask.from_json(t) for t in body.get("tasks") or () if isinstance(t, Mapping)),
            checkpoint=Checkpoint.from_json(body.get("checkpoint")),
            parent_checkpoint=Checkpoint.from_json(body.get("parent_checkpoint")),
            metadata=dict(metadata) if isinstance(metadata, Mapping) else None,
            created_at=parse_datetime(body.get("created_at")),
            interrupts=_interrupts(body.get("interrupts")),
            run_id=_opt_str(body.get("run_id")),
            seq=_opt_int(body.get("seq")),
            status=_opt_str(body.get("status")),
            raw=dict(body),
        )


@dataclass(frozen=True, slots=True)
class StateUpdate:
    """The answer to a state edit: the checkpoint it made."""

    checkpoint: Checkpoint | None
    raw: Json = field(default_factory=dict, repr=False, compare=False)

    @property
    def checkpoint_id(self) -> str | None:
        return self.checkpoint.checkpoint_id if self.checkpoint is not None else None

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> StateUpdate:
        return cls(checkpoint=Checkpoint.from_json(body.get("checkpoint")), raw=dict(body))


# -- runs ----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Run:
    run_id: str
    thread_id: str
    assistant_id: str | None
    graph_id: str | None
    status: str
    created_at: dt.datetime | None
    updated_at: dt.datetime | None
    metadata: Json
    kwargs: Json
    multitask_strategy: str | None = None
    error: Any = None
    step: int | None = None
    attempt: int | None = None
    worker_id: str | None = None
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    #: Why a pending run has not started (``{"reason": "no_worker", "message": ...}``), else None.
    waiting_for: Json | None = None
    #: A fork's origin: ``{"run_id", "seq", "position", "edited"}`` (None for other runs).
    forked_from: Json | None = None
    #: ``{"input_tokens", "output_tokens"}`` its model calls reported; None when none did.
    usage: Json | None = None
    raw: Json = field(default_factory=dict, repr=False, compare=False)

    @property
    def at_rest(self) -> bool:
        """Finished (success, error, timeout, cancelled) or paused for a human (interrupted)."""
        return self.status in AT_REST_STATUSES

    @property
    def terminal(self) -> bool:
        """Finished for good (at rest and not waiting for a human)."""
        return self.at_rest and self.status != RunStatus.INTERRUPTED.value

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Run:
        return cls(
            run_id=str(body["run_id"]),
            thread_id=str(body.get("thread_id") or ""),
            assistant_id=_opt_str(body.get("assistant_id")),
            graph_id=_opt_str(body.get("graph_id")),
            # DuraGraph's own status (``cancelled`` included; LangGraph's shows it as interrupted).
            status=str(body.get("duragraph_status") or body.get("status") or ""),
            created_at=parse_datetime(body.get("created_at")),
            updated_at=parse_datetime(body.get("updated_at")),
            metadata=_dict(body.get("metadata")),
            kwargs=_dict(body.get("kwargs")),
            multitask_strategy=_opt_str(body.get("multitask_strategy")),
            error=body.get("error"),
            step=_opt_int(body.get("step")),
            attempt=_opt_int(body.get("attempt")),
            worker_id=_opt_str(body.get("worker_id")),
            waiting_for=dict(body["waiting_for"]) if isinstance(body.get("waiting_for"), Mapping) else None,
            forked_from=dict(body["forked_from"]) if isinstance(body.get("forked_from"), Mapping) else None,
            usage=dict(body["usage"]) if isinstance(body.get("usage"), Mapping) else None,
            started_at=parse_datetime(body.get("started_at")),
            ended_at=parse_datetime(body.get("ended_at")),
            raw=dict(body),
        )


@dataclass(frozen=True, slots=True)
class RunResult:
    """What ``wait``/``join`` answer: the final values, or why there are none.

    ``interrupts`` is set when the run paused for a human (``__interrupt__``), ``error`` when it
    failed (``__error__``: ``{"error", "message"}``). ``run_id``/``thread_id`` come from the
    response's ``Content-Location`` (None when the server did not say).
    """

    values: Json
    interrupts: tuple[Interrupt, ...] = ()
    error: Json | None = None
    run_id: str | None = None
    thread_id: str | None = None
    raw: Any = field(default=None, repr=False, compare=False)

    @property
    def interrupted(self) -> bool:
        return bool(self.interrupts)

    @property
    def failed(self) -> bool:
        return self.error is not None

    @classmethod
    def from_json(cls, body: Any, *, run_id: str | None = None, thread_id: str | None = None) -> RunResult:
        values = dict(body) if isinstance(body, Mapping) else {}
        error = values.pop("__error__", None)
        interrupts = values.pop("__interrupt__", None)
        return cls(
            values=with_messages(values),
            interrupts=_interrupts(interrupts),
            error=dict(error) if isinstance(error, Mapping) else None,
            run_id=run_id,
            thread_id=thread_id,
            raw=body,
        )


# -- DuraGraph extras ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Event:
    """One event of a run's log. ``node``/``step``/``attempt``/``task``/``duration_ms`` are read
    from the payload when the event type has them (None otherwise)."""

    seq: int
    event_id: str
    stream: str
    run_id: str | None
    version: int | None
    type: str
    recorded_at: dt.datetime
    data: Json
    meta: Json
    node: str | None = None
    step: int | None = None
    attempt: int | None = None
    task: str | None = None
    duration_ms: float | None = None

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Event:
        data = _dict(body.get("data"))
        stream = str(body.get("stream_id") or "")
        kind, _, ident = stream.partition(":")
        return cls(
            seq=int(body["seq"]),
            event_id=str(body.get("event_id") or ""),
            stream=stream,
            run_id=ident if kind == "run" and ident else None,
            version=_opt_int(body.get("version")),
            type=str(body.get("type") or ""),
            recorded_at=_required_datetime(body.get("recorded_at")),
            data=data,
            meta=_dict(body.get("meta")),
            node=_opt_str(data.get("node")),
            step=_opt_int(data.get("step")),
            attempt=_opt_int(data.get("attempt")),
            task=_opt_str(data.get("task")),
            duration_ms=_opt_float(data.get("duration_ms")),
        )


@dataclass(frozen=True, slots=True)
class EventPage:
    """A page of a run's event log; ask for the next with ``after=next_after``."""

    run_id: str
    events: tuple[Event, ...]
    next_after: int | None
    has_more: bool

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> EventPage:
        return cls(
            run_id=str(body.get("run_id") or ""),
            events=tuple(Event.from_json(e) for e in body.get("events") or ()),
            next_after=_opt_int(body.get("next_after")),
            has_more=bool(body.get("has_more")),
        )


@dataclass(frozen=True, slots=True)
class Span:
    """One node execution (one attempt of one task)."""

    run_id: str
    ns: str
    node: str
    task: str
    step: int
    attempt: int
    status: str
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    duration_ms: float | None
    error: Json | None
    seq: int | None
    #: Tokens its model calls reported (None: none did).
    input_tokens: int | None = None
    output_tokens: int | None = None

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Span:
        error = body.get("error")
        found = body.get("usage")
        usage: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        return cls(
            run_id=str(body.get("run_id") or ""),
            ns=str(body.get("ns") or ""),
            node=str(body.get("node") or ""),
            task=str(body.get("task") or ""),
            step=int(body.get("step") or 0),
            attempt=int(body.get("attempt") or 0),
            status=str(body.get("status") or ""),
            started_at=parse_datetime(body.get("started_at")),
            ended_at=parse_datetime(body.get("ended_at")),
            duration_ms=_opt_float(body.get("duration_ms")),
            error=dict(error) if isinstance(error, Mapping) else None,
            seq=_opt_int(body.get("seq")),
            input_tokens=_opt_int(usage.get("input_tokens")),
            output_tokens=_opt_int(usage.get("output_tokens")),
        )


@dataclass(frozen=True, slots=True)
class EventState:
    """The state of a run right after one of its events (``values``: at a node's completion, with
    that node's update applied) and right after the event before it (``previous``)."""

    run_id: str
    seq: int
    type: str
    node: str | None
    step: int | None
    values: Json
    previous: Json
    previous_seq: int | None
    raw: Json = field(default_factory=dict, repr=False, compare=False)

    @property
    def change(self) -> Json:
        """The keys this event changed, with their new values (a key it removed maps to None)."""
        keys = set(self.values) | set(self.previous)
        return {k: self.values.get(k) for k in sorted(keys) if self.values.get(k) != self.previous.get(k)}

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> EventState:
        values, previous = body.get("values"), body.get("previous")
        return cls(
            run_id=str(body.get("run_id") or ""),
            seq=int(body.get("seq") or 0),
            type=str(body.get("type") or ""),
            node=_opt_str(body.get("node")),
            step=_opt_int(body.get("step")),
            values=dict(values) if isinstance(values, Mapping) else {},
            previous=dict(previous) if isinstance(previous, Mapping) else {},
            previous_seq=_opt_int(body.get("previous_seq")),
            raw=dict(body),
        )


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """A deterministic re-execution of a run with the graph's current code: ``identical`` when
    every task gave the recorded result, else ``divergence`` says where it first differed."""

    run_id: str
    identical: bool
    tasks_checked: int
    divergence: Json | None
    graph_version: str | None
    skipped: tuple[Any, ...]
    worker_id: str | None
    raw: Json = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> ReplayReport:
        divergence = body.get("divergence")
        return cls(
            run_id=str(body.get("run_id") or ""),
            identical=bool(body.get("identical")),
            tasks_checked=int(body.get("tasks_checked") or 0),
            divergence=dict(divergence) if isinstance(divergence, Mapping) else None,
            graph_version=_opt_str(body.get("graph_version")),
            skipped=tuple(body.get("skipped") or ()),
            worker_id=_opt_str(body.get("worker_id")),
            raw=dict(body),
        )


# -- system --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Health:
    """``GET /health``: ``ok`` when PostgreSQL, NATS and the relay are (the body of a 503 too)."""

    status: str
    version: str
    postgres: Json
    nats: Json
    relay: Json
    worker: Json | None
    error: str | None
    raw: Json = field(default_factory=dict, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def graphs(self) -> tuple[str, ...]:
        """Graphs served by the server's in-process worker (empty without one)."""
        return tuple(str(g) for g in (self.worker or {}).get("graphs") or ())

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Health:
        worker = body.get("worker")
        return cls(
            status=str(body.get("status") or ""),
            version=str(body.get("version") or ""),
            postgres=_dict(body.get("postgres")),
            nats=_dict(body.get("nats")),
            relay=_dict(body.get("relay")),
            worker=dict(worker) if isinstance(worker, Mapping) else None,
            error=_opt_str(body.get("error")),
            raw=dict(body),
        )


@dataclass(frozen=True, slots=True)
class WorkerConnection:
    """``GET /worker/connection``: where a worker reaches the server's PostgreSQL and NATS
    (credentials included). ``local_only``: embedded services, reachable from that machine only."""

    database_url: str
    database_tcp_url: str | None
    nats_url: str
    subject_prefix: str
    local_only: bool

    def __repr__(self) -> str:  # never print the credentials
        return f"WorkerConnection(subject_prefix={self.subject_prefix!r}, local_only={self.local_only})"

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> WorkerConnection:
        return cls(
            database_url=str(body.get("database_url") or ""),
            database_tcp_url=_opt_str(body.get("database_tcp_url")),
            nats_url=str(body.get("nats_url") or ""),
            subject_prefix=str(body.get("subject_prefix") or "duragraph"),
            local_only=bool(body.get("local_only")),
        )


@dataclass(frozen=True, slots=True)
class Info:
    """``GET /info``: the server's version and configuration."""

    name: str
    version: str
    python: str | None
    base_url: str | None
    data_dir: str | None
    started_at: dt.datetime | None
    postgres: Json
    nats: Json
    error: str | None
    raw: Json = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Info:
        return cls(
            name=str(body.get("name") or ""),
            version=str(body.get("version") or ""),
            python=_opt_str(body.get("python")),
            base_url=_opt_str(body.get("base_url")),
            data_dir=_opt_str(body.get("data_dir")),
            started_at=parse_datetime(body.get("started_at")),
            postgres=_dict(body.get("postgres")),
            nats=_dict(body.get("nats")),
            error=_opt_str(body.get("error")),
            raw=dict(body),
        )


# -- evals ------------------------------------------------------------------------------------------
def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else []


@dataclass(frozen=True, slots=True)
class DatasetVersion:
    version: int
    example_count: int
    created_at: dt.datetime | None
    seq: int | None
    selection: Json | None
    description: str | None

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> DatasetVersion:
        selection = body.get("selection")
        return cls(
            version=int(body.get("version") or 0),
            example_count=int(body.get("example_count") or 0),
            created_at=parse_datetime(body.get("created_at")),
            seq=_opt_int(body.get("seq")),
            selection=dict(selection) if isinstance(selection, Mapping) else None,
            description=_opt_str(body.get("description")),
        )


@dataclass(frozen=True, slots=True)
class Dataset:
    """A named, versioned set of examples frozen from runs (``POST /datasets``)."""

    dataset_id: str
    name: str
    description: str | None
    metadata: Json
    version: int
    example_count: int
    versions: list[DatasetVersion]
    created_at: dt.datetime | None
    updated_at: dt.datetime | None
    raw: Json = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Dataset:
        return cls(
            dataset_id=str(body["dataset_id"]),
            name=str(body.get("name") or ""),
            description=_opt_str(body.get("description")),
            metadata=_dict(body.get("metadata")),
            version=int(body.get("version") or 0),
            example_count=int(body.get("example_count") or 0),
            versions=[DatasetVersion.from_json(v) for v in _list(body.get("versions"))],
            created_at=parse_datetime(body.get("created_at")),
            updated_at=parse_datetime(body.get("updated_at")),
            raw=dict(body),
        )


@dataclass(frozen=True, slots=True)
class Example:
    """One example of a dataset version: the source run's inputs, outputs and per-node results."""

    example_id: str
    index: int
    inputs: Any
    outputs: Any
    metadata: Json
    source: Json | None
    nodes: list[Json]
    trajectory: list[str]
    tool_calls: list[str]
    latency_ms: float | None
    steps: int | None
    error: str | None
    raw: Json = field(default_factory=dict, repr=False, compare=False)

    @property
    def run_id(self) -> str | None:
        """The run this example was frozen from (None for a hand-written example)."""
        return _opt_str((self.source or {}).get("run_id"))

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Example:
        source = body.get("source")
        return cls(
            example_id=str(body["example_id"]),
            index=int(body.get("index") or 0),
            inputs=body.get("inputs"),
            outputs=body.get("outputs"),
            metadata=_dict(body.get("metadata")),
            source=dict(source) if isinstance(source, Mapping) else None,
            nodes=[dict(n) for n in _list(body.get("nodes")) if isinstance(n, Mapping)],
            trajectory=[str(t) for t in _list(body.get("trajectory"))],
            tool_calls=[str(t) for t in _list(body.get("tool_calls"))],
            latency_ms=_opt_float(body.get("latency_ms")),
            steps=_opt_int(body.get("steps")),
            error=_opt_str(body.get("error")),
            raw=dict(body),
        )


@dataclass(frozen=True, slots=True)
class Experiment:
    """A dataset version re-run against an assistant version, with its summary so far."""

    experiment_id: str
    name: str
    dataset_id: str
    dataset_name: str
    dataset_version: int
    assistant_id: str
    assistant_version: int | None
    graph_id: str
    config: Json
    evaluators: list[Json]
    concurrency: int
    metadata: Json
    status: str
    example_count: int
    result_count: int
    passed: int
    failed: int
    errors: int
    mean_scores: dict[str, float]
    created_at: dt.datetime | None
    completed_at: dt.datetime | None
    #: Who runs it: "client" (a notebook's run_experiment) or "server" (POST .../run).
    runner: str = "client"
    #: A server is running it right now.
    running: bool = False
    raw: Json = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Experiment:
        means = body.get("mean_scores")
        return cls(
            experiment_id=str(body["experiment_id"]),
            name=str(body.get("name") or ""),
            dataset_id=str(body.get("dataset_id") or ""),
            dataset_name=str(body.get("dataset_name") or ""),
            dataset_version=int(body.get("dataset_version") or 0),
            assistant_id=str(body.get("assistant_id") or ""),
            assistant_version=_opt_int(body.get("assistant_version")),
            graph_id=str(body.get("graph_id") or ""),
            config=_dict(body.get("config")),
            evaluators=[dict(e) for e in _list(body.get("evaluators")) if isinstance(e, Mapping)],
            concurrency=int(body.get("concurrency") or 1),
            metadata=_dict(body.get("metadata")),
            status=str(body.get("status") or ""),
            example_count=int(body.get("example_count") or 0),
            result_count=int(body.get("result_count") or 0),
            passed=int(body.get("passed") or 0),
            failed=int(body.get("failed") or 0),
            errors=int(body.get("errors") or 0),
            mean_scores={str(k): float(v) for k, v in (means or {}).items() if v is not None},
            created_at=parse_datetime(body.get("created_at")),
            completed_at=parse_datetime(body.get("completed_at")),
            runner=str(body.get("runner") or "client"),
            running=bool(body.get("running")),
            raw=dict(body),
        )


@dataclass(frozen=True, slots=True)
class ExperimentResult:
    """One example's result in an experiment: its run and its scores."""

    experiment_id: str
    example_id: str
    index: int
    run_id: str | None
    status: str
    verdict: str  # passed | failed | error
    outputs: Any
    error: str | None
    scores: list[Json]
    latency_ms: float | None
    steps: int | None
    nodes: list[Json]
    recorded_at: dt.datetime | None
    seq: int | None
    raw: Json = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> ExperimentResult:
        return cls(
            experiment_id=str(body.get("experiment_id") or ""),
            example_id=str(body["example_id"]),
            index=int(body.get("index") or 0),
            run_id=_opt_str(body.get("run_id")),
            status=str(body.get("status") or ""),
            verdict=str(body.get("verdict") or ""),
            outputs=body.get("outputs"),
            error=_opt_str(body.get("error")),
            scores=[dict(s) for s in _list(body.get("scores")) if isinstance(s, Mapping)],
            latency_ms=_opt_float(body.get("latency_ms")),
            steps=_opt_int(body.get("steps")),
            nodes=[dict(n) for n in _list(body.get("nodes")) if isinstance(n, Mapping)],
            recorded_at=parse_datetime(body.get("recorded_at")),
            seq=_opt_int(body.get("seq")),
            raw=dict(body),
        )


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What a run did, as evaluators see it (``GET /runs/{run_id}/outcome``)."""

    run_id: str
    status: str
    inputs: Any
    outputs: Any
    error: str | None
    nodes: list[Json]
    trajectory: list[str]
    tool_calls: list[str]
    latency_ms: float | None
    steps: int
    raw: Json = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> RunOutcome:
        return cls(
            run_id=str(body["run_id"]),
            status=str(body.get("status") or ""),
            inputs=body.get("inputs"),
            outputs=body.get("outputs"),
            error=_opt_str(body.get("error")),
            nodes=[dict(n) for n in _list(body.get("nodes")) if isinstance(n, Mapping)],
            trajectory=[str(t) for t in _list(body.get("trajectory"))],
            tool_calls=[str(t) for t in _list(body.get("tool_calls"))],
            latency_ms=_opt_float(body.get("latency_ms")),
            steps=int(body.get("steps") or 0),
            raw=dict(body),
        )


@dataclass(frozen=True, slots=True)
class Comparison:
    """Two experiments example by example (``POST /experiments/compare``); ``examples`` and
    ``summary`` as the server sent them (see docs/evals.md)."""

    base: Experiment
    candidate: Experiment
    examples: list[Json]
    summary: Json
    raw: Json = field(default_factory=dict, repr=False, compare=False)

    @property
    def regressed(self) -> list[Json]:
        return [e for e in self.examples if e.get("verdict") == "regressed"]

    @property
    def improved(self) -> list[Json]:
        return [e for e in self.examples if e.get("verdict") == "improved"]

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> Comparison:
        return cls(
            base=Experiment.from_json(body["base"]),
            candidate=Experiment.from_json(body["candidate"]),
            examples=[dict(e) for e in _list(body.get("examples")) if isinstance(e, Mapping)],
            summary=_dict(body.get("summary")),
            raw=dict(body),
        )
