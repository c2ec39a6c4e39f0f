"""Datasets: recorded runs (and hand-written examples) frozen into versioned datasets.

A dataset is the event stream ``dataset:<uuid>``: ``dataset_created``, one
``dataset_version_added`` per version holding its examples, ``dataset_deleted``. The
``datasets`` and ``dataset_versions`` tables are its read models (:class:`DatasetReadModel`).
An example frozen from a run is that run's outcome (:class:`~duragraph_lab.control.outcomes.Outcomes`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from duragraph_lab.control.outcomes import Outcomes
from duragraph_lab.control.ports import EventStore
from duragraph_lab.domain import events as ev
from duragraph_lab.domain.envelope import NewEvent
from duragraph_lab.domain.errors import (
    Conflict,
    DatasetExists,
    EmptySelection,
    NotFound,
    ReadModelConflict,
    VersionConflict,
)
from duragraph_lab.domain.plain import iso, plain

#: Runs a dataset version freezes when no status is asked for: those that finished or paused.
AT_REST = ("success", "error", "interrupted", "timeout")
#: Runs read at once while freezing a selection.
_FREEZE_CONCURRENCY = 8
#: Dataset versions whose examples are kept in memory (they never change).
_CACHED_VERSIONS = 64
#: Concurrent versions an added version is renumbered after before it gives up.
_ADD_ATTEMPTS = 5
_NAMESPACE = uuid.UUID("6f1f3c1e-8c1a-4d1b-9a77-3f5e0f7f0e42")


@dataclass(frozen=True, slots=True)
class DatasetRecord:
    """A dataset as the ``datasets`` read model has it (``version``: its latest)."""

    dataset_id: str
    name: str
    description: str | None
    metadata: Any
    version: int
    example_count: int
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True, slots=True)
class DatasetVersionRecord:
    version: int
    example_count: int
    created_at: dt.datetime
    #: The global seq of its ``dataset_version_added`` event.
    seq: int
    selection: Any
    description: str | None


@dataclass(frozen=True, slots=True)
class RunSelection:
    """Which runs a dataset version freezes: all the given conditions hold, oldest first, at most
    ``limit``; without ``statuses``, the runs at rest (:data:`AT_REST`)."""

    statuses: Sequence[str] | None = None
    assistant_id: str | None = None
    graph_id: str | None = None
    thread_id: str | None = None
    run_ids: Sequence[str] | None = None
    #: Contained in the run's metadata.
    metadata: Mapping[str, Any] | None = None
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None
    thread_ids: Sequence[str] | None = None
    limit: int = 100
    #: Leave out the runs that had no input (forks, resumes of another run's state): an example
    #: without inputs gives an experiment nothing to run the assistant on.
    require_input: bool = False
    #: The selection as the request said it: recorded with the version it froze.
    as_requested: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HandExample:
    """An example written by hand (no source run)."""

    inputs: Any
    outputs: Any = None
    metadata: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class NewVersion:
    """A dataset version's examples: the runs ``selection`` picks, then ``examples``."""

    selection: RunSelection | None = None
    examples: Sequence[HandExample] = ()
    description: str | None = None


@dataclass(frozen=True, slots=True)
class NewDataset:
    name: str
    #: Its first version (whose description is the dataset's too).
    first: NewVersion
    metadata: Mapping[str, Any] | None = None
    #: A dataset of that name exists: ``raise`` (DatasetExists) or add ``first`` as its new version.
    if_exists: Literal["raise", "new_version"] = "raise"


class DatasetReadModel(Protocol):
    async def dataset(self, ref: str) -> DatasetRecord | None:
        """The dataset of that id or name (deleted ones are not found)."""
        ...

    async def versions(self, dataset_id: str) -> list[DatasetVersionRecord]:
        """Oldest first."""
        ...

    async def search(self, *, name: str | None, limit: int, offset: int) -> list[DatasetRecord]:
        """Recently updated first; ``name``: a case-insensitive substring."""
        ...

    async def examples(self, dataset_id: str, version: int) -> list[dict[str, Any]] | None:
        """The examples of that version (None: no such version)."""
        ...

    async def select_runs(self, selection: RunSelection) -> list[str]:
        """The ids of the runs ``selection`` picks, oldest first."""
        ...


