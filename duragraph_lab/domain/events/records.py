"""The payloads of the thread, assistant, graph, dataset and experiment streams, and the one
factory that makes each (see ``run.py`` for the conventions, and why there is no
``from __future__ import annotations``)."""

from collections.abc import Mapping
from typing import Any, Literal, NotRequired, TypedDict

from duragraph_lab.domain.envelope import NewEvent
from duragraph_lab.domain.events import names
from duragraph_lab.domain.events.spec import EventSpec

# -- thread:<uuid> ---------------------------------------------------------------------------


class ThreadCreated(TypedDict):
    thread_id: str
    metadata: dict[str, Any]
    temporary: NotRequired[bool]  # only ever true


class ThreadUpdated(TypedDict):
    metadata: dict[str, Any]


class ThreadRunAdded(TypedDict):
    run_id: str


class ThreadDeleted(TypedDict):
    thread_id: str


def thread_created(
    thread_id: str, metadata: Mapping[str, Any] | None = None, *, temporary: bool = False
) -> NewEvent:
    data = ThreadCreated(thread_id=thread_id, metadata=dict(metadata or {}))
    if temporary:
        data["temporary"] = True
    return NewEvent(names.THREAD_CREATED, data)


def thread_updated(metadata: Mapping[str, Any]) -> NewEvent:
    return NewEvent(names.THREAD_UPDATED, ThreadUpdated(metadata=dict(metadata)))


def thread_run_added(run_id: str) -> NewEvent:
    return NewEvent(names.THREAD_RUN_ADDED, ThreadRunAdded(run_id=run_id))


def thread_deleted(thread_id: str) -> NewEvent:
    return NewEvent(names.THREAD_DELETED, ThreadDeleted(thread_id=thread_id))


# -- assistant:<uuid> ------------------------------------------------------------------------


class AssistantCreated(TypedDict):
    assistant_id: str
    graph_id: str
    name: str
    description: str | None
    config: dict[str, Any]
    context: dict[str, Any]
    metadata: dict[str, Any]


class AssistantUpdated(TypedDict, total=False):
    """Any of the fields; the read model keeps the old value of one that is absent or null."""

    graph_id: str
    name: str
    description: str | None
    config: dict[str, Any]
    context: dict[str, Any]
    metadata: dict[str, Any]
    version: int
    set_latest: bool


class AssistantDeleted(TypedDict):
    assistant_id: str


def assistant_created(
    assistant_id: str,
    graph_id: str,
    *,
    name: str,
    description: str | None,
    config: Mapping[str, Any],
    context: Mapping[str, Any],
    metadata: Mapping[str, Any],
) -> NewEvent:
    data = AssistantCreated(
        assistant_id=assistant_id,
        graph_id=graph_id,
        name=name,
        description=description,
        config=dict(config),
        context=dict(context),
        metadata=dict(metadata),
    )
    return NewEvent(names.ASSISTANT_CREATED, data)


def assistant_updated(data: AssistantUpdated) -> NewEvent:
    return NewEvent(names.ASSISTANT_UPDATED, data)


def assistant_deleted(assistant_id: str) -> NewEvent:
    return NewEvent(names.ASSISTANT_DELETED, AssistantDeleted(assistant_id=assistant_id))


# -- graph:<uuid> ----------------------------------------------------------------------------


class GraphRegistered(TypedDict):
    graph_id: str
    version: str
    topology: dict[str, Any]  # CompiledGraph.to_json()
    channels: dict[str, str]
    nodes: list[str]
    registered_by: str
    engine: NotRequired[str]  # "langgraph" for LangGraph graphs; absent for native ones


def graph_registered(
    *,
    graph_id: str,
    version: str,
    topology: dict[str, Any],
    channels: dict[str, str],
    nodes: list[str],
    registered_by: str,
    engine: str | None = None,
) -> NewEvent:
    data = GraphRegistered(
        graph_id=graph_id,
        version=version,
        topology=topology,
        channels=channels,
        nodes=nodes,
        registered_by=registered_by,
    )
    if engine is not None:
        data["engine"] = engine
    return NewEvent(names.GRAPH_REGISTERED, data)


# -- dataset:<uuid> --------------------------------------------------------------------------


class DatasetCreated(TypedDict):
    dataset_id: str
    name: str
    description: str | None
    metadata: dict[str, Any]


class DatasetVersionAdded(TypedDict):
    version: int
    selection: dict[str, Any] | None
    description: str | None
    examples: list[dict[str, Any]]


