"""Request bodies of the HTTP API, with the field names and defaults of the LangGraph Platform API.

Validation happens here, before any service is called: a wrong type, an unknown field or an
unsupported option is a 422 that names the field, and nothing is written. These models also
give the OpenAPI document its request schemas.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

StreamMode = Literal[
    "values", "updates", "messages", "messages-tuple", "custom", "debug", "events", "tasks", "checkpoints"
]
STREAM_MODES: tuple[str, ...] = StreamMode.__args__  # type: ignore[attr-defined]
MultitaskStrategy = Literal["reject", "interrupt", "rollback", "enqueue"]
ThreadStatus = Literal["idle", "busy", "interrupted", "error"]
RunStatus = Literal["pending", "running", "error", "success", "timeout", "interrupted", "cancelled"]
SortOrder = Literal["asc", "desc"]
Json = dict[str, Any]


class Model(BaseModel):
    # Unknown fields are refused: a misspelt option is an error, not silently ignored.
    model_config = ConfigDict(extra="forbid")


class CheckpointRef(BaseModel):
    """A point in a thread's history (``checkpoint_id`` from its state or history)."""

    model_config = ConfigDict(extra="allow")
    thread_id: str | None = None
    checkpoint_ns: str = ""
    checkpoint_id: str | None = None
    checkpoint_map: Json | None = None


def _uuid_or_none(value: str | None) -> str | None:
    """An id a client chooses must be a UUID (422 otherwise, before anything is written)."""
    if value is None:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError(f"must be a UUID, not {value!r}") from None


class SendTarget(Model):
    node: str
    input: Any = None


class Command(Model):
    """``Command(resume=..., update=..., goto=...)`` as a run's input."""

    resume: Any = None
    update: Json | list[Any] | None = None
    goto: str | SendTarget | list[str | SendTarget] | None = None

    @property
    def has_resume(self) -> bool:
        return "resume" in self.model_fields_set

    def goto_list(self) -> list[Any]:
        if self.goto is None:
            return []
        items = self.goto if isinstance(self.goto, list) else [self.goto]
        return [g if isinstance(g, str) else {"send": g.node, "arg": g.input} for g in items]


class _RunOptions(Model):
    assistant_id: str = Field(description="An assistant id, or a graph id for its default assistant.")
    input: Json | list[Any] | None = None
    command: Command | None = None
    config: Json | None = None
    context: Json | None = None
    metadata: Json | None = None
    stream_mode: StreamMode | list[StreamMode] = "values"
    stream_subgraphs: bool = False
    stream_resumable: bool = Field(
        False, description="Accepted for compatibility: every DuraGraph stream is resumable."
    )
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    on_disconnect: Literal["cancel", "continue"] = "continue"
    after_seconds: float | None = Field(None, ge=0)
    checkpoint_during: bool | None = Field(None, description="Accepted; runs always commit every node.")
    durability: Literal["sync", "async", "exit"] | None = Field(
        None, description="Accepted; runs always commit every node before the next step (sync)."
    )
    feedback_keys: list[str] | None = Field(None, description="Accepted and ignored (LangSmith).")
    langsmith_tracer: Json | None = Field(None, description="Accepted and ignored (LangSmith).")
    strict_resume: bool | None = Field(None, description="Accepted; resumes by id are always strict.")
    webhook: str | None = None

    @field_validator("webhook")
    @classmethod
    def _http_webhook(cls, value: str | None) -> str | None:
        # The form here; the destination policy (private addresses...) in Runs.create.
        if value is not None:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("webhook must be an http or https URL with a host")
        return value

    @property
    def stream_modes(self) -> list[str]:
        modes = self.stream_mode if isinstance(self.stream_mode, list) else [self.stream_mode]
        return list(dict.fromkeys(modes)) or ["values"]


class RunCreateStateful(_RunOptions):
    multitask_strategy: MultitaskStrategy = "enqueue"
    if_not_exists: Literal["create", "reject"] = "reject"
    checkpoint: CheckpointRef | None = None
    checkpoint_id: str | None = None

    @model_validator(mode="after")
    def _command_or_input(self) -> RunCreateStateful:
        if self.command is not None and self.command.has_resume and self.input is not None:
            raise ValueError("give either input or command.resume, not both")
        return self