class Datasets:
    def __init__(self, events: EventStore, read_model: DatasetReadModel, outcomes: Outcomes) -> None:
        self.events = events
        self.read_model = read_model
        self.outcomes = outcomes
        # A dataset version never changes: its examples are cached by (dataset, version).
        self._examples: dict[tuple[str, int], list[dict[str, Any]]] = {}

    # -- reading -------------------------------------------------------------------------------
    async def record(self, ref: str) -> DatasetRecord:
        found = await self.read_model.dataset(ref)
        if found is None:
            raise NotFound(f"dataset {ref!r} does not exist")
        return found

    async def _json(self, found: DatasetRecord) -> dict[str, Any]:
        versions = await self.read_model.versions(found.dataset_id)
        return {
            "dataset_id": found.dataset_id,
            "name": found.name,
            "description": found.description,
            "metadata": plain(found.metadata or {}),
            "version": found.version,
            "example_count": found.example_count,
            "versions": [
                {
                    "version": v.version,
                    "example_count": v.example_count,
                    "created_at": iso(v.created_at),
                    "seq": v.seq,
                    "selection": plain(v.selection),
                    "description": v.description,
                }
                for v in versions
            ],
            "created_at": iso(found.created_at),
            "updated_at": iso(found.updated_at),
        }

    async def get(self, ref: str) -> dict[str, Any]:
        return await self._json(await self.record(ref))

    async def search(
        self, *, name: str | None = None, limit: int = 20, offset: int = 0
    ) -> list[dict[str, Any]]:
        return [
            await self._json(d) for d in await self.read_model.search(name=name, limit=limit, offset=offset)
        ]

    async def events_of(self, ref: str) -> list[dict[str, Any]]:
        """The dataset's event log: its history, version by version."""
        dataset_id = (await self.record(ref)).dataset_id
        return [
            {
                "seq": e.seq,
                "stream_id": e.stream_id,
                "version": e.version,
                "event_id": str(e.event_id),
                "type": e.type,
                "data": plain(e.data),
                "meta": plain(e.meta),
                "recorded_at": iso(e.recorded_at),
            }
            for e in await self.events.read_stream(f"dataset:{dataset_id}")
        ]

    async def examples(self, ref: str, version: int | None = None) -> dict[str, Any]:
        found = await self.record(ref)
        wanted = found.version if version is None else version
        return {
            "dataset_id": found.dataset_id,
            "name": found.name,
            "version": wanted,
            "examples": await self.version_examples(found.dataset_id, wanted),
        }

    async def version_examples(self, dataset_id: str, version: int) -> list[dict[str, Any]]:
        key = (dataset_id, version)
        if key not in self._examples:
            examples = await self.read_model.examples(dataset_id, version)
            if examples is None:
                raise NotFound(f"dataset {dataset_id} has no version {version}")
            if len(self._examples) >= _CACHED_VERSIONS:
                self._examples.pop(next(iter(self._examples)))
            self._examples[key] = examples
        return self._examples[key]

    # -- writing -------------------------------------------------------------------------------
    async def create(self, new: NewDataset) -> dict[str, Any]:
        existing = await self.read_model.dataset(new.name)
        if existing is not None and existing.name == new.name:
            if new.if_exists == "new_version":
                return await self.add_version(existing.dataset_id, new.first)
            raise DatasetExists(
                f"a dataset named {new.name!r} already exists (version {existing.version}); pick another "
                'name, delete it, or pass if_exists="new_version" to add a version'
            )
        dataset_id = str(uuid.uuid4())
        examples, selection, warnings = await self._freeze(dataset_id, new.first)
        created = ev.dataset_created(
            dataset_id=dataset_id,
            name=new.name,
            description=new.first.description,
            metadata=new.metadata or {},
        )
        version = _version_event(1, examples, selection, new.first.description)
        try:
            await self.events.append(f"dataset:{dataset_id}", 0, [created, version])
        except ReadModelConflict:  # the name was taken meanwhile (the read model's unique name)
            raise DatasetExists(f"a dataset named {new.name!r} already exists") from None
        return {**await self.get(dataset_id), "warnings": warnings}

    async def add_version(self, ref: str, new: NewVersion) -> dict[str, Any]:
        dataset_id = (await self.record(ref)).dataset_id
        examples, selection, warnings = await self._freeze(dataset_id, new)
        for _ in range(_ADD_ATTEMPTS):
            latest = (await self.record(dataset_id)).version
            head = await self.events.stream_version(f"dataset:{dataset_id}")
            event = _version_event(latest + 1, examples, selection, new.description)
            try:
                await self.events.append(f"dataset:{dataset_id}", head, [event])
            except VersionConflict:  # a version added meanwhile: number ours after it
                continue
            return {**await self.get(dataset_id), "warnings": warnings}
        raise Conflict(f"dataset {ref!r} kept changing while adding a version")

    async def delete(self, ref: str) -> None:
        found = await self.record(ref)
        await self.events.append(
            f"dataset:{found.dataset_id}",
            None,
            [ev.dataset_deleted(dataset_id=found.dataset_id, name=found.name)],
        )

    # -- freezing ------------------------------------------------------------------------------
    async def _freeze(
        self, dataset_id: str, new: NewVersion
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None, list[dict[str, Any]]]:
        """The version's examples (each once, numbered), its selection as requested, and what a
        user should know about the runs it froze (:func:`selection_warnings`)."""
        run_ids = await self.read_model.select_runs(new.selection) if new.selection is not None else []
        semaphore = asyncio.Semaphore(_FREEZE_CONCURRENCY)

        async def read(run_id: str) -> dict[str, Any]:
            async with semaphore:
                return await self.outcomes.get(run_id)

        outcomes = list(await asyncio.gather(*(read(r) for r in run_ids)))
        if new.selection is not None and new.selection.require_input:
            outcomes = [o for o in outcomes if has_input(o["inputs"])]
        warnings = selection_warnings(outcomes)
        examples = [_from_run(dataset_id, o) for o in outcomes]
        examples += [_by_hand(dataset_id, hand) for hand in new.examples]
        if not examples:
            what = "no selection and no examples were given"
            if new.selection is not None:
                statuses = new.selection.as_requested.get("status") or list(AT_REST)
                what = f"no run matches the selection (statuses {statuses})"
            raise EmptySelection(f"a dataset version needs at least one example: {what}")
        seen: set[str] = set()
        unique: list[dict[str, Any]] = []
        for example in examples:
            if example["example_id"] not in seen:
                seen.add(example["example_id"])
                unique.append({**example, "index": len(unique)})
        selection = dict(new.selection.as_requested) if new.selection is not None else None
        return unique, selection, warnings