class DatasetDeleted(TypedDict):
    dataset_id: str
    name: str


def dataset_created(
    *, dataset_id: str, name: str, description: str | None, metadata: Mapping[str, Any]
) -> NewEvent:
    data = DatasetCreated(dataset_id=dataset_id, name=name, description=description, metadata=dict(metadata))
    return NewEvent(names.DATASET_CREATED, data)


def dataset_version_added(
    *,
    version: int,
    selection: dict[str, Any] | None,
    description: str | None,
    examples: list[dict[str, Any]],
) -> NewEvent:
    data = DatasetVersionAdded(
        version=version, selection=selection, description=description, examples=examples
    )
    return NewEvent(names.DATASET_VERSION_ADDED, data)


def dataset_deleted(*, dataset_id: str, name: str) -> NewEvent:
    return NewEvent(names.DATASET_DELETED, DatasetDeleted(dataset_id=dataset_id, name=name))


# -- experiment:<uuid> -----------------------------------------------------------------------


class ExperimentCreated(TypedDict):
    experiment_id: str
    name: str
    dataset_id: str
    dataset_name: str
    dataset_version: int
    assistant_id: str
    assistant_version: int
    graph_id: str
    config: dict[str, Any]
    evaluators: list[dict[str, Any]]
    concurrency: int
    metadata: dict[str, Any]
    example_count: int


class ExperimentResultRecorded(TypedDict):
    example_id: str
    index: int
    run_id: str | None
    status: str
    outputs: Any
    error: Any
    scores: list[dict[str, Any]]
    nodes: list[Any]
    verdict: Literal["passed", "failed", "error"]
    latency_ms: NotRequired[float | None]  # only with a run
    steps: NotRequired[int | None]  # only with a run


class ExperimentRunRequested(TypedDict):
    runner: Literal["server"]


class ExperimentCompleted(TypedDict):
    result_count: int


def experiment_created(data: ExperimentCreated) -> NewEvent:
    return NewEvent(names.EXPERIMENT_CREATED, data)


def experiment_result_recorded(data: ExperimentResultRecorded) -> NewEvent:
    return NewEvent(names.EXPERIMENT_RESULT_RECORDED, data)


def experiment_run_requested() -> NewEvent:
    return NewEvent(names.EXPERIMENT_RUN_REQUESTED, ExperimentRunRequested(runner="server"))


def experiment_completed(result_count: int) -> NewEvent:
    return NewEvent(names.EXPERIMENT_COMPLETED, ExperimentCompleted(result_count=result_count))


#: The catalogue entries of these types (catalogue.py gathers them), in the order of docs/events.md.
RECORD_EVENT_SPECS = (
    EventSpec(names.THREAD_CREATED, ThreadCreated, "thread", "a new thread"),
    EventSpec(names.THREAD_UPDATED, ThreadUpdated, "thread", "metadata merged into the thread's"),
    EventSpec(names.THREAD_RUN_ADDED, ThreadRunAdded, "thread", "a run created on the thread"),
    EventSpec(names.THREAD_DELETED, ThreadDeleted, "thread", "the thread and its runs deleted"),
    EventSpec(names.ASSISTANT_CREATED, AssistantCreated, "assistant", "a new assistant (version 1)"),
    EventSpec(names.ASSISTANT_UPDATED, AssistantUpdated, "assistant", "a new version, or set latest"),
    EventSpec(names.ASSISTANT_DELETED, AssistantDeleted, "assistant", "the assistant deleted"),
    EventSpec(names.GRAPH_REGISTERED, GraphRegistered, "graph", "a graph's topology (when it changed)"),
    EventSpec(names.DATASET_CREATED, DatasetCreated, "dataset", "a new dataset"),
    EventSpec(names.DATASET_VERSION_ADDED, DatasetVersionAdded, "dataset", "a frozen version"),
    EventSpec(names.DATASET_DELETED, DatasetDeleted, "dataset", "the dataset deleted; name freed"),
    EventSpec(names.EXPERIMENT_CREATED, ExperimentCreated, "experiment", "a new experiment"),
    EventSpec(
        names.EXPERIMENT_RESULT_RECORDED, ExperimentResultRecorded, "experiment", "one example's result"
    ),
    EventSpec(names.EXPERIMENT_RUN_REQUESTED, ExperimentRunRequested, "experiment", "the server runs it"),
    EventSpec(names.EXPERIMENT_COMPLETED, ExperimentCompleted, "experiment", "no more results"),
)
