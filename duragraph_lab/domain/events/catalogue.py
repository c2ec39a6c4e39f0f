"""Every event type: its payload type, its stream kind and what it means.

The one list that the docs test (docs/events.md), the TypeScript mirror
(extension/src/event_types.ts) and the log fixture check are checked against. A type missing
here cannot be documented, mirrored or written.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from duragraph_lab.domain.envelope import NewEvent, RecordedEvent
from duragraph_lab.domain.events import langgraph as lg
from duragraph_lab.domain.events import names, run
from duragraph_lab.domain.events import records as rec


@dataclass(frozen=True, slots=True)
class EventSpec:
    type: str
    payload: builtins.type  # a TypedDict
    stream_kind: str  # the prefix of the stream id: run, thread, ..., experiment, checkpoints
    description: str
    #: Other stream kinds the type is also written to (LangGraph's checkpoints during a run).
    also_in: tuple[str, ...] = ()

    @property
    def required(self) -> frozenset[str]:
        return frozenset(getattr(self.payload, "__required_keys__", ()))

    @property
    def fields(self) -> frozenset[str]:
        return self.required | frozenset(getattr(self.payload, "__optional_keys__", ()))


_SPECS = (
    EventSpec(names.RUN_CREATED, run.RunCreated, "run", "the request: input, config, graph, thread, base"),
    EventSpec(names.RUN_STARTED, run.RunStarted, "run", "an executor took up the run (every lease)"),
    EventSpec(
        names.STEP_PLANNED, run.StepPlanned, "run", "the tasks of a superstep; closes the previous one"
    ),
    EventSpec(names.NODE_COMPLETED, run.NodeCompleted, "run", "one task's update and routing"),
    EventSpec(names.NODE_FAILED, run.NodeFailed, "run", "one failed attempt of a task"),
    EventSpec(names.RUN_INTERRUPTED, run.RunInterrupted, "run", "paused, waiting for a resume"),
    EventSpec(names.RUN_RESUMED, run.RunResumed, "run", "Command(resume=...) for an interrupted run"),
    EventSpec(names.RUN_COMPLETED, run.RunCompleted, "run", "the run (or subgraph) reached END"),
    EventSpec(names.RUN_FAILED, run.RunFailed, "run", "the run (or subgraph) failed for good"),
    EventSpec(names.RUN_CANCEL_REQUESTED, run.RunCancelRequested, "run", "a request to stop the run"),
    EventSpec(names.RUN_CANCELLED, run.RunCancelled, "run", "the run stopped on request"),
    EventSpec(names.RUN_TIMED_OUT, run.RunTimedOut, "run", "the run exceeded its timeout"),
    EventSpec(names.SUBGRAPH_STARTED, run.SubgraphStarted, "run", "a subgraph node began its supersteps"),
    EventSpec(names.STATE_UPDATED, run.StateUpdated, "run", "a state edit on a paused or finished run"),
    EventSpec(names.RUN_DELETED, run.RunDeleted, "run", "removed from the read models; events stay"),
    EventSpec(names.WEBHOOK_ATTEMPT_FAILED, run.WebhookAttemptFailed, "run", "a webhook attempt failed"),
    EventSpec(names.WEBHOOK_DELIVERED, run.WebhookDelivered, "run", "a run's end was POSTed to its webhook"),
    EventSpec(
        names.WEBHOOK_ABANDONED, run.WebhookAbandoned, "run", "a webhook delivery given up (or refused)"
    ),
    EventSpec(names.THREAD_CREATED, rec.ThreadCreated, "thread", "a new thread"),
    EventSpec(names.THREAD_UPDATED, rec.ThreadUpdated, "thread", "metadata merged into the thread's"),
    EventSpec(names.THREAD_RUN_ADDED, rec.ThreadRunAdded, "thread", "a run created on the thread"),
    EventSpec(names.THREAD_DELETED, rec.ThreadDeleted, "thread", "the thread and its runs deleted"),
    EventSpec(names.ASSISTANT_CREATED, rec.AssistantCreated, "assistant", "a new assistant (version 1)"),
    EventSpec(names.ASSISTANT_UPDATED, rec.AssistantUpdated, "assistant", "a new version, or set latest"),
    EventSpec(names.ASSISTANT_DELETED, rec.AssistantDeleted, "assistant", "the assistant deleted"),
    EventSpec(names.GRAPH_REGISTERED, rec.GraphRegistered, "graph", "a graph's topology (when it changed)"),
    EventSpec(names.DATASET_CREATED, rec.DatasetCreated, "dataset", "a new dataset"),
    EventSpec(names.DATASET_VERSION_ADDED, rec.DatasetVersionAdded, "dataset", "a frozen version"),
    EventSpec(names.DATASET_DELETED, rec.DatasetDeleted, "dataset", "the dataset deleted; name freed"),
    EventSpec(names.EXPERIMENT_CREATED, rec.ExperimentCreated, "experiment", "a new experiment"),
    EventSpec(
        names.EXPERIMENT_RESULT_RECORDED, rec.ExperimentResultRecorded, "experiment", "one example's result"
    ),
    EventSpec(names.EXPERIMENT_RUN_REQUESTED, rec.ExperimentRunRequested, "experiment", "the server runs it"),
    EventSpec(names.EXPERIMENT_COMPLETED, rec.ExperimentCompleted, "experiment", "no more results"),
    EventSpec(names.LG_CHECKPOINT, lg.LgCheckpoint, "checkpoints", "a LangGraph checkpoint", ("run",)),
    EventSpec(names.LG_WRITES, lg.LgWrites, "checkpoints", "a LangGraph task's pending writes", ("run",)),
    EventSpec(names.LG_THREAD_DELETED, lg.LgThreadDeleted, "checkpoints", "a thread's checkpoints deleted"),
    EventSpec(names.LG_RUNS_DELETED, lg.LgRunsDeleted, "checkpoints", "the checkpoints of runs deleted"),
    EventSpec(names.LG_THREAD_COPIED, lg.LgThreadCopied, "checkpoints", "a thread's checkpoints copied"),
    EventSpec(names.LG_THREAD_PRUNED, lg.LgThreadPruned, "checkpoints", "a thread's checkpoints pruned"),
)

#: type name -> spec, in the order of docs/events.md.
CATALOGUE: Mapping[str, EventSpec] = {spec.type: spec for spec in _SPECS}


def payload_problems(event_type: str, data: Mapping[str, Any]) -> list[str]:
    """What is wrong with ``data`` as a payload of ``event_type`` (empty: nothing): an unknown
    type, a missing required key or a key the type does not have. Nested values are not checked."""
    spec = CATALOGUE.get(event_type)
    if spec is None:
        return [f"unknown event type {event_type!r}"]
    problems = [f"{event_type}: missing {key!r}" for key in sorted(spec.required - set(data))]
    problems += [f"{event_type}: unknown field {key!r}" for key in sorted(set(data) - spec.fields)]
    return problems


def copied(event: RecordedEvent, data: Mapping[str, Any]) -> NewEvent:
    """A copy of a recorded event (``ThreadControl.copy_thread``): the same type, ``data`` with
    its ids remapped, and ``meta.copied_from`` naming the original."""
    return NewEvent(event.type, data, meta={**event.meta, "copied_from": str(event.event_id)})