def has_input(inputs: Any) -> bool:
    """Whether a run had an input to replay: forks and resumes start from another run's state
    with none (``null``), and an empty object gives nothing either."""
    return inputs is not None and inputs != {}


def selection_warnings(outcomes: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """What is odd about the runs frozen into a version: runs with no input (``no_input``: an
    experiment would run the assistant on nothing) and runs of several assistants
    (``several_assistants``: an experiment runs every example against one)."""
    out: list[dict[str, Any]] = []
    empty = [str(o["run_id"]) for o in outcomes if not has_input(o.get("inputs"))]
    if empty:
        out.append(
            {
                "code": "no_input",
                "run_ids": empty,
                "message": f"{len(empty)} of the {len(outcomes)} runs had no input (forks or resumes "
                "start from another run's state): their examples give an experiment nothing to run; "
                "leave them out with selection.require_input",
            }
        )
    assistants = sorted({str(o.get("graph_id") or o.get("assistant_id")) for o in outcomes})
    if len(assistants) > 1:
        out.append(
            {
                "code": "several_assistants",
                "assistants": assistants,
                "message": f"the runs are of {len(assistants)} graphs ({', '.join(assistants)}): an "
                "experiment runs every example against one assistant; narrow the selection with "
                "assistant_id or graph_id",
            }
        )
    return out


def _from_run(dataset_id: str, outcome: Mapping[str, Any]) -> dict[str, Any]:
    return {
        # The same run frozen into two versions is the same example.
        "example_id": str(uuid.uuid5(_NAMESPACE, f"{dataset_id}:{outcome['run_id']}")),
        "inputs": outcome["inputs"],
        "outputs": outcome["outputs"],
        "metadata": outcome["metadata"],
        "source": {
            key: outcome[key]
            for key in ("run_id", "thread_id", "assistant_id", "graph_id", "status", "created_at")
        },
        "nodes": outcome["nodes"],
        "trajectory": outcome["trajectory"],
        "tool_calls": outcome["tool_calls"],
        "latency_ms": outcome["latency_ms"],
        "steps": outcome["steps"],
        "error": outcome["error"],
    }


def _by_hand(dataset_id: str, hand: HandExample) -> dict[str, Any]:
    content = json.dumps([hand.inputs, hand.outputs, hand.metadata], sort_keys=True, default=str)
    return {
        # The same example written twice is one example.
        "example_id": str(uuid.uuid5(_NAMESPACE, f"{dataset_id}:hand:{content}")),
        "inputs": hand.inputs,
        "outputs": hand.outputs,
        "metadata": dict(hand.metadata or {}),
        "source": None,
        "nodes": [],
        "trajectory": [],
        "tool_calls": [],
        "latency_ms": None,
        "steps": None,
        "error": None,
    }


def _version_event(
    version: int, examples: list[dict[str, Any]], selection: dict[str, Any] | None, description: str | None
) -> NewEvent:
    return ev.dataset_version_added(
        version=version, selection=selection, description=description, examples=examples
    )