class RunCreateStateless(_RunOptions):
    on_completion: Literal["delete", "keep"] = "delete"
    if_not_exists: Literal["create", "reject"] | None = None
    multitask_strategy: MultitaskStrategy | None = None

    @model_validator(mode="after")
    def _no_resume(self) -> RunCreateStateless:
        if self.command is not None and self.command.has_resume:
            raise ValueError("a stateless run has no interrupted run to resume: use a thread")
        return self


class RunsCancel(Model):
    thread_id: str | None = None
    run_ids: list[str] | None = None
    status: Literal["pending", "running", "all"] | None = None

    @model_validator(mode="after")
    def _one_selection(self) -> RunsCancel:
        if self.status is not None and (self.thread_id or self.run_ids):
            raise ValueError("select runs either by status or by thread_id/run_ids, not both")
        if self.status is None and not self.run_ids:
            raise ValueError("give run_ids (with thread_id) or a status")
        return self


class RunFork(Model):
    seq: int = Field(description="Global seq of the event to branch after (see /runs/{id}/events).")
    update: Json | None = None
    as_node: str | None = None


class AssistantCreate(Model):
    graph_id: str
    assistant_id: str | None = None
    config: Json | None = None
    context: Json | None = None
    metadata: Json | None = None
    if_exists: Literal["raise", "do_nothing"] = "raise"
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = None

    _assistant_id_is_uuid = field_validator("assistant_id")(_uuid_or_none)


class AssistantPatch(Model):
    graph_id: str | None = None
    config: Json | None = None
    context: Json | None = None
    metadata: Json | None = None
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = None


class _Page(Model):
    limit: int = Field(10, ge=1, le=1000)
    offset: int = Field(0, ge=0)


class AssistantSearch(_Page):
    metadata: Json | None = None
    graph_id: str | None = None
    name: str | None = None
    sort_by: Literal["assistant_id", "graph_id", "name", "created_at", "updated_at"] | None = None
    sort_order: SortOrder | None = None
    select: (
        list[
            Literal[
                "assistant_id",
                "graph_id",
                "name",
                "description",
                "config",
                "context",
                "created_at",
                "updated_at",
                "metadata",
                "version",
            ]
        ]
        | None
    ) = None


class AssistantCount(Model):
    metadata: Json | None = None
    graph_id: str | None = None
    name: str | None = None


class AssistantVersions(_Page):
    metadata: Json | None = None


class AssistantLatest(Model):
    version: int = Field(ge=1)


class StateUpdate(Model):
    values: Json | list[Any] | None = None
    as_node: str | None = None
    checkpoint: CheckpointRef | None = None
    checkpoint_id: str | None = None
    command: Command | None = None


class Superstep(Model):
    updates: list[StateUpdate]


class ThreadCreate(Model):
    thread_id: str | None = None
    metadata: Json | None = None
    if_exists: Literal["raise", "do_nothing"] = "raise"
    supersteps: list[Superstep] | None = None
    graph_id: str | None = None
    ttl: Any = None

    @field_validator("ttl")
    @classmethod
    def _no_ttl(cls, value: Any) -> Any:
        if value is not None:
            raise ValueError("thread TTLs are not supported: delete threads explicitly")
        return value

    _thread_id_is_uuid = field_validator("thread_id")(_uuid_or_none)


class ThreadPatch(Model):
    metadata: Json = Field(default_factory=dict)
    ttl: Any = None

    @field_validator("ttl")
    @classmethod
    def _no_ttl(cls, value: Any) -> Any:
        if value is not None:
            raise ValueError("thread TTLs are not supported: delete threads explicitly")
        return value


class ThreadSearch(_Page):
    metadata: Json | None = None
    values: Json | None = None
    ids: list[str] | None = None
    status: ThreadStatus | None = None
    sort_by: Literal["thread_id", "status", "created_at", "updated_at", "state_updated_at"] | None = None
    sort_order: SortOrder | None = None
    select: (
        list[
            Literal[
                "thread_id",
                "created_at",
                "updated_at",
                "metadata",
                "config",
                "context",
                "status",
                "values",
                "interrupts",
            ]
        ]
        | None
    ) = None


class RunFilter(Model):
    """Which runs, across threads (every given condition holds)."""

    status: RunStatus | list[RunStatus] | None = None
    assistant_id: uuid.UUID | None = None
    graph_id: str | None = None
    thread_id: uuid.UUID | None = None
    ids: list[uuid.UUID] | None = Field(None, max_length=10_000)
    metadata: Json | None = None
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None


class RunSearch(RunFilter):
    limit: int = Field(10, ge=1, le=1000)
    offset: int = Field(0, ge=0)
    sort_by: Literal["created_at", "updated_at"] | None = None
    sort_order: SortOrder | None = None


class ThreadCount(Model):
    metadata: Json | None = None
    values: Json | None = None
    status: ThreadStatus | None = None


class ThreadPrune(Model):
    thread_ids: list[str]
    strategy: Literal["delete"] = "delete"


class ThreadCopy(Model):
    metadata: Json | None = None


class HistoryQuery(Model):
    limit: int = Field(10, ge=1, le=1000)
    before: str | CheckpointRef | None = None
    metadata: Json | None = None
    checkpoint: CheckpointRef | None = None
    select: list[str] | None = None


class StateAtCheckpoint(Model):
    checkpoint: CheckpointRef
    subgraphs: bool = False
    select: list[str] | None = None


# -- evals: datasets and experiments ---------------------------------------------------------------
DATASET_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 _.\-]{0,199}$"


class DatasetSelection(RunFilter):
    """Which runs to freeze into a dataset: the run filters, plus whole threads."""

    thread_ids: list[uuid.UUID] | None = Field(None, max_length=10_000)
    limit: int = Field(100, ge=1, le=1000)
    #: Leave out runs that had no input (forks: they start from another run's state).
    require_input: bool = False


class HandExample(Model):
    """An example written by hand (no source run): inputs and, optionally, reference outputs."""

    inputs: Json
    outputs: Json | None = None
    metadata: Json | None = None


class DatasetVersionCreate(Model):
    selection: DatasetSelection | None = None
    examples: list[HandExample] | None = Field(None, max_length=10_000)
    description: str | None = Field(None, max_length=10_000)


class DatasetCreate(DatasetVersionCreate):
    name: str = Field(pattern=DATASET_NAME_PATTERN)
    metadata: Json | None = None
    if_exists: Literal["raise", "new_version"] = "raise"


class DatasetQuery(Model):
    limit: int = Field(20, ge=1, le=1000)
    offset: int = Field(0, ge=0)
    name: str | None = Field(None, max_length=200)


class EvaluatorSpec(Model):
    """How an experiment scored its examples: a built-in with its arguments, or a function's source."""

    name: str = Field(min_length=1, max_length=200)
    builtin: str | None = Field(None, max_length=200)
    kwargs: Json | None = None
    source: str | None = Field(None, max_length=200_000)


class ExperimentCreate(Model):
    dataset: str = Field(min_length=1, max_length=200)
    dataset_version: int | None = Field(None, ge=1, le=2**31 - 1)
    assistant_id: str = Field(min_length=1, max_length=200)
    assistant_version: int | None = Field(None, ge=1, le=2**31 - 1)
    name: str | None = Field(None, min_length=1, max_length=200)
    evaluators: list[EvaluatorSpec] = Field(default_factory=list, max_length=100)
    concurrency: int = Field(4, ge=1, le=256)
    metadata: Json | None = None


class ScoreIn(Model):
    name: str = Field(min_length=1, max_length=200)
    score: float | None = Field(None, allow_inf_nan=False)
    passed: bool | None = None
    comment: str | None = Field(None, max_length=100_000)
    error: str | None = Field(None, max_length=100_000)


class ResultCreate(Model):
    """One example's result. With a ``run_id`` the server reads status, outputs, nodes, latency
    and steps from that run (they are facts of the log, not the client's say); without one (the
    run could not even start) ``status``/``error`` say what happened."""

    example_id: str = Field(min_length=1, max_length=200)
    run_id: uuid.UUID | None = None
    status: RunStatus | None = None
    error: str | None = Field(None, max_length=100_000)
    scores: list[ScoreIn] = Field(default_factory=list, max_length=100)


class ExperimentQuery(Model):
    dataset: str | None = Field(None, max_length=200)
    limit: int = Field(20, ge=1, le=1000)
    offset: int = Field(0, ge=0)


class CompareBody(Model):
    base: uuid.UUID
    candidate: uuid.UUID


# -- the store (LangGraph Platform's /store routes) ------------------------------------------------
Labels = list[str]
MAX_STORE_OFFSET = 1_000_000_000


class StorePut(Model):
    namespace: Labels
    key: str = Field(min_length=1)
    value: Json
    # Per-item index fields need a vector index, which the store has not: False or null only.
    index: Literal[False] | list[str] | None = None
    # Minutes; left out: the store's default TTL; null: the item never expires.
    ttl: float | None = Field(None, allow_inf_nan=False)


class StoreDelete(Model):
    namespace: Labels = Field(default_factory=list)
    key: str = Field(min_length=1)


class StoreSearch(Model):
    namespace_prefix: Labels | None = None
    filter: Json | None = None
    limit: int = Field(10, ge=0, le=1000)
    offset: int = Field(0, ge=0, le=MAX_STORE_OFFSET)
    query: str | None = None
    refresh_ttl: bool | None = None


class StoreListNamespaces(Model):
    prefix: Labels | None = None
    suffix: Labels | None = None
    max_depth: int | None = Field(None, ge=1)
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=MAX_STORE_OFFSET)


class ProtocolCommand(Model):
    """A command of the thread-centric streaming protocol (``langchain-protocol``'s ``Command``)."""

    id: int = Field(ge=0)
    method: str = Field(min_length=1, description="run.start, input.respond, run.cancel, state.get, ...")
    params: Json | None = None


class EventStreamRequest(Model):
    """A subscription to a thread's protocol events (``langchain-protocol``'s ``EventStreamRequest``)."""

    channels: list[str] = Field(min_length=1)
    namespaces: list[list[str]] | None = None
    depth: int | None = Field(None, ge=0)
    since: int | None = Field(None, ge=0, description="Replay the events after this seq.")


# -- crons -----------------------------------------------------------------------------------------
def _http_url_or_none(value: str | None) -> str | None:
    """A webhook: stored with the cron (delivered by the webhook sender), http(s) only."""
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError(f"must be an http(s) URL, not {value!r}")
    return value


class _CronRun(Model):
    """What each of a cron's runs is started with."""

    input: Json | list[Any] | None = None
    config: Json | None = None
    context: Json | None = None
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    webhook: str | None = None
    stream_mode: StreamMode | list[StreamMode] | None = None
    stream_subgraphs: bool | None = None
    stream_resumable: bool | None = Field(None, description="Accepted: every DuraGraph stream is resumable.")
    durability: Literal["sync", "async", "exit"] | None = Field(
        None, description="Accepted; runs always commit every node before the next step (sync)."
    )

    _webhook_is_http = field_validator("webhook")(_http_url_or_none)


class CronCreate(_CronRun):
    assistant_id: str = Field(description="An assistant id, or a graph id for its default assistant.")
    schedule: str = Field(
        min_length=1,
        description="A cron expression: 5 fields (minute hour day month weekday), or 6 with seconds last.",
    )
    metadata: Json | None = None
    checkpoint_during: bool | None = Field(None, description="Accepted; runs always commit every node.")
    multitask_strategy: MultitaskStrategy | None = None
    end_time: dt.datetime | None = None
    enabled: bool = True
    timezone: str | None = Field(None, description="An IANA timezone name; null: UTC.")
    on_run_completed: Literal["delete", "keep"] | None = Field(
        None, description="Stateless crons: delete each run's thread when the run ends (default), or keep it."
    )


class CronPatch(_CronRun):
    schedule: str | None = Field(None, min_length=1)
    metadata: Json | None = None
    end_time: dt.datetime | None = Field(None, description="null clears it.")
    enabled: bool | None = None
    timezone: str | None = None
    on_run_completed: Literal["delete", "keep"] | None = None


class CronSearch(_Page):
    assistant_id: str | None = None
    thread_id: str | None = None
    enabled: bool | None = None
    metadata: Json | None = None
    sort_by: (
        Literal[
            "cron_id", "assistant_id", "thread_id", "created_at", "updated_at", "next_run_date", "end_time"
        ]
        | None
    ) = None
    sort_order: SortOrder | None = None
    select: (
        list[
            Literal[
                "cron_id",
                "assistant_id",
                "thread_id",
                "end_time",
                "schedule",
                "timezone",
                "created_at",
                "updated_at",
                "user_id",
                "payload",
                "next_run_date",
                "metadata",
                "now",
                "on_run_completed",
                "enabled",
            ]
        ]
        | None
    ) = None


class CronCount(Model):
    assistant_id: str | None = None
    thread_id: str | None = None
    metadata: Json | None = None
